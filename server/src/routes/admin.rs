//! The operator's page, `/admin`, and what it reads and changes, for role `admin` only: every
//! layer with its access level, size, extent and last import; a layer's access level, title and
//! description (the catalog `bando layers set` writes, audited); a file uploaded and surveyed
//! (its layers and CRS proposed), then imported and followed until its report; the change feed and the database. Like SensorThings, an API of
//! its own beside the OGC ones, so `/api` does not list it.

use std::{collections::BTreeMap, time::Instant};

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, get, patch, post},
};
use layers::{
    AccessLevel, LayerId,
    import::{ColumnNames, ImportMode, ImportRequest},
    legacy_text::TextEncodingChoice,
    store::{
        publish::{self, LayerChanges},
        replicas,
    },
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    auth::Caller,
    error::ApiError,
    html,
    imports::UPLOAD_PATH,
    layer::extent_of,
    media::{HTML, JSON},
    request::{Params, Segments, json_body},
    state::AppState,
};

/// The role the page is for.
const ADMIN: &str = "admin";

/// The routes of this module.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/admin", get(page)),
        ("/admin/status", get(status)),
        ("/admin/layers/{id}", patch(change)),
        (UPLOAD_PATH, post(upload)),
        ("/admin/imports", post(import)),
        ("/admin/imports/{n}", get(job)),
    ]
}

/// Role `admin`, or 401 without a key and 403 with another role's.
fn admin(caller: &Caller) -> Result<(), ApiError> {
    match caller.role.as_deref() {
        Some(ADMIN) => Ok(()),
        Some(role) => Err(ApiError::Forbidden(format!("the operator's page is for role admin, not {role:?}"))),
        None => Err(ApiError::Unauthorized("the operator's page needs an admin key (X-API-Key)".into())),
    }
}

fn database(state: &AppState) -> Result<&PgPool, ApiError> {
    state.pool().ok_or_else(|| ApiError::Unavailable("layer administration needs the database".into()))
}

/// The page: a shell whose script asks for the key and reads everything else with it, so that
/// nothing about the layers is in the page itself.
async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    if let Some(missing) = &state.web().assets.missing {
        return Err(ApiError::Unavailable(missing.clone()));
    }
    let page = format!(
        r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Bando</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/maplibre-gl.css"><link rel="stylesheet" href="/assets/map.css">
<script id="bando-config" type="application/json">{{}}</script>
<script type="module" src="/assets/admin.mjs"></script>
</head><body class="admin"><main id="admin"></main></body></html>"#,
        title = html::escape("Quản trị / Administration"),
    );
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
               worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
               frame-ancestors 'none'";
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HTML)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        page,
    )
        .into_response())
}

/// Every layer served, with what the catalog and the import log know of it; the change feed;
/// the database's answer time.
async fn status(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    admin(&caller)?;
    let started = Instant::now();
    let (origins, imports, replicas, database) = match state.pool() {
        Some(pool) => match (publish::origins(pool).await, last_imports(pool).await, replicas::list(pool).await) {
            (Ok(origins), Ok(imports), Ok(replicas)) => {
                let database = json!({ "ok": true, "milliseconds": started.elapsed().as_secs_f64() * 1e3 });
                (origins, imports, Some(replicas), database)
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                (BTreeMap::new(), Value::Null, None, json!({ "ok": false, "error": e.to_string() }))
            }
        },
        None => (BTreeMap::new(), Value::Null, None, Value::Null),
    };
    let layers: Vec<Value> = state
        .access(&caller)
        .all()
        .iter()
        .map(|view| {
            let def = &view.def;
            json!({
                "id": def.id, "title": def.title, "description": def.description, "access": def.access,
                "features": view.index.len(), "extent": extent_of([&**view]),
                // Layers the configuration file defines are changed there.
                "editable": origins.get(def.id.as_str()) == Some(&true),
                "lastImport": imports.get(def.id.as_str()),
            })
        })
        .collect();
    let (replicas, head) = replicas.unzip();
    let feed = state.hub().progress().map(|p| {
        json!({
            "sequence": p.sequence, "applied": p.applied, "reloads": p.reloads,
            "caughtUpSecondsAgo": p.caught_up.elapsed().as_secs_f64(),
            "last": head.flatten(), "replicas": replicas,
        })
    });
    let body = json!({ "layers": layers, "feed": feed, "database": database });
    Ok(([(header::CONTENT_TYPE, JSON), (header::CACHE_CONTROL, "no-store")], body.to_string()).into_response())
}

/// The last import of each layer, from the import log.
async fn last_imports(pool: &PgPool) -> layers::Result<Value> {
    let row: (Value,) = sqlx::query_as(
        "SELECT coalesce(jsonb_object_agg(layer_id, to_jsonb(l) - 'layer_id' - 'id'), '{}') FROM \
         (SELECT DISTINCT ON (layer_id) * FROM bando.import_log ORDER BY layer_id, id DESC) l",
    )
    .fetch_one(pool)
    .await
    .map_err(layers::Error::db("reading the import log"))?;
    Ok(row.0)
}

/// What a change of a layer may set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    access: Option<AccessLevel>,
    title: Option<String>,
    description: Option<String>,
}

/// Whether `id` is a layer an import made (false: no catalog layer has that id); 409 for one
/// the configuration file defines, which is changed there.
async fn made_by_import(pool: &PgPool, id: &str) -> Result<bool, ApiError> {
    let origins = publish::origins(pool).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    match origins.get(id) {
        Some(false) => {
            Err(ApiError::Conflict(format!("layer {id:?} is defined in the configuration file: change it there")))
        }
        imported => Ok(imported.is_some()),
    }
}

/// Records `action` on layer `id` in the audit trail, or 503 while the trail is behind.
fn audited(state: &AppState, caller: &Caller, action: &str, id: &str) -> Result<(), ApiError> {
    state
        .audit()
        .record(caller, action, &[id])
        .map_err(|_| ApiError::Unavailable("the audit trail is behind; try again in a moment".into()))
}

/// Changes an imported layer's access level, title or description, audited; every server
/// follows within a second, this one at once.
async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    admin(&caller)?;
    let pool = database(&state)?;
    let body = json_body(state.settings(), &headers, body, &[JSON]).await?;
    let change: Change = serde_json::from_value(body)
        .map_err(|e| ApiError::Invalid { pointer: String::new(), detail: format!("a change of a layer: {e}") })?;
    if change.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ApiError::Invalid { pointer: "/title".into(), detail: "a title may not be empty".into() });
    }
    let layer: LayerId = id.parse().map_err(|_| ApiError::NotFound(format!("no layer {id:?}")))?;
    if !made_by_import(pool, &id).await? {
        return Err(ApiError::NotFound(format!("no layer {id:?}")));
    }
    audited(&state, &caller, "layer.change", &id)?;
    let changes =
        LayerChanges { access: change.access, title: change.title, description: change.description, temporal: None };
    publish::set(pool, &layer, &changes).await.map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.hub().nudge();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/uploads?file=NAME` with the file as the body: 201 with the upload's number and
/// the layers it holds, each with its feature count and CRS, for the operator to choose from.
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    admin(&caller)?;
    params.only(&["file"])?;
    database(&state)?;
    let file = params.get("file").unwrap_or_default();
    let extension = file.rsplit_once('.').map(|(_, x)| x.to_ascii_lowercase()).unwrap_or_default();
    if !["zip", "gpkg", "geojson", "json", "kml", "csv"].contains(&extension.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "file {file:?}: send a Shapefile as .zip, a GeoPackage, GeoJSON, KML or CSV, named so"
        )));
    }
    let limits = &state.settings().admin;
    let upload = crate::imports::receive(body, &limits.upload_dir, file, limits.max_upload_bytes).await?;
    let path = upload.gdal_path();
    let found = tokio::task::spawn_blocking(move || layers::source::survey(&path))
        .await
        .map_err(|e| ApiError::Internal(format!("reading the upload: {e}")))?
        // An unreadable file is the sender's, and is removed with `upload`.
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let layers: Vec<Value> =
        found.iter().map(|l| json!({ "name": l.name, "features": l.features, "srid": l.srid })).collect();
    let name = upload.name().to_owned();
    let id = state.uploads().keep(upload);
    let body = json!({ "id": id, "file": name, "layers": layers });
    Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response())
}

/// `POST /admin/imports?upload=N&layer=ID[&mode=replace|append][&source_layer=L][&crs=EPSG:n]`:
/// 202 and the job importing that upload, which `/admin/imports/{n}` follows.
async fn import(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Response, ApiError> {
    admin(&caller)?;
    params.only(&["upload", "layer", "mode", "source_layer", "crs"])?;
    let pool = database(&state)?.clone();
    let id = params.get("layer").unwrap_or_default();
    let layer: LayerId = id.parse().map_err(ApiError::BadRequest)?;
    let mode = match params.get("mode") {
        None | Some("replace") => ImportMode::Replace,
        Some("append") => ImportMode::Append,
        Some(other) => return Err(ApiError::BadRequest(format!("mode must be replace or append, not {other:?}"))),
    };
    let src_srid = params
        .get("crs")
        .filter(|c| !c.is_empty())
        .map(|c| c.trim_start_matches("EPSG:").parse::<i32>())
        .transpose()
        .map_err(|_| ApiError::BadRequest("crs must be an EPSG code, such as EPSG:9210".into()))?;
    if !made_by_import(&pool, layer.as_str()).await? && state.layers().contains_key(&layer) {
        return Err(ApiError::Conflict(format!(
            "layer {id:?} is defined in the configuration file: import with bando import"
        )));
    }
    let number = params.get("upload").unwrap_or_default();
    let upload = number
        .parse()
        .ok()
        .and_then(|n| state.uploads().take(n))
        .ok_or_else(|| ApiError::NotFound(format!("no upload {number:?} waiting: upload the file again")))?;
    let request = ImportRequest {
        path: upload.gdal_path(),
        source_layer: params.get("source_layer").filter(|l| !l.is_empty()).map(str::to_owned),
        layer,
        src_srid,
        mode,
        names: ColumnNames::AsWritten,
        strict: false,
        configured: None,
        text_encoding: TextEncodingChoice::default(),
    };
    audited(&state, &caller, "layer.import", id)?;
    let job = state.imports().start(id, upload.name());
    let running = std::sync::Arc::clone(&job);
    // On a blocking thread of this runtime: the import reads the file through GDAL as it goes,
    // and its future is not `Send`.
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let reading = std::sync::Arc::clone(&running);
        let progress = std::sync::Arc::new(move |stage| reading.moved(stage));
        let result = runtime.block_on(layers::import::import(&pool, &request, progress));
        // The upload is removed once the import is over, whatever its end.
        drop(upload);
        running.finish(result.map_err(|e| e.to_string()));
    });
    let href = format!("/admin/imports/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, href), (header::CONTENT_TYPE, JSON.to_owned())],
        job.describe().to_string(),
    )
        .into_response())
}

/// An import's progress, then its report.
async fn job(
    State(state): State<AppState>,
    caller: Caller,
    Segments(n): Segments<String>,
) -> Result<Response, ApiError> {
    admin(&caller)?;
    let job = n
        .parse()
        .ok()
        .and_then(|n| state.imports().get(n))
        .ok_or_else(|| ApiError::NotFound(format!("no import {n:?}")))?;
    Ok(([(header::CONTENT_TYPE, JSON), (header::CACHE_CONTROL, "no-store")], job.describe().to_string())
        .into_response())
}
