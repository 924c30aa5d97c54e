//! The `bando` service: configuration, layer loading, and the HTTP routes.

pub mod assets;
pub mod auth;
pub mod changes;
pub mod config;
pub mod error;
pub mod geojson;
pub mod glyphs;
pub mod html;
pub mod keys;
pub mod limits;
pub mod load;
pub mod render;
pub mod request;
pub mod routes;
pub mod state;
pub mod style;
pub mod tile_cache;

use axum::{
    Router,
    http::{Method, header},
};
use tower_http::{
    cors::{Any, CorsLayer},
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing::Level;

use crate::{error::ApiError, state::AppState};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([header::ETAG, header::CONTENT_ENCODING]);
    Router::new()
        .merge(routes::landing::router())
        .merge(routes::health::router())
        .merge(routes::metrics::router())
        .merge(routes::api::router())
        .merge(routes::collections::router())
        .merge(routes::queryables::router())
        .merge(routes::items::router())
        .merge(routes::tiles::router())
        .merge(routes::ogc_tiles::router())
        .merge(routes::maps::router())
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::throttle))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::check_size))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(limits::panic_response))
        // GeoJSON and pages shrink five- to tenfold; tiles carry their own gzip, which this
        // leaves alone.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(cors)
        // 5xx answers are logged once, where they are made (ApiError); 503 from /ready while
        // loading is expected and stays at debug level here.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
        .with_state(state)
}
