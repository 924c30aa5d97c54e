//! Tile packages served as they are: a PMTiles archive or an MBTiles file configured as
//! `[tilesets.ID]` answers `/tiles/{ID}/{z}/{x}/{y}.mvt` and `/tiles/{ID}.json` from its own
//! tiles (so a tourism app, or a server with no database, can run from a package made by
//! `bando export` or by another tiler), and is offered whole at `/tilesets/{ID}.pmtiles` (or
//! `.mbtiles`), in ranges as PMTiles readers fetch it, from the tile sets of the layers it
//! packages.

use std::{
    collections::BTreeMap,
    hash::{Hash, Hasher},
    io::Write as _,
    os::unix::fs::FileExt,
    path::PathBuf,
    sync::Arc,
};

use bytes::Bytes;
use layers::AccessLevel;
use pmtiles::{AsyncBackend, AsyncPmTilesReader, BackendResponse, Compression, MokaCache, PmtError, TileType};
use serde::Deserialize;
use serde_json::{Value, json};
use tiler::TileCoord;

use crate::{error::ApiError, mbtiles::MbTilesReader, media, package::PackageFormat, tiles::Rendered};

/// `[tilesets.ID]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TilesetConfig {
    /// The package of vector tiles, a PMTiles archive (`.pmtiles`) or an MBTiles file
    /// (`.mbtiles`); relative to the configuration file.
    pub file: PathBuf,
    /// Its title.
    pub title: String,
    /// Who may read it.
    pub access: AccessLevel,
    /// The layers it packages: their tile sets offer it for download.
    #[serde(default)]
    pub layers: Vec<String>,
}

/// Reads the archive with positioned reads on an open file rather than a memory map: a map
/// of a file that is replaced in place would crash the process on the next read (SIGBUS),
/// where a read only fails.
struct FileBackend(Arc<std::fs::File>);

impl AsyncBackend for FileBackend {
    async fn read(&self, offset: usize, length: usize) -> pmtiles::PmtResult<BackendResponse> {
        let file = Arc::clone(&self.0);
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; length];
            let mut filled = 0;
            while filled < length {
                match file.read_at(&mut buf[filled..], (offset + filled) as u64)? {
                    0 => break,
                    n => filled += n,
                }
            }
            buf.truncate(filled);
            Ok::<_, std::io::Error>(buf)
        })
        .await
        .map_err(|e| PmtError::Reading(std::io::Error::other(e)))??;
        Ok(BackendResponse::new(Bytes::from(read)))
    }
}

/// Leaf directories kept decoded, at most: a package's directories grow with its tiles, and a
/// crawl over every tile must not hold them all.
const CACHED_DIRECTORIES: u64 = 256;

fn directory_cache() -> MokaCache {
    MokaCache { cache: moka::future::Cache::new(CACHED_DIRECTORIES) }
}

/// An open package.
pub struct Tileset {
    /// Its id, the key of `[tilesets]`.
    pub id: String,
    /// What the configuration says of it.
    pub config: TilesetConfig,
    /// The kind of file.
    pub format: PackageFormat,
    archive: Archive,
    file: Arc<std::fs::File>,
    /// Its size in bytes.
    pub bytes: u64,
    /// What its header or metadata table says of its tiles.
    described: Described,
    /// The archive's metadata (TileJSON members: name, attribution, vector_layers…).
    metadata: Value,
}

enum Archive {
    PmTiles(Box<AsyncPmTilesReader<FileBackend, MokaCache>>),
    /// With the turns to read it: each read holds an SQLite connection on a blocking thread,
    /// so that a crowd of requests opens no more than [`MBTILES_READERS`] of them.
    MbTiles(Arc<MbTilesReader>, tokio::sync::Semaphore),
}

/// Reads of one MBTiles file at once, at most.
const MBTILES_READERS: usize = 8;

/// A package's zooms, bounds and centre (longitude, latitude, zoom).
struct Described {
    zooms: (u8, u8),
    bounds: [f64; 4],
    center: [f64; 3],
}

/// Every configured package, by id.
pub type Tilesets = BTreeMap<String, Arc<Tileset>>;

/// Opens every configured package; the first that cannot be read stops the start.
pub async fn open_all(configs: &BTreeMap<String, TilesetConfig>) -> Result<Tilesets, String> {
    let mut out = BTreeMap::new();
    for (id, config) in configs {
        let tileset = Tileset::open(id, config.clone())
            .await
            .map_err(|e| format!("tileset `{id}`: {}: {e}", config.file.display()))?;
        out.insert(id.clone(), Arc::new(tileset));
    }
    Ok(out)
}

impl Tileset {
    async fn open(id: &str, config: TilesetConfig) -> Result<Self, String> {
        let format = match config.file.extension().and_then(|e| e.to_str()) {
            Some("pmtiles") => PackageFormat::PmTiles,
            Some("mbtiles") => PackageFormat::MbTiles,
            _ => return Err("a package is a .pmtiles or an .mbtiles file".into()),
        };
        let file = Arc::new(std::fs::File::open(&config.file).map_err(|e| e.to_string())?);
        let bytes = file.metadata().map_err(|e| e.to_string())?.len();
        let (archive, described, metadata) = match format {
            PackageFormat::PmTiles => open_pmtiles(&file).await?,
            PackageFormat::MbTiles => {
                let path = config.file.clone();
                tokio::task::spawn_blocking(move || open_mbtiles(&path)).await.map_err(|e| e.to_string())??
            }
        };
        Ok(Self { id: id.to_owned(), config, format, archive, file, bytes, described, metadata })
    }

    /// The zooms it holds.
    pub fn zooms(&self) -> (u8, u8) {
        self.described.zooms
    }

    /// Its file's name as offered for download.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.id, self.format.extension())
    }

    /// Its file's media type.
    pub fn media_type(&self) -> &'static str {
        match self.format {
            PackageFormat::PmTiles => media::PMTILES,
            PackageFormat::MbTiles => media::MBTILES,
        }
    }

    /// The tile at `t` as stored, gzip-compressed; an empty tile where the package has none.
    pub async fn tile(&self, t: TileCoord) -> Result<Rendered, ApiError> {
        let (min, max) = self.zooms();
        if !(min..=max).contains(&t.z()) {
            return Err(ApiError::NotFound(format!("zoom {}: the package {} holds {min}-{max}", t.z(), self.id)));
        }
        let failed = |e: String| ApiError::Internal(format!("{}: {e}", self.id));
        let stored: Option<Bytes> = match &self.archive {
            Archive::PmTiles(reader) => {
                let coord =
                    pmtiles::TileCoord::new(t.z(), t.x(), t.y()).map_err(|e| ApiError::NotFound(e.to_string()))?;
                reader.get_tile(coord).await.map_err(|e| failed(e.to_string()))?
            }
            Archive::MbTiles(reader, readers) => {
                let _turn = readers.acquire().await.map_err(|e| failed(e.to_string()))?;
                let reader = Arc::clone(reader);
                let read =
                    tokio::task::spawn_blocking(move || reader.tile(t)).await.map_err(|e| failed(e.to_string()))?;
                read.map_err(|e| failed(e.to_string()))?.map(Bytes::from)
            }
        };
        let Some(stored) = stored.filter(|b| !b.is_empty()) else {
            return Ok(Rendered { gzip: None, etag: "\"empty\"".into() });
        };
        // Tiles are served gzip-compressed; packages may hold them either way, and MBTiles
        // files do not say which.
        let gzip = if stored.starts_with(&[0x1f, 0x8b]) {
            stored
        } else {
            gzip(&stored).map_err(|e| ApiError::Internal(format!("compressing a tile: {e}")))?.into()
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        gzip.hash(&mut hasher);
        Ok(Rendered { gzip: Some(gzip), etag: format!("\"p-{:016x}\"", hasher.finish()) })
    }

    /// Its TileJSON 3.0.0: the package's own metadata, with this server's tile URL.
    pub fn tilejson(&self, base: &str) -> Value {
        let Described { zooms: (min, max), bounds, center } = &self.described;
        let mut doc = json!({
            "tilejson": "3.0.0",
            "name": self.config.title,
            "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", self.id)],
            "minzoom": min,
            "maxzoom": max,
            "bounds": bounds,
            "center": center,
            "vector_layers": self.metadata.get("vector_layers").cloned().unwrap_or_else(|| json!([])),
        });
        for key in ["attribution", "description", "version"] {
            if let Some(v) = self.metadata.get(key) {
                doc[key] = v.clone();
            }
        }
        doc
    }

    /// Up to `length` bytes of the archive from `offset`.
    pub async fn read(&self, offset: u64, length: u64) -> Result<Bytes, ApiError> {
        let file = Arc::clone(&self.file);
        let length = usize::try_from(length).map_err(|_| ApiError::BadRequest("range too long".into()))?;
        let backend = FileBackend(file);
        let offset = usize::try_from(offset).map_err(|_| ApiError::BadRequest("range too far".into()))?;
        backend
            .read(offset, length)
            .await
            .map(|r| r.bytes)
            .map_err(|e| ApiError::Internal(format!("reading {}: {e}", self.id)))
    }
}

async fn open_pmtiles(file: &Arc<std::fs::File>) -> Result<(Archive, Described, Value), String> {
    let reader = AsyncPmTilesReader::try_from_cached_source(FileBackend(Arc::clone(file)), directory_cache())
        .await
        .map_err(|e| e.to_string())?;
    let h = reader.get_header();
    if h.tile_type != TileType::Mvt {
        return Err(format!("holds {:?} tiles; only vector tiles are served", h.tile_type));
    }
    if !matches!(h.tile_compression, Compression::Gzip | Compression::None) {
        return Err(format!("its tiles are {:?}-compressed; gzip or none is served", h.tile_compression));
    }
    let described = Described {
        zooms: (h.min_zoom, h.max_zoom),
        bounds: [h.min_longitude, h.min_latitude, h.max_longitude, h.max_latitude],
        center: [h.center_longitude, h.center_latitude, f64::from(h.center_zoom)],
    };
    let text = reader.get_metadata().await.map_err(|e| e.to_string())?;
    let metadata = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((Archive::PmTiles(Box::new(reader)), described, metadata))
}

/// Opens an MBTiles file, reading what TileJSON needs from its `metadata` rows (MBTiles 1.3:
/// `bounds` and `center` as comma-separated numbers, the layers in `json`), with the zooms
/// from the tiles where the rows do not give them.
fn open_mbtiles(path: &std::path::Path) -> Result<(Archive, Described, Value), String> {
    let (reader, rows) = MbTilesReader::open(path).map_err(|e| e.to_string())?;
    let row = |name: &str| rows.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if let Some(format) = row("format").filter(|f| *f != "pbf") {
        return Err(format!("holds {format} tiles; only vector tiles (pbf) are served"));
    }
    let numbers = |name: &str| -> Vec<f64> {
        row(name).map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect()).unwrap_or_default()
    };
    let zoom = |name: &str| row(name).and_then(|v| v.trim().parse::<u8>().ok());
    let zooms = match (zoom("minzoom"), zoom("maxzoom")) {
        (Some(min), Some(max)) => (min, max),
        _ => reader.zooms().map_err(|e| e.to_string())?.ok_or("holds no tiles")?,
    };
    let bounds = <[f64; 4]>::try_from(numbers("bounds")).unwrap_or([-180.0, -85.051_129, 180.0, 85.051_129]);
    let center = <[f64; 3]>::try_from(numbers("center")).unwrap_or([
        (bounds[0] + bounds[2]) / 2.0,
        (bounds[1] + bounds[3]) / 2.0,
        f64::from(zooms.0),
    ]);
    let mut metadata = row("json").and_then(|j| serde_json::from_str::<Value>(j).ok()).unwrap_or_else(|| json!({}));
    // Not `version`: MBTiles' is the tileset's revision as a number, TileJSON's a semver.
    for key in ["attribution", "description"] {
        if let (Some(v), Some(doc)) = (row(key), metadata.as_object_mut()) {
            doc.insert(key.to_owned(), json!(v));
        }
    }
    let readers = tokio::sync::Semaphore::new(MBTILES_READERS);
    Ok((Archive::MbTiles(Arc::new(reader), readers), Described { zooms, bounds, center }, metadata))
}

fn gzip(mvt: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(mvt)?;
    encoder.finish()
}
