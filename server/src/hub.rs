//! What the change-log follower (`live`) shares with the request handlers: the applied changes
//! the change streams send, how far the log is followed, and the shutdown that ends the streams.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use layers::{
    Feature, LayerId,
    store::changes::{Op, Position},
};
use tokio::sync::{broadcast, watch};

/// Applied changes the change streams' channel holds for a slow client before it drops them.
const STREAM_BUFFER: usize = 4096;

/// A change as applied: what the change streams send.
#[derive(Debug)]
pub struct Applied {
    /// The layer.
    pub layer: LayerId,
    /// Its place in the log.
    pub position: Position,
    /// What happened.
    pub op: Op,
    /// The feature, `None` for a reload.
    pub id: Option<i64>,
    /// Lon/lat box around the old and the new geometry.
    pub bbox: Option<[f64; 4]>,
    /// The feature as it is now, when it is still there.
    pub feature: Option<Feature>,
}

/// How far this server has followed the log, for `/ready` and `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Every change up to here is applied.
    pub position: Position,
    /// The highest sequence number applied, `None` before the first change.
    pub sequence: Option<i64>,
    /// When the log last had nothing this server had not applied.
    pub caught_up: Instant,
    /// Changes applied since start.
    pub applied: u64,
    /// Layers reloaded in full since start.
    pub reloads: u64,
}

/// What the follower shares with the request handlers.
pub struct Hub {
    events: broadcast::Sender<Arc<Applied>>,
    progress: Mutex<Option<Progress>>,
    closing: watch::Sender<bool>,
    /// A write of this server committed: read the log now rather than at the next poll.
    nudge: tokio::sync::Notify,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            events: broadcast::channel(STREAM_BUFFER).0,
            progress: Mutex::default(),
            closing: watch::channel(false).0,
            nudge: tokio::sync::Notify::new(),
        }
    }
}

impl Hub {
    /// Applied changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Applied>> {
        self.events.subscribe()
    }

    /// How far the log is followed; `None` without a database, or before the first read.
    pub fn progress(&self) -> Option<Progress> {
        *self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts reporting progress.
    pub fn start(&self, progress: Progress) {
        *self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(progress);
    }

    /// Changes the progress reported.
    pub fn update(&self, f: impl FnOnce(&mut Progress)) {
        let mut p = self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = p.as_mut() {
            f(p);
        }
    }

    /// Resolves when the service shuts down: change streams end then.
    pub fn closing(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// Sends an applied change to the change streams.
    pub fn publish(&self, applied: Applied) {
        // No stream listening is not an error.
        let _ = self.events.send(Arc::new(applied));
    }

    /// Asks the follower to read the log at once: a write through this server committed, and
    /// its writer waits to see it.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Resolves at the next [`Hub::nudge`] (or at once for one made meanwhile).
    pub async fn nudged(&self) {
        self.nudge.notified().await;
    }

    /// Ends the change streams.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}
