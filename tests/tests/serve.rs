//! `bando serve` on the sample files and on PostGIS after an import: every layer is listed.
#![allow(clippy::unwrap_used)]

use e2e::{Server, TestDb, bando, run_ok, sample_layer_ids};
use serde_json::Value;

fn ids_and_extents(server: &Server) -> Vec<(String, Vec<f64>)> {
    let body = server.json("/collections");
    let mut out: Vec<(String, Vec<f64>)> = body["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let bbox =
                c["extent"]["spatial"]["bbox"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            (c["id"].as_str().unwrap().to_owned(), bbox)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The new Cần Thơ lies within this box (lon/lat).
fn inside_province(b: &[f64]) -> bool {
    b.len() == 4 && b[0] >= 105.2 && b[1] >= 9.2 && b[2] <= 106.35 && b[3] <= 10.5 && b[0] <= b[2] && b[1] <= b[3]
}

#[test]
fn the_sample_files_serve_every_layer_without_a_database() {
    let server = Server::start(bando(&[]));
    let layers = ids_and_extents(&server);
    let ids: Vec<&String> = layers.iter().map(|(id, _)| id).collect();
    assert_eq!(ids, sample_layer_ids().iter().collect::<Vec<_>>());
    for (id, bbox) in &layers {
        assert!(inside_province(bbox), "{id}: {bbox:?}");
    }
    assert_eq!(server.json("/ready")["store"], "files");
    assert_eq!(server.json("/health")["status"], "ok");

    let missing = server.get("/no/such/thing");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let problem: Value = missing.json().unwrap();
    assert_eq!(problem["status"], 404);
}

#[test]
fn postgis_after_import_serves_the_same_layers_as_the_files() {
    let files = Server::start(bando(&[]));
    let from_files = ids_and_extents(&files);
    drop(files);

    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let geojson = e2e::samples().join("heritage_sites.geojson");
    run_ok(&mut db.bando(&["import", geojson.to_str().unwrap(), "--layer", "heritage_copy"]));
    let server = Server::start(db.bando(&[]));
    assert_eq!(server.json("/ready")["store"], "postgis");
    let from_db = ids_and_extents(&server);

    let mut expected: Vec<String> = sample_layer_ids();
    expected.push("heritage_copy".into());
    expected.sort();
    assert_eq!(from_db.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), expected);
    for (id, bbox) in &from_files {
        let (_, db_bbox) = from_db.iter().find(|(i, _)| i == id).unwrap();
        let close = bbox.iter().zip(db_bbox).all(|(a, b)| (a - b).abs() < 1e-6);
        assert!(close, "{id}: files {bbox:?} vs PostGIS {db_bbox:?}");
    }
}
