//! The keys in force: the configuration file's and, with a database, the active stored ones.

use layers::store::security::{self, AuditEntry};
use sqlx::PgPool;

use crate::{
    auth::{KeyRecord, Keyring},
    config::Config,
    state::AppState,
};

/// The keyring at start-up.
pub async fn keyring(config: &Config, pool: Option<&PgPool>) -> anyhow::Result<Keyring> {
    let ring = config.keyring()?;
    match pool {
        Some(pool) => Ok(ring.with_stored(stored(pool).await?).map_err(anyhow::Error::msg)?),
        None => Ok(ring),
    }
}

/// Re-reads the stored keys after a change (a key created or revoked); on failure the keys in
/// force stay.
pub async fn reload(state: &AppState, pool: &PgPool) {
    let fresh = match stored(pool).await {
        Ok(keys) => state.keyring().with_stored(keys).map_err(anyhow::Error::msg),
        Err(e) => Err(e.into()),
    };
    match fresh {
        Ok(ring) => {
            state.set_keyring(ring);
            tracing::info!("API keys reloaded");
        }
        Err(e) => tracing::error!("reloading API keys failed, keeping the previous ones: {e}"),
    }
}

async fn stored(pool: &PgPool) -> layers::Result<Vec<KeyRecord>> {
    Ok(security::keys(pool)
        .await?
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| KeyRecord { id: k.id, role: k.role, hash: k.hash })
        .collect())
}

/// Audits a write made from the command line, by the operating-system user who ran it.
pub async fn audit_cli(pool: &PgPool, action: &str, target: &str) {
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let entry = AuditEntry {
        at: chrono::Utc::now(),
        who: format!("cli:{who}"),
        role: None,
        action: action.into(),
        target: target.into(),
        client: None,
        detail: None,
    };
    if let Err(e) = security::audit(pool, &entry).await {
        tracing::error!("audit write failed: {e}");
    }
}
