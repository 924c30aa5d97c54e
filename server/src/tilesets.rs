//! Tile packages served as they are: a PMTiles archive configured as `[tilesets.ID]` answers
//! `/tiles/{ID}/{z}/{x}/{y}.mvt` and `/tiles/{ID}.json` from its own tiles (so a tourism app,
//! or a server with no database, can run from a package made by `bando export`), and is
//! offered whole at `/tilesets/{ID}.pmtiles`, in ranges as PMTiles readers fetch it, from the
//! tile sets of the layers it packages.

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

use crate::{error::ApiError, tiles::Rendered};

/// `[tilesets.ID]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TilesetConfig {
    /// The PMTiles archive (vector tiles); relative to the configuration file.
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
    reader: AsyncPmTilesReader<FileBackend, MokaCache>,
    file: Arc<std::fs::File>,
    /// Its size in bytes.
    pub bytes: u64,
    /// The archive's metadata (TileJSON members: name, attribution, vector_layers…).
    metadata: Value,
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
        let file = Arc::new(std::fs::File::open(&config.file).map_err(|e| e.to_string())?);
        let bytes = file.metadata().map_err(|e| e.to_string())?.len();
        let reader = AsyncPmTilesReader::try_from_cached_source(FileBackend(Arc::clone(&file)), directory_cache())
            .await
            .map_err(|e| e.to_string())?;
        let header = reader.get_header();
        if header.tile_type != TileType::Mvt {
            return Err(format!("holds {:?} tiles; only vector tiles are served", header.tile_type));
        }
        if !matches!(header.tile_compression, Compression::Gzip | Compression::None) {
            return Err(format!("its tiles are {:?}-compressed; gzip or none is served", header.tile_compression));
        }
        let text = reader.get_metadata().await.map_err(|e| e.to_string())?;
        let metadata = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Self { id: id.to_owned(), config, reader, file, bytes, metadata })
    }

    /// The zooms it holds.
    pub fn zooms(&self) -> (u8, u8) {
        let h = self.reader.get_header();
        (h.min_zoom, h.max_zoom)
    }

    /// The tile at `t` as stored, gzip-compressed; an empty tile where the package has none.
    pub async fn tile(&self, t: TileCoord) -> Result<Rendered, ApiError> {
        let (min, max) = self.zooms();
        if !(min..=max).contains(&t.z()) {
            return Err(ApiError::NotFound(format!("zoom {}: the package {} holds {min}-{max}", t.z(), self.id)));
        }
        let coord = pmtiles::TileCoord::new(t.z(), t.x(), t.y()).map_err(|e| ApiError::NotFound(e.to_string()))?;
        let stored = self.reader.get_tile(coord).await.map_err(|e| ApiError::Internal(format!("{}: {e}", self.id)))?;
        let Some(stored) = stored.filter(|b| !b.is_empty()) else {
            return Ok(Rendered { gzip: None, etag: "\"empty\"".into() });
        };
        let gzip = match self.reader.get_header().tile_compression {
            Compression::Gzip => stored,
            _ => gzip(&stored).map_err(|e| ApiError::Internal(format!("compressing a tile: {e}")))?.into(),
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        gzip.hash(&mut hasher);
        Ok(Rendered { gzip: Some(gzip), etag: format!("\"p-{:016x}\"", hasher.finish()) })
    }

    /// Its TileJSON 3.0.0: the package's own metadata, with this server's tile URL.
    pub fn tilejson(&self, base: &str) -> Value {
        let h = self.reader.get_header();
        let mut doc = json!({
            "tilejson": "3.0.0",
            "name": self.config.title,
            "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", self.id)],
            "minzoom": h.min_zoom,
            "maxzoom": h.max_zoom,
            "bounds": [h.min_longitude, h.min_latitude, h.max_longitude, h.max_latitude],
            "center": [h.center_longitude, h.center_latitude, h.center_zoom],
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

fn gzip(mvt: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(mvt)?;
    encoder.finish()
}
