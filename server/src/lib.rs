//! The `bando` service: configuration, layer loading, and the HTTP routes.

pub mod config;
pub mod error;
pub mod load;
pub mod routes;
pub mod state;

use axum::Router;

use crate::{error::ApiError, state::AppState};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::router())
        .merge(routes::collections::router())
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
