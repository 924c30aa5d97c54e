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
        let origin = match (&pool, &def.source.table, &def.source.file) {
            (Some(pool), Some(table), _) => Origin::Table(table.clone(), pool.clone()),
            (_, _, Some(file)) => Origin::File(file.clone()),
            (None, Some(table), None) => {
                tracing::warn!(layer = %def.id, %table, "not served: the layer is a table and no database is configured");
                continue;
            }
            (_, None, None) => continue,
        };
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
