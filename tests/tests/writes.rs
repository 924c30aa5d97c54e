//! Writes through OGC API - Features Part 4 against real servers on a real PostGIS: the whole
//! cycle as an editor (seen in items, tiles and a second replica), validation that names the
//! member at fault and leaves the table as it was, all-or-nothing batches, who may write, no
//! lost update under concurrent writers, and the audit trail of every write.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::{Server, TestDb, run_ok, samples};
use reqwest::{Method, blocking::Response};
use serde_json::{Value, json};

/// A database with heritage sites and communes imported, an editor key, and communes made
/// editable too (polygons, and an integer to count with).
fn setup() -> (TestDb, String) {
    let db = TestDb::new();
    for (file, layer) in [("heritage_sites.geojson", "heritage_sites"), ("communes.geojson", "communes")] {
        run_ok(&mut db.bando(&["import", samples().join(file).to_str().unwrap(), "--layer", layer]));
    }
    let key = run_ok(&mut db.bando(&["keys", "create", "--role", "editor"])).trim().to_owned();
    (db, key)
}

fn serve(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let mut cmd = db.bando(&[]);
    cmd.env("BANDO_LAYERS__COMMUNES__EDITABLE_BY", "[\"editor\"]");
    cmd.env("BANDO_DATABASE__CHANGE_POLL_MS", "20");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server::start(cmd)
}

/// One request with an optional key, `If-Match`, media type and body.
fn send(
    server: &Server,
    method: Method,
    path: &str,
    key: Option<&str>,
    etag: Option<&str>,
    body: Option<(&str, &Value)>,
) -> Response {
    let mut r = reqwest::blocking::Client::new().request(method, format!("{}{path}", server.base));
    if let Some(k) = key {
        r = r.header("x-api-key", k);
    }
    if let Some(e) = etag {
        r = r.header("if-match", e);
    }
    if let Some((kind, body)) = body {
        r = r.header("content-type", kind).body(body.to_string());
    }
    r.send().unwrap()
}

fn etag_of(r: &Response) -> String {
    r.headers()["etag"].to_str().unwrap().to_owned()
}

const SITE: &str = "/collections/heritage_sites/items";

fn site(name: &str) -> Value {
    json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [105.78, 10.03] },
            "properties": { "name": name, "kind": "đình", "rank": "provincial", "recognized_on": "2020-01-02" } })
}

fn within_a_second(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(1);
    while !done() {
        assert!(Instant::now() < until, "{what}: not within a second");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The feature ids of tile 12/3251/1933 (around the new site).
fn tile_ids(server: &Server) -> Vec<i64> {
    e2e::tile_ids(server, "/tiles/heritage_sites/12/3251/1933.mvt")
}

#[test]
fn the_whole_cycle_as_an_editor_reaches_items_tiles_and_a_second_replica() {
    let (db, key) = setup();
    let (a, b) = (serve(&db, &[]), serve(&db, &[]));
    let k = Some(key.as_str());
    let created = send(&a, Method::POST, SITE, k, None, Some(("application/geo+json", &site("Đình Mới"))));
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let etag = etag_of(&created);
    let fid: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let path = format!("{SITE}/{fid}");
    assert_eq!(location, format!("{}{path}", a.base));
    // The same feature back, with the same ETag, here at once and on the other replica soon.
    let got = a.get(&path);
    assert_eq!((got.status().as_u16(), etag_of(&got)), (200, etag.clone()));
    let got: Value = got.json().unwrap();
    assert_eq!(got["properties"]["name"], "Đình Mới");
    assert_eq!(got["geometry"]["coordinates"], json!([105.78, 10.03]));
    within_a_second("the new site on the other replica", || b.get(&path).status() == 200);
    assert!(tile_ids(&a).contains(&fid), "the new site is in its tile");

    let patch = json!({ "properties": { "address": "Phường Cái Khế", "description": null } });
    let patched = send(&a, Method::PATCH, &path, k, Some(&etag), Some(("application/merge-patch+json", &patch)));
    assert_eq!(patched.status(), 200);
    let etag2 = etag_of(&patched);
    assert_ne!(etag2, etag);
    within_a_second("the patch on the other replica", || {
        b.get(&path).json::<Value>().unwrap()["properties"]["address"] == "Phường Cái Khế"
    });
    let dump = || db.sql("SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM heritage.sites t");
    let before = dump();
    let stale = send(&a, Method::PATCH, &path, k, Some(&etag), Some(("application/merge-patch+json", &patch)));
    assert_eq!(stale.status(), 412);
    assert_eq!(send(&a, Method::PATCH, &path, k, None, Some(("application/merge-patch+json", &patch))).status(), 428);
    assert_eq!(dump(), before, "a refused change changes nothing");

    let mut moved = site("Đình Mới (dời)");
    moved["geometry"]["coordinates"] = json!([105.7812345678901, 10.0312345678901]);
    let replaced = send(&a, Method::PUT, &path, k, Some(&etag2), Some(("application/geo+json", &moved)));
    assert_eq!(replaced.status(), 200);
    let etag3 = etag_of(&replaced);
    let stored: Value = a.get(&path).json().unwrap();
    assert_eq!(stored["geometry"]["coordinates"], json!([105.7812345678901, 10.0312345678901]), "exactly as sent");
    assert_eq!(stored["properties"]["address"], Value::Null, "a replace drops what it does not hold");

    assert_eq!(send(&a, Method::DELETE, &path, k, Some(&etag3), None).status(), 204);
    assert_eq!(a.get(&path).status(), 404);
    within_a_second("the deletion on the other replica", || b.get(&path).status() == 404);
    within_a_second("the deletion in the tile", || !tile_ids(&b).contains(&fid));

    let trail = db.sql(&format!(
        "SELECT string_agg(action || ':' || (before IS NOT NULL) || (after IS NOT NULL), ',' ORDER BY id) \
         FROM bando.audit WHERE target = 'heritage_sites' AND feature_id = {fid}"
    ));
    assert_eq!(trail.trim(), "create:falsetrue,update:truetrue,replace:truetrue,delete:truefalse");
    let history = run_ok(&mut db.bando(&["audit", "--layer", "heritage_sites", "--feature", &fid.to_string()]));
    assert_eq!(history.lines().count(), 4, "{history}");
    assert!(history.contains("Phường Cái Khế"), "{history}");
}

#[test]
fn every_validation_failure_names_its_member_and_leaves_the_table_as_it_was() {
    let (db, key) = setup();
    let server = serve(&db, &[("BANDO_LIMITS__MAX_VERTICES", "50"), ("BANDO_LIMITS__MAX_BATCH_FEATURES", "5")]);
    let k = Some(key.as_str());
    let dump = || {
        db.sql("SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM heritage.sites t")
            + &db.sql("SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM admin.communes t")
    };
    let before = dump();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut s = site("Chùa");
        f(&mut s);
        s
    };
    let commune = |ring: Value| {
        json!({ "type": "Feature", "geometry": { "type": "Polygon", "coordinates": [ring] },
                "properties": { "code": "x", "name": "x", "kind": "phường" } })
    };
    let star: Vec<Value> = (0..=60)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i % 60) / 60.0;
            json!([105.5 + 0.1 * a.cos(), 9.8 + 0.1 * a.sin()])
        })
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (SITE, with(&|s| s["properties"]["colour"] = json!("red")), "/properties/colour"),
        (SITE, with(&|s| s["properties"]["name"] = json!(7)), "/properties/name"),
        (
            SITE,
            with(&|s| {
                s["properties"].as_object_mut().unwrap().remove("name");
            }),
            "/properties/name",
        ),
        (SITE, with(&|s| s["properties"]["rank"] = json!("royal")), "/properties/rank"),
        (SITE, with(&|s| s["properties"]["recognized_on"] = json!("2020-13-45")), "/properties/recognized_on"),
        (SITE, with(&|s| s["id"] = json!(5)), "/id"),
        (
            SITE,
            with(&|s| s["geometry"] = json!({ "type": "LineString", "coordinates": [[105, 10], [106, 10]] })),
            "/geometry",
        ),
        (SITE, with(&|s| s["geometry"]["coordinates"] = json!([200.0, 10.0])), "/geometry"),
        (
            "/collections/communes/items",
            commune(json!([[105, 9], [106, 10], [106, 9], [105, 10], [105, 9]])),
            "/geometry",
        ),
        ("/collections/communes/items", commune(json!([[105, 9], [106, 9], [106, 10], [105, 10]])), "/geometry"),
        ("/collections/communes/items", commune(Value::Array(star)), "/geometry"),
    ];
    for (path, body, pointer) in cases {
        let r = send(&server, Method::POST, path, k, None, Some(("application/geo+json", &body)));
        assert_eq!(r.status(), 400, "{pointer}: {body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().unwrap();
        assert_eq!(problem["pointer"], pointer, "{problem}");
    }
    let limit: Value = send(
        &server,
        Method::POST,
        "/collections/communes/items",
        k,
        None,
        Some((
            "application/geo+json",
            &commune(Value::Array(
                (0..=60)
                    .map(|i| {
                        let a = std::f64::consts::TAU * f64::from(i % 60) / 60.0;
                        json!([105.5 + 0.1 * a.cos(), 9.8 + 0.1 * a.sin()])
                    })
                    .collect(),
            )),
        )),
    )
    .json()
    .unwrap();
    assert!(limit["detail"].as_str().unwrap().contains("at most 50"), "{limit}");
    let six = json!({ "type": "FeatureCollection", "features": vec![site("a"); 6] });
    assert_eq!(send(&server, Method::POST, SITE, k, None, Some(("application/geo+json", &six))).status(), 413);
    assert_eq!(send(&server, Method::POST, SITE, k, None, Some(("text/plain", &site("a")))).status(), 415);
    assert_eq!(dump(), before, "no refused write changed a table");
}

#[test]
fn a_batch_is_written_whole_or_not_at_all() {
    let (db, key) = setup();
    let server = serve(&db, &[]);
    let k = Some(key.as_str());
    let count = || db.sql("SELECT count(*) FROM heritage.sites").trim().parse::<u64>().unwrap();
    let before = count();
    let mut bad = vec![site("Một"), site("Hai"), site("Ba"), site("Bốn")];
    bad[3]["properties"]["rank"] = json!(3);
    let batch = json!({ "type": "FeatureCollection", "features": bad });
    let r = send(&server, Method::POST, SITE, k, None, Some(("application/geo+json", &batch)));
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().unwrap()["pointer"], "/features/3/properties/rank");
    assert_eq!(count(), before);
    let good = json!({ "type": "FeatureCollection", "features": [site("Một"), site("Hai"), site("Ba"), site("Bốn")] });
    let r = send(&server, Method::POST, SITE, k, None, Some(("application/geo+json", &good)));
    assert_eq!(r.status(), 201);
    let ids: Vec<i64> =
        r.json::<Value>().unwrap()["features"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(count(), before + 4);
    for id in ids {
        assert_eq!(server.get(&format!("{SITE}/{id}")).status(), 200, "{id} is served at once");
    }
}

#[test]
fn only_roles_the_layer_names_may_write_and_private_properties_need_clearance() {
    let (db, editor) = setup();
    run_ok(&mut db.bando(&[
        "import",
        samples().join("land_parcels.geojson").to_str().unwrap(),
        "--layer",
        "land_parcels",
    ]));
    let agency = run_ok(&mut db.bando(&["keys", "create", "--role", "agency"])).trim().to_owned();
    let clerk_env = [
        ("BANDO_ROLES__CLERK", "{ access = \"internal\" }"),
        ("BANDO_LAYERS__LAND_PARCELS__EDITABLE_BY", "[\"clerk\", \"editor\"]"),
    ];
    let mut cmd = db.bando(&["keys", "create", "--role", "clerk"]);
    for (k, v) in clerk_env {
        cmd.env(k, v);
    }
    let clerk = run_ok(&mut cmd).trim().to_owned();
    let server = serve(&db, &clerk_env);
    let body = site("Không được");
    for (key, status) in [(None, 403), (Some(agency.as_str()), 403)] {
        let r = send(&server, Method::POST, SITE, key, None, Some(("application/geo+json", &body)));
        assert_eq!(r.status(), status, "{key:?}");
    }
    // A layer the caller may not read is absent, for writes as for reads.
    let hidden = send(
        &server,
        Method::POST,
        "/collections/land_parcels/items",
        None,
        None,
        Some(("application/geo+json", &body)),
    );
    assert_eq!(hidden.status(), 404);
    let options = send(&server, Method::OPTIONS, SITE, Some(&agency), None, None);
    assert_eq!((options.status().as_u16(), options.headers()["allow"].to_str().unwrap()), (200, "GET, HEAD, OPTIONS"));
    let options = send(&server, Method::OPTIONS, SITE, Some(&editor), None, None);
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS, POST");
    // The clerk writes parcels but is not cleared for personal data.
    let parcel = server.get_as("/collections/land_parcels/items?limit=1", Some(&clerk), &[]).json::<Value>().unwrap();
    let fid = parcel["features"][0]["id"].as_i64().unwrap();
    let path = format!("/collections/land_parcels/items/{fid}");
    let etag = etag_of(&server.get_as(&path, Some(&clerk), &[]));
    let private = json!({ "properties": { "owner_name": "Trần Văn B" } });
    let r = send(
        &server,
        Method::PATCH,
        &path,
        Some(&clerk),
        Some(&etag),
        Some(("application/merge-patch+json", &private)),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().unwrap()["pointer"], "/properties/owner_name");
    let editor_etag = etag_of(&server.get_as(&path, Some(&editor), &[]));
    assert_eq!(editor_etag, etag, "the ETag covers every property, whoever reads");
    let r = send(
        &server,
        Method::PATCH,
        &path,
        Some(&editor),
        Some(&etag),
        Some(("application/merge-patch+json", &private)),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["properties"]["owner_name"], "Trần Văn B");
}

#[test]
fn concurrent_writers_with_if_match_lose_no_update() {
    let (db, key) = setup();
    let server = serve(&db, &[]);
    let fid = db.sql("SELECT min(id) FROM admin.communes").trim().parse::<i64>().unwrap();
    db.sql(&format!("UPDATE admin.communes SET population = 0 WHERE id = {fid}"));
    let path = format!("/collections/communes/items/{fid}");
    within_a_second("the reset", || server.get(&path).json::<Value>().unwrap()["properties"]["population"] == 0);
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (base, key, path) = (server.base.clone(), key.clone(), path.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut retries = 0;
                for _ in 0..100 {
                    loop {
                        let got = http.get(format!("{base}{path}")).send().unwrap();
                        let etag = got.headers()["etag"].to_str().unwrap().to_owned();
                        let n = got.json::<Value>().unwrap()["properties"]["population"].as_i64().unwrap();
                        let patch = json!({ "properties": { "population": n + 1 } });
                        let r = http
                            .patch(format!("{base}{path}"))
                            .header("x-api-key", &key)
                            .header("if-match", etag)
                            .header("content-type", "application/merge-patch+json")
                            .body(patch.to_string())
                            .send()
                            .unwrap();
                        match r.status().as_u16() {
                            200 => break,
                            412 => retries += 1,
                            other => panic!("PATCH answered {other}: {}", r.text().unwrap()),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    eprintln!("800 increments by 8 writers, {retries} retried after 412");
    assert_eq!(db.sql(&format!("SELECT population FROM admin.communes WHERE id = {fid}")).trim(), "800");
    let audited = db.sql(&format!("SELECT count(*) FROM bando.audit WHERE target = 'communes' AND feature_id = {fid}"));
    assert_eq!(audited.trim(), "800", "one audit row per write");
}

#[test]
fn the_schema_says_what_a_write_may_hold_and_the_api_documents_the_writes() {
    let (db, _) = setup();
    let server = serve(&db, &[]);
    let r = server.get("/collections/heritage_sites/schema");
    assert_eq!(r.headers()["content-type"], "application/schema+json");
    let schema: Value = r.json().unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["additionalProperties"], false);
    let properties = schema["properties"].as_object().unwrap();
    let roles: Vec<(&str, &str)> =
        properties.iter().filter_map(|(k, v)| Some((k.as_str(), v["x-ogc-role"].as_str()?))).collect();
    assert_eq!(roles, [("id", "id"), ("geometry", "primary-geometry"), ("recognized_on", "primary-instant")]);
    assert_eq!(properties["id"]["readOnly"], true);
    let not_null = db.sql(
        "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns \
         WHERE table_schema = 'heritage' AND table_name = 'sites' AND is_nullable = 'NO' AND column_name NOT IN ('id', 'geom')",
    );
    let mut required: Vec<&str> = schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort_unstable();
    assert_eq!(required.join(","), not_null.trim());
    let ranks: Vec<&str> = properties["rank"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for rank in &ranks {
        let accepted = db.sql(&format!(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'heritage.sites'::regclass AND pg_get_constraintdef(oid) LIKE '%''{rank}''%'"
        ));
        assert_eq!(accepted.trim(), "1", "{rank} is in the table's CHECK");
    }
    let sortables: Value = server.json("/collections/heritage_sites/sortables");
    assert!(sortables["properties"].get("geometry").is_none() && sortables["properties"].get("name").is_some());
    let collection: Value = server.json("/collections/heritage_sites");
    let rels: Vec<&str> = collection["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    for rel in ["schema", "sortables", "queryables"] {
        assert!(rels.contains(&format!("http://www.opengis.net/def/rel/ogc/1.0/{rel}").as_str()), "{rels:?}");
    }
    let conformance = server.json("/conformance").to_string();
    for class in [
        "ogcapi-common-3/1.0/conf/schemas",
        "ogcapi-features-4/1.0/conf/create-replace-delete",
        "ogcapi-features-4/1.0/conf/update",
    ] {
        assert!(conformance.contains(class), "{class}");
    }
    let api: Value = server.json("/api");
    let item = &api["paths"]["/collections/heritage_sites/items/{featureId}"];
    assert!(api["paths"]["/collections/heritage_sites/items"]["post"].is_object());
    assert!(
        item["put"].is_object() && item["patch"].is_object() && item["delete"].is_object() && item["get"].is_object()
    );
    assert!(api["paths"].get("/collections/places/items/{featureId}").is_none(), "only editable layers take writes");
    // Without a database nothing takes writes, and nothing says it does.
    let files = Server::start(e2e::bando(&[]));
    assert!(!files.json("/conformance").to_string().contains("ogcapi-features-4"));
    let refused = send(&files, Method::POST, SITE, None, None, Some(("application/geo+json", &site("x"))));
    assert_eq!(refused.status(), 405);
    assert_eq!(refused.headers()["allow"], "GET, HEAD, OPTIONS");
}

#[test]
fn owslib_creates_updates_and_deletes_features() {
    let (db, key) = setup();
    let server = serve(&db, &[]);
    let python = std::env::var("OWSLIB_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = e2e::repo().join("tests/scripts/owslib_transactions.py");
    let out = e2e::output(std::process::Command::new(&python).arg(&script).args([server.base.as_str(), key.as_str()]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{python} {}: {stdout}{}", script.display(), String::from_utf8_lossy(&out.stderr));
    let fid: Value = serde_json::from_str(stdout.trim()).unwrap();
    let fid = fid["created_updated_deleted"].as_i64().unwrap();
    let trail = db.sql(&format!(
        "SELECT string_agg(action, ',' ORDER BY id) FROM bando.audit WHERE target = 'heritage_sites' AND feature_id = {fid}"
    ));
    assert_eq!(trail.trim(), "create,replace,delete");
}
