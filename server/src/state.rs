//! What every request handler shares: the loaded layers and the service's readiness.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use arc_swap::ArcSwap;
use layers::store::security::{self, AuditEntry};
use layers::{LayerDef, LayerId, LayerIndex, Value};
use sqlx::PgPool;

use crate::{
    auth::{Caller, Keyring},
    limits::Throttle,
    tile_cache::TileCache,
};

/// Serving settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Bytes of compressed tiles the cache may hold; 0 turns it off.
    pub tile_cache_bytes: u64,
    /// `Cache-Control` of tile responses.
    pub tile_cache_control: String,
    /// Features per page when the request gives no `limit`.
    pub default_limit: usize,
    /// Largest page.
    pub max_limit: usize,
    /// Steady requests per second per key or address.
    pub requests_per_second: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
    /// How long a request may take.
    pub request_timeout: std::time::Duration,
    /// Longest URL in bytes.
    pub max_url_bytes: usize,
    /// Largest body in bytes.
    pub max_body_bytes: usize,
}

/// A layer ready to serve: its definition and its index.
pub struct Layer {
    /// The definition.
    pub def: LayerDef,
    /// The features.
    pub index: LayerIndex,
    /// Rises each time the layer is (re)loaded; cached tiles are keyed by it.
    pub version: u64,
    /// First and last instants of the temporal property, as ISO 8601 text; found once at load
    /// rather than by a scan on every `/collections`.
    pub time_extent: Option<[serde_json::Value; 2]>,
}

impl Layer {
    /// A freshly loaded layer, with a version no earlier load of it had.
    pub fn new(def: LayerDef, index: LayerIndex) -> Self {
        static VERSION: AtomicU64 = AtomicU64::new(1);
        let time_extent = time_extent(&def, &index);
        Self { def, index, version: VERSION.fetch_add(1, Ordering::Relaxed), time_extent }
    }

    /// Whether the caller may see the property at `i`: private ones only with clearance.
    pub fn is_visible(&self, i: usize, caller: &Caller) -> bool {
        !self.def.properties[i].private || caller.sees_private()
    }

    /// Whether the caller may filter on the property at `i`.
    pub fn is_queryable(&self, i: usize, caller: &Caller) -> bool {
        self.def.properties[i].queryable && self.is_visible(i, caller)
    }

    /// True when tiles of zoom `z` include this layer.
    pub fn serves_zoom(&self, z: u8) -> bool {
        (self.def.minzoom..=self.def.maxzoom).contains(&z)
    }
}

/// The lon/lat box `[minx, miny, maxx, maxy]` around every feature of these layers.
pub fn extent_of<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> Option<[f64; 4]> {
    layers.into_iter().filter_map(|l| l.index.extent()).fold(None, |acc, e| {
        let e = [e.min().x, e.min().y, e.max().x, e.max().y];
        Some(acc.map_or(e, |a: [f64; 4]| [a[0].min(e[0]), a[1].min(e[1]), a[2].max(e[2]), a[3].max(e[3])]))
    })
}

/// The earliest and latest values of the layer's temporal property; dates as midnight UTC.
fn time_extent(def: &LayerDef, index: &LayerIndex) -> Option<[serde_json::Value; 2]> {
    let t = def.temporal.as_ref()?;
    let i = def.properties.iter().position(|p| &p.name == t)?;
    let less = |a: &Value, b: &Value| layers::filter::compare(a, b) == Some(std::cmp::Ordering::Less);
    let (mut lo, mut hi) = (None::<&Value>, None::<&Value>);
    for v in index.features().iter().map(|f| &f.properties[i]).filter(|v| !matches!(v, Value::Null)) {
        if lo.is_none_or(|l| less(v, l)) {
            lo = Some(v);
        }
        if hi.is_none_or(|h| less(h, v)) {
            hi = Some(v);
        }
    }
    let instant = |v: &Value| match v.to_json() {
        serde_json::Value::String(s) if s.len() == 10 => format!("{s}T00:00:00Z").into(),
        other => other,
    };
    Some([instant(lo?), instant(hi?)])
}

/// Shared state. Layers are swapped in whole, so a reader never sees a half-loaded layer.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    layers: ArcSwap<BTreeMap<LayerId, Arc<Layer>>>,
    keyring: ArcSwap<Keyring>,
    throttle: Arc<Throttle>,
    pool: Option<PgPool>,
    tiles: TileCache,
    settings: Settings,
    ready: AtomicBool,
    database: bool,
    failed: Mutex<Vec<String>>,
    web: Web,
}

/// What the map pages need besides the layers.
pub struct Web {
    /// `/assets`.
    pub assets: crate::assets::Assets,
    /// `/fonts`.
    pub glyphs: crate::glyphs::Glyphs,
    /// The `frame-ancestors` sources of `/embed` pages.
    pub frame_ancestors: String,
    /// The fonts styles use.
    pub label_font: String,
    /// The fonts styles use for labels that stand out.
    pub bold_font: String,
}

impl Web {
    /// Reads MapLibre and the fonts `[web]` names.
    pub fn load(config: &crate::config::WebConfig) -> Self {
        let glyphs = crate::glyphs::Glyphs::load(config.fonts.iter().map(|(n, p)| (n, p.as_path())));
        for font in [&config.label_font, &config.bold_font].into_iter().filter(|f| !glyphs.has(f)) {
            tracing::warn!(
                "label font {font:?} is not among the fonts loaded from [web] fonts: its labels will not show"
            );
        }
        Self {
            assets: crate::assets::Assets::load(&config.maplibre),
            glyphs,
            frame_ancestors: config.frame_ancestors.join(" "),
            label_font: config.label_font.clone(),
            bold_font: config.bold_font.clone(),
        }
    }
}

impl AppState {
    /// Empty and not ready; `pool` is PostGIS when it backs the layers.
    pub fn new(settings: Settings, keyring: Keyring, pool: Option<PgPool>, web: Web) -> Self {
        let database = pool.is_some();
        Self {
            inner: Arc::new(Inner {
                layers: ArcSwap::default(),
                keyring: ArcSwap::from_pointee(keyring),
                throttle: Throttle::new(settings.requests_per_second, settings.burst),
                pool,
                tiles: TileCache::new(settings.tile_cache_bytes),
                settings,
                ready: AtomicBool::new(false),
                database,
                failed: Mutex::default(),
                web,
            }),
        }
    }

    /// What the map pages need.
    pub fn web(&self) -> &Web {
        &self.inner.web
    }

    /// The tile cache.
    pub fn tiles(&self) -> &TileCache {
        &self.inner.tiles
    }

    /// Serving settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Installs a loaded layer (replacing one with the same id).
    pub fn put_layer(&self, layer: Layer) {
        let layer = Arc::new(layer);
        self.inner.layers.rcu(|current| {
            let mut next = BTreeMap::clone(current);
            next.insert(layer.def.id.clone(), Arc::clone(&layer));
            next
        });
    }

    /// All layers, in id order.
    pub fn layers(&self) -> Arc<BTreeMap<LayerId, Arc<Layer>>> {
        self.inner.layers.load_full()
    }

    /// One layer.
    pub fn layer(&self, id: &LayerId) -> Option<Arc<Layer>> {
        self.inner.layers.load().get(id).cloned()
    }

    /// The layers the caller may know of, in id order.
    pub fn layers_for(&self, caller: &Caller) -> Vec<Arc<Layer>> {
        self.inner.layers.load().values().filter(|l| caller.may_read(l.def.access)).cloned().collect()
    }

    /// The rate limiter.
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// The keys in force.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.inner.keyring.load_full()
    }

    /// Replaces the keys in force.
    pub fn set_keyring(&self, keyring: Keyring) {
        self.inner.keyring.store(Arc::new(keyring));
    }

    /// Appends to the audit trail, in the background: in PostGIS when there is one, else in the
    /// log (target `audit`). A failed write is logged, never lost silently.
    pub fn audit(&self, caller: &Caller, action: &str, target: &str, client: Option<String>) {
        let entry = AuditEntry {
            at: chrono::Utc::now(),
            who: caller.who().to_owned(),
            role: caller.role.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            client,
            detail: None,
        };
        match self.inner.pool.clone() {
            Some(pool) => {
                tokio::spawn(async move {
                    if let Err(e) = security::audit(&pool, &entry).await {
                        tracing::error!(target: "audit", ?entry, "audit write failed: {e}");
                    }
                });
            }
            None => {
                tracing::info!(target: "audit", who = %entry.who, action = %entry.action, target = %entry.target, client = ?entry.client)
            }
        }
    }

    /// Marks every configured layer as loaded.
    pub fn set_ready(&self) {
        self.inner.ready.store(true, Ordering::Release);
    }

    /// True once every configured layer is loaded.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Records a layer that could not be loaded; `/ready` reports it.
    pub fn layer_failed(&self, message: String) {
        self.inner.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(message);
    }

    /// Layers that could not be loaded.
    pub fn failed_layers(&self) -> Vec<String> {
        self.inner.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The database, when there is one.
    pub fn pool(&self) -> Option<&PgPool> {
        self.inner.pool.as_ref()
    }

    /// True when layers come from PostGIS.
    pub fn has_database(&self) -> bool {
        self.inner.database
    }
}
