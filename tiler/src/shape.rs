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

/// What one run of a [`Shape`]'s coordinates is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Points (a shape of points has one such part).
    Points,
    /// A line of at least two distinct points.
    Line,
    /// A polygon's exterior ring, closed; the holes that follow belong to it.
    Exterior,
    /// A hole of the polygon whose exterior came last, closed.
    Hole,
}

/// A feature's geometry in tile-grid integers, y pointing down, ready to encode: its parts'
/// coordinates one after another. Points, lines or polygons, never a mix. (With float
/// coordinates, the same runs before snapping.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape<C = Coord<i32>> {
    coords: Vec<C>,
    /// Where each part ends in `coords`, and what it is.
    parts: Vec<(usize, Part)>,
}

impl<C> Shape<C> {
    /// The parts in order, each with its coordinates.
    pub fn parts(&self) -> impl Iterator<Item = (Part, &[C])> {
        let starts = std::iter::once(0).chain(self.parts.iter().map(|&(end, _)| end));
        starts.zip(&self.parts).map(|(start, &(end, part))| (part, &self.coords[start..end]))
    }

    fn clear(&mut self) {
        self.coords.clear();
        self.parts.clear();
    }

    /// Ends the part begun at `start` if it has at least `min` points, else drops it.
    fn end_part(&mut self, start: usize, min: usize, part: Part) -> bool {
        let kept = self.coords.len() - start >= min;
        if kept {
            self.parts.push((self.coords.len(), part));
        } else {
            self.coords.truncate(start);
        }
        kept
    }
}

/// Runs of grid coordinates before snapping.
type Runs = Shape<Coord>;

/// The buffers that turning a geometry into a [`Shape`] works in, kept from feature to
/// feature: a tile's thousands of features then allocate nothing once the first have grown
/// them (the allocator was an eighth of a tile's time when each step made its own vectors).
#[derive(Debug, Default)]
pub struct Buffers {
    /// One ring or line, projected to the grid (and then clipped, for rings).
    projected: Vec<Coord>,
    /// The other half of the ring clipper's passes.
    spare: Vec<Coord>,
    /// What of the feature's lines lies inside the window, before snapping.
    lines: Runs,
    /// What of the feature's polygon rings lies inside the window, before snapping.
    rings: Runs,
    /// Which points of a line or ring Douglas–Peucker keeps, and its work list.
    keep: Vec<bool>,
    stack: Vec<(usize, usize)>,
    /// The result.
    shape: Shape,
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

    fn project_into(&self, coords: &[Coord], out: &mut Vec<Coord>) {
        out.clear();
        out.extend(coords.iter().map(|c| self.project(*c)));
    }

    fn inside(&self, c: Coord) -> bool {
        c.x >= self.lo && c.x <= self.hi && c.y >= self.lo && c.y <= self.hi
    }

    fn contains(&self, b: [f64; 4]) -> bool {
        b[0] >= self.lo && b[2] <= self.hi && b[1] >= self.lo && b[3] <= self.hi
    }

    /// The geometry's shape in this tile, or `None` when nothing of it shows.
    pub fn shape<'b>(&self, g: &Geometry, buffers: &'b mut Buffers) -> Option<&'b Shape> {
        buffers.lines.clear();
        buffers.rings.clear();
        buffers.shape.clear();
        self.collect(g, buffers);
        let Buffers { lines, rings, keep, stack, shape, projected, .. } = buffers;
        if !rings.parts.is_empty() {
            // Polygons win over lines and points in a collection: those are dropped.
            shape.clear();
            if below_a_pixel_snapped(rings.parts().filter(|(part, _)| *part == Part::Exterior)) {
                return None;
            }
            let mut exterior_kept = false;
            for (part, ring) in rings.parts() {
                if part == Part::Exterior {
                    exterior_kept = snap_ring(ring, part, projected, keep, stack, shape);
                } else if exterior_kept {
                    snap_ring(ring, part, projected, keep, stack, shape);
                }
            }
        } else if !lines.parts.is_empty() {
            shape.clear();
            if below_a_pixel_snapped(lines.parts()) {
                return None;
            }
            for (_, line) in lines.parts() {
                snap_line(line, keep, stack, shape);
            }
        } else {
            shape.end_part(0, 1, Part::Points);
        }
        (!shape.parts.is_empty()).then_some(&*shape)
    }

    fn collect(&self, g: &Geometry, out: &mut Buffers) {
        match g {
            Geometry::Point(p) => self.point(p.0, out),
            Geometry::MultiPoint(mp) => mp.iter().for_each(|p| self.point(p.0, out)),
            Geometry::LineString(l) => self.line(&l.0, out),
            Geometry::MultiLineString(ml) => ml.iter().for_each(|l| self.line(&l.0, out)),
            Geometry::Polygon(p) => self.polygon(p, out),
            Geometry::MultiPolygon(mp) => mp.iter().for_each(|p| self.polygon(p, out)),
            Geometry::GeometryCollection(gc) => gc.iter().for_each(|g| self.collect(g, out)),
            Geometry::Line(l) => self.line(&[l.start, l.end], out),
            Geometry::Rect(r) => self.polygon(&r.to_polygon(), out),
            Geometry::Triangle(t) => self.polygon(&t.to_polygon(), out),
        }
    }

    fn point(&self, c: Coord, out: &mut Buffers) {
        let p = self.project(c);
        if self.inside(p) {
            out.shape.coords.push(snap(p));
        }
    }

    fn line(&self, line: &[Coord], out: &mut Buffers) {
        self.project_into(line, &mut out.projected);
        let b = bbox(&out.projected);
        if below_a_pixel(b) {
            return;
        }
        if self.contains(b) {
            // Wholly inside, as most features at high zooms are: nothing to cut.
            let start = out.lines.coords.len();
            out.lines.coords.extend_from_slice(&out.projected);
            out.lines.end_part(start, 2, Part::Line);
        } else {
            clip_line(&out.projected, self.lo, self.hi, &mut out.lines);
        }
    }

    /// Adds the clipped rings of a polygon (exterior first), or nothing when its exterior does
    /// not reach the window.
    fn polygon(&self, p: &Polygon, out: &mut Buffers) {
        if !self.ring(p.exterior(), Part::Exterior, out) {
            return;
        }
        for hole in p.interiors() {
            self.ring(hole, Part::Hole, out);
        }
    }

    /// Adds one clipped ring; whether it was kept. An exterior under a pixel or outside the
    /// window is not.
    fn ring(&self, ring: &LineString, part: Part, out: &mut Buffers) -> bool {
        let Buffers { projected, spare, rings, .. } = out;
        self.project_into(&ring.0, projected);
        if projected.len() > 1 && projected.first() == projected.last() {
            projected.pop();
        }
        let b = bbox(projected);
        if part == Part::Exterior && (below_a_pixel(b) || outside(b, self.lo, self.hi)) {
            return false;
        }
        if !self.contains(b) {
            clip_ring(projected, spare, self.lo, self.hi);
        }
        let start = rings.coords.len();
        rings.coords.extend_from_slice(projected);
        rings.end_part(start, 3, part)
    }
}

/// The low-zoom rule, on what remains of the feature inside the window, snapped to the grid.
fn below_a_pixel_snapped<'a>(runs: impl Iterator<Item = (Part, &'a [Coord])>) -> bool {
    let all = runs.flat_map(|(_, run)| run).map(|c| Coord { x: c.x.round(), y: c.y.round() });
    let b = all.fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, c| {
        [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)]
    });
    b[2] - b[0] < PIXEL && b[3] - b[1] < PIXEL
}

/// Simplifies and snaps a line onto the end of `out`; when simplifying would collapse it, it
/// is only snapped; a line left with fewer than two points is not added.
fn snap_line(line: &[Coord], keep: &mut Vec<bool>, stack: &mut Vec<(usize, usize)>, out: &mut Shape) {
    let start = out.coords.len();
    simplify(line, keep, stack);
    [Some(&keep[..]), None].into_iter().any(|keep| {
        snap_into(line, keep, &mut out.coords);
        out.end_part(start, 2, Part::Line)
    });
}

/// Simplifies, snaps and closes a ring onto the end of `out` as `part`; when simplifying would
/// collapse it to no area, it is only snapped, so that simplification never removes a feature.
/// Whether a ring with area was added. `closed` is a buffer to work in.
fn snap_ring(
    ring: &[Coord],
    part: Part,
    closed: &mut Vec<Coord>,
    keep: &mut Vec<bool>,
    stack: &mut Vec<(usize, usize)>,
    out: &mut Shape,
) -> bool {
    closed.clear();
    closed.extend_from_slice(ring);
    closed.push(ring[0]);
    let start = out.coords.len();
    simplify(closed, keep, stack);
    [Some(&keep[..]), None].into_iter().any(|keep| {
        snap_into(closed, keep, &mut out.coords);
        let coords = &mut out.coords;
        if coords[start..].first() != coords[start..].last() {
            let first = coords[start];
            coords.push(first);
        }
        let kept = area2(&coords[start..]) != 0 && out.end_part(start, 4, part);
        if !kept {
            out.coords.truncate(start);
        }
        kept
    })
}

/// Douglas–Peucker with [`SIMPLIFY`]: marks in `keep` the points of `line` it keeps (the ends
/// always). Hand-written rather than geo's `Simplify`, which takes and returns owned line
/// strings and measures with square roots: this works on the buffers in place and compares
/// squared distances, choosing the same points (the farthest, the last of equals).
fn simplify(line: &[Coord], keep: &mut Vec<bool>, stack: &mut Vec<(usize, usize)>) {
    keep.clear();
    keep.resize(line.len(), false);
    if line.is_empty() {
        return;
    }
    keep[0] = true;
    keep[line.len() - 1] = true;
    stack.clear();
    stack.push((0, line.len() - 1));
    while let Some((first, last)) = stack.pop() {
        if last - first < 2 {
            continue;
        }
        let (a, b) = (line[first], line[last]);
        let (mut farthest, mut distance) = (first + 1, 0.0);
        for (i, c) in line.iter().enumerate().take(last).skip(first + 1) {
            let d = squared_distance_to_segment(*c, a, b);
            if d >= distance {
                (farthest, distance) = (i, d);
            }
        }
        if distance > SIMPLIFY * SIMPLIFY {
            keep[farthest] = true;
            stack.push((first, farthest));
            stack.push((farthest, last));
        }
    }
}

fn squared_distance_to_segment(p: Coord, a: Coord, b: Coord) -> f64 {
    let squared = |c: Coord| c.x * c.x + c.y * c.y;
    if a == b {
        return squared(p - a);
    }
    let d = b - a;
    let length2 = squared(d);
    let r = ((p.x - a.x) * d.x + (p.y - a.y) * d.y) / length2;
    if r <= 0.0 {
        squared(p - a)
    } else if r >= 1.0 {
        squared(p - b)
    } else {
        let s = ((a.y - p.y) * d.x - (a.x - p.x) * d.y) / length2;
        s * s * length2
    }
}

fn snap(c: Coord) -> Coord<i32> {
    #[allow(clippy::cast_possible_truncation)]
    Coord { x: c.x.round() as i32, y: c.y.round() as i32 }
}

/// Snaps to integers onto the end of `out` the points `keep` marks (all without it), dropping
/// consecutive repeats.
fn snap_into(coords: &[Coord], keep: Option<&[bool]>, out: &mut Vec<Coord<i32>>) {
    let start = out.len();
    for (i, c) in coords.iter().enumerate() {
        if keep.is_some_and(|k| !k[i]) {
            continue;
        }
        let s = snap(*c);
        if out.len() == start || out.last() != Some(&s) {
            out.push(s);
        }
    }
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
/// one grid unit); [`below_a_pixel_snapped`] decides exactly.
fn below_a_pixel(b: [f64; 4]) -> bool {
    b[2] - b[0] < PIXEL - 1.0 && b[3] - b[1] < PIXEL - 1.0
}

fn outside(b: [f64; 4], lo: f64, hi: f64) -> bool {
    b[2] < lo || b[0] > hi || b[3] < lo || b[1] > hi
}

/// One edge of the clip window: which side is kept, where a segment crosses it, its position.
type ClipEdge = (fn(Coord, f64) -> bool, fn(Coord, Coord, f64) -> Coord, f64);

/// Sutherland–Hodgman against the square `[lo, hi]²`, in place (`spare` is the other buffer
/// of each pass). The ring is open. Parts of the ring outside become runs along the window's
/// edge, which keeps the polygon one piece (as ST_AsMVTGeom and every tiler do).
fn clip_ring(ring: &mut Vec<Coord>, spare: &mut Vec<Coord>, lo: f64, hi: f64) {
    // Each edge: which side is kept, and where a segment crosses it.
    let edges: [ClipEdge; 4] = [
        (|c, v| c.x >= v, |a, b, v| Coord { x: v, y: a.y + (b.y - a.y) * (v - a.x) / (b.x - a.x) }, lo),
        (|c, v| c.x <= v, |a, b, v| Coord { x: v, y: a.y + (b.y - a.y) * (v - a.x) / (b.x - a.x) }, hi),
        (|c, v| c.y >= v, |a, b, v| Coord { x: a.x + (b.x - a.x) * (v - a.y) / (b.y - a.y), y: v }, lo),
        (|c, v| c.y <= v, |a, b, v| Coord { x: a.x + (b.x - a.x) * (v - a.y) / (b.y - a.y), y: v }, hi),
    ];
    for (keep, cross, v) in edges {
        let Some(&last) = ring.last() else { return };
        spare.clear();
        let mut prev = last;
        for &cur in ring.iter() {
            match (keep(prev, v), keep(cur, v)) {
                (true, true) => spare.push(cur),
                (true, false) => spare.push(cross(prev, cur, v)),
                (false, true) => {
                    spare.push(cross(prev, cur, v));
                    spare.push(cur);
                }
                (false, false) => {}
            }
            prev = cur;
        }
        std::mem::swap(ring, spare);
    }
}

/// Liang–Barsky, segment by segment: adds to `out` the pieces of a line inside the square
/// `[lo, hi]²`.
fn clip_line(line: &[Coord], lo: f64, hi: f64, out: &mut Runs) {
    let mut start = out.coords.len();
    for w in line.windows(2) {
        match clip_segment(w[0], w[1], lo, hi) {
            Some((a, b)) => {
                if out.coords.len() == start || out.coords.last() != Some(&a) {
                    out.end_part(start, 2, Part::Line);
                    start = out.coords.len();
                    out.coords.push(a);
                }
                out.coords.push(b);
                if b != w[1] {
                    // The segment leaves the window: the piece ends here.
                    out.end_part(start, 2, Part::Line);
                    start = out.coords.len();
                }
            }
            None => {
                out.end_part(start, 2, Part::Line);
                start = out.coords.len();
            }
        }
    }
    out.end_part(start, 2, Part::Line);
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

    /// The shape's parts as owned vectors, or `None` when nothing shows.
    fn shape(g: Geometry) -> Option<Vec<(Part, Vec<Coord<i32>>)>> {
        let mut buffers = Buffers::default();
        let shape = frame().shape(&g, &mut buffers)?;
        Some(shape.parts().map(|(part, coords)| (part, coords.to_vec())).collect())
    }

    #[test]
    fn polygons_are_clipped_to_the_buffer_and_snapped() {
        // A square half outside the tile's left edge.
        let p =
            polygon![(x: -1000.0, y: 1000.0), (x: 1000.0, y: 1000.0), (x: 1000.0, y: 3000.0), (x: -1000.0, y: 3000.0)];
        let parts = shape(Geometry::Polygon(p)).unwrap_or_else(|| panic!("no polygon"));
        let (Part::Exterior, ring) = &parts[0] else { panic!("{parts:?}") };
        assert!(ring.iter().all(|c| c.x >= -64 && c.x <= 4160 && c.y >= -64 && c.y <= 4160), "{ring:?}");
        assert_eq!(ring.iter().map(|c| c.x).min(), Some(-64));
        assert_eq!(ring.first(), ring.last());
        // 2000 × 1064 grid units of area survive.
        assert_eq!(area2(ring).abs(), 2 * 2000 * 1064);
    }

    #[test]
    fn features_under_a_pixel_are_dropped_but_points_are_not() {
        let tiny = polygon![(x: 100.0, y: 100.0), (x: 110.0, y: 100.0), (x: 110.0, y: 110.0)];
        assert_eq!(shape(Geometry::Polygon(tiny)), None);
        let short = line_string![(x: 100.0, y: 100.0), (x: 105.0, y: 100.0)];
        assert_eq!(shape(Geometry::LineString(short)), None);
        let point = Geometry::Point((100.0, 100.0).into());
        assert_eq!(shape(point), Some(vec![(Part::Points, vec![Coord { x: 100, y: 3996 }])]));
    }

    #[test]
    fn lines_leaving_and_reentering_split_into_parts() {
        let l = line_string![(x: 100.0, y: 100.0), (x: 5000.0, y: 100.0), (x: 5000.0, y: 200.0), (x: 100.0, y: 200.0)];
        let parts = shape(Geometry::LineString(l)).unwrap_or_else(|| panic!("no lines"));
        assert_eq!(parts.iter().map(|(part, _)| *part).collect::<Vec<_>>(), [Part::Line, Part::Line]);
        assert!(parts.iter().flat_map(|(_, line)| line).all(|c| c.x <= 4160));
    }

    #[test]
    fn geometries_outside_the_buffer_vanish() {
        let far = polygon![(x: 9000.0, y: 9000.0), (x: 9100.0, y: 9000.0), (x: 9100.0, y: 9100.0)];
        assert_eq!(shape(Geometry::Polygon(far)), None);
        let far_line = line_string![(x: -500.0, y: -500.0), (x: -400.0, y: -300.0)];
        assert_eq!(shape(Geometry::LineString(far_line)), None);
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
            let parts = shape(g).unwrap_or_else(|| panic!("arc {k} vanished"));
            let drawn: Vec<Coord> = parts[0].1.iter().map(|c| Coord { x: f64::from(c.x), y: f64::from(c.y) }).collect();
            // The frame flips y: the true arc in tile coordinates.
            let truth: Vec<Coord> = arc.iter().map(|c| frame().project(*c)).collect();
            worst = worst.max(hausdorff(&truth, &drawn));
        }
        assert!(worst <= TOLERANCE, "a drawn line strays {worst} units from the true one");
        assert!(worst > 2.0, "the arcs do not test simplification ({worst})");
    }

    #[test]
    fn simplification_keeps_the_points_geos_douglas_peucker_keeps() {
        use geo::Simplify;
        let mut seed = 17_u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1_u64 << 53) as f64
        };
        let (mut keep, mut stack) = (Vec::new(), Vec::new());
        let mut simplified_somewhere = false;
        // Two points equally far from the chord, either of which makes the other go: the later
        // is kept.
        let tie: Vec<Coord> = vec![(0.0, 0.0).into(), (10.0, 5.0).into(), (20.0, 5.0).into(), (30.0, 0.0).into()];
        for k in 0..500 {
            // Wiggly lines from 2 to 60 points, with wiggles around the tolerance; some closed.
            let n = 2 + k % 59;
            let mut line: Vec<Coord> =
                (0..n).map(|i| Coord { x: i as f64 * (1.0 + 9.0 * next()), y: (next() - 0.5) * 16.0 }).collect();
            if k % 3 == 0 {
                line.push(line[0]);
            }
            if k == 0 {
                line.clone_from(&tie);
            }
            simplify(&line, &mut keep, &mut stack);
            let ours: Vec<Coord> = line.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| *c).collect();
            let geos = LineString(line.clone()).simplify(SIMPLIFY).0;
            assert_eq!(ours, geos, "line {k}");
            simplified_somewhere |= ours.len() < line.len() && ours.len() > 2;
        }
        assert!(simplified_somewhere, "no line was partly simplified");
    }

    #[test]
    fn buffers_carry_nothing_from_one_feature_to_the_next() {
        let square =
            |x: f64| polygon![(x: x, y: 100.0), (x: x + 500.0, y: 100.0), (x: x + 500.0, y: 600.0), (x: x, y: 600.0)];
        let point = Geometry::Point((50.0, 50.0).into());
        let both = Geometry::GeometryCollection(vec![point.clone(), Geometry::Polygon(square(1000.0))].into());
        let mut buffers = Buffers::default();
        let mut reused = Vec::new();
        for g in
            [Geometry::Polygon(square(-300.0)), point.clone(), both.clone(), Geometry::Polygon(square(9000.0)), point]
        {
            let parts = frame().shape(&g, &mut buffers).map(|s| s.parts().map(|(p, c)| (p, c.to_vec())).collect());
            reused.push(parts);
        }
        let fresh: Vec<_> = [
            Geometry::Polygon(square(-300.0)),
            Geometry::Point((50.0, 50.0).into()),
            both,
            Geometry::Polygon(square(9000.0)),
            Geometry::Point((50.0, 50.0).into()),
        ]
        .into_iter()
        .map(shape)
        .collect();
        assert_eq!(reused, fresh);
        // The collection's point is dropped for its polygon, whose ring alone is written.
        let Some(collection) = &fresh[2] else { panic!("the collection vanished") };
        assert_eq!(collection.iter().map(|(p, c)| (*p, c.len())).collect::<Vec<_>>(), [(Part::Exterior, 5)]);
    }

    #[test]
    fn y_grows_southwards() {
        let p = Geometry::Point((0.0, 4096.0).into()); // the tile's north-west corner
        assert_eq!(shape(p), Some(vec![(Part::Points, vec![Coord { x: 0, y: 0 }])]));
    }
}
