//! The VN-2000 tile grid: an OGC 2D Tile Matrix Set (OGC 17-083r4) in the province's VN-2000
//! TM-3 zone (`[tiles] vn2000_grid`), so that agency desktop systems that work in VN-2000 get
//! every layer's tiles in their own CRS, beside WebMercatorQuad.
//!
//! No VN-2000 tile matrix set is registered, so this one is Bando's: a quad tree whose matrix 0
//! is one square of 2 097 152 m (2²¹) with the zone's central meridian (false easting
//! 500 000 m) down its middle and its top edge at northing 2 600 000 m, north of the country's
//! northern border (about 23.4°N), so that every province of the zone lies inside; each matrix
//! halves the cell, from 8 192 m at matrix 0 to exactly 1 m at 13 and 3.125 cm at 18. Features
//! go from lon/lat to the zone through EPSG:6960, as everywhere in Bando.

use std::{borrow::Cow, sync::Arc};

use geo_types::Coord;
use layers::crs::Crs;
use serde_json::{Value, json};
use tiler::{BUFFER, EXTENT, TileBuilder, TileCoord, shape::TileFrame};

use crate::{
    error::ApiError,
    layer::Layer,
    tiles::{self, Frame},
};

/// The tile matrix set's id.
pub const ID: &str = "VN2000TM3";
/// The north-west corner of matrix 0, in metres (easting, northing).
const ORIGIN: (f64, f64) = (500_000.0 - 1_048_576.0, 2_600_000.0);
/// The side of matrix 0's one tile, in metres.
const SIZE0: f64 = 2_097_152.0;
/// Pixels on a tile's side, as in WebMercatorQuad.
const PIXELS: u32 = 256;
/// The deepest matrix.
pub const MAX_MATRIX: u8 = 18;
/// A matrix shows the layers of the Web Mercator zoom this much deeper: between 8° and 23.4°N
/// its cell is 0.85 to 0.92 times that zoom's ground resolution, nearer than either neighbour.
const ZOOM_OFFSET: u8 = 4;
/// Points taken along each side of a box when it changes CRS: enough that the curved image of a
/// side strays less than a grid unit from the polyline through them.
const SIDE_POINTS: u32 = 16;

/// The grid in one VN-2000 TM-3 zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vn2000Grid {
    crs: Crs,
}

impl Vn2000Grid {
    /// The grid in the zone `srid`: one of the VN-2000 TM-3 systems, EPSG:9205 to EPSG:9218.
    pub fn new(srid: i32) -> Result<Self, String> {
        if (9205..=9218).contains(&srid) {
            Ok(Self { crs: Crs::Epsg(srid) })
        } else {
            Err(format!("EPSG:{srid} is not a VN-2000 TM-3 zone (EPSG:9205 to EPSG:9218)"))
        }
    }

    /// Its CRS's URI.
    pub fn crs_uri(self) -> String {
        self.crs.uri()
    }

    /// The Web Mercator zoom whose layers matrix `matrix` shows.
    pub fn zoom_of(matrix: u8) -> u8 {
        matrix + ZOOM_OFFSET
    }

    /// The matrices that show a layer served at Web Mercator zooms `minzoom..=maxzoom`.
    pub fn matrices_of(minzoom: u8, maxzoom: u8) -> std::ops::RangeInclusive<u8> {
        let first = minzoom.saturating_sub(ZOOM_OFFSET);
        match maxzoom.checked_sub(ZOOM_OFFSET) {
            Some(last) => first..=last.min(MAX_MATRIX),
            // No matrix shows a layer that stops above zoom 4.
            None => std::ops::RangeInclusive::new(1, 0),
        }
    }

    /// A tile's side in metres at `matrix`.
    fn tile_size(matrix: u8) -> f64 {
        SIZE0 / f64::from(1u32 << matrix)
    }

    /// The tile `t` (matrix, column, row) as `[min_e, min_n, max_e, max_n]` in metres.
    pub fn tile_box(t: TileCoord) -> [f64; 4] {
        let size = Self::tile_size(t.z());
        let min_e = ORIGIN.0 + f64::from(t.x()) * size;
        let max_n = ORIGIN.1 - f64::from(t.y()) * size;
        [min_e, max_n - size, min_e + size, max_n]
    }

    /// The tile matrix set in the OGC 2D TMS 2.0 JSON encoding.
    pub fn document(self) -> Value {
        let matrices: Vec<Value> = (0..=MAX_MATRIX)
            .map(|m| {
                let cell = Self::tile_size(m) / f64::from(PIXELS);
                json!({
                    "id": m.to_string(),
                    // OGC's standardized rendering pixel is 0.28 mm.
                    "scaleDenominator": cell / 0.000_28,
                    "cellSize": cell,
                    "cornerOfOrigin": "topLeft",
                    "pointOfOrigin": [ORIGIN.0, ORIGIN.1],
                    "tileWidth": PIXELS,
                    "tileHeight": PIXELS,
                    "matrixWidth": 1u32 << m,
                    "matrixHeight": 1u32 << m,
                })
            })
            .collect();
        json!({
            "id": ID,
            "title": self.title(),
            "description": "A quad tree in the VN-2000 TM-3 zone: matrix 0 is one 2 097 152 m square around the \
                central meridian with its top at northing 2 600 000 m; each matrix halves the cell.",
            "crs": self.crs_uri(),
            "orderedAxes": ["E", "N"],
            "boundingBox": {
                "lowerLeft": [ORIGIN.0, ORIGIN.1 - SIZE0],
                "upperRight": [ORIGIN.0 + SIZE0, ORIGIN.1],
                "crs": self.crs_uri(),
                "orderedAxes": ["E", "N"],
            },
            "tileMatrices": matrices,
        })
    }

    /// Its title, naming the zone.
    pub fn title(self) -> String {
        format!("VN-2000 / TM-3, EPSG:{}", self.srid())
    }

    fn srid(self) -> i32 {
        match self.crs {
            Crs::Epsg(srid) => srid,
            Crs::Crs84 => 4326,
        }
    }

    /// The first and last column and row of `matrix` that the layer's extent reaches; `None`
    /// for an empty layer or a matrix that does not show it.
    pub fn limits(self, layer: &Layer, matrix: u8) -> Option<([u32; 2], [u32; 2])> {
        let (min, max) = (layer.def.minzoom, layer.def.maxzoom);
        let e = layer.index.extent().filter(|_| Self::matrices_of(min, max).contains(&matrix))?;
        let [w, s, east, n] = self.box_from_lonlat([e.min().x, e.min().y, e.max().x, e.max().y]).ok()?;
        let size = Self::tile_size(matrix);
        let last = f64::from((1u32 << matrix) - 1);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let index = |metres: f64| (metres / size).floor().clamp(0.0, last) as u32;
        let cols = [index(w - ORIGIN.0), index(east - ORIGIN.0)];
        let rows = [index(ORIGIN.1 - n), index(ORIGIN.1 - s)];
        Some((cols, rows))
    }

    /// The tile's MVT bytes with the layers its matrix shows, or `None` when no feature shows:
    /// the same features, rule and encoding as WebMercatorQuad tiles, placed by their
    /// coordinates in the zone.
    pub fn render(self, layers: &[Arc<Layer>], t: TileCoord) -> Result<Option<Vec<u8>>, ApiError> {
        let [min_e, _, _, max_n] = Self::tile_box(t);
        let size = Self::tile_size(t.z());
        let pad = size * f64::from(BUFFER) / f64::from(EXTENT);
        let buffered = [min_e - pad, max_n - size - pad, min_e + size + pad, max_n + pad];
        let [w, s, e, n] = self.box_to_lonlat(buffered)?;
        let sw = layers::mercator::to_mercator(Coord { x: w, y: s });
        let ne = layers::mercator::to_mercator(Coord { x: e, y: n });
        let window = [sw.x, sw.y, ne.x, ne.y];
        let frame = Frame {
            builder: TileBuilder::in_frame(TileFrame::of_square(min_e, max_n, size, EXTENT, BUFFER)),
            zoom: Self::zoom_of(t.z()),
            window,
            unit: (window[2] - window[0]).max(window[3] - window[1]) / f64::from(EXTENT + 2 * BUFFER),
        };
        tiles::render_in(layers, frame, |f| f.geometry(self.crs).map(Cow::Owned))
    }

    /// The lon/lat box that holds a box of the zone.
    fn box_to_lonlat(self, b: [f64; 4]) -> Result<[f64; 4], ApiError> {
        let lonlat = self
            .crs
            .with_projector(|p| sides(b).map(|c| p.to_lonlat(c)).collect::<Result<Vec<Coord>, String>>())
            .and_then(|r| r)
            .map_err(ApiError::Internal)?;
        Ok(envelope(&lonlat))
    }

    /// The box of the zone that holds a lon/lat box.
    fn box_from_lonlat(self, b: [f64; 4]) -> Result<[f64; 4], String> {
        let line = geo_types::Geometry::LineString(sides(b).collect());
        let projected = self.crs.with_projector(|p| p.from_lonlat(&line))??;
        let geo_types::Geometry::LineString(l) = projected else { return Err("projection failed".into()) };
        Ok(envelope(&l.0))
    }
}

/// Points along the four sides of a box `[min_x, min_y, max_x, max_y]`, corners included.
fn sides([a, b, c, d]: [f64; 4]) -> impl Iterator<Item = Coord> {
    (0..=SIDE_POINTS).flat_map(move |i| {
        let t = f64::from(i) / f64::from(SIDE_POINTS);
        let (x, y) = (a + (c - a) * t, b + (d - b) * t);
        [Coord { x, y: b }, Coord { x, y: d }, Coord { x: a, y }, Coord { x: c, y }]
    })
}

/// The box `[min_x, min_y, max_x, max_y]` of some points.
fn envelope(points: &[Coord]) -> [f64; 4] {
    points.iter().fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |[a, b, c, d], p| {
        [a.min(p.x), b.min(p.y), c.max(p.x), d.max(p.y)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_halve_and_one_metre_is_matrix_13() {
        let doc = Vn2000Grid::new(9210).map(Vn2000Grid::document).unwrap_or_default();
        let matrices = doc["tileMatrices"].as_array().cloned().unwrap_or_default();
        assert_eq!(matrices.len(), usize::from(MAX_MATRIX) + 1);
        assert_eq!(matrices[13]["cellSize"], 1.0);
        assert_eq!(doc["crs"], "http://www.opengis.net/def/crs/EPSG/0/9210");
        let t = TileCoord::new(1, 1, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Vn2000Grid::tile_box(t), [500_000.0, 502_848.0, 1_548_576.0, 1_551_424.0]);
    }

    #[test]
    fn only_tm3_zones_make_a_grid() {
        assert!(Vn2000Grid::new(9210).is_ok());
        assert!(Vn2000Grid::new(3405).is_err());
        assert!(Vn2000Grid::new(4326).is_err());
    }

    #[test]
    fn a_matrix_shows_the_layers_four_zooms_deeper() {
        assert_eq!(Vn2000Grid::matrices_of(8, 16), 4..=12);
        assert_eq!(Vn2000Grid::matrices_of(0, 22), 0..=18);
        assert_eq!(Vn2000Grid::zoom_of(9), 13);
        assert!(Vn2000Grid::matrices_of(0, 3).is_empty());
    }
}
