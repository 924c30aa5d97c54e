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

    /// Adds a row for each of `drafts` (the table, or else the largest id plus one, gives the
    /// ids) and returns the stored features in the order of `drafts`. Drafts that set the same
    /// columns go in one statement: a batch costs a few round trips, not one per feature.
    pub async fn insert(&self, tx: &mut PgConnection, drafts: &[Changes]) -> Result<Vec<Feature>> {
        if !self.shape.assigns_ids && !drafts.is_empty() {
            // Writers of this table take their ids one after another.
            sqlx::query(AssertSqlSafe(format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", self.table.quoted())))
                .execute(&mut *tx)
                .await
                .map_err(Error::db(format!("locking {} for new ids", self.table)))?;
        }
        let mut stored = Vec::with_capacity(drafts.len());
        for group in drafts.chunk_by(|a, b| a.sets() == b.sets()) {
            stored.extend(self.insert_alike(tx, group).await?);
        }
        Ok(stored)
    }

    /// Adds rows that all set the same columns, in one `INSERT … SELECT FROM unnest(…)`: rows
    /// go in (and come back) in the order of the arrays.
    async fn insert_alike(&self, tx: &mut PgConnection, group: &[Changes]) -> Result<Vec<Feature>> {
        let Some(first) = group.first() else { return Ok(Vec::new()) };
        let (mut columns, mut values, mut arrays) = (Vec::new(), Vec::new(), Vec::new());
        let mut wkbs = Vec::new();
        if first.geometry.is_some() {
            wkbs = group.iter().map(|c| c.geometry.as_ref().map(|g| self.wkb(g)).transpose()).collect::<Result<_>>()?;
            arrays.push("$1::bytea[]".to_owned());
            columns.push(quote_ident(&self.def.source.geometry_column));
            values.push(self.stored_geometry("u.c1"));
        }
        let mut texts = Vec::new();
        for (n, (i, _)) in first.values.iter().enumerate() {
            let p = &self.def.properties[*i];
            let column: Vec<Option<String>> = group.iter().map(|c| text(&c.values[n].1)).collect();
            texts.push(column);
            arrays.push(format!("${}::text[]", arrays.len() + 1));
            columns.push(quote_ident(&p.name));
            values.push(format!("u.c{}::{}", arrays.len(), column_type(p.kind)));
        }
        if !self.shape.assigns_ids {
            let id = quote_ident(&self.def.source.id_column);
            columns.push(id.clone());
            values.push(format!("(SELECT COALESCE(max({id}), 0) FROM {}) + u.n", self.table.quoted()));
        }
        let names: Vec<String> = (1..=arrays.len()).map(|n| format!("c{n}")).collect();
        let source = if arrays.is_empty() {
            format!("generate_series(1, {}) AS u(n)", group.len())
        } else {
            format!("unnest({}) WITH ORDINALITY AS u({}, n)", arrays.join(", "), names.join(", "))
        };
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {source} ORDER BY u.n RETURNING {}",
            self.table.quoted(),
            columns.join(", "),
            values.join(", "),
            postgis::columns_sql(self.def, Some(self.shape.srid))
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if first.geometry.is_some() {
            query = query.bind(wkbs);
        }
        let query = texts.into_iter().fold(query, |q, t| q.bind(t));
        let rows =
            query.fetch_all(&mut *tx).await.map_err(Error::db(format!("adding features to layer {}", self.def.id)))?;
        rows.iter().map(|r| postgis::decode_row(self.def, r)).collect()
    }

    /// Sets what `changes` holds on row `id` and returns the stored feature (`None`: there is
    /// no such row, or it has no geometry).
    pub async fn update(&self, tx: &mut PgConnection, id: i64, changes: &Changes) -> Result<Option<Feature>> {
        let (mut set, mut wkb) = (Vec::new(), None);
        if let Some(g) = &changes.geometry {
            wkb = Some(self.wkb(g)?);
            set.push(format!("{} = {}", quote_ident(&self.def.source.geometry_column), self.stored_geometry("$1")));
        }
        for (i, _) in &changes.values {
            let p = &self.def.properties[*i];
            set.push(format!("{} = ${}::text::{}", quote_ident(&p.name), set.len() + 1, column_type(p.kind)));
        }
        if set.is_empty() {
            return self.current(tx, id).await;
        }
        let geom = quote_ident(&self.def.source.geometry_column);
        let sql = format!(
            "UPDATE {} SET {} WHERE {} = ${} AND {geom} IS NOT NULL RETURNING {}",
            self.table.quoted(),
            set.join(", "),
            quote_ident(&self.def.source.id_column),
            set.len() + 1,
            postgis::columns_sql(self.def, Some(self.shape.srid))
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(wkb) = wkb {
            query = query.bind(wkb);
        }
        let query = changes.values.iter().fold(query, |q, (_, v)| q.bind(text(v)));
        let row = query
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db(format!("changing feature {id} of {}", self.def.id)))?;
        row.map(|r| postgis::decode_row(self.def, &r)).transpose()
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

    /// The geometry as WKB, for the statement to store.
    fn wkb(&self, g: &Geometry) -> Result<Vec<u8>> {
        g.to_wkb(CoordDimensions::xy()).map_err(|e| Error::Geometry {
            layer: self.def.id.to_string(),
            id: 0,
            reason: e.to_string(),
        })
    }

    /// The SQL that stores the lon/lat WKB in `wkb` as the geometry column holds it.
    fn stored_geometry(&self, wkb: &str) -> String {
        let lonlat = format!("ST_SetSRID(ST_GeomFromWKB({wkb}), 4326)");
        let srid = self.shape.srid;
        let stored = if srid == 4326 { lonlat } else { format!("ST_Transform({lonlat}, {srid})") };
        if self.def.geometry.is_multi() { format!("ST_Multi({stored})") } else { stored }
    }
}

impl Changes {
    /// What a write of these changes sets: the geometry or not, and which properties.
    fn sets(&self) -> (bool, Vec<usize>) {
        (self.geometry.is_some(), self.values.iter().map(|(i, _)| *i).collect())
    }
}

/// A value as the text a statement casts to the column's type (`NULL` for null). Values travel
/// as text: exact for every type Bando has (numbers print as the shortest text that reads back
/// the same), and one bind type for all.
fn text(v: &Value) -> Option<String> {
    (!matches!(v, Value::Null)).then(|| v.to_string())
}
