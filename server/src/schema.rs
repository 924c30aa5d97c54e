//! JSON Schema of a layer's properties: the queryables (OGC API - Features Part 3) and the
//! parameter schemas of the OpenAPI document, from one table of property types.

use layers::{GeometryType, PropertyType};
use serde_json::{Map, Value, json};

use crate::access::LayerView;

/// The JSON Schema of a property type.
pub fn property(kind: PropertyType) -> Value {
    match kind {
        PropertyType::Text => json!({ "type": "string" }),
        PropertyType::Integer => json!({ "type": "integer" }),
        PropertyType::Real => json!({ "type": "number" }),
        PropertyType::Boolean => json!({ "type": "boolean" }),
        PropertyType::Date => json!({ "type": "string", "format": "date" }),
        PropertyType::Datetime => json!({ "type": "string", "format": "date-time" }),
    }
}

/// The JSON Schema of the properties the caller may filter on, and the geometry, as `$id`.
/// Nothing else may be named (`additionalProperties: false`), so a filter on anything else is
/// a 400.
pub fn queryables(id: &str, view: &LayerView) -> Value {
    let mut properties = Map::new();
    properties.insert("geometry".into(), json!({ "title": "Geometry", "format": geometry_format(view.def.geometry) }));
    for (_, p) in view.queryable() {
        let mut s = property(p.kind);
        s["title"] = json!(p.title.clone().unwrap_or_else(|| p.name.clone()));
        properties.insert(p.name.clone(), s);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "type": "object",
        "title": view.def.title,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn geometry_format(g: GeometryType) -> &'static str {
    match g {
        GeometryType::Point => "geometry-point",
        GeometryType::MultiPoint => "geometry-multipoint",
        GeometryType::LineString => "geometry-linestring",
        GeometryType::MultiLineString => "geometry-multilinestring",
        GeometryType::Polygon => "geometry-polygon",
        GeometryType::MultiPolygon => "geometry-multipolygon",
        GeometryType::Geometry => "geometry-any",
    }
}
