//! The packed part of a layer's index: its features in id order and R-trees over their Web
//! Mercator envelopes, built once and never mutated.
//!
//! Features are ranked by size (the larger side of their envelope, largest first) and the
//! R-tree is split into levels along that ranking: the 4096 largest, the next 16 384, and so on,
//! four times larger each time. A low-zoom tile that keeps only its largest features (see the
//! tiler's budget) reads the first levels and stops, instead of walking 300 000 envelopes.

use geo_types::{Coord, Rect};
use rstar::{AABB, Envelope, RTree, RTreeObject};

use std::borrow::Borrow;

use crate::{
    Feature,
    columns::{Column, Columns},
};

/// A feature's envelope in the R-tree; the feature itself stays in the index's `Vec`, so the
/// tree holds 40-byte entries, not geometries.
struct Entry {
    envelope: AABB<[f64; 2]>,
    slot: u32,
    rank: u32,
}

/// Size of the first level; each next level is [`LEVEL_GROWTH`] times larger.
const FIRST_LEVEL: usize = 4096;
const LEVEL_GROWTH: usize = 4;

/// A feature found by a box query, with what ranks it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Web Mercator envelope `[min_x, min_y, max_x, max_y]`.
    pub envelope: [f64; 4],
    /// Position in the layer's size ranking: 0 is the largest feature.
    pub rank: u32,
    /// The feature.
    pub feature: &'a Feature,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Features searchable by Web Mercator box and by id. `F` is how a feature is held: by value in a
/// layer's base, shared (`Arc<Feature>`) in its delta, which every change copies.
pub(crate) struct Packed<F = Feature> {
    /// In id order: an id is found by binary search (a hash map beside them would cost a
    /// million-feature layer some 34 MB).
    features: Vec<F>,
    levels: Vec<RTree<Entry>>,
    extent: Option<Rect>,
    /// Column-wise copies of the properties, made as filters name them.
    columns: Columns,
}

impl<F: Borrow<Feature>> Packed<F> {
    /// Bulk-loads the R-tree (packed, faster to build and to query than inserting one by one).
    /// Features without coordinates are kept for id lookups but are not in the tree.
    /// Features are kept in id order, the order feature queries page through.
    pub fn build(mut features: Vec<F>) -> Self {
        use geo::BoundingRect;
        features.sort_unstable_by_key(|f| f.borrow().id);
        let mut entries = Vec::with_capacity(features.len());
        let mut extent: Option<Rect> = None;
        for (slot, f) in features.iter().enumerate() {
            let f = f.borrow();
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            let (Some(m), Some(ll)) = (f.mercator.bounding_rect(), f.geometry.bounding_rect()) else { continue };
            entries.push(Entry {
                envelope: AABB::from_corners([m.min().x, m.min().y], [m.max().x, m.max().y]),
                slot,
                rank: 0,
            });
            extent = Some(extent.map_or(ll, |e| union(e, ll)));
        }
        let columns = Columns::new(features.first().map_or(0, |f| f.borrow().properties.len()));
        Self { levels: levels(entries), features, extent, columns }
    }

    /// Property `i` of every feature, in id order, as one column.
    pub fn column(&self, i: usize) -> Option<std::sync::Arc<Column>> {
        self.columns.get(&self.features, i)
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Bounding box of all features in lon/lat, or `None` for an empty layer.
    pub fn extent(&self) -> Option<Rect> {
        self.extent
    }

    /// All features, in id order.
    pub fn features(&self) -> &[F] {
        &self.features
    }

    /// The feature with this id.
    pub fn get(&self, id: i64) -> Option<&Feature> {
        let slot = self.features.binary_search_by_key(&id, |f| f.borrow().id).ok()?;
        Some(self.features[slot].borrow())
    }

    /// Features whose Web Mercator envelope intersects the box `[min_x, min_y, max_x, max_y]`.
    pub fn in_mercator_box(&self, b: [f64; 4]) -> impl Iterator<Item = &Feature> {
        self.entries_in(b).map(|e| self.features[e.slot as usize].borrow())
    }

    /// [`Self::in_mercator_box`], each feature with whether its envelope lies inside `inner`.
    pub fn in_mercator_box_inside(
        &self,
        b: [f64; 4],
        inner: Option<[f64; 4]>,
    ) -> impl Iterator<Item = (&Feature, bool)> {
        let inner = inner.map(|i| AABB::from_corners([i[0], i[1]], [i[2], i[3]]));
        self.entries_in(b).map(move |e| {
            let inside = inner.is_some_and(|i| i.contains_envelope(&e.envelope));
            (self.features[e.slot as usize].borrow(), inside)
        })
    }

    fn entries_in(&self, b: [f64; 4]) -> impl Iterator<Item = &Entry> {
        let query = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        self.levels.iter().flat_map(move |level| level.locate_in_envelope_intersecting(&query))
    }

    /// Features intersecting the box that `keep` accepts, enough of them to hold the `wanted`
    /// largest: whole levels of the size ranking are read until at least `wanted` features are
    /// found, so every feature left unread is no larger than any returned.
    pub fn largest_in_mercator_box(
        &self,
        b: [f64; 4],
        wanted: usize,
        keep: impl Fn(&Feature) -> bool,
    ) -> Vec<Candidate<'_>> {
        let query = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        let mut found = Vec::new();
        for level in &self.levels {
            found.extend(level.locate_in_envelope_intersecting(&query).filter_map(|e| {
                let feature = self.features[e.slot as usize].borrow();
                let (lo, hi) = (e.envelope.lower(), e.envelope.upper());
                keep(feature).then_some(Candidate { envelope: [lo[0], lo[1], hi[0], hi[1]], rank: e.rank, feature })
            }));
            if found.len() >= wanted {
                break;
            }
        }
        found
    }

    /// Approximate memory held, features included.
    pub fn approx_bytes(&self) -> usize {
        self.features.iter().map(|f| f.borrow().approx_bytes()).sum::<usize>()
            + self.levels.iter().map(RTree::size).sum::<usize>() * (std::mem::size_of::<Entry>() + 16)
    }
}

/// The smallest box holding both boxes.
///
/// ```
/// use geo_types::{Rect, coord};
/// let u = layers::index::union(Rect::new(coord! { x: 0., y: 0. }, coord! { x: 1., y: 1. }), Rect::new(coord! { x: 2., y: -1. }, coord! { x: 3., y: 0. }));
/// assert_eq!(u, Rect::new(coord! { x: 0., y: -1. }, coord! { x: 3., y: 1. }));
/// ```
pub fn union(a: Rect, b: Rect) -> Rect {
    Rect::new(
        Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
        Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
    )
}

/// Ranks entries by size, largest first (ties by load order), and packs them into levels.
fn levels(mut entries: Vec<Entry>) -> Vec<RTree<Entry>> {
    let side = |e: &Entry| {
        let (lo, hi) = (e.envelope.lower(), e.envelope.upper());
        (hi[0] - lo[0]).max(hi[1] - lo[1])
    };
    entries.sort_by(|a, b| side(b).total_cmp(&side(a)).then(a.slot.cmp(&b.slot)));
    for (rank, e) in entries.iter_mut().enumerate() {
        e.rank = u32::try_from(rank).unwrap_or(u32::MAX);
    }
    let mut levels = Vec::new();
    let mut size = FIRST_LEVEL;
    while !entries.is_empty() {
        let rest = entries.split_off(size.min(entries.len()));
        levels.push(RTree::bulk_load(entries));
        entries = rest;
        size *= LEVEL_GROWTH;
    }
    levels
}

#[cfg(test)]
mod tests {
    use geo_types::{Geometry, point};

    use super::*;
    use crate::Value;

    fn pt(id: i64, x: f64, y: f64) -> Feature {
        Feature::new(id, Geometry::Point(point! { x: x, y: y }), vec![Value::Int(id)])
    }

    #[test]
    fn box_queries_find_exactly_the_features_inside() {
        let idx = Packed::build(vec![pt(1, 105.7, 10.0), pt(2, 106.0, 9.6), pt(3, 0.0, 0.0)]);
        let m = |x, y| crate::mercator::to_mercator(Coord { x, y });
        let (a, b) = (m(105.5, 9.8), m(105.9, 10.2));
        let mut ids: Vec<i64> = idx.in_mercator_box([a.x, a.y, b.x, b.y]).map(|f| f.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1]);
        assert_eq!(idx.get(2).map(|f| f.id), Some(2));
        assert!(idx.get(4).is_none());
    }

    #[test]
    fn the_largest_features_come_from_the_first_levels() {
        use geo_types::{LineString, coord};
        // 10 000 east-west segments at the equator, feature i being i metres long.
        let features: Vec<Feature> = (1..=10_000)
            .map(|i| {
                let len = f64::from(i) / 111_319.49; // metres to degrees at the equator
                let line = LineString::new(vec![coord! { x: 0.0, y: 0.0 }, coord! { x: len, y: 0.0 }]);
                Feature::new(i64::from(i), Geometry::LineString(line), vec![])
            })
            .collect();
        let idx = Packed::build(features);
        let all = [-1e7, -1e7, 1e7, 1e7];
        let found = idx.largest_in_mercator_box(all, 100, |_| true);
        // The first level (4096 features) already holds 100: only it is read.
        assert_eq!(found.len(), FIRST_LEVEL);
        assert!(found.iter().all(|c| c.feature.id > 10_000 - 4096));
        let top = found.iter().min_by_key(|c| c.rank).map(|c| c.feature.id);
        assert_eq!(top, Some(10_000));
        assert_eq!(idx.largest_in_mercator_box(all, 5000, |_| true).len(), 10_000);
        assert_eq!(idx.in_mercator_box(all).count(), 10_000);
    }

    #[test]
    fn extent_covers_every_feature() {
        let idx = Packed::build(vec![pt(1, 105.7, 10.0), pt(2, 106.0, 9.6)]);
        let e = idx.extent().map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]).unwrap_or_default();
        for (got, want) in e.iter().zip([105.7, 9.6, 106.0, 10.0]) {
            assert!((got - want).abs() < 1e-9, "{e:?}");
        }
        assert!(Packed::<Feature>::build(vec![]).extent().is_none());
    }
}
