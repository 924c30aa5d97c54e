//! The WebMercatorQuad tile grid (OGC 17-083r4, the XYZ grid of web maps): zoom `z` has
//! `2^z × 2^z` tiles, column `x` from the antimeridian eastwards, row `y` from the north.
//!
//! Hand-written rather than taken from a crate: it is a few lines of arithmetic, and the tile
//! crates that offer it bring registries of grids, projections or compression we do not need.

use std::fmt;

/// Half the width of the Web Mercator world, in metres (π × 6 378 137).
pub const HALF_WORLD: f64 = 20_037_508.342_789_244;
/// The deepest zoom served.
pub const MAX_ZOOM: u8 = 22;

/// A tile that exists: constructed only through [`TileCoord::new`], which checks the ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    z: u8,
    x: u32,
    y: u32,
}

/// Why a z/x/y triple is not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// Zoom above [`MAX_ZOOM`].
    #[error("zoom {0} is out of range 0-{MAX_ZOOM}")]
    Zoom(u32),
    /// Column or row not below `2^z`.
    #[error("tile {z}/{x}/{y} does not exist: x and y must be below {limit} at zoom {z}")]
    Outside {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// `2^z`.
        limit: u32,
    },
}

impl TileCoord {
    /// Checks and builds a tile coordinate.
    ///
    /// ```
    /// use tiler::TileCoord;
    /// assert!(TileCoord::new(0, 0, 0).is_ok());
    /// assert!(TileCoord::new(3, 8, 0).is_err()); // x must be below 2^3
    /// assert!(TileCoord::new(23, 0, 0).is_err());
    /// ```
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, TileError> {
        let z = u8::try_from(z).ok().filter(|z| *z <= MAX_ZOOM).ok_or(TileError::Zoom(z))?;
        let limit = 1u32 << z;
        if x >= limit || y >= limit {
            return Err(TileError::Outside { z, x, y, limit });
        }
        Ok(Self { z, x, y })
    }

    /// Zoom level.
    pub fn z(self) -> u8 {
        self.z
    }

    /// Column.
    pub fn x(self) -> u32 {
        self.x
    }

    /// Row, counted from the north.
    pub fn y(self) -> u32 {
        self.y
    }

    /// Width of a tile of this zoom in Web Mercator metres.
    pub fn size(self) -> f64 {
        2.0 * HALF_WORLD / f64::from(1u32 << self.z)
    }

    /// The tile's box in Web Mercator metres: `[min_x, min_y, max_x, max_y]`.
    ///
    /// ```
    /// let b = tiler::TileCoord::new(1, 1, 0).map(|t| t.bounds()).unwrap_or_default();
    /// assert_eq!(b, [0.0, 0.0, tiler::tile::HALF_WORLD, tiler::tile::HALF_WORLD]);
    /// ```
    pub fn bounds(self) -> [f64; 4] {
        let size = self.size();
        let min_x = -HALF_WORLD + f64::from(self.x) * size;
        let max_y = HALF_WORLD - f64::from(self.y) * size;
        [min_x, max_y - size, min_x + size, max_y]
    }

    /// The tile's box grown by `buffer` grid units of an `extent`-unit tile on every side.
    pub fn buffered_bounds(self, extent: u32, buffer: u32) -> [f64; 4] {
        let [a, b, c, d] = self.bounds();
        let pad = self.size() * f64::from(buffer) / f64::from(extent);
        [a - pad, b - pad, c + pad, d + pad]
    }

    /// The tile containing a Web Mercator point at zoom `z` (points on the world's edge go to
    /// the last tile).
    pub fn containing(z: u8, x: f64, y: f64) -> Result<Self, TileError> {
        let n = f64::from(1u32 << z.min(MAX_ZOOM));
        let col = ((x + HALF_WORLD) / (2.0 * HALF_WORLD) * n).floor().clamp(0.0, n - 1.0);
        let row = ((HALF_WORLD - y) / (2.0 * HALF_WORLD) * n).floor().clamp(0.0, n - 1.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Self::new(u32::from(z), col as u32, row as u32)
    }
}

impl fmt::Display for TileCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_match_published_values() {
        // PostGIS: ST_TileEnvelope(10, 815, 483), the tile over Cần Thơ.
        let b = TileCoord::new(10, 815, 483).map(TileCoord::bounds).unwrap_or_default();
        let expected = [11_858_134.820_049, 1_095_801.237_496, 11_897_270.578_531, 1_134_936.995_978];
        for (a, e) in b.iter().zip(expected) {
            assert!((a - e).abs() < 0.001, "{b:?}");
        }
    }

    #[test]
    fn out_of_range_tiles_are_refused() {
        assert_eq!(TileCoord::new(23, 0, 0), Err(TileError::Zoom(23)));
        assert!(TileCoord::new(0, 1, 0).is_err());
        assert!(TileCoord::new(22, (1 << 22) - 1, (1 << 22) - 1).is_ok());
    }

    #[test]
    fn every_point_lies_in_the_tile_that_contains_it() {
        let mut seed = 0x2025_u64;
        for _ in 0..10_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)]
            let r = |s: u64| (s >> 11) as f64 / (1u64 << 53) as f64;
            let (x, y) = ((r(seed) - 0.5) * 2.0 * HALF_WORLD, (r(seed.rotate_left(17)) - 0.5) * 2.0 * HALF_WORLD);
            #[allow(clippy::cast_possible_truncation)]
            let z = (seed % 23) as u8;
            let t = TileCoord::containing(z, x, y).unwrap_or_else(|e| panic!("{e}"));
            let [a, b, c, d] = t.bounds();
            assert!(a <= x && x <= c && b <= y && y <= d, "{x},{y} not in {t} {:?}", t.bounds());
        }
    }
}
