//! `/metrics` in the Prometheus text format. Per-layer series name only the layers the caller
//! may read, so that the metrics do not tell who else is there; the global counters name none.

use std::{fmt::Write as _, sync::atomic::Ordering};

use axum::{extract::State, http::header, response::IntoResponse};

use super::Endpoint;
use crate::{auth::Caller, openapi::Operation, state::AppState};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::get(
        Operation::new("/metrics", "/metrics", "Prometheus metrics").ok("Counters", &["text/plain"]),
        metrics,
    )]
}

async fn metrics(State(state): State<AppState>, caller: Caller) -> impl IntoResponse {
    let stats = &state.tiles().stats;
    let (entries, bytes) = state.tiles().usage();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    metric(
        "bando_tile_cache_hits_total",
        "counter",
        "Tiles served from the cache.",
        stats.hits.load(Ordering::Relaxed),
    );
    metric("bando_tile_cache_misses_total", "counter", "Tiles rendered.", stats.misses.load(Ordering::Relaxed));
    metric("bando_tile_cache_entries", "gauge", "Tiles in the cache.", entries);
    metric("bando_tile_cache_bytes", "gauge", "Compressed bytes in the cache.", bytes);
    if let Some(p) = state.hub().progress() {
        let sequence = p.sequence.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        metric("bando_change_log_sequence", "gauge", "Highest sequence number applied (0 before any).", sequence);
        metric("bando_changes_applied_total", "counter", "Changes applied from the change log.", p.applied);
        metric("bando_layer_reloads_total", "counter", "Layers reloaded in full after a change.", p.reloads);
        let lag = p.caught_up.elapsed().as_secs_f64();
        let _ = writeln!(
            out,
            "# HELP bando_change_log_lag_seconds Time since this server last had applied the whole change log.\n\
             # TYPE bando_change_log_lag_seconds gauge\nbando_change_log_lag_seconds {lag:.3}"
        );
    }
    let readable = state.access(&caller).all();
    let _ = writeln!(out, "# HELP bando_layer_features Features per layer.\n# TYPE bando_layer_features gauge");
    for layer in &readable {
        let _ = writeln!(out, "bando_layer_features{{layer=\"{}\"}} {}", layer.def.id, layer.index.len());
    }
    let _ = writeln!(
        out,
        "# HELP bando_layer_pending_changes Changed features held beside the layer's packed index until it is compacted.\n\
         # TYPE bando_layer_pending_changes gauge"
    );
    for layer in &readable {
        let _ = writeln!(out, "bando_layer_pending_changes{{layer=\"{}\"}} {}", layer.def.id, layer.index.pending());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
