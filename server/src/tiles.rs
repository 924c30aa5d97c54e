//! Vector tiles from the in-memory index: rendering (the glue between `layers` and `tiler`) and
//! the tile cache, rendered tiles kept gzip-compressed in memory (`moka`), bounded in bytes.
//!
//! Tiles are compressed once, when rendered, and served compressed to every client that accepts
//! gzip (all browsers); the rare client that does not gets them decompressed. The key holds
//! each layer's version, so a reloaded layer's old tiles are never served again and age out.
//! A change applied from the change log keeps the version and drops exactly the cached tiles
//! whose buffered window the old or the new geometry touches. Concurrent requests for the same
//! missing tile wait for one render.

use std::{
    borrow::Cow,
    convert::Infallible,
    fmt::Write as _,
    hash::{Hash, Hasher},
    io::{Read, Write},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use layers::{GeometryType, Value};
use tiler::{BUFFER, EXTENT, TagValue, TileBuilder, TileCoord, budget};

use crate::{
    compute::{Compute, Deadline},
    error::ApiError,
    feature_view::{Columns, FeatureView},
    layer::Layer,
};

/// The only tiling scheme served.
pub const TMS_ID: &str = "WebMercatorQuad";
/// Its registered URI.
pub const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
/// How long after a change its tiles are dropped a second time: longer than a render takes.
const AGAIN_AFTER: Duration = Duration::from_secs(2);

/// A rendered tile: gzip bytes and a strong ETag, or nothing for an empty tile.
#[derive(Debug)]
pub struct Rendered {
    /// The MVT, gzip-compressed; `None` for an empty tile.
    pub gzip: Option<Bytes>,
    /// Quoted strong ETag of the uncompressed tile.
    pub etag: String,
}

impl Rendered {
    /// The uncompressed MVT bytes.
    pub fn identity(&self) -> Result<Bytes, ApiError> {
        let Some(gz) = &self.gzip else { return Ok(Bytes::new()) };
        let mut out = Vec::with_capacity(gz.len() * 4);
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .map_err(|e| ApiError::Internal(format!("decompressing a cached tile: {e}")))?;
        Ok(out.into())
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct TileKey {
    layers: Vec<(String, u64)>,
    tile: TileCoord,
}

/// Hit and miss counters, exported on `/metrics`.
#[derive(Default)]
pub struct CacheStats {
    /// Tiles served from the cache.
    pub hits: AtomicU64,
    /// Tiles rendered.
    pub misses: AtomicU64,
}

/// Renders tiles, through the cache when one is configured.
pub struct TileCache {
    cache: Option<moka::future::Cache<TileKey, Arc<Rendered>>>,
    compute: Compute,
    /// Counters.
    pub stats: CacheStats,
}

impl TileCache {
    /// A cache of at most `max_bytes` of compressed tiles (0 turns caching off), rendering on
    /// `compute`.
    pub fn new(max_bytes: u64, compute: Compute) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .support_invalidation_closures()
                .weigher(|_, v: &Arc<Rendered>| {
                    u32::try_from(v.gzip.as_ref().map_or(0, Bytes::len) + 64).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self { cache, compute, stats: CacheStats::default() }
    }

    /// The tile of these layers, from the cache or freshly rendered: 404 when the tile's zoom is
    /// outside every layer's zoom range.
    pub async fn tile(
        &self,
        layers: Vec<Arc<Layer>>,
        tile: TileCoord,
        deadline: Deadline,
    ) -> Result<Arc<Rendered>, ApiError> {
        if !layers.iter().any(|l| l.serves_zoom(tile.z())) {
            let ranges: Vec<String> =
                layers.iter().map(|l| format!("{} {}-{}", l.def.id, l.def.minzoom, l.def.maxzoom)).collect();
            return Err(ApiError::NotFound(format!(
                "zoom {} is outside the zoom range ({})",
                tile.z(),
                ranges.join(", ")
            )));
        }
        let Some(cache) = &self.cache else {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            return render_compressed(&self.compute, layers, tile, deadline).await.map(Arc::new);
        };
        let key = TileKey { layers: layers.iter().map(|l| (l.def.id.to_string(), l.version)).collect(), tile };
        // A tile rendered from a layer that a change superseded meanwhile is answered but not
        // cached: the change's invalidation may already have run.
        let mut rendered_here = None;
        let entry = cache
            .entry(key)
            .or_optionally_insert_with(async {
                let rendered = render_compressed(&self.compute, layers.clone(), tile, deadline).await.map(Arc::new);
                let cached = rendered.as_ref().ok().filter(|_| !layers.iter().any(|l| l.is_superseded())).cloned();
                rendered_here = Some(rendered);
                cached
            })
            .await;
        let counter = if rendered_here.is_some() { &self.stats.misses } else { &self.stats.hits };
        counter.fetch_add(1, Ordering::Relaxed);
        match (entry, rendered_here) {
            (Some(entry), _) => Ok(entry.into_value()),
            (None, Some(rendered)) => rendered,
            // Another request's render was not cached: render this one apart.
            (None, None) => render_compressed(&self.compute, layers, tile, deadline).await.map(Arc::new),
        }
    }

    /// Drops the cached tiles of this version of the layer whose buffered window meets one of
    /// the Web Mercator `envelopes` (old and new geometries of changed features), at every
    /// zoom: now, before the change is announced, and once more a little later, since a render
    /// that started before the change may still be on its way into the cache.
    pub async fn forget_area(&self, layer: &Layer, envelopes: Vec<[f64; 4]>) {
        let Some(cache) = self.cache.clone() else { return };
        if envelopes.is_empty() {
            return;
        }
        let (id, version) = (layer.def.id.to_string(), layer.version);
        let scan = move |cache: moka::future::Cache<TileKey, Arc<Rendered>>| {
            let stale: Vec<Arc<TileKey>> = cache
                .iter()
                .map(|(key, _)| key)
                .filter(|key| key.layers.iter().any(|(l, v)| *l == id && *v == version))
                .filter(|key| {
                    let w = key.tile.buffered_bounds(EXTENT, BUFFER);
                    envelopes.iter().any(|e| e[0] <= w[2] && e[2] >= w[0] && e[1] <= w[3] && e[3] >= w[1])
                })
                .collect();
            async move {
                for key in stale {
                    cache.invalidate(&*key).await;
                }
            }
        };
        scan(cache.clone()).await;
        tokio::spawn(async move {
            tokio::time::sleep(AGAIN_AFTER).await;
            scan(cache).await;
        });
    }

    /// Drops the cached tiles that hold this version of the layer. New versions have new keys
    /// anyway; this frees the memory now rather than when the entries age out.
    pub fn forget(&self, layer: &Layer) {
        let Some(cache) = &self.cache else { return };
        let (id, version) = (layer.def.id.to_string(), layer.version);
        let dropped =
            cache.invalidate_entries_if(move |key, _| key.layers.iter().any(|(l, v)| *l == id && *v == version));
        if let Err(e) = dropped {
            tracing::warn!("could not drop cached tiles: {e}");
        }
    }

    /// A tile of another grid than WebMercatorQuad, rendered by `render` and compressed on the
    /// compute pool. Not cached: the cache forgets changed areas by WebMercatorQuad tiles.
    pub async fn uncached(
        &self,
        deadline: Deadline,
        render: impl FnOnce() -> Result<Option<Vec<u8>>, ApiError> + Send + 'static,
    ) -> Result<Rendered, ApiError> {
        self.compute.run(deadline, move || compressed(render()?)).await
    }

    /// Tiles and bytes held.
    pub fn usage(&self) -> (u64, u64) {
        self.cache.as_ref().map_or((0, 0), |c| (c.entry_count(), c.weighted_size()))
    }
}

/// Renders and compresses on the compute pool: both are CPU work.
async fn render_compressed(
    compute: &Compute,
    layers: Vec<Arc<Layer>>,
    tile: TileCoord,
    deadline: Deadline,
) -> Result<Rendered, ApiError> {
    compute.run(deadline, move || compressed(render(&layers, tile))).await
}

/// A tile as served: gzip-compressed, with the ETag of its bytes.
fn compressed(mvt: Option<Vec<u8>>) -> Result<Rendered, ApiError> {
    let Some(mvt) = mvt else { return Ok(Rendered { gzip: None, etag: "\"empty\"".into() }) };
    let mut hasher = std::hash::DefaultHasher::new();
    mvt.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(mvt.len() / 3), flate2::Compression::fast());
    gz.write_all(&mvt)
        .and_then(|()| gz.finish())
        .map(|gzip| Rendered { gzip: Some(gzip.into()), etag })
        .map_err(|e| ApiError::Internal(format!("compressing a tile: {e}")))
}

/// The MVT bytes of `tile` with one MVT layer per given layer (those whose zoom range includes
/// the tile's zoom), or `None` when no feature shows. Features are chosen by the tiler's budget
/// rule from their index envelopes, before any geometry is touched. Private properties are
/// never written to tiles.
pub fn render(layers: &[Arc<Layer>], tile: TileCoord) -> Option<Vec<u8>> {
    let frame = Frame {
        builder: TileBuilder::new(tile),
        zoom: tile.z(),
        window: tile.buffered_bounds(EXTENT, BUFFER),
        unit: tile.size() / f64::from(EXTENT),
    };
    let Ok(mvt) = render_in(layers, frame, |f| Ok::<_, Infallible>(Cow::Borrowed(f.mercator())));
    mvt
}

/// A tile of any grid, as [`render_in`] fills it.
pub struct Frame {
    /// Places geometries in the tile's grid and encodes them.
    pub builder: TileBuilder,
    /// The Web Mercator zoom whose layers show (their `minzoom`–`maxzoom`).
    pub zoom: u8,
    /// The buffered tile as a Web Mercator box `[min_x, min_y, max_x, max_y]`, or one that holds it.
    pub window: [f64; 4],
    /// Web Mercator metres per grid unit, which rank features by size.
    pub unit: f64,
}

/// [`render`] in any grid: `place` gives a feature's geometry in the CRS of the frame.
pub fn render_in<E>(
    layers: &[Arc<Layer>],
    frame: Frame,
    place: impl for<'f> Fn(&FeatureView<'f>) -> Result<Cow<'f, geo_types::Geometry>, E>,
) -> Result<Option<Vec<u8>>, E> {
    let Frame { mut builder, zoom, window, unit } = frame;
    let mut text = String::new();
    for layer in layers.iter().filter(|l| l.serves_zoom(zoom)) {
        let columns = Columns::public(&layer.def);
        builder.start_layer(layer.def.id.as_str(), columns.names());
        let candidates = layer.index.largest_in_mercator_box(window, budget::MAX_FEATURES);
        let sizes: Vec<f64> = candidates.iter().map(|c| budget::size_in_units(unit, c.envelope)).collect();
        let ranks: Vec<u32> = candidates.iter().map(|c| c.rank).collect();
        let points = matches!(layer.def.geometry, GeometryType::Point | GeometryType::MultiPoint);
        let selected = budget::select(&sizes, &ranks, |i| points || sizes[i] == 0.0);
        builder.reserve(selected.len());
        for i in selected {
            let f = columns.view(candidates[i].feature);
            let geometry = place(&f)?;
            builder.add_feature(u64::try_from(f.id()).ok(), &geometry, |tags| {
                for (key, (_, value)) in f.properties().enumerate() {
                    match value {
                        Value::Null => {}
                        Value::Bool(b) => tags.add(key, TagValue::Bool(*b)),
                        Value::Int(n) => tags.add(key, TagValue::Int(*n)),
                        Value::Float(x) => tags.add(key, TagValue::Double(*x)),
                        Value::Text(s) => tags.add(key, TagValue::Str(s)),
                        // Dates as every other encoder writes them.
                        Value::Date(_) | Value::DateTime(_) => {
                            text.clear();
                            let _ = write!(text, "{value}");
                            tags.add(key, TagValue::Str(&text));
                        }
                    }
                }
            });
        }
    }
    Ok(builder.finish())
}
