//! The landing page and `/conformance`.

use axum::{Json, Router, http::HeaderMap, routing::get};
use serde_json::{Value, json};

use super::base_url;
use crate::state::AppState;

/// The conformance classes Bando implements, and only those.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(landing)).route("/conformance", get(conformance))
}

async fn landing(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    let link = |rel: &str, path: &str, title: &str| json!({ "rel": rel, "type": "application/json", "title": title, "href": format!("{base}{path}") });
    Json(json!({
        "title": "Bando",
        "description": "Vector tiles and feature services for the province's spatial layers",
        "links": [
            link("self", "/", "This document"),
            link("conformance", "/conformance", "Conformance classes"),
            link("http://www.opengis.net/def/rel/ogc/1.0/conformance", "/conformance", "Conformance classes"),
            link("data", "/collections", "Layers"),
            link("http://www.opengis.net/def/rel/ogc/1.0/data", "/collections", "Layers"),
            link("http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "/tileMatrixSets", "Tiling schemes"),
        ],
    }))
}

async fn conformance() -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}
