//! Applies the change feed: a changed layer table is reloaded and swapped in whole, so readers
//! never see a half-applied change, and its cached tiles are dropped; a change to the keys
//! table reloads the keys; a change to the layer catalog loads the layers imports added and
//! reloads those whose definition changed. After the feed reconnects, everything is re-read.

use std::collections::BTreeSet;

use layers::{
    LayerDef,
    store::{
        feed::{self, Event},
        postgis,
        publish::CATALOG_TABLE,
        security::KEYS_TABLE,
    },
};
use sqlx::PgPool;

use crate::{layer::Layer, state::AppState};

/// Follows the feed for as long as the service runs; `configured` are the layers the
/// configuration file defines (the catalog's word does not override theirs).
pub async fn follow(state: AppState, pool: PgPool, configured: Vec<LayerDef>) {
    let mut events = feed::subscribe(pool.clone());
    while let Some(event) = events.recv().await {
        let tables = match event {
            Event::Changed(tables) => tables,
            Event::Resync => {
                tracing::info!("re-reading keys and layers after the change feed reconnected");
                let mut all: BTreeSet<String> = state
                    .layers()
                    .values()
                    .filter_map(|l| l.def.source.table.as_ref().map(ToString::to_string))
                    .collect();
                all.insert(KEYS_TABLE.to_owned());
                all.insert(CATALOG_TABLE.to_owned());
                all
            }
        };
        for table in tables {
            if table == KEYS_TABLE {
                reload_keys(&state, &pool).await;
            } else if table == CATALOG_TABLE {
                reload_catalog(&state, &pool, &configured).await;
            } else {
                reload(&state, &pool, &table).await;
            }
        }
    }
}

async fn reload_keys(state: &AppState, pool: &PgPool) {
    match crate::keys::reload(&state.keyring(), pool).await {
        Ok(ring) => {
            state.set_keyring(ring);
            tracing::info!("API keys reloaded");
        }
        Err(e) => tracing::error!("reloading API keys failed, keeping the previous ones: {e}"),
    }
}

/// Loads the imported layers that are new or whose definition changed (`bando layers set`: an
/// access level, a title, a temporal property), and swaps each in whole.
async fn reload_catalog(state: &AppState, pool: &PgPool, configured: &[LayerDef]) {
    let defs = match postgis::imported_layers(pool, configured).await {
        Ok(defs) => defs,
        Err(e) => return tracing::error!("re-reading the layer catalog failed, serving the layers as they were: {e}"),
    };
    let served = state.layers();
    for def in defs {
        let previous = served.get(&def.id);
        if previous.is_some_and(|l| l.def == def) {
            continue;
        }
        let Some(table) = def.source.table.clone() else { continue };
        match postgis::load(pool, &def, &table).await {
            Ok(index) => {
                tracing::info!(layer = %def.id, access = ?def.access, "catalog change applied");
                if let Some(previous) = previous {
                    state.tiles().forget(previous);
                }
                state.put_layer(Layer::new(def, index));
            }
            Err(e) => tracing::error!(layer = %def.id, "loading after a catalog change failed: {e}"),
        }
    }
}

/// Reloads every layer whose table is `table` (`schema.table`).
async fn reload(state: &AppState, pool: &PgPool, table: &str) {
    let affected = state
        .layers()
        .values()
        .filter(|l| l.def.source.table.as_ref().is_some_and(|t| t.to_string() == table))
        .cloned()
        .collect::<Vec<_>>();
    for layer in affected {
        let Some(source) = &layer.def.source.table else { continue };
        match postgis::load(pool, &layer.def, source).await {
            Ok(index) => {
                let fresh = Layer::new(layer.def.clone(), index);
                tracing::info!(layer = %fresh.def.id, features = fresh.index.len(), "reloaded after a change");
                state.tiles().forget(&layer);
                state.put_layer(fresh);
            }
            Err(e) => {
                tracing::error!(layer = %layer.def.id, "reload after a change failed, serving the previous data: {e}")
            }
        }
    }
}
