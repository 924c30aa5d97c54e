//! Publishing what was imported: the rows of the layer catalog (`bando.layers`) that `bando
//! layers` lists and changes. Running servers follow the catalog through the change feed.

use sqlx::{PgPool, Row};

use super::postgis::{access_name, describe_table, parse_access};
use crate::{AccessLevel, Error, LayerId, PropertyType, Result, catalog::TableRef};

/// The catalog table, as the change feed names it.
pub const CATALOG_TABLE: &str = "bando.layers";

/// One layer as the catalog holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The layer id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Who may read it.
    pub access: AccessLevel,
    /// Its table.
    pub table: TableRef,
    /// The temporal property chosen (`None`: the first date or date-time column).
    pub temporal: Option<String>,
    /// Made by an import (else by the configuration file, which then decides).
    pub imported: bool,
    /// Rows in its table.
    pub features: i64,
}

/// The temporal property a change sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Temporal {
    /// This date or date-time property.
    Property(String),
    /// None: `datetime` then matches every feature.
    Off,
}

/// What `bando layers set` changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerChanges {
    /// Who may read the layer.
    pub access: Option<AccessLevel>,
    /// Its title.
    pub title: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its temporal property.
    pub temporal: Option<Temporal>,
}

/// Every layer of the catalog, by id, with its row count.
pub async fn list(pool: &PgPool) -> Result<Vec<CatalogEntry>> {
    let rows = sqlx::query(
        "SELECT id, title, access, schema_name, table_name, temporal, imported FROM bando.layers ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading the layer catalog"))?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let table = TableRef { schema: row.get(3), table: row.get(4) };
        // A row whose table is gone still lists, with no rows.
        let count = format!("SELECT count(*) FROM {}", table.quoted());
        let features = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(pool).await.unwrap_or(0);
        entries.push(CatalogEntry {
            id: row.get(0),
            title: row.get(1),
            access: parse_access(row.get(2)),
            table,
            temporal: row.get(5),
            imported: row.get(6),
            features,
        });
    }
    Ok(entries)
}

/// Whether each catalog layer was made by an import (`false`: the configuration file defines
/// it), by id: one small read, where [`list`] also counts every table's rows.
pub async fn origins(pool: &PgPool) -> Result<std::collections::BTreeMap<String, bool>> {
    let rows: Vec<(String, bool)> = sqlx::query_as("SELECT id, imported FROM bando.layers")
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading the layer catalog"))?;
    Ok(rows.into_iter().collect())
}

/// Changes an imported layer's catalog row. A temporal property must be a date or date-time
/// column of the layer's table. Layers the configuration file defines are changed there.
pub async fn set(pool: &PgPool, id: &LayerId, changes: &LayerChanges) -> Result<()> {
    let invalid =
        |field: &str, message: String| Error::InvalidLayer { layer: id.to_string(), field: field.into(), message };
    let row = sqlx::query("SELECT schema_name, table_name, imported FROM bando.layers WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(Error::db("reading the layer catalog"))?
        .ok_or_else(|| Error::LayerNotFound(id.to_string()))?;
    if !row.get::<bool, _>(2) {
        return Err(invalid("id", "the configuration file defines this layer: change it there".into()));
    }
    if let Some(Temporal::Property(name)) = &changes.temporal {
        let table = TableRef { schema: row.get(0), table: row.get(1) };
        let mut conn = pool.acquire().await.map_err(Error::db("getting a database connection"))?;
        let info = describe_table(&mut conn, &table, None).await?;
        let kind = info.and_then(|i| i.columns.into_iter().find(|(c, _)| c == name).map(|(_, k)| k));
        if !matches!(kind, Some(PropertyType::Date | PropertyType::Datetime)) {
            return Err(invalid("temporal", format!("{name:?} is not a date or date-time column of {table}")));
        }
    }
    let temporal = changes.temporal.as_ref().map(|t| match t {
        Temporal::Property(name) => name.as_str(),
        Temporal::Off => "",
    });
    sqlx::query(
        "UPDATE bando.layers SET title = coalesce($2, title), description = coalesce($3, description),
             access = coalesce($4, access), temporal = CASE WHEN $5 THEN $6 ELSE temporal END, updated_at = now()
         WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(&changes.title)
    .bind(&changes.description)
    .bind(changes.access.map(access_name))
    .bind(temporal.is_some())
    .bind(temporal)
    .execute(pool)
    .await
    .map_err(Error::db(format!("changing layer {id}")))?;
    Ok(())
}
