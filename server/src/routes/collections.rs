//! `/collections`: the layers with their extents.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::HeaderMap,
    routing::get,
};
use serde_json::{Value, json};

use super::{base_url, ogc_tiles::REL_TILESETS_VECTOR, tiles::one_layer};
use crate::{
    error::ApiError,
    state::{AppState, Layer},
};

/// CRS84, the default CRS of OGC API - Features.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/collections", get(list)).route("/collections/{id}", get(one))
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    let collections: Vec<Value> = state.layers().values().map(|l| collection(&base, l)).collect();
    Json(json!({
        "links": [{ "href": format!("{base}/collections"), "rel": "self", "type": "application/json", "title": "Layers" }],
        "collections": collections,
    }))
}

async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let layer = one_layer(&state, &id)?;
    Ok(Json(collection(&base_url(&headers), &layer)))
}

/// The description of one layer.
fn collection(base: &str, layer: &Layer) -> Value {
    let def = &layer.def;
    let bbox = layer.index.extent().map(|e| vec![vec![e.min().x, e.min().y, e.max().x, e.max().y]]);
    let mut c = json!({
        "id": def.id,
        "title": def.title,
        "description": def.description,
        "keywords": def.keywords,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            { "href": format!("{base}/collections/{}", def.id), "rel": "self", "type": "application/json", "title": def.title },
            { "href": format!("{base}/collections/{}/items", def.id), "rel": "items", "type": "application/geo+json", "title": "Features" },
            { "href": format!("{base}/collections/{}/tiles", def.id), "rel": REL_TILESETS_VECTOR, "type": "application/json", "title": "Vector tiles" },
        ],
    });
    if let Some(bbox) = bbox {
        c["extent"] = json!({ "spatial": { "bbox": bbox, "crs": CRS84 } });
    }
    if !def.attribution.is_empty() {
        c["attribution"] = json!(def.attribution);
    }
    c
}
