//! The files map pages load from `/assets`: MapLibre GL JS, embedded at build time from its npm
//! package (see `build.rs`) or read once from a configured folder, Bando's own page scripts,
//! compiled in, and the styles' icon sprite, drawn by the build from `icons/`. Nothing is loaded
//! from another host.

use std::{collections::HashMap, path::Path};

use bytes::Bytes;

/// MapLibre's files that pages use, as the build embedded them (empty when it found none); the
/// worker is loaded by the library itself, beside it.
const MAPLIBRE_FILES: [(&str, &[u8]); 3] = [
    ("maplibre-gl.mjs", include_bytes!(concat!(env!("OUT_DIR"), "/maplibre-gl.mjs"))),
    ("maplibre-gl-worker.mjs", include_bytes!(concat!(env!("OUT_DIR"), "/maplibre-gl-worker.mjs"))),
    ("maplibre-gl.css", include_bytes!(concat!(env!("OUT_DIR"), "/maplibre-gl.css"))),
];
/// The sprite the styles name (`/assets/sprite`): each sheet and its index, at 1× and 2×.
pub const SPRITE_FILES: [(&str, &[u8]); 4] = [
    ("sprite.json", include_bytes!(concat!(env!("OUT_DIR"), "/sprite.json"))),
    ("sprite.png", include_bytes!(concat!(env!("OUT_DIR"), "/sprite.png"))),
    ("sprite@2x.json", include_bytes!(concat!(env!("OUT_DIR"), "/sprite@2x.json"))),
    ("sprite@2x.png", include_bytes!(concat!(env!("OUT_DIR"), "/sprite@2x.png"))),
];
/// Whether the build found MapLibre to embed.
const MAPLIBRE_EMBEDDED: bool = matches!(env!("MAPLIBRE_EMBEDDED_AT_BUILD").as_bytes(), b"yes");

/// Bando's page scripts and styles.
const OWN_FILES: [(&str, &str); 6] = [
    ("admin.mjs", include_str!("../web/admin.mjs")),
    ("common.mjs", include_str!("../web/common.mjs")),
    ("viewer.mjs", include_str!("../web/viewer.mjs")),
    ("monitoring.mjs", include_str!("../web/monitoring.mjs")),
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
    /// MapLibre from `maplibre`, its package's `dist` folder, when one is configured, else as
    /// embedded at build time. When it is missing the pages answer with the reason instead of a
    /// blank map, and everything else is served as usual.
    pub fn load(maplibre: Option<&Path>) -> Self {
        let mut files = HashMap::new();
        let mut missing = None;
        for (name, embedded) in MAPLIBRE_FILES {
            let body = match maplibre {
                Some(dir) => std::fs::read(dir.join(name)).map(Bytes::from).map_err(|e| format!("{}: {e}", dir.join(name).display())),
                None if MAPLIBRE_EMBEDDED => Ok(Bytes::from_static(embedded)),
                None => Err("it was not installed when this binary was built (run `npm ci` in web/ and rebuild, or set [web] maplibre)".to_owned()),
            };
            match body {
                Ok(body) => {
                    files.insert(name.to_owned(), Asset::new(name, body));
                }
                Err(e) => {
                    tracing::warn!("MapLibre GL JS: {e}; map pages will not work");
                    missing = Some(format!("MapLibre GL JS is not available on this server ({name}: {e})"));
                }
            }
        }
        for (name, text) in OWN_FILES {
            files.insert(name.to_owned(), Asset::new(name, Bytes::from_static(text.as_bytes())));
        }
        for (name, body) in SPRITE_FILES {
            files.insert(name.to_owned(), Asset::new(name, Bytes::from_static(body)));
        }
        Self { files, missing }
    }

    /// The file called `name`.
    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }

    /// The names of the files served, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.files.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }
}

fn media_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "text/javascript; charset=utf-8",
    }
}
