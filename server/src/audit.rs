//! The audit trail: reads of restricted layers and every write, appended to `bando.audit` when
//! there is a database, else to the log (target `audit`).

use layers::store::security::{self, AuditEntry};
use sqlx::PgPool;

use crate::auth::Caller;

/// Where audit entries go.
pub struct Audit {
    pool: Option<PgPool>,
}

impl Audit {
    /// Entries go to `pool`, or to the log without one.
    pub fn new(pool: Option<PgPool>) -> Self {
        Self { pool }
    }

    /// Appends an entry in the background, so that the request does not wait for it. A failed
    /// write is logged, never lost silently.
    pub fn record(&self, caller: &Caller, action: &str, target: &str) {
        let entry = AuditEntry {
            at: chrono::Utc::now(),
            who: caller.who().to_owned(),
            role: caller.role.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            client: caller.address.map(|a| a.to_string()),
        };
        match self.pool.clone() {
            Some(pool) => {
                tokio::spawn(async move {
                    if let Err(e) = security::audit(&pool, &entry).await {
                        tracing::error!(target: "audit", ?entry, "audit write failed: {e}");
                    }
                });
            }
            None => {
                tracing::info!(target: "audit", who = %entry.who, action = %entry.action, target = %entry.target, client = ?entry.client)
            }
        }
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
    if let Err(e) = security::audit(pool, &entry).await {
        tracing::error!("audit write failed: {e}");
    }
}
