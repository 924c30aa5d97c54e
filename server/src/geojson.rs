//! GeoJSON written straight to bytes. A page of a thousand parcels holds tens of thousands of
//! coordinates; building a `serde_json::Value` for each of them costs more than finding the
//! features does.

use std::io::Write;

use geo_types::{Coord, Geometry, LineString, Polygon};
use layers::{Value, crs::Crs};

use crate::{error::ApiError, feature_view::FeatureView, features::Page};

/// A GeoJSON geometry object as a geometry (its structure is checked first by the caller).
pub fn parse_geometry(json: &serde_json::Value) -> Result<Geometry, String> {
    let g = ::geojson::Geometry::from_json_value(json.clone()).map_err(|e| e.to_string())?;
    Geometry::try_from(g).map_err(|e| e.to_string())
}

/// A page of features as a FeatureCollection with its paging `links`.
pub fn collection(page: &Page, links: &serde_json::Value) -> Result<Vec<u8>, ApiError> {
    let mut out = format!(
        r#"{{"type":"FeatureCollection","numberMatched":{},"numberReturned":{},"timeStamp":"{}","features":["#,
        page.matched,
        page.features.len(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
    .into_bytes();
    for (i, f) in page.views().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        open_view(&mut out, &f, page.crs)?;
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"links":"#);
    out.extend_from_slice(links.to_string().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// One feature, as `/items/{featureId}` answers it: with its `links`.
pub fn feature(f: &FeatureView, crs: Crs, links: &serde_json::Value) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(512);
    open_view(&mut out, f, crs)?;
    out.extend_from_slice(br#","links":"#);
    out.extend_from_slice(links.to_string().as_bytes());
    out.push(b'}');
    Ok(out)
}

/// A feature as it is seen, its geometry in `crs`, its object left open for more members.
/// Lon/lat coordinates are written exactly as stored (the shortest text that parses back to the
/// same number); projected ones, which a transformation computed, to the millimetre.
fn open_view(out: &mut Vec<u8>, f: &FeatureView, crs: Crs) -> Result<(), ApiError> {
    let scale = match crs {
        Crs::Crs84 | Crs::Epsg(4326) => None,
        _ if crs.is_geographic() => Some(1e8),
        _ => Some(1e3),
    };
    open_feature(out, f.id(), &f.geometry(crs)?, scale, f.properties());
    Ok(())
}

/// Appends one feature, `{"type":"Feature","id":…,"geometry":…,"properties":{…}`, coordinates
/// rounded to `1/scale`, without the closing brace.
fn open_feature<'a>(
    out: &mut Vec<u8>,
    id: i64,
    geometry: &Geometry,
    scale: Option<f64>,
    properties: impl Iterator<Item = (&'a str, &'a Value)>,
) {
    let _ = write!(out, r#"{{"type":"Feature","id":{id},"geometry":"#);
    write_geometry(out, geometry, scale);
    out.extend_from_slice(br#","properties":{"#);
    for (i, (name, value)) in properties.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly as JSON requires; it cannot fail on a Vec.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    let _ = match v {
        Value::Null => write!(out, "null"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int(i) => write!(out, "{i}"),
        Value::Float(f) if f.is_finite() => write!(out, "{f}"),
        Value::Float(_) => write!(out, "null"),
        Value::Text(s) => {
            write_string(out, s);
            Ok(())
        }
        // The one date spelling (RFC 3339), which needs no JSON escaping.
        Value::Date(_) | Value::DateTime(_) => write!(out, "\"{v}\""),
    };
}

/// An RFC 7946 geometry.
pub fn write_geometry(out: &mut Vec<u8>, g: &Geometry, scale: Option<f64>) {
    let open = |out: &mut Vec<u8>, kind: &str| {
        let _ = write!(out, r#"{{"type":"{kind}","coordinates":"#);
    };
    match g {
        Geometry::Point(p) => {
            open(out, "Point");
            coord(out, p.0, scale);
        }
        Geometry::MultiPoint(m) => {
            open(out, "MultiPoint");
            list(out, &m.0, |out, p| coord(out, p.0, scale));
        }
        Geometry::LineString(l) => {
            open(out, "LineString");
            line(out, l, scale);
        }
        Geometry::MultiLineString(m) => {
            open(out, "MultiLineString");
            list(out, &m.0, |out, l| line(out, l, scale));
        }
        Geometry::Polygon(p) => {
            open(out, "Polygon");
            polygon(out, p, scale);
        }
        Geometry::MultiPolygon(m) => {
            open(out, "MultiPolygon");
            list(out, &m.0, |out, p| polygon(out, p, scale));
        }
        Geometry::GeometryCollection(c) => {
            out.extend_from_slice(br#"{"type":"GeometryCollection","geometries":"#);
            list(out, &c.0, |out, g| write_geometry(out, g, scale));
        }
        Geometry::Line(l) => return write_geometry(out, &Geometry::LineString(vec![l.start, l.end].into()), scale),
        Geometry::Rect(r) => return write_geometry(out, &Geometry::Polygon(r.to_polygon()), scale),
        Geometry::Triangle(t) => return write_geometry(out, &Geometry::Polygon(t.to_polygon()), scale),
    }
    out.push(b'}');
}

fn list<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

fn line(out: &mut Vec<u8>, l: &LineString, scale: Option<f64>) {
    list(out, &l.0, |out, c| coord(out, *c, scale));
}

fn polygon(out: &mut Vec<u8>, p: &Polygon, scale: Option<f64>) {
    out.push(b'[');
    line(out, p.exterior(), scale);
    for ring in p.interiors() {
        out.push(b',');
        line(out, ring, scale);
    }
    out.push(b']');
}

/// `[x,y]`, rounded to `1/scale` when there is one: a transformation's output carries noise
/// in its last digits.
fn coord(out: &mut Vec<u8>, c: Coord, scale: Option<f64>) {
    let round = |v: f64| scale.map_or(v, |s| (v * s).round() / s);
    let _ = write!(out, "[{},{}]", round(c.x), round(c.y));
}

#[cfg(test)]
mod tests {
    use geo_types::{point, polygon};

    use super::*;

    fn feature(g: &Geometry, props: &[(&str, Value)]) -> serde_json::Value {
        let mut out = Vec::new();
        open_feature(&mut out, 7, g, None, props.iter().map(|(k, v)| (*k, v)));
        out.push(b'}');
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    #[test]
    fn features_are_valid_json_with_escaped_text() {
        let g = Geometry::Point(point! { x: 105.123456789, y: 0.0000001 });
        let f = feature(&g, &[("name", Value::Text("Đình \"Tân\"\n".into())), ("n", Value::Float(f64::NAN))]);
        assert_eq!(f["geometry"]["coordinates"], serde_json::json!([105.123456789, 0.0000001]));
        assert_eq!(f["properties"]["name"], "Đình \"Tân\"\n");
        assert_eq!(f["properties"]["n"], serde_json::Value::Null);
        assert_eq!(f["id"], 7);
    }

    #[test]
    fn polygons_keep_their_holes() {
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0), (x: 1.0, y: 1.0)]],
        );
        let f = feature(&Geometry::MultiPolygon(vec![p].into()), &[]);
        assert_eq!(f["geometry"]["type"], "MultiPolygon");
        assert_eq!(f["geometry"]["coordinates"][0].as_array().map(Vec::len), Some(2));
    }
}
