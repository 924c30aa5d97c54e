//! What the map pages need besides the layers: the files they load, label glyphs, fonts and
//! who may frame them.

use crate::{assets::Assets, config::WebConfig, glyphs::Glyphs};

/// The map pages' resources.
pub struct Web {
    /// `/assets`.
    pub assets: Assets,
    /// `/fonts`.
    pub glyphs: Glyphs,
    /// The `frame-ancestors` sources of `/embed` pages.
    pub frame_ancestors: String,
    /// The fonts styles use.
    pub label_font: String,
    /// The fonts styles use for labels that stand out.
    pub bold_font: String,
}

impl Web {
    /// Reads the fonts `[web]` names, and MapLibre when it names a folder for it.
    pub fn load(config: &WebConfig) -> Self {
        let glyphs = Glyphs::load(config.fonts.iter().map(|(n, p)| (n, p.as_path())));
        for font in [&config.label_font, &config.bold_font].into_iter().filter(|f| !glyphs.has(f)) {
            tracing::warn!(
                "label font {font:?} is not among the fonts loaded from [web] fonts: its labels will not show"
            );
        }
        Self {
            assets: Assets::load(config.maplibre.as_deref()),
            glyphs,
            frame_ancestors: config.frame_ancestors.join(" "),
            label_font: config.label_font.clone(),
            bold_font: config.bold_font.clone(),
        }
    }
}
