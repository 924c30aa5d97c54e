//! Embeds MapLibre GL JS in the binary when `npm ci` has installed it in `web/` (the set-up
//! scripts do), so that an installed `bando` serves the map pages from any directory. Without
//! it the binary still builds, and the map pages answer 503 unless `[web] maplibre` names a
//! folder to read it from.
//!
//! Draws the map icons, `icons/*.svg`, into the styles' sprite: one PNG sheet and its JSON
//! index at 1× and at 2× (for screens of two pixels per CSS pixel).

use std::{env, fs, path::Path, path::PathBuf};

/// MapLibre's files the pages use; the worker is loaded by the library itself, beside it.
const FILES: [&str; 3] = ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    embed_maplibre(&out);
    draw_sprite(&out);
}

fn embed_maplibre(out: &Path) {
    let web = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../web");
    let dist = web.join("node_modules/maplibre-gl/dist");
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
        write_if_changed(&out.join(name), &body.unwrap_or_default());
    }
    // Not a `BANDO_` name: cargo also sets it when running the tests, where the configuration
    // would read it as a setting.
    println!("cargo:rustc-env=MAPLIBRE_EMBEDDED_AT_BUILD={}", if embedded { "yes" } else { "no" });
}

/// The side of an icon, in CSS pixels; the drawings' `viewBox` is this square.
const ICON_PX: u32 = 16;
/// Icons per row of the sheet.
const COLUMNS: u32 = 8;

/// `sprite.png` and `sprite.json`, `sprite@2x.png` and `sprite@2x.json`: every icon, named after
/// its file, on a grid.
fn draw_sprite(out: &Path) {
    let icons = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("icons");
    println!("cargo:rerun-if-changed={}", icons.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&icons)
        .unwrap_or_else(|e| panic!("{}: {e}", icons.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "svg"))
        .collect();
    files.sort();
    let trees: Vec<(String, resvg::usvg::Tree)> = files
        .iter()
        .map(|path| {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let svg = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let tree = resvg::usvg::Tree::from_data(&svg, &resvg::usvg::Options::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, tree)
        })
        .collect();
    for (ratio, suffix) in [(1, ""), (2, "@2x")] {
        let (png, index) = sheet(&trees, ratio);
        write_if_changed(&out.join(format!("sprite{suffix}.png")), &png);
        write_if_changed(&out.join(format!("sprite{suffix}.json")), index.as_bytes());
    }
}

/// The icons drawn at `ratio` device pixels per CSS pixel, and the index MapLibre reads
/// (style specification, "sprite"): each icon's box on the sheet, in device pixels.
fn sheet(trees: &[(String, resvg::usvg::Tree)], ratio: u32) -> (Vec<u8>, String) {
    let side = ICON_PX * ratio;
    let count = u32::try_from(trees.len()).unwrap_or(u32::MAX).max(1);
    let rows = count.div_ceil(COLUMNS);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(side * COLUMNS.min(count), side * rows).expect("a sheet of icons");
    let mut index = Vec::new();
    for (n, (name, tree)) in (0u32..).zip(trees) {
        let (x, y) = ((n % COLUMNS) * side, (n / COLUMNS) * side);
        let scale = side as f32 / tree.size().width().max(tree.size().height());
        let place = resvg::tiny_skia::Transform::from_row(scale, 0.0, 0.0, scale, x as f32, y as f32);
        resvg::render(tree, place, &mut pixmap.as_mut());
        index.push(format!(r#""{name}":{{"x":{x},"y":{y},"width":{side},"height":{side},"pixelRatio":{ratio}}}"#));
    }
    (pixmap.encode_png().expect("PNG encoding"), format!("{{{}}}", index.join(",")))
}

/// Writes `body` to `path` unless it already holds it: rewriting the same bytes would still
/// make the crate rebuild.
fn write_if_changed(path: &Path, body: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(body)
        && let Err(e) = fs::write(path, body)
    {
        panic!("writing {}: {e}", path.display());
    }
}
