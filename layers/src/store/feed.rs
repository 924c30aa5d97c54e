//! The change feed. After every committed statement on a watched table a PostGIS trigger sends
//! `NOTIFY bando_changes`: with the table's name for the API keys and the layer catalog, with
//! `bando.changes` for a layer table, whose changed rows are in the change log (migration 0007).
//! [`subscribe`] follows it: it batches notifications that arrive together, reconnects when the
//! database goes away, and then says so with [`Event::Resync`], because notifications sent while
//! it was disconnected are lost. It stops at the first event it cannot deliver, once the
//! receiver is dropped.

use std::{collections::BTreeSet, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::mpsc;

/// The notification channel the triggers use.
const CHANNEL: &str = "bando_changes";
/// Notifications arriving within this time of the first are handled as one: a batch of edits
/// sends several. Short, as it adds to the time an edit takes to reach the map.
const SETTLE: Duration = Duration::from_millis(10);
/// The wait before reconnecting to a database that went away.
const RECONNECT: Duration = Duration::from_secs(2);

/// What the feed reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// These tables (`schema.table`) changed.
    Changed(BTreeSet<String>),
    /// The feed reconnected after losing the database: anything may have changed meanwhile.
    Resync,
}

/// Follows the feed in a task of its own; events arrive on the receiver.
pub fn subscribe(pool: PgPool) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut reconnected = false;
        loop {
            match listen(&pool, &tx, reconnected).await {
                Ok(()) => return,
                Err(e) => tracing::warn!("change feed interrupted, reconnecting: {e}"),
            }
            reconnected = true;
            tokio::time::sleep(RECONNECT).await;
        }
    });
    rx
}

/// Listens until the connection fails (`Err`) or the receiver is gone (`Ok`).
async fn listen(pool: &PgPool, tx: &mpsc::Sender<Event>, reconnected: bool) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    if reconnected {
        tracing::info!("change feed reconnected");
        if tx.send(Event::Resync).await.is_err() {
            return Ok(());
        }
    }
    loop {
        let first = listener.recv().await?;
        let mut tables = BTreeSet::from([first.payload().to_owned()]);
        let settled = tokio::time::Instant::now() + SETTLE;
        while let Ok(next) = tokio::time::timeout_at(settled, listener.recv()).await {
            tables.insert(next?.payload().to_owned());
        }
        if tx.send(Event::Changed(tables)).await.is_err() {
            return Ok(());
        }
    }
}
