//! Features: `/collections/{id}/items` and `/collections/{id}/items/{featureId}`, as GeoJSON or
//! HTML.
//!
//! Parameters are parsed here into a typed [`ItemsRequest`]; anything unknown or malformed is a
//! 400 naming the parameter.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, NaiveDate, Utc};
use geo_types::Coord;
use layers::{
    Feature, PropertyType, Value,
    crs::Crs,
    filter::{Filter, FilterLang},
    query::FeatureQuery,
    search::TextSearch,
};
use serde_json::json;

use super::{base_url, tiles::one_layer};
use crate::{
    auth::Caller,
    error::ApiError,
    geojson, html,
    request::{Format, Params, parse_bbox, parse_interval},
    state::{AppState, Layer, Settings},
};

/// The GeoJSON media type.
pub const GEOJSON: &str = "application/geo+json";

/// Parameters of `/items` besides the layer's queryable properties.
pub const ITEMS_PARAMETERS: &[&str] = &[
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "q",
    "sortby",
    "properties",
    "f",
];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/collections/{id}/items", get(items)).route("/collections/{id}/items/{fid}", get(item))
}

/// A parsed `/items` request.
struct ItemsRequest {
    query: FeatureQuery,
    crs: Crs,
    /// Only these properties (by index) in the answer; `None` for all visible ones.
    properties: Option<Vec<usize>>,
}

async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = one_layer(&state, &caller, &id)?;
    let format = Format::negotiate(&params, &headers)?;
    let request = parse_items(&layer, &caller, &params, state.settings())?;
    let query = &request.query;
    let page = layers::query::run(&layer.index, &layer.def, query);
    let base = format!("{}/collections/{id}/items", base_url(&headers));
    let link = |rel: &str, offset: usize, f: &str, kind: &str| {
        let mut qs: Vec<String> = params
            .0
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit" && k != "f")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        qs.push(format!("limit={}", query.limit));
        if offset > 0 {
            qs.push(format!("offset={offset}"));
        }
        qs.push(format!("f={f}"));
        json!({ "rel": rel, "type": kind, "href": format!("{base}?{}", qs.join("&")) })
    };
    let (f, kind, other_f, other_kind) = match format {
        Format::Json => ("json", GEOJSON, "html", "text/html"),
        Format::Html => ("html", "text/html", "json", GEOJSON),
    };
    let mut links = vec![link("self", query.offset, f, kind), link("alternate", query.offset, other_f, other_kind)];
    if query.offset + page.features.len() < page.matched {
        links.push(link("next", query.offset + query.limit, f, kind));
    }
    if query.offset > 0 {
        links.push(link("prev", query.offset.saturating_sub(query.limit), f, kind));
    }
    links.push(json!({ "rel": "collection", "type": "application/json", "href": base.trim_end_matches("/items") }));
    let only = request.properties.as_deref();
    if format == Format::Html {
        let features: Vec<serde_json::Value> = page
            .features
            .iter()
            .map(|f| feature_value(&layer, &caller, f, request.crs, only))
            .collect::<Result<_, _>>()?;
        let body = items_html(&layer, &page.features, &features, page.matched, query.offset, &links);
        return Ok(html_response(&layer.def.title, &id, &base, body));
    }
    let mut body = format!(
        r#"{{"type":"FeatureCollection","numberMatched":{},"numberReturned":{},"timeStamp":"{}","features":["#,
        page.matched,
        page.features.len(),
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
    .into_bytes();
    for (i, f) in page.features.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        write_feature(&mut body, &layer, &caller, f, request.crs, only)?;
    }
    body.extend_from_slice(br#"],"links":"#);
    body.extend_from_slice(serde_json::Value::from(links).to_string().as_bytes());
    body.push(b'}');
    Ok(geojson_response(body, request.crs))
}

async fn item(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = one_layer(&state, &caller, &id)?;
    params.only(&["crs", "f"])?;
    let format = Format::negotiate(&params, &headers)?;
    let crs = params.get("crs").map(Crs::from_uri).transpose().map_err(ApiError::BadRequest)?.unwrap_or(Crs::Crs84);
    let feature = fid.parse::<i64>().ok().and_then(|n| layer.index.get(n));
    let feature = feature.ok_or_else(|| ApiError::NotFound(format!("no feature {fid:?} in collection {id:?}")))?;
    let base = format!("{}/collections/{id}", base_url(&headers));
    let mut body = feature_value(&layer, &caller, feature, crs, None)?;
    if format == Format::Html {
        let page = item_html(&layer, feature, &body);
        return Ok(html_response(&format!("{} · {fid}", layer.def.title), &id, &format!("{base}/items/{fid}"), page));
    }
    body["links"] = json!([
        { "rel": "self", "type": GEOJSON, "href": format!("{base}/items/{fid}?f=json") },
        { "rel": "alternate", "type": "text/html", "href": format!("{base}/items/{fid}?f=html") },
        { "rel": "collection", "type": "application/json", "href": base },
    ]);
    Ok(geojson_response(body.to_string().into_bytes(), crs))
}

fn geojson_response(body: Vec<u8>, crs: Crs) -> Response {
    let content_crs = HeaderValue::from_str(&format!("<{}>", crs.uri())).ok();
    let mut response = ([(header::CONTENT_TYPE, GEOJSON)], body).into_response();
    if let Some(v) = content_crs {
        response.headers_mut().insert("content-crs", v);
    }
    response
}

fn html_response(title: &str, id: &str, url: &str, body: String) -> Response {
    let crumbs =
        [("Bando", "/".to_owned()), ("Collections", "/collections".to_owned()), (id, format!("/collections/{id}"))];
    let page = html::page(title, &crumbs, &format!("{url}?f=json"), &body);
    ([(header::CONTENT_TYPE, html::HTML)], page).into_response()
}

/// Builds the typed request; every error names the parameter.
fn parse_items(layer: &Layer, caller: &Caller, params: &Params, settings: &Settings) -> Result<ItemsRequest, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let def = &layer.def;
    let mut q = FeatureQuery { limit: settings.default_limit, ..FeatureQuery::default() };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in &params.0 {
        if !seen.insert(key.as_str()) {
            return Err(bad(format!("parameter {key:?} is given twice")));
        }
        match key.as_str() {
            // Above the maximum is not an error (OGC 17-069r4, /req/core/fc-limit-response-1 C):
            // the maximum is used.
            "limit" => {
                let limit: usize =
                    value.parse().map_err(|_| bad(format!("limit must be a positive integer, not {value:?}")))?;
                if limit == 0 {
                    return Err(bad("limit must be at least 1".into()));
                }
                q.limit = limit.min(settings.max_limit);
            }
            "offset" => {
                q.offset =
                    value.parse().map_err(|_| bad(format!("offset must be a non-negative integer, not {value:?}")))?;
            }
            "datetime" => q.datetime = Some(parse_interval(value).map_err(|m| bad(format!("datetime: {m}")))?),
            "q" => {
                let fields = (0..def.properties.len())
                    .filter(|&i| layer.is_visible(i, caller) && def.properties[i].kind == PropertyType::Text)
                    .collect();
                q.search = TextSearch::new(value).map_err(bad)?.map(|s| (s, fields));
            }
            "sortby" => q.sort = parse_sortby(layer, caller, value)?,
            // Read after the loop: they depend on one another.
            standard if ITEMS_PARAMETERS.contains(&standard) => {}
            name => {
                let i = (0..def.properties.len())
                    .find(|&i| def.properties[i].name == name && layer.is_queryable(i, caller))
                    .ok_or_else(|| bad(format!("unknown parameter {name:?}")))?;
                let kind = def.properties[i].kind;
                let v = parse_value(value, kind)
                    .ok_or_else(|| bad(format!("{name}: {value:?} is not a valid {kind:?}")))?;
                q.equals.push((i, v));
            }
        }
    }
    let crs_of = |name: &str| params.get(name).map(Crs::from_uri).transpose().map_err(|m| bad(format!("{name}: {m}")));
    let bbox_crs = crs_of("bbox-crs")?;
    if let Some(b) = params.get("bbox") {
        q.bbox = Some(parse_bbox(b, bbox_crs.unwrap_or(Crs::Crs84)).map_err(|m| bad(format!("bbox: {m}")))?);
    } else if bbox_crs.is_some() {
        return Err(bad("bbox-crs is given without bbox".into()));
    }
    q.filter = parse_filter(layer, caller, params, crs_of("filter-crs")?)?;
    let properties = params.get("properties").map(|p| parse_properties(layer, caller, p)).transpose()?;
    Ok(ItemsRequest { query: q, crs: crs_of("crs")?.unwrap_or(Crs::Crs84), properties })
}

fn parse_filter(
    layer: &Layer,
    caller: &Caller,
    params: &Params,
    filter_crs: Option<Crs>,
) -> Result<Option<Filter>, ApiError> {
    let lang = match params.get("filter-lang") {
        None | Some("cql2-text") => FilterLang::Text,
        Some("cql2-json") => FilterLang::Json,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("filter-lang must be cql2-text or cql2-json, not {other:?}")));
        }
    };
    let Some(source) = params.get("filter") else {
        if params.get("filter-lang").is_some() || filter_crs.is_some() {
            return Err(ApiError::BadRequest("filter-lang and filter-crs need a filter".into()));
        }
        return Ok(None);
    };
    let crs = filter_crs.unwrap_or(Crs::Crs84);
    let to_lonlat = |c: Coord| crs.with_projector(|p| p.to_lonlat(c)).and_then(|r| r);
    Filter::parse(source, lang, &layer.def, &|i| layer.is_queryable(i, caller), &to_lonlat)
        .map(Some)
        .map_err(|e| ApiError::BadRequest(format!("filter: {e}")))
}

fn parse_sortby(layer: &Layer, caller: &Caller, value: &str) -> Result<Vec<(usize, bool)>, ApiError> {
    value
        .split(',')
        .map(|key| {
            let key = key.trim();
            let (name, descending) = match key.as_bytes().first() {
                Some(b'-') => (&key[1..], true),
                Some(b'+') => (&key[1..], false),
                _ => (key, false),
            };
            let i = property_index(layer, caller, name)
                .ok_or_else(|| ApiError::BadRequest(format!("sortby: unknown property {name:?}")))?;
            Ok((i, descending))
        })
        .collect()
}

fn parse_properties(layer: &Layer, caller: &Caller, value: &str) -> Result<Vec<usize>, ApiError> {
    value
        .split(',')
        .filter(|n| !n.trim().is_empty())
        .map(|name| {
            property_index(layer, caller, name.trim())
                .ok_or_else(|| ApiError::BadRequest(format!("properties: unknown property {name:?}")))
        })
        .collect()
}

fn property_index(layer: &Layer, caller: &Caller, name: &str) -> Option<usize> {
    (0..layer.def.properties.len()).find(|&i| layer.def.properties[i].name == name && layer.is_visible(i, caller))
}

fn parse_value(s: &str, kind: PropertyType) -> Option<Value> {
    Some(match kind {
        PropertyType::Text => Value::Text(s.into()),
        PropertyType::Integer => Value::Int(s.parse().ok()?),
        PropertyType::Real => Value::Float(s.parse::<f64>().ok().filter(|v| v.is_finite())?),
        PropertyType::Boolean => Value::Bool(s.parse().ok()?),
        PropertyType::Date => Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?),
        PropertyType::Datetime => Value::DateTime(DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc)),
    })
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

/// Appends a feature as GeoJSON text in `crs`, with the properties the caller may see (or only
/// `only` of them); coordinates to 1e-8° (about 1 mm) or to the millimetre.
fn write_feature(
    out: &mut Vec<u8>,
    layer: &Layer,
    caller: &Caller,
    f: &Feature,
    crs: Crs,
    only: Option<&[usize]>,
) -> Result<(), ApiError> {
    let geometry = match crs {
        Crs::Crs84 => f.lonlat(),
        Crs::Epsg(3857) => f.mercator.clone(),
        other => other.with_projector(|p| p.from_lonlat(&f.lonlat())).and_then(|r| r).map_err(ApiError::Internal)?,
    };
    let scale = if crs.is_geographic() { 1e8 } else { 1e3 };
    let properties = (0..layer.def.properties.len())
        .filter(|&i| layer.is_visible(i, caller) && only.is_none_or(|o| o.contains(&i)))
        .map(|i| (layer.def.properties[i].name.as_str(), &f.properties[i]));
    geojson::write_feature(out, f.id, &geometry, scale, properties);
    Ok(())
}

/// One feature as a JSON value, for pages and single items.
fn feature_value(
    layer: &Layer,
    caller: &Caller,
    f: &Feature,
    crs: Crs,
    only: Option<&[usize]>,
) -> Result<serde_json::Value, ApiError> {
    let mut out = Vec::with_capacity(256);
    write_feature(&mut out, layer, caller, f, crs, only)?;
    serde_json::from_slice(&out).map_err(|e| ApiError::Internal(e.to_string()))
}

fn items_html(
    layer: &Layer,
    features: &[&Feature],
    json: &[serde_json::Value],
    matched: usize,
    offset: usize,
    links: &[serde_json::Value],
) -> String {
    use std::fmt::Write;
    let id = &layer.def.id;
    let mut body = format!(
        "<p>Features {}–{} of {matched}.</p>{}",
        (offset + 1).min(matched),
        offset + features.len(),
        html::svg_map(features.iter().map(|f| &f.mercator), None)
    );
    let names: Vec<&str> = json
        .first()
        .and_then(|f| f["properties"].as_object())
        .map_or(vec![], |p| p.keys().map(String::as_str).collect());
    body.push_str("<table><tr><th>id</th>");
    for n in &names {
        let _ = write!(body, "<th>{}</th>", html::escape(n));
    }
    body.push_str("</tr>");
    for f in json {
        let fid = &f["id"];
        let _ = write!(body, r#"<tr><td><a href="/collections/{id}/items/{fid}?f=html">{fid}</a></td>"#);
        for n in &names {
            let _ = write!(body, "<td>{}</td>", html::escape(&display(&f["properties"][*n])));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table><p>");
    for l in links.iter().filter(|l| l["rel"] == "prev" || l["rel"] == "next") {
        let href = l["href"].as_str().unwrap_or_default();
        let _ = write!(
            body,
            r#"<a rel="{0}" href="{1}">{0}</a> "#,
            l["rel"].as_str().unwrap_or_default(),
            html::escape(href)
        );
    }
    body.push_str("</p>");
    body
}

fn item_html(layer: &Layer, f: &Feature, json: &serde_json::Value) -> String {
    let rows =
        json["properties"].as_object().map_or(vec![], |p| p.iter().map(|(k, v)| (k.as_str(), display(v))).collect());
    format!(
        "{}{}<p>Collection: <a href=\"/collections/{id}\">{id}</a></p>",
        html::svg_map([&f.mercator], None),
        html::table(rows),
        id = layer.def.id
    )
}

/// A JSON value as plain text for a page.
fn display(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
