//! The replicas' places in the change log (`bando.replicas`, migration 0012): each server
//! reports its own about once a second, and the operator's page reads every one with its lag.
//! Times are taken from the database's clock, so replicas whose clocks differ still compare.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;

use crate::{Error, Result, store::changes::Position};

/// Changes counted at most when telling how far a replica is behind: the count stays cheap
/// however far behind it is.
const COUNT_AT_MOST: i64 = 100_000;
/// A replica not heard from for this long is forgotten.
const FORGOTTEN_AFTER_DAYS: f64 = 7.0;

/// What a server says of its own progress.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// The server's name, unique among the replicas of one database.
    pub name: &'a str,
    /// How long it has been running.
    pub up: Duration,
    /// Every change up to here is applied.
    pub position: Position,
    /// Changes after `position` already applied.
    pub beyond: usize,
    /// How long ago the log last held nothing it had not applied.
    pub caught_up: Duration,
    /// Changes applied since start.
    pub applied: u64,
    /// Layers reloaded in full since start.
    pub reloads: u64,
}

/// Writes a server's report over its previous one.
pub async fn report(pool: &PgPool, r: &Report<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO bando.replicas AS r
           (name, started_at, seen_at, position_tx, position_seq, beyond, caught_up_at, applied, reloads)
         VALUES ($1, now() - make_interval(secs => $2), now(), $3, $4, $5, now() - make_interval(secs => $6), $7, $8)
         ON CONFLICT (name) DO UPDATE SET
           started_at = EXCLUDED.started_at, seen_at = EXCLUDED.seen_at, position_tx = EXCLUDED.position_tx,
           position_seq = EXCLUDED.position_seq, beyond = EXCLUDED.beyond, caught_up_at = EXCLUDED.caught_up_at,
           applied = EXCLUDED.applied, reloads = EXCLUDED.reloads",
    )
    .bind(r.name)
    .bind(r.up.as_secs_f64())
    .bind(r.position.tx)
    .bind(r.position.seq)
    .bind(i64::try_from(r.beyond).unwrap_or(i64::MAX))
    .bind(r.caught_up.as_secs_f64())
    .bind(i64::try_from(r.applied).unwrap_or(i64::MAX))
    .bind(i64::try_from(r.reloads).unwrap_or(i64::MAX))
    .execute(pool)
    .await
    .map_err(Error::db("reporting this server's place in the change log"))?;
    Ok(())
}

/// A replica as the operator sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    /// Its name.
    pub name: String,
    /// Seconds since it started.
    pub up_seconds: f64,
    /// Seconds since its last report.
    pub seen_seconds_ago: f64,
    /// Changes in the log it has not applied (as of its last report; those written since
    /// count too), counted up to 100 000.
    pub behind: i64,
    /// Seconds since it last had applied the whole log, 0 when it is not behind: a replica
    /// keeping up with steady writes shows at most its report interval.
    pub lag_seconds: f64,
    /// Changes applied since it started.
    pub applied: i64,
    /// Layers reloaded in full since it started.
    pub reloads: i64,
}

/// The log's newest change: its sequence number and its age in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    /// Its sequence number.
    pub sequence: i64,
    /// Seconds since it was written.
    pub age_seconds: f64,
}

/// Every replica that reported in the last week, by name, and the log's newest change.
pub async fn list(pool: &PgPool) -> Result<(Vec<Replica>, Option<Head>)> {
    let ctx = || "reading the replicas' places in the change log";
    // `beyond` counts applied changes after the position, so the rest after it are not applied.
    let rows: Vec<(String, f64, f64, i64, f64, i64, i64)> = sqlx::query_as(
        "SELECT r.name, extract(epoch FROM now() - r.started_at)::float8, extract(epoch FROM now() - r.seen_at)::float8,
                greatest(a.after - r.beyond, 0),
                CASE WHEN a.after > r.beyond THEN extract(epoch FROM now() - r.caught_up_at)::float8 ELSE 0 END,
                r.applied, r.reloads
         FROM bando.replicas r
         CROSS JOIN LATERAL (
           SELECT count(*) AS after FROM (
             SELECT FROM bando.changes c WHERE (c.tx, c.seq) > (r.position_tx, r.position_seq) LIMIT $1) x
         ) a
         ORDER BY r.name",
    )
    .bind(COUNT_AT_MOST)
    .fetch_all(pool)
    .await
    .map_err(Error::db(ctx()))?;
    let head: Option<(i64, f64)> = sqlx::query_as(
        "SELECT seq, extract(epoch FROM now() - at)::float8 FROM bando.changes ORDER BY tx DESC, seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(Error::db(ctx()))?;
    let replicas = rows
        .into_iter()
        .map(|(name, up_seconds, seen_seconds_ago, behind, lag_seconds, applied, reloads)| Replica {
            name,
            up_seconds,
            seen_seconds_ago,
            behind,
            lag_seconds,
            applied,
            reloads,
        })
        .collect();
    Ok((replicas, head.map(|(sequence, age_seconds)| Head { sequence, age_seconds })))
}

/// Deletes the replicas not heard from for a week; returns how many went.
pub async fn forget_gone(pool: &PgPool) -> Result<u64> {
    let gone = sqlx::query("DELETE FROM bando.replicas WHERE seen_at < now() - make_interval(days => $1)")
        .bind(FORGOTTEN_AFTER_DAYS as i32)
        .execute(pool)
        .await
        .map_err(Error::db("forgetting replicas gone for a week"))?;
    Ok(gone.rows_affected())
}
