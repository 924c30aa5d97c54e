//! The files map pages load from `/assets`: MapLibre GL JS, read once from its npm package, and
//! Bando's own page scripts, compiled in. Nothing is loaded from another host.

use std::{collections::HashMap, path::Path};

use bytes::Bytes;

/// MapLibre's files that pages use; the worker is loaded by the library itself, beside it.
const MAPLIBRE_FILES: [&str; 3] = ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"];

/// Bando's page scripts and styles.
const OWN_FILES: [(&str, &str); 4] = [
    ("common.mjs", include_str!("../web/common.mjs")),
    ("viewer.mjs", include_str!("../web/viewer.mjs")),
    ("embed.mjs", include_str!("../web/embed.mjs")),
    ("map.css", include_str!("../web/map.css")),
];

/// One file, its media type and its entity tag.
#[derive(Clone)]
pub struct Asset {
    /// The contents.
    pub body: Bytes,
    /// `Content-Type`.
    pub media_type: &'static str,
    /// A strong `ETag` from the contents: the page modules import each other by fixed names,
    /// so browsers revalidate rather than mix files of two versions.
    pub etag: String,
}

impl Asset {
    fn new(name: &str, body: Bytes) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        let etag = format!("\"{}\"", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>());
        Self { body, media_type: media_type(name), etag }
    }
}

/// The files `/assets/{name}` serves.
pub struct Assets {
    files: HashMap<String, Asset>,
    /// Why MapLibre is missing, when it is.
    pub missing: Option<String>,
}

impl Assets {
    /// Reads MapLibre from its package's `dist` folder. When it is not there the pages answer
    /// with the reason instead of a blank map, and everything else is served as usual.
    pub fn load(maplibre: &Path) -> Self {
        let mut files = HashMap::new();
        let mut missing = None;
        for name in MAPLIBRE_FILES {
            let path = maplibre.join(name);
            match std::fs::read(&path) {
                Ok(body) => {
                    files.insert(name.to_owned(), Asset::new(name, body.into()));
                }
                Err(e) => {
                    tracing::warn!(
                        "MapLibre GL JS: {}: {e}; map pages will not work (run `npm ci` in web/)",
                        path.display()
                    );
                    missing = Some(format!("MapLibre GL JS is not installed on this server ({name}: {e})"));
                }
            }
        }
        for (name, text) in OWN_FILES {
            files.insert(name.to_owned(), Asset::new(name, Bytes::from_static(text.as_bytes())));
        }
        Self { files, missing }
    }

    /// The file called `name`.
    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }
}

fn media_type(name: &str) -> &'static str {
    if name.ends_with(".css") { "text/css; charset=utf-8" } else { "text/javascript; charset=utf-8" }
}
