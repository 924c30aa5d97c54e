//! Every encoder reads a feature the same way: GeoJSON, the HTML pages and the vector tiles
//! write the same values (dates in one RFC 3339 spelling) under the same columns, and a layer's
//! licence travels with its collection and its TileJSON.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use e2e::{Server, bando, run_ok};
use serde_json::Value;

/// The z14 tile holding a lon/lat point.
fn tile_of(lon: f64, lat: f64) -> (u32, u32, u32) {
    let n = f64::from(1u32 << 14);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (14, x as u32, y as u32)
}

/// The attributes of feature `id` in a tile, as GDAL's MVT driver decodes them.
fn tile_attributes(server: &Server, layer: &str, (z, x, y): (u32, u32, u32), id: i64) -> Vec<(String, String)> {
    let bytes = server.get(&format!("/tiles/{layer}/{z}/{x}/{y}.mvt")).bytes().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tile.mvt");
    std::fs::write(&path, bytes).unwrap();
    let text = run_ok(
        Command::new("ogrinfo")
            .args(["-ro", "-al", "-q", "-oo", &format!("Z={z}"), "-oo", &format!("X={x}"), "-oo", &format!("Y={y}")])
            .arg(&path),
    );
    let feature = text.split("OGRFeature(").find(|f| f.contains(&format!("mvt_id (Integer64) = {id}\n"))).unwrap();
    feature
        .lines()
        .filter_map(|l| l.trim().split_once(") = "))
        .filter_map(|(key, value)| Some((key.split_once(" (")?.0.to_owned(), value.to_owned())))
        .filter(|(key, _)| key != "mvt_id")
        .collect()
}

/// What a page heads a property's column with: its title in the schema, with its unit.
fn heading(schema: &Value, name: &str) -> String {
    let p = &schema["properties"][name];
    let title = p["title"].as_str().unwrap();
    match p["x-ogc-unit"].as_str() {
        Some(unit) => format!("{title} ({unit})"),
        None => title.to_owned(),
    }
}

/// A value as a page shows it: a code the schema labels as `label (code)`.
fn labelled(schema: &Value, name: &str, value: &str) -> String {
    let codes = schema["properties"][name]["anyOf"].as_array().into_iter().flatten();
    match codes.into_iter().find(|c| c["const"] == value) {
        Some(c) => format!("{} ({value})", c["title"].as_str().unwrap()),
        None => value.to_owned(),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[test]
fn geojson_pages_and_tiles_write_the_same_values_and_dates() {
    let server = Server::start(bando(&[]));
    let feature = server.json("/collections/heritage_sites/items/6");
    let properties = feature["properties"].as_object().unwrap();
    let date = properties["recognized_on"].as_str().unwrap();
    assert!(chrono_like_date(date), "{date}");

    // The feature's page: one row per property, in the layer's order, with the same text.
    let page = server.get("/collections/heritage_sites/items/6?f=html").text().unwrap();
    let rows: Vec<(String, String)> = page
        .split("<tr><th>")
        .skip(1)
        .map(|row| {
            let (name, rest) = row.split_once("</th><td>").unwrap();
            (name.to_owned(), rest.split_once("</td>").unwrap().0.to_owned())
        })
        .collect();
    // In the order the GeoJSON text has them (the layer's), which a parsed map forgets.
    let raw = server.get("/collections/heritage_sites/items/6").text().unwrap();
    let raw = &raw[raw.find(r#""properties":"#).unwrap()..];
    let mut geojson: Vec<(String, String)> = properties.iter().map(|(k, v)| (k.clone(), text_of(v))).collect();
    geojson.sort_by_key(|(k, _)| raw.find(&format!("\"{k}\":")).unwrap());
    // Each row is headed by the property's title and shows a code with its label, as the schema
    // describes them.
    let schema = server.json("/collections/heritage_sites/schema");
    let shown: Vec<(String, String)> =
        geojson.iter().map(|(k, v)| (heading(&schema, k), labelled(&schema, k, v))).collect();
    assert_eq!(rows, shown);
    assert!(rows.iter().any(|(_, v)| v.ends_with(&format!("({})", text_of(&properties["rank"])))), "{rows:?}");

    // The tile carries every public property with the same text (none is private here).
    let c = &feature["geometry"]["coordinates"];
    let mut tile =
        tile_attributes(&server, "heritage_sites", tile_of(c[0].as_f64().unwrap(), c[1].as_f64().unwrap()), 6);
    let mut expected = geojson.clone();
    tile.sort();
    expected.sort();
    assert_eq!(tile, expected);
}

#[test]
fn numbers_read_the_same_in_geojson_and_pages() {
    let server = Server::start(bando(&[]));
    let json = server.json("/collections/roads/items?limit=20&sortby=-width_m");
    let page = server.get("/collections/roads/items?limit=20&sortby=-width_m&f=html").text().unwrap();
    let table = &page[page.find("<table><tr>").unwrap()..];
    let rows: Vec<&str> = table.split("<tr>").skip(1).map(|r| r.split("</tr>").next().unwrap()).collect();
    let cells = |row: &str, tag: &str| -> Vec<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        row.split(open.as_str()).skip(1).map(|c| c.split(close.as_str()).next().unwrap().to_owned()).collect()
    };
    let header = cells(rows[0], "th");
    let schema = server.json("/collections/roads/schema");
    let features = json["features"].as_array().unwrap();
    assert_eq!(rows.len(), features.len() + 1);
    for (row, f) in rows[1..].iter().zip(features) {
        let row = cells(row, "td");
        for name in ["width_m", "lanes"] {
            let at = header.iter().position(|h| *h == heading(&schema, name)).unwrap();
            let value = f["properties"][name].as_f64().unwrap_or_else(|| panic!("{}: no {name}", f["id"]));
            assert_eq!(row[at].parse::<f64>(), Ok(value), "{}: {name}", f["id"]);
        }
    }
}

fn chrono_like_date(s: &str) -> bool {
    s.len() == 10
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[7] == b'-'
        && s.replace('-', "").bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn the_items_table_has_the_columns_asked_for_whatever_the_features_hold() {
    let server = Server::start(bando(&[]));
    let page = server.get("/collections/heritage_sites/items?f=html&properties=rank,name&limit=3").text().unwrap();
    let header = page.split("<table><tr>").nth(1).unwrap().split("</tr>").next().unwrap();
    // The layer's order, not the order asked in; each column headed by its title.
    let schema = server.json("/collections/heritage_sites/schema");
    let columns = format!("<th>id</th><th>{}</th><th>{}</th>", heading(&schema, "name"), heading(&schema, "rank"));
    assert_eq!(header, columns);
    // An empty page has the same columns.
    let empty =
        server.get("/collections/heritage_sites/items?f=html&properties=rank,name&rank=zz-none").text().unwrap();
    assert!(empty.contains(&format!("<table><tr>{columns}</tr></table>")), "{empty}");
    let json = server.json("/collections/heritage_sites/items?properties=rank,name&limit=3");
    let keys: Vec<&str> = json["features"][0]["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "rank"]);
}

#[test]
fn a_layers_licence_travels_with_its_collection_and_tilejson() {
    let server = Server::start(bando(&[]));
    let places = server.json("/collections/places");
    assert_eq!(places["license"], "CC-BY-4.0");
    let link = places["links"].as_array().unwrap().iter().find(|l| l["rel"] == "license").unwrap();
    assert_eq!(link["href"], "https://spdx.org/licenses/CC-BY-4.0.html");
    assert_eq!(server.json("/tiles/places.json")["license"], "CC-BY-4.0");
    assert_eq!(server.json("/tiles/places,rivers.json")["license"], "CC-BY-4.0 AND LGPL-3.0-or-later");
    // A layer without a licence says nothing of one.
    let communes = server.json("/collections/communes");
    assert!(communes.get("license").is_none());
    assert!(!communes["links"].as_array().unwrap().iter().any(|l| l["rel"] == "license"));
}
