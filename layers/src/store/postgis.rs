//! PostGIS, the system of record: connection, migrations, table discovery and layer loading.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use geozero::{ToGeo, wkb::Wkb};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row, postgres::PgPoolOptions};

use crate::{
    AccessLevel, Error, Feature, GeometryType, LayerDef, LayerId, LayerIndex, PropertyDef, PropertyType, Result, Value,
    catalog::{LayerSource, TableRef, quote_ident},
};

/// The PostGIS dimension for `ST_CollectionExtract` (1 points, 2 lines, 3 polygons), or `None`
/// for mixed layers.
pub fn collection_dimension(g: GeometryType) -> Option<i32> {
    match g {
        GeometryType::Point | GeometryType::MultiPoint => Some(1),
        GeometryType::LineString | GeometryType::MultiLineString => Some(2),
        GeometryType::Polygon | GeometryType::MultiPolygon => Some(3),
        GeometryType::Geometry => None,
    }
}

/// The name PostGIS uses in `geometry(<type>, srid)` and `GeometryType()`.
pub fn geometry_type_name(g: GeometryType) -> &'static str {
    match g {
        GeometryType::Point => "Point",
        GeometryType::LineString => "LineString",
        GeometryType::Polygon => "Polygon",
        GeometryType::MultiPoint => "MultiPoint",
        GeometryType::MultiLineString => "MultiLineString",
        GeometryType::MultiPolygon => "MultiPolygon",
        GeometryType::Geometry => "Geometry",
    }
}

/// Parses PostGIS' spelling of a geometry type (any case), as `geometry_columns.type` reports it.
pub fn geometry_type_from_name(name: &str) -> GeometryType {
    match name.to_ascii_uppercase().as_str() {
        "POINT" => GeometryType::Point,
        "LINESTRING" => GeometryType::LineString,
        "POLYGON" => GeometryType::Polygon,
        "MULTIPOINT" => GeometryType::MultiPoint,
        "MULTILINESTRING" => GeometryType::MultiLineString,
        "MULTIPOLYGON" => GeometryType::MultiPolygon,
        _ => GeometryType::Geometry,
    }
}

/// The PostgreSQL column type of a property: what an import creates and what a layer's SELECT
/// casts to, so that every value decodes as its property type.
pub fn column_type(kind: PropertyType) -> &'static str {
    match kind {
        PropertyType::Text => "text",
        PropertyType::Integer => "bigint",
        PropertyType::Real => "double precision",
        PropertyType::Boolean => "boolean",
        PropertyType::Date => "date",
        PropertyType::Datetime => "timestamptz",
    }
}

/// The property type of a PostgreSQL column type (`information_schema.columns.data_type`);
/// `None` for types Bando does not publish (arrays, json, bytea, ...).
pub fn property_type_of_column(data_type: &str) -> Option<PropertyType> {
    Some(match data_type {
        "text" | "character varying" | "character" | "uuid" | "citext" => PropertyType::Text,
        "smallint" | "integer" | "bigint" => PropertyType::Integer,
        "real" | "double precision" | "numeric" => PropertyType::Real,
        "boolean" => PropertyType::Boolean,
        "date" => PropertyType::Date,
        "timestamp with time zone" | "timestamp without time zone" => PropertyType::Datetime,
        _ => return None,
    })
}

/// Whether the database answers within `within`: what `/ready` reports.
pub async fn ping(pool: &PgPool, within: Duration) -> bool {
    let ping = sqlx::query("SELECT 1").execute(pool);
    matches!(tokio::time::timeout(within, ping).await, Ok(Ok(_)))
}

/// Opens a pool of at most `connections`; statements running longer than `statement_timeout`
/// are cancelled.
pub async fn connect(url: &str, statement_timeout: Option<Duration>, connections: u32) -> Result<PgPool> {
    let mut options: sqlx::postgres::PgConnectOptions = url.parse().map_err(Error::db("reading the database URL"))?;
    if let Some(t) = statement_timeout {
        options = options.options([("statement_timeout", format!("{}ms", t.as_millis()))]);
    }
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(Error::db("connecting to PostgreSQL"))
}

async fn acquire(pool: &PgPool) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
    pool.acquire().await.map_err(Error::db("getting a database connection"))
}

/// Applies the migrations in `migrations/` (embedded in the binary) that have not run yet.
///
/// Their bookkeeping table lives in the `bando` schema, named in full: left to the search path,
/// a database user called `bando` would see `"$user"` resolve to a different schema once the
/// first migration creates it, and the migrations would run twice.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.dangerous_set_table_name("bando._sqlx_migrations");
    migrator.create_schema("bando");
    migrator.run(pool).await?;
    Ok(())
}

/// What a table holds, as the database describes it.
#[derive(Clone, Debug)]
pub struct TableInfo {
    /// The table.
    pub table: TableRef,
    /// Its geometry column.
    pub geometry_column: String,
    /// Declared geometry type.
    pub geometry_type: GeometryType,
    /// SRID of the geometry column (0 when unconstrained).
    pub srid: i32,
    /// Single-column integer primary key, if any.
    pub id_column: Option<String>,
    /// Other publishable columns, in table order.
    pub columns: Vec<(String, PropertyType)>,
}

/// Describes `table`, or `None` when it does not exist or has no geometry column.
/// Takes a connection rather than the pool so that, inside a transaction, it sees tables created
/// earlier in that transaction.
pub async fn describe_table(
    conn: &mut PgConnection,
    table: &TableRef,
    geometry_column: Option<&str>,
) -> Result<Option<TableInfo>> {
    let ctx = || format!("describing table {table}");
    let geom = sqlx::query(
        "SELECT f_geometry_column::text, type::text, srid FROM geometry_columns
         WHERE f_table_schema = $1 AND f_table_name = $2 AND ($3::text IS NULL OR f_geometry_column = $3)
         ORDER BY f_geometry_column LIMIT 1",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .bind(geometry_column)
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::db(ctx()))?;
    let Some(geom) = geom else { return Ok(None) };
    let geometry_column: String = geom.get(0);
    let id_column: Option<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = to_regclass($1) AND i.indisprimary AND i.indnkeyatts = 1
           AND format_type(a.atttypid, NULL) IN ('smallint', 'integer', 'bigint')",
    )
    .bind(table.quoted())
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::db(ctx()))?;
    let columns = sqlx::query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db(ctx()))?
    .into_iter()
    .filter_map(|r| {
        let name: String = r.get(0);
        let kind = property_type_of_column(r.get::<&str, _>(1))?;
        (name != geometry_column && Some(&name) != id_column.as_ref()).then_some((name, kind))
    })
    .collect();
    Ok(Some(TableInfo {
        table: table.clone(),
        geometry_type: geometry_type_from_name(geom.get::<&str, _>(1)),
        srid: geom.get(2),
        geometry_column,
        id_column,
        columns,
    }))
}

/// A layer definition for a table nobody configured: every column is a queryable property, and
/// the first date or date-time column is the temporal one (so `datetime` works at once).
pub fn layer_from_table(id: LayerId, title: String, info: &TableInfo, access: AccessLevel) -> LayerDef {
    LayerDef {
        id,
        title,
        description: String::new(),
        title_en: None,
        description_en: None,
        keywords: Vec::new(),
        geometry: info.geometry_type,
        source: LayerSource {
            table: Some(info.table.clone()),
            file: None,
            layer: None,
            geometry_column: info.geometry_column.clone(),
            id_column: info.id_column.clone().unwrap_or_else(|| "id".into()),
        },
        properties: info
            .columns
            .iter()
            .map(|(name, kind)| PropertyDef {
                name: name.clone(),
                kind: *kind,
                queryable: true,
                private: false,
                title: None,
                unit: None,
                codes: None,
                labels: None,
                required: false,
                choices: None,
            })
            .collect(),
        temporal: info
            .columns
            .iter()
            .find(|(_, kind)| matches!(kind, PropertyType::Date | PropertyType::Datetime))
            .map(|(name, _)| name.clone()),
        minzoom: 0,
        maxzoom: crate::catalog::MAX_ZOOM,
        attribution: String::new(),
        license: None,
        access,
        theme: None,
        style: None,
        editable_by: Vec::new(),
    }
}

/// `auto_publish`: every table with a geometry column and an integer primary key in `schemas`,
/// as Martin and tipg do. The layer id is the table name, or `schema_table` when `public` is not
/// the schema. Tables without an integer key are skipped with a warning.
pub async fn discover(pool: &PgPool, schemas: &[String], access: AccessLevel) -> Result<Vec<LayerDef>> {
    let tables = sqlx::query(
        "SELECT f_table_schema::text, f_table_name::text FROM geometry_columns
         WHERE f_table_schema = ANY($1) GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(schemas)
    .fetch_all(pool)
    .await
    .map_err(Error::db("listing geometry tables"))?;
    let mut layers = Vec::new();
    for row in tables {
        let table = TableRef { schema: row.get(0), table: row.get(1) };
        let Some(info) = describe_table(&mut *acquire(pool).await?, &table, None).await? else { continue };
        let name =
            if table.schema == "public" { table.table.clone() } else { format!("{}_{}", table.schema, table.table) };
        let id = name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        match (id.parse::<LayerId>(), &info.id_column) {
            (Ok(id), Some(_)) => layers.push(layer_from_table(id, table.table.clone(), &info, access)),
            (Err(e), _) => tracing::warn!(%table, "not published: {e}"),
            (_, None) => tracing::warn!(%table, "not published: no single-column integer primary key"),
        }
    }
    Ok(layers)
}

/// Layers that imports created (rows of `bando.layers` that the configuration does not name),
/// with the title, description, access level and temporal property `bando layers set` gave them.
pub async fn imported_layers(pool: &PgPool, configured: &[LayerDef]) -> Result<Vec<LayerDef>> {
    let rows = sqlx::query(
        "SELECT id, title, schema_name, table_name, access, description, temporal
         FROM bando.layers WHERE imported ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading bando.layers"))?;
    let mut layers = Vec::new();
    for row in rows {
        let Ok(id) = row.get::<String, _>(0).parse::<LayerId>() else { continue };
        if configured.iter().any(|d| d.id == id) {
            continue;
        }
        let table = TableRef { schema: row.get(2), table: row.get(3) };
        if let Some(info) = describe_table(&mut *acquire(pool).await?, &table, None).await? {
            let mut def = layer_from_table(id, row.get(1), &info, parse_access(row.get(4)));
            def.description = row.get(5);
            if table == crate::sensing::stations_table() {
                def.theme = Some(crate::Theme::Monitoring);
            }
            match row.get::<Option<String>, _>(6).as_deref() {
                None => {}
                Some("") => def.temporal = None,
                Some(name) => def.temporal = Some(name.to_owned()),
            }
            layers.push(def);
        }
    }
    Ok(layers)
}

/// Records a configured layer in `bando.layers` so that its changes are versioned.
pub async fn register(pool: &PgPool, def: &LayerDef, table: &TableRef) -> Result<()> {
    sqlx::query(
        "INSERT INTO bando.layers (id, title, description, schema_name, table_name, geometry_column, id_column, geometry_type, access)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET title = $2, description = $3, schema_name = $4, table_name = $5,
             geometry_column = $6, id_column = $7, geometry_type = $8, access = $9",
    )
    .bind(def.id.as_str())
    .bind(&def.title)
    .bind(&def.description)
    .bind(&table.schema)
    .bind(&table.table)
    .bind(&def.source.geometry_column)
    .bind(&def.source.id_column)
    .bind(geometry_type_name(def.geometry))
    .bind(access_name(def.access))
    .execute(pool)
    .await
    .map_err(Error::db(format!("registering layer {}", def.id)))?;
    watch(pool, def, table).await;
    Ok(())
}

/// Attaches the change capture (migration 0007) to a configured table that lacks it. Creating
/// triggers needs the table's owner: without that right the layer is still served, but edits
/// reach it only at the next start, and the log says so.
async fn watch(pool: &PgPool, def: &LayerDef, table: &TableRef) {
    let watched = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'bando_inserted')",
    )
    .bind(table.quoted())
    .fetch_one(pool)
    .await;
    if matches!(watched, Ok(true)) {
        return;
    }
    let attached = sqlx::query("SELECT bando.watch_layer($1::regclass, $2)")
        .bind(table.quoted())
        .bind(&def.source.id_column)
        .execute(pool)
        .await;
    if let Err(e) = attached {
        tracing::warn!(layer = %def.id, %table, "edits will not reach running servers (no change capture): {e}");
    }
}

/// An access level from its spelling in `bando.layers.access` (which a CHECK constrains).
pub fn parse_access(name: &str) -> AccessLevel {
    match name {
        "public" => AccessLevel::Public,
        "restricted" => AccessLevel::Restricted,
        _ => AccessLevel::Internal,
    }
}

/// The spelling of an access level in `bando.layers.access`.
pub fn access_name(a: AccessLevel) -> &'static str {
    match a {
        AccessLevel::Public => "public",
        AccessLevel::Internal => "internal",
        AccessLevel::Restricted => "restricted",
    }
}

/// The SELECT that streams a layer out: [`columns_sql`] from the table, for rows with a geometry.
/// Identifiers come from the catalog and are quoted.
pub(crate) fn select_sql(def: &LayerDef, table: &TableRef, srid: Option<i32>) -> String {
    let geom = quote_ident(&def.source.geometry_column);
    format!("SELECT {} FROM {} WHERE {geom} IS NOT NULL", columns_sql(def, srid), table.quoted())
}

/// The columns a feature is decoded from ([`decode_row`]): id, 2D WKB in lon/lat, then the
/// properties cast to the types Bando decodes; also what a write returns. With `srid` `None`
/// the SRID is read from each row, which spares a few changed rows the column's description.
pub(crate) fn columns_sql(def: &LayerDef, srid: Option<i32>) -> String {
    let geom = quote_ident(&def.source.geometry_column);
    let lonlat = match srid {
        Some(4326) => geom,
        Some(_) => format!("bando.to_wgs84({geom}, ST_SRID({geom}))"),
        None => {
            format!("CASE WHEN ST_SRID({geom}) = 4326 THEN {geom} ELSE bando.to_wgs84({geom}, ST_SRID({geom})) END")
        }
    };
    let mut sql = format!("{}::bigint, ST_AsBinary(ST_Force2D({lonlat}))", quote_ident(&def.source.id_column));
    for p in &def.properties {
        sql.push_str(&format!(", {}::{}", quote_ident(&p.name), column_type(p.kind)));
    }
    sql
}

/// Marks the layer's properties the table refuses to leave empty (`NOT NULL`) and those it
/// limits to a list (`CHECK (p IN ('a', 'b'))`, which PostgreSQL keeps as `p = ANY (ARRAY[...])`),
/// for the layer's schema and the validation of writes.
pub async fn constraints(pool: &PgPool, def: &mut LayerDef, table: &TableRef) -> Result<()> {
    let ctx = || format!("reading the constraints of {table}");
    let not_null: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 AND is_nullable = 'NO'",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(pool)
    .await
    .map_err(Error::db(ctx()))?;
    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'c'",
    )
    .bind(table.quoted())
    .fetch_all(pool)
    .await
    .map_err(Error::db(ctx()))?;
    for p in &mut def.properties {
        p.required = not_null.contains(&p.name);
        p.choices = checks.iter().find_map(|c| check_list(c, &p.name));
    }
    Ok(())
}

/// The values of a `CHECK ((name = ANY (ARRAY['a'::text, 'b'::text])))` on `name`, as
/// `pg_get_constraintdef` writes it; `None` for any other check.
fn check_list(check: &str, name: &str) -> Option<Vec<String>> {
    let column = if name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        name.to_owned()
    } else {
        quote_ident(name)
    };
    let body = check.strip_prefix("CHECK ((")?.strip_suffix("))")?;
    let list = body.strip_prefix(&format!("{column} = ANY (ARRAY["))?.strip_suffix("])")?;
    let mut values = Vec::new();
    let mut rest = list;
    loop {
        // One literal: 'text'::type, with '' standing for a quote inside.
        let inner = rest.strip_prefix('\'')?;
        let mut value = String::new();
        let mut chars = inner.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '\'') if inner[i + 1..].starts_with('\'') => {
                    value.push('\'');
                    chars.next();
                }
                (i, '\'') => break i + 1,
                (_, c) => value.push(c),
            }
        };
        values.push(value);
        let after = &inner[end..];
        let after = after.find([',']).map_or("", |i| &after[i + 1..]).trim_start();
        if after.is_empty() {
            return Some(values);
        }
        rest = after;
    }
}

/// The SRID of the layer's geometry column.
pub async fn srid(pool: &PgPool, def: &LayerDef, table: &TableRef) -> Result<i32> {
    describe_table(&mut *acquire(pool).await?, table, Some(&def.source.geometry_column))
        .await?
        .map(|t| t.srid)
        .ok_or_else(|| {
            Error::LayerNotFound(format!("{} (table {table} with column {})", def.id, def.source.geometry_column))
        })
}

/// Streams a layer's table into an index (binary WKB, row by row, never the whole result in
/// memory as text).
pub async fn load(pool: &PgPool, def: &LayerDef, table: &TableRef) -> Result<LayerIndex> {
    let started = Instant::now();
    let sql = select_sql(def, table, Some(srid(pool, def, table).await?));
    let ctx = || format!("loading layer {} from {table}", def.id);
    let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(pool);
    let mut features = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(Error::db(ctx()))? {
        features.push(decode_row(def, &row)?);
    }
    let index = tokio::task::spawn_blocking(move || LayerIndex::build(features))
        .await
        .map_err(|e| Error::db(ctx())(sqlx::Error::Protocol(e.to_string())))?;
    tracing::info!(
        layer = %def.id, %table, features = index.len(), seconds = started.elapsed().as_secs_f64(),
        megabytes = index.approx_bytes() / 1_000_000, "layer loaded from PostGIS"
    );
    Ok(index)
}

/// One row of [`select_sql`] as a feature.
pub(crate) fn decode_row(def: &LayerDef, row: &sqlx::postgres::PgRow) -> Result<Feature> {
    let ctx = || format!("decoding a feature of layer {}", def.id);
    let id: i64 = row.try_get(0).map_err(Error::db(ctx()))?;
    let wkb: &[u8] = row.try_get(1).map_err(Error::db(ctx()))?;
    let geometry =
        Wkb(wkb).to_geo().map_err(|e| Error::Geometry { layer: def.id.to_string(), id, reason: e.to_string() })?;
    let mut properties = Vec::with_capacity(def.properties.len());
    for (i, p) in def.properties.iter().enumerate() {
        let i = i + 2;
        let v = match p.kind {
            PropertyType::Text => row.try_get::<Option<&str>, _>(i).map(|v| v.map(|s| Value::Text(s.into()))),
            PropertyType::Integer => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Int)),
            PropertyType::Real => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Value::Float)),
            PropertyType::Boolean => row.try_get::<Option<bool>, _>(i).map(|v| v.map(Value::Bool)),
            PropertyType::Date => row.try_get::<Option<chrono::NaiveDate>, _>(i).map(|v| v.map(Value::Date)),
            PropertyType::Datetime => {
                row.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i).map(|v| v.map(Value::DateTime))
            }
        }
        .map_err(Error::db(ctx()))?;
        properties.push(v.unwrap_or(Value::Null));
    }
    Ok(Feature::new(id, geometry, properties))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_lists_are_read_from_the_constraint_text() {
        let check = "CHECK ((kind = ANY (ARRAY['đình'::text, 'chùa'::text, 'nhà ''cổ'''::text])))";
        assert_eq!(check_list(check, "kind"), Some(vec!["đình".into(), "chùa".into(), "nhà 'cổ'".into()]));
        assert_eq!(check_list(check, "rank"), None);
        assert_eq!(check_list("CHECK ((lanes > 0))", "lanes"), None);
        let quoted = r#"CHECK (("Kind" = ANY (ARRAY['a'::character varying, 'b'::character varying]::text[])))"#;
        assert_eq!(check_list(quoted, "Kind"), Some(vec!["a".into(), "b".into()]), "varchar lists too");
    }

    #[test]
    fn select_quotes_identifiers_and_casts_properties() {
        let info = TableInfo {
            table: TableRef { schema: "transport".into(), table: "roads".into() },
            geometry_column: "geom".into(),
            geometry_type: GeometryType::MultiLineString,
            srid: 4326,
            id_column: Some("id".into()),
            columns: vec![("name".into(), PropertyType::Text), ("lanes".into(), PropertyType::Integer)],
        };
        let def = layer_from_table(
            "roads".parse().unwrap_or_else(|e| panic!("{e}")),
            "Roads".into(),
            &info,
            AccessLevel::Public,
        );
        assert_eq!(
            select_sql(&def, &info.table, Some(4326)),
            r#"SELECT "id"::bigint, ST_AsBinary(ST_Force2D("geom")), "name"::text, "lanes"::bigint FROM "transport"."roads" WHERE "geom" IS NOT NULL"#
        );
        assert!(select_sql(&def, &info.table, Some(9210)).contains(r#"bando.to_wgs84("geom", ST_SRID("geom"))"#));
    }
}
