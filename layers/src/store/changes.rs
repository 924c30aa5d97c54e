//! The change log (`bando.changes`, migration 0007): reading it from a position, fetching the
//! current rows of changed features, and pruning it.
//!
//! A position is `(tx, seq)`: the writing transaction and the row's sequence number. Rows are read
//! in that order. Rows of transactions older than the oldest one still running are *final*: no
//! row can appear before them any more, so a reader's position only moves over final rows. Newer
//! rows that are already visible are committed too and are handed out at once, marked not final;
//! the reader applies them and skips them when they come again (applying fetches the current row,
//! so applying twice does no harm).

use std::{fmt, str::FromStr};

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::{
    Error, Feature, LayerDef, Result,
    catalog::{TableRef, quote_ident},
    store::postgis,
};

/// A place in the change log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The writing transaction's id.
    pub tx: i64,
    /// The row's sequence number.
    pub seq: i64,
}

/// Written `tx-seq`, the spelling of a Server-Sent Event id.
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.seq)
    }
}

impl FromStr for Position {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s:?} is not a change position (two numbers joined by '-')");
        let (tx, seq) = s.trim().split_once('-').ok_or_else(bad)?;
        Ok(Self { tx: tx.parse().map_err(|_| bad())?, seq: seq.parse().map_err(|_| bad())? })
    }
}

/// What happened to a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A new feature.
    Insert,
    /// A changed feature.
    Update,
    /// A removed feature.
    Delete,
    /// The whole table changed (a truncation or a bulk import): reload it.
    Reload,
}

impl Op {
    /// The spelling in the log and in change events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Reload => "reload",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "insert" => Self::Insert,
            "update" => Self::Update,
            "delete" => Self::Delete,
            _ => Self::Reload,
        }
    }
}

/// The table of the log, the payload of its notifications.
pub const LOG_TABLE: &str = "bando.changes";

/// One row of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Where it is in the log.
    pub position: Position,
    /// The layer table, `schema.table`.
    pub table: String,
    /// The feature, `None` for a reload.
    pub feature: Option<i64>,
    /// What happened.
    pub op: Op,
    /// No row can come before it any more (see the module's comment).
    pub last: bool,
}

/// The position a reader starts from when its data were read after this call: every transaction
/// older than the oldest one running is in them.
pub async fn start(pool: &PgPool) -> Result<Position> {
    Ok(Position { tx: horizon(pool).await? - 1, seq: i64::MAX })
}

/// The oldest transaction still running (or the next one).
async fn horizon(pool: &PgPool) -> Result<i64> {
    sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        .fetch_one(pool)
        .await
        .map_err(Error::db("reading the oldest running transaction"))
}

/// What one read of the log found: changes, and how far the log was pruned then.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRead {
    /// The changes, in log order.
    pub changes: Vec<Change>,
    /// The position up to which the log was pruned: a reader before it has missed changes.
    pub pruned: Position,
}

/// Up to `limit` changes after `after`, in log order.
pub async fn read(pool: &PgPool, after: Position, limit: i64) -> Result<LogRead> {
    read_where(pool, None, after, limit).await
}

/// Up to `limit` changes of one layer table (`schema.table`) after `after`, in log order.
pub async fn read_table(pool: &PgPool, table: &str, after: Position, limit: i64) -> Result<LogRead> {
    read_where(pool, Some(table), after, limit).await
}

/// One statement, so one snapshot, for the changes, the horizon and the pruned position: every
/// transaction before the horizon had finished when the rows were read, so its changes are all
/// among them, and what was pruned is known for exactly these rows.
async fn read_where(pool: &PgPool, table: Option<&str>, after: Position, limit: i64) -> Result<LogRead> {
    let rows = sqlx::query(
        "SELECT l.pruned_tx, l.pruned_seq, h.horizon, c.tx, c.seq, c.layer_table, c.feature_id, c.op
         FROM bando.change_log l
         CROSS JOIN (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon) h
         LEFT JOIN LATERAL (
           SELECT tx, seq, layer_table, feature_id, op FROM bando.changes
           WHERE (tx, seq) > ($1, $2) AND ($4::text IS NULL OR layer_table = $4) ORDER BY tx, seq LIMIT $3
         ) c ON true
         ORDER BY c.tx, c.seq",
    )
    .bind(after.tx)
    .bind(after.seq)
    .bind(limit)
    .bind(table)
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading the change log"))?;
    let pruned = rows.first().map(|r| Position { tx: r.get(0), seq: r.get(1) }).unwrap_or_default();
    let changes = rows
        .iter()
        .filter_map(|r| {
            let tx: Option<i64> = r.get(3);
            let horizon: i64 = r.get(2);
            Some(Change {
                position: Position { tx: tx?, seq: r.get(4) },
                table: r.get(5),
                feature: r.get(6),
                op: Op::parse(r.get(7)),
                last: tx? < horizon,
            })
        })
        .collect();
    Ok(LogRead { changes, pruned })
}

/// How long the log keeps changes: rows older than `days` or beyond the newest `rows` go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    /// Days a change is kept.
    pub days: f64,
    /// Changes kept at most.
    pub rows: i64,
}

/// Deletes the changes past the retention, and returns how many went.
pub async fn prune(pool: &PgPool, keep: Retention) -> Result<u64> {
    let ctx = || "pruning the change log";
    // What is kept is a suffix of the log: from the oldest change young enough (found walking
    // up from the oldest, so the cost is what goes), and no further back than `rows` changes.
    let young: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx, seq FROM bando.changes WHERE at >= now() - make_interval(secs => $1 * 86400)
         ORDER BY tx, seq LIMIT 1",
    )
    .bind(keep.days)
    .fetch_optional(pool)
    .await
    .map_err(Error::db(ctx()))?;
    let last_kept: Option<(i64, i64)> =
        sqlx::query_as("SELECT tx, seq FROM bando.changes ORDER BY tx DESC, seq DESC OFFSET $1 LIMIT 1")
            .bind(keep.rows.max(1) - 1)
            .fetch_optional(pool)
            .await
            .map_err(Error::db(ctx()))?;
    let at = |p: Option<(i64, i64)>, or: Position| p.map_or(or, |(tx, seq)| Position { tx, seq });
    let end = Position { tx: i64::MAX, seq: i64::MAX };
    let keep_from = at(young, end).max(at(last_kept, Position::default()));
    let gone: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM bando.changes WHERE (tx, seq) < ($1, $2) RETURNING tx, seq),
              last AS (SELECT tx, seq FROM gone ORDER BY tx DESC, seq DESC LIMIT 1),
              mark AS (UPDATE bando.change_log c SET pruned_tx = last.tx, pruned_seq = last.seq FROM last
                        WHERE (c.pruned_tx, c.pruned_seq) < (last.tx, last.seq))
         SELECT count(*) FROM gone",
    )
    .bind(keep_from.tx)
    .bind(keep_from.seq)
    .fetch_one(pool)
    .await
    .map_err(Error::db(ctx()))?;
    Ok(u64::try_from(gone).unwrap_or(0))
}

/// The current rows of these features (those still there), decoded as a load decodes them.
pub async fn fetch(pool: &PgPool, def: &LayerDef, table: &TableRef, ids: &[i64]) -> Result<Vec<Feature>> {
    let sql = format!("{} AND {} = ANY($1)", postgis::select_sql(def, table, None), quote_ident(&def.source.id_column));
    let ctx = || format!("reading changed features of layer {}", def.id);
    let mut rows = sqlx::query(AssertSqlSafe(sql)).bind(ids).fetch(pool);
    let mut features = Vec::with_capacity(ids.len());
    while let Some(row) = rows.try_next().await.map_err(Error::db(ctx()))? {
        features.push(postgis::decode_row(def, &row)?);
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_as_written_and_order_by_transaction_first() {
        let p = Position { tx: 812, seq: 10_345 };
        assert_eq!(p.to_string().parse::<Position>(), Ok(p));
        assert!(" 1-2".parse::<Position>().is_ok());
        assert!("12".parse::<Position>().is_err() && "a-1".parse::<Position>().is_err());
        assert!(Position { tx: 1, seq: 99 } < Position { tx: 2, seq: 1 });
    }
}
