//! JSON Schemas of a layer: its features (OGC API - Features Part 5, with the roles of the id,
//! the geometry and the time), its queryables (Part 3) and sortables, and the parameter schemas
//! of the OpenAPI document, from one table of property types. Each shows only what the caller
//! may see.

use layers::{GeometryType, PropertyDef, PropertyType, labels::Lang};
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
pub fn queryables(id: &str, view: &LayerView, lang: Lang) -> Value {
    let mut properties = Map::new();
    properties.insert("geometry".into(), json!({ "title": "Geometry", "format": geometry_format(view.def.geometry) }));
    for (_, p) in view.queryable() {
        properties.insert(p.name.clone(), described(p, lang));
    }
    object(id, view, properties)
}

/// The schema of the layer's features as the caller sees them (Part 5, returnables and
/// receivables): the id (assigned by the server, so read-only), the primary geometry, every
/// visible property with the time one marked, the ones the table requires, and the values a
/// property is limited to. A write is checked against the same rules.
pub fn features(id: &str, view: &LayerView, lang: Lang) -> Value {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({ "title": "Id", "type": "integer", "x-ogc-role": "id", "readOnly": true }));
    properties.insert(
        "geometry".into(),
        json!({ "title": "Geometry", "format": geometry_format(view.def.geometry), "x-ogc-role": "primary-geometry" }),
    );
    let mut required = Vec::new();
    for (_, p) in view.visible() {
        let mut s = described(p, lang);
        if view.def.temporal.as_deref() == Some(p.name.as_str()) {
            s["x-ogc-role"] = json!("primary-instant");
        }
        // Kept beside `described`'s labelled `oneOf`: the plain list is what most clients read.
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
pub fn sortables(id: &str, view: &LayerView, lang: Lang) -> Value {
    let mut properties = Map::new();
    for (_, p) in view.visible() {
        properties.insert(p.name.clone(), described(p, lang));
    }
    object(id, view, properties)
}

/// A property's schema with its title in `lang` (its name when it has none), its unit (Part 5's
/// `x-ogc-unit`) and the labels of its codes.
fn described(p: &PropertyDef, lang: Lang) -> Value {
    let mut s = property(p.kind);
    s["title"] = json!(p.title_in(lang));
    if let Some(unit) = &p.unit {
        s["x-ogc-unit"] = json!(unit);
    }
    if let (Some(codes), Some(o)) = (coded(p, lang), s.as_object_mut()) {
        o.extend(codes);
    }
    s
}

/// The labels of a coded property's values as JSON Schema writes labelled values: a `const`
/// with a `title` each. Where the table limits the values (`enum`), the list is those values,
/// labelled where a label exists; otherwise the labelled codes come first and any other value
/// of the type stays valid, since a code list may not name every code in the data.
fn coded(p: &PropertyDef, lang: Lang) -> Option<Map<String, Value>> {
    let labels = p.labels.as_ref()?;
    let entry = |code: &str| {
        // An integer property's codes are integers: `const` must have the value's type.
        let value = match p.kind {
            PropertyType::Integer => code.parse::<i64>().map_or_else(|_| json!(code), |n| json!(n)),
            _ => json!(code),
        };
        match p.label(code, lang) {
            Some(label) => json!({ "const": value, "title": label }),
            None => json!({ "const": value }),
        }
    };
    let mut out = Map::new();
    match &p.choices {
        Some(choices) => {
            out.insert("oneOf".into(), choices.iter().map(|c| entry(c)).collect());
        }
        None => {
            let any = labels.keys().map(|c| entry(c)).chain([property(p.kind)]).collect();
            out.insert("anyOf".into(), any);
        }
    }
    Some(out)
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
