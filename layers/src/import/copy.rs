//! Streaming the source into the staging table with COPY.
//!
//! GDAL is not `Send`, so a blocking thread reads the file and converts each row to COPY text;
//! the async side forwards the chunks to PostgreSQL. A value that does not fit its column
//! rejects its row (listed in the report); with `--strict` it stops the reader instead, the COPY
//! is aborted and the transaction rolls back.

use std::fmt::Write as _;

use sqlx::{AssertSqlSafe, PgConnection};
use tokio::sync::mpsc;

use super::{
    ImportReport, ImportRequest, Progress,
    plan::Plan,
    report::{BAD_VALUE, RejectedRow},
};
use crate::{
    Error, PropertyType, Result, Value,
    catalog::quote_ident,
    legacy_text::FieldText,
    source::{Source, convert, field_text},
    store::postgis::column_type,
};

/// Rows read, and those left out while reading (no geometry, a value that does not fit).
pub(super) struct ReadCounts {
    pub rows: u64,
    /// Values converted from a legacy encoding, per source field.
    pub converted: Vec<u64>,
    /// Only its rejection counts and rows are filled.
    pub rejections: ImportReport,
}

const CHUNK_BYTES: usize = 1 << 20;

/// Creates `bando_staging` (typed like the target) and fills it from the source.
pub(super) async fn stage(
    conn: &mut PgConnection,
    req: &ImportRequest,
    plan: &Plan,
    text: &[FieldText],
    progress: Progress,
) -> Result<ReadCounts> {
    let integer = column_type(PropertyType::Integer);
    let mut ddl = format!("CREATE TEMP TABLE bando_staging (row_no {integer}, geom geometry");
    if plan.id_source.is_some() {
        let _ = write!(ddl, ", id {integer}");
    }
    for c in &plan.columns {
        let _ = write!(ddl, ", {} {}", quote_ident(&c.name), column_type(c.kind));
    }
    ddl.push_str(") ON COMMIT DROP");
    sqlx::query(AssertSqlSafe(ddl)).execute(&mut *conn).await.map_err(Error::db("creating the staging table"))?;

    let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>>>(4);
    let reader = {
        let (req, columns, id_source, text) = (req.clone(), plan_columns(plan), plan.id_source, text.to_vec());
        tokio::task::spawn_blocking(move || read_rows(&req, &columns, id_source, text, &tx, &progress))
    };
    let mut copy = conn
        .copy_in_raw("COPY bando_staging FROM STDIN")
        .await
        .map_err(Error::db("starting COPY into the staging table"))?;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Ok(bytes) => copy.send(bytes).await.map_err(Error::db("copying rows into the staging table"))?,
            Err(e) => {
                let _ = copy.abort(e.to_string()).await;
                return Err(e);
            }
        };
    }
    copy.finish().await.map_err(Error::db("finishing COPY into the staging table"))?;
    reader.await.map_err(|e| Error::UnreadableSource { path: req.path.clone(), reason: e.to_string() })?
}

fn plan_columns(plan: &Plan) -> Vec<(String, PropertyType, usize)> {
    plan.columns.iter().map(|c| (c.name.clone(), c.kind, c.source)).collect()
}

fn read_rows(
    req: &ImportRequest,
    columns: &[(String, PropertyType, usize)],
    id_source: Option<usize>,
    text: Vec<FieldText>,
    tx: &mpsc::Sender<Result<Vec<u8>>>,
    progress: &Progress,
) -> Result<ReadCounts> {
    let send_err = |e: Error| {
        let msg = e.to_string();
        // The receiver aborts the COPY with the error; the Ok path returns the counts.
        let _ = tx.blocking_send(Err(e));
        msg
    };
    let mut src = Source::open(&req.path, req.source_layer.as_deref(), req.src_srid)
        .map_err(|e| Error::UnreadableSource { path: req.path.clone(), reason: send_err(e) })?;
    src.read_text_as(text);
    let mut counts = ReadCounts { rows: 0, converted: Vec::new(), rejections: ImportReport::default() };
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
    let result = src.for_each(|row, geometry, values| {
        counts.rows = row;
        if row % 1000 == 0 {
            progress(super::Stage::Reading(row));
        }
        let Some(g) = geometry else {
            *counts.rejections.rejected.entry("no geometry".into()).or_default() += 1;
            return Ok(());
        };
        let wkb = g.wkb().map_err(|source| Error::Gdal { path: req.path.clone(), source })?;
        match write_row(&mut buf, row, &wkb, id_source, columns, values) {
            Ok(()) => {}
            Err((field, value, expected)) if req.strict => {
                return Err(Error::BadValue { path: req.path.clone(), row, field, value, expected });
            }
            Err((field, value, expected)) => {
                let reason = format!("not a valid {expected}");
                counts
                    .rejections
                    .reject(BAD_VALUE, RejectedRow { row, field: Some(field), value: Some(value), reason });
            }
        }
        if buf.len() >= CHUNK_BYTES {
            // A closed channel means the COPY failed; its error is reported there.
            let _ = tx.blocking_send(Ok(std::mem::take(&mut buf)));
        }
        Ok::<(), Error>(())
    });
    progress(super::Stage::Reading(counts.rows));
    counts.converted = src.converted();
    match result {
        Ok(()) => {
            if !buf.is_empty() {
                let _ = tx.blocking_send(Ok(buf));
            }
            Ok(counts)
        }
        Err(e) => Err(Error::UnreadableSource { path: req.path.clone(), reason: send_err(e) }),
    }
}

/// Appends one COPY text line. `Err` carries (field, value, expected type).
fn write_row(
    buf: &mut Vec<u8>,
    row: u64,
    wkb: &[u8],
    id_source: Option<usize>,
    columns: &[(String, PropertyType, usize)],
    mut values: Vec<Option<gdal::vector::FieldValue>>,
) -> Result<(), (String, String, String)> {
    let mut line = String::with_capacity(64 + wkb.len() * 2);
    let _ = write!(line, "{row}\t");
    for b in wkb {
        let _ = write!(line, "{b:02x}");
    }
    let mut field = |name: &str,
                     kind: PropertyType,
                     value: Option<gdal::vector::FieldValue>|
     -> Result<(), (String, String, String)> {
        // The value is shown only in the error: formatting it for every field of every row would
        // be work on the import's hot path.
        let v = convert(value.as_ref(), kind)
            .map_err(|expected| (name.to_owned(), value.as_ref().map(field_text).unwrap_or_default(), expected))?;
        line.push('\t');
        push_copy_value(&mut line, &v);
        Ok(())
    };
    if let Some(i) = id_source {
        field("id", PropertyType::Integer, values[i].take())?;
    }
    for (name, kind, slot) in columns {
        field(name, *kind, values[*slot].take())?;
    }
    line.push('\n');
    buf.extend_from_slice(line.as_bytes());
    Ok(())
}

/// Writes a value in COPY text format: `\N` for NULL, backslash escapes for text.
fn push_copy_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Date(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        Value::DateTime(t) => out.push_str(&t.to_rfc3339()),
        Value::Text(s) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\0' => {}
                    c => out.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_would_split_on() {
        let mut s = String::new();
        push_copy_value(&mut s, &Value::Text("a\tb\\c\nd".into()));
        assert_eq!(s, "a\\tb\\\\c\\nd");
        s.clear();
        push_copy_value(&mut s, &Value::Null);
        assert_eq!(s, "\\N");
    }
}
