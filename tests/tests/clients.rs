//! Real clients against a running Bando: GDAL's OGC API - Features driver (`ogrinfo`,
//! `ogr2ogr`) and an OpenAPI-driven tester fed the service's own `/api`.
#![allow(clippy::unwrap_used)]

use std::{path::Path, process::Command};

use e2e::{Server, bando, ogr_feature_count, run_ok, sample_layer_ids, samples};
use serde_json::Value;

/// A GeoPackage converted to GeoJSON by GDAL, read back.
fn gpkg_features(gpkg: &Path) -> Vec<Value> {
    let json = gpkg.with_extension("geojson");
    run_ok(Command::new("ogr2ogr").args(["-f", "GeoJSON"]).arg(&json).arg(gpkg));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    doc["features"].as_array().unwrap().clone()
}

fn ogr2ogr(out: &Path, source: &str, extra: &[&str]) {
    run_ok(Command::new("ogr2ogr").args(["-f", "GPKG"]).arg(out).arg(source).args(extra));
}

#[test]
fn ogrinfo_lists_every_collection_with_its_exact_count() {
    let server = Server::start(bando(&[]));
    let info = run_ok(Command::new("ogrinfo").args(["-ro", "-so", "-al", &format!("OAPIF:{}", server.base)]));
    let config = std::fs::read_to_string(samples().join("bando.toml")).unwrap();
    // Without a key GDAL sees the public layers, and exactly those.
    let public: Vec<String> = sample_layer_ids()
        .into_iter()
        .filter(|id| {
            config
                .split(&format!("[layers.{id}]"))
                .nth(1)
                .unwrap()
                .split("\n[")
                .next()
                .unwrap()
                .contains("access = \"public\"")
        })
        .collect();
    assert_eq!(info.matches("Layer name: ").count(), public.len(), "{info}");
    for id in public {
        let section = info.split("Layer name: ").find(|s| s.starts_with(&format!("{id}\n"))).unwrap_or_else(|| {
            panic!("ogrinfo does not list {id}:\n{info}");
        });
        let count: u64 = section
            .lines()
            .find_map(|l| l.strip_prefix("Feature Count: "))
            .unwrap_or_else(|| panic!("no count for {id}"))
            .trim()
            .parse()
            .unwrap();
        // The sample file of the layer, counted by GDAL itself.
        let block = config.split(&format!("[layers.{id}]")).nth(1).unwrap();
        let file = block.split("file = \"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(count, ogr_feature_count(&samples().join(file)), "{id}");
    }
}

#[test]
fn ogr2ogr_copies_collections_with_every_attribute() {
    let server = Server::start(bando(&[]));
    let dir = tempfile::tempdir().unwrap();
    // The whole collection, Vietnamese text intact.
    let out = dir.path().join("sites.gpkg");
    ogr2ogr(&out, &format!("OAPIF:{}/collections/heritage_sites", server.base), &[]);
    let copied = gpkg_features(&out);
    let source: Value =
        serde_json::from_str(&std::fs::read_to_string(samples().join("heritage_sites.geojson")).unwrap()).unwrap();
    let originals = source["features"].as_array().unwrap();
    assert_eq!(copied.len(), originals.len());
    for original in originals {
        let p = &original["properties"];
        let c = copied
            .iter()
            .find(|c| c["properties"]["name"] == p["name"] && c["properties"]["address"] == p["address"])
            .unwrap_or_else(|| panic!("{} is missing", p["name"]));
        for key in ["kind", "rank", "recognized_on", "description"] {
            assert_eq!(c["properties"][key], p[key], "{} {key}", p["name"]);
        }
    }
    assert!(copied.iter().any(|c| c["properties"]["name"] == "Đình Tân Phước"));

    // With a bounding box (`-spat` becomes `bbox`): the same features as the server's own answer.
    let boxed = dir.path().join("boxed.gpkg");
    ogr2ogr(&boxed, &format!("OAPIF:{}/collections/roads", server.base), &["-spat", "105.7", "10.0", "105.8", "10.05"]);
    let expected = server.json("/collections/roads/items?bbox=105.7,10.0,105.8,10.05&limit=1");
    let got = gpkg_features(&boxed);
    assert!(!got.is_empty());
    assert_eq!(got.len() as u64, expected["numberMatched"].as_u64().unwrap());

    // With a CQL2 filter in the collection URL: GDAL passes it on every request.
    let filtered = dir.path().join("filtered.gpkg");
    let filter = "filter=rank%20%3D%20%27special_national%27%20AND%20S_INTERSECTS(geometry%2CBBOX(105%2C9%2C107%2C11))";
    ogr2ogr(&filtered, &format!("OAPIF:{}/collections/heritage_sites?{filter}", server.base), &[]);
    let got = gpkg_features(&filtered);
    let expected = server.json(&format!("/collections/heritage_sites/items?{filter}&limit=1000"));
    assert!(!got.is_empty());
    assert_eq!(got.len() as u64, expected["numberMatched"].as_u64().unwrap());
    assert!(got.iter().all(|f| f["properties"]["rank"] == "special_national"));
}

#[test]
fn the_openapi_document_holds_against_the_running_server() {
    let tester = std::env::var("SCHEMATHESIS_BIN").unwrap_or_else(|_| "schemathesis".into());
    let server = Server::start(bando(&[]));
    let dir = tempfile::tempdir().unwrap();
    // Every check but one that does not fit an OGC API: `positive_data_acceptance` expects any
    // schema-valid value to be accepted, but no schema can say that a bbox's south lies below
    // its north or what a CQL2 filter's grammar is. (`unsupported_method` runs: a method a path
    // does not take answers a 405 problem with `Allow`.)
    // 414 (a URL over `max_url_bytes`) is as much a rejection of bad input as a 400; the
    // tester's list of rejecting statuses lacks it.
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, "[checks.negative_data_rejection]\nexpected-statuses = [400, 401, 404, 414, 429]\n")
        .unwrap();
    let status = Command::new(&tester)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/api", server.base), "--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", "10", "--max-time", "60", "--request-timeout", "10", "--seed", "7"])
        .args(["--phases", "coverage,fuzzing,stateful", "--no-color"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {tester} ({e}); scripts/test.sh installs it"));
    assert!(status.success(), "the OpenAPI tester found failures (its report is above)");
    assert_eq!(server.get("/ready").status(), 200);
}
