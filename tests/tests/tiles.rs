//! Vector tiles against the oracle: PostGIS's own `ST_AsMVT(ST_AsMVTGeom(...))` for the same
//! tiles and buffer, decoded by an independent decoder (GDAL's MVT driver), plus the HTTP
//! behaviour tile clients rely on.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use e2e::{Server, TestDb, run_ok};

/// Layers checked against the oracle: points, lines and polygons, big and small.
const LAYERS: [(&str, &str); 6] = [
    ("communes", "admin.communes"),
    ("roads", "transport.roads"),
    ("land_parcels", "env.land_parcels"),
    ("resource_zones", "env.resource_zones"),
    ("rivers", "env.rivers"),
    ("heritage_sites", "heritage.sites"),
];
const HALF_WORLD: f64 = 20_037_508.342_789_244;

type Tile = (u32, u32, u32);

/// A few hundred tiles over the province, zooms 4-16: the tiles containing sample features'
/// points, deterministic.
fn sample_tiles(db: &TestDb) -> Vec<Tile> {
    let points = db.sql(
        "SELECT ST_X(p) || ' ' || ST_Y(p) FROM (
           SELECT ST_Transform(ST_PointOnSurface(geom), 3857) p FROM heritage.sites
           UNION ALL SELECT ST_Transform(ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5), 3857) FROM transport.roads WHERE id % 40 = 0
           UNION ALL SELECT ST_Transform(ST_PointOnSurface(geom), 3857) FROM env.land_parcels WHERE id % 100 = 0) q",
    );
    let points: Vec<(f64, f64)> = points
        .lines()
        .map(|l| {
            let (x, y) = l.split_once(' ').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    let mut tiles = BTreeSet::new();
    for z in 4..=16u32 {
        let n = f64::from(1u32 << z);
        for (x, y) in points.iter().step_by(3) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let col = ((x + HALF_WORLD) / (2.0 * HALF_WORLD) * n).floor() as u32;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let row = ((HALF_WORLD - y) / (2.0 * HALF_WORLD) * n).floor() as u32;
            tiles.insert((z, col, row));
        }
    }
    tiles.into_iter().collect()
}

/// What PostGIS puts in a tile for one layer, after Bando's documented low-zoom rule (a line or
/// polygon whose geometry in the tile spans under one pixel, 16 grid units, both wide and high,
/// is dropped; points never are). `required` must be in Bando's tile, and Bando's tile must be
/// within `allowed`. They differ only by features that cross the buffer's edge with a span that
/// PostGIS puts within 2 units of the threshold (14 to 18): the two implementations round each
/// point where a feature crosses the edge independently, up to a unit apart, so such a feature
/// may fall either side of it.
struct Expected {
    required: BTreeSet<i64>,
    allowed: BTreeSet<i64>,
}

fn oracle(db: &TestDb, table: &str, minzoom: u32, maxzoom: u32, tiles: &[Tile]) -> BTreeMap<Tile, Expected> {
    let values: Vec<String> = tiles.iter().map(|(z, x, y)| format!("({z},{x},{y})")).collect();
    let rows = db.sql(&format!(
        "WITH t(z, x, y) AS (VALUES {values}),
         f AS (
           SELECT t.z, t.x, t.y, s.id, ST_Transform(s.geom, 3857) AS g, ST_TileEnvelope(t.z, t.x, t.y) AS env
           FROM t JOIN {table} s
             ON s.geom && ST_Transform(ST_TileEnvelope(t.z, t.x, t.y, margin => 64.0 / 4096), 4326)
           WHERE t.z BETWEEN {minzoom} AND {maxzoom})
         , m AS (SELECT z, x, y, id, g, ST_AsMVTGeom(g, env, 4096, 64, true) AS mvt FROM f)
         SELECT z || '/' || x || '/' || y || ' ' || id || ' ' ||
                CASE WHEN GeometryType(g) IN ('POINT', 'MULTIPOINT') THEN 4096
                     ELSE greatest(ST_XMax(mvt) - ST_XMin(mvt), ST_YMax(mvt) - ST_YMin(mvt)) END || ' ' ||
                (ST_XMin(mvt) <= -64 OR ST_XMax(mvt) >= 4160 OR ST_YMin(mvt) <= -64 OR ST_YMax(mvt) >= 4160)
         FROM m WHERE mvt IS NOT NULL",
        values = values.join(",")
    ));
    let mut out: BTreeMap<Tile, Expected> =
        tiles.iter().map(|t| (*t, Expected { required: BTreeSet::new(), allowed: BTreeSet::new() })).collect();
    for line in rows.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let v: Vec<u32> = f[0].split('/').map(|n| n.parse().unwrap()).collect();
        let (id, span, crosses_edge): (i64, f64, bool) = (f[1].parse().unwrap(), f[2].parse().unwrap(), f[3] == "true");
        let e = out.get_mut(&(v[0], v[1], v[2])).unwrap();
        let (required_from, allowed_from) = if crosses_edge { (19.0, 14.0) } else { (16.0, 16.0) };
        if span >= required_from {
            e.required.insert(id);
        }
        if span >= allowed_from {
            e.allowed.insert(id);
        }
    }
    out
}

/// One decoded feature: its layer, id, attributes and Web Mercator vertices.
#[derive(Debug, Default)]
struct Decoded {
    layer: String,
    id: i64,
    attributes: BTreeMap<String, String>,
    vertices: Vec<(f64, f64)>,
    wkt: String,
}

/// Decodes a tile with GDAL's MVT driver (`ogrinfo`), georeferenced at z/x/y, without clipping
/// to the tile (GDAL's default), so that features in the buffer are seen.
fn decode_with_gdal(bytes: &[u8], (z, x, y): Tile) -> Vec<Decoded> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tile.mvt");
    std::fs::write(&path, bytes).unwrap();
    let text = run_ok(
        Command::new("ogrinfo")
            .args([
                "-ro",
                "-al",
                "-q",
                "-oo",
                "CLIP=NO",
                "-oo",
                &format!("Z={z}"),
                "-oo",
                &format!("X={x}"),
                "-oo",
                &format!("Y={y}"),
            ])
            .arg(&path),
    );
    let mut out: Vec<Decoded> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("OGRFeature(") {
            out.push(Decoded { layer: rest.split(')').next().unwrap().to_owned(), ..Decoded::default() });
        } else if let Some(current) = out.last_mut() {
            if let Some(v) = line.strip_prefix("mvt_id (Integer64) = ") {
                current.id = v.parse().unwrap();
            } else if let Some((key, value)) = line.split_once(") = ") {
                let name = key.split(" (").next().unwrap().to_owned();
                current.attributes.insert(name, value.to_owned());
            } else if line.starts_with("POINT")
                || line.starts_with("LINE")
                || line.starts_with("POLYGON")
                || line.starts_with("MULTI")
            {
                let numbers: Vec<f64> = line
                    .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
                    .filter_map(|t| t.parse().ok())
                    .collect();
                current.vertices = numbers.chunks(2).map(|c| (c[0], c[1])).collect();
                current.wkt = line.to_owned();
            }
        }
    }
    out
}

#[test]
fn tiles_hold_exactly_the_features_postgis_puts_in_them() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let server = Server::start_admin(db.bando(&[]));
    let tiles = sample_tiles(&db);
    assert!(tiles.len() >= 200, "only {} tiles", tiles.len());
    let spec: Vec<&str> = LAYERS.iter().map(|(l, _)| *l).collect();
    let spec = spec.join(",");

    let zooms: BTreeMap<&str, (u32, u32)> = LAYERS
        .iter()
        .map(|(layer, _)| {
            let c = server.json(&format!("/collections/{layer}/tiles/WebMercatorQuad"));
            let l = &c["layers"][0];
            (
                *layer,
                (
                    l["minTileMatrix"].as_str().unwrap().parse().unwrap(),
                    l["maxTileMatrix"].as_str().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<&str, BTreeMap<Tile, Expected>> = LAYERS
        .iter()
        .map(|(layer, table)| (*layer, oracle(&db, table, zooms[layer].0, zooms[layer].1, &tiles)))
        .collect();

    let names: BTreeMap<i64, String> = db
        .sql("SELECT id || '|' || name FROM heritage.sites")
        .lines()
        .map(|l| {
            let (id, name) = l.split_once('|').unwrap();
            (id.parse().unwrap(), name.to_owned())
        })
        .collect();
    let (mut features, mut mismatches, mut borderline) = (0, Vec::new(), 0);
    let mut polygons = Vec::new();
    for &(z, x, y) in &tiles {
        let response = server.get(&format!("/tiles/{spec}/{z}/{x}/{y}.mvt"));
        let status = response.status().as_u16();
        let bytes = response.bytes().unwrap();
        let decoded = if status == 204 { Vec::new() } else { decode_with_gdal(&bytes, (z, x, y)) };
        assert!(status == 200 || status == 204, "{z}/{x}/{y}: {status}");
        let size = 2.0 * HALF_WORLD / f64::from(1u32 << z);
        let (min_x, max_y) = (-HALF_WORLD + f64::from(x) * size, HALF_WORLD - f64::from(y) * size);
        let pad = size * 65.0 / 4096.0;
        for f in &decoded {
            assert!(LAYERS.iter().any(|(l, _)| *l == f.layer), "unexpected layer {}", f.layer);
            for (vx, vy) in &f.vertices {
                let inside =
                    *vx >= min_x - pad && *vx <= min_x + size + pad && *vy >= max_y - size - pad && *vy <= max_y + pad;
                assert!(inside, "{z}/{x}/{y} {} {}: vertex {vx},{vy} outside the buffer", f.layer, f.id);
            }
            if f.layer == "heritage_sites" {
                assert_eq!(f.attributes.get("name"), names.get(&f.id), "{z}/{x}/{y} heritage {}", f.id);
            }
            if f.layer == "land_parcels" {
                assert!(
                    !f.attributes.contains_key("owner_name") && !f.attributes.contains_key("id_number"),
                    "private data in a tile"
                );
            }
        }
        features += decoded.len();
        polygons.extend(
            decoded
                .iter()
                .filter(|f| f.wkt.contains("POLYGON"))
                .map(|f| format!("('{} {}/{}/{}', '{}')", f.layer, z, x, y, f.wkt)),
        );
        for (layer, _) in LAYERS {
            let got: BTreeSet<i64> = decoded.iter().filter(|f| f.layer == layer).map(|f| f.id).collect();
            let want = &expected[layer][&(z, x, y)];
            let missing: Vec<_> = want.required.difference(&got).collect();
            let extra: Vec<_> = got.difference(&want.allowed).collect();
            if !missing.is_empty() || !extra.is_empty() {
                mismatches.push(format!("{z}/{x}/{y} {layer}: extra {extra:?} missing {missing:?}"));
            }
            borderline += want.allowed.len() - want.required.len();
        }
    }
    assert!(features > 10_000, "only {features} features decoded over {} tiles", tiles.len());
    // Polygons stay valid after snapping to the grid, as PostGIS judges validity.
    let invalid = e2e::psql_stdin(
        &db.url,
        &format!(
            "SELECT string_agg(f, ', ') FROM (VALUES {}) v(f, w) WHERE NOT ST_IsValid(ST_GeomFromText(w))",
            polygons.join(",")
        ),
    );
    eprintln!("{} polygons checked for validity", polygons.len());
    assert!(invalid.is_empty(), "invalid polygons in tiles: {invalid}");
    // The tolerance must stay a handful of features, not a loophole.
    assert!(borderline * 100 < features, "{borderline} borderline features of {features}");
    eprintln!("{} tiles, {features} features, {borderline} at the one-pixel threshold", tiles.len());
    assert!(
        mismatches.is_empty(),
        "{} of {} tile layers differ from PostGIS:\n{}",
        mismatches.len(),
        tiles.len() * LAYERS.len(),
        mismatches.join("\n")
    );
}

#[test]
fn tile_http_behaves_as_clients_expect() {
    let server = Server::start_admin(e2e::bando(&[]));
    let client = reqwest::blocking::Client::new();
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut r = client.get(format!("{}{path}", server.base));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().unwrap()
    };
    let tile = "/tiles/roads/12/3251/1933.mvt";
    let plain = get(tile, &[]);
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "application/vnd.mapbox-vector-tile");
    assert_eq!(plain.headers()["access-control-allow-origin"], "*");
    assert!(plain.headers().contains_key("cache-control"));
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_bytes = plain.bytes().unwrap();

    let gz = get(tile, &[("accept-encoding", "gzip, deflate, br")]);
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let etag = gz.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag, plain_etag, "two encodings, two strong ETags");
    let gz_bytes = gz.bytes().unwrap();
    assert_eq!(&gz_bytes[..2], &[0x1f, 0x8b]);
    assert!(gz_bytes.len() < plain_bytes.len());
    assert_eq!(get(tile, &[("accept-encoding", "gzip"), ("if-none-match", &etag)]).status(), 304);
    assert_eq!(get(tile, &[("if-none-match", &plain_etag)]).status(), 304);

    // OGC API - Tiles orders the path z / row / column: the same tile, the same bytes.
    let ogc = get("/collections/roads/tiles/WebMercatorQuad/12/1933/3251", &[]);
    assert_eq!(ogc.status(), 200);
    assert_eq!(ogc.bytes().unwrap(), plain_bytes);

    // Far from the province: an empty tile is 204. Out of range or not numbers: 400. Unknown
    // layer or outside the layer's zooms: 404. All errors are problem+json.
    assert_eq!(get("/tiles/roads/12/0/0.mvt", &[]).status(), 204);
    for (path, status) in [
        ("/tiles/roads/12/5000/1933.mvt", 400),
        ("/tiles/roads/23/0/0.mvt", 400),
        ("/tiles/roads/x/1/1.mvt", 400),
        ("/tiles/roads/-1/1/1.mvt", 400),
        ("/tiles/nosuchlayer/12/3251/1933.mvt", 404),
        ("/tiles/roads,nosuchlayer/12/3251/1933.mvt", 404),
        ("/tiles/roads/2/3/1.mvt", 404),
        ("/tiles/roads/12/3251/1933.png", 404),
        ("/collections/roads/tiles/OtherQuad/12/1933/3251", 404),
    ] {
        let r = get(path, &[]);
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
    }
}

#[test]
fn tilejson_and_ogc_metadata_describe_the_tiles() {
    let server = Server::start_admin(e2e::bando(&[]));
    let tj = server.json("/tiles/roads,heritage_sites.json");
    assert_eq!(tj["tilejson"], "3.0.0");
    let template = tj["tiles"][0].as_str().unwrap();
    assert!(template.ends_with("/tiles/roads,heritage_sites/{z}/{x}/{y}.mvt"), "{template}");
    let layers: Vec<&str> = tj["vector_layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(layers, ["roads", "heritage_sites"]);
    assert!(tj["vector_layers"][0]["fields"]["class"].is_string());
    let b: Vec<f64> = tj["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let c: Vec<f64> = tj["center"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(b[0] < c[0] && c[0] < b[2] && b[1] < c[1] && c[1] < b[3]);
    // The template works as given.
    let url = template.replace("{z}", "12").replace("{x}", "3251").replace("{y}", "1933");
    assert_eq!(reqwest::blocking::get(url).unwrap().status(), 200);
    // Private properties are not advertised.
    let parcels = server.json("/tiles/land_parcels.json");
    assert!(parcels["vector_layers"][0]["fields"].get("owner_name").is_none());

    let conformance = server.json("/conformance");
    let classes: Vec<&str> =
        conformance["conformsTo"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for class in ["core", "tileset", "tilesets-list", "geodata-tilesets", "mvt"] {
        assert!(classes.contains(&format!("http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{class}").as_str()));
    }
    let tms = server.json("/tileMatrixSets/WebMercatorQuad");
    let matrices = tms["tileMatrices"].as_array().unwrap();
    assert_eq!(matrices.len(), 23);
    assert_eq!(matrices[0]["matrixWidth"], 1);
    assert!((matrices[0]["scaleDenominator"].as_f64().unwrap() - 559_082_264.028_717_8).abs() < 1e-3);
    let tileset = server.json("/collections/roads/tiles/WebMercatorQuad");
    assert_eq!(tileset["dataType"], "vector");
    let links = tileset["links"].as_array().unwrap();
    assert!(links.iter().any(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"));
    let item = links.iter().find(|l| l["rel"] == "item").unwrap()["href"].as_str().unwrap();
    assert!(item.ends_with("/collections/roads/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"));
    let limits = tileset["tileMatrixSetLimits"].as_array().unwrap();
    let z12 = limits.iter().find(|l| l["tileMatrix"] == "12").unwrap();
    assert!(z12["minTileCol"].as_u64().unwrap() <= 3251 && 3251 <= z12["maxTileCol"].as_u64().unwrap());
    // Outside the declared limits a tile is not found; inside them, an empty one is 204.
    let (min_col, max_col) = (z12["minTileCol"].as_u64().unwrap(), z12["maxTileCol"].as_u64().unwrap());
    let (min_row, max_row) = (z12["minTileRow"].as_u64().unwrap(), z12["maxTileRow"].as_u64().unwrap());
    for (row, col) in [(min_row, max_col + 1), (max_row + 1, min_col), (min_row.saturating_sub(1), min_col)] {
        let r = server.get(&format!("/collections/roads/tiles/WebMercatorQuad/12/{row}/{col}"));
        assert_eq!(r.status(), 404, "12/{row}/{col}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let sites = server.json("/collections/heritage_sites/tiles/WebMercatorQuad");
    let deepest = sites["tileMatrixSetLimits"].as_array().unwrap().last().unwrap().clone();
    let z = deepest["tileMatrix"].as_str().unwrap();
    let (row, col) = (deepest["minTileRow"].as_u64().unwrap(), deepest["minTileCol"].as_u64().unwrap());
    let statuses: Vec<u16> = (0..8)
        .flat_map(|dr| (0..8).map(move |dc| (row + dr, col + dc)))
        .map(|(r, c)| {
            server.get(&format!("/collections/heritage_sites/tiles/WebMercatorQuad/{z}/{r}/{c}")).status().as_u16()
        })
        .collect();
    assert!(statuses.contains(&204) && statuses.iter().all(|s| [200, 204].contains(s)), "{statuses:?}");
    // The tileset links its TileJSON, which is served as that type.
    let tilejson = links.iter().find(|l| l["type"] == "application/vnd.mapbox.tile+json").unwrap();
    assert_eq!(tilejson["rel"], "alternate");
    let r = reqwest::blocking::get(tilejson["href"].as_str().unwrap()).unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.mapbox.tile+json");
    assert_eq!(r.json::<serde_json::Value>().unwrap()["vector_layers"][0]["id"], "roads");
    let list = server.json("/collections/roads/tiles");
    assert_eq!(
        list["tilesets"][0]["tileMatrixSetURI"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
}
