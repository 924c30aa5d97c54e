//! API keys and the audit trail in PostGIS (`bando.api_keys`, `bando.audit`, migration 0004).

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::{Error, Result};

/// A key as stored: never the key itself, only its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// The key's public id.
    pub id: String,
    /// The role it maps to.
    pub role: String,
    /// `sha256:<hex>` of the whole key.
    pub hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The key id, or `anonymous`, or the operator's OS user for command-line writes.
    pub who: String,
    /// The key's role.
    pub role: Option<String>,
    /// `read`, `import`, `key-create`, `key-revoke`.
    pub action: String,
    /// The layer or key acted on.
    pub target: String,
    /// The client's address, for requests.
    pub client: Option<String>,
}

/// The table of API keys: its changes come through the change feed like a layer table's
/// (migration 0004), so running servers pick up new and revoked keys.
pub const KEYS_TABLE: &str = "bando.api_keys";

/// Every key, revoked ones included, oldest first.
pub async fn keys(pool: &PgPool) -> Result<Vec<StoredKey>> {
    let rows = sqlx::query("SELECT id, role, hash, created_at, revoked_at FROM bando.api_keys ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading API keys"))?;
    Ok(rows
        .iter()
        .map(|r| StoredKey {
            id: r.get("id"),
            role: r.get("role"),
            hash: r.get("hash"),
            created_at: r.get("created_at"),
            revoked_at: r.get("revoked_at"),
        })
        .collect())
}

/// Stores a new key.
pub async fn add_key(pool: &PgPool, id: &str, role: &str, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO bando.api_keys (id, role, hash) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(role)
        .bind(hash)
        .execute(pool)
        .await
        .map_err(Error::db("storing the API key"))?;
    Ok(())
}

/// Revokes a key; false when no active key has that id.
pub async fn revoke_key(pool: &PgPool, id: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE bando.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(pool)
        .await
        .map_err(Error::db("revoking the API key"))?;
    Ok(done.rows_affected() == 1)
}

/// Appends entries to the audit trail, all in one statement.
pub async fn audit(pool: &PgPool, entries: &[AuditEntry]) -> Result<()> {
    let column = |f: fn(&AuditEntry) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO bando.audit (at, who, role, action, target, client) \
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])",
    )
    .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
    .bind(column(|e| Some(e.who.clone())))
    .bind(column(|e| e.role.clone()))
    .bind(column(|e| Some(e.action.clone())))
    .bind(column(|e| Some(e.target.clone())))
    .bind(column(|e| e.client.clone()))
    .execute(pool)
    .await
    .map_err(Error::db("writing the audit trail"))?;
    Ok(())
}

/// A write to one feature, for the audit: the entry, the feature, and its state before and
/// after (GeoJSON; `None` before a create and after a delete).
pub struct FeatureWrite<'a> {
    /// Who, what, when, from where; `target` is the layer.
    pub entry: &'a AuditEntry,
    /// The feature written.
    pub feature: i64,
    /// The stored feature before the write.
    pub before: Option<serde_json::Value>,
    /// The stored feature after it.
    pub after: Option<serde_json::Value>,
}

/// Appends feature writes to the audit trail inside the writes' own transaction, so that they
/// commit together or not at all; a batch's entries go in one statement.
pub async fn audit_write(tx: &mut sqlx::PgConnection, writes: &[FeatureWrite<'_>]) -> Result<()> {
    let column = |f: fn(&FeatureWrite) -> Option<String>| writes.iter().map(f).collect::<Vec<_>>();
    let states = |f: fn(&FeatureWrite) -> Option<serde_json::Value>| writes.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO bando.audit (at, who, role, action, target, client, feature_id, before, after)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::bigint[], $8::jsonb[], $9::jsonb[])",
    )
    .bind(writes.iter().map(|w| w.entry.at).collect::<Vec<_>>())
    .bind(column(|w| Some(w.entry.who.clone())))
    .bind(column(|w| w.entry.role.clone()))
    .bind(column(|w| Some(w.entry.action.clone())))
    .bind(column(|w| Some(w.entry.target.clone())))
    .bind(column(|w| w.entry.client.clone()))
    .bind(writes.iter().map(|w| w.feature).collect::<Vec<_>>())
    .bind(states(|w| w.before.clone()))
    .bind(states(|w| w.after.clone()))
    .execute(tx)
    .await
    .map_err(Error::db("writing the audit trail"))?;
    Ok(())
}

/// One feature's history, oldest first: each entry with the feature's state before and after.
pub async fn feature_history(
    pool: &PgPool,
    layer: &str,
    feature: i64,
) -> Result<Vec<(AuditEntry, Option<serde_json::Value>, Option<serde_json::Value>)>> {
    let rows = sqlx::query(
        "SELECT at, who, role, action, target, client, before, after FROM bando.audit
         WHERE target = $1 AND feature_id = $2 ORDER BY id",
    )
    .bind(layer)
    .bind(feature)
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading the audit trail"))?;
    Ok(rows.iter().map(|r| (entry_of(r), r.get("before"), r.get("after"))).collect())
}

fn entry_of(r: &sqlx::postgres::PgRow) -> AuditEntry {
    AuditEntry {
        at: r.get("at"),
        who: r.get("who"),
        role: r.get("role"),
        action: r.get("action"),
        target: r.get("target"),
        client: r.get("client"),
    }
}

/// The latest `limit` audit entries, newest first.
pub async fn recent_audit(pool: &PgPool, limit: i64) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query("SELECT at, who, role, action, target, client FROM bando.audit ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading the audit trail"))?;
    Ok(rows.iter().map(entry_of).collect())
}
