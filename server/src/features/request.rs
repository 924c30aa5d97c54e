//! The typed `/items` request: every parameter parsed into the values the query runs on, with
//! the caller's view deciding which properties may be named. Anything unknown or malformed is a
//! 400 naming the parameter.

use chrono::{DateTime, NaiveDate, Utc};
use geo_types::Coord;
use layers::{
    PropertyType, Value,
    crs::Crs,
    filter::{Filter, FilterLang},
    query::{FeatureQuery, Near},
    search::TextSearch,
};

use crate::{
    access::LayerView,
    compute::Deadline,
    error::ApiError,
    request::{Params, parse_bbox, parse_interval},
    settings::Settings,
};

/// Parameters of `/items` besides the layer's queryable properties.
pub const ITEMS_PARAMETERS: &[&str] = &[
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "q",
    "sortby",
    "properties",
    "near",
    "within",
    // `f`, which the handler reads: documented under its own key, as `/items` takes the
    // download formats beside JSON and HTML.
    "itemsFormat",
];

/// How many features a request may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    /// Without `limit`.
    pub default: usize,
    /// The most `limit` gives.
    pub max: usize,
}

impl Paging {
    /// Pages of the service's sizes.
    pub fn pages(settings: &Settings) -> Self {
        Self { default: settings.default_limit, max: settings.max_limit }
    }

    /// A download: every match, unless `limit` asks for fewer.
    pub const WHOLE: Self = Self { default: usize::MAX, max: usize::MAX };
}

/// A parsed `/items` request.
pub struct ItemsRequest {
    /// What to find.
    pub query: FeatureQuery,
    /// The CRS of the answer's coordinates.
    pub crs: Crs,
    /// Only these properties (by index) in the answer; `None` for all visible ones.
    pub properties: Option<Vec<usize>>,
}

impl ItemsRequest {
    /// The typed request of `params` on `view`, `paging` bounding its size; every error names
    /// the parameter.
    /// The query gives up at `deadline`.
    pub fn parse(view: &LayerView, params: &Params, paging: Paging, deadline: Deadline) -> Result<Self, ApiError> {
        let bad = |m: String| ApiError::BadRequest(m);
        let mut q = FeatureQuery { limit: paging.default, deadline: Some(deadline.0), ..FeatureQuery::default() };
        let mut seen = std::collections::HashSet::new();
        for (key, value) in &params.0 {
            if !seen.insert(key.as_str()) {
                return Err(bad(format!("parameter {key:?} is given twice")));
            }
            match key.as_str() {
                // Above the maximum is not an error (OGC 17-069r4, /req/core/fc-limit-response-1 C):
                // the maximum is used.
                "limit" => {
                    let limit: usize =
                        value.parse().map_err(|_| bad(format!("limit must be a positive integer, not {value:?}")))?;
                    if limit == 0 {
                        return Err(bad("limit must be at least 1".into()));
                    }
                    q.limit = limit.min(paging.max);
                }
                "offset" => {
                    q.offset = value
                        .parse()
                        .map_err(|_| bad(format!("offset must be a non-negative integer, not {value:?}")))?;
                }
                "datetime" => q.datetime = Some(parse_interval(value).map_err(|m| bad(format!("datetime: {m}")))?),
                "q" => q.search = TextSearch::new(value).map_err(bad)?.map(|s| (s, view.searchable())),
                "sortby" => q.sort = parse_sortby(view, value)?,
                "f" => {}
                // Read after the loop: they depend on one another.
                standard if ITEMS_PARAMETERS.contains(&standard) => {}
                name => {
                    let i = view.queryable_named(name).ok_or_else(|| bad(format!("unknown parameter {name:?}")))?;
                    let kind = view.def.properties[i].kind;
                    let v = parse_value(value, kind)
                        .ok_or_else(|| bad(format!("{name}: {value:?} is not a valid {kind:?}")))?;
                    q.equals.push((i, v));
                }
            }
        }
        let crs_of =
            |name: &str| params.get(name).map(Crs::from_uri).transpose().map_err(|m| bad(format!("{name}: {m}")));
        let bbox_crs = crs_of("bbox-crs")?;
        if let Some(b) = params.get("bbox") {
            q.bbox = Some(parse_bbox(b, bbox_crs.unwrap_or(Crs::Crs84)).map_err(|m| bad(format!("bbox: {m}")))?);
        } else if bbox_crs.is_some() {
            return Err(bad("bbox-crs is given without bbox".into()));
        }
        q.filter = parse_filter(view, params, crs_of("filter-crs")?)?;
        q.near = parse_near(params)?;
        if q.near.is_some() && (q.search.is_some() || !q.sort.is_empty()) {
            return Err(bad("near orders by distance: it cannot be combined with q or sortby".into()));
        }
        let properties = params.get("properties").map(|p| parse_properties(view, p)).transpose()?;
        Ok(ItemsRequest { query: q, crs: crs_of("crs")?.unwrap_or(Crs::Crs84), properties })
    }
}

fn parse_filter(view: &LayerView, params: &Params, filter_crs: Option<Crs>) -> Result<Option<Filter>, ApiError> {
    let lang = match params.get("filter-lang") {
        None | Some("cql2-text") => FilterLang::Text,
        Some("cql2-json") => FilterLang::Json,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("filter-lang must be cql2-text or cql2-json, not {other:?}")));
        }
    };
    let Some(source) = params.get("filter") else {
        if params.get("filter-lang").is_some() || filter_crs.is_some() {
            return Err(ApiError::BadRequest("filter-lang and filter-crs need a filter".into()));
        }
        return Ok(None);
    };
    let crs = filter_crs.unwrap_or(Crs::Crs84);
    let to_lonlat = |c: Coord| crs.with_projector(|p| p.to_lonlat(c)).and_then(|r| r);
    Filter::parse(source, lang, &view.def, &|i| view.is_queryable(i), &to_lonlat)
        .map(Some)
        .map_err(|e| ApiError::BadRequest(format!("filter: {e}")))
}

/// `near=lon,lat` (CRS84) and `within=metres`.
fn parse_near(params: &Params) -> Result<Option<Near>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let within = params
        .get("within")
        .map(|w| match w.parse::<f64>() {
            Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
            _ => Err(bad(format!("within must be a distance in metres, 0 or more, not {w:?}"))),
        })
        .transpose()?;
    let Some(value) = params.get("near") else {
        return match within {
            Some(_) => Err(bad("within is given without near".into())),
            None => Ok(None),
        };
    };
    let numbers: Vec<f64> =
        value.split(',').map(|n| n.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| {
            bad(format!("near must be a longitude and a latitude (CRS84), like near=105.78,10.03, not {value:?}"))
        })?;
    match numbers[..] {
        [lon, lat] if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) => {
            Ok(Some(Near { point: geo_types::Point::new(lon, lat), within }))
        }
        _ => Err(bad(format!("near must be a longitude in [-180, 180] and a latitude in [-90, 90], not {value:?}"))),
    }
}

fn parse_sortby(view: &LayerView, value: &str) -> Result<Vec<(usize, bool)>, ApiError> {
    value
        .split(',')
        .map(|key| {
            let key = key.trim();
            let (name, descending) = match key.as_bytes().first() {
                Some(b'-') => (&key[1..], true),
                Some(b'+') => (&key[1..], false),
                _ => (key, false),
            };
            let i = view
                .visible_named(name)
                .ok_or_else(|| ApiError::BadRequest(format!("sortby: unknown property {name:?}")))?;
            Ok((i, descending))
        })
        .collect()
}

fn parse_properties(view: &LayerView, value: &str) -> Result<Vec<usize>, ApiError> {
    value
        .split(',')
        .filter(|n| !n.trim().is_empty())
        .map(|name| {
            view.visible_named(name.trim())
                .ok_or_else(|| ApiError::BadRequest(format!("properties: unknown property {name:?}")))
        })
        .collect()
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
