//! What every request handler shares, put together once at start: the served layers, the keys,
//! the limits, the tile cache, the map pages' resources, the audit trail and readiness. It
//! composes the service core and holds no logic of its own.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use arc_swap::ArcSwap;
use layers::{LayerId, sensing::group_commit::GroupCommit};
use sqlx::PgPool;

use crate::{
    access::Access,
    audit::Audit,
    auth::{Caller, Keyring},
    compute::Compute,
    hub::Hub,
    layer::Layer,
    limits::{Strikes, Throttle},
    settings::Settings,
    tiles::TileCache,
    web::Web,
};

/// Shared state. Layers are swapped in whole, so a reader never sees a half-loaded layer.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    layers: ArcSwap<BTreeMap<LayerId, Arc<Layer>>>,
    keyring: ArcSwap<Keyring>,
    throttle: Arc<Throttle>,
    strikes: Strikes,
    compute: Compute,
    downloads: Compute,
    pool: Option<PgPool>,
    audit: Audit,
    tiles: TileCache,
    settings: Arc<Settings>,
    ready: AtomicBool,
    failed: Mutex<Vec<String>>,
    web: Web,
    hub: Hub,
    write_shapes: WriteShapes,
    alerts: tokio::sync::Notify,
    alert_feed: tokio::sync::broadcast::Sender<Arc<layers::sensing::alerts::AlertEvent>>,
    observations: std::sync::OnceLock<GroupCommit>,
    imports: crate::imports::Imports,
    uploads: crate::imports::Uploads,
    tilesets: std::sync::OnceLock<crate::tilesets::Tilesets>,
    vn2000_grid: std::sync::OnceLock<crate::vn2000_grid::Vn2000Grid>,
}

/// How each editable layer's table stores writes, by layer and version: read once.
pub type WriteShapes = Mutex<std::collections::HashMap<(LayerId, u64), layers::store::edit::Shape>>;

impl AppState {
    /// Empty and not ready; `pool` is PostGIS when it backs the layers.
    pub fn new(settings: Settings, keyring: Keyring, pool: Option<PgPool>, web: Web) -> Self {
        let compute = Compute::new(settings.compute_threads);
        Self {
            inner: Arc::new(Inner {
                layers: ArcSwap::default(),
                keyring: ArcSwap::from_pointee(keyring),
                throttle: Throttle::new(settings.requests_per_second, settings.burst),
                strikes: Strikes::new(settings.failed_auth_per_minute),
                compute: compute.clone(),
                // One download at a time: writing a whole layer is long CPU work, and two at
                // once would take both cores of a small server from tiles and pages.
                downloads: Compute::new(1),
                audit: Audit::new(pool.clone()),
                pool,
                tiles: TileCache::new(settings.tile_cache_bytes, compute),
                settings: Arc::new(settings),
                ready: AtomicBool::new(false),
                failed: Mutex::default(),
                web,
                hub: Hub::default(),
                write_shapes: Mutex::default(),
                alerts: tokio::sync::Notify::new(),
                alert_feed: tokio::sync::broadcast::channel(1024).0,
                observations: std::sync::OnceLock::new(),
                imports: crate::imports::Imports::default(),
                uploads: crate::imports::Uploads::default(),
                tilesets: std::sync::OnceLock::new(),
                vn2000_grid: std::sync::OnceLock::new(),
            }),
        }
    }

    /// What `caller` may read, for one request.
    pub fn access<'a>(&'a self, caller: &'a Caller) -> Access<'a> {
        Access::new(self.layers(), caller)
    }

    /// The tile packages served as they are (none until [`AppState::set_tilesets`]).
    pub fn tilesets(&self) -> &crate::tilesets::Tilesets {
        static NONE: crate::tilesets::Tilesets = std::collections::BTreeMap::new();
        self.inner.tilesets.get().unwrap_or(&NONE)
    }

    /// Installs the tile packages, once, before serving.
    pub fn set_tilesets(&self, tilesets: crate::tilesets::Tilesets) {
        let _ = self.inner.tilesets.set(tilesets);
    }

    /// The VN-2000 tile grid, when the configuration sets one (`[tiles] vn2000_grid`).
    pub fn vn2000_grid(&self) -> Option<crate::vn2000_grid::Vn2000Grid> {
        self.inner.vn2000_grid.get().copied()
    }

    /// Sets the VN-2000 tile grid; once, at start.
    pub fn set_vn2000_grid(&self, grid: crate::vn2000_grid::Vn2000Grid) {
        let _ = self.inner.vn2000_grid.set(grid);
    }

    /// The imports started from the operator's page.
    pub fn imports(&self) -> &crate::imports::Imports {
        &self.inner.imports
    }

    /// Files uploaded on the operator's page, waiting to be imported.
    pub fn uploads(&self) -> &crate::imports::Uploads {
        &self.inner.uploads
    }

    /// What the map pages need.
    pub fn web(&self) -> &Web {
        &self.inner.web
    }

    /// The tile cache.
    pub fn tiles(&self) -> &TileCache {
        &self.inner.tiles
    }

    /// Serving settings (shared, so that work moved to another thread can hold them).
    pub fn settings(&self) -> &Arc<Settings> {
        &self.inner.settings
    }

    /// What the change-log follower shares: applied changes, progress, shutdown.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// Installs a loaded layer (replacing one with the same id).
    pub fn put_layer(&self, layer: Layer) {
        self.put_shared_layer(Arc::new(layer));
    }

    /// Installs a layer already shared (replacing one with the same id).
    pub fn put_shared_layer(&self, layer: Arc<Layer>) {
        self.inner.layers.rcu(|current| {
            let mut next = BTreeMap::clone(current);
            next.insert(layer.def.id.clone(), Arc::clone(&layer));
            next
        });
    }

    /// All layers, in id order, whoever may read them: for loading, reloading and the probes;
    /// answers about layers go through [`AppState::access`].
    pub fn layers(&self) -> Arc<BTreeMap<LayerId, Arc<Layer>>> {
        self.inner.layers.load_full()
    }

    /// The rate limiter.
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// Failed authentications per address.
    pub fn strikes(&self) -> &Strikes {
        &self.inner.strikes
    }

    /// The pool for requests' CPU work.
    pub fn compute(&self) -> &Compute {
        &self.inner.compute
    }

    /// The pool that writes downloads' files.
    pub fn downloads(&self) -> &Compute {
        &self.inner.downloads
    }

    /// The table shapes writes have needed so far.
    pub fn write_shapes(&self) -> &WriteShapes {
        &self.inner.write_shapes
    }

    /// The audit trail.
    pub fn audit(&self) -> &Audit {
        &self.inner.audit
    }

    /// The keys in force.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.inner.keyring.load_full()
    }

    /// Replaces the keys in force.
    pub fn set_keyring(&self, keyring: Keyring) {
        self.inner.keyring.store(Arc::new(keyring));
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

    /// Wakes the alert streams when a write changed alerts (`raised` events).
    pub fn alerts_changed(&self, raised: u64) {
        if raised > 0 {
            self.inner.alerts.notify_waiters();
        }
    }

    /// What the alert follower and webhooks wait on between two reads of the events.
    pub fn alert_signal(&self) -> &tokio::sync::Notify {
        &self.inner.alerts
    }

    /// Alert events as the follower reads them, for the alert streams.
    pub fn alert_feed(&self) -> &tokio::sync::broadcast::Sender<Arc<layers::sensing::alerts::AlertEvent>> {
        &self.inner.alert_feed
    }

    /// Where single observations are written, together (started by the first one).
    pub fn observation_queue(&self) -> Option<&GroupCommit> {
        let pool = self.pool()?;
        let rules = &self.settings().monitoring.rules;
        Some(self.inner.observations.get_or_init(|| GroupCommit::start(pool.clone(), rules.clone())))
    }

    /// The access level reading monitoring data needs: `[monitoring] access`, or the stations
    /// layer's when that is stricter (`bando layers set monitoring_stations --access …`).
    pub fn monitoring_access(&self) -> layers::AccessLevel {
        let configured = self.settings().monitoring.access;
        let stations: Option<LayerId> = layers::sensing::STATIONS_LAYER.parse().ok();
        let layer = stations.and_then(|id| self.layers().get(&id).map(|l| l.def.access));
        layer.map_or(configured, |l| l.max(configured))
    }

    /// The database, for a caller who may read monitoring data (404 otherwise, as for a layer
    /// one may not see).
    pub fn monitoring_pool(&self, caller: &Caller) -> Result<&PgPool, crate::error::ApiError> {
        let pool = self.pool().ok_or_else(|| crate::error::ApiError::NotFound("monitoring needs a database".into()))?;
        if !caller.may_read(self.monitoring_access()) {
            return Err(crate::error::ApiError::NotFound("no such resource".into()));
        }
        Ok(pool)
    }

    /// The database, when layers come from PostGIS.
    pub fn pool(&self) -> Option<&PgPool> {
        self.inner.pool.as_ref()
    }
}
