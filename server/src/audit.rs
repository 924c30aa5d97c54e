//! The audit trail: reads of restricted layers and every write, appended to `bando.audit` when
//! there is a database, else to the log (target `audit`).
//!
//! Requests do not write it themselves: a flood of them would open as many inserts at once,
//! exhaust the pool and lose entries. They queue their entries (a bounded queue, refused when
//! full so that nothing is served unaudited), and one writer appends them in batches.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use layers::store::security::{self, AuditEntry};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::auth::Caller;

/// Entries waiting for the writer at most; a request that would overflow it is refused.
pub const QUEUE: usize = 10_000;

/// Entries the writer appends in one statement at most.
const BATCH: usize = 1_000;

/// The queue was full: the request must not be served.
#[derive(Debug)]
pub struct Busy;

/// Where audit entries go.
pub struct Audit {
    queue: Option<mpsc::Sender<AuditEntry>>,
    /// Entries queued and not yet written (the writer's batch included).
    unwritten: Arc<AtomicUsize>,
}

impl Audit {
    /// Entries go to `pool` through one writer task, or to the log without a pool.
    pub fn new(pool: Option<PgPool>) -> Self {
        let unwritten = Arc::new(AtomicUsize::new(0));
        let queue = pool.map(|pool| {
            let (send, receive) = mpsc::channel(QUEUE);
            tokio::spawn(write(pool, receive, Arc::clone(&unwritten)));
            send
        });
        Self { queue, unwritten }
    }

    /// Queues one entry per target, all or none: `Busy` when the queue has no room for them.
    pub fn record(&self, caller: &Caller, action: &str, targets: &[&str]) -> Result<(), Busy> {
        let entry = |target: &str| AuditEntry {
            at: chrono::Utc::now(),
            who: caller.who().to_owned(),
            role: caller.role.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            client: caller.address.map(|a| a.to_string()),
        };
        let Some(queue) = &self.queue else {
            for e in targets.iter().map(|t| entry(t)) {
                tracing::info!(target: "audit", who = %e.who, action = %e.action, target = %e.target, client = ?e.client);
            }
            return Ok(());
        };
        let Some(n) = std::num::NonZeroUsize::new(targets.len()) else { return Ok(()) };
        let permits = queue.try_reserve_many(n.get()).map_err(|_| Busy)?;
        self.unwritten.fetch_add(n.get(), Ordering::SeqCst);
        for (permit, target) in permits.zip(targets) {
            permit.send(entry(target));
        }
        Ok(())
    }

    /// Waits (at most `within`) until every queued entry is written: at shutdown.
    pub async fn drain(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.unwritten.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.unwritten.load(Ordering::SeqCst);
        if left > 0 {
            tracing::error!(target: "audit", entries = left, "audit entries not written before the shutdown");
        }
    }
}

/// The writer: appends what is queued in batches; a batch that fails is retried until it is
/// written (the queue fills meanwhile, and requests are refused), never dropped.
async fn write(pool: PgPool, mut queue: mpsc::Receiver<AuditEntry>, unwritten: Arc<AtomicUsize>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut failures = 0u32;
        while let Err(e) = security::audit(&pool, &batch).await {
            // Logged once, then once a minute: a database away for an hour is not 36 000 lines.
            if failures.is_multiple_of(60) {
                tracing::error!(target: "audit", entries = batch.len(), "audit write failed, retrying: {e}");
            }
            failures += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        unwritten.fetch_sub(batch.len(), Ordering::SeqCst);
        batch.clear();
    }
}

/// Audits a write made from the command line, by the operating-system user who ran it.
pub async fn record_cli(pool: &PgPool, action: &str, target: &str) {
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let entry = AuditEntry {
        at: chrono::Utc::now(),
        who: format!("cli:{who}"),
        role: None,
        action: action.into(),
        target: target.into(),
        client: None,
    };
    if let Err(e) = security::audit(pool, &[entry]).await {
        tracing::error!("audit write failed: {e}");
    }
}
