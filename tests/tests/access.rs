//! Access levels, API keys, personal data and the audit trail, against a running server.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use e2e::{Server, TestDb, bando, output, run_ok, samples};
use serde_json::Value;

/// A key created by `bando keys create` without a database: the key, and the `[[keys]]` entry
/// it prints for the configuration file.
fn new_key(role: &str) -> (String, String) {
    let out = output(bando(&["keys", "create", "--role", role]).env_remove("DATABASE_URL"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let entry = stderr[stderr.find("[[keys]]").unwrap()..].to_owned();
    (key, entry)
}

/// The sample configuration with absolute file paths and these key entries, in `dir`.
fn config_with(dir: &Path, entries: &[String], extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(samples().join("bando.toml")).unwrap();
    let text = text.replace("file = \"", &format!("file = \"{}/", samples().display()));
    let path = dir.join("bando.toml");
    std::fs::write(&path, format!("{extra}\n{text}\n{}\n", entries.join("\n"))).unwrap();
    path
}

struct Client<'a> {
    server: &'a Server,
    key: Option<&'a str>,
}

impl Client<'_> {
    fn get(&self, path: &str) -> reqwest::blocking::Response {
        let mut r = reqwest::blocking::Client::new().get(format!("{}{path}", self.server.base));
        if let Some(k) = self.key {
            r = r.header("x-api-key", k);
        }
        r.send().unwrap()
    }
}

/// Every endpoint family that names a layer, with a tile inside the sample province.
fn layer_paths(id: &str) -> Vec<String> {
    [
        "/collections/{id}",
        "/collections/{id}/items",
        "/collections/{id}/items/1",
        "/collections/{id}/queryables",
        "/collections/{id}/tiles",
        "/collections/{id}/tiles/WebMercatorQuad",
        "/collections/{id}/tiles/WebMercatorQuad/12/1933/3251",
        "/tiles/{id}/12/3251/1933.mvt",
        "/tiles/{id}.json",
        "/tiles/{other},{id}.json",
        "/collections/{id}/items?f=html",
        "/styles/{id}.json",
        "/embed/{id}",
    ]
    .iter()
    // A list naming a layer twice is refused: pair the layer with another public one.
    .map(|p| p.replace("{id}", id).replace("{other}", if id == "roads" { "rivers" } else { "roads" }))
    .collect()
}

#[test]
fn each_role_sees_exactly_the_layers_of_its_level_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (agency, a) = new_key("agency");
    let (editor, e) = new_key("editor");
    let config = config_with(dir.path(), &[a, e], "");
    let server = Server::start(bando(&["--config", config.to_str().unwrap()]));
    let public = ["airports", "communes", "heritage_sites", "places", "ports", "rivers", "roads"];
    let levels = [
        (None, vec![]),
        (Some(agency.as_str()), vec!["land_parcels", "warehouses"]),
        (Some(editor.as_str()), vec!["land_parcels", "resource_zones", "warehouses"]),
    ];
    for (key, extra) in levels {
        let client = Client { server: &server, key };
        let mut expected: Vec<&str> = public.iter().copied().chain(extra.iter().copied()).collect();
        expected.sort_unstable();
        let listed: Value = client.get("/collections").json().unwrap();
        let ids: Vec<&str> =
            listed["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected, "{key:?}");
        // The whole-province style, its tiles and the style list hold exactly these layers.
        let style: Value = client.get("/styles/province.json").json().unwrap();
        let mut styled: Vec<&str> =
            style["metadata"]["bando:layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
        styled.sort_unstable();
        assert_eq!(styled, expected, "{key:?}: province style");
        for source in style["sources"].as_object().unwrap().values() {
            let url = source["url"].as_str().unwrap().replace(&server.base, "");
            assert_eq!(client.get(&url).status(), 200, "{key:?}: {url}");
        }
        let styles: Value = client.get("/styles").json().unwrap();
        assert_eq!(styles["styles"].as_array().unwrap().len(), expected.len() + 1, "{key:?}: /styles");
        let api: Value = client.get("/api").json().unwrap();
        let metrics = client.get("/metrics").text().unwrap();
        for visible in &expected {
            assert!(metrics.contains(&format!("bando_layer_features{{layer=\"{visible}\"}}")), "{key:?}: {visible}");
        }
        for hidden in ["land_parcels", "resource_zones", "warehouses"].iter().filter(|h| !expected.contains(h)) {
            assert!(api["paths"].get(format!("/collections/{hidden}/items")).is_none(), "{hidden} in /api");
            assert!(!api.to_string().contains(hidden), "{hidden} named in /api");
            assert!(!metrics.contains(hidden), "{hidden} named in /metrics");
            for page in ["/collections?f=html", "/viewer", "/styles", "/styles/province.json", "/styles/roads.json"] {
                let text = client.get(page).text().unwrap();
                assert!(!text.contains(hidden), "{hidden} named in {page}");
            }
            // A hidden layer answers exactly as a layer that does not exist.
            for (path, ghost) in layer_paths(hidden).iter().zip(layer_paths("nosuchlayer")) {
                let (r, g) = (client.get(path), client.get(&ghost));
                assert_eq!(r.status(), 404, "{key:?} {path}");
                assert_eq!(r.status(), g.status(), "{path}");
                let (body, ghost_body) = (r.text().unwrap(), g.text().unwrap());
                assert_eq!(body.replace(hidden, "X"), ghost_body.replace("nosuchlayer", "X"), "{path}");
            }
        }
        for visible in &expected {
            let first: Value = client.get(&format!("/collections/{visible}/items?limit=1")).json().unwrap();
            let fid = first["features"][0]["id"].to_string();
            for path in layer_paths(visible) {
                let path = path.replace("/items/1", &format!("/items/{fid}"));
                let status = client.get(&path).status().as_u16();
                assert!(status == 200 || status == 204, "{key:?} {path}: {status}");
            }
        }
    }
}

#[test]
fn bad_keys_are_refused_with_401() {
    let dir = tempfile::tempdir().unwrap();
    let (key, entry) = new_key("agency");
    let config = config_with(dir.path(), &[entry], "");
    let server = Server::start(bando(&["--config", config.to_str().unwrap()]));
    let client = reqwest::blocking::Client::new();
    for (name, value) in [
        ("x-api-key", format!("{key}0")),
        ("x-api-key", "bando_nothing".to_owned()),
        ("authorization", format!("Basic {key}")),
        ("authorization", "Bearer ".to_owned()),
    ] {
        let r = client.get(format!("{}/collections", server.base)).header(name, value).send().unwrap();
        assert_eq!(r.status(), 401, "{name}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer, Basic realm=\"bando\"");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let bearer = client.get(format!("{}/collections/land_parcels", server.base)).bearer_auth(&key).send().unwrap();
    assert_eq!(bearer.status(), 200);
}

#[test]
fn private_properties_need_clearance_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let (agency, a) = new_key("agency");
    let (editor, e) = new_key("editor");
    let config = config_with(dir.path(), &[a, e], "");
    let server = Server::start(bando(&["--config", config.to_str().unwrap()]));
    let filter = "/collections/land_parcels/items?filter=owner_name%20IS%20NOT%20NULL&limit=5";
    for (key, cleared) in [(agency.as_str(), false), (editor.as_str(), true)] {
        let client = Client { server: &server, key: Some(key) };
        let items: Value = client.get("/collections/land_parcels/items?limit=5").json().unwrap();
        let one: Value = client.get("/collections/land_parcels/items/1").json().unwrap();
        let html = client.get("/collections/land_parcels/items?limit=5&f=html").text().unwrap();
        let queryables: Value = client.get("/collections/land_parcels/queryables").json().unwrap();
        let sorted = client.get("/collections/land_parcels/items?sortby=owner_name&properties=owner_name");
        assert_eq!(items["features"][0]["properties"].get("owner_name").is_some(), cleared);
        assert_eq!(one["properties"].get("id_number").is_some(), cleared);
        // The page heads the column with the property's title.
        assert_eq!(html.contains("Người sử dụng đất"), cleared);
        assert_eq!(sorted.status() == 200, cleared);
        let filtered = client.get(filter);
        assert_eq!(filtered.status() == 200, cleared);
        if !cleared {
            // As if the property did not exist.
            let detail: Value = filtered.json().unwrap();
            assert!(detail["detail"].as_str().unwrap().contains("unknown property \"owner_name\""), "{detail}");
            assert!(queryables["properties"].get("owner_name").is_none());
        }
        let tilejson: Value = client.get("/tiles/land_parcels.json").json().unwrap();
        assert!(!tilejson.to_string().contains("owner_name"), "tiles never carry personal data");
        // Downloads carry the columns the caller may see, like every other answer.
        let csv = client.get("/collections/land_parcels/items?f=csv").text().unwrap();
        assert_eq!(csv.lines().next().unwrap().contains("owner_name"), cleared, "CSV header");
        for f in ["gpkg", "fgb"] {
            let file = dir.path().join(format!("parcels.{f}"));
            std::fs::write(&file, client.get(&format!("/collections/land_parcels/items?f={f}")).bytes().unwrap())
                .unwrap();
            let info = run_ok(std::process::Command::new("ogrinfo").args(["-ro", "-so", "-al"]).arg(&file));
            assert_eq!(info.contains("owner_name:"), cleared, "{f}: {info}");
        }
    }
}

#[test]
fn keys_are_stored_hashed_revoked_at_once_and_restricted_reads_are_audited() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&[
        "import",
        samples().join("resource_zones.geojson").to_str().unwrap(),
        "--layer",
        "resource_zones",
    ]));
    let key = run_ok(&mut db.bando(&["keys", "create", "--role", "editor"])).trim().to_owned();
    let id = key.split('_').nth(1).unwrap().to_owned();
    assert!(!db.sql("SELECT hash FROM bando.api_keys").contains(&key));
    let listed = run_ok(&mut db.bando(&["keys", "list"]));
    assert!(listed.contains(&id) && !listed.contains(&key), "{listed}");

    let server = Server::start(db.bando(&[]));
    let client = Client { server: &server, key: Some(&key) };
    assert_eq!(client.get("/collections/resource_zones/items?limit=1").status(), 200);
    assert_eq!(Client { server: &server, key: None }.get("/collections/resource_zones/items").status(), 404);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let audit = run_ok(&mut db.bando(&["audit"]));
        if audit.lines().any(|l| l.contains(&id) && l.contains("read") && l.contains("resource_zones")) {
            assert!(audit.contains("import") && audit.contains("key-create"), "{audit}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the read is not in the audit:\n{audit}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The trail cannot be rewritten.
    let tamper = output(std::process::Command::new("psql").args([db.url.as_str(), "-c", "DELETE FROM bando.audit"]));
    assert!(!tamper.status.success());

    run_ok(&mut db.bando(&["keys", "revoke", &id]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while client.get("/collections").status() != 401 {
        assert!(std::time::Instant::now() < deadline, "the revoked key still works");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let again = output(&mut db.bando(&["keys", "revoke", &id]));
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn rate_and_size_limits_answer_with_problems() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), &[], "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("requests_per_second = 1000\nburst = 2000", "requests_per_second = 2\nburst = 5");
    std::fs::write(&config, text).unwrap();
    let (key, entry) = new_key("agency");
    std::fs::write(&config, format!("{}\n{entry}\n", std::fs::read_to_string(&config).unwrap())).unwrap();
    let server = Server::start(bando(&["--config", config.to_str().unwrap()]));
    let statuses: Vec<u16> = (0..12).map(|_| server.get("/collections").status().as_u16()).collect();
    assert!(statuses.iter().filter(|s| **s == 200).count() >= 5, "{statuses:?}");
    let limited = server.get("/collections");
    assert_eq!(limited.status(), 429, "{statuses:?}");
    assert_eq!(limited.headers()["content-type"], "application/problem+json");
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // A key has a bucket of its own, apart from its address's.
    assert_eq!(Client { server: &server, key: Some(&key) }.get("/collections").status(), 200);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let body = reqwest::blocking::Client::new()
        .get(format!("{}/collections", server.base))
        .body(vec![b'x'; 100_000])
        .send()
        .unwrap();
    assert_eq!(body.status(), 413);
    assert_eq!(body.headers()["content-type"], "application/problem+json");
    let long = server.get(&format!("/collections?x={}", "a".repeat(20_000)));
    assert_eq!(long.status(), 414);
    assert_eq!(long.headers()["content-type"], "application/problem+json");
}

#[test]
fn a_revocation_the_server_could_not_read_at_first_takes_effect_once_it_can() {
    use std::time::{Duration, Instant};
    let db = TestDb::new();
    run_ok(&mut db.bando(&["migrate"]));
    let key = run_ok(&mut db.bando(&["keys", "create", "--role", "agency"])).trim().to_owned();
    let id = key.split('_').nth(1).unwrap().to_owned();
    let server = Server::start(db.bando(&[]));
    let status = || server.get_as("/collections/warehouses", Some(&key), &[]).status();
    assert_eq!(status(), 200);
    // The revocation commits with a change that leaves the keys unreadable for now; no further
    // notification comes when they are readable again.
    db.sql(&format!(
        "UPDATE bando.api_keys SET revoked_at = now() WHERE id = '{id}';
         ALTER TABLE bando.api_keys RENAME COLUMN hash TO hash_away;"
    ));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(status(), 200, "the keys could not be re-read: the previous ones stay in force meanwhile");
    db.sql("ALTER TABLE bando.api_keys RENAME COLUMN hash_away TO hash");
    let deadline = Instant::now() + Duration::from_secs(5);
    while status() != 401 {
        assert!(Instant::now() < deadline, "the revoked key still works 5 s after the keys became readable");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn restricted_reads_are_audited_once_per_successful_request_and_layer() {
    let db = TestDb::new();
    let file = samples().join("resource_zones.geojson");
    run_ok(&mut db.bando(&["import", file.to_str().unwrap(), "--layer", "resource_zones"]));
    let key = run_ok(&mut db.bando(&["keys", "create", "--role", "editor"])).trim().to_owned();
    let server = Server::start(db.bando(&[]));
    let reads = || db.sql("SELECT count(*) FROM bando.audit WHERE action = 'read'").trim().parse::<u64>().unwrap();
    let client = Client { server: &server, key: Some(&key) };
    // A list naming the layer twice (or 540 times) is refused before anything is read.
    for times in [2, 540] {
        let list = vec!["resource_zones"; times].join(",");
        assert_eq!(client.get(&format!("/tiles/{list}.json")).status(), 400, "{times}");
    }
    // 160 answered requests and 80 refused ones, 8 at a time.
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (base, key) = (server.base.clone(), key.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let get = |p: &str| http.get(format!("{base}{p}")).header("x-api-key", &key).send().unwrap().status();
                for _ in 0..20 {
                    assert_eq!(get("/tiles/resource_zones.json"), 200);
                    assert_eq!(get("/tiles/resource_zones/30/0/0.mvt"), 400);
                    assert_eq!(get("/collections/resource_zones/items?limit=x"), 400);
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(server.get("/ready").status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reads() < 160 {
        assert!(std::time::Instant::now() < deadline, "{} of 160 reads audited", reads());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(reads(), 160, "one row per answered request, none for refused ones");
}

#[test]
fn answers_showing_non_public_layers_stay_out_of_shared_caches() {
    let dir = tempfile::tempdir().unwrap();
    let (agency, a) = new_key("agency");
    let config = config_with(dir.path(), &[a], "");
    let server = Server::start(bando(&["--config", config.to_str().unwrap()]));
    let tile = "/tiles/{id}/12/3251/1933.mvt";
    for path in [tile, "/tiles/{id}.json", "/styles/{id}.json", "/collections/{id}/items?limit=1", "/collections"] {
        let hidden = server.get_as(&path.replace("{id}", "warehouses"), Some(&agency), &[]);
        assert!(hidden.status().is_success(), "{path}");
        assert_eq!(hidden.headers()["cache-control"], "private, no-cache", "{path}");
        let vary: Vec<&str> = hidden.headers().get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(vary.iter().any(|v| v.contains("x-api-key") && v.contains("authorization")), "{path}: {vary:?}");
        let public = server.get_as(&path.replace("{id}", "roads"), None, &[]);
        let control = public.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
        assert!(control.as_deref().is_none_or(|c| !c.contains("private")), "{path}: {control:?}");
    }
    let public_tile = server.get_as(&tile.replace("{id}", "roads"), None, &[]);
    assert!(public_tile.headers()["cache-control"].to_str().unwrap().starts_with("public"));
}

#[test]
fn conflicting_credentials_are_refused_and_bad_ones_are_slowed_down() {
    let dir = tempfile::tempdir().unwrap();
    let (agency, a) = new_key("agency");
    let (editor, e) = new_key("editor");
    let config = config_with(dir.path(), &[a, e], "");
    let mut cmd = bando(&["--config", config.to_str().unwrap()]);
    cmd.env("BANDO_LIMITS__FAILED_AUTH_PER_MINUTE", "5");
    let server = Server::start(cmd);
    let status = |headers: &[(&str, &str)]| server.get_as("/collections/warehouses", None, headers).status().as_u16();
    let (garbage, two) = ("Bearer garbage".to_owned(), format!("Bearer {editor}"));
    assert_eq!(status(&[("authorization", &format!("BEARER {agency}"))]), 200, "the scheme is case-insensitive");
    assert_eq!(status(&[("x-api-key", &agency), ("authorization", &format!("Bearer {agency}"))]), 200);
    assert_eq!(status(&[("x-api-key", &agency), ("authorization", &garbage)]), 401);
    assert_eq!(status(&[("x-api-key", &agency), ("authorization", &two)]), 401);
    // Two failures so far; three more and the address must wait, whatever it sends next.
    for _ in 0..3 {
        assert_eq!(status(&[("x-api-key", "bando_nothing")]), 401);
    }
    let locked = server.get_as("/collections/warehouses", Some(&agency), &[]);
    assert_eq!(locked.status(), 429);
    assert!(locked.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(status(&[]), 404, "anonymous requests are still served");
}

#[test]
fn readiness_names_failed_layers_only_to_cleared_callers() {
    let dir = tempfile::tempdir().unwrap();
    let (editor, e) = new_key("editor");
    let config = config_with(dir.path(), &[e], "");
    let text = std::fs::read_to_string(&config).unwrap().replace("resource_zones.geojson", "gone.geojson");
    std::fs::write(&config, text).unwrap();
    let mut cmd = bando(&["--config", config.to_str().unwrap()]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = cmd
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/ready");
    let http = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let anonymous = loop {
        if let Ok(r) = http.get(&url).send()
            && r.text().unwrap().contains("failed")
        {
            break http.get(&url).send().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no failure reported");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(anonymous.status(), 503);
    let detail = anonymous.text().unwrap();
    assert!(!detail.contains("resource_zones") && !detail.contains("gone.geojson"), "{detail}");
    let cleared = http.get(&url).header("x-api-key", &editor).send().unwrap().text().unwrap();
    assert!(cleared.contains("resource_zones") && cleared.contains("gone.geojson"), "{cleared}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_key_revoked_during_a_burst_of_audited_reads_stops_working_within_seconds() {
    use std::{
        sync::atomic::{AtomicBool, Ordering},
        time::{Duration, Instant},
    };
    let db = TestDb::new();
    let file = samples().join("resource_zones.geojson");
    run_ok(&mut db.bando(&["import", file.to_str().unwrap(), "--layer", "resource_zones"]));
    let key = run_ok(&mut db.bando(&["keys", "create", "--role", "editor"])).trim().to_owned();
    let id = key.split('_').nth(1).unwrap().to_owned();
    let busy = run_ok(&mut db.bando(&["keys", "create", "--role", "editor"])).trim().to_owned();
    let server = Server::start(db.bando(&[]));
    // Sixteen clients reading the restricted layer as fast as they can with another key, every
    // read audited, for at most 20 s.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..16)
        .map(|_| {
            let (base, key, stop) = (server.base.clone(), busy.clone(), stop.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let end = Instant::now() + Duration::from_secs(20);
                let mut answered = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    let r = http.get(format!("{base}/tiles/resource_zones.json")).header("x-api-key", &key).send();
                    answered += u64::from(r.is_ok_and(|r| r.status() == 200));
                }
                answered
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.get_as("/tiles/resource_zones.json", Some(&key), &[]).status(), 200);
    run_ok(&mut db.bando(&["keys", "revoke", &id]));
    let revoked = Instant::now();
    let mut seen = std::collections::BTreeMap::new();
    loop {
        let status = server.get_as("/collections", Some(&key), &[]).status().as_u16();
        if status == 401 {
            break;
        }
        *seen.entry(status).or_insert(0) += 1;
        assert!(revoked.elapsed() < Duration::from_secs(5), "the revoked key still works under load: {seen:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("revocation took effect after {:?} under load", revoked.elapsed());
    stop.store(true, Ordering::Relaxed);
    let answered: u64 = load.into_iter().map(|t| t.join().unwrap()).sum::<u64>() + 1;
    assert_eq!(server.get("/ready").status(), 200);
    // Every answered read is in the trail, and nothing else.
    let reads = || db.sql("SELECT count(*) FROM bando.audit WHERE action = 'read'").trim().parse::<u64>().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reads() < answered && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{answered} restricted reads answered, {} audited", reads());
    assert_eq!(reads(), answered);
}
