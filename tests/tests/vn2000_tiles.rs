//! Tiles in the VN-2000 grid (`/tileMatrixSets/VN2000TM3`) against PROJ: where each heritage
//! site sits in its VN-2000 tile, decoded by GDAL's MVT driver, against the EPSG:9210
//! coordinates `cs2cs` gives the same point (with PROJ's own definition of EPSG:9210); and the
//! tile matrix set's geometry and the tilesets' limits.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    io::Write,
    process::{Command, Stdio},
};

use e2e::{Server, run_ok};
use serde_json::Value;

const TMS: &str = "VN2000TM3";
const EPSG_9210: &str = "http://www.opengis.net/def/crs/EPSG/0/9210";

/// EPSG:9210 easting and northing of lon/lat points, by PROJ's `cs2cs`.
fn proj_tm3(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let definition = run_ok(Command::new("projinfo").args(["-q", "-o", "PROJ", "EPSG:9210"]));
    let target: Vec<&str> = definition.split_whitespace().filter(|t| *t != "+type=crs").collect();
    let mut child = Command::new("cs2cs")
        .args(["-f", "%.4f", "+proj=longlat", "+datum=WGS84", "+to"])
        .args(&target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = points.iter().map(|(lon, lat)| format!("{lon} {lat}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let projected: Vec<(f64, f64)> = out
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            (v[0], v[1])
        })
        .collect();
    assert_eq!(projected.len(), points.len(), "{out}");
    projected
}

/// The points of a tile as GDAL's MVT driver decodes it, by feature id, in tile units with y
/// pointing down (GDAL, without a georeference, puts y up).
fn decoded_points(bytes: &[u8]) -> BTreeMap<i64, (f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tile.mvt");
    std::fs::write(&path, bytes).unwrap();
    let text = run_ok(Command::new("ogrinfo").args(["-ro", "-al", "-q", "-oo", "CLIP=NO"]).arg(&path));
    let mut out = BTreeMap::new();
    let mut id = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("mvt_id (Integer64) = ") {
            id = v.parse().ok();
        } else if let Some(p) = line.strip_prefix("POINT (").and_then(|p| p.strip_suffix(')')) {
            let v: Vec<f64> = p.split(' ').map(|t| t.parse().unwrap()).collect();
            out.insert(id.take().unwrap(), (v[0], 4096.0 - v[1]));
        }
    }
    out
}

/// A feature's id and where it falls in its tile, in tile units (y down).
type Placed = (i64, (f64, f64));

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn the_vn2000_tile_matrix_set_is_a_quad_tree_in_the_zone() {
    let server = Server::start_admin(e2e::bando(&[]));
    let list = server.json("/tileMatrixSets");
    let ids: Vec<&str> = list["tileMatrixSets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["WebMercatorQuad", TMS]);
    let tms = server.json(&format!("/tileMatrixSets/{TMS}"));
    assert_eq!(tms["crs"], EPSG_9210);
    assert_eq!(tms["orderedAxes"], serde_json::json!(["E", "N"]));
    let (ll, ur) = (&tms["boundingBox"]["lowerLeft"], &tms["boundingBox"]["upperRight"]);
    let side = number(&ur[0]) - number(&ll[0]);
    assert_eq!(side, number(&ur[1]) - number(&ll[1]));
    let matrices = tms["tileMatrices"].as_array().unwrap();
    assert_eq!(matrices.len(), 19);
    for (i, m) in matrices.iter().enumerate() {
        assert_eq!(m["id"], i.to_string());
        assert_eq!(m["matrixWidth"], 1u64 << i);
        assert_eq!(m["matrixHeight"], 1u64 << i);
        assert_eq!(m["cornerOfOrigin"], "topLeft");
        assert_eq!(m["pointOfOrigin"], serde_json::json!([ll[0], ur[1]]));
        // The matrix covers the bounding box exactly, and its scale is its cell at 0.28 mm.
        let cell = number(&m["cellSize"]);
        assert_eq!(cell * 256.0 * f64::from(1u32 << i), side, "matrix {i}");
        assert!((number(&m["scaleDenominator"]) * 0.000_28 / cell - 1.0).abs() < 1e-12, "matrix {i}");
    }
    // The zone's central meridian runs down the middle, and the sample province lies inside.
    assert_eq!(number(&ll[0]) + side / 2.0, 500_000.0);
    let [(e, n)] = proj_tm3(&[(105.78, 10.03)])[..] else { unreachable!() };
    assert!(number(&ll[0]) < e && e < number(&ur[0]) && number(&ll[1]) < n && n < number(&ur[1]));

    let tilesets = server.json("/collections/heritage_sites/tiles");
    let vn2000 = tilesets["tilesets"].as_array().unwrap().iter().find(|t| t["crs"] == EPSG_9210).unwrap();
    let scheme =
        vn2000["links"].as_array().unwrap().iter().find(|l| l["rel"].as_str().unwrap().ends_with("tiling-scheme"));
    assert!(scheme.unwrap()["href"].as_str().unwrap().ends_with(&format!("/tileMatrixSets/{TMS}")));
    // The OpenAPI document names it among the tile matrix sets.
    let api = server.json("/api");
    assert_eq!(
        api["components"]["parameters"]["tileMatrixSetId"]["schema"]["enum"],
        serde_json::json!(["WebMercatorQuad", TMS])
    );
    let r = server.get("/tileMatrixSets/VN2000UTM");
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (404, "application/problem+json"));
}

#[test]
fn a_feature_sits_in_its_vn2000_tile_where_proj_puts_it() {
    let server = Server::start_admin(e2e::bando(&[]));
    let items = server.json("/collections/heritage_sites/items?limit=1000");
    let sites: Vec<(i64, (f64, f64))> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let c = &f["geometry"]["coordinates"];
            (f["id"].as_i64().unwrap(), (number(&c[0]), number(&c[1])))
        })
        .collect();
    assert!(sites.len() >= 20, "{} sites", sites.len());
    let tm3 = proj_tm3(&sites.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    let tms = server.json(&format!("/tileMatrixSets/{TMS}"));
    let tileset = server.json(&format!("/collections/heritage_sites/tiles/{TMS}"));
    let limits = tileset["tileMatrixSetLimits"].as_array().unwrap();
    // The layer's extent in the zone: its lon/lat box's sides, 64 points each, through PROJ.
    let (ll, ur) = (&tileset["boundingBox"]["lowerLeft"], &tileset["boundingBox"]["upperRight"]);
    let (w, s, e, n) = (number(&ll[0]), number(&ll[1]), number(&ur[0]), number(&ur[1]));
    let sides: Vec<(f64, f64)> = (0..=64)
        .flat_map(|i| {
            let t = f64::from(i) / 64.0;
            let (lon, lat) = (w + (e - w) * t, s + (n - s) * t);
            [(lon, s), (lon, n), (w, lat), (e, lat)]
        })
        .collect();
    let projected = proj_tm3(&sides);
    let extent = projected.iter().fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |[a, b, c, d], (x, y)| {
        [a.min(*x), b.min(*y), c.max(*x), d.max(*y)]
    });
    let deepest = limits.last().unwrap()["tileMatrix"].as_str().unwrap().to_owned();
    for matrix in ["10", deepest.as_str()] {
        let m = &tms["tileMatrices"][matrix.parse::<usize>().unwrap()];
        let size = number(&m["cellSize"]) * 256.0;
        let (x0, y0) = (number(&m["pointOfOrigin"][0]), number(&m["pointOfOrigin"][1]));
        // Each site's tile by PROJ's coordinates, and where in it the site falls.
        let mut tiles: BTreeMap<(u64, u64), Vec<Placed>> = BTreeMap::new();
        for ((id, _), (e, n)) in sites.iter().zip(&tm3) {
            let (col, row) = (((e - x0) / size).floor(), ((y0 - n) / size).floor());
            let at = ((e - x0 - col * size) / size * 4096.0, (y0 - n - row * size) / size * 4096.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            tiles.entry((col as u64, row as u64)).or_default().push((*id, at));
        }
        let limit = limits.iter().find(|l| l["tileMatrix"] == matrix).unwrap();
        let (cols, rows) = (tiles.keys().map(|k| k.0), tiles.keys().map(|k| k.1));
        let (min_col, max_col) = (cols.clone().min().unwrap(), cols.max().unwrap());
        let (min_row, max_row) = (rows.clone().min().unwrap(), rows.max().unwrap());
        // The limits hold every site's tile, and are the tiles of the layer's extent as PROJ
        // projects its sides (within a tile, as the server takes fewer points along them).
        let lim = |k: &str| limit[k].as_u64().unwrap();
        assert!(lim("minTileCol") <= min_col && max_col <= lim("maxTileCol"), "{limit} {min_col}-{max_col}");
        assert!(lim("minTileRow") <= min_row && max_row <= lim("maxTileRow"), "{limit} {min_row}-{max_row}");
        let [w, s, e, n] = extent;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let expected =
            [((w - x0) / size) as u64, ((e - x0) / size) as u64, ((y0 - n) / size) as u64, ((y0 - s) / size) as u64];
        let served = [lim("minTileCol"), lim("maxTileCol"), lim("minTileRow"), lim("maxTileRow")];
        assert!(served.iter().zip(expected).all(|(a, b)| a.abs_diff(b) <= 1), "{served:?} vs PROJ's {expected:?}");
        for ((col, row), expected) in tiles.iter().take(40) {
            let r = server.get(&format!("/collections/heritage_sites/tiles/{TMS}/{matrix}/{row}/{col}"));
            assert_eq!(r.status(), 200, "{matrix}/{row}/{col}");
            assert_eq!(r.headers()["content-type"], "application/vnd.mapbox-vector-tile");
            let decoded = decoded_points(&r.bytes().unwrap());
            for (id, (x, y)) in expected {
                let (dx, dy) = decoded.get(id).unwrap_or_else(|| panic!("site {id} is not in {matrix}/{row}/{col}"));
                assert!((dx - x).abs() <= 1.0 && (dy - y).abs() <= 1.0, "site {id}: ({dx}, {dy}) vs ({x}, {y})");
            }
        }
        // Outside the limits a tile is not found.
        let r = server
            .get(&format!("/collections/heritage_sites/tiles/{TMS}/{matrix}/{}/{min_col}", lim("maxTileRow") + 1));
        assert_eq!(r.status(), 404);
    }
}
