//! `bando serve` on the sample files and on PostGIS after an import: every layer is listed.
#![allow(clippy::unwrap_used)]

use e2e::{ADMIN_KEY, Server, TestDb, bando, output, run_ok, sample_layer_ids};
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
    let server = Server::start_admin(bando(&[]));
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
    let files = Server::start_admin(bando(&[]));
    let from_files = ids_and_extents(&files);
    drop(files);

    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let geojson = e2e::samples().join("heritage_sites.geojson");
    run_ok(&mut db.bando(&["import", geojson.to_str().unwrap(), "--layer", "heritage_copy"]));
    let server = Server::start_admin(db.bando(&[]));
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

    // `bando check` loads the same layers from the tables, and counts what the files hold.
    let from_tables = checked(&mut db.bando(&["check"]));
    assert!(from_tables.iter().all(|(_, source, _)| source.starts_with("table ")), "{from_tables:?}");
    let count = |checks: &[(String, String, String)], id: &str| checks.iter().find(|c| c.0 == id).map(|c| c.2.clone());
    let from_files = checked(&mut bando(&["check"]));
    for id in sample_layer_ids() {
        assert_eq!(count(&from_tables, &id), count(&from_files, &id), "{id}");
    }
    assert_eq!(count(&from_tables, "heritage_copy"), count(&from_files, "heritage_sites"));
}

/// The layers `bando check` prints, each with its source and outcome, when it succeeds.
fn checked(cmd: &mut std::process::Command) -> Vec<(String, String, String)> {
    let stdout = run_ok(cmd);
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("layer "))
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.get(3), Some(&"ok"), "{l}");
            (fields[0].to_owned(), fields[2].to_owned(), fields[4].to_owned())
        })
        .collect()
}

#[test]
fn check_reports_every_sample_layer_and_fails_on_one_that_cannot_load() {
    let checks = checked(&mut bando(&["check"]));
    let mut ids: Vec<String> = checks.iter().map(|c| c.0.clone()).collect();
    ids.sort();
    assert_eq!(ids, sample_layer_ids());
    assert!(checks.iter().all(|(_, source, n)| source.starts_with("file ") && n != "0 features"), "{checks:?}");

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.geojson");
    std::fs::write(&broken, "{\"type\": \"FeatureCollection\", \"features\": [").unwrap();
    let config = dir.path().join("bando.toml");
    let layer = |id: &str, file: &str| {
        format!(
            "[layers.{id}]\ntitle = \"{id}\"\ngeometry = \"Point\"\naccess = \"public\"\nsource = {{ file = {file:?} }}\n"
        )
    };
    let sample = e2e::samples().join("heritage_sites.geojson");
    let text = layer("good", sample.to_str().unwrap()) + &layer("broken", broken.to_str().unwrap());
    std::fs::write(&config, text).unwrap();
    let out = output(&mut bando(&["--config", config.to_str().unwrap(), "check"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("layer good\t") && l.contains("\tok\t")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("layer broken\t") && l.contains("\tFAILED\t")), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 layers cannot be served"));
}

/// The log as it stands once a line holding `needle` is in it (a request is logged when its
/// answer's body is sent whole, which may be just after the client has read it).
fn log_with(log: &std::path::Path, needle: &str) -> String {
    for _ in 0..100 {
        let text = std::fs::read_to_string(log).unwrap();
        if text.contains(needle) {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("no line with {needle:?} in the log: {}", std::fs::read_to_string(log).unwrap());
}

#[test]
fn a_log_file_is_plain_text_with_one_line_per_request_and_no_key_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut cmd = bando(&[]);
    cmd.env("RUST_LOG", "info");
    let server = Server::start_admin_logging_to(cmd, &log);
    // Bando takes keys in headers only: a key in the query is an unknown parameter (400), and
    // must not reach the log either.
    let path = "/collections/heritage_sites/items?limit=2&api_key=leaked_secret_1";
    let r = server.get_as(path, Some(ADMIN_KEY), &[("accept-encoding", "identity")]);
    assert_eq!(r.status(), 400);
    let sent = r.bytes().unwrap().len();
    assert_eq!(server.get_as("/no/such/thing", None, &[]).status(), 404);

    let text = log_with(&log, "path=/no/such/thing");
    assert!(!text.contains('\x1b'), "colour codes in a log file: {text}");
    assert!(!text.contains(ADMIN_KEY) && !text.contains("leaked_secret_1"), "{text}");
    let access: Vec<&str> = text.lines().filter(|l| l.contains("bando::access")).collect();
    let items = access.iter().find(|l| l.contains("path=/collections/heritage_sites/items")).unwrap();
    for field in ["method=GET", "status=400", "key=testadmin", "limit=2&api_key=***", &format!("bytes={sent} ")] {
        assert!(items.contains(field), "{field} missing from {items}");
    }
    let missing = access.iter().find(|l| l.contains("path=/no/such/thing")).unwrap();
    assert!(missing.contains("status=404") && missing.contains("key=-"), "{missing}");
    assert!(missing.contains(" ms="), "{missing}");
}

#[test]
fn json_logs_parse_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut cmd = bando(&["--log-format", "json"]);
    cmd.env("RUST_LOG", "info");
    let server = Server::start_admin_logging_to(cmd, &log);
    assert_eq!(server.get("/collections").status(), 200);
    let text = log_with(&log, "\"path\":\"/collections\"");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["message"] == "listening"), "{text}");
    let access = lines.iter().find(|l| l["target"] == "bando::access" && l["path"] == "/collections").unwrap();
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert_eq!(access["key"], "testadmin");
    assert!(access["bytes"].as_u64().is_some_and(|b| b > 0), "{access}");
    assert!(!text.contains(ADMIN_KEY));
}

/// Feature ids of one layer in a tile, decoded by GDAL's MVT driver.
fn tile_ids(server: &Server, layer: &str, z: u32, x: u32, y: u32) -> Vec<i64> {
    e2e::tile_ids(server, &format!("/tiles/{layer}/{z}/{x}/{y}.mvt"))
}

#[test]
fn an_edit_in_postgis_reaches_the_tiles_without_a_restart() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let server = Server::start_admin(db.bando(&[]));
    let before = tile_ids(&server, "roads", 12, 3251, 1933);
    let gone = *before.first().expect("roads in the test tile");
    // Served once, so it is in the cache now.
    assert_eq!(tile_ids(&server, "roads", 12, 3251, 1933), before);

    db.sql(&format!("DELETE FROM transport.roads WHERE id = {gone}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = tile_ids(&server, "roads", 12, 3251, 1933);
        if !now.contains(&gone) {
            assert_eq!(now.len(), before.len() - 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "road {gone} still in the tile 15 s after its deletion");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let metrics = server.get("/metrics").text().unwrap();
    let expected =
        format!("bando_layer_features{{layer=\"roads\"}} {}", db.sql("SELECT count(*) FROM transport.roads"));
    assert!(metrics.contains(&expected), "{metrics}");
}

#[test]
fn auto_publish_serves_existing_tables_as_they_are() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["migrate"]));
    db.sql(
        "CREATE SCHEMA agency;
         CREATE TABLE agency.wells (gid serial PRIMARY KEY, depth_m real, owner text, geom geometry(Point, 4326));
         INSERT INTO agency.wells (depth_m, owner, geom) VALUES
           (12.5, 'Sở Tài nguyên', ST_SetSRID(ST_MakePoint(105.78, 10.03), 4326)),
           (30.0, 'Hợp tác xã', ST_SetSRID(ST_MakePoint(105.70, 9.90), 4326));
         CREATE TABLE agency.no_key (name text, geom geometry(Point, 4326));",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, "[database.auto_publish]\nschemas = [\"agency\"]\naccess = \"internal\"\n").unwrap();
    let server = Server::start_admin(db.bando(&["--config", config.to_str().unwrap()]));
    let ids: Vec<String> = server.json("/collections")["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["agency_wells"], "a table without a primary key is skipped");
    let tj = server.json("/tiles/agency_wells.json");
    let fields = tj["vector_layers"][0]["fields"].as_object().unwrap();
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["depth_m", "owner"]);
    assert_eq!(
        tile_ids(&server, "agency_wells", 10, 812, 483).len() + tile_ids(&server, "agency_wells", 10, 812, 484).len(),
        2
    );
}
