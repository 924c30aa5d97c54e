//! One binary: what `cargo install --path server` installs serves the map pages from any
//! directory, with MapLibre GL JS embedded rather than read from the source tree.
#![allow(clippy::unwrap_used)]

use e2e::{Server, bando_bin, installed_bando, repo};

/// The installed binary is this build's: installed after `bando` was last built.
fn assert_fresh() {
    let installed =
        std::env::var_os("INSTALLED_BANDO").map_or_else(|| repo().join("target/installed/bin/bando"), Into::into);
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).unwrap();
    assert!(
        modified(&installed) >= modified(&bando_bin()),
        "{} is older than {}: run scripts/test.sh, which installs it after building",
        installed.display(),
        bando_bin().display()
    );
}

#[test]
fn an_installed_binary_serves_the_viewer_with_maplibre_from_any_directory() {
    assert_fresh();
    let server = Server::start(installed_bando(&[]));
    let viewer = server.get("/viewer");
    assert_eq!(viewer.status(), 200);
    let page = viewer.text().unwrap();
    assert!(page.contains(r#"<script type="module" src="/assets/viewer.mjs">"#), "{page}");
    // The very files of the pinned npm package, byte for byte.
    let dist = repo().join("web/node_modules/maplibre-gl/dist");
    for name in ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"] {
        let served = server.get(&format!("/assets/{name}"));
        assert_eq!(served.status(), 200, "{name}");
        let served = served.bytes().unwrap();
        assert!(!served.is_empty(), "{name} is empty");
        assert!(served == std::fs::read(dist.join(name)).unwrap(), "{name} differs from the package's");
    }
    assert_eq!(server.get("/embed/heritage_sites").status(), 200);
}

#[test]
fn a_configured_maplibre_folder_that_is_missing_turns_only_the_map_pages_off() {
    let mut command = installed_bando(&[]);
    command.env("BANDO_WEB__MAPLIBRE", "/nonexistent/maplibre");
    let server = Server::start(command);
    let viewer = server.get("/viewer");
    assert_eq!(viewer.status(), 503);
    assert_eq!(viewer.headers()["content-type"], "application/problem+json");
    assert_eq!(server.get("/embed/heritage_sites").status(), 503);
    assert_eq!(server.get("/assets/maplibre-gl.mjs").status(), 404);
    assert_eq!(server.get("/assets/viewer.mjs").status(), 200);
    assert_eq!(server.get("/collections/heritage_sites/items?limit=1").status(), 200);
}
