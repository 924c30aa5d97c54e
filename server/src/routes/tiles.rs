//! XYZ vector tiles and TileJSON: `/tiles/{layer[,layer…]}/{z}/{x}/{y}.mvt` and
//! `/tiles/{layer[,layer…]}.json`.

use axum::{extract::State, http::HeaderMap, response::Response};

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    compute::Deadline,
    error::ApiError,
    media::{MVT, TILEJSON},
    openapi::{Operation, Status},
    request::{Segments, parse_tile},
    respond,
    state::AppState,
    tilejson,
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::get(
            Operation::new(
                "/tiles/{spec}/{z}/{x}/{file}",
                "/tiles/{layers}/{z}/{x}/{y}.mvt",
                "A vector tile of one or more layers",
            )
            .parameters(&["layers", "z", "x", "y"])
            .ok("A Mapbox Vector Tile", &[MVT])
            .statuses(&[Status::NoContent, Status::NotModified, Status::BadRequest, Status::NotFound]),
            xyz_tile,
        ),
        Endpoint::get(
            Operation::new("/tiles/{spec}", "/tiles/{layers}.json", "TileJSON 3.0.0 for one or more layers")
                .parameters(&["layers"])
                .ok("TileJSON", &[TILEJSON])
                .statuses(&[Status::BadRequest, Status::NotFound]),
            tilejson,
        ),
    ]
}

async fn xyz_tile(
    State(state): State<AppState>,
    caller: Caller,
    deadline: Deadline,
    Segments((spec, z, x, file)): Segments<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let views = state.access(&caller).list(&spec)?;
    let y = file.strip_suffix(".mvt").ok_or_else(|| ApiError::NotFound(format!("{file}: tiles end in .mvt")))?;
    let tile = parse_tile(&z, &x, y)?;
    let rendered = state.tiles().tile(views.iter().map(|v| v.layer().clone()).collect(), tile, deadline).await?;
    respond::tile(&rendered, &headers, &state.settings().tile_cache_control)
}

async fn tilejson(
    State(state): State<AppState>,
    caller: Caller,
    Segments(spec): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let spec = spec.strip_suffix(".json").ok_or_else(|| ApiError::NotFound(format!("no resource /tiles/{spec}")))?;
    let views = state.access(&caller).list(spec)?;
    Ok(respond::json(TILEJSON, tilejson::document(&base_url(&headers), spec, &views).to_string()))
}
