//! MBTiles 1.3 files: the tiles in an SQLite database, identical tiles stored once (the
//! `map`/`images` layout with a `tiles` view, as the specification allows) when written, and
//! any MBTiles file of vector tiles read back tile by tile when served.
//!
//! Written and read through GDAL's SQLite driver: GDAL is already linked for imports and
//! downloads, and an SQLite crate would build a second SQLite for a handful of statements.

use std::{
    collections::HashSet,
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::Mutex,
};

use gdal::{
    Dataset, DatasetOptions, DriverManager, GdalOpenFlags,
    errors::GdalError,
    vector::{LayerAccess, sql::Dialect},
};
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
        // The tileset's own revision (MBTiles 1.3 §metadata), not the specification's.
        ("version", "1".to_owned()),
        ("minzoom", text("minzoom")),
        ("maxzoom", text("maxzoom")),
        ("bounds", text("bounds")),
        ("center", text("center")),
        ("json", layers.to_string()),
    ]
}

/// An MBTiles file open for reading, with a few connections kept for the requests to share
/// (a GDAL dataset serves one thread at a time).
pub struct MbTilesReader {
    path: PathBuf,
    idle: Mutex<Vec<Dataset>>,
}

/// Connections kept open between requests, at most.
const IDLE_CONNECTIONS: usize = 8;

impl MbTilesReader {
    /// Opens the file and reads its `metadata` table, rows as they are stored.
    pub fn open(path: &Path) -> Result<(Self, Vec<(String, String)>), GdalError> {
        let reader = Self { path: path.to_owned(), idle: Mutex::new(Vec::new()) };
        let metadata = reader.rows("SELECT name, value FROM metadata", 2)?;
        let metadata =
            metadata.into_iter().map(|mut r| (std::mem::take(&mut r[0]), std::mem::take(&mut r[1]))).collect();
        Ok((reader, metadata))
    }

    /// The lowest and highest zoom holding tiles, for a file whose metadata does not say.
    pub fn zooms(&self) -> Result<Option<(u8, u8)>, GdalError> {
        let rows = self.rows("SELECT min(zoom_level), max(zoom_level) FROM tiles", 2)?;
        let zoom = |s: &str| s.parse::<u8>().ok();
        Ok(rows.first().and_then(|r| Some((zoom(&r[0])?, zoom(&r[1])?))))
    }

    /// The stored bytes of the XYZ tile `tile`, if the file holds it (blocking).
    pub fn tile(&self, tile: TileCoord) -> Result<Option<Vec<u8>>, GdalError> {
        let row = (1u32 << tile.z()) - 1 - tile.y();
        // Hex, because the gdal crate reads no binary fields; only integers go into the SQL.
        let sql = format!(
            "SELECT hex(tile_data) FROM tiles WHERE zoom_level = {} AND tile_column = {} AND tile_row = {row}",
            tile.z(),
            tile.x()
        );
        let rows = self.rows(&sql, 1)?;
        Ok(rows.first().map(|r| unhex(&r[0])))
    }

    /// Runs `sql` on an idle connection (or a new one), giving each row's first `columns`
    /// fields as text.
    fn rows(&self, sql: &str, columns: usize) -> Result<Vec<Vec<String>>, GdalError> {
        let taken = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let db = match taken {
            Some(db) => db,
            // The prefix makes the SQLite driver take an `.mbtiles` file, which it leaves to
            // the MBTiles driver (tiles decoded into features) otherwise.
            None => Dataset::open_ex(
                format!("SQLITE:{}", self.path.display()),
                DatasetOptions {
                    open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
                    allowed_drivers: Some(&["SQLite"]),
                    ..Default::default()
                },
            )?,
        };
        let mut out = Vec::new();
        if let Some(mut result) = db.execute_sql(sql, None, Dialect::DEFAULT)? {
            for feature in result.features() {
                let field = |i| feature.field_as_string(i).ok().flatten().unwrap_or_default();
                out.push((0..columns).map(field).collect());
            }
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_CONNECTIONS
        {
            idle.push(db);
        }
        Ok(out)
    }
}

fn unhex(text: &str) -> Vec<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    text.as_bytes().chunks_exact(2).map(|p| digit(p[0]) << 4 | digit(p[1])).collect()
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
