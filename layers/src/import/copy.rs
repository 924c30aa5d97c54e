//! Streaming the source into the database with COPY.
//!
//! GDAL is not `Send`, so a blocking thread reads the file and converts each row to COPY text;
//! the async side forwards the chunks to PostgreSQL. A value that does not fit its column
//! rejects its row (listed in the report); with `--strict` it stops the reader instead, the COPY
//! is aborted and the transaction rolls back.
//!
//! Into a new EPSG:4326 layer, the rows that need no repair are copied straight into its table
//! (see `direct`) and only the others into the staging table, after them, from a temporary
//! file; otherwise every row is staged.

use std::{
    fmt::Write as _,
    fs::File,
    io::{BufWriter, Read, Seek, Write as _},
};

use sqlx::{AssertSqlSafe, PgConnection};
use tokio::sync::mpsc;

use super::{
    ImportReport, ImportRequest, Progress,
    direct::{Route, Router},
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

/// Rows read, and those left out while reading (no geometry, a value that does not fit, a copy).
pub(super) struct ReadCounts {
    pub rows: u64,
    /// Values converted from a legacy encoding, per source field.
    pub converted: Vec<u64>,
    /// Only its rejection counts and rows are filled.
    pub rejections: ImportReport,
    /// Rows left out as copies of a row written straight into the new table.
    pub duplicates: u64,
    /// Rows written straight into the new table.
    pub written: u64,
}

const CHUNK_BYTES: usize = 1 << 20;

/// Creates `bando_staging` (typed like the target) and fills it, and the new table when the
/// plan copies straight into it, from the source.
pub(super) async fn stage(
    conn: &mut PgConnection,
    req: &ImportRequest,
    plan: &Plan,
    text: &[FieldText],
    progress: Progress,
) -> Result<ReadCounts> {
    let integer = column_type(PropertyType::Integer);
    let mut ddl = format!("CREATE TEMP TABLE bando_staging (row_no {integer}, geom geometry");
    if plan.stages_ids() {
        let _ = write!(ddl, ", id {integer}");
    }
    for c in &plan.columns {
        let _ = write!(ddl, ", {} {}", quote_ident(&c.name), column_type(c.kind));
    }
    ddl.push_str(") ON COMMIT DROP");
    sqlx::query(AssertSqlSafe(ddl)).execute(&mut *conn).await.map_err(Error::db("creating the staging table"))?;

    let (tx, rx) = mpsc::channel::<Result<Vec<u8>>>(4);
    let reader = {
        let (req, columns, id_source, text) = (req.clone(), plan_columns(plan), plan.id_source, text.to_vec());
        let router = plan.direct.then(|| Router::new(plan.geometry_type));
        tokio::task::spawn_blocking(move || read_rows(&req, &columns, id_source, router, text, &tx, &progress))
    };
    let into = if plan.direct {
        let (geom, id) = (quote_ident(&plan.geometry_column), quote_ident(&plan.id_column));
        format!("COPY {} ({geom}, {id}{}) FROM STDIN", plan.target_table.quoted(), plan.column_list())
    } else {
        "COPY bando_staging FROM STDIN".to_owned()
    };
    let copied = copy_in(conn, &into, rx).await?;
    let (mut counts, staged) =
        reader.await.map_err(|e| Error::UnreadableSource { path: req.path.clone(), reason: e.to_string() })??;
    if let Some(file) = staged {
        counts.written = copied;
        copy_staged(conn, req, file).await?;
    }
    Ok(counts)
}

/// Runs `COPY … FROM STDIN` with the chunks `rx` brings; an error in place of a chunk aborts it.
async fn copy_in(conn: &mut PgConnection, statement: &str, mut rx: mpsc::Receiver<Result<Vec<u8>>>) -> Result<u64> {
    let mut copy = conn.copy_in_raw(statement).await.map_err(Error::db("starting COPY"))?;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Ok(bytes) => copy.send(bytes).await.map_err(Error::db("copying rows"))?,
            Err(e) => {
                let _ = copy.abort(e.to_string()).await;
                return Err(e);
            }
        };
    }
    copy.finish().await.map_err(Error::db("finishing COPY"))
}

/// Copies the rows the reader set aside in `file` into the staging table.
async fn copy_staged(conn: &mut PgConnection, req: &ImportRequest, mut file: File) -> Result<()> {
    let unreadable = |e: std::io::Error| Error::UnreadableSource {
        path: req.path.clone(),
        reason: format!("reading back the rows set aside for repair: {e}"),
    };
    file.rewind().map_err(unreadable)?;
    let mut copy =
        conn.copy_in_raw("COPY bando_staging FROM STDIN").await.map_err(Error::db("starting COPY into staging"))?;
    let mut chunk = vec![0; CHUNK_BYTES];
    loop {
        // A local temporary file: reads return at page-cache speed, so they stay on this task.
        let n = file.read(&mut chunk).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        copy.send(&chunk[..n]).await.map_err(Error::db("copying rows into the staging table"))?;
    }
    copy.finish().await.map_err(Error::db("finishing COPY into the staging table"))?;
    Ok(())
}

fn plan_columns(plan: &Plan) -> Vec<(String, PropertyType, usize)> {
    plan.columns.iter().map(|c| (c.name.clone(), c.kind, c.source)).collect()
}

/// Reads every row; returns the counts and, when rows go straight into the new table, the
/// file of the rows set aside for the staging table.
fn read_rows(
    req: &ImportRequest,
    columns: &[(String, PropertyType, usize)],
    id_source: Option<usize>,
    router: Option<Router>,
    text: Vec<FieldText>,
    tx: &mpsc::Sender<Result<Vec<u8>>>,
    progress: &Progress,
) -> Result<(ReadCounts, Option<File>)> {
    let send_err = |e: Error| {
        let msg = e.to_string();
        // The receiver aborts the COPY with the error; the Ok path returns the counts.
        let _ = tx.blocking_send(Err(e));
        msg
    };
    let unreadable = |e: Error| Error::UnreadableSource { path: req.path.clone(), reason: send_err(e) };
    let mut src = Source::open(&req.path, req.source_layer.as_deref(), req.src_srid).map_err(unreadable)?;
    src.read_text_as(text);
    // With a router, the rows it does not let through wait in a temporary file.
    let mut direct = match router {
        Some(r) => Some((r, BufWriter::new(tempfile::tempfile().map_err(|e| set_aside(req, e))?))),
        None => None,
    };
    let mut counts =
        ReadCounts { rows: 0, converted: Vec::new(), rejections: ImportReport::default(), duplicates: 0, written: 0 };
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
    let (mut generated_id, mut line) = (0, Vec::new());
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
        let (id, attributes) = match row_values(id_source, columns, values) {
            Ok(v) => v,
            Err((field, value, expected)) if req.strict => {
                return Err(Error::BadValue { path: req.path.clone(), row, field, value, expected });
            }
            Err((field, value, expected)) => {
                let reason = format!("not a valid {expected}");
                counts
                    .rejections
                    .reject(BAD_VALUE, RejectedRow { row, field: Some(field), value: Some(value), reason });
                return Ok(());
            }
        };
        let Some((router, staged)) = direct.as_mut() else {
            push_line(&mut buf, Some(row), &wkb, id.as_ref(), &attributes);
            flush(&mut buf, tx);
            return Ok(());
        };
        let source_id = id.as_ref().map(|v| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        });
        let route = router.route(g, &wkb, source_id, &attributes);
        // Ids are generated in file order, a row set aside for repair included (if the repair
        // cannot keep it, its id stays unused).
        let id = id.or_else(|| match route {
            Route::Duplicate => None,
            _ => {
                generated_id += 1;
                Some(Value::Int(generated_id))
            }
        });
        match route {
            Route::Direct(ewkb) => push_line(&mut buf, None, &ewkb, id.as_ref(), &attributes),
            Route::Staged => {
                line.clear();
                push_line(&mut line, Some(row), &wkb, id.as_ref(), &attributes);
                staged.write_all(&line).map_err(|e| set_aside(req, e))?;
            }
            Route::Duplicate => counts.duplicates += 1,
        }
        flush(&mut buf, tx);
        Ok(())
    });
    progress(super::Stage::Reading(counts.rows));
    counts.converted = src.converted();
    if let Err(e) = result {
        return Err(unreadable(e));
    }
    if !buf.is_empty() {
        let _ = tx.blocking_send(Ok(buf));
    }
    let staged = direct.map(|(_, w)| w.into_inner().map_err(|e| set_aside(req, e.into_error()))).transpose()?;
    Ok((counts, staged))
}

/// The error of a failed write to the file of rows set aside for repair.
fn set_aside(req: &ImportRequest, e: std::io::Error) -> Error {
    let reason = format!("setting rows aside for repair in a temporary file: {e}");
    Error::UnreadableSource { path: req.path.clone(), reason }
}

/// Sends `buf` on once it is a chunk's size.
fn flush(buf: &mut Vec<u8>, tx: &mpsc::Sender<Result<Vec<u8>>>) {
    if buf.len() >= CHUNK_BYTES {
        // A closed channel means the COPY failed; its error is reported there.
        let _ = tx.blocking_send(Ok(std::mem::take(buf)));
    }
}

/// Appends one COPY text line: the row number (staged rows), the geometry, the id (when there
/// is one) and the attributes.
fn push_line(buf: &mut Vec<u8>, row: Option<u64>, wkb: &[u8], id: Option<&Value>, attributes: &str) {
    if let Some(row) = row {
        buf.extend_from_slice(row.to_string().as_bytes());
        buf.push(b'\t');
    }
    push_hex(buf, wkb);
    if let Some(id) = id {
        let mut text = String::from("\t");
        push_copy_value(&mut text, id);
        buf.extend_from_slice(text.as_bytes());
    }
    buf.extend_from_slice(attributes.as_bytes());
    buf.push(b'\n');
}

/// Appends `bytes` in lowercase hex, as COPY reads a geometry. (Per-byte `write!` was a tenth
/// of the import's reading time.)
fn push_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    buf.reserve(bytes.len() * 2);
    for b in bytes {
        buf.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
    }
}

/// The row's id (when the source has one) and its attributes as COPY text, each after a tab.
/// `Err` carries (field, value, expected type).
fn row_values(
    id_source: Option<usize>,
    columns: &[(String, PropertyType, usize)],
    mut values: Vec<Option<gdal::vector::FieldValue>>,
) -> Result<(Option<Value>, String), (String, String, String)> {
    let convert = |name: &str, kind: PropertyType, value: Option<gdal::vector::FieldValue>| {
        // The value is shown only in the error: formatting it for every field of every row would
        // be work on the import's hot path.
        convert(value.as_ref(), kind)
            .map_err(|expected| (name.to_owned(), value.as_ref().map(field_text).unwrap_or_default(), expected))
    };
    let id = id_source.map(|i| convert("id", PropertyType::Integer, values[i].take())).transpose()?;
    let mut attributes = String::with_capacity(64);
    for (name, kind, slot) in columns {
        attributes.push('\t');
        push_copy_value(&mut attributes, &convert(name, *kind, values[*slot].take())?);
    }
    Ok((id, attributes))
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
