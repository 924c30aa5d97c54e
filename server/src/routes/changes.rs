//! `/collections/{id}/changes`: the layer's changes as Server-Sent Events, one per changed
//! feature, as the server applies them. A client that reconnects with `Last-Event-ID` first gets
//! the changes it missed, read from the change log, each with the feature as it is now.

use std::{collections::HashSet, convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::{Stream, StreamExt, stream};
use layers::{
    Feature, LayerId,
    crs::Crs,
    store::changes::{self, Op, Position},
};
use tokio::sync::broadcast::{self, error::RecvError};

use super::Endpoint;
use crate::{
    access::LayerView,
    auth::Caller,
    error::ApiError,
    geojson,
    hub::Applied,
    openapi::{Operation, Status},
    request::{Params, Segments},
    state::AppState,
};

/// Missed changes one reconnection replays at most; past that the client is told to reload.
const REPLAY: i64 = 10_000;

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::get(
        Operation::new("/collections/{id}/changes", "/collections/{collectionId}/changes", "Change stream")
            .parameters(&["collectionId"])
            .ok("Server-Sent Events, one per changed feature", &["text/event-stream"])
            .statuses(&[Status::BadRequest, Status::NotFound, Status::Unavailable]),
        changes,
    )]
}

async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let view = state.access(&caller).one(&id)?;
    let resume = match headers.get("last-event-id").map(|v| v.to_str().unwrap_or("")) {
        None => None,
        Some(v) => Some(v.parse::<Position>().map_err(|e| ApiError::BadRequest(format!("Last-Event-ID: {e}")))?),
    };
    // Subscribed before the replay is read, so that nothing falls between the two.
    let live = state.hub().subscribe();
    let replay = match (resume, state.pool()) {
        (Some(after), Some(pool)) => replay(pool, &view, after).await?,
        _ => Vec::new(),
    };
    let sent: HashSet<Position> = replay.iter().map(|e| e.position).collect();
    let replayed: Vec<Result<Event, Infallible>> = replay.iter().map(|e| Ok(event(e, &view))).collect();
    let replayed = stream::iter(replayed);
    let layer = view.def.id.clone();
    let following = follow(state.clone(), caller, layer, live, sent);
    let closing = state.hub().closing();
    let events = replayed.chain(following).take_until(closing);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// The changes of the layer's table after `after`, as far as the log and [`REPLAY`] reach;
/// a final `reload` event when they reach no further.
async fn replay(pool: &sqlx::PgPool, view: &LayerView, after: Position) -> Result<Vec<Applied>, ApiError> {
    let Some(table) = &view.def.source.table else { return Ok(Vec::new()) };
    let db = |e: layers::Error| ApiError::Unavailable(format!("the change log cannot be read now: {e}"));
    let read = changes::read_table(pool, &table.to_string(), after, REPLAY).await.map_err(db)?;
    let (pruned, found) = (read.pruned, read.changes);
    let lost = pruned > after || found.len() as i64 == REPLAY;
    let mut events: Vec<Applied> = found
        .into_iter()
        .filter(|_| !lost)
        .map(|c| {
            let feature = c.feature.and_then(|id| view.index.get(id)).cloned();
            let bbox = feature.as_ref().and_then(lonlat_box);
            Applied { layer: view.def.id.clone(), position: c.position, op: c.op, id: c.feature, bbox, feature }
        })
        .collect();
    if lost {
        let position = changes::start(pool).await.map_err(db)?;
        events.push(Applied {
            layer: view.def.id.clone(),
            position,
            op: Op::Reload,
            id: None,
            bbox: None,
            feature: None,
        });
    }
    Ok(events)
}

fn lonlat_box(f: &Feature) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    f.geometry.bounding_rect().map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

/// The applied changes of `layer` from now on, while the caller's key is in force and the
/// caller may still read the layer; a client too slow for the stream gets a `reload` event and
/// the stream ends (it resumes from the log).
fn follow(
    state: AppState,
    caller: Caller,
    layer: LayerId,
    live: broadcast::Receiver<Arc<Applied>>,
    sent: HashSet<Position>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let sent = Arc::new(sent);
    stream::unfold(Some(live), move |live| {
        // The loop's state is the receiver alone (`None` once a last event ended the stream);
        // each step gets its own handles to the rest, the replayed positions shared, not copied.
        let (state, caller, layer, sent) = (state.clone(), caller.clone(), layer.clone(), Arc::clone(&sent));
        async move {
            let mut live = live?;
            loop {
                let applied = match live.recv().await {
                    Ok(applied) => applied,
                    Err(RecvError::Closed) => return None,
                    Err(RecvError::Lagged(_)) => {
                        let reload = Applied {
                            layer,
                            position: Position::default(),
                            op: Op::Reload,
                            id: None,
                            bbox: None,
                            feature: None,
                        };
                        return Some((Ok(Event::default().data(data(&reload, None))), None));
                    }
                };
                if applied.layer != layer || sent.contains(&applied.position) {
                    continue;
                }
                // The same rule as every other URL of the layer, as it is now.
                if caller.key.as_ref().is_some_and(|k| !state.keyring().knows(k)) {
                    return None;
                }
                let current = state.layers().get(&layer).cloned().filter(|l| caller.may_read(l.def.access))?;
                let view = LayerView::new(current, &caller);
                return Some((Ok(event(&applied, &view)), Some(live)));
            }
        }
    })
}

/// The event of one change: its position as the id, the change as JSON data.
fn event(applied: &Applied, view: &LayerView) -> Event {
    let feature = applied.feature.as_ref().and_then(|f| {
        let columns = view.columns();
        geojson::feature(&columns.view(f), Crs::Crs84, &serde_json::json!([])).ok()
    });
    Event::default().data(data(applied, feature.as_deref())).id(applied.position.to_string())
}

/// `{"op", "id", "sequence", "bbox", "feature"}`; `feature` is GeoJSON already written.
fn data(applied: &Applied, feature: Option<&[u8]>) -> String {
    let mut out = serde_json::json!({ "op": applied.op.as_str(), "sequence": applied.position.seq }).to_string();
    out.pop();
    if let Some(id) = applied.id {
        out.push_str(&format!(",\"id\":{id}"));
    }
    if let Some(b) = applied.bbox {
        out.push_str(&format!(",\"bbox\":{}", serde_json::json!(b)));
    }
    if let Some(f) = feature {
        out.push_str(",\"feature\":");
        out.push_str(&String::from_utf8_lossy(f));
    }
    out.push('}');
    out
}
