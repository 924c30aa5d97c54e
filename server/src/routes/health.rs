//! `/health` (the process answers) and `/ready` (every layer is loaded).

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use crate::{error::ApiError, state::AppState};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let failed = state.failed_layers();
    if !failed.is_empty() {
        return Err(ApiError::Unavailable(format!("layers failed to load: {}", failed.join("; "))));
    }
    if !state.is_ready() {
        return Err(ApiError::Unavailable("layers are still loading".into()));
    }
    Ok(Json(json!({
        "status": "ready",
        "layers": state.layers().len(),
        "store": if state.has_database() { "postgis" } else { "files" },
    })))
}
