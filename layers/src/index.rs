//! The in-memory index of one layer: its features and an R-tree over their Web Mercator
//! envelopes. Built once per load and never mutated, so readers share it through an `Arc`.

use std::collections::HashMap;

use geo_types::{Coord, Rect};
use rstar::{AABB, RTree, RTreeObject};

use crate::Feature;

/// A feature's envelope in the R-tree; the feature itself stays in the index's `Vec`, so the
/// tree holds 40-byte entries, not geometries.
struct Entry {
    envelope: AABB<[f64; 2]>,
    slot: u32,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// The features of one layer, searchable by Web Mercator box and by id.
pub struct LayerIndex {
    features: Vec<Feature>,
    tree: RTree<Entry>,
    by_id: HashMap<i64, u32>,
    extent: Option<Rect>,
}

impl LayerIndex {
    /// Bulk-loads the R-tree (packed, faster to build and to query than inserting one by one).
    /// Features without coordinates are kept for id lookups but are not in the tree.
    pub fn build(features: Vec<Feature>) -> Self {
        use geo::BoundingRect;
        let mut entries = Vec::with_capacity(features.len());
        let mut by_id = HashMap::with_capacity(features.len());
        let mut extent: Option<Rect> = None;
        for (slot, f) in features.iter().enumerate() {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            by_id.insert(f.id, slot);
            let (Some(m), Some(ll)) = (f.mercator.bounding_rect(), f.geometry.bounding_rect()) else { continue };
            entries.push(Entry { envelope: AABB::from_corners([m.min().x, m.min().y], [m.max().x, m.max().y]), slot });
            extent = Some(match extent {
                None => ll,
                Some(e) => Rect::new(
                    Coord { x: e.min().x.min(ll.min().x), y: e.min().y.min(ll.min().y) },
                    Coord { x: e.max().x.max(ll.max().x), y: e.max().y.max(ll.max().y) },
                ),
            });
        }
        Self { tree: RTree::bulk_load(entries), features, by_id, extent }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True when the layer has no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Bounding box of all features in lon/lat, or `None` for an empty layer.
    pub fn extent(&self) -> Option<Rect> {
        self.extent
    }

    /// All features, in load order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The feature with this id.
    pub fn get(&self, id: i64) -> Option<&Feature> {
        self.by_id.get(&id).map(|&slot| &self.features[slot as usize])
    }

    /// Features whose Web Mercator envelope intersects the box `[min_x, min_y, max_x, max_y]`.
    pub fn in_mercator_box(&self, b: [f64; 4]) -> impl Iterator<Item = &Feature> {
        let query = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        self.tree.locate_in_envelope_intersecting(&query).map(|e| &self.features[e.slot as usize])
    }

    /// Approximate memory held by the index, features included.
    pub fn approx_bytes(&self) -> usize {
        self.features.iter().map(Feature::approx_bytes).sum::<usize>()
            + self.tree.size() * (std::mem::size_of::<Entry>() + 16)
            + self.by_id.capacity() * 16
    }
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
        let idx = LayerIndex::build(vec![pt(1, 105.7, 10.0), pt(2, 106.0, 9.6), pt(3, 0.0, 0.0)]);
        let m = |x, y| crate::mercator::to_mercator(Coord { x, y });
        let (a, b) = (m(105.5, 9.8), m(105.9, 10.2));
        let mut ids: Vec<i64> = idx.in_mercator_box([a.x, a.y, b.x, b.y]).map(|f| f.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1]);
        assert_eq!(idx.get(2).map(|f| f.id), Some(2));
        assert!(idx.get(4).is_none());
    }

    #[test]
    fn extent_covers_every_feature() {
        let idx = LayerIndex::build(vec![pt(1, 105.7, 10.0), pt(2, 106.0, 9.6)]);
        let e = idx.extent().map(|r| (r.min().x, r.min().y, r.max().x, r.max().y));
        assert_eq!(e, Some((105.7, 9.6, 106.0, 10.0)));
        assert!(LayerIndex::build(vec![]).extent().is_none());
    }
}
