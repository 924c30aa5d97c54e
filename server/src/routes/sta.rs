//! The SensorThings API 1.1 (OGC 18-088) under `/sta/v1.1`: the service root, every entity set
//! and the paths through them (`Things(1)/Datastreams`), the query options, creating entities
//! (with related ones inline), changing (`PATCH`, a JSON merge patch) and deleting them,
//! association links (`$ref`), and the data array extension (`$resultFormat=dataArray` reads and
//! `CreateObservations`).
//!
//! Reads need the `[monitoring] access` level; creating needs an operator role, or a station
//! role for observations of the caller's own Things. SensorThings clients authenticate with HTTP
//! Basic, which the keyring takes with the key as the password.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::MethodRouter,
};
use layers::sensing::{
    EntitySet, Query,
    model::Link,
    observations,
    read::{self, Reader, Resource, Scope},
    write::{Author, Write},
};
use serde_json::{Value as Json, json};

use super::base_url;
use crate::{auth::Caller, error::ApiError, media::JSON, request, state::AppState};

/// The conformance classes of OGC 18-088 this service implements.
const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
];

/// What an entity's path allows, and a collection's (the `Allow` of a 405).
const ENTITY_METHODS: &str = "GET, HEAD, PATCH, DELETE";
const COLLECTION_METHODS: &str = "GET, HEAD, POST";

/// The SensorThings paths and their methods.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use axum::routing::get;
    vec![("/sta/v1.1", get(root)), ("/sta/v1.1/{*path}", get(read).post(create).patch(update).delete(remove))]
}

/// The layers crate's refusals as HTTP answers.
fn answer(e: layers::Error) -> ApiError {
    use layers::Error as E;
    match e {
        E::BadQuery(detail) => ApiError::BadRequest(detail),
        E::BadEntity { pointer, detail } => ApiError::Invalid { pointer, detail },
        E::NoEntity(detail) => ApiError::NotFound(detail),
        E::NotAllowed(detail) => ApiError::Forbidden(detail),
        E::TooMany(detail) => ApiError::TooLarge(detail),
        other => match other.refused_by_table() {
            Some(why) => ApiError::BadRequest(why),
            None => ApiError::Internal(other.to_string()),
        },
    }
}

fn service_root(headers: &HeaderMap) -> String {
    format!("{}/sta/v1.1", base_url(headers))
}

async fn root(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    state.monitoring_pool(&caller)?;
    let base = service_root(&headers);
    let sets: Vec<Json> =
        EntitySet::ALL.iter().map(|s| json!({"name": s.name(), "url": format!("{base}/{}", s.name())})).collect();
    let body = json!({"value": sets, "serverSettings": {"conformance": CONFORMANCE}});
    Ok(([(header::CONTENT_TYPE, JSON)], body.to_string()).into_response())
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    params: request::Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pool = state.monitoring_pool(&caller)?;
    let mut query = Query::parse(params.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(answer)?;
    let path = path.trim_matches('/');
    // An association link (§9.2.7): the selfLinks of the entities the path names, alone.
    let (named, refs) = path.strip_suffix("/$ref").map_or((path, false), |p| (p, true));
    if refs {
        query.select = Some(vec!["@iot.selfLink".into()]);
        query.expand.clear();
    }
    let base = service_root(&headers);
    let reader = Reader::new(pool, &base, state.settings().monitoring.paging);
    let resource = read::resolve(pool, named).await.map_err(answer)?;
    let observations = matches!(resource, Resource::Collection(EntitySet::Observations, _));
    if query.data_array && (refs || !observations) {
        return Err(ApiError::BadRequest("$resultFormat=dataArray is for a collection of Observations".into()));
    }
    let body = match resource {
        Resource::Property(..) if refs => {
            return Err(ApiError::BadRequest("$ref follows an entity or a collection, not a property".into()));
        }
        Resource::Collection(set, scope) => {
            let page = match query.data_array {
                true => reader.data_array(scope, &query).await,
                false => reader.list(set, scope, &query).await,
            }
            .map_err(answer)?;
            let mut out = serde_json::Map::new();
            if let Some(count) = page.count {
                out.insert("@iot.count".into(), count.into());
            }
            if page.more {
                let top = reader.paging.top(&query);
                let link = format!("{base}/{path}");
                out.insert("@iot.nextLink".into(), read::next_link(&link, &query, top).into());
            }
            out.insert("value".into(), Json::Array(page.values));
            Json::Object(out)
        }
        Resource::Entity(set, id) => reader.one(set, id, &query).await.map_err(answer)?,
        Resource::Property(set, id, name, raw) => {
            let value = reader.property(set, id, name).await.map_err(answer)?;
            if raw {
                let text = match value {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
            }
            json!({ (name): value })
        }
    };
    Ok(([(header::CONTENT_TYPE, JSON)], body.to_string()).into_response())
}

/// Who may write, and as what: 401 without a key, 403 for a role that does not write here.
fn author(state: &AppState, caller: &Caller) -> Result<Author, ApiError> {
    let monitoring = &state.settings().monitoring;
    let (Some(role), Some(key)) = (&caller.role, &caller.key) else {
        return Err(ApiError::Unauthorized("creating SensorThings entities needs a key".into()));
    };
    if monitoring.operators.contains(role) {
        Ok(Author::Operator)
    } else if monitoring.stations.contains(role) {
        Ok(Author::Station(key.clone()))
    } else {
        Err(ApiError::Forbidden(format!("the role {role:?} may read monitoring data, not change it")))
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let author = author(&state, &caller)?;
    // A reporting device writes its readings whatever it may read.
    let pool = match author {
        Author::Station(_) => state.pool().ok_or_else(|| ApiError::NotFound("monitoring needs a database".into()))?,
        Author::Operator => state.monitoring_pool(&caller)?,
    }
    .clone();
    let json = request::json_body(state.settings(), &headers, body, &[JSON]).await?;
    let monitoring = &state.settings().monitoring;
    let base = service_root(&headers);
    if path.trim_matches('/') == "CreateObservations" {
        let items = observations::data_array(&json, monitoring.max_observations).map_err(answer)?;
        let ids = write(&state, &pool, &author, Change::Observations(items)).await?;
        let links: Vec<String> = ids.iter().map(|id| format!("{base}/Observations({id})")).collect();
        return Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, JSON)], json!(links).to_string()).into_response());
    }
    let (set, preset) = match read::resolve(&pool, &path).await.map_err(answer)? {
        Resource::Collection(set, Scope::All) => (set, None),
        Resource::Collection(set, Scope::Related { parent, id, nav }) => match nav.link {
            Link::Reverse(_) => (set, Some((parent, id, nav.name))),
            _ => return Err(ApiError::BadRequest(format!("create {} at /{} instead", set.name(), set.name()))),
        },
        _ => {
            return Err(ApiError::ReadOnly {
                allow: ENTITY_METHODS,
                detail: "entities are created by POST to a collection".into(),
            });
        }
    };
    // An entity created under its parent (`Datastreams(1)/Observations`) names the parent.
    let json = match (preset, json) {
        (Some((parent, id, _)), Json::Object(mut object)) => {
            let back = set.navs().iter().find(|n| n.target == parent && n.to_one());
            if let Some(back) = back {
                object.insert(back.name.into(), json!({"@iot.id": id}));
            }
            Json::Object(object)
        }
        (_, other) => other,
    };
    let reader = Reader::new(&pool, &base, monitoring.paging);
    let (id, entity) = if set == EntitySet::Observations {
        // Readings come one per request by the thousand: they are written together.
        let observation = observations::NewObservation::from_json(&json, "", None).map_err(answer)?;
        let queue =
            state.observation_queue().ok_or_else(|| ApiError::NotFound("monitoring needs a database".into()))?;
        let written = queue.add(observation, author).await.map_err(answer)?;
        state.alerts_changed(written.alert_events);
        (written.id, reader.shape(set, written.id, written.body))
    } else {
        let id = write(&state, &pool, &author, Change::Create(set, &json)).await?[0];
        (id, reader.one(set, id, &Query::default()).await.map_err(answer)?)
    };
    let location = format!("{base}/{}({id})", set.name());
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, JSON.to_owned()), (header::LOCATION, location)],
        entity.to_string(),
    )
        .into_response())
}

/// The one entity a path names, for a change.
async fn entity(pool: &sqlx::PgPool, path: &str) -> Result<(EntitySet, i64), ApiError> {
    match read::resolve(pool, path).await.map_err(answer)? {
        Resource::Entity(set, id) => Ok((set, id)),
        _ => Err(ApiError::ReadOnly {
            allow: COLLECTION_METHODS,
            detail: "one entity is changed or deleted at a time: name it".into(),
        }),
    }
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let pool = state.monitoring_pool(&caller)?.clone();
    let author = author(&state, &caller)?;
    let json = request::json_body(state.settings(), &headers, body, &[JSON, "application/merge-patch+json"]).await?;
    let (set, id) = entity(&pool, &path).await?;
    write(&state, &pool, &author, Change::Update(set, id, &json)).await?;
    let base = service_root(&headers);
    let reader = Reader::new(&pool, &base, state.settings().monitoring.paging);
    let entity = reader.one(set, id, &Query::default()).await.map_err(answer)?;
    Ok(([(header::CONTENT_TYPE, JSON)], entity.to_string()).into_response())
}

async fn remove(State(state): State<AppState>, caller: Caller, Path(path): Path<String>) -> Result<Response, ApiError> {
    let pool = state.monitoring_pool(&caller)?.clone();
    let author = author(&state, &caller)?;
    let (set, id) = entity(&pool, &path).await?;
    write(&state, &pool, &author, Change::Delete(set, id)).await?;
    Ok(StatusCode::OK.into_response())
}

/// What one SensorThings write does.
enum Change<'a> {
    /// Adds observations (a `CreateObservations` batch).
    Observations(Vec<(observations::NewObservation, String)>),
    /// Creates an entity, with those given inline.
    Create(EntitySet, &'a Json),
    /// Merges a patch into an entity.
    Update(EntitySet, i64, &'a Json),
    /// Deletes an entity.
    Delete(EntitySet, i64),
}

/// Runs one change in a transaction of its own, then wakes the alert streams if it raised
/// alerts: the ids of the entities it made.
async fn write(
    state: &AppState,
    pool: &sqlx::PgPool,
    author: &Author,
    change: Change<'_>,
) -> Result<Vec<i64>, ApiError> {
    let db = |e: sqlx::Error| ApiError::Internal(format!("a SensorThings write's transaction: {e}"));
    let monitoring = &state.settings().monitoring;
    let mut tx = pool.begin().await.map_err(db)?;
    let mut w = Write { conn: &mut tx, rules: &monitoring.rules, author, alert_events: 0 };
    let made = match change {
        Change::Observations(items) => observations::insert(&mut w, items).await,
        Change::Create(set, json) => w.create(set, json).await.map(|id| vec![id]),
        Change::Update(set, id, json) => w.update(set, id, json).await.map(|()| Vec::new()),
        Change::Delete(set, id) => w.delete(set, id).await.map(|()| Vec::new()),
    }
    .map_err(answer)?;
    let raised = w.alert_events;
    tx.commit().await.map_err(db)?;
    state.alerts_changed(raised);
    Ok(made)
}
