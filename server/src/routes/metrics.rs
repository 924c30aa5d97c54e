//! `/metrics` in the Prometheus text format.

use std::{fmt::Write as _, sync::atomic::Ordering};

use axum::{extract::State, http::header, response::IntoResponse};

use super::Endpoint;
use crate::{openapi::Operation, state::AppState};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::get(
        Operation::new("/metrics", "/metrics", "Prometheus metrics").ok("Counters", &["text/plain"]),
        metrics,
    )]
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
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
    let _ = writeln!(out, "# HELP bando_layer_features Features per layer.\n# TYPE bando_layer_features gauge");
    for layer in state.layers().values() {
        let _ = writeln!(out, "bando_layer_features{{layer=\"{}\"}} {}", layer.def.id, layer.index.len());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
