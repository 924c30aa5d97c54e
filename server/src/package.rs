//! Tile packages for offline use: every non-empty tile of a zoom range, rendered by the very
//! renderer `/tiles` answers with, written as one PMTiles v3 archive or one MBTiles 1.3 file
//! (tiles gzip-compressed, identical tiles stored once, the TileJSON of the layers as its
//! metadata).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tiler::{BUFFER, EXTENT, TileCoord};

use crate::{layer::Layer, tiles};

/// What goes into a package.
pub struct Package {
    /// The layers, drawn together in every tile as `/tiles/a,b/…` draws them.
    pub layers: Vec<Arc<Layer>>,
    /// The first zoom.
    pub minzoom: u8,
    /// The last zoom.
    pub maxzoom: u8,
    /// Only tiles that meet this lon/lat box; the layers' extent without it.
    pub bbox: Option<[f64; 4]>,
}

/// The archive formats a package is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageFormat {
    /// PMTiles v3: one file, read over HTTP ranges or from disk.
    PmTiles,
    /// MBTiles 1.3: an SQLite database, as older servers and mobile SDKs read.
    MbTiles,
}

impl PackageFormat {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::PmTiles => "pmtiles",
            Self::MbTiles => "mbtiles",
        }
    }

    /// Its name.
    pub fn title(self) -> &'static str {
        match self {
            Self::PmTiles => "PMTiles",
            Self::MbTiles => "MBTiles",
        }
    }
}

/// What a package holds.
#[derive(Debug)]
pub struct Summary {
    /// Tiles with content.
    pub tiles: u64,
    /// The archive's size in bytes.
    pub bytes: u64,
}

/// What went wrong writing a package.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Nothing to draw.
    #[error("the layers have no features in the box asked for")]
    Empty,
    /// A tile did not render.
    #[error("rendering tile {tile}: {reason}")]
    Render {
        /// The tile.
        tile: TileCoord,
        /// The renderer's message.
        reason: String,
    },
    /// The archive could not be written.
    #[error("writing the archive: {0}")]
    Write(String),
}

/// Tiles rendered at once, across the cores, before they are written in order.
const BATCH: usize = 256;

impl Package {
    /// The lon/lat box the package covers: the layers' extent, cut to `bbox`.
    pub fn bounds(&self) -> Option<[f64; 4]> {
        let extent = crate::layer::extent_of(self.layers.iter().map(|l| &**l))?;
        let Some(b) = self.bbox else { return Some(extent) };
        let cut = [extent[0].max(b[0]), extent[1].max(b[1]), extent[2].min(b[2]), extent[3].min(b[3])];
        (cut[0] <= cut[2] && cut[1] <= cut[3]).then_some(cut)
    }

    /// Writes the archive to `path` in `format`; `progress` hears of every tile tried.
    pub fn write(&self, path: &Path, format: PackageFormat, progress: &dyn Fn(u64)) -> Result<Summary, PackageError> {
        let bounds = self.bounds().ok_or(PackageError::Empty)?;
        let metadata = self.tilejson(bounds);
        let tiles = match format {
            PackageFormat::PmTiles => self.write_pmtiles(path, bounds, &metadata, progress)?,
            PackageFormat::MbTiles => self.write_mbtiles(path, bounds, &metadata, progress)?,
        };
        let bytes = std::fs::metadata(path).map_err(|e| PackageError::Write(e.to_string()))?.len();
        Ok(Summary { tiles, bytes })
    }

    fn write_pmtiles(
        &self,
        path: &Path,
        bounds: [f64; 4],
        metadata: &serde_json::Value,
        progress: &dyn Fn(u64),
    ) -> Result<u64, PackageError> {
        let write = |e: pmtiles::PmtError| PackageError::Write(e.to_string());
        let [x, y] = middle(bounds);
        let file = std::fs::File::create(path).map_err(|e| PackageError::Write(e.to_string()))?;
        let mut out = pmtiles::PmTilesWriter::new(pmtiles::TileType::Mvt)
            .tile_compression(pmtiles::Compression::Gzip)
            .min_zoom(self.minzoom)
            .max_zoom(self.maxzoom)
            .bounds(bounds[0], bounds[1], bounds[2], bounds[3])
            .center(x, y)
            .center_zoom(self.center_zoom())
            .metadata(&metadata.to_string())
            .create(std::io::BufWriter::new(file))
            .map_err(write)?;
        let tiles = self.walk(bounds, progress, &mut |tile, gz| {
            let coord = pmtiles::TileCoord::new(tile.z(), tile.x(), tile.y()).map_err(write)?;
            out.add_raw_tile(coord, &gz).map_err(write)
        })?;
        out.finalize().map_err(write)?;
        Ok(tiles)
    }

    fn write_mbtiles(
        &self,
        path: &Path,
        bounds: [f64; 4],
        metadata: &serde_json::Value,
        progress: &dyn Fn(u64),
    ) -> Result<u64, PackageError> {
        let mut out = crate::mbtiles::MbTiles::create(path).map_err(|e| PackageError::Write(e.to_string()))?;
        let tiles = self.walk(bounds, progress, &mut |tile, gz| {
            out.add(tile, &gz).map_err(|e| PackageError::Write(e.to_string()))
        })?;
        let entries = crate::mbtiles::metadata(metadata);
        out.finish(&entries).map_err(|e| PackageError::Write(e.to_string()))?;
        Ok(tiles)
    }

    /// The zoom a viewer opens the package at.
    fn center_zoom(&self) -> u8 {
        self.minzoom.max(self.maxzoom.min(10))
    }

    /// The layers' TileJSON, narrowed to what the archive holds: the zooms and `bounds` that
    /// --minzoom, --maxzoom and --bbox may have cut, and their centre.
    fn tilejson(&self, bounds: [f64; 4]) -> serde_json::Value {
        let views: Vec<&Layer> = self.layers.iter().map(|l| &**l).collect();
        let mut metadata = crate::tilejson::describe(&views);
        metadata["minzoom"] = self.minzoom.into();
        metadata["maxzoom"] = self.maxzoom.into();
        metadata["bounds"] = serde_json::json!(bounds);
        let [x, y] = middle(bounds);
        metadata["center"] = serde_json::json!([x, y, self.center_zoom()]);
        metadata
    }

    /// Renders every tile with data, zoom by zoom in the order archives store them, and hands
    /// each (gzip-compressed) to `put`; returns how many there were.
    fn walk(
        &self,
        bounds: [f64; 4],
        progress: &dyn Fn(u64),
        put: &mut dyn FnMut(TileCoord, Vec<u8>) -> Result<(), PackageError>,
    ) -> Result<u64, PackageError> {
        let mut tiles = 0;
        let area = mercator_box(bounds);
        let mut zoom = self.first_tiles(area);
        for z in self.minzoom..=self.maxzoom {
            // Clustered: tile ids ascend through the archive, as readers find them fastest.
            zoom.sort_by_key(|t| {
                pmtiles::TileCoord::new(t.z(), t.x(), t.y()).map(|c| pmtiles::TileId::from(c).value()).ok()
            });
            for batch in zoom.chunks(BATCH) {
                for (tile, mvt) in batch.iter().zip(self.render_all(batch)?) {
                    progress(1);
                    let Some(mvt) = mvt else { continue };
                    put(*tile, mvt)?;
                    tiles += 1;
                }
            }
            if z < self.maxzoom {
                zoom = self.children(&zoom, area);
            }
        }
        Ok(tiles)
    }

    /// The tiles of the first zoom over `area` (Web Mercator) that have features in their window.
    fn first_tiles(&self, area: [f64; 4]) -> Vec<TileCoord> {
        let (Ok(nw), Ok(se)) = (
            TileCoord::containing(self.minzoom, area[0], area[3]),
            TileCoord::containing(self.minzoom, area[2], area[1]),
        ) else {
            return Vec::new();
        };
        // One tile more on every side: a neighbour's buffer may reach a feature near the edge.
        let last = (1u32 << self.minzoom) - 1;
        let (xs, ys) =
            (nw.x().saturating_sub(1)..=(se.x() + 1).min(last), nw.y().saturating_sub(1)..=(se.y() + 1).min(last));
        let all = xs.flat_map(|x| ys.clone().map(move |y| (x, y)));
        all.filter_map(|(x, y)| TileCoord::new(u32::from(self.minzoom), x, y).ok())
            .filter(|t| self.has_data(*t, area))
            .collect()
    }

    /// The children of `tiles` that have features in their window. A tile whose window is empty
    /// has empty children (theirs lie inside it), so nothing else can hold data.
    fn children(&self, tiles: &[TileCoord], area: [f64; 4]) -> Vec<TileCoord> {
        let z = tiles.first().map_or(0, |t| u32::from(t.z()) + 1);
        tiles
            .iter()
            .flat_map(|t| (0..4).map(move |i| (t.x() * 2 + i % 2, t.y() * 2 + i / 2)))
            .filter_map(|(x, y)| TileCoord::new(z, x, y).ok())
            .filter(|t| self.has_data(*t, area))
            .collect()
    }

    /// Whether any layer has a feature in the tile's buffered window, and the window meets
    /// `area`.
    fn has_data(&self, tile: TileCoord, area: [f64; 4]) -> bool {
        let window = tile.buffered_bounds(EXTENT, BUFFER);
        let meets = window[0] <= area[2] && window[2] >= area[0] && window[1] <= area[3] && window[3] >= area[1];
        meets && self.layers.iter().any(|l| l.index.in_mercator_box(window).next().is_some())
    }

    /// The MVT of each tile (`None` when empty), rendered and compressed on every core (the
    /// archive's writer would compress them one after another). Tiles differ in cost by orders
    /// of magnitude, so each thread takes the next tile when it is done with one: with the batch
    /// cut into equal halves, a core idled while the other finished the denser half.
    fn render_all(&self, batch: &[TileCoord]) -> Result<Vec<Option<Vec<u8>>>, PackageError> {
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).min(batch.len());
        let next = AtomicUsize::new(0);
        let render = |tile: TileCoord| {
            let mvt = tiles::render(&self.layers, tile).map(|mvt| gzip(&mvt)).transpose();
            mvt.map_err(|e| PackageError::Render { tile, reason: e.to_string() })
        };
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let slot = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&tile) = batch.get(slot) else { break };
                            done.push((slot, render(tile)?));
                        }
                        Ok::<_, PackageError>(done)
                    })
                })
                .collect();
            let mut all = vec![None; batch.len()];
            for worker in workers {
                let done = worker.join().map_err(|_| PackageError::Write("a render thread panicked".into()))??;
                for (slot, tile) in done {
                    all[slot] = tile;
                }
            }
            Ok(all)
        })
    }
}

/// Gzip at the default level: a package is written once and copied many times.
fn gzip(mvt: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(mvt.len() / 3), flate2::Compression::default());
    gz.write_all(mvt)?;
    gz.finish()
}

/// The middle of a lon/lat box.
fn middle(b: [f64; 4]) -> [f64; 2] {
    [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]
}

/// A lon/lat box in Web Mercator metres.
fn mercator_box(b: [f64; 4]) -> [f64; 4] {
    use layers::mercator::to_mercator;
    let (min, max) =
        (to_mercator(geo_types::coord! { x: b[0], y: b[1] }), to_mercator(geo_types::coord! { x: b[2], y: b[3] }));
    [min.x, min.y, max.x, max.y]
}
