//! Feature queries over the in-memory index: bounding box, time, property equality, CQL2
//! filter, free-text search, sorting and paging.
//! The server parses requests into a [`FeatureQuery`]; this module never sees raw strings.

use std::{cell::Cell, cmp::Ordering, time::Instant};

use chrono::{DateTime, Utc};
use geo::Intersects;
use geo_types::{Coord, Rect};

use crate::{Feature, LayerDef, LayerIndex, Value, filter::Filter, search::TextSearch};

/// A lon/lat box `[min_lon, min_lat, max_lon, max_lat]`, checked: finite, latitudes in range and
/// ordered. A box whose west edge lies east of its east edge crosses the antimeridian.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bbox([f64; 4]);

impl Bbox {
    /// Checks and builds a box.
    ///
    /// ```
    /// use layers::query::Bbox;
    /// assert!(Bbox::new([105.0, 9.0, 106.0, 10.0]).is_ok());
    /// assert!(Bbox::new([105.0, 10.0, 106.0, 9.0]).is_err()); // south above north
    /// ```
    pub fn new(b: [f64; 4]) -> Result<Self, String> {
        if b.iter().any(|v| !v.is_finite()) {
            return Err("bbox values must be finite numbers".into());
        }
        if !(-180.0..=180.0).contains(&b[0]) || !(-180.0..=180.0).contains(&b[2]) {
            return Err("bbox longitudes must lie within -180..180".into());
        }
        if !(-90.0..=90.0).contains(&b[1]) || !(-90.0..=90.0).contains(&b[3]) {
            return Err("bbox latitudes must lie within -90..90".into());
        }
        if b[1] > b[3] {
            return Err("bbox: the southern edge is north of the northern edge".into());
        }
        Ok(Self(b))
    }

    /// The box, split in two when it crosses the antimeridian.
    fn parts(self) -> Vec<Rect> {
        antimeridian_parts(self.0)
    }
}

/// The box `[west, south, east, north]` as one rectangle, or as the two either side of the
/// antimeridian when its west edge lies east of its east edge (the `bbox` parameter and CQL2's
/// `BBOX` both read boxes so).
pub(crate) fn antimeridian_parts([w, s, e, n]: [f64; 4]) -> Vec<Rect> {
    let part = |w: f64, e: f64| Rect::new(Coord { x: w, y: s }, Coord { x: e, y: n });
    if w <= e { vec![part(w, e)] } else { vec![part(w, 180.0), part(-180.0, e)] }
}

/// A time interval, either end open; an instant is an interval of length zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Start, inclusive.
    pub start: Option<DateTime<Utc>>,
    /// End, inclusive.
    pub end: Option<DateTime<Utc>>,
}

impl Interval {
    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t <= e)
    }
}

/// A validated feature query.
#[derive(Clone, Debug, Default)]
pub struct FeatureQuery {
    /// Only features intersecting this box.
    pub bbox: Option<Bbox>,
    /// Only features whose temporal property falls in this interval.
    pub datetime: Option<Interval>,
    /// Only features whose property (by index in the layer's properties) equals the value.
    pub equals: Vec<(usize, Value)>,
    /// Only features passing this CQL2 filter.
    pub filter: Option<Filter>,
    /// Only features matching these words in the properties listed, best matches first.
    pub search: Option<(TextSearch, Vec<usize>)>,
    /// Order by these properties (index, descending), then by id.
    pub sort: Vec<(usize, bool)>,
    /// Nearest this point first, each with its distance; only those within the distance given.
    pub near: Option<Near>,
    /// Features to skip.
    pub offset: usize,
    /// Features to return at most.
    pub limit: usize,
    /// When to give up: past it, [`run`] stops testing features and answers [`Expired`].
    pub deadline: Option<std::time::Instant>,
}

/// Features nearest a point (lon/lat), nearest first, each with its geodesic distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Near {
    /// The point.
    pub point: geo_types::Point,
    /// Only features at most this many metres away.
    pub within: Option<f64>,
}

/// The query ran past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the query ran past its deadline")]
pub struct Expired;

/// One page of results.
pub struct Page<'a> {
    /// Features matching the query, all pages together.
    pub matched: usize,
    /// This page's features, in id order (nearest first with [`FeatureQuery::near`]).
    pub features: Vec<&'a Feature>,
    /// With [`FeatureQuery::near`], each feature's distance in metres; else empty.
    pub distances: Vec<f64>,
}

/// Runs a query: candidates from the R-tree when there is a box (else every feature), exact
/// tests, the order asked for (relevance, properties, else id), then the page.
pub fn run<'a>(index: &'a LayerIndex, def: &LayerDef, q: &FeatureQuery) -> Result<Page<'a>, Expired> {
    let temporal = def.temporal.as_ref().and_then(|t| def.properties.iter().position(|p| &p.name == t));
    let boxes = q.bbox.map(Bbox::parts);
    // One feature's spatial test can take milliseconds, so the clock is read every few.
    let (tested, expired) = (Cell::new(0u32), Cell::new(false));
    let in_time = || {
        let n = tested.get().wrapping_add(1);
        tested.set(n);
        if n.is_multiple_of(8) && q.deadline.is_some_and(|d| Instant::now() > d) {
            expired.set(true);
        }
        !expired.get()
    };
    // `inside`: the feature's envelope lies inside the box; `decided`: the filter is known to match.
    let keep_decided = |f: &Feature, inside: bool, decided: bool| {
        in_time()
            && (inside || boxes.as_ref().is_none_or(|bs| bs.iter().any(|b| f.geometry.intersects(b))))
            // Without a temporal property every feature matches (OGC 17-069r4,
            // /req/core/fc-time-response C).
            && q.datetime
                .is_none_or(|i| temporal.is_none_or(|t| instant(&f.properties[t]).is_some_and(|v| i.contains(v))))
            && q.equals.iter().all(|(i, v)| &f.properties[*i] == v)
            && (decided || q.filter.as_ref().is_none_or(|flt| flt.matches(f)))
    };
    // The filter's own box narrows the candidates when the query has none; its exact test
    // still decides.
    let filter_box = q.filter.as_ref().and_then(Filter::search_box).map(|r| vec![r]);
    let near_box = q.near.and_then(|n| crate::distance::search_box(n.point, n.within?)).map(|r| vec![r]);
    let mut matching: Vec<&Feature> = match boxes.as_ref().or(filter_box.as_ref()).or(near_box.as_ref()) {
        Some(bs) => {
            // Only the box asked for decides by envelopes; the filter's or the distance's box
            // just narrows the candidates.
            let asked = boxes.is_some();
            let mut found: Vec<&Feature> = bs
                .iter()
                .flat_map(|b| index.candidates_in_lonlat_box(*b))
                .filter(|&(f, inside)| keep_decided(f, inside && asked, false))
                .map(|(f, _)| f)
                .collect();
            found.sort_unstable_by_key(|f| f.id);
            found.dedup_by_key(|f| f.id);
            found
        }
        // Without a box, the filter's comparisons read the column-wise copies of the base;
        // the rows they decide need no test of the filter.
        None => {
            // So do the words of `q`: only the rows whose texts hold every word are scored.
            let mut exact = false;
            let narrowed = index.narrowed(|column| {
                let by_filter = q.filter.as_ref().and_then(|f| f.narrow(column));
                exact = by_filter.as_ref().is_some_and(|n| n.exact);
                let by_words = q.search.as_ref().and_then(|(s, fields)| s.narrow(fields, column));
                match (by_filter.map(|n| n.rows), by_words) {
                    (Some(a), Some(b)) => Some(a.and(&b)),
                    (a, b) => a.or(b),
                }
            });
            // A feature the columns decided is not read at all when nothing else is asked of it.
            let only_filter = q.datetime.is_none() && q.equals.is_empty();
            narrowed
                .filter(|&(f, decided)| match decided && exact {
                    true if only_filter => in_time(),
                    decided => keep_decided(f, false, decided),
                })
                .map(|(f, _)| f)
                .collect()
        }
    };
    if expired.get() {
        return Err(Expired);
    }
    if let Some(near) = q.near {
        return nearest(matching, near, q, &in_time);
    }
    if let Some((search, fields)) = &q.search {
        // Scores are small integers: one bucket each, filled in id order, so that equal scores
        // stay in id order (pages do not shuffle) without sorting the matches.
        let top = usize::try_from(search.max_score()).unwrap_or(usize::MAX / 2);
        let mut buckets: Vec<Vec<&Feature>> = vec![Vec::new(); top + 1];
        for f in matching {
            if let Some(s) = search.score(f, fields) {
                buckets[usize::try_from(s).map_or(top, |s| s.min(top))].push(f);
            }
        }
        matching = buckets.into_iter().rev().flatten().collect();
    } else if !q.sort.is_empty() {
        matching.sort_by(|a, b| {
            q.sort
                .iter()
                .map(|&(i, descending)| sort_order(&a.properties[i], &b.properties[i], descending))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }
    let matched = matching.len();
    let features = matching.into_iter().skip(q.offset).take(q.limit).collect();
    Ok(Page { matched, features, distances: Vec::new() })
}

/// The page of `matching` nearest first (then by id), within the distance asked.
fn nearest<'a>(
    matching: Vec<&'a Feature>,
    near: Near,
    q: &FeatureQuery,
    in_time: &dyn Fn() -> bool,
) -> Result<Page<'a>, Expired> {
    let mut measured = Vec::with_capacity(matching.len());
    for f in matching {
        if !in_time() {
            return Err(Expired);
        }
        let d = crate::distance::metres(&f.geometry, near.point);
        if near.within.is_none_or(|w| d <= w) {
            measured.push((d, f));
        }
    }
    measured.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
    let matched = measured.len();
    let (distances, features) = measured.into_iter().skip(q.offset).take(q.limit).unzip();
    Ok(Page { matched, features, distances })
}

/// A total order for sorting: values by [`crate::filter::compare`], nulls last either way.
fn sort_order(a: &Value, b: &Value, descending: bool) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        _ => {
            let o = crate::filter::compare(a, b).unwrap_or(Ordering::Equal);
            if descending { o.reverse() } else { o }
        }
    }
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Date(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        Value::DateTime(t) => Some(*t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use geo_types::{Geometry, point};

    use super::*;

    #[test]
    fn antimeridian_boxes_split_in_two() {
        assert_eq!(Bbox::new([170.0, -10.0, -170.0, 10.0]).map(|b| b.parts().len()), Ok(2));
        assert!(Bbox::new([0.0, 0.0, 1.0, f64::NAN]).is_err());
        assert!(Bbox::new([0.0, -91.0, 1.0, 0.0]).is_err());
    }

    fn points(n: i64) -> (LayerIndex, LayerDef) {
        let features: Vec<Feature> = (1..=n)
            .rev()
            .map(|i| {
                Feature::new(i, Geometry::Point(point! { x: 105.0 + f64::from(i as i32) * 0.01, y: 10.0 }), vec![])
            })
            .collect();
        let index = LayerIndex::build(features);
        let def: LayerDef =
            serde_json::from_str(r#"{"title": "t", "geometry": "Point", "access": "public", "source": {"file": "x"}}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        (index, def)
    }

    #[test]
    fn paging_is_in_id_order_and_counts_every_match() {
        let (index, def) = points(25);
        let q = FeatureQuery { offset: 10, limit: 10, ..FeatureQuery::default() };
        let page = run(&index, &def, &q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.matched, 25);
        assert_eq!(page.features.iter().map(|f| f.id).collect::<Vec<_>>(), (11..=20).collect::<Vec<_>>());
        let boxed = FeatureQuery { bbox: Bbox::new([105.005, 9.0, 105.055, 11.0]).ok(), limit: 100, ..q };
        let page = run(&index, &def, &FeatureQuery { offset: 0, ..boxed }).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.features.iter().map(|f| f.id).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn search_ranks_by_score_then_by_id_and_counts_every_match() {
        let names = ["đìnhxa", "đình tân phước", "chùa ông", "đình", "nhà đình", "đình"];
        let features: Vec<Feature> = (1..=6)
            .zip(names)
            .map(|(i, n)| Feature::new(i, Geometry::Point(point! { x: 105.0, y: 10.0 }), vec![Value::Text(n.into())]))
            .collect();
        let (_, def) = points(0);
        let search = crate::search::TextSearch::new("dinh").ok().flatten().map(|s| (s, vec![0]));
        let q = FeatureQuery { limit: 10, search, ..FeatureQuery::default() };
        let index = LayerIndex::build(features);
        let page = run(&index, &def, &q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.matched, 5);
        // Whole words (2, 4, 5, 6) before the start of one (1); among equals, id order.
        assert_eq!(page.features.iter().map(|f| f.id).collect::<Vec<_>>(), vec![2, 4, 5, 6, 1]);
    }

    #[test]
    fn a_query_past_its_deadline_stops_and_says_so() {
        let (index, def) = points(100);
        let past = FeatureQuery { limit: 10, deadline: Some(Instant::now()), ..FeatureQuery::default() };
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(run(&index, &def, &past).err(), Some(Expired));
        let future = FeatureQuery { deadline: Some(Instant::now() + std::time::Duration::from_secs(60)), ..past };
        assert_eq!(run(&index, &def, &future).map(|p| p.matched), Ok(100));
    }
}
