//! MBTiles 1.3 files: the tiles in an SQLite database, identical tiles stored once (the
//! `map`/`images` layout with a `tiles` view, as the specification allows).
//!
//! Written through GDAL's SQLite driver: GDAL is already linked for imports and downloads, and
//! an SQLite crate would build a second SQLite for a handful of statements.

use std::{collections::HashSet, fmt::Write as _, path::Path};

use gdal::{DriverManager, errors::GdalError, vector::sql::Dialect};
use sha2::{Digest, Sha256};
use tiler::TileCoord;

const SCHEMA: [&str; 6] = [
    "CREATE TABLE metadata (name text NOT NULL PRIMARY KEY, value text)",
    "CREATE TABLE images (tile_id text NOT NULL PRIMARY KEY, tile_data blob NOT NULL)",
    "CREATE TABLE map (zoom_level integer NOT NULL, tile_column integer NOT NULL, tile_row integer NOT NULL, \
     tile_id text NOT NULL REFERENCES images (tile_id))",
    "CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row)",
    "CREATE VIEW tiles AS SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column, \
     map.tile_row AS tile_row, images.tile_data AS tile_data FROM map JOIN images ON images.tile_id = map.tile_id",
    "BEGIN",
];

/// An MBTiles file being written, in one transaction.
pub struct MbTiles {
    db: gdal::Dataset,
    stored: HashSet<[u8; 32]>,
}

impl MbTiles {
    /// Creates the file and its tables.
    pub fn create(path: &Path) -> Result<Self, GdalError> {
        let driver = DriverManager::get_driver_by_name("SQLite")?;
        // No OGR metadata tables: the file is MBTiles, not an OGR data source.
        let options = gdal::raster::RasterCreationOptions::from_iter(["METADATA=NO"]);
        let db = driver.create_with_band_type_with_options::<u8, _>(path, 0, 0, 0, &options)?;
        let out = Self { db, stored: HashSet::new() };
        for statement in SCHEMA {
            out.execute(statement)?;
        }
        Ok(out)
    }

    /// Adds a (compressed) tile; `tile` is in XYZ, stored in MBTiles' TMS rows.
    pub fn add(&mut self, tile: TileCoord, data: &[u8]) -> Result<(), GdalError> {
        let digest: [u8; 32] = Sha256::digest(data).into();
        let id = hex(&digest);
        if self.stored.insert(digest) {
            self.execute(&format!("INSERT INTO images (tile_id, tile_data) VALUES ('{id}', X'{}')", hex(data)))?;
        }
        let row = (1u32 << tile.z()) - 1 - tile.y();
        self.execute(&format!("INSERT INTO map VALUES ({}, {}, {row}, '{id}')", tile.z(), tile.x()))
    }

    /// Writes the metadata table and commits.
    pub fn finish(self, metadata: &[(&str, String)]) -> Result<(), GdalError> {
        for (name, value) in metadata {
            self.execute(&format!("INSERT INTO metadata VALUES ({}, {})", quote(name), quote(value)))?;
        }
        self.execute("COMMIT")?;
        self.db.close()
    }

    fn execute(&self, sql: &str) -> Result<(), GdalError> {
        self.db.execute_sql(sql, None, Dialect::DEFAULT).map(drop)
    }
}

/// The `metadata` rows for a package described by its TileJSON (which gives the package's
/// zooms, bounds and centre).
pub fn metadata(tilejson: &serde_json::Value) -> Vec<(&'static str, String)> {
    let text = |key: &str| match tilejson.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(values)) => values.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let layers = serde_json::json!({ "vector_layers": tilejson.get("vector_layers").cloned().unwrap_or_default() });
    vec![
        ("name", text("name")),
        ("description", text("description")),
        ("attribution", text("attribution")),
        ("format", "pbf".to_owned()),
        ("type", "overlay".to_owned()),
        ("version", "1.3".to_owned()),
        ("minzoom", text("minzoom")),
        ("maxzoom", text("maxzoom")),
        ("bounds", text("bounds")),
        ("center", text("center")),
        ("json", layers.to_string()),
    ]
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// An SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
