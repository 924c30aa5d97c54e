//! Embeds MapLibre GL JS in the binary when `npm ci` has installed it in `web/` (the set-up
//! scripts do), so that an installed `bando` serves the map pages from any directory. Without
//! it the binary still builds, and the map pages answer 503 unless `[web] maplibre` names a
//! folder to read it from.

use std::{env, fs, path::PathBuf};

/// MapLibre's files the pages use; the worker is loaded by the library itself, beside it.
const FILES: [&str; 3] = ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"];

fn main() {
    let web = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../web");
    let dist = web.join("node_modules/maplibre-gl/dist");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    let found: Vec<Option<Vec<u8>>> = FILES.iter().map(|name| fs::read(dist.join(name)).ok()).collect();
    let embedded = found.iter().all(Option::is_some);
    if embedded {
        FILES.iter().for_each(|name| println!("cargo:rerun-if-changed={}", dist.join(name).display()));
    } else {
        // Watching files that do not exist would rerun this on every build; `web/` itself
        // changes when `npm ci` creates `node_modules`.
        println!("cargo:rerun-if-changed={}", web.display());
        println!(
            "cargo:warning=MapLibre GL JS is not in web/node_modules (run `npm ci` in web/): the map pages will answer 503"
        );
    }
    for (name, body) in FILES.iter().zip(found) {
        let (path, body) = (out.join(name), body.unwrap_or_default());
        // Rewriting the same bytes would still make the crate rebuild.
        if fs::read(&path).ok().as_ref() != Some(&body)
            && let Err(e) = fs::write(&path, &body)
        {
            panic!("writing {}: {e}", path.display());
        }
    }
    // Not a `BANDO_` name: cargo also sets it when running the tests, where the configuration
    // would read it as a setting.
    println!("cargo:rustc-env=MAPLIBRE_EMBEDDED_AT_BUILD={}", if embedded { "yes" } else { "no" });
}
