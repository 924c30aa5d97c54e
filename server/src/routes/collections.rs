//! `/collections` and `/collections/{id}`: the layers with their extents, CRSs and links, as
//! JSON or HTML.

use std::fmt::Write;

use axum::{extract::State, http::HeaderMap, response::Response};
use layers::crs::{CRS84_URI, Crs};
use serde_json::{Value, json};

use super::{Endpoint, base_url};
use crate::{
    access::LayerView,
    auth::Caller,
    downloads::Download,
    error::ApiError,
    html::{self, Page, Trail},
    media::{GEOJSON, JSON, SCHEMA_JSON},
    openapi::{Operation, Status},
    request::{Format, Params, Segments},
    respond,
    state::AppState,
};

/// Link relation from a collection to its queryables.
pub const REL_QUERYABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";
/// Link relation from a collection to its features' schema (OGC API - Features Part 5).
pub const REL_SCHEMA: &str = "http://www.opengis.net/def/rel/ogc/1.0/schema";
/// Link relation from a collection to its sortables.
pub const REL_SORTABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/sortables";
/// Link relation from a collection to its vector tilesets.
pub const REL_TILESETS_VECTOR: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    let json_html: &[&str] = &[JSON, "text/html"];
    vec![
        Endpoint::get(
            Operation::new("/collections", "/collections", "Collections")
                .parameters(&["f"])
                .ok("The collections", json_html)
                .statuses(&[Status::BadRequest]),
            list,
        ),
        Endpoint::get(
            Operation::new("/collections/{id}", "/collections/{collectionId}", "One collection")
                .parameters(&["collectionId", "f"])
                .ok("The collection", json_html)
                .statuses(&[Status::BadRequest, Status::NotFound]),
            one,
        ),
    ]
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::negotiate(&params, &headers)?;
    let base = base_url(&headers);
    let views = state.access(&caller).all();
    respond::negotiated(
        format,
        || {
            let collections: Vec<Value> = views.iter().map(|v| collection(&base, v)).collect();
            let body = json!({
                "links": [
                    { "href": format!("{base}/collections?f=json"), "rel": "self", "type": JSON, "title": "Layers" },
                    { "href": format!("{base}/collections?f=html"), "rel": "alternate", "type": "text/html", "title": "Layers as HTML" },
                ],
                "collections": collections,
            });
            Ok(respond::json(JSON, body.to_string()))
        },
        || {
            let mut body = String::from("<table><tr><th>Collection</th><th>Features</th><th>Description</th></tr>");
            for v in &views {
                let _ = write!(
                    body,
                    r#"<tr><td><a href="/collections/{id}?f=html">{title}</a></td><td>{n}</td><td>{d}</td></tr>"#,
                    id = v.def.id,
                    title = html::escape(&v.def.title),
                    n = v.index.len(),
                    d = html::escape(&v.def.description),
                );
            }
            body.push_str("</table>");
            Ok(Page::new("Collections", Trail::Home, "/collections?f=json", body))
        },
    )
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.access(&caller).one(&id)?;
    respond::negotiated(
        Format::negotiate(&params, &headers)?,
        || Ok(respond::json(JSON, collection(&base_url(&headers), &view).to_string())),
        || {
            Ok(Page::new(
                &view.def.title,
                Trail::Collections,
                &format!("/collections/{id}?f=json"),
                collection_html(&view),
            ))
        },
    )
}

/// The description of one layer.
fn collection(base: &str, view: &LayerView) -> Value {
    let def = &view.def;
    let here = format!("{base}/collections/{}", def.id);
    let mut links = vec![
        json!({ "href": format!("{here}?f=json"), "rel": "self", "type": JSON, "title": def.title }),
        json!({ "href": format!("{here}?f=html"), "rel": "alternate", "type": "text/html", "title": def.title }),
        json!({ "href": format!("{here}/items?f=json"), "rel": "items", "type": GEOJSON, "title": "Features" }),
        json!({ "href": format!("{here}/items?f=html"), "rel": "items", "type": "text/html", "title": "Features as HTML" }),
        json!({ "href": format!("{here}/queryables"), "rel": REL_QUERYABLES, "type": SCHEMA_JSON, "title": "Queryable properties" }),
        json!({ "href": format!("{here}/schema"), "rel": REL_SCHEMA, "type": SCHEMA_JSON, "title": "Schema of the features" }),
        json!({ "href": format!("{here}/sortables"), "rel": REL_SORTABLES, "type": SCHEMA_JSON, "title": "Sortable properties" }),
        json!({ "href": format!("{here}/tiles"), "rel": REL_TILESETS_VECTOR, "type": JSON, "title": "Vector tiles" }),
    ];
    links.extend(def.license.as_deref().and_then(respond::license_link));
    links.extend(Download::ALL.map(|d| {
        json!({ "href": format!("{here}/items?f={}", d.key()), "rel": "enclosure", "type": d.media_type(), "title": format!("Every feature as {}", d.title()) })
    }));
    let mut c = json!({
        "id": def.id,
        "title": def.title,
        "description": def.description,
        "keywords": def.keywords,
        "itemType": "feature",
        "crs": Crs::supported().map(Crs::uri).collect::<Vec<_>>(),
        "storageCrs": CRS84_URI,
        "links": links,
    });
    let mut extent = serde_json::Map::new();
    if let Some(bbox) = view.bbox() {
        extent.insert("spatial".into(), json!({ "bbox": [bbox], "crs": CRS84_URI }));
    }
    if let Some(interval) = view.time_extent() {
        extent.insert(
            "temporal".into(),
            json!({ "interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian" }),
        );
    }
    if !extent.is_empty() {
        c["extent"] = Value::Object(extent);
    }
    if !def.attribution.is_empty() {
        c["attribution"] = json!(def.attribution);
    }
    if let Some(license) = &def.license {
        c["license"] = json!(license);
    }
    c
}

fn collection_html(view: &LayerView) -> String {
    let def = &view.def;
    let frame = view.index.extent().map(|e| {
        use layers::mercator::to_mercator;
        geo_types::Rect::new(to_mercator(e.min()), to_mercator(e.max()))
    });
    let sample: Vec<&geo_types::Geometry> = frame
        .map(|r| view.index.largest_in_mercator_box([r.min().x, r.min().y, r.max().x, r.max().y], 500))
        .unwrap_or_default()
        .into_iter()
        .map(|c| &c.feature.mercator)
        .collect();
    let rows = [
        ("Id", def.id.to_string()),
        ("Features", view.index.len().to_string()),
        ("Geometry", format!("{:?}", def.geometry)),
        ("Access", format!("{:?}", def.access)),
        ("Keywords", def.keywords.join(", ")),
        ("Attribution", def.attribution.clone()),
        ("Licence", def.license.clone().unwrap_or_default()),
    ];
    format!(
        r#"<p>{}</p>{}{}<p><a href="/collections/{id}/items?f=html">Features</a> · <a href="/collections/{id}/queryables">Queryables</a> · <a href="/collections/{id}/schema">Schema</a> · <a href="/collections/{id}/tiles">Vector tiles</a> · <a href="/viewer?layer={id}">Bản đồ / Map viewer</a> · <a href="/styles/{id}.json">Style</a></p><p>Tải về / Download: {downloads}</p>"#,
        html::escape(&def.description),
        html::svg_map(sample, frame),
        html::table(rows),
        id = def.id,
        downloads = Download::ALL
            .map(|d| format!(r#"<a href="/collections/{}/items?f={}">{}</a>"#, def.id, d.key(), d.title()))
            .join(" · "),
    )
}
