//! `/health` (the process answers) and `/ready` (every layer is loaded).

use std::time::Duration;

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
    // Tiles and features keep coming from memory while the database is away; readiness says
    // so, so that an operator (or a load balancer that wants fresh data) can tell.
    if let Some(pool) = state.pool() {
        let ping = sqlx::query("SELECT 1").execute(pool);
        if !matches!(tokio::time::timeout(Duration::from_secs(2), ping).await, Ok(Ok(_))) {
            return Err(ApiError::Unavailable(
                "the database is unreachable; tiles and features are served from memory".into(),
            ));
        }
    }
    Ok(Json(json!({
        "status": "ready",
        "layers": state.layers().len(),
        "store": if state.has_database() { "postgis" } else { "files" },
    })))
}
