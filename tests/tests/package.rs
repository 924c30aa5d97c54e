//! Tile packages (`bando export`), read back by an independent reader, the `pmtiles` Python
//! package: the archive holds exactly the non-empty tiles the server serves over the same zooms,
//! byte for byte, with the zooms, bounds and layers in its header and metadata.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use e2e::{Server, bando, output, run_ok};
use serde_json::Value;

/// The archive as the Python reader sees it: header, metadata, and each tile's bytes (hex,
/// decompressed) with the number of distinct tile contents stored.
const READ: &str = r#"
import gzip, json, sys
from pmtiles.reader import Reader, MmapSource, all_tiles
with open(sys.argv[1], "rb") as f:
    source = MmapSource(f)
    reader = Reader(source)
    header = reader.header()
    tiles = {}
    for (z, x, y), data in all_tiles(source):
        tiles[f"{z}/{x}/{y}"] = gzip.decompress(data).hex()
    print(json.dumps({
        "header": {k: (v.value if hasattr(v, "value") else v) for k, v in header.items()},
        "metadata": reader.metadata(),
        "tiles": tiles,
    }))
"#;

/// An MBTiles file as Python's own `sqlite3` reads it: metadata rows, each tile by XYZ (rows
/// flipped back from TMS) and the number of images stored.
const READ_MBTILES: &str = r#"
import gzip, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
metadata = dict(db.execute("SELECT name, value FROM metadata"))
tiles = {}
for z, x, row, data in db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
    tiles[f"{z}/{x}/{(1 << z) - 1 - row}"] = gzip.decompress(data).hex()
images = db.execute("SELECT count(*) FROM images").fetchone()[0]
print(json.dumps({"metadata": metadata, "tiles": tiles, "images": images}))
"#;

const LAYERS: &str = "communes,heritage_sites";

fn python() -> String {
    std::env::var("PMTILES_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Web Mercator tile column and row of a lon/lat point at zoom `z`.
fn tile_of(z: u8, lon: f64, lat: f64) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x.floor() as u32, y.floor() as u32)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_exported_package_holds_every_tile_the_server_serves_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("province.pmtiles");
    let summary =
        run_ok(bando(&["export", "--layers", LAYERS, "--minzoom", "6", "--maxzoom", "11", "-o"]).arg(&archive));
    assert!(!dir.path().join("province.pmtiles.partial").exists());

    let read: Value = serde_json::from_str(&run_ok(Command::new(python()).args(["-c", READ]).arg(&archive))).unwrap();
    let package: BTreeMap<String, String> =
        read["tiles"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    assert!(summary.contains(&format!("{} tiles", package.len())), "{summary}");

    // Every tile the server answers with content over the layers' extent (one tile beyond it
    // on each side, where buffers reach) is in the package, with the same bytes, and no other.
    let server = Server::start(bando(&[]));
    let tilejson = server.json(&format!("/tiles/{LAYERS}.json"));
    let bounds: Vec<f64> = tilejson["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let client = reqwest::blocking::Client::new();
    let mut served = BTreeMap::new();
    for z in 6..=11u8 {
        let (x0, y0) = tile_of(z, bounds[0], bounds[3]);
        let (x1, y1) = tile_of(z, bounds[2], bounds[1]);
        for x in x0.saturating_sub(1)..=x1 + 1 {
            for y in y0.saturating_sub(1)..=y1 + 1 {
                let r = client.get(format!("{}/tiles/{LAYERS}/{z}/{x}/{y}.mvt", server.base)).send().unwrap();
                assert!(r.status().is_success(), "{z}/{x}/{y}: {}", r.status());
                let body = r.bytes().unwrap();
                if !body.is_empty() {
                    served.insert(format!("{z}/{x}/{y}"), hex(&body));
                }
            }
        }
    }
    assert!(served.len() > 50, "the sample draws many tiles: {}", served.len());
    let missing: Vec<&String> = served.keys().filter(|k| !package.contains_key(*k)).collect();
    let extra: Vec<&String> = package.keys().filter(|k| !served.contains_key(*k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
    for (tile, bytes) in &served {
        assert!(&package[tile] == bytes, "tile {tile} differs from the server's");
    }

    let header = &read["header"];
    assert_eq!((header["min_zoom"].as_u64(), header["max_zoom"].as_u64()), (Some(6), Some(11)));
    assert_eq!(header["tile_type"], 1, "MVT");
    assert_eq!(header["tile_compression"], 2, "gzip");
    let e7 = |i: usize| (bounds[i] * 1e7).round();
    let corners = ["min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"];
    for (i, name) in corners.iter().enumerate() {
        assert!((header[*name].as_f64().unwrap() - e7(i)).abs() <= 1.0, "{name}: {} vs {:?}", header[*name], bounds);
    }
    let distinct: BTreeSet<&String> = package.values().collect();
    assert_eq!(header["addressed_tiles_count"], package.len());
    assert_eq!(header["tile_contents_count"], distinct.len(), "identical tiles are stored once");
    let metadata = &read["metadata"];
    let ids: Vec<&str> =
        metadata["vector_layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["communes", "heritage_sites"]);
    assert_eq!(metadata["attribution"], tilejson["attribution"]);
}

#[test]
fn an_mbtiles_package_holds_the_same_tiles_as_the_pmtiles_one_with_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (pmtiles, mbtiles) = (dir.path().join("p.pmtiles"), dir.path().join("p.mbtiles"));
    let zooms = ["--minzoom", "8", "--maxzoom", "12"];
    run_ok(bando(&["export", "--layers", LAYERS]).args(zooms).arg("-o").arg(&pmtiles));
    let summary = run_ok(bando(&["export", "--layers", LAYERS]).args(zooms).arg("-o").arg(&mbtiles));
    assert!(!dir.path().join("p.mbtiles.partial").exists());
    let read = |script: &str, path: &std::path::Path| -> Value {
        serde_json::from_str(&run_ok(Command::new(python()).args(["-c", script]).arg(path))).unwrap()
    };
    let (p, m) = (read(READ, &pmtiles), read(READ_MBTILES, &mbtiles));
    assert!(m["tiles"].as_object().unwrap().len() > 20, "{summary}");
    assert!(m["tiles"] == p["tiles"], "the MBTiles tiles differ from the PMTiles ones");
    assert!(summary.contains(&format!("{} tiles", m["tiles"].as_object().unwrap().len())), "{summary}");
    let distinct: BTreeSet<&str> = m["tiles"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(m["images"], distinct.len(), "identical tiles are stored once");
    let meta = &m["metadata"];
    assert_eq!(
        (meta["format"].as_str(), meta["minzoom"].as_str(), meta["maxzoom"].as_str()),
        (Some("pbf"), Some("8"), Some("12"))
    );
    let bounds: Vec<f64> = meta["bounds"].as_str().unwrap().split(',').map(|v| v.parse().unwrap()).collect();
    let header = &p["header"];
    for (i, name) in ["min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"].iter().enumerate() {
        assert!((header[*name].as_f64().unwrap() - bounds[i] * 1e7).abs() <= 1.0, "{name}");
    }
    let json: Value = serde_json::from_str(meta["json"].as_str().unwrap()).unwrap();
    assert_eq!(json["vector_layers"], p["metadata"]["vector_layers"]);
    assert_eq!(meta["attribution"], p["metadata"]["attribution"]);
}

#[test]
fn only_public_layers_are_packaged_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("parcels.pmtiles");
    let refused = output(bando(&["export", "--layers", "land_parcels", "--maxzoom", "13", "-o"]).arg(&archive));
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only public layers"));
    assert!(!archive.exists());
    for bad in ["106,10,105,11", "105,10,106"] {
        let refused = output(bando(&["export", "--layers", "communes", "--bbox", bad, "-o"]).arg(&archive));
        assert_eq!(refused.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("min lon, min lat, max lon, max lat"), "{bad}");
    }
    // A box keeps the tiles that meet it: fewer than the whole province's.
    let whole = run_ok(bando(&["export", "--layers", "communes", "--maxzoom", "10", "-o"]).arg(&archive));
    let boxed = run_ok(
        bando(&["export", "--layers", "communes", "--maxzoom", "10", "--bbox", "105.7,10.0,105.8,10.1", "-o"])
            .arg(&archive),
    );
    let count = |s: &str| s.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse::<u64>().unwrap();
    assert!(0 < count(&boxed) && count(&boxed) < count(&whole), "{boxed} vs {whole}");
    run_ok(
        bando(&[
            "export",
            "--layers",
            "land_parcels",
            "--allow-non-public",
            "--minzoom",
            "12",
            "--maxzoom",
            "13",
            "-o",
        ])
        .arg(&archive),
    );
    assert!(archive.exists());
}

/// A server with `archive` configured as the tile package `offline` of heritage sites, readable
/// at `access`.
fn serving_package(archive: &std::path::Path, access: &str) -> Server {
    let mut cmd = bando(&[]);
    let entry = format!(
        "{{file={:?}, title=\"Di tích (gói ngoại tuyến)\", access=\"{access}\", layers=[\"heritage_sites\"]}}",
        archive.display().to_string()
    );
    cmd.env("BANDO_TILESETS__OFFLINE", entry);
    Server::start(cmd)
}

#[test]
fn a_configured_package_is_served_as_it_is_and_offered_for_download_in_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("heritage.pmtiles");
    run_ok(bando(&["export", "--layers", "heritage_sites", "--minzoom", "6", "--maxzoom", "12", "-o"]).arg(&archive));
    let read: Value = serde_json::from_str(&run_ok(Command::new(python()).args(["-c", READ]).arg(&archive))).unwrap();
    let package = read["tiles"].as_object().unwrap();
    assert!(package.len() > 20);
    let server = serving_package(&archive, "public");

    // Each tile is the package's, which is the one the server renders for the layer.
    for (tile, bytes) in package {
        let from_package = server.get(&format!("/tiles/offline/{tile}.mvt"));
        assert_eq!(from_package.status(), 200, "{tile}");
        assert_eq!(hex(&from_package.bytes().unwrap()), bytes.as_str().unwrap(), "{tile}");
        let rendered = server.get(&format!("/tiles/heritage_sites/{tile}.mvt")).bytes().unwrap();
        assert_eq!(hex(&rendered), bytes.as_str().unwrap(), "{tile}");
    }
    assert_eq!(server.get("/tiles/offline/6/0/0.mvt").status(), 204, "a tile the package does not hold is empty");
    assert_eq!(server.get("/tiles/offline/13/0/0.mvt").status(), 404, "past the package's zooms");
    let tilejson = server.json("/tiles/offline.json");
    assert_eq!((tilejson["minzoom"].as_u64(), tilejson["maxzoom"].as_u64()), (Some(6), Some(12)));
    assert_eq!(tilejson["vector_layers"], read["metadata"]["vector_layers"]);
    assert_eq!(tilejson["tiles"][0], format!("{}/tiles/offline/{{z}}/{{x}}/{{y}}.mvt", server.base));

    // The layer's tile sets offer the package; the download is the file, whole or in ranges.
    let tilesets = server.json("/collections/heritage_sites/tiles");
    let link = tilesets["links"].as_array().unwrap().iter().find(|l| l["rel"] == "enclosure").cloned().unwrap();
    assert_eq!(link["type"], "application/vnd.pmtiles");
    let href = link["href"].as_str().unwrap().strip_prefix(&server.base).unwrap().to_owned();
    let file = std::fs::read(&archive).unwrap();
    assert_eq!(link["length"], file.len());
    let whole = server.get(&href);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert!(whole.bytes().unwrap() == file, "the whole file");
    let first = server.get_as(&href, None, &[("range", "bytes=0-126")]);
    assert_eq!(first.status(), 206);
    assert_eq!(first.headers()["content-range"], format!("bytes 0-126/{}", file.len()));
    assert!(first.bytes().unwrap() == file[..127], "the header, as a PMTiles reader asks for it");
    let tail = server.get_as(&href, None, &[("range", "bytes=-100")]);
    assert!(tail.bytes().unwrap() == file[file.len() - 100..]);
    let past = server.get_as(&href, None, &[("range", &format!("bytes={}-", file.len()))]);
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], format!("bytes */{}", file.len()));

    // A package of a higher access level is nowhere for an anonymous caller.
    let restricted = serving_package(&archive, "restricted");
    assert_eq!(restricted.get("/tiles/offline/6/50/30.mvt").status(), 404);
    assert_eq!(restricted.get("/tilesets/offline.pmtiles").status(), 404);
    let links = restricted.json("/collections/heritage_sites/tiles")["links"].clone();
    assert!(links.as_array().unwrap().iter().all(|l| l["rel"] != "enclosure"), "{links}");
}

/// Another tiler's MBTiles file, made from `source` by Python's `sqlite3`: the plain `tiles`
/// table, tiles not compressed, and no zooms in the metadata.
const PLAIN_MBTILES: &str = r#"
import gzip, sqlite3, sys
source, out = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
out.execute("CREATE TABLE metadata (name text, value text)")
out.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
for name, value in source.execute("SELECT name, value FROM metadata WHERE name NOT IN ('minzoom', 'maxzoom')"):
    out.execute("INSERT INTO metadata VALUES (?, ?)", (name, value))
for z, x, row, data in source.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
    out.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, row, gzip.decompress(data)))
out.commit()
"#;

#[test]
fn an_mbtiles_file_is_served_as_it_is_whether_bando_or_another_tiler_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, plain) = (dir.path().join("heritage.mbtiles"), dir.path().join("plain.mbtiles"));
    run_ok(bando(&["export", "--layers", "heritage_sites", "--minzoom", "6", "--maxzoom", "11", "-o"]).arg(&ours));
    run_ok(Command::new(python()).args(["-c", PLAIN_MBTILES]).arg(&ours).arg(&plain));
    let read: Value =
        serde_json::from_str(&run_ok(Command::new(python()).args(["-c", READ_MBTILES]).arg(&ours))).unwrap();
    let tiles = read["tiles"].as_object().unwrap();
    assert!(tiles.len() > 20);
    let layers: Value = serde_json::from_str(read["metadata"]["json"].as_str().unwrap()).unwrap();

    for archive in [&ours, &plain] {
        let server = serving_package(archive, "public");
        for (tile, bytes) in tiles {
            let served = server.get(&format!("/tiles/offline/{tile}.mvt"));
            assert_eq!(served.status(), 200, "{tile} of {}", archive.display());
            assert_eq!(hex(&served.bytes().unwrap()), bytes.as_str().unwrap(), "{tile}");
        }
        assert_eq!(server.get("/tiles/offline/6/0/0.mvt").status(), 204, "a tile the file does not hold is empty");
        assert_eq!(server.get("/tiles/offline/12/0/0.mvt").status(), 404, "past the file's zooms");
        let tilejson = server.json("/tiles/offline.json");
        assert_eq!((tilejson["minzoom"].as_u64(), tilejson["maxzoom"].as_u64()), (Some(6), Some(11)));
        assert_eq!(tilejson["vector_layers"], layers["vector_layers"]);
        let bounds: Vec<f64> =
            read["metadata"]["bounds"].as_str().unwrap().split(',').map(|n| n.parse().unwrap()).collect();
        assert_eq!(tilejson["bounds"], serde_json::json!(bounds));
        assert_eq!(tilejson["attribution"], read["metadata"]["attribution"]);

        // Offered for download as the file it is.
        let link = server.json("/collections/heritage_sites/tiles")["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "enclosure")
            .cloned()
            .unwrap();
        assert_eq!(link["type"], "application/vnd.sqlite3");
        assert_eq!(link["href"], format!("{}/tilesets/offline.mbtiles", server.base));
        let whole = server.get("/tilesets/offline.mbtiles");
        assert_eq!(whole.headers()["content-type"], "application/vnd.sqlite3");
        assert!(whole.bytes().unwrap() == std::fs::read(archive).unwrap(), "the whole file");
        assert_eq!(server.get("/tilesets/offline.pmtiles").status(), 404, "not under another format's name");
    }
}
