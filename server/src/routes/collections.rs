//! `/collections` and `/collections/{id}`: the layers with their extents, CRSs and links, as
//! JSON or HTML.

use std::fmt::Write;

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::get,
};
use layers::crs::{CRS84_URI, Crs};
use serde_json::{Value, json};

use super::{base_url, ogc_tiles::REL_TILESETS_VECTOR, queryables::REL_QUERYABLES, tiles::one_layer};
use crate::{
    auth::Caller,
    error::ApiError,
    html,
    request::{Format, Params},
    state::{AppState, Layer},
};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/collections", get(list)).route("/collections/{id}", get(one))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::negotiate(&params, &headers)?;
    let base = base_url(&headers);
    let layers = state.layers_for(&caller);
    if format == Format::Html {
        let mut body = String::from("<table><tr><th>Collection</th><th>Features</th><th>Description</th></tr>");
        for l in &layers {
            let _ = write!(
                body,
                r#"<tr><td><a href="/collections/{id}?f=html">{title}</a></td><td>{n}</td><td>{d}</td></tr>"#,
                id = l.def.id,
                title = html::escape(&l.def.title),
                n = l.index.len(),
                d = html::escape(&l.def.description),
            );
        }
        body.push_str("</table>");
        let page = html::page("Collections", &[("Bando", "/".into())], "/collections?f=json", &body);
        return Ok(([(header::CONTENT_TYPE, html::HTML)], page).into_response());
    }
    let collections: Vec<Value> = layers.iter().map(|l| collection(&base, l)).collect();
    let body = json!({
        "links": [
            { "href": format!("{base}/collections?f=json"), "rel": "self", "type": "application/json", "title": "Layers" },
            { "href": format!("{base}/collections?f=html"), "rel": "alternate", "type": "text/html", "title": "Layers as HTML" },
        ],
        "collections": collections,
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = one_layer(&state, &caller, &id)?;
    let format = Format::negotiate(&params, &headers)?;
    if format == Format::Html {
        let crumbs = [("Bando", "/".to_owned()), ("Collections", "/collections".to_owned())];
        let page =
            html::page(&layer.def.title, &crumbs, &format!("/collections/{id}?f=json"), &collection_html(&layer));
        return Ok(([(header::CONTENT_TYPE, html::HTML)], page).into_response());
    }
    let body = collection(&base_url(&headers), &layer);
    Ok(([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

/// The description of one layer.
fn collection(base: &str, layer: &Layer) -> Value {
    let def = &layer.def;
    let here = format!("{base}/collections/{}", def.id);
    let mut c = json!({
        "id": def.id,
        "title": def.title,
        "description": def.description,
        "keywords": def.keywords,
        "itemType": "feature",
        "crs": Crs::supported().map(Crs::uri).collect::<Vec<_>>(),
        "storageCrs": CRS84_URI,
        "links": [
            { "href": format!("{here}?f=json"), "rel": "self", "type": "application/json", "title": def.title },
            { "href": format!("{here}?f=html"), "rel": "alternate", "type": "text/html", "title": def.title },
            { "href": format!("{here}/items?f=json"), "rel": "items", "type": "application/geo+json", "title": "Features" },
            { "href": format!("{here}/items?f=html"), "rel": "items", "type": "text/html", "title": "Features as HTML" },
            { "href": format!("{here}/queryables"), "rel": REL_QUERYABLES, "type": "application/schema+json", "title": "Queryable properties" },
            { "href": format!("{here}/tiles"), "rel": REL_TILESETS_VECTOR, "type": "application/json", "title": "Vector tiles" },
        ],
    });
    let mut extent = serde_json::Map::new();
    if let Some(e) = layer.index.extent() {
        extent.insert(
            "spatial".into(),
            json!({ "bbox": [[e.min().x, e.min().y, e.max().x, e.max().y]], "crs": CRS84_URI }),
        );
    }
    if let Some(interval) = &layer.time_extent {
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
    c
}

fn collection_html(layer: &Layer) -> String {
    let def = &layer.def;
    let frame = layer.index.extent().map(|e| {
        use layers::mercator::to_mercator;
        geo_types::Rect::new(to_mercator(e.min()), to_mercator(e.max()))
    });
    let sample: Vec<&geo_types::Geometry> = frame
        .map(|r| layer.index.largest_in_mercator_box([r.min().x, r.min().y, r.max().x, r.max().y], 500))
        .unwrap_or_default()
        .into_iter()
        .map(|c| &c.feature.mercator)
        .collect();
    let rows = [
        ("Id", def.id.to_string()),
        ("Features", layer.index.len().to_string()),
        ("Geometry", format!("{:?}", def.geometry)),
        ("Access", format!("{:?}", def.access)),
        ("Keywords", def.keywords.join(", ")),
        ("Attribution", def.attribution.clone()),
    ];
    format!(
        r#"<p>{}</p>{}{}<p><a href="/collections/{id}/items?f=html">Features</a> · <a href="/collections/{id}/queryables">Queryables</a> · <a href="/collections/{id}/tiles">Vector tiles</a> · <a href="/viewer?layer={id}">Bản đồ / Map viewer</a> · <a href="/styles/{id}.json">Style</a></p>"#,
        html::escape(&def.description),
        html::svg_map(sample, frame),
        html::table(rows),
        id = def.id,
    )
}
