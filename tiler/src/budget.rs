//! The per-tile feature budget: which features a tile layer keeps when too many fall in it.
//!
//! **Rule** (documented in the README): a tile layer holds at most [`MAX_FEATURES`] features.
//! When more intersect the tile, the largest are kept, size being the larger side of the
//! feature's bounding box; ties keep the feature loaded first. Features under a pixel (see
//! [`crate::shape`]) never count. This is "drop the smallest as needed": a whole-province tile of
//! a 500 000-parcel layer shows the biggest parcels and stays small and fast, and zooming in
//! brings back the rest, since fewer features fall in each tile.

use crate::{EXTENT, TileCoord};

/// Most features one layer of one tile holds.
pub const MAX_FEATURES: usize = 4096;

/// One grid unit of `tile` in Web Mercator metres.
fn unit(tile: TileCoord) -> f64 {
    tile.size() / f64::from(EXTENT)
}

/// The size that ranks a feature: the larger side of its Web Mercator envelope
/// `[min_x, min_y, max_x, max_y]`, in grid units of `tile`.
pub fn size_in_tile(tile: TileCoord, envelope: [f64; 4]) -> f64 {
    size_in_units(unit(tile), envelope)
}

/// The same for a tile of another grid, whose grid unit spans `unit` Web Mercator metres.
pub fn size_in_units(unit: f64, envelope: [f64; 4]) -> f64 {
    (envelope[2] - envelope[0]).max(envelope[3] - envelope[1]) / unit
}

/// Keeps the indices of the features a tile layer shows, in their original order: all of them
/// when they fit the budget, else the [`MAX_FEATURES`] of smallest `rank` (the layer's size
/// ranking, largest first, ties broken once and for all). `sizes[i]` is feature `i`'s
/// [`size_in_tile`]; `is_point` exempts points from the one-pixel cut.
pub fn select(sizes: &[f64], ranks: &[u32], is_point: impl Fn(usize) -> bool) -> Vec<usize> {
    // Under 15 units the feature is surely under a pixel once clipped and snapped.
    let mut keep: Vec<usize> = (0..sizes.len()).filter(|&i| is_point(i) || sizes[i] >= 15.0).collect();
    if keep.len() > MAX_FEATURES {
        keep.select_nth_unstable_by_key(MAX_FEATURES - 1, |&i| ranks[i]);
        keep.truncate(MAX_FEATURES);
        keep.sort_unstable();
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits_under_the_budget() {
        let sizes = vec![20.0; 100];
        let ranks: Vec<u32> = (0..100).rev().collect();
        assert_eq!(select(&sizes, &ranks, |_| false), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn over_the_budget_the_largest_stay_in_order() {
        let n = MAX_FEATURES + 10;
        #[allow(clippy::cast_precision_loss)]
        let sizes: Vec<f64> = (0..n).map(|i| 16.0 + (i % 100) as f64).collect();
        // Rank by size, largest first, ties by position.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| sizes[b].total_cmp(&sizes[a]).then(a.cmp(&b)));
        let mut ranks = vec![0u32; n];
        for (r, &i) in order.iter().enumerate() {
            ranks[i] = u32::try_from(r).unwrap_or(u32::MAX);
        }
        let kept = select(&sizes, &ranks, |_| false);
        assert_eq!(kept.len(), MAX_FEATURES);
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        let smallest_kept = kept.iter().map(|&i| sizes[i]).fold(f64::MAX, f64::min);
        let dropped_max = (0..n).filter(|i| !kept.contains(i)).map(|i| sizes[i]).fold(0.0, f64::max);
        assert!(dropped_max <= smallest_kept);
    }

    #[test]
    fn sub_pixel_features_go_but_points_stay() {
        let sizes = [3.0, 40.0, 0.0];
        assert_eq!(select(&sizes, &[1, 0, 2], |i| i == 2), vec![1, 2]);
    }
}
