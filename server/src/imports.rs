//! Imports started from the operator's page: the uploaded file is streamed to disk under the
//! configured size limit, then goes through the very pipeline `bando import` runs (atomic,
//! recorded in the import log), and the page follows the job until its report.

use std::{
    collections::VecDeque,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::body::Body;
use futures_util::StreamExt;
use layers::import::{ImportReport, Stage};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// Where the page posts a file to import (the size check gives it its own limit).
pub const UPLOAD_PATH: &str = "/admin/uploads";
/// Jobs remembered for the page; older finished ones are forgotten.
const KEPT: usize = 32;
/// Uploads waiting for the operator's choices; the oldest is removed past this many.
const WAITING: usize = 8;

/// What a job is doing.
#[derive(Clone, Debug)]
enum Phase {
    /// Running, at this stage: `reading`, `writing` or `committing`.
    Importing(&'static str),
    Done(Value),
    Failed(String),
}

/// One import from the page.
#[derive(Debug)]
pub struct Job {
    /// Its number.
    pub id: u64,
    /// The target layer.
    pub layer: String,
    /// The uploaded file's name.
    pub file: String,
    rows: AtomicU64,
    phase: Mutex<Phase>,
}

impl Job {
    /// Notes where the import is.
    pub fn moved(&self, stage: Stage) {
        // Rows are counted often, without a lock; the stage changes twice.
        let name = match stage {
            Stage::Reading(rows) => return self.rows.store(rows, Ordering::Relaxed),
            Stage::Writing => "writing",
            Stage::Committing => "committing",
        };
        *self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Phase::Importing(name);
    }

    /// Records how the import ended.
    pub fn finish(&self, result: Result<ImportReport, String>) {
        let phase = match result {
            Ok(report) => Phase::Done(report_json(&report)),
            Err(e) => Phase::Failed(e),
        };
        *self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = phase;
    }

    /// The job as the page reads it.
    pub fn describe(&self) -> Value {
        let phase = self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut out = json!({
            "id": self.id, "layer": self.layer, "file": self.file,
            "rowsRead": self.rows.load(Ordering::Relaxed),
        });
        match phase {
            Phase::Importing(stage) => {
                out["phase"] = json!("importing");
                out["stage"] = json!(stage);
            }
            Phase::Done(report) => {
                out["phase"] = json!("done");
                out["report"] = report;
            }
            Phase::Failed(error) => {
                out["phase"] = json!("failed");
                out["error"] = json!(error);
            }
        }
        out
    }

    fn finished(&self) -> bool {
        !matches!(*self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner), Phase::Importing(_))
    }
}

/// The jobs started from the page, newest last.
#[derive(Debug, Default)]
pub struct Imports {
    next: AtomicU64,
    jobs: Mutex<VecDeque<Arc<Job>>>,
}

impl Imports {
    /// A new job importing `file` into `layer`.
    pub fn start(&self, layer: &str, file: &str) -> Arc<Job> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(Job {
            id,
            layer: layer.to_owned(),
            file: file.to_owned(),
            rows: AtomicU64::new(0),
            phase: Mutex::new(Phase::Importing("reading")),
        });
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.push_back(Arc::clone(&job));
        while jobs.len() > KEPT && jobs.front().is_some_and(|j| j.finished()) {
            jobs.pop_front();
        }
        job
    }

    /// Job `id`, while it is remembered.
    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().find(|j| j.id == id).cloned()
    }
}

/// An uploaded file, under its own name in a folder of its own; both are removed when it is
/// dropped.
#[derive(Debug)]
pub struct Upload {
    folder: tempfile::TempDir,
    name: String,
}

impl Upload {
    /// Where it is.
    pub fn path(&self) -> std::path::PathBuf {
        self.folder.path().join(&self.name)
    }

    /// The path GDAL reads it at: a zipped Shapefile inside its archive.
    pub fn gdal_path(&self) -> std::path::PathBuf {
        let path = self.path();
        if self.name.to_ascii_lowercase().ends_with(".zip") {
            format!("/vsizip/{}", path.display()).into()
        } else {
            path
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Files uploaded and surveyed, waiting for the operator to choose how each is imported.
#[derive(Debug, Default)]
pub struct Uploads {
    next: AtomicU64,
    waiting: Mutex<VecDeque<(u64, Upload)>>,
}

impl Uploads {
    /// Keeps `upload` and says its number; past [`WAITING`] the oldest is removed.
    pub fn keep(&self, upload: Upload) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        waiting.push_back((id, upload));
        while waiting.len() > WAITING {
            waiting.pop_front();
        }
        id
    }

    /// Upload `id`, handed over once.
    pub fn take(&self, id: u64) -> Option<Upload> {
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = waiting.iter().position(|(n, _)| *n == id)?;
        waiting.remove(at).map(|(_, upload)| upload)
    }
}

/// Streams `body` into a file named `name` (letters, digits, `.`, `-` and `_` kept, so the
/// import log names the file the operator chose) in a new folder in `dir`, refusing it (and
/// removing it) once it passes `limit` bytes.
pub async fn receive(body: Body, dir: &Path, name: &str, limit: u64) -> Result<Upload, ApiError> {
    let failed = |e: std::io::Error| ApiError::Internal(format!("writing the upload in {}: {e}", dir.display()));
    let base = Path::new(name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String = base.chars().map(|c| if c.is_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let folder = tempfile::Builder::new().prefix("bando-upload-").tempdir_in(dir).map_err(failed)?;
    let upload = Upload { folder, name };
    let mut file = tokio::fs::File::create(upload.path()).await.map_err(failed)?;
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload broke off: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            // `upload` is dropped here, and the file with it.
            return Err(ApiError::TooLarge(format!(
                "the file is larger than the {} MiB an upload may be ([admin] max_upload_mb)",
                limit >> 20
            )));
        }
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)?;
    if written == 0 {
        return Err(ApiError::BadRequest("the upload is empty: send the file as the request body".into()));
    }
    Ok(upload)
}

/// An import report as the page shows it.
fn report_json(r: &ImportReport) -> Value {
    let rejected_rows: Vec<Value> = r
        .rejected_rows
        .iter()
        .map(|row| json!({ "row": row.row, "field": row.field, "value": row.value, "reason": row.reason }))
        .collect();
    json!({
        "layer": r.layer, "format": r.format, "sourceSrid": r.source_srid,
        "rowsRead": r.rows_read, "rowsWritten": r.rows_written, "repaired": r.repaired,
        "duplicatesRemoved": r.duplicates_removed, "rejected": r.rejected, "rejectedRows": rejected_rows,
        "seconds": r.seconds, "summary": r.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_over_the_limit_is_refused_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("a folder");
        let small = receive(Body::from("x".repeat(100)), dir.path(), "../Di tích.geojson", 100).await;
        let small = small.expect("an upload within the limit");
        assert!(small.path().ends_with("Di_tích.geojson"), "{}", small.path().display());
        assert_eq!(std::fs::read(small.path()).map(|b| b.len()).ok(), Some(100));
        drop(small);
        let big = receive(Body::from("x".repeat(101)), dir.path(), "big.geojson", 100).await;
        assert!(matches!(big, Err(ApiError::TooLarge(_))), "{big:?}");
        assert_eq!(std::fs::read_dir(dir.path()).expect("the folder").count(), 0);
    }

    #[test]
    fn a_job_reports_its_rows_then_its_end() {
        let imports = Imports::default();
        let job = imports.start("new_sites", "sites.geojson");
        job.moved(Stage::Reading(7));
        assert_eq!(imports.get(job.id).map(|j| j.describe()["rowsRead"].clone()), Some(json!(7)));
        assert_eq!(
            (job.describe()["phase"].clone(), job.describe()["stage"].clone()),
            (json!("importing"), json!("reading"))
        );
        job.moved(Stage::Writing);
        assert_eq!(job.describe()["stage"], "writing");
        job.finish(Err("no such layer".into()));
        assert_eq!(
            (job.describe()["phase"].clone(), job.describe()["error"].clone()),
            (json!("failed"), json!("no such layer"))
        );
    }
}
