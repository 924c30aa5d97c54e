//! `/collections/{id}/queryables`: the properties a filter may name, as JSON Schema
//! (OGC API - Features Part 3).

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::get,
};
use layers::{GeometryType, PropertyType};
use serde_json::{Map, Value, json};

use super::{base_url, tiles::one_layer};
use crate::{
    auth::Caller,
    error::ApiError,
    html,
    request::{Format, Params},
    state::{AppState, Layer},
};

/// Link relation from a collection to its queryables.
pub const REL_QUERYABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/collections/{id}/queryables", get(queryables))
}

async fn queryables(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = one_layer(&state, &caller, &id)?;
    let format = Format::negotiate(&params, &headers)?;
    let schema = schema(&format!("{}/collections/{id}/queryables", base_url(&headers)), &layer, &caller);
    if format == Format::Html {
        let rows = schema["properties"]
            .as_object()
            .map(|p| p.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect::<Vec<_>>())
            .unwrap_or_default();
        let crumbs = [
            ("Bando", "/".to_owned()),
            ("Collections", "/collections".to_owned()),
            (id.as_str(), format!("/collections/{id}")),
        ];
        let page =
            html::page("Queryables", &crumbs, &format!("/collections/{id}/queryables?f=json"), &html::table(rows));
        return Ok(([(header::CONTENT_TYPE, html::HTML)], page).into_response());
    }
    Ok(([(header::CONTENT_TYPE, "application/schema+json")], schema.to_string()).into_response())
}

/// The JSON Schema of a layer's queryable properties and its geometry. Nothing else may be
/// named (`additionalProperties: false`), so a filter on anything else is a 400.
fn schema(id: &str, layer: &Layer, caller: &Caller) -> Value {
    let mut properties = Map::new();
    properties.insert("geometry".into(), json!({ "title": "Geometry", "format": geometry_format(layer.def.geometry) }));
    for (i, p) in layer.def.properties.iter().enumerate().filter(|(i, _)| layer.is_queryable(*i, caller)) {
        let mut s = property_schema(p.kind);
        s["title"] = json!(p.title.clone().unwrap_or_else(|| p.name.clone()));
        properties.insert(layer.def.properties[i].name.clone(), s);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "type": "object",
        "title": layer.def.title,
        "properties": properties,
        "additionalProperties": false,
    })
}

/// The JSON Schema of a property type, for queryables and the OpenAPI parameters.
pub fn property_schema(kind: PropertyType) -> Value {
    match kind {
        PropertyType::Text => json!({ "type": "string" }),
        PropertyType::Integer => json!({ "type": "integer" }),
        PropertyType::Real => json!({ "type": "number" }),
        PropertyType::Boolean => json!({ "type": "boolean" }),
        PropertyType::Date => json!({ "type": "string", "format": "date" }),
        PropertyType::Datetime => json!({ "type": "string", "format": "date-time" }),
    }
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
