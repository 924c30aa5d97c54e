//! Applies the change feed: a changed layer table is reloaded and swapped in whole, so readers
//! never see a half-applied change, and its cached tiles are dropped; a change to the keys
//! table reloads the keys. After the feed reconnects, everything is re-read.

use std::collections::BTreeSet;

use layers::store::{
    feed::{self, Event},
    postgis,
    security::KEYS_TABLE,
};
use sqlx::PgPool;

use crate::{layer::Layer, state::AppState};

/// Follows the feed for as long as the service runs.
pub async fn follow(state: AppState, pool: PgPool) {
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
                all
            }
        };
        for table in tables {
            if table == KEYS_TABLE {
                reload_keys(&state, &pool).await;
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
