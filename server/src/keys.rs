//! The keys in force: the configuration file's and, with a database, the active stored ones.

use layers::store::security;
use sqlx::PgPool;

use crate::{
    auth::{KeyRecord, Keyring},
    config::Config,
};

/// The keyring at start-up.
pub async fn keyring(config: &Config, pool: Option<&PgPool>) -> anyhow::Result<Keyring> {
    let ring = config.keyring()?;
    match pool {
        Some(pool) => Ok(ring.with_stored(stored(pool).await?).map_err(anyhow::Error::msg)?),
        None => Ok(ring),
    }
}

/// The keyring after a change to the stored keys (a key created or revoked): `current`'s
/// configured keys and roles with the stored keys as they are now.
pub async fn reload(current: &Keyring, pool: &PgPool) -> anyhow::Result<Keyring> {
    current.with_stored(stored(pool).await?).map_err(anyhow::Error::msg)
}

async fn stored(pool: &PgPool) -> layers::Result<Vec<KeyRecord>> {
    Ok(security::keys(pool)
        .await?
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| KeyRecord { id: k.id, role: k.role, hash: k.hash })
        .collect())
}
