//! Renders a tile from the in-memory index: the glue between `layers` and `tiler`.

use std::sync::Arc;

use layers::Value;
use tiler::{BUFFER, EXTENT, TagValue, TileBuilder, TileCoord, encode::EncodeError};

use crate::state::Layer;

/// The MVT bytes of `tile` with one MVT layer per given layer (those whose zoom range includes
/// the tile's zoom), or `None` when no feature shows. Private properties are never written to
/// tiles.
pub fn render(layers: &[Arc<Layer>], tile: TileCoord) -> Result<Option<Vec<u8>>, EncodeError> {
    let mut builder = TileBuilder::new(tile);
    let window = tile.buffered_bounds(EXTENT, BUFFER);
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
        for f in layer.index.in_mercator_box(window) {
            builder.add_feature(u64::try_from(f.id).ok(), &f.mercator, |tags| {
                for &(i, name) in &published {
                    match &f.properties[i] {
                        Value::Null => {}
                        Value::Bool(b) => tags.add(name, TagValue::Bool(*b)),
                        Value::Int(n) => tags.add(name, TagValue::Int(*n)),
                        Value::Float(x) => tags.add(name, TagValue::Double(*x)),
                        Value::Text(s) => tags.add(name, TagValue::Str(s)),
                        date @ (Value::Date(_) | Value::DateTime(_)) => {
                            if let serde_json::Value::String(s) = date.to_json() {
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
