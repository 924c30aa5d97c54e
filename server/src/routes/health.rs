//! `/health` (the process answers) and `/ready` (every layer is loaded, and the database
//! answers when there is one).

use std::time::Duration;

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::Endpoint;
use layers::AccessLevel;

use crate::{auth::Caller, error::ApiError, media::JSON, openapi::Operation, state::AppState};

/// How long `/ready` waits for the database.
const PING: Duration = Duration::from_secs(2);

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::get(Operation::new("/health", "/health", "Liveness").ok("The process answers", &[JSON]), health),
        Endpoint::get(Operation::new("/ready", "/ready", "Readiness").ok("Every layer is loaded", &[JSON]), ready),
    ]
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let failed = state.failed_layers();
    // Which layers, and why, names hidden layers and file paths: that is for the log (where
    // each failure was written) and for callers cleared for every layer.
    if !failed.is_empty() && caller.may_read(AccessLevel::Restricted) {
        return Err(ApiError::Unavailable(format!("layers failed to load: {}", failed.join("; "))));
    }
    if !failed.is_empty() {
        return Err(ApiError::Unavailable(format!("{} layers failed to load; the log says which", failed.len())));
    }
    if !state.is_ready() {
        return Err(ApiError::Unavailable("layers are still loading".into()));
    }
    // Tiles and features keep coming from memory while the database is away; readiness says
    // so, so that an operator (or a load balancer that wants fresh data) can tell.
    if let Some(pool) = state.pool()
        && !layers::store::postgis::ping(pool, PING).await
    {
        return Err(ApiError::Unavailable(
            "the database is unreachable; tiles and features are served from memory".into(),
        ));
    }
    let mut answer = json!({
        "status": "ready",
        "layers": state.layers().len(),
        "store": if state.pool().is_some() { "postgis" } else { "files" },
    });
    // How far behind the change log this server is: the last change it applied, and how long
    // ago it last had applied everything there was.
    if let Some(p) = state.hub().progress() {
        answer["changes"] = json!({
            "position": p.position.to_string(),
            "sequence": p.sequence,
            "lag_seconds": p.caught_up.elapsed().as_secs_f64(),
            "applied": p.applied,
            "reloads": p.reloads,
        });
    }
    Ok(Json(answer))
}
