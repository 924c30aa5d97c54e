//! Writes as clients send them (OGC API - Features Part 4): a GeoJSON feature checked against
//! the layer as the caller sees it, before anything is written, with a JSON pointer (RFC 6901)
//! to the member at fault; a merge patch (RFC 7396) applied to the stored feature; and the
//! ETag that names a stored feature's state, whoever changed it.

use geo::{CoordsIter, MapCoords};
use geo_types::{Coord, Geometry};
use layers::{Feature, GeometryType, LayerDef, PropertyType, Value, crs::Crs, store::edit::Changes, validity};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::{access::LayerView, error::ApiError, feature_view::Columns, geojson};

/// The strong ETag of a stored feature: a digest of all it holds (every property, private ones
/// too, and the exact coordinates), so that it changes whenever the row does.
pub fn etag(def: &LayerDef, f: &Feature) -> String {
    let digest = Sha256::digest(full_json(def, f));
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The stored feature as the audit keeps it: GeoJSON in lon/lat with every property.
pub fn snapshot(def: &LayerDef, f: &Feature) -> Json {
    serde_json::from_slice(&full_json(def, f)).unwrap_or(Json::Null)
}

fn full_json(def: &LayerDef, f: &Feature) -> Vec<u8> {
    let columns = Columns::new(def, 0..def.properties.len());
    // Lon/lat needs no transformation, so this cannot fail.
    geojson::feature(&columns.view(f), Crs::Crs84, &Json::Array(Vec::new())).unwrap_or_default()
}

/// Whether `If-Match` (RFC 9110, 13.1.1: strong comparison) names `etag`.
pub fn if_match(header: &str, etag: &str) -> bool {
    header.trim() == "*" || header.split(',').any(|t| t.trim() == etag)
}

/// The bounds a write is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Positions in one geometry at most.
    pub max_vertices: usize,
}

/// What one caller may write on one layer, and how its coordinates come.
pub struct Writer<'a> {
    /// The layer as the caller sees it: the properties it may write are those it may see.
    pub view: &'a LayerView,
    /// The CRS of the body's coordinates (`Content-Crs`).
    pub crs: Crs,
    /// The limits.
    pub limits: Limits,
}

/// How much of a feature a write sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whole {
    /// Create or replace: a geometry, and every property the caller may see (missing: none).
    Feature,
    /// A merge patch: only the members given.
    Patch,
}

fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> ApiError {
    ApiError::Invalid { pointer: pointer.into(), detail: detail.into() }
}

impl Writer<'_> {
    /// The changes a GeoJSON feature (at `at` in the body) asks for. `id` is the feature's id
    /// when it exists (a replace or a patch), which the body may repeat but not change.
    pub fn changes(&self, body: &Json, at: &str, whole: Whole, id: Option<i64>) -> Result<Changes, ApiError> {
        let object = body.as_object().ok_or_else(|| invalid(at, "a feature is a JSON object"))?;
        if whole == Whole::Feature && object.get("type").and_then(Json::as_str) != Some("Feature") {
            return Err(invalid(format!("{at}/type"), "the type of a feature is \"Feature\""));
        }
        if let Some(given) = object.get("id") {
            let same = id.is_some_and(|id| given.as_i64() == Some(id) || given.as_str() == Some(&id.to_string()));
            if !same {
                let detail = if id.is_some() { "the id cannot change" } else { "the server assigns ids: leave it out" };
                return Err(invalid(format!("{at}/id"), detail));
            }
        }
        let geometry = match (object.get("geometry"), whole) {
            (Some(g), _) => Some(self.geometry(g, &format!("{at}/geometry"))?),
            (None, Whole::Feature) => return Err(invalid(format!("{at}/geometry"), "a feature needs a geometry")),
            (None, Whole::Patch) => None,
        };
        let values = match object.get("properties") {
            Some(Json::Object(given)) => self.values(given, &format!("{at}/properties"), whole)?,
            Some(Json::Null) | None if whole == Whole::Feature => {
                self.values(&Map::new(), &format!("{at}/properties"), whole)?
            }
            Some(Json::Null) | None => Vec::new(),
            Some(_) => return Err(invalid(format!("{at}/properties"), "properties are a JSON object")),
        };
        Ok(Changes { geometry, values })
    }

    /// The values of `given`, each checked against its property; with [`Whole::Feature`],
    /// every visible property (missing ones become null).
    fn values(&self, given: &Map<String, Json>, at: &str, whole: Whole) -> Result<Vec<(usize, Value)>, ApiError> {
        for name in given.keys() {
            if self.view.visible_named(name).is_none() {
                return Err(invalid(format!("{at}/{}", pointer_token(name)), format!("unknown property {name:?}")));
            }
        }
        let mut values = Vec::new();
        for (i, p) in self.view.visible() {
            let pointer = format!("{at}/{}", pointer_token(&p.name));
            let value = match given.get(&p.name) {
                Some(v) => value(v, p.kind).map_err(|m| invalid(&pointer, m))?,
                None if whole == Whole::Feature => Value::Null,
                None => continue,
            };
            if p.required && value == Value::Null {
                return Err(invalid(&pointer, format!("property {:?} is required", p.name)));
            }
            if let (Some(choices), Value::Text(t)) = (&p.choices, &value)
                && !choices.iter().any(|c| c.as_str() == t.as_str())
            {
                return Err(invalid(&pointer, format!("{t:?} is not one of {}", choices.join(", "))));
            }
            values.push((i, value));
        }
        Ok(values)
    }

    /// A GeoJSON geometry in the body's CRS, as lon/lat: of the layer's type, valid, inside the
    /// CRS's domain and within the vertex limit.
    fn geometry(&self, json: &Json, at: &str) -> Result<Geometry, ApiError> {
        validity::check_structure(json).map_err(|m| invalid(at, m))?;
        let parsed = geojson::parse_geometry(json).map_err(|m| invalid(at, m))?;
        let positions = parsed.coords_count();
        if positions > self.limits.max_vertices {
            let max = self.limits.max_vertices;
            return Err(invalid(at, format!("the geometry has {positions} positions; at most {max} are accepted")));
        }
        if !fits(self.view.def.geometry, &parsed) {
            return Err(invalid(at, format!("the layer holds {:?} geometries", self.view.def.geometry)));
        }
        validity::check_valid(&parsed).map_err(|m| invalid(at, format!("invalid geometry: {m}")))?;
        let lonlat = match self.crs {
            Crs::Crs84 => parsed,
            crs => parsed
                .try_map_coords(|c| crs.with_projector(|p| p.to_lonlat(c)).and_then(|r| r))
                .map_err(|m| invalid(at, format!("the coordinates are not in {}: {m}", crs.uri())))?,
        };
        if let Some(c) = lonlat.coords_iter().find(|c| !in_domain(*c)) {
            return Err(invalid(at, format!("({}, {}) lies outside the CRS's area of use", c.x, c.y)));
        }
        Ok(lonlat)
    }
}

/// Whether `g` may be stored in a layer of type `layer` (a single geometry goes into a layer of
/// its multi type too).
fn fits(layer: GeometryType, g: &Geometry) -> bool {
    use GeometryType as T;
    matches!(
        (layer, g),
        (T::Geometry, _)
            | (T::Point | T::MultiPoint, Geometry::Point(_))
            | (T::MultiPoint, Geometry::MultiPoint(_))
            | (T::LineString | T::MultiLineString, Geometry::LineString(_))
            | (T::MultiLineString, Geometry::MultiLineString(_))
            | (T::Polygon | T::MultiPolygon, Geometry::Polygon(_))
            | (T::MultiPolygon, Geometry::MultiPolygon(_))
    )
}

fn in_domain(c: Coord) -> bool {
    c.x.is_finite() && c.y.is_finite() && (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y)
}

/// A JSON value as a value of a property of type `kind`.
fn value(v: &Json, kind: PropertyType) -> Result<Value, String> {
    let wrong = || format!("{v} is not a valid {}", kind_name(kind));
    Ok(match (v, kind) {
        (Json::Null, _) => Value::Null,
        (Json::String(s), PropertyType::Text) => Value::Text(s.as_str().into()),
        (Json::Number(n), PropertyType::Integer) => Value::Int(n.as_i64().ok_or_else(wrong)?),
        (Json::Number(n), PropertyType::Real) => Value::Float(n.as_f64().ok_or_else(wrong)?),
        (Json::Bool(b), PropertyType::Boolean) => Value::Bool(*b),
        (Json::String(s), PropertyType::Date) => {
            Value::Date(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| wrong())?)
        }
        (Json::String(s), PropertyType::Datetime) => {
            Value::DateTime(chrono::DateTime::parse_from_rfc3339(s).map_err(|_| wrong())?.with_timezone(&chrono::Utc))
        }
        _ => return Err(wrong()),
    })
}

fn kind_name(kind: PropertyType) -> &'static str {
    match kind {
        PropertyType::Text => "string",
        PropertyType::Integer => "integer",
        PropertyType::Real => "number",
        PropertyType::Boolean => "boolean",
        PropertyType::Date => "date (YYYY-MM-DD)",
        PropertyType::Datetime => "date-time (RFC 3339)",
    }
}

/// A property name as one token of a JSON pointer (RFC 6901: `~` and `/` escaped).
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_their_property_type() {
        assert_eq!(value(&serde_json::json!(3), PropertyType::Integer), Ok(Value::Int(3)));
        assert!(value(&serde_json::json!(3.5), PropertyType::Integer).is_err());
        assert!(value(&serde_json::json!("3"), PropertyType::Integer).is_err());
        assert_eq!(value(&serde_json::json!(true), PropertyType::Boolean), Ok(Value::Bool(true)));
        assert!(value(&serde_json::json!("2024-02-30"), PropertyType::Date).is_err());
        assert_eq!(value(&Json::Null, PropertyType::Text), Ok(Value::Null));
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn if_match_compares_strongly() {
        assert!(if_match("\"abc\"", "\"abc\"") && if_match("\"x\", \"abc\"", "\"abc\"") && if_match("*", "\"abc\""));
        assert!(!if_match("W/\"abc\"", "\"abc\"") && !if_match("\"abd\"", "\"abc\""));
    }
}
