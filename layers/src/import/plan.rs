//! What goes where: the target table, the column mapping, and the SQL that turns the staged
//! rows into layer rows.

use std::path::Path;

// Every dynamic statement here is built from catalog identifiers (quoted) and numbers; values
// travel as bind parameters or through COPY.
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::{ColumnNames, ImportMode, ImportReport, ImportRequest, RejectedRow, TextFieldReport};
use crate::{
    Error, GeometryType, PropertyType, Result,
    catalog::{TableRef, quote_ident},
    legacy_text::{FieldText, FieldVerdict, TextEncodingChoice},
    source::{Source, SourceField},
    store::postgis::{TableInfo, access_name, collection_dimension, column_type, describe_table, geometry_type_name},
};

/// What the importer needs to know of a source before reading it.
#[derive(Clone, Debug)]
pub struct SourceMeta {
    /// GDAL driver.
    pub format: String,
    /// EPSG code of the coordinates.
    pub srid: i32,
    /// Attribute fields.
    pub fields: Vec<SourceField>,
    /// Geometry type a new layer gets.
    pub geometry_type: GeometryType,
    /// What was found in each string field's text (`None` for the other fields).
    pub text: Vec<Option<FieldVerdict>>,
}

impl SourceMeta {
    /// Describes `src`, its text fields' encodings recognised under `choice`. A field whose
    /// bytes are not UTF-8 and that no single encoding explains is refused: written as it is,
    /// it would be garbled.
    pub(super) fn of(src: &Source, choice: TextEncodingChoice) -> Result<Self> {
        let started = std::time::Instant::now();
        let text = src.detect_text(choice)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "text fields read for their encoding");
        for (field, verdict) in src.fields.iter().zip(&text) {
            if let Some(FieldVerdict::Undecided { candidates, not_utf8, example }) = verdict
                && *not_utf8 > 0
            {
                return Err(Error::UndecidedText {
                    path: src.path().into(),
                    field: field.name.clone(),
                    example: example.clone(),
                    candidates: candidates.iter().map(|c| c.to_string()).collect(),
                });
            }
        }
        Ok(Self {
            format: src.format.clone(),
            srid: src.srid,
            fields: src.fields.clone(),
            geometry_type: src.geometry_type,
            text,
        })
    }

    /// How the reader reads each field's text.
    pub(super) fn field_texts(&self, choice: TextEncodingChoice) -> Vec<FieldText> {
        self.text.iter().map(|v| v.as_ref().map_or(FieldText::AsWritten, |v| v.field_text(choice))).collect()
    }

    /// The report's lines on text: every field converted (with the values the reader
    /// converted, `converted`) or left undecided.
    pub(super) fn text_report(&self, converted: &[u64]) -> Vec<TextFieldReport> {
        let fields = self.fields.iter().zip(&self.text).zip(converted.iter().copied().chain(std::iter::repeat(0)));
        fields
            .filter_map(|((f, v), n)| {
                let verdict = match v.clone()? {
                    FieldVerdict::Unicode => return None,
                    FieldVerdict::Converted { from, .. } => FieldVerdict::Converted { from, values: n },
                    undecided => undecided,
                };
                Some(TextFieldReport { field: f.name.clone(), verdict })
            })
            .collect()
    }
}

/// Lowercases a source field name and replaces what PostgreSQL would need quoted, as ogr2ogr
/// does, so that `Tên đường` and `ten_duong` style names become usable columns.
pub fn launder(name: &str) -> String {
    let mut s: String =
        name.trim().to_lowercase().chars().map(|c| if c.is_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The layer table an import writes to.
pub(super) struct Target {
    pub table: TableRef,
    pub geometry_column: String,
    pub geometry_type: GeometryType,
    pub id_column: String,
    pub columns: Vec<(String, PropertyType)>,
    /// Created by this import: it still needs its spatial index.
    pub created: bool,
}

impl Target {
    /// Finds the layer's table, or creates it (inside the import's transaction) for a new id.
    pub async fn resolve(conn: &mut PgConnection, req: &ImportRequest, meta: &SourceMeta) -> Result<Self> {
        let registered: Option<(String, String, String)> =
            sqlx::query_as("SELECT schema_name, table_name, geometry_column FROM bando.layers WHERE id = $1")
                .bind(req.layer.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(Error::db("looking up the layer"))?;
        let configured = req.configured.as_ref().and_then(|d| d.source.table.clone().map(|t| (t, d)));
        let (table, geometry_column) = match (configured, registered) {
            (Some((t, d)), _) => (t, d.source.geometry_column.clone()),
            (None, Some((schema, table, geom))) => (TableRef { schema, table }, geom),
            (None, None) => return Self::create(conn, req, meta).await,
        };
        let info = describe_table(conn, &table, Some(&geometry_column)).await?.ok_or_else(|| {
            Error::LayerNotFound(format!("{} (its table {table} has no geometry column {geometry_column})", req.layer))
        })?;
        Ok(Self::from_info(info))
    }

    fn from_info(info: TableInfo) -> Self {
        Self {
            table: info.table,
            geometry_column: info.geometry_column,
            geometry_type: info.geometry_type,
            id_column: info.id_column.unwrap_or_else(|| "id".into()),
            columns: info.columns,
            created: false,
        }
    }

    /// A new layer: `public.<id>` with columns typed from the source's fields, a GIST index,
    /// the change trigger and a catalog row, as ogr2ogr would (plus the catalog).
    async fn create(conn: &mut PgConnection, req: &ImportRequest, meta: &SourceMeta) -> Result<Self> {
        let table = TableRef { schema: "public".into(), table: req.layer.to_string() };
        let mut columns: Vec<(String, PropertyType)> = Vec::new();
        for f in &meta.fields {
            let name = match req.names {
                ColumnNames::AsWritten if !f.name.is_empty() => f.name.clone(),
                _ => launder(&f.name),
            };
            // A field named like the id feeds the id column (see `Plan::new`); one named like
            // the geometry column cannot be a second column of that name.
            let reserved = matches!(launder(&f.name).as_str(), "id" | "geom");
            if !reserved && !columns.iter().any(|(n, _)| *n == name) {
                columns.push((name, f.kind));
            }
        }
        let mut ddl = format!(
            "CREATE TABLE {} (id {} GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            table.quoted(),
            column_type(PropertyType::Integer)
        );
        for (name, kind) in &columns {
            ddl.push_str(&format!(", {} {}", quote_ident(name), column_type(*kind)));
        }
        ddl.push_str(&format!(", geom geometry({}, 4326) NOT NULL)", geometry_type_name(meta.geometry_type)));
        let ctx = || format!("creating table {table} for the new layer {}", req.layer);
        // The GIST index and the change capture come after the rows (see `Plan::apply`).
        sqlx::query(AssertSqlSafe(ddl)).execute(&mut *conn).await.map_err(Error::db(ctx()))?;
        sqlx::query(
            "INSERT INTO bando.layers (id, title, schema_name, table_name, geometry_type, imported, access)
             VALUES ($1, $1, $2, $3, $4, true, $5)",
        )
        .bind(req.layer.as_str())
        .bind(&table.schema)
        .bind(&table.table)
        .bind(geometry_type_name(meta.geometry_type))
        .bind(access_name(crate::AccessLevel::Internal))
        .execute(&mut *conn)
        .await
        .map_err(Error::db(ctx()))?;
        Ok(Self {
            table,
            geometry_column: "geom".into(),
            geometry_type: meta.geometry_type,
            id_column: "id".into(),
            columns,
            created: true,
        })
    }
}

/// One staged column: the target column, its type, and the source field that feeds it.
pub(super) struct Column {
    pub name: String,
    pub kind: PropertyType,
    pub source: usize,
}

/// How source fields map onto the target table.
pub(super) struct Plan {
    pub target_table: TableRef,
    pub geometry_column: String,
    pub geometry_type: GeometryType,
    pub id_column: String,
    /// Source field holding the id, if the source has one.
    pub id_source: Option<usize>,
    pub columns: Vec<Column>,
    pub new_table: bool,
    /// Rows that need no repair are copied straight into the table (a new table, whose
    /// constraints are known, in the layer's CRS: see `direct`).
    pub direct: bool,
}

impl Plan {
    pub fn new(target: &Target, meta: &SourceMeta) -> Self {
        // The field of that very name, else one that launders to it (a table made by a
        // laundering import, or by ogr2ogr).
        let find = |name: &str| {
            (meta.fields.iter().position(|f| f.name == name))
                .or_else(|| meta.fields.iter().position(|f| launder(&f.name) == launder(name)))
        };
        Self {
            target_table: target.table.clone(),
            geometry_column: target.geometry_column.clone(),
            geometry_type: target.geometry_type,
            id_column: target.id_column.clone(),
            id_source: find(&target.id_column),
            columns: target
                .columns
                .iter()
                .filter_map(|(name, kind)| find(name).map(|source| Column { name: name.clone(), kind: *kind, source }))
                .collect(),
            new_table: target.created,
            direct: target.created && meta.srid == 4326,
        }
    }

    /// Whether the staging table carries an id: the source's, or one given while reading.
    pub fn stages_ids(&self) -> bool {
        self.id_source.is_some() || self.direct
    }

    /// `"a", "b"` for the mapped columns, with a leading comma when non-empty.
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| format!(", {}", quote_ident(&c.name))).collect()
    }

    /// Turns the staged rows into layer rows and writes them; returns the counts. Unless
    /// `strict`, a row the table refuses is rejected and listed, and the others are written.
    pub async fn apply(
        &self,
        conn: &mut PgConnection,
        mode: ImportMode,
        strict: bool,
        reprojection: &str,
    ) -> Result<ImportReport> {
        let cols = self.column_list();
        let id = if self.stages_ids() { ", id" } else { "" };
        let fix = |g: &str| match collection_dimension(self.geometry_type) {
            Some(dim) if self.geometry_type.is_multi() => format!("ST_Multi(ST_CollectionExtract({g}, {dim}))"),
            Some(dim) => format!("ST_CollectionExtract({g}, {dim})"),
            None => g.to_owned(),
        };
        let prepare = format!(
            "CREATE TEMP TABLE bando_prepared ON COMMIT DROP AS
             SELECT row_no{id}{cols}, invalid, was_empty, GeometryType(g) AS source_type,
                    {fixed} AS geom
             FROM (SELECT row_no{id}{cols}, g, ST_IsEmpty(g) AS was_empty, NOT ST_IsValid(g) AS invalid
                   FROM (SELECT row_no{id}{cols}, {reprojection} AS g FROM bando_staging) r) c",
            fixed = fix("CASE WHEN invalid THEN ST_MakeValid(g) ELSE g END"),
            reprojection = reprojection.replace("$GEOM", "ST_Force2D(geom)"),
        );
        let mut report = ImportReport::default();
        exec(conn, &prepare, "repairing and reprojecting").await?;

        let rejected = sqlx::query(
            "SELECT CASE WHEN was_empty THEN 'empty geometry'
                         WHEN invalid THEN 'invalid geometry that repair could not keep'
                         ELSE 'geometry type ' || source_type || ' does not fit the layer' END, count(*)
             FROM bando_prepared WHERE geom IS NULL OR ST_IsEmpty(geom) GROUP BY 1",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("counting rejected rows"))?;
        for row in rejected {
            report.rejected.insert(row.get(0), u64::try_from(row.get::<i64, _>(1)).unwrap_or(0));
        }
        exec(conn, "DELETE FROM bando_prepared WHERE geom IS NULL OR ST_IsEmpty(geom)", "dropping empty geometries")
            .await?;

        // Duplicates: same geometry and attributes. The id is left out: two copies of a
        // feature under different ids are still one feature. (Rows copied straight into a new
        // table were compared while reading; a staged row whose repair makes it equal to one
        // of those is not caught.)
        let dedup = format!(
            "DELETE FROM bando_prepared p USING (
                 SELECT row_no, row_number() OVER (PARTITION BY ST_AsEWKB(geom){cols} ORDER BY row_no) AS n
                 FROM bando_prepared) d
             WHERE p.row_no = d.row_no AND d.n > 1"
        );
        report.duplicates_removed = exec(conn, &dedup, "removing duplicates").await?;
        report.repaired = count(conn, "SELECT count(*) FROM bando_prepared WHERE invalid").await?;

        let table = self.target_table.quoted();
        let id_col = quote_ident(&self.id_column);
        // A new table is empty but for the rows copied straight into it.
        if mode == ImportMode::Replace && !self.new_table {
            exec(conn, &format!("DELETE FROM {table}"), "emptying the layer").await?;
        }
        let id_value = if self.stages_ids() {
            "id".to_owned()
        } else {
            format!("(SELECT coalesce(max({id_col}), 0) FROM {table}) + row_number() OVER (ORDER BY row_no)")
        };
        let geom = quote_ident(&self.geometry_column);
        let insert = |(lo, hi): (i64, i64)| {
            format!(
                "INSERT INTO {table} ({id_col}{cols}, {geom}) SELECT {id_value}{cols}, geom FROM bando_prepared
                 WHERE row_no BETWEEN {lo} AND {hi} ORDER BY row_no"
            )
        };
        report.rows_written = if strict {
            exec(conn, &insert((i64::MIN, i64::MAX)), &format!("writing into {}", self.target_table)).await?
        } else {
            insert_rejecting(conn, &insert, &mut report).await?
        };
        if self.new_table {
            self.finish_new_table(conn).await?;
        }
        Ok(report)
    }

    /// Indexes the new table and attaches the change capture, once its rows are in: building
    /// the index once is several times faster than growing it row by row, and the capture's
    /// transition tables would have held a copy of every row only to record one reload. That
    /// reload is recorded here instead.
    async fn finish_new_table(&self, conn: &mut PgConnection) -> Result<()> {
        let table = self.target_table.quoted();
        let index = format!("CREATE INDEX ON {table} USING gist ({})", quote_ident(&self.geometry_column));
        exec(conn, &index, "indexing the new layer").await?;
        let watch = format!("SELECT bando.watch_layer('{}'::regclass, 'id')", table.replace('\'', "''"));
        exec(conn, &watch, "watching the new layer for changes").await?;
        sqlx::query("INSERT INTO bando.changes (layer_table, op) VALUES ($1, 'reload')")
            .bind(format!("{}.{}", self.target_table.schema, self.target_table.table))
            .execute(&mut *conn)
            .await
            .map_err(Error::db("recording the new layer's reload"))?;
        Ok(())
    }
}

/// Rows the table may refuse before the import gives up: finding each one costs a few
/// statements, and a file most of whose rows the table refuses is the wrong file or table.
const MAX_REFUSED: u64 = 1000;

/// Writes the prepared rows, rejecting those the table refuses (a NOT NULL, a CHECK, a
/// duplicate key). All rows are tried at once; a range that fails is rolled back to its
/// savepoint and split in two, down to the single rows at fault, so a few bad rows among
/// half a million cost a few dozen statements.
async fn insert_rejecting(
    conn: &mut PgConnection,
    insert: &dyn Fn((i64, i64)) -> String,
    report: &mut ImportReport,
) -> Result<u64> {
    let (lo, hi): (Option<i64>, Option<i64>) = sqlx::query_as("SELECT min(row_no), max(row_no) FROM bando_prepared")
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("reading the prepared rows"))?;
    let (Some(lo), Some(hi)) = (lo, hi) else { return Ok(0) };
    let (mut written, mut refused) = (0, 0);
    let mut pending = vec![(lo, hi)];
    while let Some(range) = pending.pop() {
        exec(conn, "SAVEPOINT bando_rows", "writing rows").await?;
        match sqlx::query(AssertSqlSafe(insert(range))).execute(&mut *conn).await {
            Ok(done) => {
                exec(conn, "RELEASE SAVEPOINT bando_rows", "writing rows").await?;
                written += done.rows_affected();
            }
            Err(sqlx::Error::Database(e)) => {
                exec(conn, "ROLLBACK TO SAVEPOINT bando_rows", "writing rows").await?;
                exec(conn, "RELEASE SAVEPOINT bando_rows", "writing rows").await?;
                let (lo, hi) = range;
                if lo < hi {
                    // The lower half first, so that rows keep their order (and generated ids).
                    let mid = lo + (hi - lo) / 2;
                    pending.extend([(mid + 1, hi), (lo, mid)]);
                    continue;
                }
                let row = refusal(conn, lo, e.as_ref()).await?;
                refused += 1;
                if refused > MAX_REFUSED {
                    return Err(Error::Refused { limit: MAX_REFUSED, last: row.to_string() });
                }
                report.reject(super::report::REFUSED_BY_TABLE, row);
            }
            Err(e) => return Err(Error::db("writing rows")(e)),
        }
    }
    Ok(written)
}

/// The rejected row `row`, with the column and value the database names.
async fn refusal(conn: &mut PgConnection, row: i64, e: &dyn sqlx::error::DatabaseError) -> Result<RejectedRow> {
    let pg = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
    let field = pg.and_then(|p| p.column()).map(str::to_owned);
    let value = match &field {
        Some(f) => sqlx::query_scalar("SELECT to_jsonb(p) ->> $1 FROM bando_prepared p WHERE row_no = $2")
            .bind(f)
            .bind(row)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("reading a refused row"))?,
        None => None,
    };
    let reason = match pg.and_then(|p| p.detail()) {
        Some(detail) => format!("{} ({detail})", e.message()),
        None => e.message().to_owned(),
    };
    Ok(RejectedRow { row: u64::try_from(row).unwrap_or(0), field, value, reason })
}

async fn exec(conn: &mut PgConnection, sql: &str, what: &str) -> Result<u64> {
    let done = sqlx::query(AssertSqlSafe(sql.to_owned())).execute(conn).await.map_err(Error::db(what))?;
    Ok(done.rows_affected())
}

async fn count(conn: &mut PgConnection, sql: &str) -> Result<u64> {
    let n: i64 =
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned())).fetch_one(conn).await.map_err(Error::db("counting"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The SQL expression (over `$GEOM`) that takes staged geometries to EPSG:4326. VN-2000 goes
/// through the EPSG:6960 PROJ string of `bando.vn2000_crs`, looked up once here instead of per
/// row; any other CRS must be one PostGIS knows.
pub(super) async fn reprojection_sql(conn: &mut PgConnection, path: &Path, srid: i32) -> Result<String> {
    if srid == 4326 {
        return Ok("ST_SetSRID($GEOM, 4326)".into());
    }
    let vn: Option<String> = sqlx::query_scalar("SELECT proj_to_wgs84 FROM bando.vn2000_crs WHERE srid = $1")
        .bind(srid)
        .fetch_optional(&mut *conn)
        .await
        .map_err(Error::db("looking up the source CRS"))?;
    if let Some(proj) = vn {
        return Ok(format!("ST_Transform(ST_SetSRID($GEOM, {srid}), '{}', 4326)", proj.replace('\'', "''")));
    }
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = $1)")
        .bind(srid)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("looking up the source CRS"))?;
    if !known {
        return Err(Error::UnknownCrs { path: path.into(), reason: format!("EPSG:{srid} is not a CRS PostGIS knows") });
    }
    Ok(format!("ST_Transform(ST_SetSRID($GEOM, {srid}), 4326)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laundering_makes_plain_column_names() {
        assert_eq!(launder("Tên Đường"), "tên_đường");
        assert_eq!(launder("Area (m2)"), "area__m2_");
        assert_eq!(launder("2025"), "_2025");
        assert_eq!(launder("lanes"), "lanes");
    }
}
