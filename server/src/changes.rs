//! The change feed. After every committed statement on a layer table, a PostGIS trigger sends
//! `NOTIFY bando_changes, 'schema.table'` (migration 0001). The layers on that table are
//! reloaded and swapped in whole, so readers never see a half-applied change, and their cached
//! tiles are dropped.

use std::{collections::BTreeSet, time::Duration};

use layers::store::postgis;
use sqlx::{PgPool, postgres::PgListener};

use crate::state::{AppState, Layer};

/// The notification channel the triggers use.
const CHANNEL: &str = "bando_changes";
/// The table of API keys, watched like a layer table (migration 0004).
const KEYS_TABLE: &str = "bando.api_keys";
/// Notifications arriving this close together are handled as one: an import or a batch of
/// edits sends several.
const SETTLE: Duration = Duration::from_millis(200);

/// Follows the feed for as long as the service runs, reconnecting when the database goes away.
/// After a reconnection every table-backed layer and the keys are re-read: notifications sent
/// while the feed was down are lost.
pub async fn follow(state: AppState, pool: PgPool) {
    let mut resync = false;
    loop {
        if let Err(e) = listen(&state, &pool, resync).await {
            tracing::warn!("change feed interrupted, reconnecting: {e}");
        }
        resync = true;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn listen(state: &AppState, pool: &PgPool, resync: bool) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    if resync {
        tracing::info!("change feed reconnected; re-reading keys and layers");
        crate::keys::reload(state, pool).await;
        let tables: BTreeSet<String> =
            state.layers().values().filter_map(|l| l.def.source.table.as_ref().map(ToString::to_string)).collect();
        for table in tables {
            reload(state, pool, &table).await;
        }
    }
    loop {
        let first = listener.recv().await?;
        let mut tables = BTreeSet::from([first.payload().to_owned()]);
        while let Ok(next) = tokio::time::timeout(SETTLE, listener.recv()).await {
            tables.insert(next?.payload().to_owned());
        }
        for table in tables {
            if table == KEYS_TABLE {
                crate::keys::reload(state, pool).await;
            } else {
                reload(state, pool, &table).await;
            }
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
