//! The import report: printed by the CLI and written to `bando.import_log`.

use std::{collections::BTreeMap, fmt};

use sqlx::PgConnection;

use super::{ImportMode, ImportRequest, plan::SourceMeta};
use crate::{Error, Result, legacy_text::FieldVerdict};

/// How many rejected rows a report lists one by one; the counts cover all of them.
pub const LISTED_REJECTIONS: usize = 100;

/// The reason counted for a value that does not fit its column's type.
pub const BAD_VALUE: &str = "a value that does not fit its column";
/// The reason counted for a row the table itself refused (NOT NULL, CHECK, a duplicate key).
pub const REFUSED_BY_TABLE: &str = "refused by the table";

/// One row an import did not write, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRow {
    /// 1-based feature number in the source.
    pub row: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// Its value as the source has it.
    pub value: Option<String>,
    /// Why the row was not written.
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        if let Some(value) = &self.value {
            write!(f, ", value {value:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A text field converted from a legacy encoding, or one whose encoding was left undecided.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TextFieldReport {
    /// The source field.
    pub field: String,
    /// What was found.
    #[serde(flatten)]
    pub verdict: FieldVerdict,
}

impl fmt::Display for TextFieldReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        match &self.verdict {
            FieldVerdict::Converted { from, values } => {
                write!(f, "`{field}`: converted from {} ({values} values)", from.name().to_uppercase())
            }
            FieldVerdict::Undecided { candidates, example, .. } => {
                let names: Vec<&str> = candidates.iter().map(|c| c.name()).collect();
                write!(
                    f,
                    "`{field}`: left as written; it reads as Vietnamese in {} alike (e.g. {example:?}): \
                     pass --text-encoding to choose",
                    names.join(", ")
                )
            }
            FieldVerdict::Unicode => write!(f, "`{field}`: Unicode"),
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// Layer id.
    pub layer: String,
    /// The file.
    pub source: String,
    /// GDAL driver.
    pub format: String,
    /// EPSG code the coordinates were read in.
    pub source_srid: i32,
    /// Features read from the file.
    pub rows_read: u64,
    /// Features written to the layer.
    pub rows_written: u64,
    /// Invalid geometries repaired with `ST_MakeValid`.
    pub repaired: u64,
    /// Exact duplicates (same geometry and attributes) removed.
    pub duplicates_removed: u64,
    /// Features not written, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// The first [`LISTED_REJECTIONS`] rows rejected for their values, in row order.
    pub rejected_rows: Vec<RejectedRow>,
    /// Text fields converted from a legacy encoding, or left undecided.
    pub text: Vec<TextFieldReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl ImportReport {
    /// Total rejected features.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Adds the rejections of `other` (those of reading, say) to these: counts summed, the
    /// first [`LISTED_REJECTIONS`] rows of both kept, in row order.
    pub(super) fn absorb_rejections(&mut self, other: Self) {
        for (kind, n) in other.rejected {
            *self.rejected.entry(kind).or_default() += n;
        }
        self.rejected_rows.extend(other.rejected_rows);
        self.rejected_rows.sort_by_key(|r| r.row);
        self.rejected_rows.truncate(LISTED_REJECTIONS);
    }

    /// Counts a rejected row under `kind`, and lists it while the list is short.
    pub(super) fn reject(&mut self, kind: &str, row: RejectedRow) {
        *self.rejected.entry(kind.to_owned()).or_default() += 1;
        if self.rejected_rows.len() < LISTED_REJECTIONS {
            self.rejected_rows.push(row);
        }
    }

    pub(super) async fn log(&self, conn: &mut PgConnection, mode: ImportMode) -> Result<()> {
        sqlx::query(
            "INSERT INTO bando.import_log (layer_id, source, format, source_srid, mode, status, rows_read, rows_written,
                 repaired, duplicates_removed, rejected, rejected_rows, text_fields, seconds)
             VALUES ($1, $2, $3, $4, $5, 'ok', $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&self.layer)
        .bind(&self.source)
        .bind(&self.format)
        .bind(self.source_srid)
        .bind(mode_name(mode))
        .bind(as_i64(self.rows_read))
        .bind(as_i64(self.rows_written))
        .bind(as_i64(self.repaired))
        .bind(as_i64(self.duplicates_removed))
        .bind(sqlx::types::Json(&self.rejected))
        .bind(sqlx::types::Json(&self.rejected_rows))
        .bind(sqlx::types::Json(&self.text))
        .bind(self.seconds)
        .execute(conn)
        .await
        .map_err(Error::db("writing the import log"))?;
        Ok(())
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn mode_name(mode: ImportMode) -> &'static str {
    match mode {
        ImportMode::Replace => "replace",
        ImportMode::Append => "append",
    }
}

/// Records a failed import. Best effort: the import already failed, and a log failure must not
/// hide its cause.
pub(super) async fn log_failure(
    pool: &sqlx::PgPool,
    req: &ImportRequest,
    meta: &SourceMeta,
    error: &Error,
    seconds: f64,
) {
    let logged = sqlx::query(
        "INSERT INTO bando.import_log (layer_id, source, format, source_srid, mode, status, error, seconds)
         VALUES ($1, $2, $3, $4, $5, 'failed', $6, $7)",
    )
    .bind(req.layer.as_str())
    .bind(req.path.display().to_string())
    .bind(&meta.format)
    .bind(meta.srid)
    .bind(mode_name(req.mode))
    .bind(error.to_string())
    .bind(seconds)
    .execute(pool)
    .await;
    if let Err(e) = logged {
        tracing::warn!("could not record the failed import in bando.import_log: {e}");
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "layer {} from {} ({}, EPSG:{})", self.layer, self.source, self.format, self.source_srid)?;
        writeln!(f, "  read                {:>10}", self.rows_read)?;
        writeln!(f, "  written             {:>10}", self.rows_written)?;
        writeln!(f, "  repaired            {:>10}", self.repaired)?;
        writeln!(f, "  duplicates removed  {:>10}", self.duplicates_removed)?;
        writeln!(f, "  rejected            {:>10}", self.rejected_total())?;
        for (reason, n) in &self.rejected {
            writeln!(f, "    {reason}: {n}")?;
        }
        for row in &self.rejected_rows {
            writeln!(f, "      {row}")?;
        }
        if self.rejected_rows.len() == LISTED_REJECTIONS {
            writeln!(f, "      (the first {LISTED_REJECTIONS} listed; bando.import_log keeps them)")?;
        }
        for text in &self.text {
            writeln!(f, "  text {text}")?;
        }
        #[allow(clippy::cast_precision_loss)]
        let rate = self.rows_read as f64 / self.seconds.max(1e-9);
        write!(f, "  seconds             {:>10.2}   ({rate:.0} rows/s)", self.seconds)
    }
}
