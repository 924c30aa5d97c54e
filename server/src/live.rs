//! Follows the database: the change log's feature changes, polled for, are applied to the
//! served layers without reloading them (a new index shares the old one's base; see
//! `layers::index`), their cached tiles are dropped where the changes touch them, and each
//! applied change goes out to the change streams. A truncation or a bulk import reloads the layer, as does a log that was
//! pruned past this server's position. A change to the keys table reloads the keys; a change to
//! the layer catalog loads the layers imports added and reloads those whose definition changed.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use geo::BoundingRect;
use layers::{
    LayerDef,
    store::{
        changes::{self, Change, LOG_TABLE, Op, Position, Retention},
        feed::{self, Event},
        postgis,
        publish::CATALOG_TABLE,
        replicas::{self, Report},
        security::KEYS_TABLE,
    },
};
use sqlx::PgPool;

use crate::{
    hub::{Applied, Progress},
    layer::Layer,
    state::AppState,
};

/// Changes read from the log at once.
const BATCH: i64 = 10_000;
/// A failure to follow the log that lasts is logged again after this long.
const QUIET: Duration = Duration::from_secs(60);
/// The log is pruned this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// A server writes its place in the log this often, for the operator's page.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// How a server follows the log.
pub struct Following {
    /// The layers the configuration file defines (the catalog's word does not override theirs).
    pub configured: Vec<LayerDef>,
    /// How long the log keeps changes.
    pub retention: Retention,
    /// How often the log is read: the capture sends no notification (see migration 0007).
    pub poll: Duration,
    /// The name this server reports its place in the log under.
    pub replica: String,
}

/// Follows the database for as long as the service runs.
pub async fn follow(state: AppState, pool: PgPool, following: Following) {
    let Following { configured, retention, poll, replica } = following;
    // The position is taken before the layers load, so their data hold everything before it.
    let (position, beyond) = loop {
        match start(&pool).await {
            Ok(start) => break start,
            Err(e) => tracing::warn!("reading the change log's position, retrying: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let mut events = feed::subscribe(pool.clone());
    while !state.is_ready() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state.hub().start(Progress { position, sequence: None, caught_up: Instant::now(), applied: 0, reloads: 0 });
    let mut log = Follower { state: state.clone(), pool: pool.clone(), position, beyond, failing: None };
    let (started, mut report) = (Instant::now(), tokio::time::interval(REPORT_EVERY));
    // Keys that could not be re-read after a change are retried at every poll until they are:
    // a revoked key must stop working however busy the database is.
    let mut keys_stale = false;
    let (mut poll, mut prune) = (tokio::time::interval(poll), tokio::time::interval(PRUNE_EVERY));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => {
                let tables = match event {
                    None => return,
                    Some(Event::Changed(tables)) => tables,
                    Some(Event::Resync) => {
                        tracing::info!("re-reading keys, catalog and change log after the feed reconnected");
                        [KEYS_TABLE, CATALOG_TABLE, LOG_TABLE].map(str::to_owned).into()
                    }
                };
                for table in tables {
                    match table.as_str() {
                        KEYS_TABLE => keys_stale = !reload_keys(&state, &pool, keys_stale).await,
                        CATALOG_TABLE => reload_catalog(&state, &pool, &configured).await,
                        _ => log.catch_up().await,
                    }
                }
            }
            () = state.hub().nudged() => log.catch_up().await,
            _ = poll.tick() => {
                if keys_stale {
                    keys_stale = !reload_keys(&state, &pool, true).await;
                }
                log.catch_up().await;
            }
            _ = report.tick() => log.report(&replica, started.elapsed()).await,
            _ = prune.tick() => {
                match changes::prune(&pool, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(changes = n, "change log pruned"),
                    Err(e) => tracing::warn!("pruning the change log failed: {e}"),
                }
                if let Err(e) = replicas::forget_gone(&pool).await {
                    tracing::warn!("{e}");
                }
            }
        }
    }
}

/// Where a server whose data are read after this call starts: the position before every
/// transaction still running, and the changes after it already committed (so in those data).
async fn start(pool: &PgPool) -> layers::Result<(Position, BTreeSet<Position>)> {
    let position = changes::start(pool).await?;
    let committed = changes::read(pool, position, BATCH).await?.changes;
    Ok((position, committed.into_iter().map(|c| c.position).collect()))
}

/// Applies the log from where this server is.
struct Follower {
    state: AppState,
    pool: PgPool,
    /// Every change up to here is applied (see `layers::store::changes`).
    position: Position,
    /// Changes after `position` already applied.
    beyond: BTreeSet<Position>,
    /// When a failure to follow the log was last logged, while it lasts.
    failing: Option<Instant>,
}

impl Follower {
    /// Applies what is new; a failure is logged once a minute at most while it lasts, since
    /// the log is polled ten times a second.
    async fn catch_up(&mut self) {
        match (self.try_catch_up().await, self.failing) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => {
                tracing::info!(position = %self.position, "following the change log again");
                self.failing = None;
            }
            (Err(e), last) if last.is_none_or(|t| t.elapsed() >= QUIET) => {
                tracing::warn!(position = %self.position, "following the change log failed, retrying: {e}");
                self.failing = Some(Instant::now());
            }
            (Err(_), _) => {}
        }
    }

    /// Writes where this server is; a failure is not logged, as following the log itself
    /// fails then too and says so.
    async fn report(&self, name: &str, up: Duration) {
        let Some(progress) = self.state.hub().progress() else { return };
        let report = Report {
            name,
            up,
            position: self.position,
            beyond: self.beyond.len(),
            caught_up: progress.caught_up.elapsed(),
            applied: progress.applied,
            reloads: progress.reloads,
        };
        if let Err(e) = replicas::report(&self.pool, &report).await {
            tracing::debug!("{e}");
        }
    }

    async fn try_catch_up(&mut self) -> layers::Result<()> {
        let mut first = changes::read(&self.pool, self.position, BATCH).await?;
        if first.pruned > self.position {
            self.reload_everything().await?;
            first = changes::read(&self.pool, self.position, BATCH).await?;
        }
        let mut cursor = self.position;
        // The position moves over final changes up to the first that is not: a later batch may
        // find final changes again, but one that was still running before them may be unread.
        let mut advancing = true;
        let mut read = Some(first);
        loop {
            let batch = match read.take() {
                Some(r) => r.changes,
                None => changes::read(&self.pool, cursor, BATCH).await?.changes,
            };
            let Some(last) = batch.last() else { break };
            cursor = last.position;
            let full = batch.len() == BATCH as usize;
            // Final changes move the position; others are applied now and remembered.
            let (mut position, mut beyond) = (self.position, self.beyond.clone());
            let mut fresh = Vec::new();
            for change in batch {
                let seen = beyond.contains(&change.position);
                advancing &= change.last;
                if advancing {
                    position = change.position;
                    beyond.remove(&change.position);
                } else {
                    beyond.insert(change.position);
                }
                if !seen {
                    fresh.push(change);
                }
            }
            let reloads = apply(&self.state, &self.pool, &fresh).await?;
            (self.position, self.beyond) = (position, beyond);
            let top = fresh.iter().map(|c| c.position.seq).max();
            self.state.hub().update(|p| {
                p.position = position;
                p.sequence = p.sequence.max(top);
                p.applied += fresh.len() as u64;
                p.reloads += reloads;
            });
            if !full {
                break;
            }
        }
        self.state.hub().update(|p| p.caught_up = Instant::now());
        Ok(())
    }

    /// Reloads every table layer and starts again from now: the log no longer reaches back to
    /// this server's position.
    async fn reload_everything(&mut self) -> layers::Result<()> {
        tracing::warn!(
            position = %self.position,
            "the change log no longer reaches back to this server's position: reloading every layer"
        );
        let (position, beyond) = start(&self.pool).await?;
        let served = self.state.layers();
        for layer in served.values() {
            reload(&self.state, &self.pool, layer).await?;
        }
        (self.position, self.beyond) = (position, beyond);
        let reloads = served.values().filter(|l| l.def.source.table.is_some()).count() as u64;
        self.state.hub().update(|p| {
            p.position = position;
            p.reloads += reloads;
        });
        Ok(())
    }
}

/// What one table's changes come to.
#[derive(Default)]
struct TableChanges<'a> {
    reload: bool,
    ids: BTreeSet<i64>,
    changes: Vec<&'a Change>,
}

/// Applies changes to the layers of their tables; returns the number of layers reloaded.
async fn apply(state: &AppState, pool: &PgPool, changes: &[Change]) -> layers::Result<u64> {
    let mut tables: BTreeMap<&str, TableChanges> = BTreeMap::new();
    for c in changes {
        let t = tables.entry(c.table.as_str()).or_default();
        t.reload |= c.op == Op::Reload;
        t.ids.extend(c.feature);
        t.changes.push(c);
    }
    let mut reloads = 0;
    for (table, changes) in tables {
        let affected: Vec<Arc<Layer>> = state
            .layers()
            .values()
            .filter(|l| l.def.source.table.as_ref().is_some_and(|t| t.to_string() == table))
            .cloned()
            .collect();
        for layer in affected {
            // Past a quarter of the layer, reading it whole is cheaper than by id.
            if changes.reload || changes.ids.len() > 10_000.max(layer.index.len() / 4) {
                reload(state, pool, &layer).await?;
                reloads += 1;
                let last = changes.changes.last().map(|c| c.position).unwrap_or_default();
                let reloaded = Applied {
                    layer: layer.def.id.clone(),
                    position: last,
                    op: Op::Reload,
                    id: None,
                    bbox: None,
                    feature: None,
                };
                state.hub().publish(reloaded);
            } else {
                apply_to_layer(state, pool, &layer, &changes).await?;
            }
        }
    }
    Ok(reloads)
}

/// Fetches the changed rows, applies them to a new index sharing the layer's base, swaps it in,
/// drops the cached tiles the old and new geometries touch, and tells the change streams.
async fn apply_to_layer(
    state: &AppState,
    pool: &PgPool,
    layer: &Arc<Layer>,
    changes: &TableChanges<'_>,
) -> layers::Result<()> {
    let Some(table) = &layer.def.source.table else { return Ok(()) };
    let ids: Vec<i64> = changes.ids.iter().copied().collect();
    let fetched = changes::fetch(pool, &layer.def, table, &ids).await?;
    let present: HashSet<i64> = fetched.iter().map(|f| f.id).collect();
    let deleted: Vec<i64> = ids.iter().copied().filter(|id| !present.contains(id)).collect();
    let (old, changed) = (Arc::clone(layer), ids.clone());
    let fresh = tokio::task::spawn_blocking(move || old.changed(old.index.apply(fetched, &deleted), &changed))
        .await
        .map_err(|e| {
            layers::Error::db(format!("applying changes to layer {}", layer.def.id))(sqlx::Error::Protocol(
                e.to_string(),
            ))
        })?;
    let fresh = Arc::new(fresh);
    // Per id, once: the old and new Web Mercator envelopes (the tiles to drop) and the lon/lat
    // box around both (what the change streams say).
    let corners = |r: geo_types::Rect| [r.min().x, r.min().y, r.max().x, r.max().y];
    let mut envelopes = Vec::new();
    let mut bboxes = HashMap::new();
    for &id in &ids {
        let versions = [layer.index.get(id), fresh.index.get(id)];
        envelopes.extend(versions.iter().flatten().filter_map(|f| f.mercator.bounding_rect()).map(corners));
        let lonlat = versions.iter().flatten().filter_map(|f| f.geometry.bounding_rect());
        if let Some(r) = lonlat.reduce(layers::index::union) {
            bboxes.insert(id, corners(r));
        }
    }
    let events: Vec<Applied> = changes
        .changes
        .iter()
        .filter_map(|c| {
            let id = c.feature?;
            let feature = fresh.index.get(id).cloned();
            let bbox = bboxes.get(&id).copied();
            Some(Applied { layer: layer.def.id.clone(), position: c.position, op: c.op, id: Some(id), bbox, feature })
        })
        .collect();
    state.put_shared_layer(Arc::clone(&fresh));
    layer.supersede();
    state.tiles().forget_area(layer, envelopes).await;
    if fresh.index.pending() < layer.index.pending() {
        tracing::info!(layer = %layer.def.id, features = fresh.index.len(), "changes compacted into the layer's index");
        release_freed_memory();
    }
    tracing::debug!(layer = %layer.def.id, changes = events.len(), pending = fresh.index.pending(), "changes applied");
    for event in events {
        state.hub().publish(event);
    }
    Ok(())
}

/// Re-reads the keys; false when that failed (logged unless `retrying`, so that retries at
/// every poll do not flood the log).
async fn reload_keys(state: &AppState, pool: &PgPool, retrying: bool) -> bool {
    match crate::keys::reload(&state.keyring(), pool).await {
        Ok(ring) => {
            state.set_keyring(ring);
            tracing::info!("API keys reloaded");
            true
        }
        Err(e) => {
            if !retrying {
                tracing::error!("reloading API keys failed, retrying until it works: {e}");
            }
            false
        }
    }
}

/// Loads the imported layers that are new or whose definition changed (`bando layers set`: an
/// access level, a title, a temporal property), and swaps each in whole.
async fn reload_catalog(state: &AppState, pool: &PgPool, configured: &[LayerDef]) {
    let defs = match postgis::imported_layers(pool, configured).await {
        Ok(defs) => defs,
        Err(e) => return tracing::error!("re-reading the layer catalog failed, serving the layers as they were: {e}"),
    };
    let served = state.layers();
    for mut def in defs {
        let Some(table) = def.source.table.clone() else { continue };
        // As a load found them, so that an unchanged layer compares equal.
        if let Err(e) = postgis::constraints(pool, &mut def, &table).await {
            tracing::warn!(layer = %def.id, "reading the table's constraints failed: {e}");
        }
        let previous = served.get(&def.id);
        if previous.is_some_and(|l| l.def == def) {
            continue;
        }
        match postgis::load(pool, &def, &table).await {
            Ok(index) => {
                tracing::info!(layer = %def.id, access = ?def.access, "catalog change applied");
                if let Some(previous) = previous {
                    previous.supersede();
                    state.tiles().forget(previous);
                }
                state.put_layer(Layer::new(def, index));
            }
            Err(e) => tracing::error!(layer = %def.id, "loading after a catalog change failed: {e}"),
        }
    }
}

/// Reloads a table layer in full and swaps it in; file layers stay as they are.
async fn reload(state: &AppState, pool: &PgPool, layer: &Arc<Layer>) -> layers::Result<()> {
    let Some(source) = &layer.def.source.table else { return Ok(()) };
    let index = postgis::load(pool, &layer.def, source).await?;
    let fresh = Layer::new(layer.def.clone(), index);
    tracing::info!(layer = %fresh.def.id, features = fresh.index.len(), "reloaded in full after a change");
    layer.supersede();
    state.tiles().forget(layer);
    state.put_layer(fresh);
    release_freed_memory();
    Ok(())
}

/// Once the requests still reading a replaced index are done, hands the memory it held back
/// to the system: glibc's allocator keeps freed memory otherwise, and a compaction or reload
/// of a 500 000-feature layer frees some 400 MB (measured: resident memory grew by that much
/// with every compaction without this).
fn release_freed_memory() {
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::spawn_blocking(trim).await.ok();
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    unsafe extern "C" {
        /// glibc: releases free memory at the top of the heap and unused pages within it.
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim takes no pointers and is thread-safe (it takes the arenas' locks).
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
