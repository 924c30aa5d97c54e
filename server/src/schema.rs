//! JSON Schemas of a layer: its features (OGC API - Features Part 5, with the roles of the id,
//! the geometry and the time), its queryables (Part 3) and sortables, and the parameter schemas
//! of the OpenAPI document, from one table of property types. Each shows only what the caller
//! may see.

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
        properties.insert(p.name.clone(), titled(p));
    }
    object(id, view, properties)
}

/// The schema of the layer's features as the caller sees them (Part 5, returnables and
/// receivables): the id (assigned by the server, so read-only), the primary geometry, every
/// visible property with the time one marked, the ones the table requires, and the values a
/// property is limited to. A write is checked against the same rules.
pub fn features(id: &str, view: &LayerView) -> Value {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({ "title": "Id", "type": "integer", "x-ogc-role": "id", "readOnly": true }));
    properties.insert(
        "geometry".into(),
        json!({ "title": "Geometry", "format": geometry_format(view.def.geometry), "x-ogc-role": "primary-geometry" }),
    );
    let mut required = Vec::new();
    for (_, p) in view.visible() {
        let mut s = titled(p);
        if view.def.temporal.as_deref() == Some(p.name.as_str()) {
            s["x-ogc-role"] = json!("primary-instant");
        }
        if let Some(choices) = &p.choices {
            s["enum"] = json!(choices);
        }
        if p.required {
            required.push(p.name.clone());
        }
        properties.insert(p.name.clone(), s);
    }
    let mut schema = object(id, view, properties);
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// The properties the caller may sort by (`sortby`): every visible one; never the geometry.
pub fn sortables(id: &str, view: &LayerView) -> Value {
    let mut properties = Map::new();
    for (_, p) in view.visible() {
        properties.insert(p.name.clone(), titled(p));
    }
    object(id, view, properties)
}

/// A property's schema with its title (its name when it has none).
fn titled(p: &layers::PropertyDef) -> Value {
    let mut s = property(p.kind);
    s["title"] = json!(p.title.clone().unwrap_or_else(|| p.name.clone()));
    s
}

fn object(id: &str, view: &LayerView, properties: Map<String, Value>) -> Value {
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
