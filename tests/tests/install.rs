//! One binary: what `cargo install --path server` installs serves the map pages from any
//! directory, with MapLibre GL JS embedded rather than read from the source tree.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use e2e::{Server, installed_bando, repo};

/// The installed binary is not older than the sources it is built from, so that it is this
/// tree's (`scripts/test.sh` installs it before the tests run).
fn assert_fresh() {
    let installed =
        std::env::var_os("INSTALLED_BANDO").map_or_else(|| repo().join("target/installed/bin/bando"), Into::into);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).unwrap();
    fn newest(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { newest(&path, out) } else { out.push(path) }
        }
    }
    let mut sources = Vec::new();
    for crate_dir in ["server/src", "server/web", "layers/src", "tiler/src"] {
        newest(&repo().join(crate_dir), &mut sources);
    }
    let built = modified(&installed);
    for source in sources {
        assert!(
            modified(&source) <= built,
            "{} is older than {}: run scripts/test.sh, which installs it before the tests",
            installed.display(),
            source.display()
        );
    }
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
