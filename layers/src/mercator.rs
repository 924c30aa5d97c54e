//! Spherical Web Mercator (EPSG:3857), the projection the index keeps geometries in for tiles.

use geo::MapCoords;
use geo_types::{Coord, Geometry};

/// Half the circumference of the WGS 84 sphere used by Web Mercator, in metres.
pub const HALF_WORLD: f64 = 20_037_508.342_789_244;
/// Web Mercator's latitude limit: beyond it the projection goes to infinity.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Projects lon/lat degrees to Web Mercator metres; latitudes are clamped to ±[`MAX_LAT`].
///
/// ```
/// let c = layers::mercator::to_mercator(geo_types::coord! { x: 180.0, y: 0.0 });
/// assert!((c.x - layers::mercator::HALF_WORLD).abs() < 1e-6 && c.y.abs() < 1e-6);
/// ```
pub fn to_mercator(c: Coord) -> Coord {
    let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: c.x * HALF_WORLD / 180.0,
        y: (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() * HALF_WORLD / std::f64::consts::PI,
    }
}

/// Inverse of [`to_mercator`]: Web Mercator metres to lon/lat degrees.
pub fn to_lonlat(c: Coord) -> Coord {
    Coord {
        x: c.x * 180.0 / HALF_WORLD,
        y: (2.0 * (c.y * std::f64::consts::PI / HALF_WORLD).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
    }
}

/// Projects a whole lon/lat geometry to Web Mercator.
pub fn geometry_to_mercator(g: &Geometry) -> Geometry {
    g.map_coords(to_mercator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_to_nanodegrees() {
        for (x, y) in [(105.78, 10.03), (-179.9, -84.0), (0.0, 0.0), (179.99, 85.0)] {
            let back = to_lonlat(to_mercator(Coord { x, y }));
            assert!((back.x - x).abs() < 1e-9 && (back.y - y).abs() < 1e-9, "{x},{y} -> {back:?}");
        }
    }

    #[test]
    fn known_point_matches_epsg_3857() {
        // Cần Thơ, projected by PROJ (cs2cs EPSG:4326 EPSG:3857): 11775375.74 1122281.23
        let c = to_mercator(Coord { x: 105.78, y: 10.03 });
        assert!((c.x - 11_775_375.74).abs() < 0.01 && (c.y - 1_122_281.23).abs() < 0.01, "{c:?}");
    }
}
