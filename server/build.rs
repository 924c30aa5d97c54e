//! Embeds MapLibre GL JS in the binary when `npm ci` has installed it in `web/` (the set-up
//! scripts do), so that an installed `bando` serves the map pages from any directory. Without
//! it the binary still builds, and the map pages answer 503 unless `[web] maplibre` names a
//! folder to read it from.

use std::{env, fs, path::PathBuf};

/// MapLibre's files the pages use; the worker is loaded by the library itself, beside it.
const FILES: [&str; 3] = ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("../web/node_modules/maplibre-gl/dist");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed={}", manifest.join("../web/package-lock.json").display());
    let mut embedded = true;
    for name in FILES {
        let source = dist.join(name);
        println!("cargo:rerun-if-changed={}", source.display());
        let body = fs::read(&source).unwrap_or_else(|_| {
            embedded = false;
            Vec::new()
        });
        if let Err(e) = fs::write(out.join(name), body) {
            panic!("writing {name} to {}: {e}", out.display());
        }
    }
    // Not a `BANDO_` name: cargo also sets it when running the tests, where the configuration
    // would read it as a setting.
    println!("cargo:rustc-env=MAPLIBRE_EMBEDDED_AT_BUILD={}", if embedded { "yes" } else { "no" });
}
