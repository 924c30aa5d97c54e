//! Loading every layer at start: from PostGIS when a database is configured, else from files.

use std::path::PathBuf;

use layers::{
    LayerDef, LayerIndex,
    catalog::TableRef,
    store::{files, postgis},
};
use sqlx::PgPool;
use tokio::task::JoinSet;

use crate::{config::Config, layer::Layer, state::AppState};

/// Where one layer's features come from.
enum Origin {
    Table(TableRef, PgPool),
    File(PathBuf),
}

/// The layers to serve: configured ones, plus with a database those that imports created and
/// those `auto_publish` discovers (configured ids win).
pub async fn catalog(config: &Config, pool: Option<&PgPool>) -> layers::Result<Vec<LayerDef>> {
    let mut defs = config.layer_defs();
    if let Some(pool) = pool {
        defs.extend(postgis::imported_layers(pool, &defs).await?);
        if let Some(auto) = &config.database.auto_publish {
            for def in postgis::discover(pool, &auto.schemas, auto.access).await? {
                let same_table = defs.iter().any(|d| d.source.table == def.source.table);
                if !same_table && !defs.iter().any(|d| d.id == def.id) {
                    defs.push(def);
                }
            }
        }
    }
    Ok(defs)
}

/// Loads every layer into `state`, several at a time, then marks the service ready. A layer that
/// fails is logged and reported by `/ready`; the others are served.
pub async fn load_all(state: AppState, defs: Vec<LayerDef>, pool: Option<PgPool>) {
    let mut tasks = JoinSet::new();
    for def in defs {
        let Some(origin) = origin(&def, pool.as_ref()) else { continue };
        tasks.spawn(async move {
            let mut def = def;
            let index = load_one(&mut def, origin).await;
            (def, index)
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((def, Ok(index))) => state.put_layer(Layer::new(def, index)),
            Ok((def, Err(e))) => {
                tracing::error!(layer = %def.id, "layer not loaded: {e}");
                state.layer_failed(format!("{}: {e}", def.id));
            }
            Err(e) => state.layer_failed(format!("a loading task failed: {e}")),
        }
    }
    state.set_ready();
    tracing::info!(layers = state.layers().len(), "ready");
}

/// What loading one layer found, for `bando check`: where it comes from, and its feature count
/// or why it cannot be served.
pub struct LayerCheck {
    /// The layer.
    pub def: LayerDef,
    /// `table schema.name` or `file path`.
    pub source: String,
    /// Features loaded, or the reason there are none.
    pub outcome: Result<usize, String>,
}

/// Loads each layer as serving would, one after another, and reports on it; nothing is kept.
pub async fn check(defs: Vec<LayerDef>, pool: Option<&PgPool>) -> Vec<LayerCheck> {
    let mut checks = Vec::with_capacity(defs.len());
    for mut def in defs {
        let source = match (&def.source.table, &def.source.file) {
            (Some(t), Some(_)) if pool.is_some() => format!("table {t}"),
            (_, Some(f)) => format!("file {}", f.display()),
            (Some(t), None) => format!("table {t}"),
            (None, None) => "no source".to_owned(),
        };
        let outcome = load_now(&mut def, pool).await.map(|index| index.len());
        checks.push(LayerCheck { def, source, outcome });
    }
    checks
}

/// Loads one layer as serving would, or says why it cannot be.
pub async fn load_now(def: &mut LayerDef, pool: Option<&PgPool>) -> Result<LayerIndex, String> {
    match origin(def, pool) {
        Some(origin) => load_one(def, origin).await.map_err(|e| e.to_string()),
        None if def.source.table.is_some() => Err("a table layer, and no database is configured".to_owned()),
        None => Err("the layer names neither a table nor a file".to_owned()),
    }
}

/// Where a layer loads from: its table when there is a database, else its file; `None` (and a
/// warning) for a table layer without a database.
fn origin(def: &LayerDef, pool: Option<&PgPool>) -> Option<Origin> {
    match (pool, &def.source.table, &def.source.file) {
        (Some(pool), Some(table), _) => Some(Origin::Table(table.clone(), pool.clone())),
        (_, _, Some(file)) => Some(Origin::File(file.clone())),
        (None, Some(table), None) => {
            tracing::warn!(layer = %def.id, %table, "not served: the layer is a table and no database is configured");
            None
        }
        (_, None, None) => None,
    }
}

/// A table layer's definition learns the table's constraints as it loads.
async fn load_one(def: &mut LayerDef, origin: Origin) -> layers::Result<LayerIndex> {
    match origin {
        Origin::Table(table, pool) => {
            postgis::register(&pool, def, &table).await?;
            postgis::constraints(&pool, def, &table).await?;
            postgis::load(&pool, def, &table).await
        }
        Origin::File(file) => {
            let def = def.clone();
            tokio::task::spawn_blocking(move || files::load(&def, &file))
                .await
                .map_err(|e| layers::Error::UnreadableSource { path: PathBuf::new(), reason: e.to_string() })?
        }
    }
}
