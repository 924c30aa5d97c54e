//! Writes to a layer's table (OGC API - Features Part 4): create, replace, update and delete,
//! each inside the caller's transaction, with the row as a load decodes it before and after, so
//! that the server can check and give the ETag, and audit the change in the same transaction.
//!
//! A write is a row change like any other: the table's capture (migration 0007) logs it, and
//! every server applies it to its index, tiles and change stream.

use geo_types::Geometry;
use geozero::{CoordDimensions, ToWkb};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use super::postgis::{self, column_type};
use crate::{
    Error, Feature, LayerDef, Result, Value,
    catalog::{TableRef, quote_ident},
};

/// What a write sets: the geometry in lon/lat (`None`: left as it is) and values by property
/// position (properties not listed are left as they are).
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// The new geometry, in lon/lat.
    pub geometry: Option<Geometry>,
    /// New values, by index in the layer's properties.
    pub values: Vec<(usize, Value)>,
}

/// Where a layer's rows are written: its table, the SRID of its geometry column, and whether
/// the table gives new rows their ids.
pub struct Target<'a> {
    /// The layer.
    pub def: &'a LayerDef,
    /// Its table.
    pub table: &'a TableRef,
    /// How the table stores what is written.
    pub shape: Shape,
}

/// What a write needs to know of a table, found once ([`Shape::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The geometry column's SRID (4326 for imported layers).
    pub srid: i32,
    /// Whether the id column has a default (an identity or a sequence); without one a new id
    /// is the largest plus one, found under a lock.
    pub assigns_ids: bool,
}

impl Shape {
    /// The shape of `def`'s table, as the database describes it.
    pub async fn of(pool: &PgPool, def: &LayerDef, table: &TableRef) -> Result<Self> {
        let srid = postgis::srid(pool, def, table).await?;
        let assigns_ids: Option<bool> = sqlx::query_scalar(
            "SELECT column_default IS NOT NULL OR is_identity = 'YES' FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
        )
        .bind(&table.schema)
        .bind(&table.table)
        .bind(&def.source.id_column)
        .fetch_optional(pool)
        .await
        .map_err(Error::db(format!("describing the id column of {table}")))?;
        Ok(Self { srid, assigns_ids: assigns_ids.unwrap_or(false) })
    }
}

impl Target<'_> {
    /// The row `id` as a load would decode it, locked until the transaction ends; `None` when
    /// there is none.
    pub async fn current(&self, tx: &mut PgConnection, id: i64) -> Result<Option<Feature>> {
        let sql = format!(
            "{} AND {} = $1 FOR UPDATE",
            postgis::select_sql(self.def, self.table, None),
            quote_ident(&self.def.source.id_column)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db(format!("reading feature {id} of layer {}", self.def.id)))?;
        row.map(|r| postgis::decode_row(self.def, &r)).transpose()
    }

    /// Adds a row (the table assigns the id) and returns its id.
    pub async fn insert(&self, tx: &mut PgConnection, changes: &Changes) -> Result<i64> {
        let (mut columns, mut values, binds) = self.assignments(changes)?;
        if !self.shape.assigns_ids {
            // Writers of this table take their ids one after another.
            sqlx::query(AssertSqlSafe(format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", self.table.quoted())))
                .execute(&mut *tx)
                .await
                .map_err(Error::db(format!("locking {} for a new id", self.table)))?;
            let id = quote_ident(&self.def.source.id_column);
            columns.push(id.clone());
            values.push(format!("(SELECT COALESCE(max({id}), 0) + 1 FROM {})", self.table.quoted()));
        }
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING {}::bigint",
            self.table.quoted(),
            columns.join(", "),
            values.join(", "),
            quote_ident(&self.def.source.id_column)
        );
        let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
        if let Some(wkb) = binds.wkb {
            query = query.bind(wkb);
        }
        let query = binds.texts.into_iter().fold(query, |q, t| q.bind(t));
        query.fetch_one(&mut *tx).await.map_err(Error::db(format!("adding a feature to layer {}", self.def.id)))
    }

    /// Sets what `changes` holds on row `id`.
    pub async fn update(&self, tx: &mut PgConnection, id: i64, changes: &Changes) -> Result<()> {
        let (columns, values, binds) = self.assignments(changes)?;
        if columns.is_empty() {
            return Ok(());
        }
        let set: Vec<String> = columns.iter().zip(&values).map(|(c, v)| format!("{c} = {v}")).collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE {} = ${}",
            self.table.quoted(),
            set.join(", "),
            quote_ident(&self.def.source.id_column),
            columns.len() + 1
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(wkb) = binds.wkb {
            query = query.bind(wkb);
        }
        let query = binds.texts.into_iter().fold(query, |q, t| q.bind(t));
        query
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("changing feature {id} of {}", self.def.id)))?;
        Ok(())
    }

    /// Removes row `id`.
    pub async fn delete(&self, tx: &mut PgConnection, id: i64) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE {} = $1", self.table.quoted(), quote_ident(&self.def.source.id_column));
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("deleting feature {id} of layer {}", self.def.id)))?;
        Ok(())
    }

    /// The columns a write sets, the SQL of each value and what is bound to it. Values travel
    /// as text cast to the property's type: exact for every type Bando has (numbers print as
    /// the shortest text that reads back the same), and one bind type for all.
    fn assignments(&self, changes: &Changes) -> Result<(Vec<String>, Vec<String>, Binds)> {
        let (mut columns, mut values) = (Vec::new(), Vec::new());
        let mut binds = Binds { wkb: None, texts: Vec::new() };
        if let Some(g) = &changes.geometry {
            let wkb = g.to_wkb(CoordDimensions::xy()).map_err(|e| Error::Geometry {
                layer: self.def.id.to_string(),
                id: 0,
                reason: e.to_string(),
            })?;
            binds.wkb = Some(wkb);
            let lonlat = "ST_SetSRID(ST_GeomFromWKB($1), 4326)".to_owned();
            let srid = self.shape.srid;
            let stored = if srid == 4326 { lonlat } else { format!("ST_Transform({lonlat}, {srid})") };
            let stored = if self.def.geometry.is_multi() { format!("ST_Multi({stored})") } else { stored };
            columns.push(quote_ident(&self.def.source.geometry_column));
            values.push(stored);
        }
        for (i, v) in &changes.values {
            let p = &self.def.properties[*i];
            binds.texts.push((!matches!(v, Value::Null)).then(|| v.to_string()));
            columns.push(quote_ident(&p.name));
            values.push(format!("${}::text::{}", columns.len(), column_type(p.kind)));
        }
        Ok((columns, values, binds))
    }
}

/// What a write's statement binds: the geometry's WKB first, when it sets one, then the values.
struct Binds {
    wkb: Option<Vec<u8>>,
    texts: Vec<Option<String>>,
}
