//! From a Web Mercator geometry to tile-grid shapes: transform, clip to the buffered tile,
//! simplify, snap to integers, drop what collapses.
//!
//! The clipping is hand-written: the clip window is an axis-aligned rectangle, for which
//! Sutherland–Hodgman (polygons) and Liang–Barsky (lines) are exact and allocation-light, while
//! general polygon overlay (geo's `BooleanOps`) costs two orders of magnitude more per feature.
//!
//! **Low-zoom rule** (documented in the README): a line or polygon feature whose part inside
//! the buffered tile has a bounding box under one pixel (16 grid units) both wide and high is
//! dropped, at every zoom. Such a feature would paint at most a pixel; dropping it keeps
//! whole-province tiles of dense layers small. Points are never dropped. Simplification (by
//! Douglas–Peucker, so that with snapping no line strays more than a quarter pixel) never removes a feature: a ring or line it would collapse
//! is kept unsimplified.

use geo::Simplify;
use geo_types::{Coord, Geometry, LineString, Polygon};

use crate::TileCoord;

/// Grid units per pixel of a 256-pixel tile.
const PIXEL: f64 = 16.0;
/// How far a drawn line or edge may stray from the true one, in grid units: a quarter pixel,
/// invisible at the tile's zoom.
const TOLERANCE: f64 = 4.0;
/// Douglas–Peucker tolerance: what [`TOLERANCE`] leaves once snapping to integers has moved a
/// vertex by up to half a unit's diagonal (Douglas–Peucker keeps the simplified line within its
/// tolerance of the original, and snapping moves every point of a segment by at most what it
/// moves the segment's ends).
const SIMPLIFY: f64 = TOLERANCE - std::f64::consts::FRAC_1_SQRT_2;

/// A feature's geometry in tile-grid integers, y pointing down, ready to encode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One or more points.
    Points(Vec<Coord<i32>>),
    /// One or more lines of at least two distinct points.
    Lines(Vec<Vec<Coord<i32>>>),
    /// Polygons, each an exterior ring followed by its holes; rings are closed.
    Polygons(Vec<Vec<Vec<Coord<i32>>>>),
}

/// Maps Web Mercator metres to the grid of one tile and clips there.
#[derive(Clone, Copy, Debug)]
pub struct TileFrame {
    min_x: f64,
    max_y: f64,
    scale: f64,
    lo: f64,
    hi: f64,
}

impl TileFrame {
    /// The frame of `tile` with `extent` grid units and `buffer` units of margin.
    pub fn new(tile: TileCoord, extent: u32, buffer: u32) -> Self {
        let [min_x, _, _, max_y] = tile.bounds();
        Self::of_square(min_x, max_y, tile.size(), extent, buffer)
    }

    /// The frame of a square tile of another grid: its north-west corner and side in that
    /// grid's projected units (y growing northwards, as in Web Mercator).
    pub fn of_square(min_x: f64, max_y: f64, size: f64, extent: u32, buffer: u32) -> Self {
        let buffer = f64::from(buffer);
        Self { min_x, max_y, scale: f64::from(extent) / size, lo: -buffer, hi: f64::from(extent) + buffer }
    }

    fn project(&self, c: Coord) -> Coord {
        // Tile rows grow southwards, Mercator y northwards: flip.
        Coord { x: (c.x - self.min_x) * self.scale, y: (self.max_y - c.y) * self.scale }
    }

    fn inside(&self, c: Coord) -> bool {
        c.x >= self.lo && c.x <= self.hi && c.y >= self.lo && c.y <= self.hi
    }

    /// The geometry's shape in this tile, or `None` when nothing of it shows.
    pub fn shape(&self, g: &Geometry) -> Option<Shape> {
        let mut clipped = Clipped::default();
        self.collect(g, &mut clipped);
        if !clipped.polygons.is_empty() {
            if clipped.below_a_pixel() {
                return None;
            }
            let polygons: Vec<_> = clipped.polygons.iter().filter_map(|rings| snap_polygon(rings)).collect();
            (!polygons.is_empty()).then_some(Shape::Polygons(polygons))
        } else if !clipped.lines.is_empty() {
            if clipped.below_a_pixel() {
                return None;
            }
            let lines: Vec<_> = clipped.lines.iter().filter_map(|l| snap_line(l)).collect();
            (!lines.is_empty()).then_some(Shape::Lines(lines))
        } else {
            (!clipped.points.is_empty()).then_some(Shape::Points(clipped.points))
        }
    }

    fn collect(&self, g: &Geometry, out: &mut Clipped) {
        match g {
            Geometry::Point(p) => out.points.extend(self.point(p.0)),
            Geometry::MultiPoint(mp) => out.points.extend(mp.iter().filter_map(|p| self.point(p.0))),
            Geometry::LineString(l) => self.line(l, out),
            Geometry::MultiLineString(ml) => ml.iter().for_each(|l| self.line(l, out)),
            Geometry::Polygon(p) => out.polygons.extend(self.polygon(p)),
            Geometry::MultiPolygon(mp) => out.polygons.extend(mp.iter().filter_map(|p| self.polygon(p))),
            Geometry::GeometryCollection(gc) => gc.iter().for_each(|g| self.collect(g, out)),
            Geometry::Line(l) => self.line(&LineString::from(vec![l.start, l.end]), out),
            Geometry::Rect(r) => out.polygons.extend(self.polygon(&r.to_polygon())),
            Geometry::Triangle(t) => out.polygons.extend(self.polygon(&t.to_polygon())),
        }
    }

    fn point(&self, c: Coord) -> Option<Coord<i32>> {
        let p = self.project(c);
        self.inside(p).then(|| snap(p))
    }

    fn line(&self, l: &LineString, out: &mut Clipped) {
        let projected: Vec<Coord> = l.0.iter().map(|c| self.project(*c)).collect();
        if !below_a_pixel(&projected) {
            out.lines.extend(clip_line(&projected, self.lo, self.hi));
        }
    }

    /// The clipped rings of a polygon (exterior first), or `None` when its exterior does not
    /// reach the window.
    fn polygon(&self, p: &Polygon) -> Option<Vec<Vec<Coord>>> {
        let exterior: Vec<Coord> = p.exterior().0.iter().map(|c| self.project(*c)).collect();
        if below_a_pixel(&exterior) || outside(&exterior, self.lo, self.hi) {
            return None;
        }
        let exterior = clip_ring(&exterior, self.lo, self.hi);
        if exterior.len() < 3 {
            return None;
        }
        let mut rings = vec![exterior];
        for hole in p.interiors() {
            let hole: Vec<Coord> = hole.0.iter().map(|c| self.project(*c)).collect();
            let hole = clip_ring(&hole, self.lo, self.hi);
            if hole.len() >= 3 {
                rings.push(hole);
            }
        }
        Some(rings)
    }
}

/// The parts of one feature inside the window, before snapping.
#[derive(Default)]
struct Clipped {
    points: Vec<Coord<i32>>,
    lines: Vec<Vec<Coord>>,
    polygons: Vec<Vec<Vec<Coord>>>,
}

impl Clipped {
    /// The low-zoom rule, on what remains of the feature inside the window, snapped to the grid.
    fn below_a_pixel(&self) -> bool {
        let rings = self.polygons.iter().filter_map(|rings| rings.first());
        let all = self.lines.iter().chain(rings).flatten().map(|c| Coord { x: c.x.round(), y: c.y.round() });
        let b = all.fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, c| {
            [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)]
        });
        b[2] - b[0] < PIXEL && b[3] - b[1] < PIXEL
    }
}

/// Simplifies and snaps a line; when simplifying would collapse it, it is only snapped.
fn snap_line(line: &[Coord]) -> Option<Vec<Coord<i32>>> {
    let simplified = snap_all(&LineString(line.to_vec()).simplify(SIMPLIFY).0);
    if simplified.len() >= 2 {
        return Some(simplified);
    }
    let snapped = snap_all(line);
    (snapped.len() >= 2).then_some(snapped)
}

/// Snaps a polygon's rings; `None` when its exterior collapses. Holes that collapse go.
fn snap_polygon(rings: &[Vec<Coord>]) -> Option<Vec<Vec<Coord<i32>>>> {
    let mut out = vec![snap_ring(&rings[0])?];
    out.extend(rings[1..].iter().filter_map(|r| snap_ring(r)));
    Some(out)
}

/// Simplifies, snaps and closes a ring; when simplifying would collapse it to no area, it is
/// only snapped, so that simplification never removes a feature. `None` when even the snapped
/// ring has no area.
fn snap_ring(ring: &[Coord]) -> Option<Vec<Coord<i32>>> {
    let mut closed = ring.to_vec();
    closed.push(closed[0]);
    let close = |mut r: Vec<Coord<i32>>| {
        if r.first() != r.last() {
            let first = r[0];
            r.push(first);
        }
        (r.len() >= 4 && area2(&r) != 0).then_some(r)
    };
    close(snap_all(&LineString(closed.clone()).simplify(SIMPLIFY).0)).or_else(|| close(snap_all(&closed)))
}

fn snap(c: Coord) -> Coord<i32> {
    #[allow(clippy::cast_possible_truncation)]
    Coord { x: c.x.round() as i32, y: c.y.round() as i32 }
}

/// Snaps to integers, dropping consecutive repeats.
fn snap_all(coords: &[Coord]) -> Vec<Coord<i32>> {
    let mut out: Vec<Coord<i32>> = Vec::with_capacity(coords.len());
    for c in coords {
        let s = snap(*c);
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

/// Twice the signed area (shoelace), in exact integer arithmetic.
fn area2(ring: &[Coord<i32>]) -> i64 {
    ring.windows(2).map(|w| i64::from(w[0].x) * i64::from(w[1].y) - i64::from(w[1].x) * i64::from(w[0].y)).sum()
}

fn bbox(coords: &[Coord]) -> [f64; 4] {
    coords.iter().fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, c| {
        [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)]
    })
}

/// A quick test before clipping: surely under a pixel even once snapped (hence the margin of
/// one grid unit); [`Clipped::below_a_pixel`] decides exactly.
fn below_a_pixel(coords: &[Coord]) -> bool {
    let b = bbox(coords);
    b[2] - b[0] < PIXEL - 1.0 && b[3] - b[1] < PIXEL - 1.0
}

fn outside(coords: &[Coord], lo: f64, hi: f64) -> bool {
    let b = bbox(coords);
    b[2] < lo || b[0] > hi || b[3] < lo || b[1] > hi
}

/// One edge of the clip window: which side is kept, where a segment crosses it, its position.
type ClipEdge = (fn(Coord, f64) -> bool, fn(Coord, Coord, f64) -> Coord, f64);

/// Sutherland–Hodgman against the square `[lo, hi]²`. The ring may be closed or open; the
/// result is open. Parts of the ring outside become runs along the window's edge, which keeps
/// the polygon one piece (as ST_AsMVTGeom and every tiler do).
fn clip_ring(ring: &[Coord], lo: f64, hi: f64) -> Vec<Coord> {
    let mut pts: Vec<Coord> = ring.to_vec();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    let b = bbox(&pts);
    if b[0] >= lo && b[2] <= hi && b[1] >= lo && b[3] <= hi {
        return pts;
    }
    // Each edge: which side is kept, and where a segment crosses it.
    let edges: [ClipEdge; 4] = [
        (|c, v| c.x >= v, |a, b, v| Coord { x: v, y: a.y + (b.y - a.y) * (v - a.x) / (b.x - a.x) }, lo),
        (|c, v| c.x <= v, |a, b, v| Coord { x: v, y: a.y + (b.y - a.y) * (v - a.x) / (b.x - a.x) }, hi),
        (|c, v| c.y >= v, |a, b, v| Coord { x: a.x + (b.x - a.x) * (v - a.y) / (b.y - a.y), y: v }, lo),
        (|c, v| c.y <= v, |a, b, v| Coord { x: a.x + (b.x - a.x) * (v - a.y) / (b.y - a.y), y: v }, hi),
    ];
    for (keep, cross, v) in edges {
        if pts.is_empty() {
            break;
        }
        let mut out = Vec::with_capacity(pts.len() + 4);
        let mut prev = pts[pts.len() - 1];
        for &cur in &pts {
            match (keep(prev, v), keep(cur, v)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(prev, cur, v)),
                (false, true) => {
                    out.push(cross(prev, cur, v));
                    out.push(cur);
                }
                (false, false) => {}
            }
            prev = cur;
        }
        pts = out;
    }
    pts
}

/// Liang–Barsky, segment by segment: the pieces of a line inside the square `[lo, hi]²`.
fn clip_line(line: &[Coord], lo: f64, hi: f64) -> Vec<Vec<Coord>> {
    let mut parts: Vec<Vec<Coord>> = Vec::new();
    let mut current: Vec<Coord> = Vec::new();
    for w in line.windows(2) {
        match clip_segment(w[0], w[1], lo, hi) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() >= 2 {
                        parts.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(a);
                }
                current.push(b);
                if b != w[1] {
                    // The segment leaves the window: the part ends here.
                    parts.push(std::mem::take(&mut current));
                }
            }
            None => {
                if current.len() >= 2 {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        parts.push(current);
    }
    parts
}

fn clip_segment(a: Coord, b: Coord, lo: f64, hi: f64) -> Option<(Coord, Coord)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [(-dx, a.x - lo), (dx, hi - a.x), (-dy, a.y - lo), (dy, hi - a.y)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            Coord { x: a.x + t * dx, y: a.y + t * dy }
        }
    };
    Some((at(t0), at(t1)))
}

#[cfg(test)]
mod tests {
    use geo_types::{line_string, polygon};

    use super::*;

    fn frame() -> TileFrame {
        // A frame where one Mercator metre is one grid unit, for readable tests.
        TileFrame { min_x: 0.0, max_y: 4096.0, scale: 1.0, lo: -64.0, hi: 4160.0 }
    }

    #[test]
    fn polygons_are_clipped_to_the_buffer_and_snapped() {
        // A square half outside the tile's left edge.
        let p =
            polygon![(x: -1000.0, y: 1000.0), (x: 1000.0, y: 1000.0), (x: 1000.0, y: 3000.0), (x: -1000.0, y: 3000.0)];
        let Some(Shape::Polygons(polys)) = frame().shape(&Geometry::Polygon(p)) else { panic!("no polygon") };
        let ring = &polys[0][0];
        assert!(ring.iter().all(|c| c.x >= -64 && c.x <= 4160 && c.y >= -64 && c.y <= 4160), "{ring:?}");
        assert_eq!(ring.iter().map(|c| c.x).min(), Some(-64));
        assert_eq!(ring.first(), ring.last());
        // 2000 × 1064 grid units of area survive.
        assert_eq!(area2(ring).abs(), 2 * 2000 * 1064);
    }

    #[test]
    fn features_under_a_pixel_are_dropped_but_points_are_not() {
        let tiny = polygon![(x: 100.0, y: 100.0), (x: 110.0, y: 100.0), (x: 110.0, y: 110.0)];
        assert_eq!(frame().shape(&Geometry::Polygon(tiny)), None);
        let short = line_string![(x: 100.0, y: 100.0), (x: 105.0, y: 100.0)];
        assert_eq!(frame().shape(&Geometry::LineString(short)), None);
        let point = Geometry::Point((100.0, 100.0).into());
        assert_eq!(frame().shape(&point), Some(Shape::Points(vec![Coord { x: 100, y: 3996 }])));
    }

    #[test]
    fn lines_leaving_and_reentering_split_into_parts() {
        let l = line_string![(x: 100.0, y: 100.0), (x: 5000.0, y: 100.0), (x: 5000.0, y: 200.0), (x: 100.0, y: 200.0)];
        let Some(Shape::Lines(parts)) = frame().shape(&Geometry::LineString(l)) else { panic!("no lines") };
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().flatten().all(|c| c.x <= 4160));
    }

    #[test]
    fn geometries_outside_the_buffer_vanish() {
        let far = polygon![(x: 9000.0, y: 9000.0), (x: 9100.0, y: 9000.0), (x: 9100.0, y: 9100.0)];
        assert_eq!(frame().shape(&Geometry::Polygon(far)), None);
        let far_line = line_string![(x: -500.0, y: -500.0), (x: -400.0, y: -300.0)];
        assert_eq!(frame().shape(&Geometry::LineString(far_line)), None);
    }

    /// The Hausdorff distance between two polylines, both densified to 1/8 unit: how far a point
    /// of either lies from the other at most.
    fn hausdorff(a: &[Coord], b: &[Coord]) -> f64 {
        fn to_segment(p: Coord, a: Coord, b: Coord) -> f64 {
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let t =
                (((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
            ((p.x - a.x - t * dx).powi(2) + (p.y - a.y - t * dy).powi(2)).sqrt()
        }
        fn dense(l: &[Coord]) -> Vec<Coord> {
            l.windows(2)
                .flat_map(|w| {
                    let n = ((w[1].x - w[0].x).hypot(w[1].y - w[0].y) * 8.0).ceil().max(1.0) as usize;
                    (0..=n).map(move |i| {
                        let t = i as f64 / n as f64;
                        Coord { x: w[0].x + t * (w[1].x - w[0].x), y: w[0].y + t * (w[1].y - w[0].y) }
                    })
                })
                .collect()
        }
        let directed = |from: &[Coord], to: &[Coord]| {
            dense(from)
                .into_iter()
                .map(|p| to.windows(2).map(|w| to_segment(p, w[0], w[1])).fold(f64::MAX, f64::min))
                .fold(0.0, f64::max)
        };
        directed(a, b).max(directed(b, a))
    }

    #[test]
    fn drawn_lines_stay_within_a_quarter_pixel_of_the_true_ones_snapping_included() {
        let mut worst = 0.0_f64;
        // Gentle arcs, the shape simplification flattens most: sagittas up to 4 units, ends at
        // every fraction of a unit so that snapping moves them every way.
        for k in 0..400 {
            let f = f64::from(k);
            let (x0, y0) = (100.0 + (f * 0.137) % 1.0, 2000.0 + (f * 0.291) % 1.0);
            let (length, sagitta) = (100.0 + (f * 7.3) % 400.0, 0.5 + (f * 0.0093) % 3.5);
            let arc: Vec<Coord> = (0..=64)
                .map(|i| {
                    let t = f64::from(i) / 64.0;
                    Coord { x: x0 + t * length, y: y0 + 4.0 * sagitta * t * (1.0 - t) }
                })
                .collect();
            let g = Geometry::LineString(LineString(arc.clone()));
            let Some(Shape::Lines(parts)) = frame().shape(&g) else { panic!("arc {k} vanished") };
            let drawn: Vec<Coord> = parts[0].iter().map(|c| Coord { x: f64::from(c.x), y: f64::from(c.y) }).collect();
            // The frame flips y: the true arc in tile coordinates.
            let truth: Vec<Coord> = arc.iter().map(|c| frame().project(*c)).collect();
            worst = worst.max(hausdorff(&truth, &drawn));
        }
        assert!(worst <= TOLERANCE, "a drawn line strays {worst} units from the true one");
        assert!(worst > 2.0, "the arcs do not test simplification ({worst})");
    }

    #[test]
    fn y_grows_southwards() {
        let p = Geometry::Point((0.0, 4096.0).into()); // the tile's north-west corner
        assert_eq!(frame().shape(&p), Some(Shape::Points(vec![Coord { x: 0, y: 0 }])));
    }
}
