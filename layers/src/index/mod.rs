//! The in-memory index of one layer: a packed base (see [`packed`]) plus the changes made since
//! it was built. Readers share an index through an `Arc` and never see it change; applying
//! changes makes a new index that shares the base, masks the base's changed and deleted ids, and
//! holds the new versions in a small packed delta. When the delta grows past a fraction of the
//! base, applying compacts both into a new base.

mod packed;

use std::{collections::HashSet, sync::Arc};

use geo_types::Rect;

use self::packed::Packed;
pub use self::packed::{Candidate, union};
use crate::{
    Feature,
    columns::{Bitmap, Column},
    mercator,
};

/// The features of one layer, searchable by Web Mercator box and by id.
pub struct LayerIndex {
    base: Arc<Packed>,
    /// Ids of the base that changed or went since it was built.
    masked: HashSet<i64>,
    /// Features added or changed since the base was built, shared so that the next change
    /// copies pointers, not geometries.
    delta: Packed<Arc<Feature>>,
}

/// Entries held beside the base (a masked id, a new version: a changed feature is both) past
/// which applying compacts: a fixed allowance plus a sixteenth of the base, so 19 720 changed
/// features of 500 000.
fn compaction_threshold(base: usize) -> usize {
    2 * 4096 + base / 16
}

impl LayerIndex {
    /// Builds the index; features without coordinates are kept for id lookups but are not in
    /// the tree. Features are kept in id order, the order feature queries page through.
    pub fn build(features: Vec<Feature>) -> Self {
        Self { base: Arc::new(Packed::build(features)), masked: HashSet::new(), delta: Packed::build(Vec::new()) }
    }

    /// This index with `upserts` added or replacing the features of their ids, and the features
    /// `deleted` gone. CPU work proportional to the delta, or to the layer when it compacts.
    #[must_use]
    pub fn apply(&self, upserts: Vec<Feature>, deleted: &[i64]) -> Self {
        let touched: HashSet<i64> = upserts.iter().map(|f| f.id).chain(deleted.iter().copied()).collect();
        let mut masked = self.masked.clone();
        masked.extend(touched.iter().copied().filter(|&id| self.base.get(id).is_some()));
        let mut delta: Vec<Arc<Feature>> =
            self.delta.features().iter().filter(|f| !touched.contains(&f.id)).cloned().collect();
        delta.extend(upserts.into_iter().map(Arc::new));
        if masked.len() + delta.len() > compaction_threshold(self.base.len()) {
            let kept = self.base.features().iter().filter(|f| !masked.contains(&f.id)).cloned();
            let changed = delta.into_iter().map(|f| Arc::try_unwrap(f).unwrap_or_else(|f| Feature::clone(&f)));
            return Self::build(kept.chain(changed).collect());
        }
        Self { base: Arc::clone(&self.base), masked, delta: Packed::build(delta) }
    }

    /// Entries held beside the base until the next compaction: masked ids and new versions.
    pub fn pending(&self) -> usize {
        self.masked.len() + self.delta.len()
    }

    fn live(&self, f: &Feature) -> bool {
        self.masked.is_empty() || !self.masked.contains(&f.id)
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.base.len() - self.masked.len() + self.delta.len()
    }

    /// True when the layer has no features.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bounding box of all features in lon/lat, or `None` for an empty layer. After deletions
    /// it may be larger than the features until the next compaction.
    pub fn extent(&self) -> Option<Rect> {
        match (self.base.extent(), self.delta.extent()) {
            (Some(a), Some(b)) => Some(union(a, b)),
            (a, b) => a.or(b),
        }
    }

    /// All features, in id order.
    pub fn features(&self) -> impl Iterator<Item = &Feature> {
        self.with_delta(self.base.features().iter()).map(|(f, _)| f)
    }

    /// The features `select` picks from the base's columns (it is given property `i` as a
    /// column), with every feature changed since the base was built, in id order, each with
    /// whether the columns picked it; every feature, none picked, when `select` declines.
    pub fn narrowed<'a>(
        &'a self,
        select: impl FnOnce(&dyn Fn(usize) -> Option<std::sync::Arc<Column>>) -> Option<Bitmap>,
    ) -> Box<dyn Iterator<Item = (&'a Feature, bool)> + 'a> {
        let all = self.base.features();
        match select(&|i| self.base.column(i)) {
            Some(rows) => Box::new(self.with_delta(rows.ones().collect::<Vec<_>>().into_iter().map(|r| &all[r]))),
            None => Box::new(self.with_delta(all.iter()).map(|(f, _)| (f, false))),
        }
    }

    /// `base` (features of the base in id order) without the masked ones, merged with the
    /// delta in id order; each with whether it came from `base`.
    fn with_delta<'a>(&'a self, base: impl Iterator<Item = &'a Feature>) -> impl Iterator<Item = (&'a Feature, bool)> {
        let mut base = base.filter(|f| self.live(f)).peekable();
        let mut delta = self.delta.features().iter().map(|f| &**f).peekable();
        std::iter::from_fn(move || match (base.peek(), delta.peek()) {
            (Some(a), Some(b)) if b.id < a.id => delta.next().map(|f| (f, false)),
            (Some(_), _) => base.next().map(|f| (f, true)),
            (None, _) => delta.next().map(|f| (f, false)),
        })
    }

    /// The feature with this id.
    pub fn get(&self, id: i64) -> Option<&Feature> {
        self.delta.get(id).or_else(|| self.base.get(id).filter(|f| self.live(f)))
    }

    /// Features whose Web Mercator envelope intersects the box `[min_x, min_y, max_x, max_y]`.
    pub fn in_mercator_box(&self, b: [f64; 4]) -> impl Iterator<Item = &Feature> {
        self.base.in_mercator_box(b).filter(|f| self.live(f)).chain(self.delta.in_mercator_box(b))
    }

    /// Features whose envelope may intersect the lon/lat box: every one that does, and maybe a
    /// few that do not, for an exact test to decide. The trees hold Mercator envelopes, in
    /// which every latitude beyond ±85.0511° is clamped to the limit; a box reaching past it
    /// takes in all of those, and a metre of slack absorbs the projection's rounding.
    ///
    /// Each comes with whether its envelope lies wholly inside the box, a metre in from its
    /// edges (Mercator keeps each axis's order, so the feature then intersects the box with no
    /// exact test); one clamped at the projection's limit never does.
    pub fn candidates_in_lonlat_box(&self, b: Rect) -> impl Iterator<Item = (&Feature, bool)> {
        let (lo, hi) = (mercator::to_mercator(b.min()), mercator::to_mercator(b.max()));
        let beyond = 2.0 * mercator::HALF_WORLD;
        let south = if b.min().y <= -mercator::MAX_LAT { -beyond } else { lo.y - 1.0 };
        let north = if b.max().y >= mercator::MAX_LAT { beyond } else { hi.y + 1.0 };
        let outer = [lo.x - 1.0, south, hi.x + 1.0, north];
        let inner = [lo.x + 1.0, lo.y + 1.0, hi.x - 1.0, hi.y - 1.0];
        let inner = (inner[0] < inner[2] && inner[1] < inner[3]).then_some(inner);
        let base = self.base.in_mercator_box_inside(outer, inner).filter(|(f, _)| self.live(f));
        base.chain(self.delta.in_mercator_box_inside(outer, inner))
    }

    /// Features intersecting the box, enough of them to hold the `wanted` largest (every
    /// feature left out is no larger than any returned), ranked by size, largest first.
    pub fn largest_in_mercator_box(&self, b: [f64; 4], wanted: usize) -> Vec<Candidate<'_>> {
        let mut found = self.base.largest_in_mercator_box(b, wanted, |f| self.live(f));
        let changed = self.delta.largest_in_mercator_box(b, usize::MAX, |_| true);
        if changed.is_empty() {
            return found;
        }
        // Base and delta rank apart: rank the union again, as one build of it would.
        found.extend(changed);
        let side = |c: &Candidate| (c.envelope[2] - c.envelope[0]).max(c.envelope[3] - c.envelope[1]);
        let mut order: Vec<usize> = (0..found.len()).collect();
        order.sort_by(|&a, &b| {
            side(&found[b]).total_cmp(&side(&found[a])).then(found[a].feature.id.cmp(&found[b].feature.id))
        });
        for (rank, i) in order.into_iter().enumerate() {
            found[i].rank = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        found
    }

    /// Approximate memory held by the index, features included.
    pub fn approx_bytes(&self) -> usize {
        self.base.approx_bytes() + self.delta.approx_bytes() + self.masked.len() * 16
    }
}

#[cfg(test)]
mod tests {
    use geo_types::{Coord, Geometry, LineString, coord, point};

    use super::*;
    use crate::Value;

    fn pt(id: i64, x: f64, y: f64) -> Feature {
        Feature::new(id, Geometry::Point(point! { x: x, y: y }), vec![Value::Int(id)])
    }

    /// An east-west segment at the equator, `len` metres long, starting at `x` degrees.
    fn segment(id: i64, x: f64, len: f64) -> Feature {
        let line = LineString::new(vec![coord! { x: x, y: 0.0 }, coord! { x: x + len / 111_319.49, y: 0.0 }]);
        Feature::new(id, Geometry::LineString(line), vec![Value::Int(id)])
    }

    fn ids<'a>(fs: impl Iterator<Item = &'a Feature>) -> Vec<i64> {
        let mut ids: Vec<i64> = fs.map(|f| f.id).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn narrowing_by_the_base_columns_keeps_changed_features_for_the_exact_test() {
        let base = LayerIndex::build((1..=10).map(|i| pt(i, 100.0, 10.0)).collect());
        // 3 changes (its value stays 3 here, but the base's column cannot know), 7 goes, 42 comes.
        let changed = base.apply(vec![pt(3, 0.0, 0.0), pt(42, 0.5, 0.5)], &[7]);
        let four = |column: &dyn Fn(usize) -> Option<std::sync::Arc<Column>>| {
            column(0)?.compare(std::cmp::Ordering::Equal, false, &Value::Int(4), false)
        };
        let picked: Vec<(i64, bool)> = changed.narrowed(four).map(|(f, picked)| (f.id, picked)).collect();
        assert_eq!(picked, vec![(3, false), (4, true), (42, false)], "in id order, the delta unpicked");
        let all: Vec<(i64, bool)> = changed.narrowed(|_| None).map(|(f, picked)| (f.id, picked)).collect();
        assert_eq!(
            all.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            changed.features().map(|f| f.id).collect::<Vec<_>>()
        );
        assert!(all.iter().all(|(_, picked)| !picked));
        let gone = |column: &dyn Fn(usize) -> Option<std::sync::Arc<Column>>| {
            column(0)?.compare(std::cmp::Ordering::Equal, false, &Value::Int(7), false)
        };
        assert_eq!(
            changed.narrowed(gone).map(|(f, _)| f.id).collect::<Vec<_>>(),
            vec![3, 42],
            "a deleted row is not picked"
        );
    }

    #[test]
    fn changes_apply_without_touching_the_base_and_read_like_a_rebuild() {
        let base = LayerIndex::build((1..=10).map(|i| pt(i, 100.0 + f64::from(i as i32), 10.0)).collect());
        let changed = base.apply(vec![pt(3, 0.0, 0.0), pt(42, 0.5, 0.5)], &[7]);
        assert_eq!(base.len(), 10, "the index readers hold does not change");
        assert_eq!(changed.len(), 10);
        assert!(changed.get(7).is_none() && changed.get(42).is_some());
        assert_eq!(changed.get(3).map(|f| f.geometry.clone()), Some(pt(3, 0.0, 0.0).geometry));
        let order: Vec<i64> = changed.features().map(|f| f.id).collect();
        assert_eq!(order, vec![1, 2, 3, 4, 5, 6, 8, 9, 10, 42]);
        let m = mercator::to_mercator(Coord { x: 1.0, y: 1.0 });
        assert_eq!(ids(changed.in_mercator_box([-m.x, -m.y, m.x, m.y])), vec![3, 42]);
        let at_103 = Rect::new(Coord { x: 102.9, y: 9.9 }, Coord { x: 103.1, y: 10.1 });
        assert!(ids(changed.candidates_in_lonlat_box(at_103).map(|(f, _)| f)).is_empty(), "feature 3 moved away");
        assert_eq!(changed.pending(), 4);
        // Deleting a feature only the delta holds leaves nothing behind.
        let again = changed.apply(vec![], &[42]);
        assert!(again.get(42).is_none());
        assert_eq!(again.len(), 9);
    }

    #[test]
    fn size_ranks_of_changed_features_match_a_rebuild() {
        let features: Vec<Feature> = (1..=6000).map(|i| segment(i, 0.0, f64::from(i as i32))).collect();
        let index = LayerIndex::build(features.clone());
        // Feature 10 grows to be the largest; feature 5999 shrinks to almost nothing.
        let (grown, shrunk) = (segment(10, 0.0, 10_000.0), segment(5999, 0.0, 0.5));
        let changed = index.apply(vec![grown.clone(), shrunk.clone()], &[]);
        let mut all = features;
        all[9] = grown;
        all[5998] = shrunk;
        let rebuilt = LayerIndex::build(all);
        let world = [-1e7, -1e7, 1e7, 1e7];
        let ranked = |i: &LayerIndex| {
            let mut c: Vec<(u32, i64)> =
                i.largest_in_mercator_box(world, 100).iter().map(|c| (c.rank, c.feature.id)).collect();
            c.sort_unstable();
            c.into_iter().map(|(_, id)| id).take(200).collect::<Vec<_>>()
        };
        assert_eq!(ranked(&changed), ranked(&rebuilt));
        assert_eq!(ranked(&changed)[0], 10);
    }

    #[test]
    fn a_candidate_is_inside_a_box_only_when_its_whole_envelope_is() {
        let line = LineString::new(vec![coord! { x: 105.9, y: 10.0 }, coord! { x: 106.1, y: 10.0 }]);
        let segment = Feature::new(2, Geometry::LineString(line), vec![Value::Int(2)]);
        let idx = LayerIndex::build(vec![pt(1, 105.5, 10.0), segment, pt(3, 0.0, -86.0)]);
        let inside = |w: f64, s: f64, e: f64, n: f64| {
            let mut found: Vec<(i64, bool)> = idx
                .candidates_in_lonlat_box(Rect::new(Coord { x: w, y: s }, Coord { x: e, y: n }))
                .map(|(f, inside)| (f.id, inside))
                .collect();
            found.sort_unstable();
            found
        };
        // The segment runs from 105.9 to 106.1: across the first box's edge, inside the second.
        assert_eq!(inside(105.0, 9.0, 106.0, 11.0), vec![(1, true), (2, false)]);
        assert_eq!(inside(105.0, 9.0, 107.0, 11.0), vec![(1, true), (2, true)]);
        // A point a millimetre in from the edge is too close to it to be decided by envelopes.
        assert_eq!(inside(105.49999999, 9.0, 106.0, 11.0), vec![(1, false), (2, false)]);
        // A box under two metres across has no inside.
        assert_eq!(inside(105.499995, 9.999995, 105.500005, 10.000005), vec![(1, false)]);
        // Past Mercator's limit the envelopes are clamped: never decided by them.
        assert_eq!(inside(-1.0, -90.0, 1.0, -80.0), vec![(3, false)]);
    }

    #[test]
    fn lon_lat_boxes_find_features_beyond_mercators_limit() {
        let idx = LayerIndex::build(vec![pt(1, 0.0, -89.0), pt(2, 0.0, -86.5), pt(3, 0.0, 80.0)]);
        let ids = |w: f64, s: f64, e: f64, n: f64| {
            let mut ids: Vec<i64> = idx
                .candidates_in_lonlat_box(Rect::new(Coord { x: w, y: s }, Coord { x: e, y: n }))
                .map(|(f, _)| f.id)
                .collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(-1.0, -90.0, 1.0, -86.0), vec![1, 2]);
        assert_eq!(ids(-1.0, 70.0, 1.0, 81.0), vec![3]);
        let south = idx.extent().map(|e| e.min().y);
        assert_eq!(south, Some(-89.0));
    }

    #[test]
    fn a_large_delta_is_compacted_into_a_new_base() {
        let index = LayerIndex::build((1..=100).map(|i| pt(i, 0.0, 0.0)).collect());
        let moved: Vec<Feature> = (1..=9000).map(|i| pt(i, 1.0, 1.0)).collect();
        let compacted = index.apply(moved, &[]);
        assert_eq!(compacted.pending(), 0);
        assert_eq!(compacted.len(), 9000);
        assert_eq!(compacted.features().map(|f| f.id).collect::<Vec<_>>(), (1..=9000).collect::<Vec<_>>());
        let below = LayerIndex::build(vec![pt(1, 0.0, 0.0)]).apply((1..=4000).map(|i| pt(i, 1.0, 1.0)).collect(), &[]);
        assert_eq!(below.pending(), 4001, "a changed feature is a mask and a new version");
    }
}
