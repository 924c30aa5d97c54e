//! Map label glyphs: signed distance fields for 256 code points at a time, in the protobuf
//! format MapLibre requests from a style's `glyphs` URL. Rendered from the configured TrueType
//! fonts on first request and kept, so labels need no font server on another host.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use bytes::Bytes;

/// Em size glyphs are rendered at; MapLibre scales from 24 px.
const EM_PX: f32 = 24.0;
/// Empty pixels around each bitmap, as MapLibre expects.
const BUFFER: usize = 3;
/// How far out from the outline the distance field reaches, in pixels.
const RADIUS: usize = 8;
/// Share of the byte range that encodes the inside of a glyph.
const CUTOFF: f64 = 0.25;

/// A range of 256 code points, `start-end` in a glyph URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlyphRange(u32);

impl GlyphRange {
    /// Parses `0-255`, `7680-7935`: a start that is a multiple of 256 and its end.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('-')?;
        let (start, end): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        (start % 256 == 0 && end == start + 255 && end <= 0xFFFF).then_some(Self(start))
    }

    fn chars(self) -> impl Iterator<Item = char> {
        (self.0..=self.0 + 255).filter_map(char::from_u32)
    }
}

/// The configured fonts by name, and the ranges rendered so far.
pub struct Glyphs {
    fonts: HashMap<String, Arc<FontVec>>,
    rendered: Mutex<HashMap<(String, GlyphRange), Bytes>>,
}

impl Glyphs {
    /// Reads each `name = path` font; one that cannot be read is skipped with a warning, so a
    /// missing font costs labels, not the service.
    pub fn load<'a>(fonts: impl IntoIterator<Item = (&'a String, &'a Path)>) -> Self {
        let mut loaded = HashMap::new();
        for (name, path) in fonts {
            match std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| FontVec::try_from_vec(b).map_err(|e| e.to_string()))
            {
                Ok(font) => {
                    loaded.insert(name.clone(), Arc::new(font));
                }
                Err(e) => tracing::warn!("font {name:?} from {}: {e}; labels in it will not show", path.display()),
            }
        }
        Self { fonts: loaded, rendered: Mutex::default() }
    }

    /// Whether a font of this name loaded.
    pub fn has(&self, name: &str) -> bool {
        self.fonts.contains_key(name)
    }

    /// The names of the loaded fonts, in order.
    pub fn fonts(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.fonts.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }

    /// The glyph protobuf for the first known font of a comma-separated stack, or `None` when
    /// the stack names no configured font.
    pub fn range(&self, stack: &str, range: GlyphRange) -> Option<Bytes> {
        let name = stack.split(',').map(str::trim).find(|n| self.fonts.contains_key(*n))?;
        let key = (name.to_owned(), range);
        if let Some(hit) = self.rendered.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Some(hit.clone());
        }
        let bytes = Bytes::from(render_range(name, &self.fonts[name], range));
        self.rendered.lock().unwrap_or_else(|e| e.into_inner()).insert(key, bytes.clone());
        Some(bytes)
    }
}

/// One glyph's distance field and metrics, as the protobuf carries them.
struct SdfGlyph {
    id: u32,
    bitmap: Vec<u8>,
    width: u32,
    height: u32,
    left: i32,
    top: i32,
    advance: u32,
}

fn render_range(name: &str, font: &FontVec, range: GlyphRange) -> Vec<u8> {
    let glyphs: Vec<SdfGlyph> = range.chars().filter_map(|c| render(font, c)).collect();
    encode(name, range, &glyphs)
}

fn render(font: &FontVec, c: char) -> Option<SdfGlyph> {
    let id = font.glyph_id(c);
    if id.0 == 0 {
        return None;
    }
    let upem = font.units_per_em()?;
    let scaled = font.as_scaled(PxScale::from(EM_PX * font.height_unscaled() / upem));
    let advance = scaled.h_advance(id).round() as u32;
    let ascender = scaled.ascent().round() as i32;
    let empty = SdfGlyph { id: c as u32, bitmap: Vec::new(), width: 0, height: 0, left: 0, top: -ascender, advance };
    let Some(outline) = scaled.outline_glyph(id.with_scale(scaled.scale())) else { return Some(empty) };
    let bounds = outline.px_bounds();
    let (width, height) = (bounds.width() as usize, bounds.height() as usize);
    if width == 0 || height == 0 {
        return Some(empty);
    }
    let mut alpha = vec![0u8; width * height];
    outline.draw(|x, y, coverage| {
        if let Some(a) = alpha.get_mut(y as usize * width + x as usize) {
            *a = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    });
    let sdf = sdf_glyph_renderer::BitmapGlyph::from_unbuffered(&alpha, width, height, BUFFER)
        .and_then(|b| sdf_glyph_renderer::clamp_to_u8(&b.render_sdf(RADIUS), CUTOFF));
    // Without its bitmap a glyph still keeps its place in the line.
    let Ok(bitmap) = sdf else { return Some(empty) };
    Some(SdfGlyph {
        id: c as u32,
        bitmap,
        width: width as u32,
        height: height as u32,
        left: bounds.min.x as i32,
        // Distance from the ascender line down to the bitmap's top, the way MapLibre places it.
        top: -(bounds.min.y as i32) - ascender,
        advance,
    })
}

/// Writes the `glyphs` protobuf message (fontstack name, range, glyphs). Hand-written: it is
/// three small messages, and a protobuf crate would bring a code generator for them.
fn encode(name: &str, range: GlyphRange, glyphs: &[SdfGlyph]) -> Vec<u8> {
    let mut stack = Vec::new();
    bytes_field(&mut stack, 1, name.as_bytes());
    bytes_field(&mut stack, 2, format!("{}-{}", range.0, range.0 + 255).as_bytes());
    for g in glyphs {
        let mut m = Vec::new();
        varint_field(&mut m, 1, u64::from(g.id));
        if !g.bitmap.is_empty() {
            bytes_field(&mut m, 2, &g.bitmap);
        }
        varint_field(&mut m, 3, u64::from(g.width));
        varint_field(&mut m, 4, u64::from(g.height));
        varint_field(&mut m, 5, zigzag(g.left));
        varint_field(&mut m, 6, zigzag(g.top));
        varint_field(&mut m, 7, u64::from(g.advance));
        bytes_field(&mut stack, 3, &m);
    }
    let mut out = Vec::new();
    bytes_field(&mut out, 1, &stack);
    out
}

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_whole_blocks_of_256() {
        assert_eq!(GlyphRange::parse("7680-7935"), Some(GlyphRange(7680)));
        assert_eq!(GlyphRange::parse("0-255"), Some(GlyphRange(0)));
        for bad in ["1-256", "0-256", "65536-65791", "a-b", "0", "-1-254", "0-255 "] {
            assert_eq!(GlyphRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn zigzag_maps_signs_the_protobuf_way() {
        assert_eq!([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
    }
}
