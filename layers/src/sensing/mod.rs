//! Environmental monitoring through the OGC SensorThings API 1.1: its data model in PostGIS
//! (`sta.*`), the query options, reading and creating entities, observations in batches, and
//! the alerts that thresholds raise from them.

pub mod alerts;
pub mod group_commit;
pub mod model;
pub mod observations;
pub mod odata;
pub mod read;
pub mod sql;
pub mod write;

pub use model::EntitySet;
pub use odata::Query;

/// The id of the monitoring stations layer, which its first station publishes (migration 0011).
pub const STATIONS_LAYER: &str = "monitoring_stations";

/// The table of the monitoring stations layer.
pub fn stations_table() -> crate::catalog::TableRef {
    crate::catalog::TableRef { schema: "sta".into(), table: "stations".into() }
}

/// Creates the observation partitions of the coming months (and of the last one, for late
/// readings); returns how many were made.
pub async fn partitions(pool: &sqlx::PgPool) -> crate::Result<i32> {
    let row: (i32,) = sqlx::query_as("SELECT sta.observation_partitions(now() - interval '1 month', 4)")
        .fetch_one(pool)
        .await
        .map_err(crate::Error::db("creating observation partitions"))?;
    Ok(row.0)
}

/// Records the access level that the stations and alerts layers are published with.
pub async fn configure(pool: &sqlx::PgPool, access: crate::AccessLevel) -> crate::Result<()> {
    sqlx::query("UPDATE sta.settings SET access = $1")
        .bind(crate::store::postgis::access_name(access))
        .execute(pool)
        .await
        .map_err(crate::Error::db("recording the monitoring settings"))?;
    Ok(())
}
