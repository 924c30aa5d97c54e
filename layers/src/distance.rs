//! Geodesic distances from a point to a geometry, in metres on the WGS 84 ellipsoid, as PostGIS
//! measures `geography`: the nearest place on each edge is found on the sphere, and the distance
//! to it measured on the ellipsoid (Karney's method, as PROJ's `geod_inverse`), the least over
//! the edges; a point inside a polygon is 0 away.

use geo::{Closest, Contains, Distance, Geodesic, HaversineClosestPoint};
use geo_types::{Geometry, Line, Point, Polygon, Rect};

/// Metres from `p` to the nearest point of `g`.
pub fn metres(g: &Geometry, p: Point) -> f64 {
    match g {
        Geometry::Point(q) => Geodesic.distance(*q, p),
        Geometry::MultiPoint(m) => least(m.iter().map(|q| Geodesic.distance(*q, p))),
        Geometry::Line(l) => to_edge(*l, p),
        Geometry::LineString(l) => least(l.lines().map(|e| to_edge(e, p))),
        Geometry::MultiLineString(m) => least(m.iter().flat_map(|l| l.lines()).map(|e| to_edge(e, p))),
        Geometry::Polygon(poly) => to_polygon(poly, p),
        Geometry::MultiPolygon(m) => least(m.iter().map(|poly| to_polygon(poly, p))),
        Geometry::Rect(r) => to_polygon(&r.to_polygon(), p),
        Geometry::Triangle(t) => to_polygon(&t.to_polygon(), p),
        Geometry::GeometryCollection(c) => least(c.iter().map(|g| metres(g, p))),
    }
}

/// A lon/lat box holding every point within `r` metres of `p`, or `None` when it would cross
/// the antimeridian or a pole (the caller then looks everywhere). A degree of latitude is at
/// least 110 574 m; one of longitude at least that times the cosine of the box's farthest
/// latitude; the margins (110 000 m, 5 %) cover the curvature of the circle's edge.
pub fn search_box(p: Point, r: f64) -> Option<Rect> {
    const DEGREE: f64 = 110_000.0;
    let dlat = r / DEGREE;
    let far = p.y().abs() + dlat;
    if r > 1_000_000.0 || far >= 89.0 {
        return None;
    }
    let dlon = 1.05 * dlat / far.to_radians().cos();
    let (west, east) = (p.x() - dlon, p.x() + dlon);
    (west >= -180.0 && east <= 180.0).then(|| {
        Rect::new(geo_types::coord! { x: west, y: p.y() - dlat }, geo_types::coord! { x: east, y: p.y() + dlat })
    })
}

fn to_polygon(poly: &Polygon, p: Point) -> f64 {
    if poly.contains(&p) {
        return 0.0;
    }
    let rings = std::iter::once(poly.exterior()).chain(poly.interiors());
    least(rings.flat_map(|r| r.lines()).map(|e| to_edge(e, p)))
}

fn to_edge(e: Line, p: Point) -> f64 {
    match e.haversine_closest_point(&p) {
        Closest::Intersection(q) | Closest::SinglePoint(q) => Geodesic.distance(q, p),
        Closest::Indeterminate => Geodesic.distance(e.start_point(), p).min(Geodesic.distance(e.end_point(), p)),
    }
}

fn least(distances: impl Iterator<Item = f64>) -> f64 {
    distances.fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use geo_types::{line_string, point, polygon};

    use super::*;

    #[test]
    fn distances_are_geodesic_and_zero_inside_a_polygon() {
        // One degree of latitude at the equator: 110 574.4 m on WGS 84.
        let d = metres(&Geometry::Point(point!(x: 105.0, y: 0.0)), point!(x: 105.0, y: 1.0));
        assert!((d - 110_574.389).abs() < 0.01, "{d}");
        let square = Geometry::Polygon(
            polygon![(x: 105.0, y: 10.0), (x: 106.0, y: 10.0), (x: 106.0, y: 11.0), (x: 105.0, y: 11.0)],
        );
        assert_eq!(metres(&square, point!(x: 105.5, y: 10.5)), 0.0);
        // An edge is a great circle, as in PostGIS, not the parallel between its ends: between
        // two points of latitude 10° it bulges about 42 m north, so a point 0.01° (1 106 m) north
        // of the parallel's middle is nearer the edge by that much.
        let line = Geometry::LineString(line_string![(x: 105.0, y: 10.0), (x: 106.0, y: 10.0)]);
        let above = metres(&line, point!(x: 105.5, y: 10.01));
        assert!((1_060.0..1_070.0).contains(&above), "{above}");
    }

    #[test]
    fn the_search_box_holds_the_circle_and_gives_up_near_the_antimeridian() {
        let p = point!(x: 105.78, y: 10.03);
        let b = search_box(p, 2_000.0);
        for bearing in (0..360).step_by(5) {
            let edge = geo::Destination::destination(&Geodesic, p, f64::from(bearing), 2_000.0);
            assert!(b.is_some_and(|b| b.contains(&edge)), "{bearing}°: {edge:?} outside {b:?}");
        }
        assert!(search_box(point!(x: 179.99, y: 0.0), 5_000.0).is_none());
    }
}
