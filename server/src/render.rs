//! Renders a tile from the in-memory index: the glue between `layers` and `tiler`.

use std::{fmt::Write as _, sync::Arc};

use chrono::Datelike;

use layers::GeometryType;
use layers::Value;
use tiler::{BUFFER, EXTENT, TagValue, TileBuilder, TileCoord, budget, encode::EncodeError};

use crate::state::Layer;

/// The MVT bytes of `tile` with one MVT layer per given layer (those whose zoom range includes
/// the tile's zoom), or `None` when no feature shows. Features are chosen by the tiler's budget
/// rule from their index envelopes, before any geometry is touched. Private properties are
/// never written to tiles.
pub fn render(layers: &[Arc<Layer>], tile: TileCoord) -> Result<Option<Vec<u8>>, EncodeError> {
    let mut builder = TileBuilder::new(tile);
    let window = tile.buffered_bounds(EXTENT, BUFFER);
    let mut text = String::new();
    for layer in layers.iter().filter(|l| l.serves_zoom(tile.z())) {
        builder.start_layer(layer.def.id.as_str());
        let published: Vec<(usize, &str)> = layer
            .def
            .properties
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.private)
            .map(|(i, p)| (i, p.name.as_str()))
            .collect();
        let candidates = layer.index.largest_in_mercator_box(window, budget::MAX_FEATURES);
        let sizes: Vec<f64> = candidates.iter().map(|c| budget::size_in_tile(tile, c.envelope)).collect();
        let ranks: Vec<u32> = candidates.iter().map(|c| c.rank).collect();
        let points = matches!(layer.def.geometry, GeometryType::Point | GeometryType::MultiPoint);
        for i in budget::select(&sizes, &ranks, |i| points || sizes[i] == 0.0) {
            let f = candidates[i].feature;
            builder.add_feature(u64::try_from(f.id).ok(), &f.mercator, |tags| {
                for &(i, name) in &published {
                    match &f.properties[i] {
                        Value::Null => {}
                        Value::Bool(b) => tags.add(name, TagValue::Bool(*b)),
                        Value::Int(n) => tags.add(name, TagValue::Int(*n)),
                        Value::Float(x) => tags.add(name, TagValue::Double(*x)),
                        Value::Text(s) => tags.add(name, TagValue::Str(s)),
                        Value::Date(d) => {
                            // chrono's format! parses its pattern each call; dates are in every
                            // tile of several layers, so they are written by hand.
                            text.clear();
                            let _ = write!(text, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
                            tags.add(name, TagValue::Str(&text));
                        }
                        t @ Value::DateTime(_) => {
                            if let serde_json::Value::String(s) = t.to_json() {
                                tags.add(name, TagValue::Str(&s));
                            }
                        }
                    }
                }
            })?;
        }
    }
    Ok(builder.finish())
}
