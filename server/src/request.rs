//! The edge of every request: the query string as decoded pairs, and the answer's format.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};

use chrono::{DateTime, NaiveDate, Utc};
use geo_types::Coord;
use layers::{
    crs::Crs,
    query::{Bbox, Interval},
};
use tiler::TileCoord;

use crate::error::ApiError;

/// The path's captures. A segment that does not decode (not UTF-8 once percent-decoded) is a
/// 400 problem, not axum's plain-text rejection.
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(captures)) => Ok(Self(captures)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// The query string as `(name, value)` pairs, percent-decoded. Undecodable input (invalid
/// UTF-8) is a 400 problem, not axum's plain-text rejection.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::parse(parts.uri.query().unwrap_or("")).map_err(ApiError::BadRequest)
    }
}

impl Params {
    /// Decodes `a=1&b=x+y`. Unlike the usual form decoders, which replace bytes that are not
    /// UTF-8, this refuses them: a filter or a name must arrive as sent, or not at all.
    pub fn parse(query: &str) -> Result<Self, String> {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| format!("the query string is not UTF-8 once decoded: {s:.40}"))
        };
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                Ok((decode(k)?, decode(v)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self(pairs))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Refuses any parameter outside `allowed`, and any given twice.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut seen = std::collections::HashSet::new();
        for (k, _) in &self.0 {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::BadRequest(format!("unknown parameter {k:?}")));
            }
            if !seen.insert(k) {
                return Err(ApiError::BadRequest(format!("parameter {k:?} is given twice")));
            }
        }
        Ok(())
    }
}

/// The representation asked for, by `f` or else by `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON (GeoJSON for features).
    Json,
    /// An HTML page.
    Html,
}

impl Format {
    /// `f=json|geojson|html` wins; otherwise HTML when `Accept` prefers it to JSON, as browsers
    /// do, and JSON for everything else.
    pub fn negotiate(params: &Params, headers: &HeaderMap) -> Result<Self, ApiError> {
        match params.get("f") {
            Some("json" | "geojson") => return Ok(Self::Json),
            Some("html") => return Ok(Self::Html),
            Some(other) => return Err(ApiError::BadRequest(format!("f must be json or html, not {other:?}"))),
            None => {}
        }
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let position = |needle: &str| accept.find(needle);
        Ok(match (position("text/html"), position("json")) {
            (Some(h), Some(j)) if h < j => Self::Html,
            (Some(_), None) => Self::Html,
            _ => Self::Json,
        })
    }
}

/// `minx,miny,maxx,maxy` (or six numbers with heights) in `crs`'s axis order, as a lon/lat box.
pub fn parse_bbox(s: &str, crs: Crs) -> Result<Bbox, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("must be numbers: {s:?}"))?;
    let [a, b, c, d] = match v.as_slice() {
        [a, b, c, d] => [*a, *b, *c, *d],
        [a, b, _, c, d, _] => [*a, *b, *c, *d],
        _ => return Err(format!("takes 4 or 6 numbers, not {}", v.len())),
    };
    if v.iter().any(|x| !x.is_finite()) {
        return Err("values must be finite numbers".into());
    }
    match crs {
        Crs::Crs84 => Bbox::new([a, b, c, d]),
        Crs::Epsg(4326) => Bbox::new([b, a, d, c]),
        other => {
            if a > c || b > d {
                return Err("the lower corner must come first".into());
            }
            // A projected box's edges are curves in lon/lat: its lon/lat box is that of points
            // along every edge, not only of its corners.
            let steps = 16;
            let mut edge = Vec::with_capacity(4 * steps);
            for i in 0..steps {
                let t = i as f64 / steps as f64;
                let (x, y) = (a + (c - a) * t, b + (d - b) * t);
                edge.extend([Coord { x, y: b }, Coord { x, y: d }, Coord { x: a, y }, Coord { x: c, y }]);
            }
            edge.push(Coord { x: c, y: d });
            let lonlat: Vec<Coord> = other
                .with_projector(|p| edge.iter().map(|c| p.to_lonlat(*c)).collect::<Result<_, _>>())
                .and_then(|r| r)?;
            let (xs, ys): (Vec<f64>, Vec<f64>) = lonlat.iter().map(|c| (c.x, c.y)).unzip();
            let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Bbox::new([min(&xs), min(&ys), max(&xs), max(&ys)])
        }
    }
}

/// `instant`, `start/end`, with `..` or nothing for an open end. A date alone is the whole day.
pub fn parse_interval(s: &str) -> Result<Interval, String> {
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

/// The tile coordinates of a path: 400 for anything that is not a tile.
pub fn parse_tile(z: &str, x: &str, y: &str) -> Result<TileCoord, ApiError> {
    let num = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| ApiError::BadRequest(format!("{name} must be a non-negative integer, not {v:?}")))
    };
    TileCoord::new(num("zoom", z)?, num("column", x)?, num("row", y)?).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A JSON request body of one of these media types, at most `[limits] max_write_bytes` long:
/// 415 for another media type, 413 past the limit, 400 for what is not JSON.
pub async fn json_body(
    settings: &crate::settings::Settings,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    types: &[&str],
) -> Result<serde_json::Value, ApiError> {
    let given = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !types.contains(&essence.as_str()) {
        return Err(ApiError::UnsupportedMediaType(format!("the body must be {}, not {given:?}", types.join(" or "))));
    }
    let most = settings.max_write_bytes;
    let bytes = axum::body::to_bytes(body, most)
        .await
        .map_err(|_| ApiError::TooLarge(format!("the body is over {most} bytes, the most a write takes")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Invalid { pointer: String::new(), detail: format!("the body is not JSON: {e}") })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn negotiate(f: Option<&str>, accept: &str) -> Result<Format, ApiError> {
        let params = Params(f.map(|f| vec![("f".to_owned(), f.to_owned())]).unwrap_or_default());
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).map_err(|e| ApiError::Internal(e.to_string()))?);
        Format::negotiate(&params, &headers)
    }

    #[test]
    fn intervals_parse_with_open_ends() {
        assert!(parse_interval("2020-01-01/..").is_ok_and(|i| i.start.is_some() && i.end.is_none()));
        assert!(parse_interval("../2020-01-01T00:00:00Z").is_ok_and(|i| i.start.is_none() && i.end.is_some()));
        assert!(parse_interval("2021-01-01/2020-01-01").is_err());
        assert!(parse_interval("..").is_err());
        assert!(parse_interval("yesterday").is_err());
    }

    #[test]
    fn bboxes_parse_strictly_in_their_crs() {
        assert!(parse_bbox("105,9,106,10", Crs::Crs84).is_ok());
        assert!(parse_bbox("105,9,106", Crs::Crs84).is_err());
        assert!(parse_bbox("a,b,c,d", Crs::Crs84).is_err());
        assert!(parse_bbox("105,10,106,9", Crs::Crs84).is_err());
        assert_eq!(parse_bbox("9,105,10,106", Crs::Epsg(4326)), parse_bbox("105,9,106,10", Crs::Crs84));
        assert!(parse_bbox("587000,1100000,588000,1101000", Crs::Epsg(9210)).is_ok());
    }

    #[test]
    fn queries_decode_strictly() {
        let p = Params::parse("q=%C4%90%C3%ACnh+t%C3%A2n&filter=a%3D1&flag").map(|p| p.0);
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<Vec<_>>();
        assert_eq!(p, Ok(pairs(&[("q", "Đình tân"), ("filter", "a=1"), ("flag", "")])));
        assert!(Params::parse("q=%FF%FE").is_err());
    }

    #[test]
    fn bad_tile_coordinates_are_400() {
        for (z, x, y) in [("a", "0", "0"), ("3", "8", "0"), ("23", "0", "0"), ("-1", "0", "0"), ("1", "0", "1.5")] {
            assert!(matches!(parse_tile(z, x, y), Err(ApiError::BadRequest(_))), "{z}/{x}/{y}");
        }
    }

    #[test]
    fn browsers_get_html_and_clients_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(negotiate(None, browser).ok(), Some(Format::Html));
        assert_eq!(negotiate(None, "application/geo+json, application/json").ok(), Some(Format::Json));
        assert_eq!(negotiate(None, "*/*").ok(), Some(Format::Json));
        assert_eq!(negotiate(Some("json"), browser).ok(), Some(Format::Json));
        assert!(negotiate(Some("xml"), "").is_err());
    }
}
