//! `bando import`: a file, through GDAL, into a layer's PostGIS table, atomically.
//!
//! Rows are streamed with COPY into a staging table; PostGIS then reprojects to EPSG:4326
//! (VN-2000 through EPSG:6960), repairs invalid geometries, drops empty ones, removes exact
//! duplicates and moves the result into the layer table, all in one transaction. Into a new
//! EPSG:4326 layer, the rows that need none of that are copied straight into its table and
//! only the others are staged. A failure at any point rolls everything back: the layer stays
//! exactly as it was.

mod copy;
mod direct;
mod plan;
mod report;

use std::{path::PathBuf, sync::Arc, time::Instant};

use sqlx::{PgPool, Postgres, Transaction};

use self::plan::{Plan, Target};
pub use self::report::{ImportReport, RejectedRow, TextFieldReport};
use crate::{Error, LayerDef, LayerId, Result, legacy_text::TextEncodingChoice, source::Source};

/// Whether an import replaces the layer's features or adds to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// The layer ends up holding exactly the file's features.
    Replace,
    /// The file's features are added to the layer.
    Append,
}

/// How a new layer's columns are named after the source's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColumnNames {
    /// Exactly as the source writes them (`NAME` stays `NAME`): filters written against the
    /// published data work unchanged.
    #[default]
    AsWritten,
    /// Lowercased, with what SQL would need quoted replaced by `_`, as ogr2ogr does.
    Laundered,
}

/// What to import where.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// The file.
    pub path: PathBuf,
    /// The layer of a multi-layer file; may be left out when it holds one.
    pub source_layer: Option<String>,
    /// The layer; a new id creates the layer and its table.
    pub layer: LayerId,
    /// Overrides the CRS the file declares.
    pub src_srid: Option<i32>,
    /// Replace or append.
    pub mode: ImportMode,
    /// How a new layer's columns are named.
    pub names: ColumnNames,
    /// Fail the whole import on the first row that does not fit the table, instead of
    /// rejecting that row and writing the others.
    pub strict: bool,
    /// The layer's configured definition, when the configuration names it.
    pub configured: Option<LayerDef>,
    /// How the text fields' encoding is decided.
    pub text_encoding: TextEncodingChoice,
}

/// Where an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Reading the file into staging, with the rows read so far.
    Reading(u64),
    /// Repairing geometries, removing duplicates and writing the layer's table.
    Writing,
    /// Committing: the layer changes all at once.
    Committing,
}

/// Called as the import moves on.
pub type Progress = Arc<dyn Fn(Stage) + Send + Sync>;

/// Runs an import and records it in `bando.import_log`, whether it succeeds or fails.
pub async fn import(pool: &PgPool, req: &ImportRequest, progress: Progress) -> Result<ImportReport> {
    let started = Instant::now();
    let (path, layer, src_srid, choice) = (req.path.clone(), req.source_layer.clone(), req.src_srid, req.text_encoding);
    let meta = tokio::task::spawn_blocking(move || {
        let source = Source::open(&path, layer.as_deref(), src_srid)?;
        plan::SourceMeta::of(&source, choice)
    })
    .await
    .map_err(|e| Error::UnreadableSource { path: req.path.clone(), reason: e.to_string() })??;
    let result = run(pool, req, &meta, progress, started).await;
    if let Err(e) = &result {
        report::log_failure(pool, req, &meta, e, started.elapsed().as_secs_f64()).await;
    }
    result
}

async fn run(
    pool: &PgPool,
    req: &ImportRequest,
    meta: &plan::SourceMeta,
    progress: Progress,
    started: Instant,
) -> Result<ImportReport> {
    let mut tx: Transaction<'_, Postgres> = pool.begin().await.map_err(Error::db("starting the import transaction"))?;
    // bando.bulk: the change log records the import as one reload of the layer, not a row per
    // feature (migration 0007).
    for setting in ["SET LOCAL client_min_messages = warning", "SET LOCAL bando.bulk = on"] {
        sqlx::query(setting).execute(&mut *tx).await.map_err(Error::db("configuring the import session"))?;
    }
    let reprojection = plan::reprojection_sql(&mut tx, &req.path, meta.srid).await?;
    let target = Target::resolve(&mut tx, req, meta).await?;
    let plan = Plan::new(&target, meta);
    let read = copy::stage(&mut tx, req, &plan, &meta.field_texts(req.text_encoding), Arc::clone(&progress)).await?;
    progress(Stage::Writing);
    let mut report = plan.apply(&mut tx, req.mode, req.strict, &reprojection).await?;
    report.layer = req.layer.to_string();
    report.source = req.path.display().to_string();
    report.format = meta.format.clone();
    report.source_srid = meta.srid;
    report.rows_read = read.rows;
    report.rows_written += read.written;
    report.duplicates_removed += read.duplicates;
    report.text = meta.text_report(&read.converted);
    report.absorb_rejections(read.rejections);
    report.seconds = started.elapsed().as_secs_f64();
    report.log(&mut tx, req.mode).await?;
    progress(Stage::Committing);
    tx.commit().await.map_err(Error::db("committing the import"))?;
    Ok(report)
}
