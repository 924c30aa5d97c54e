//! Features: `/collections/{id}/items` and `/collections/{id}/items/{featureId}`, as GeoJSON or
//! HTML. Each handler extracts the typed request, finds the page, and encodes it.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue},
    response::Response,
};
use layers::{crs::Crs, labels::Lang};
use serde_json::{Value, json};

use super::{Endpoint, base_url};
use crate::{
    access::LayerView,
    auth::Caller,
    compute::Deadline,
    downloads::{self, Download},
    error::ApiError,
    features::{self, ITEMS_PARAMETERS, ItemsRequest, Page, Paging},
    geojson, html, language,
    media::{CSV, FLATGEOBUF, GEOJSON, GEOPACKAGE, JSON, PARQUET},
    openapi::{Operation, Status},
    request::{Format, Params, Segments},
    respond,
    settings::Settings,
    state::AppState,
};

/// What `/items` answers: pages, and the download formats.
const DOWNLOADABLE: &[&str] = &[GEOJSON, "text/html", GEOPACKAGE, FLATGEOBUF, PARQUET, CSV];

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::get(
            Operation::new("/collections/{id}/items", "/collections/{collectionId}/items", "Features")
                .parameters(ITEMS_PARAMETERS)
                .ok(
                    "A page of features, or with `f=gpkg`, `fgb`, `parquet` or `csv` all of them as a file",
                    DOWNLOADABLE,
                )
                .statuses(&[Status::BadRequest, Status::NotFound])
                .per_layer(),
            items,
        ),
        Endpoint::get(
            Operation::new(
                "/collections/{id}/items/{fid}",
                "/collections/{collectionId}/items/{featureId}",
                "One feature",
            )
            .parameters(&["collectionId", "featureId", "crs", "f"])
            .ok("The feature", &[GEOJSON, "text/html"])
            .statuses(&[Status::BadRequest, Status::NotFound]),
            item,
        ),
    ]
}

async fn items(
    State(state): State<AppState>,
    caller: Caller,
    deadline: Deadline,
    Segments(id): Segments<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.access(&caller).one(&id)?;
    if let Some(download) = params.get("f").and_then(Download::named) {
        let written = state
            .downloads()
            .run(deadline, move || {
                let request = ItemsRequest::parse(&view, &params, Paging::WHOLE, deadline)?;
                downloads::write(&view, &request, download, deadline)
            })
            .await?;
        return Ok(respond::download(written));
    }
    let format = Format::negotiate(&params, &headers)?;
    let lang = language::negotiate(&headers);
    let base = format!("{}/collections/{id}/items", base_url(&headers));
    // Parsing a filter, testing features against it and encoding the page are CPU work.
    let settings = std::sync::Arc::clone(state.settings());
    state.compute().run(deadline, move || items_page(&view, &params, &settings, deadline, format, lang, &base)).await
}

/// The `/items` answer, computed.
fn items_page(
    view: &LayerView,
    params: &Params,
    settings: &Settings,
    deadline: Deadline,
    format: Format,
    lang: Lang,
    base: &str,
) -> Result<Response, ApiError> {
    let id = view.def.id.as_str();
    let request = ItemsRequest::parse(view, params, Paging::pages(settings), deadline)?;
    let page = Page::find(view, &request)?;
    let links = Links { base, params, limit: page.limit, format }.of(&page);
    let response = respond::negotiated(
        format,
        || Ok(geojson_response(geojson::collection(&page, &links)?, page.crs)),
        || {
            Ok(html::Page::new(
                &view.def.title,
                html::Trail::Collection(id),
                &format!("{base}?f=json"),
                items_html(id, &page, &links, lang),
            )
            .in_language(lang))
        },
    )?;
    let response = if format == Format::Html { language::mark(response, lang) } else { response };
    Ok(respond::with_link_header(response, &links))
}

async fn item(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, fid)): Segments<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.access(&caller).one(&id)?;
    params.only(&["crs", "f"])?;
    let format = Format::negotiate(&params, &headers)?;
    let lang = language::negotiate(&headers);
    let crs = params.get("crs").map(Crs::from_uri).transpose().map_err(ApiError::BadRequest)?.unwrap_or(Crs::Crs84);
    let columns = view.columns();
    let stored = features::one(&view, &fid)?;
    let feature = columns.view(stored);
    // Strong, and changing whenever the row does: what a write's If-Match names.
    let etag =
        HeaderValue::from_str(&crate::edits::etag(&view.def, stored)).map_err(|e| ApiError::Internal(e.to_string()))?;
    let base = format!("{}/collections/{id}", base_url(&headers));
    let (json_href, html_href) = (format!("{base}/items/{fid}?f=json"), format!("{base}/items/{fid}?f=html"));
    let (this, other) = match format {
        Format::Json => (
            json!({ "rel": "self", "type": GEOJSON, "href": json_href }),
            json!({ "rel": "alternate", "type": "text/html", "href": html_href }),
        ),
        Format::Html => (
            json!({ "rel": "self", "type": "text/html", "href": html_href }),
            json!({ "rel": "alternate", "type": GEOJSON, "href": json_href }),
        ),
    };
    let links = json!([this, other, { "rel": "collection", "type": JSON, "href": base }]);
    let response = respond::negotiated(
        format,
        || Ok(geojson_response(geojson::feature(&feature, crs, &links)?, crs)),
        || {
            let body = format!(
                "{}{}<p>Collection: <a href=\"/collections/{id}\">{id}</a></p>",
                html::svg_map([feature.mercator()], None),
                html::feature_table(&feature, lang),
                id = view.def.id
            );
            let title = format!("{} · {fid}", view.def.title);
            Ok(html::Page::new(&title, html::Trail::Collection(&id), &json_href, body).in_language(lang))
        },
    )?;
    let response = if format == Format::Html { language::mark(response, lang) } else { response };
    let mut response = respond::with_link_header(response, &links);
    response.headers_mut().insert(axum::http::header::ETAG, etag);
    Ok(response)
}

fn geojson_response(body: Vec<u8>, crs: Crs) -> Response {
    let mut response = respond::json(GEOJSON, body);
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        response.headers_mut().insert("content-crs", v);
    }
    response
}

/// The paging links of an `/items` answer: the same query, another offset or format.
struct Links<'a> {
    base: &'a str,
    params: &'a Params,
    limit: usize,
    format: Format,
}

impl Links<'_> {
    fn link(&self, rel: &str, offset: usize, format: Format) -> Value {
        let mut qs: Vec<String> = self
            .params
            .0
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit" && k != "f")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        qs.push(format!("limit={}", self.limit));
        if offset > 0 {
            qs.push(format!("offset={offset}"));
        }
        let (f, kind) = match format {
            Format::Json => ("json", GEOJSON),
            Format::Html => ("html", "text/html"),
        };
        qs.push(format!("f={f}"));
        json!({ "rel": rel, "type": kind, "href": format!("{}?{}", self.base, qs.join("&")) })
    }

    /// self, alternate, next and prev where they exist, and the collection.
    fn of(&self, page: &Page) -> Value {
        let other = match self.format {
            Format::Json => Format::Html,
            Format::Html => Format::Json,
        };
        let mut links = vec![self.link("self", page.offset, self.format), self.link("alternate", page.offset, other)];
        if let Some(next) = page.next_offset() {
            links.push(self.link("next", next, self.format));
        }
        if let Some(prev) = page.prev_offset() {
            links.push(self.link("prev", prev, self.format));
        }
        links.push(json!({ "rel": "collection", "type": JSON, "href": self.base.trim_end_matches("/items") }));
        Value::from(links)
    }
}

fn items_html(id: &str, page: &Page, links: &Value, lang: Lang) -> String {
    use std::fmt::Write;
    let mut body = format!(
        "<p>Features {}–{} of {}.</p>{}{}<p>",
        page.offset.saturating_add(1).min(page.matched),
        page.offset.saturating_add(page.features.len()),
        page.matched,
        html::svg_map(page.features.iter().map(|f| &f.mercator), None),
        html::features_table(id, &page.columns, page.views(), lang),
    );
    for link in links.as_array().into_iter().flatten().filter(|l| l["rel"] == "next" || l["rel"] == "prev") {
        let (rel, href) = (link["rel"].as_str().unwrap_or_default(), link["href"].as_str().unwrap_or_default());
        let _ = write!(body, r#"<a rel="{rel}" href="{}">{rel}</a> "#, html::escape(href));
    }
    body.push_str("</p>");
    body
}

/// Percent-encodes a query component for links.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
