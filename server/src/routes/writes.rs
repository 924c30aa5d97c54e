//! Writes (OGC API - Features Part 4) on layers the configuration makes editable:
//! `POST /collections/{id}/items` (a feature, or a FeatureCollection in one transaction),
//! `PUT`, `PATCH` (RFC 7396) and `DELETE` on `/collections/{id}/items/{featureId}`, each
//! guarded by `If-Match`, and `OPTIONS` on both saying what this caller may do there.
//!
//! A write is checked against the layer's schema before anything is written, runs in one
//! transaction with its audit entry, and is a row change like any other: the change log carries
//! it to the index, the tiles and every replica. The answer waits (briefly) until this server
//! shows it, so that a client reads its own write.

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::MethodRouter,
};
use layers::{
    Feature, LayerId,
    catalog::TableRef,
    crs::Crs,
    store::{
        edit::{Changes, Shape, Target},
        security::{self, AuditEntry, FeatureWrite},
    },
};
use serde_json::{Value as Json, json};
use sqlx::PgPool;
use tokio::sync::broadcast::error::RecvError;

use super::base_url;
use crate::{
    access::LayerView,
    auth::Caller,
    edits::{self, Limits, Whole, Writer},
    error::ApiError,
    geojson,
    media::{GEOJSON, JSON},
    request::{self, Segments},
    state::AppState,
};

/// The write methods of the two feature paths.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use axum::routing::{delete, options, patch, post, put};
    vec![
        ("/collections/{id}/items", post(create).merge(options(items_options))),
        (
            "/collections/{id}/items/{fid}",
            put(replace).merge(patch(update)).merge(delete(remove)).merge(options(item_options)),
        ),
    ]
}

/// What a path allows every caller, and what a writer may do besides.
const READ: &str = "GET, HEAD, OPTIONS";
const ITEMS_WRITE: &str = "GET, HEAD, OPTIONS, POST";
const ITEM_WRITE: &str = "GET, HEAD, OPTIONS, PUT, PATCH, DELETE";

/// A layer this caller may write: its view, table and database.
struct Writable {
    view: LayerView,
    table: TableRef,
    pool: PgPool,
}

/// 404 for a layer the caller may not read, 405 for one that takes no writes, 403 for a caller
/// whose role may not write it.
fn writable(state: &AppState, caller: &Caller, id: &str, allow_read: &'static str) -> Result<Writable, ApiError> {
    let view = state.access(caller).one(id)?;
    let (Some(pool), Some(table)) = (state.pool(), view.def.source.table.clone()) else {
        return Err(ApiError::ReadOnly { allow: allow_read, detail: format!("layer {id:?} is read-only here") });
    };
    if view.def.editable_by.is_empty() {
        return Err(ApiError::ReadOnly { allow: allow_read, detail: format!("layer {id:?} is read-only") });
    }
    if !caller.role.as_ref().is_some_and(|r| view.def.editable_by.contains(r)) {
        return Err(ApiError::Forbidden(format!("this key may read layer {id:?} but not change it")));
    }
    Ok(Writable { view, table, pool: pool.clone() })
}

async fn items_options(State(state): State<AppState>, caller: Caller, Segments(id): Segments<String>) -> Response {
    allow(writable(&state, &caller, &id, READ).map(|_| ITEMS_WRITE))
}

async fn item_options(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, _)): Segments<(String, String)>,
) -> Response {
    allow(writable(&state, &caller, &id, READ).map(|_| ITEM_WRITE))
}

/// `OPTIONS`: 200 with the methods this caller may use (404 for a layer it may not read).
fn allow(methods: Result<&'static str, ApiError>) -> Response {
    let methods = match methods {
        Ok(m) => m,
        Err(ApiError::ReadOnly { .. } | ApiError::Forbidden(_)) => READ,
        Err(e) => return e.into_response(),
    };
    (StatusCode::OK, [(header::ALLOW, methods)]).into_response()
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let w = writable(&state, &caller, &id, READ)?;
    let crs = content_crs(&headers)?;
    let json = request::json_body(state.settings(), &headers, body, &[GEOJSON, JSON]).await?;
    let writer = Writer { view: &w.view, crs, limits: limits(&state) };
    let batch = json.get("type").and_then(Json::as_str) == Some("FeatureCollection");
    let drafts: Vec<Changes> = if batch {
        let features = json["features"].as_array().ok_or_else(|| invalid("/features", "a list of features"))?;
        let most = state.settings().max_batch_features;
        if features.len() > most {
            return Err(ApiError::TooLarge(format!(
                "{} features in one batch; at most {most} are accepted",
                features.len()
            )));
        }
        let each = features.iter().enumerate();
        each.map(|(i, f)| writer.changes(f, &format!("/features/{i}"), Whole::Feature, None))
            .collect::<Result<_, _>>()?
    } else {
        vec![writer.changes(&json, "", Whole::Feature, None)?]
    };
    let target = target(&state, &w).await?;
    let mut tx = w.pool.begin().await.map_err(db)?;
    let stored = target.insert(&mut tx, &drafts).await.map_err(refused)?;
    let created: Vec<(i64, Option<&Feature>, Option<&Feature>)> =
        stored.iter().map(|f| (f.id, None, Some(f))).collect();
    audit(&mut tx, &caller, &w.view, "create", &created).await?;
    tx.commit().await.map_err(db)?;
    let expected: Vec<(i64, Option<String>)> =
        stored.iter().map(|f| (f.id, Some(edits::etag(&w.view.def, f)))).collect();
    shown(&state, &w.view.def.id, &expected).await;
    let base = format!("{}/collections/{id}/items", base_url(&headers));
    if batch {
        let features: Vec<Json> = stored.iter().map(|f| answer_json(&w.view, f, crs)).collect::<Result<_, _>>()?;
        let body = json!({ "type": "FeatureCollection", "features": features });
        return Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, GEOJSON)], body.to_string()).into_response());
    }
    let mut response = feature_answer(&w.view, &stored[0], crs, StatusCode::CREATED)?;
    let location = HeaderValue::from_str(&format!("{base}/{}", stored[0].id)).map_err(|e| internal(e.to_string()))?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, fid)): Segments<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let w = writable(&state, &caller, &id, READ)?;
    let (fid, expected) = (feature_id(&id, &fid)?, if_match(&headers)?);
    let crs = content_crs(&headers)?;
    let json = request::json_body(state.settings(), &headers, body, &[GEOJSON, JSON]).await?;
    let changes =
        Writer { view: &w.view, crs, limits: limits(&state) }.changes(&json, "", Whole::Feature, Some(fid))?;
    change(&state, &caller, &w, fid, &expected, "replace", crs, |_| Ok(changes)).await
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, fid)): Segments<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let w = writable(&state, &caller, &id, READ)?;
    let (fid, expected) = (feature_id(&id, &fid)?, if_match(&headers)?);
    let crs = content_crs(&headers)?;
    let patch = request::json_body(state.settings(), &headers, body, &["application/merge-patch+json", JSON]).await?;
    let limits = limits(&state);
    change(&state, &caller, &w, fid, &expected, "update", crs, |view| {
        Writer { view, crs, limits }.changes(&patch, "", Whole::Patch, Some(fid))
    })
    .await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, fid)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let w = writable(&state, &caller, &id, READ)?;
    let (fid, expected) = (feature_id(&id, &fid)?, if_match(&headers)?);
    let target = target(&state, &w).await?;
    let mut tx = w.pool.begin().await.map_err(db)?;
    let before = locked(&target, &mut tx, &id, fid, &expected).await?;
    target.delete(&mut tx, fid).await.map_err(refused)?;
    audit(&mut tx, &caller, &w.view, "delete", &[(fid, Some(&before), None)]).await?;
    tx.commit().await.map_err(db)?;
    shown(&state, &w.view.def.id, &[(fid, None)]).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A replace or an update: the stored feature locked and checked against `If-Match`, the
/// changes `make` finds for it written and audited, and the stored result answered.
#[allow(clippy::too_many_arguments)]
async fn change(
    state: &AppState,
    caller: &Caller,
    w: &Writable,
    fid: i64,
    expected: &str,
    action: &str,
    crs: Crs,
    make: impl FnOnce(&LayerView) -> Result<Changes, ApiError>,
) -> Result<Response, ApiError> {
    let target = target(state, w).await?;
    let mut tx = w.pool.begin().await.map_err(db)?;
    let before = locked(&target, &mut tx, w.view.def.id.as_str(), fid, expected).await?;
    let changes = make(&w.view)?;
    let after = target.update(&mut tx, fid, &changes).await.map_err(refused)?.ok_or_else(gone)?;
    audit(&mut tx, caller, &w.view, action, &[(fid, Some(&before), Some(&after))]).await?;
    tx.commit().await.map_err(db)?;
    shown(state, &w.view.def.id, &[(fid, Some(edits::etag(&w.view.def, &after)))]).await;
    feature_answer(&w.view, &after, crs, StatusCode::OK)
}

/// The stored feature, locked for this transaction: 404 when there is none, 412 when it is no
/// longer in the state `If-Match` names.
async fn locked(
    target: &Target<'_>,
    tx: &mut sqlx::PgConnection,
    layer: &str,
    fid: i64,
    expected: &str,
) -> Result<Feature, ApiError> {
    let current = target.current(tx, fid).await.map_err(refused)?;
    let current = current.ok_or_else(|| ApiError::NotFound(format!("no feature {fid} in collection {layer:?}")))?;
    let etag = edits::etag(target.def, &current);
    if !edits::if_match(expected, &etag) {
        return Err(ApiError::PreconditionFailed(format!(
            "feature {fid} changed since: it is now {etag}; read it again and retry"
        )));
    }
    Ok(current)
}

/// Where the layer's writes go; the table's shape is read once per layer version.
async fn target<'a>(state: &AppState, w: &'a Writable) -> Result<Target<'a>, ApiError> {
    let key = (w.view.def.id.clone(), w.view.version);
    let known = state.write_shapes().lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).copied();
    let shape = match known {
        Some(shape) => shape,
        None => {
            let shape = Shape::of(&w.pool, &w.view.def, &w.table).await.map_err(|e| internal(e.to_string()))?;
            state.write_shapes().lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, shape);
            shape
        }
    };
    Ok(Target { def: &w.view.def, table: &w.table, shape })
}

/// Audits writes to features, each with its state before and after (`None`: there was none).
async fn audit(
    tx: &mut sqlx::PgConnection,
    caller: &Caller,
    view: &LayerView,
    action: &str,
    writes: &[(i64, Option<&Feature>, Option<&Feature>)],
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        at: chrono::Utc::now(),
        who: caller.who().to_owned(),
        role: caller.role.clone(),
        action: action.to_owned(),
        target: view.def.id.to_string(),
        client: caller.address.map(|a| a.to_string()),
    };
    let snapshot = |f: Option<&Feature>| f.map(|f| edits::snapshot(&view.def, f));
    let writes: Vec<FeatureWrite> = writes
        .iter()
        .map(|&(feature, before, after)| FeatureWrite {
            entry: &entry,
            feature,
            before: snapshot(before),
            after: snapshot(after),
        })
        .collect();
    security::audit_write(tx, &writes).await.map_err(|e| internal(e.to_string()))
}

/// Waits until this server's index shows each feature in the state expected (`None`: gone),
/// for at most two seconds: the follower, nudged, reads the change log at once, and each
/// change it applies is announced after the new index is in place.
async fn shown(state: &AppState, layer: &LayerId, expected: &[(i64, Option<String>)]) {
    let mut applied = state.hub().subscribe();
    state.hub().nudge();
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    let shows = |fid: i64, etag: &Option<String>| {
        let served = state.layers().get(layer).cloned();
        served.is_some_and(|l| l.index.get(fid).map(|f| edits::etag(&l.def, f)) == *etag)
    };
    let mut waiting: HashMap<i64, &Option<String>> =
        expected.iter().filter(|(fid, etag)| !shows(*fid, etag)).map(|(fid, etag)| (*fid, etag)).collect();
    while !waiting.is_empty() {
        let event = match tokio::time::timeout_at(until, applied.recv()).await {
            Err(_) | Ok(Err(RecvError::Closed)) => return,
            Ok(Err(RecvError::Lagged(_))) => None,
            Ok(Ok(event)) if event.layer == *layer => Some(event),
            Ok(Ok(_)) => continue,
        };
        // After a reload, or events missed, every feature is looked at again.
        match event.and_then(|e| e.id) {
            Some(fid) => {
                if waiting.get(&fid).is_some_and(|etag| shows(fid, etag)) {
                    waiting.remove(&fid);
                }
            }
            None => waiting.retain(|fid, etag| !shows(*fid, etag)),
        }
    }
}

/// The stored feature as the caller sees it, with its ETag and the CRS of its coordinates.
fn feature_answer(view: &LayerView, f: &Feature, crs: Crs, status: StatusCode) -> Result<Response, ApiError> {
    let body = answer_json(view, f, crs)?;
    let etag = HeaderValue::from_str(&edits::etag(&view.def, f)).map_err(|e| internal(e.to_string()))?;
    let content_crs = HeaderValue::from_str(&format!("<{}>", crs.uri())).map_err(|e| internal(e.to_string()))?;
    let headers = [(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON)), (header::ETAG, etag)];
    let mut response = (status, headers, body.to_string()).into_response();
    response.headers_mut().insert("content-crs", content_crs);
    Ok(response)
}

fn answer_json(view: &LayerView, f: &Feature, crs: Crs) -> Result<Json, ApiError> {
    let columns = view.columns();
    let bytes = geojson::feature(&columns.view(f), crs, &json!([]))?;
    let mut answer: Json = serde_json::from_slice(&bytes).map_err(|e| internal(e.to_string()))?;
    // `Location` names the feature; the encoder's empty list of links says nothing.
    if let Some(o) = answer.as_object_mut() {
        o.remove("links");
    }
    Ok(answer)
}

/// The CRS of the body's coordinates: `Content-Crs`, CRS84 without one.
fn content_crs(headers: &HeaderMap) -> Result<Crs, ApiError> {
    let Some(v) = headers.get("content-crs") else { return Ok(Crs::Crs84) };
    let v = v.to_str().map_err(|_| ApiError::BadRequest("Content-Crs is not text".into()))?;
    let uri = v.trim().trim_start_matches('<').trim_end_matches('>');
    Crs::from_uri(uri).map_err(|e| ApiError::BadRequest(format!("Content-Crs: {e}")))
}

/// `If-Match`: 428 without one (a change must say which state it changes).
fn if_match(headers: &HeaderMap) -> Result<String, ApiError> {
    let v = headers
        .get(header::IF_MATCH)
        .ok_or_else(|| ApiError::PreconditionRequired("send If-Match with the feature's ETag (GET it first)".into()))?;
    v.to_str().map(str::to_owned).map_err(|_| ApiError::BadRequest("If-Match is not text".into()))
}

fn feature_id(layer: &str, fid: &str) -> Result<i64, ApiError> {
    fid.parse().map_err(|_| ApiError::NotFound(format!("no feature {fid:?} in collection {layer:?}")))
}

fn limits(state: &AppState) -> Limits {
    Limits { max_vertices: state.settings().max_vertices }
}

fn invalid(pointer: &str, detail: &str) -> ApiError {
    ApiError::Invalid { pointer: pointer.into(), detail: detail.into() }
}

/// A write the table refused (a constraint, a type) is the caller's 400; anything else ours.
fn refused(e: layers::Error) -> ApiError {
    match e.refused_by_table() {
        Some(why) => ApiError::BadRequest(format!("the table refuses the feature: {why}")),
        None => internal(e.to_string()),
    }
}

fn db(e: sqlx::Error) -> ApiError {
    internal(format!("a write's transaction: {e}"))
}

fn gone() -> ApiError {
    internal("a feature written in this transaction cannot be read back".into())
}

fn internal(detail: String) -> ApiError {
    ApiError::Internal(detail)
}
