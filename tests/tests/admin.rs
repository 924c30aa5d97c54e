//! The operator's page: an admin imports a file from the browser and follows it to its report,
//! sees the new layer listed and on a preview map, changes its access level (which anonymous
//! callers feel at once, and the audit records); other callers get nothing, and a file over the
//! upload limit is refused and leaves nothing behind.
#![allow(clippy::unwrap_used)]

use e2e::{ADMIN_KEY, Server, TestDb, repo, run_ok, samples};
use serde_json::{Value, json};

/// Five sites, one an exact copy of another: the import removes it.
fn sites() -> Value {
    let site = |n: u32, name: &str| {
        json!({ "type": "Feature", "properties": { "name": name, "open": n.is_multiple_of(2), "visitors": n * 1000 },
                "geometry": { "type": "Point", "coordinates": [105.75 + f64::from(n) * 0.01, 10.03] } })
    };
    let features = vec![
        site(1, "Đình Bình Thủy"),
        site(2, "Chùa Ông"),
        site(3, "Nhà cổ Bình Thủy"),
        site(4, "Chợ nổi Cái Răng"),
        site(4, "Chợ nổi Cái Răng"),
    ];
    json!({ "type": "FeatureCollection", "features": features })
}

#[test]
fn an_admin_imports_from_the_browser_and_changes_access_and_no_one_else_gets_anything() {
    let db = TestDb::new();
    let agency = run_ok(&mut db.bando(&["keys", "create", "--role", "agency"])).trim().to_owned();
    let uploads = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("sites.geojson");
    std::fs::write(&file, sites().to_string()).unwrap();
    let big = files.path().join("big.geojson");
    std::fs::write(&big, " ".repeat(3 << 20)).unwrap();
    let mut command = db.bando(&[]);
    command.env("BANDO_ADMIN__UPLOAD_DIR", uploads.path()).env("BANDO_ADMIN__MAX_UPLOAD_MB", "1");
    let server = Server::start_admin(command);

    // The API itself: 401 without a key, 403 with another role's.
    assert_eq!(server.get_as("/admin/status", None, &[]).status(), 401);
    assert_eq!(server.get_as("/admin/status", Some(&agency), &[]).status(), 403);

    std::fs::create_dir_all(repo().join("target/browser-artifacts")).unwrap();
    let out = run_ok(
        std::process::Command::new("node")
            .arg(repo().join("web/admin-check.mjs"))
            .arg(&server.base)
            .current_dir(repo())
            .env("KEY", ADMIN_KEY)
            .env("AGENCY", &agency)
            .env("FILE", &file)
            .env("BIG", &big)
            .env("LAYER", "new_sites"),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["errors"], json!([]), "{report}");

    // Without an admin key the page shows no layer.
    assert_eq!(report["anonymous"]["rows"], json!([]));
    assert!(report["anonymous"]["message"].as_str().unwrap().contains("admin key"), "{report}");
    assert_eq!(report["agency"]["rows"], json!([]));
    assert!(report["agency"]["message"].as_str().unwrap().contains("admin"), "{report}");
    assert!(report["admin"]["rows"].as_array().unwrap().contains(&json!("heritage_sites")), "{report}");

    // The file's one layer is proposed, in the CRS GeoJSON is read in.
    assert_eq!(report["proposed"], json!({ "layers": ["sites"], "crs": "EPSG:4326" }), "{report}");
    // The report's counts are the import's: five read, the copy removed, four written.
    let job = &report["job"];
    assert_eq!(job["phase"], "done", "{job}");
    assert_eq!(
        (&job["report"]["rowsRead"], &job["report"]["rowsWritten"], &job["report"]["duplicates"]),
        (&json!("5"), &json!("4"), &json!("1")),
        "{job}"
    );
    assert!(job["progress"].as_str().unwrap().contains("5"), "{job}");
    assert_eq!(db.sql("SELECT count(*) FROM public.new_sites").trim(), "4");
    assert_eq!(db.sql("SELECT status FROM bando.import_log WHERE layer_id = 'new_sites'").trim(), "ok");
    // As stored: the boolean stays a boolean, the name as written.
    assert_eq!(db.sql("SELECT count(*) FROM public.new_sites WHERE open AND name = 'Chùa Ông'").trim(), "1");
    assert_eq!(report["listed"], true);
    assert!(report["preview"].as_u64().unwrap() > 0, "{report}");

    // Public on the page: anonymous callers see it; internal again: they do not. Both audited.
    assert_eq!(report["access"], json!({ "public": true, "internal": false }));
    assert_eq!(server.get_as("/collections/new_sites", None, &[]).status(), 404);
    assert_eq!(db.sql("SELECT description FROM bando.layers WHERE id = 'new_sites'").trim(), "Di tích mới (internal)");
    let audited = db.sql(
        "SELECT count(*) FROM bando.audit WHERE action = 'layer.change' AND target = 'new_sites' AND role = 'admin'",
    );
    assert_eq!(audited.trim(), "2");

    // Over the limit: refused with the reason, nothing written, no upload left behind.
    assert!(report["tooBig"].as_str().unwrap().contains("1 MiB"), "{report}");
    assert_eq!(db.sql("SELECT to_regclass('public.too_big') IS NULL").trim(), "t");
    assert_eq!(std::fs::read_dir(uploads.path()).unwrap().count(), 0);
}

/// Uploads `body` as file `name` and returns the survey of it.
fn upload(server: &Server, name: &str, body: Vec<u8>) -> Value {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/admin/uploads?file={name}", server.base))
        .header("X-API-Key", ADMIN_KEY)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().unwrap()
}

/// Zips the sample warehouses' Shapefile, as agencies send one.
fn zipped_shapefile(dir: &std::path::Path) -> std::path::PathBuf {
    let zip = dir.join("kho.zip");
    let parts = ["shp", "shx", "dbf", "prj", "cpg"].map(|x| samples().join(format!("warehouses.{x}")));
    let script = "import sys, zipfile, os\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    [z.write(p, os.path.basename(p)) for p in sys.argv[2:]]";
    run_ok(std::process::Command::new("python3").args(["-c", script]).arg(&zip).args(parts));
    zip
}

#[test]
fn a_zipped_shapefile_uploaded_is_imported_whole() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_admin(db.bando(&[]));
    let client = reqwest::blocking::Client::new();
    let uploaded = upload(&server, "kho.zip", std::fs::read(zipped_shapefile(dir.path())).unwrap());
    // Surveyed: the Shapefile's one layer, its size, and the CRS of its .prj.
    assert_eq!(db.sql("SELECT to_regclass('public.kho_moi') IS NULL").trim(), "t", "nothing is imported yet");
    assert_eq!(uploaded["layers"], json!([{ "name": "warehouses", "features": 155, "srid": 9210 }]), "{uploaded}");
    let started: Value = client
        .post(format!("{}/admin/imports?upload={}&layer=kho_moi", server.base, uploaded["id"]))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = loop {
        let job: Value = client
            .get(format!("{}/admin/imports/{}", server.base, started["id"]))
            .header("X-API-Key", ADMIN_KEY)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if job["phase"] != "importing" || std::time::Instant::now() > deadline {
            break job;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(job["phase"], "done", "{job}");
    let rows = db.sql("SELECT count(*) FROM public.kho_moi").trim().to_owned();
    assert_eq!(job["report"]["rowsWritten"].to_string(), rows);
    assert_eq!(job["report"]["sourceSrid"], 9210, "the Shapefile's own CRS, from its .prj");
    assert!(job["report"]["summary"].as_str().unwrap().contains("kho.zip"), "{job}");
}

#[test]
fn a_configured_layer_is_changed_in_its_file_not_on_the_page() {
    let db = TestDb::new();
    let server = Server::start_admin(db.bando(&[]));
    let client = reqwest::blocking::Client::new();
    let patch = client
        .patch(format!("{}/admin/layers/heritage_sites", server.base))
        .header("X-API-Key", ADMIN_KEY)
        .header("Content-Type", "application/json")
        .body(r#"{"access": "restricted"}"#)
        .send()
        .unwrap();
    assert_eq!(patch.status(), 409);
    assert_eq!(patch.headers()["content-type"], "application/problem+json");
    let uploaded = upload(&server, "sites.geojson", sites().to_string().into_bytes());
    let into_configured = client
        .post(format!("{}/admin/imports?upload={}&layer=heritage_sites", server.base, uploaded["id"]))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(into_configured.status(), 409);
    let bad = client
        .patch(format!("{}/admin/layers/heritage_sites", server.base))
        .header("X-API-Key", ADMIN_KEY)
        .header("Content-Type", "application/json")
        .body(r#"{"colour": "red"}"#)
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(server.get_as("/collections/heritage_sites", None, &[]).status(), 200);
}
