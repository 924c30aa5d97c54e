//! Alerts as they happen: `/alerts` (the open ones, or all), `/alerts/stream` (Server-Sent
//! Events, one per change of an alert, resumable with `Last-Event-ID`) and
//! `POST /alerts/{id}/acknowledge` for operators.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::MethodRouter,
};
use futures_util::{StreamExt, stream};
use layers::sensing::alerts;
use serde_json::json;

use crate::{auth::Caller, error::ApiError, media::JSON, request::Params, state::AppState};

/// Events one read of the table sends at most.
const BATCH: i64 = 500;
/// How often a stream looks at the table without a signal (writes through another replica).
const POLL: Duration = Duration::from_millis(500);

/// The alert paths and their methods.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use axum::routing::{get, post};
    vec![
        ("/alerts", get(list)),
        ("/alerts/stream", get(stream_events)),
        ("/alerts/{id}/acknowledge", post(acknowledge)),
    ]
}

fn readable<'a>(state: &'a AppState, caller: &Caller) -> Result<&'a sqlx::PgPool, ApiError> {
    let pool = state.pool().ok_or_else(|| ApiError::NotFound("alerts need a database".into()))?;
    if !caller.may_read(state.monitoring_access()) {
        return Err(ApiError::NotFound("no such resource".into()));
    }
    Ok(pool)
}

fn failed(e: layers::Error) -> ApiError {
    match e {
        layers::Error::NoEntity(detail) => ApiError::NotFound(detail),
        other => ApiError::Unavailable(format!("alerts cannot be read now: {other}")),
    }
}

async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Response, ApiError> {
    params.only(&["status"])?;
    let pool = readable(&state, &caller)?;
    let open_only = match params.get("status") {
        None | Some("open") => true,
        Some("all") => false,
        Some(other) => return Err(ApiError::BadRequest(format!("status is open or all, not {other:?}"))),
    };
    let alerts = alerts::list(pool, open_only, 1000).await.map_err(failed)?;
    Ok(([(header::CONTENT_TYPE, JSON)], json!({ "alerts": alerts }).to_string()).into_response())
}

async fn stream_events(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let pool = readable(&state, &caller)?.clone();
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| ApiError::BadRequest("Last-Event-ID is the sequence of an alert event".into()))?,
        None => {
            let row: (Option<i64>,) = sqlx::query_as("SELECT max(seq) FROM sta.alert_events")
                .fetch_one(&pool)
                .await
                .map_err(|e| ApiError::Unavailable(format!("alerts cannot be read now: {e}")))?;
            row.0.unwrap_or(0)
        }
    };
    let signal = state.clone();
    let events = stream::unfold(Some(after), move |after| {
        let (state, pool) = (signal.clone(), pool.clone());
        async move {
            let mut after = after?;
            loop {
                // Armed before the table is read, so that a commit in between still wakes it.
                let woken = state.alert_signal().notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                match alerts::events_after(&pool, after, BATCH).await {
                    // The client resumes from its last event when the stream ends.
                    Err(_) => return None,
                    Ok(found) if !found.is_empty() => {
                        after = found.last().map_or(after, |e| e.seq);
                        let sent: Vec<Result<Event, Infallible>> = found
                            .into_iter()
                            .map(|e| Ok(Event::default().id(e.seq.to_string()).event(e.event).data(e.body.to_string())))
                            .collect();
                        return Some((stream::iter(sent), Some(after)));
                    }
                    Ok(_) => {
                        let _ = tokio::time::timeout(POLL, woken).await;
                    }
                }
            }
        }
    });
    let closing = state.hub().closing();
    let events = events.flatten().take_until(closing);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let pool = readable(&state, &caller)?;
    let operator = caller.role.as_ref().is_some_and(|r| state.settings().monitoring.operators.contains(r));
    if !operator {
        return Err(match caller.key {
            None => ApiError::Unauthorized("acknowledging an alert needs an operator's key".into()),
            Some(_) => ApiError::Forbidden("only an operator acknowledges alerts".into()),
        });
    }
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound(format!("no alert {id:?}")))?;
    let alert = alerts::acknowledge(pool, id, caller.who()).await.map_err(failed)?;
    state.alerts_changed(1);
    Ok(([(header::CONTENT_TYPE, JSON)], alert.to_string()).into_response())
}
