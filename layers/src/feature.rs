//! The feature model shared by the stores, the index and the server.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use geo_types::Geometry;

/// A property value, 24 bytes: a million features with ten properties each is 240 MB of values.
/// Text of up to 24 bytes (codes, names, numbers as text: most values) is held inline, without
/// an allocation of its own; that is a third of the memory of a million-parcel layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Missing.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Number.
    Float(f64),
    /// Text.
    Text(compact_str::CompactString),
    /// Calendar date.
    Date(NaiveDate),
    /// Instant.
    DateTime(DateTime<Utc>),
}

impl Value {
    /// The value as JSON: dates and instants as RFC 3339 strings (the [`Display`](fmt::Display)
    /// spelling), as GeoJSON and OGC API expect.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => (*b).into(),
            Self::Int(i) => (*i).into(),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Self::Text(s) => s.as_str().into(),
            Self::Date(_) | Self::DateTime(_) => self.to_string().into(),
        }
    }

    /// Heap bytes this value owns, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::Text(s) if s.is_heap_allocated() => s.len(),
            _ => 0,
        }
    }
}

/// The value as plain text, the one spelling every encoder (GeoJSON, HTML, tiles) writes:
/// dates as RFC 3339 `full-date`, instants as RFC 3339 in UTC with `Z`, nothing for a missing
/// value or a number that is not finite (GeoJSON writes those as `null`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => Ok(()),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) if x.is_finite() => write!(f, "{x}"),
            Self::Float(_) => Ok(()),
            Self::Text(s) => f.write_str(s),
            // chrono parses a format pattern on each call; dates are in every tile of several
            // layers, so the common four-digit years are written by hand.
            Self::Date(d) if (0..=9999).contains(&d.year()) => {
                write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
            }
            Self::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Self::DateTime(t) => f.write_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        }
    }
}

/// One feature of a layer.
///
/// The geometry is kept twice: in lon/lat exactly as stored, which feature answers, filters
/// and extents use, and in Web Mercator, the projection tiles need on every request (projecting
/// there would cost a logarithm per vertex per tile). Deriving lon/lat from Mercator instead
/// would clamp latitudes beyond ±85.0511° and move every vertex by rounding, so that shared
/// vertices no longer touch.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    /// The layer's primary key.
    pub id: i64,
    /// The geometry in lon/lat (EPSG:4326 coordinates, CRS84 axis order), as stored.
    pub geometry: Geometry,
    /// The geometry in Web Mercator metres, latitudes clamped to the projection's limit.
    pub mercator: Geometry,
    /// Values in the order of the layer's `properties`.
    pub properties: Box<[Value]>,
    /// The text values folded for `q`, made by the first search that reads them.
    folded: crate::search::FoldedText,
}

impl Feature {
    /// Builds a feature from its lon/lat geometry (EPSG:4326 coordinates, CRS84 axis order).
    pub fn new(id: i64, geometry: Geometry, properties: Vec<Value>) -> Self {
        let mercator = crate::mercator::geometry_to_mercator(&geometry);
        Self { id, geometry, mercator, properties: properties.into_boxed_slice(), folded: Default::default() }
    }

    /// Property `i` folded for free-text search (see [`crate::text::fold`]), when it is text.
    /// Folded once per feature version: a change makes a new feature.
    pub fn folded(&self, i: usize) -> Option<&str> {
        self.folded.of(&self.properties).get(i).filter(|_| matches!(self.properties[i], Value::Text(_))).map(|s| &**s)
    }

    /// Approximate bytes this feature occupies, heap included.
    pub fn approx_bytes(&self) -> usize {
        use geo::CoordsIter;
        std::mem::size_of::<Self>()
            + 2 * self.geometry.coords_count() * std::mem::size_of::<geo_types::Coord>()
            + self.properties.iter().map(|v| std::mem::size_of::<Value>() + v.heap_bytes()).sum::<usize>()
            + self.folded.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_small() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        // 24 bytes of UTF-8: held inline.
        assert_eq!(Value::Text("Nguyễn Thị Minh Khai".into()).heap_bytes(), 0);
    }

    #[test]
    fn lon_lat_is_kept_bit_for_bit_even_beyond_mercators_limit() {
        let g = Geometry::Point(geo_types::point! { x: 6.043_073_357_781_111, y: -89.999_999_999_999_99 });
        let f = Feature::new(1, g.clone(), vec![]);
        assert_eq!(f.geometry, g);
        let Geometry::Point(m) = f.mercator else { panic!("not a point") };
        assert!((m.y() + crate::mercator::HALF_WORLD).abs() < 1e-3, "{m:?}");
    }

    #[test]
    fn text_and_json_spell_dates_the_same_rfc_3339_way() {
        let instant =
            DateTime::parse_from_rfc3339("2025-07-01T08:30:00+07:00").map(|t| Value::DateTime(t.with_timezone(&Utc)));
        let instant = instant.unwrap_or(Value::Null);
        assert_eq!(instant.to_string(), "2025-07-01T01:30:00Z");
        assert_eq!(instant.to_json(), serde_json::json!("2025-07-01T01:30:00Z"));
        let early = NaiveDate::from_ymd_opt(987, 1, 2).map(Value::Date).unwrap_or(Value::Null);
        assert_eq!(early.to_string(), "0987-01-02");
        assert_eq!(Value::Float(f64::INFINITY).to_string(), "");
        assert_eq!(Value::Float(2.5).to_string(), "2.5");
    }

    #[test]
    fn dates_serialise_as_iso_8601() {
        let d = NaiveDate::from_ymd_opt(2025, 7, 1).map(Value::Date);
        assert_eq!(d.map(|v| v.to_json()), Some(serde_json::json!("2025-07-01")));
        assert_eq!(Value::Float(f64::NAN).to_json(), serde_json::Value::Null);
    }
}
