//! Features as GeoJSON: `/collections/{id}/items` (bbox, datetime, property=value, limit,
//! offset; `next`/`prev` links) and `/collections/{id}/items/{featureId}`.
//!
//! Parameters are parsed here into a typed [`FeatureQuery`]; anything unknown or malformed is a
//! 400 naming the parameter.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, NaiveDate, Utc};
use geo_types::Geometry;
use layers::{
    Feature, PropertyType, Value,
    query::{Bbox, FeatureQuery, Interval},
};
use serde_json::{Map, json};

use super::{base_url, tiles::one_layer};
use crate::{
    error::ApiError,
    state::{AppState, Layer},
};

/// The GeoJSON media type.
pub const GEOJSON: &str = "application/geo+json";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/collections/{id}/items", get(items)).route("/collections/{id}/items/{fid}", get(item))
}

async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = one_layer(&state, &id)?;
    let query = parse_query(&layer, &params, state.settings())?;
    let page = layers::query::run(&layer.index, &layer.def, &query);
    let base = format!("{}/collections/{id}/items", base_url(&headers));
    let link = |rel: &str, offset: usize| {
        let mut qs: Vec<String> = params
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        qs.push(format!("limit={}", query.limit));
        if offset > 0 {
            qs.push(format!("offset={offset}"));
        }
        json!({ "rel": rel, "type": GEOJSON, "href": format!("{base}?{}", qs.join("&")) })
    };
    let mut links = vec![link("self", query.offset)];
    if query.offset + page.features.len() < page.matched {
        links.push(link("next", query.offset + query.limit));
    }
    if query.offset > 0 {
        links.push(link("prev", query.offset.saturating_sub(query.limit)));
    }
    links.push(json!({ "rel": "collection", "type": "application/json", "href": base.trim_end_matches("/items") }));
    let body = json!({
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": page.features.len(),
        "timeStamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "features": page.features.iter().map(|f| feature_json(&layer, f)).collect::<Vec<_>>(),
        "links": links,
    });
    Ok(([(header::CONTENT_TYPE, GEOJSON)], body.to_string()).into_response())
}

async fn item(
    State(state): State<AppState>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = one_layer(&state, &id)?;
    let feature = fid.parse::<i64>().ok().and_then(|n| layer.index.get(n));
    let feature = feature.ok_or_else(|| ApiError::NotFound(format!("no feature {fid:?} in collection {id:?}")))?;
    let base = format!("{}/collections/{id}", base_url(&headers));
    let mut body = feature_json(&layer, feature);
    body["links"] = json!([
        { "rel": "self", "type": GEOJSON, "href": format!("{base}/items/{fid}") },
        { "rel": "collection", "type": "application/json", "href": base },
    ]);
    Ok(([(header::CONTENT_TYPE, GEOJSON)], body.to_string()).into_response())
}

/// Builds the typed query; every error names the parameter.
fn parse_query(
    layer: &Layer,
    params: &[(String, String)],
    settings: &crate::state::Settings,
) -> Result<FeatureQuery, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let mut q = FeatureQuery { limit: settings.default_limit, ..FeatureQuery::default() };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in params {
        if !seen.insert(key.as_str()) {
            return Err(bad(format!("parameter {key:?} is given twice")));
        }
        match key.as_str() {
            "limit" => {
                q.limit = value.parse().map_err(|_| bad(format!("limit must be a positive integer, not {value:?}")))?;
                if q.limit == 0 || q.limit > settings.max_limit {
                    return Err(bad(format!("limit must be between 1 and {}", settings.max_limit)));
                }
            }
            "offset" => {
                q.offset =
                    value.parse().map_err(|_| bad(format!("offset must be a non-negative integer, not {value:?}")))?;
            }
            "bbox" => q.bbox = Some(parse_bbox(value).map_err(bad)?),
            "datetime" => q.datetime = Some(parse_interval(value).map_err(|m| bad(format!("datetime: {m}")))?),
            "f" if value == "json" || value == "geojson" => {}
            name => {
                let i = layer
                    .def
                    .properties
                    .iter()
                    .position(|p| p.name == name && p.queryable && !p.private)
                    .ok_or_else(|| bad(format!("unknown parameter {name:?}")))?;
                let kind = layer.def.properties[i].kind;
                let v = parse_value(value, kind)
                    .ok_or_else(|| bad(format!("{name}: {value:?} is not a valid {kind:?}")))?;
                q.equals.push((i, v));
            }
        }
    }
    Ok(q)
}

fn parse_bbox(s: &str) -> Result<Bbox, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bbox must be numbers: {s:?}"))?;
    match v.as_slice() {
        [a, b, c, d] => Bbox::new([*a, *b, *c, *d]),
        [a, b, _, c, d, _] => Bbox::new([*a, *b, *c, *d]),
        _ => Err(format!("bbox takes 4 or 6 numbers, not {}", v.len())),
    }
}

/// `instant`, `start/end`, with `..` or nothing for an open end. A date alone is the whole day.
fn parse_interval(s: &str) -> Result<Interval, String> {
    let end_of_day = |d: NaiveDate| d.and_hms_milli_opt(23, 59, 59, 999).map(|t| t.and_utc());
    let instant = |p: &str, end: bool| -> Result<Option<DateTime<Utc>>, String> {
        if p.is_empty() || p == ".." {
            return Ok(None);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(p) {
            return Ok(Some(t.with_timezone(&Utc)));
        }
        let d = NaiveDate::parse_from_str(p, "%Y-%m-%d")
            .map_err(|_| format!("{p:?} is not an RFC 3339 date or date-time"))?;
        Ok(if end { end_of_day(d) } else { d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()) })
    };
    let interval = match s.split_once('/') {
        None if s == ".." || s.is_empty() => return Err("an instant cannot be open".into()),
        None => Interval { start: instant(s, false)?, end: instant(s, true)? },
        Some((a, b)) => Interval { start: instant(a, false)?, end: instant(b, true)? },
    };
    if let (Some(a), Some(b)) = (interval.start, interval.end)
        && a > b
    {
        return Err("the interval ends before it starts".into());
    }
    Ok(interval)
}

fn parse_value(s: &str, kind: PropertyType) -> Option<Value> {
    Some(match kind {
        PropertyType::Text => Value::Text(s.into()),
        PropertyType::Integer => Value::Int(s.parse().ok()?),
        PropertyType::Real => Value::Float(s.parse::<f64>().ok().filter(|v| v.is_finite())?),
        PropertyType::Boolean => Value::Bool(s.parse().ok()?),
        PropertyType::Date => Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?),
        PropertyType::Datetime => Value::DateTime(DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc)),
    })
}

/// Percent-encodes a query component for links.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A feature as GeoJSON, without its private properties.
pub fn feature_json(layer: &Layer, f: &Feature) -> serde_json::Value {
    let properties: Map<String, serde_json::Value> = layer
        .def
        .properties
        .iter()
        .zip(f.properties.iter())
        .filter(|(p, _)| !p.private)
        .map(|(p, v)| (p.name.clone(), v.to_json()))
        .collect();
    json!({ "type": "Feature", "id": f.id, "geometry": geometry_json(&f.lonlat()), "properties": properties })
}

/// RFC 7946 geometry, coordinates rounded to 1e-8° (about 1 mm): the index keeps Web Mercator,
/// and the round trip leaves noise in the last digits that this removes.
fn geometry_json(g: &Geometry) -> serde_json::Value {
    let c = |c: &geo_types::Coord| json!([round(c.x), round(c.y)]);
    let line = |l: &geo_types::LineString| l.0.iter().map(c).collect::<Vec<_>>();
    let polygon =
        |p: &geo_types::Polygon| std::iter::once(p.exterior()).chain(p.interiors()).map(line).collect::<Vec<_>>();
    match g {
        Geometry::Point(p) => json!({ "type": "Point", "coordinates": c(&p.0) }),
        Geometry::MultiPoint(m) => {
            json!({ "type": "MultiPoint", "coordinates": m.0.iter().map(|p| c(&p.0)).collect::<Vec<_>>() })
        }
        Geometry::LineString(l) => json!({ "type": "LineString", "coordinates": line(l) }),
        Geometry::MultiLineString(m) => {
            json!({ "type": "MultiLineString", "coordinates": m.0.iter().map(line).collect::<Vec<_>>() })
        }
        Geometry::Polygon(p) => json!({ "type": "Polygon", "coordinates": polygon(p) }),
        Geometry::MultiPolygon(m) => {
            json!({ "type": "MultiPolygon", "coordinates": m.0.iter().map(polygon).collect::<Vec<_>>() })
        }
        Geometry::GeometryCollection(gc) => {
            json!({ "type": "GeometryCollection", "geometries": gc.0.iter().map(geometry_json).collect::<Vec<_>>() })
        }
        Geometry::Line(l) => geometry_json(&Geometry::LineString(geo_types::LineString::from(vec![l.start, l.end]))),
        Geometry::Rect(r) => geometry_json(&Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => geometry_json(&Geometry::Polygon(t.to_polygon())),
    }
}

fn round(v: f64) -> f64 {
    (v * 1e8).round() / 1e8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_open_ends() {
        assert!(parse_interval("2020-01-01/..").is_ok_and(|i| i.start.is_some() && i.end.is_none()));
        assert!(parse_interval("../2020-01-01T00:00:00Z").is_ok_and(|i| i.start.is_none() && i.end.is_some()));
        assert!(parse_interval("2021-01-01/2020-01-01").is_err());
        assert!(parse_interval("..").is_err());
        assert!(parse_interval("yesterday").is_err());
    }

    #[test]
    fn bboxes_parse_strictly() {
        assert!(parse_bbox("105,9,106,10").is_ok());
        assert!(parse_bbox("105,9,106").is_err());
        assert!(parse_bbox("a,b,c,d").is_err());
        assert!(parse_bbox("105,10,106,9").is_err());
    }
}
