//! Alerts as they happen: `/alerts` (the open ones, or all), `/alerts/stream` (Server-Sent
//! Events, one per change of an alert, from the one follower of the events table, resumable
//! with `Last-Event-ID`) and
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
use layers::sensing::alerts::{self, AlertEvent};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::{auth::Caller, error::ApiError, media::JSON, request::Params, state::AppState};

/// Missed events one reconnection replays at most.
const REPLAY: i64 = 10_000;

/// The alert paths and their methods.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use axum::routing::{get, post};
    vec![
        ("/alerts", get(list)),
        ("/alerts/stream", get(stream_events)),
        ("/alerts/{id}/acknowledge", post(acknowledge)),
    ]
}

fn failed(e: layers::Error) -> ApiError {
    match e {
        layers::Error::NoEntity(detail) => ApiError::NotFound(detail),
        other => ApiError::Unavailable(format!("alerts cannot be read now: {other}")),
    }
}

async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Response, ApiError> {
    params.only(&["status"])?;
    let pool = state.monitoring_pool(&caller)?;
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
    let pool = state.monitoring_pool(&caller)?.clone();
    let closing = state.hub().closing();
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::BadRequest("Last-Event-ID is the sequence of an alert event".into()))?,
        ),
    };
    // Subscribed before the replay is read, so that nothing falls between the two.
    let live = state.alert_feed().subscribe();
    let replay = match resume {
        Some(after) => alerts::events_after(&pool, after, REPLAY).await.map_err(failed)?,
        None => Vec::new(),
    };
    // A replay that reaches its bound ends the stream: the client resumes from its last event.
    let complete = replay.len() < REPLAY as usize;
    let last = replay.last().map(|e| e.seq).or(resume).unwrap_or(0);
    let replayed: Vec<Result<Event, Infallible>> = replay.iter().map(|e| Ok(event(e))).collect();
    let following = stream::unfold(complete.then_some((live, last)), move |follow| {
        let (state, caller) = (state.clone(), caller.clone());
        async move {
            let (mut live, last) = follow?;
            loop {
                let e = match live.recv().await {
                    Ok(e) if e.seq <= last => continue,
                    Ok(e) => e,
                    // Too slow for the stream, or shutting down: the client resumes from its last event.
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                };
                // The same rule as every other monitoring URL, as it is now.
                let revoked = caller.key.as_ref().is_some_and(|k| !state.keyring().knows(k));
                if revoked || !caller.may_read(state.monitoring_access()) {
                    return None;
                }
                let seq = e.seq;
                return Some((Ok(event(&e)), Some((live, seq))));
            }
        }
    });
    let events = stream::iter(replayed).chain(following).take_until(closing);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// An alert event on the stream: its sequence as the id, its name as the event type.
fn event(e: &AlertEvent) -> Event {
    Event::default().id(e.seq.to_string()).event(e.event.clone()).data(e.body.to_string())
}

async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let pool = state.monitoring_pool(&caller)?;
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
