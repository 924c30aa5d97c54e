//! Which rows of an import into a new EPSG:4326 layer can skip the database's repair work.
//!
//! Most rows of a file are already what the layer stores: two-dimensional, not empty, valid,
//! of the layer's type (or its single-part counterpart, wrapped here as `ST_Multi` would wrap
//! it). Those are copied straight into the new table, as ogr2ogr copies, instead of crossing a
//! staging table and a prepared one first. Validity is GEOS's verdict through GDAL: the same
//! library `ST_IsValid` asks, so a row judged valid here is one PostGIS would have left alone.
//! The other rows take the staging path, where PostGIS repairs, reprojects or rejects them.

use std::{
    collections::HashSet,
    hash::{BuildHasher, RandomState},
};

use gdal::vector::Geometry;

use crate::GeometryType;

/// Where one row goes.
pub(super) enum Route {
    /// Straight into the new table, with this geometry (EWKB, SRID 4326).
    Direct(Vec<u8>),
    /// Through the staging table: it needs PostGIS (repair, type extraction) or the table's
    /// judgement (an id seen before).
    Staged,
    /// The same geometry and attributes as a row already copied: left out.
    Duplicate,
}

/// Routes the rows of one import, remembering what it has let through.
pub(super) struct Router {
    layer_type: GeometryType,
    /// Ids seen so far, when the source has them: a repeated id is for the table to refuse.
    ids: HashSet<i64>,
    /// 128-bit hashes of the geometry and attributes of the rows copied straight. At 2^-128 a
    /// pair, a collision among even a billion rows is not a practical risk.
    rows: HashSet<u128>,
    hashers: [RandomState; 2],
}

impl Router {
    /// A router for a layer of `layer_type`.
    pub fn new(layer_type: GeometryType) -> Self {
        Self {
            layer_type,
            ids: HashSet::new(),
            rows: HashSet::new(),
            hashers: [RandomState::new(), RandomState::new()],
        }
    }

    /// Where the row of this geometry (its WKB is `wkb`), id and attributes (their COPY text)
    /// goes. `id` is `None` when the ids are generated.
    pub fn route(&mut self, geometry: &Geometry, wkb: &[u8], id: Option<Option<i64>>, attributes: &str) -> Route {
        let fresh_id = match id {
            None => true,
            Some(None) => false,
            Some(Some(id)) => self.ids.insert(id),
        };
        let Some(ewkb) = self.as_stored(geometry, wkb) else { return Route::Staged };
        if !fresh_id {
            return Route::Staged;
        }
        let key = |h: &RandomState| h.hash_one((&ewkb, attributes));
        let key = (u128::from(key(&self.hashers[0])) << 64) | u128::from(key(&self.hashers[1]));
        if self.rows.insert(key) { Route::Direct(ewkb) } else { Route::Duplicate }
    }

    /// The geometry as the layer stores it, if it needs no work in the database.
    fn as_stored(&self, geometry: &Geometry, wkb: &[u8]) -> Option<Vec<u8>> {
        // OGR's codes, which are also the 2D WKB type codes: a Z or M geometry has another code.
        let code = geometry.geometry_type();
        let wrap = match (self.layer_type, code) {
            (GeometryType::Geometry, 1..=6) => None,
            (GeometryType::Point, 1) | (GeometryType::LineString, 2) | (GeometryType::Polygon, 3) => None,
            (GeometryType::MultiPoint, 4) | (GeometryType::MultiLineString, 5) | (GeometryType::MultiPolygon, 6) => {
                None
            }
            (GeometryType::MultiPoint, 1) => Some(4),
            (GeometryType::MultiLineString, 2) => Some(5),
            (GeometryType::MultiPolygon, 3) => Some(6),
            _ => return None,
        };
        if geometry.is_empty() || !geometry.is_valid() {
            return None;
        }
        Some(ewkb_4326(wkb, wrap))
    }
}

/// EWKB with SRID 4326 of `wkb`, wrapped in a one-part collection of type `wrap` if given.
fn ewkb_4326(wkb: &[u8], wrap: Option<u32>) -> Vec<u8> {
    const SRID_FLAG: u32 = 0x2000_0000;
    const SRID: u32 = 4326;
    let mut out = Vec::with_capacity(wkb.len() + 13);
    if let Some(multi) = wrap {
        // A little-endian header; the part keeps its own byte order marker.
        out.push(1);
        out.extend_from_slice(&(multi | SRID_FLAG).to_le_bytes());
        out.extend_from_slice(&SRID.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(wkb);
        return out;
    }
    // The header in the byte order of the body that follows it.
    let code = [wkb[1], wkb[2], wkb[3], wkb[4]];
    out.push(wkb[0]);
    if wkb[0] == 0 {
        out.extend_from_slice(&(u32::from_be_bytes(code) | SRID_FLAG).to_be_bytes());
        out.extend_from_slice(&SRID.to_be_bytes());
    } else {
        out.extend_from_slice(&(u32::from_le_bytes(code) | SRID_FLAG).to_le_bytes());
        out.extend_from_slice(&SRID.to_le_bytes());
    }
    out.extend_from_slice(&wkb[5..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polygon() -> Geometry {
        Geometry::from_wkt("POLYGON((105 10,105.01 10,105.01 10.01,105 10.01,105 10))").expect("WKT")
    }

    #[test]
    fn a_clean_polygon_goes_straight_in_wrapped_as_the_multi_layer_stores_it() {
        let g = polygon();
        let wkb = g.wkb().expect("WKB");
        let Route::Direct(ewkb) = Router::new(GeometryType::MultiPolygon).route(&g, &wkb, None, "\tA") else {
            panic!("a valid polygon should go straight in");
        };
        // Little-endian MultiPolygon with an SRID, 4326, one part: the polygon as read.
        assert_eq!(&ewkb[..13], &[1, 6, 0, 0, 0x20, 0xE6, 0x10, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&ewkb[13..], &wkb[..]);
    }

    #[test]
    fn invalid_empty_3d_and_ill_typed_geometries_are_staged() {
        let mut router = Router::new(GeometryType::Polygon);
        for wkt in [
            "POLYGON((105 10,105.01 10.01,105.01 10,105 10.01,105 10))",
            "POLYGON EMPTY",
            "POLYGON Z((105 10 1,105.01 10 1,105.01 10.01 1,105 10 1))",
            "POINT(105 10)",
            "MULTIPOLYGON(((105 10,105.01 10,105.01 10.01,105 10)))",
        ] {
            let g = Geometry::from_wkt(wkt).expect("WKT");
            let wkb = g.wkb().expect("WKB");
            assert!(matches!(router.route(&g, &wkb, None, ""), Route::Staged), "{wkt}");
        }
    }

    #[test]
    fn a_repeated_row_is_a_duplicate_and_a_repeated_id_is_staged() {
        let mut router = Router::new(GeometryType::Polygon);
        let g = polygon();
        let wkb = g.wkb().expect("WKB");
        assert!(matches!(router.route(&g, &wkb, Some(Some(1)), "\tA"), Route::Direct(_)));
        assert!(matches!(router.route(&g, &wkb, Some(Some(2)), "\tA"), Route::Duplicate));
        assert!(matches!(router.route(&g, &wkb, Some(Some(3)), "\tB"), Route::Direct(_)));
        assert!(matches!(router.route(&g, &wkb, Some(Some(1)), "\tC"), Route::Staged));
        assert!(matches!(router.route(&g, &wkb, Some(None), "\tD"), Route::Staged));
    }

    #[test]
    fn the_srid_is_written_in_the_byte_order_of_the_geometry() {
        let body = [0u8, 0, 0, 0, 0, 0, 0xF0, 0x3F];
        let mut le = vec![1, 1, 0, 0, 0];
        le.extend_from_slice(&body);
        assert_eq!(ewkb_4326(&le, None)[..9], [1, 1, 0, 0, 0x20, 0xE6, 0x10, 0, 0]);
        let mut be = vec![0, 0, 0, 0, 1];
        be.extend_from_slice(&body);
        let ewkb = ewkb_4326(&be, None);
        assert_eq!(ewkb[..9], [0, 0x20, 0, 0, 1, 0, 0, 0x10, 0xE6]);
        assert_eq!(ewkb[9..], body);
    }
}
