//! TileJSON 3.0.0: what a tile client needs to know of a set of layers served together.

use layers::{GeometryType, PropertyType};
use serde_json::{Value, json};

use crate::{
    access::LayerView,
    feature_view::Columns,
    layer::{Layer, WORLD, extent_of},
};

/// TileJSON 3.0.0 for a set of layers.
pub fn document(base: &str, spec: &str, views: &[LayerView]) -> Value {
    let layers: Vec<&Layer> = views.iter().map(|v| &**v).collect();
    let mut doc = describe(&layers);
    doc["tiles"] = json!([format!("{base}/tiles/{spec}/{{z}}/{{x}}/{{y}}.mvt")]);
    doc
}

/// TileJSON without `tiles`: what a tile package carries as its metadata.
pub fn describe<'a>(layers: &[&'a Layer]) -> Value {
    let minzoom = layers.iter().map(|l| l.def.minzoom).min().unwrap_or(0);
    let maxzoom = layers.iter().map(|l| l.def.maxzoom).max().unwrap_or(tiler::tile::MAX_ZOOM);
    let bounds = extent_of(layers.iter().copied()).unwrap_or(WORLD);
    let center_zoom = minzoom.max(maxzoom.min(10));
    let unique = |values: Vec<&'a str>| {
        let mut out: Vec<&str> = Vec::new();
        for v in values.into_iter().filter(|v| !v.is_empty()) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    };
    let attribution = unique(layers.iter().map(|l| l.def.attribution.as_str()).collect());
    let licenses = unique(layers.iter().filter_map(|l| l.def.license.as_deref()).collect());
    // An SPDX expression of its own keeps its meaning inside the conjunction only in brackets.
    let licenses: Vec<String> =
        licenses.iter().map(|l| if l.contains(' ') { format!("({l})") } else { (*l).to_owned() }).collect();
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": layers.iter().map(|l| l.def.title.as_str()).collect::<Vec<_>>().join(", "),
        "description": layers.iter().map(|l| l.def.description.as_str()).filter(|d| !d.is_empty()).collect::<Vec<_>>().join(" "),
        "attribution": attribution.join("; "),
        "scheme": "xyz",
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0, center_zoom],
        "vector_layers": layers.iter().map(|l| vector_layer(l)).collect::<Vec<_>>(),
    });
    // Not a TileJSON 3.0.0 key; TileJSON allows others, and the licence should travel with the
    // tiles as the attribution does.
    if !licenses.is_empty() {
        doc["license"] = json!(licenses.join(" AND "));
    }
    doc
}

fn vector_layer(layer: &Layer) -> Value {
    let columns = Columns::public(&layer.def);
    let fields: serde_json::Map<String, Value> = columns
        .defs()
        .map(|p| {
            let kind = match p.kind {
                PropertyType::Integer | PropertyType::Real => "Number",
                PropertyType::Boolean => "Boolean",
                PropertyType::Text | PropertyType::Date | PropertyType::Datetime => "String",
            };
            // TileJSON has one language: the province's.
            (p.name.clone(), json!(p.title.as_ref().map_or(kind, |t| t.get(layers::labels::Lang::Vi))))
        })
        .collect();
    json!({
        "id": layer.def.id,
        "description": layer.def.title,
        "minzoom": layer.def.minzoom,
        "maxzoom": layer.def.maxzoom,
        "fields": fields,
        "geometry_type": geometry_kind(layer.def.geometry),
    })
}

/// `point`, `line` or `polygon`, as style editors expect.
pub fn geometry_kind(g: GeometryType) -> &'static str {
    match g {
        GeometryType::Point | GeometryType::MultiPoint => "point",
        GeometryType::LineString | GeometryType::MultiLineString => "line",
        GeometryType::Polygon | GeometryType::MultiPolygon | GeometryType::Geometry => "polygon",
    }
}
