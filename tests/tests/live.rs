//! Live data: edits made in PostGIS reach every replica's features and tiles through the change
//! log, without reloading the layer; a replica that was away catches up from the log; one that
//! the log no longer reaches reloads; and the change stream delivers every change in order, resumes, and hides what it must.
#![allow(clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    process::Command,
    sync::mpsc,
    time::{Duration, Instant},
};

use e2e::{ADMIN_KEY, Server, TestDb, run_ok};
use serde_json::Value;

/// The tile of zoom `z` holding the point.
fn tile_of(z: u32, lon: f64, lat: f64) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (x.floor() as u32, y.floor() as u32)
}

/// Feature ids of heritage sites in a tile, decoded by GDAL's MVT driver, and the tile's ETag.
fn tile(server: &Server, (x, y): (u32, u32)) -> (Vec<i64>, String) {
    let r = server.get(&format!("/tiles/heritage_sites/14/{x}/{y}.mvt"));
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    if r.status() == 204 {
        return (Vec::new(), etag);
    }
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mvt");
    std::fs::write(&path, r.bytes().unwrap()).unwrap();
    let text = run_ok(Command::new("ogrinfo").args(["-ro", "-al", "-q", "-oo", "CLIP=NO"]).arg(&path));
    let mut ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mvt_id (Integer64) = "))
        .map(|v| v.parse().unwrap())
        .collect();
    ids.sort_unstable();
    (ids, etag)
}

/// Waits until `ok` holds, for at most `within`.
fn eventually(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One metric's value from `/metrics`.
fn metric(server: &Server, name: &str) -> f64 {
    let text = server.get("/metrics").text().unwrap();
    let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("no {name}: {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn lonlat(db: &TestDb, id: i64) -> (f64, f64) {
    let xy = db.sql(&format!("SELECT ST_X(geom) || ' ' || ST_Y(geom) FROM heritage.sites WHERE id = {id}"));
    let (x, y) = xy.split_once(' ').unwrap();
    (x.parse().unwrap(), y.parse().unwrap())
}

#[test]
fn edits_reach_both_replicas_features_and_tiles_and_untouched_tiles_keep_their_etags() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let replicas = [Server::start_admin(db.bando(&[])), Server::start_admin(db.bando(&[]))];
    let moved: i64 = db.sql("SELECT min(id) FROM heritage.sites").parse().unwrap();
    let (lon, lat) = lonlat(&db, moved);
    let old_tile = tile_of(14, lon, lat);
    let new_tile = tile_of(14, lon + 0.2, lat);
    // A tile with sites that no change comes near, and a site to delete away from both.
    let far: i64 = db
        .sql(&format!(
            "SELECT id FROM heritage.sites ORDER BY geom <-> ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326) DESC LIMIT 1"
        ))
        .parse()
        .unwrap();
    let untouched = tile_of(14, lonlat(&db, far).0, lonlat(&db, far).1);
    let gone: i64 = db
        .sql(&format!(
            "SELECT id FROM heritage.sites WHERE id NOT IN ({moved}, {far})
             AND ST_Distance(geom, ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)) > 0.1
             AND ST_Distance(geom, (SELECT geom FROM heritage.sites WHERE id = {far})) > 0.1 ORDER BY id LIMIT 1"
        ))
        .parse()
        .unwrap();
    assert!(untouched != old_tile && untouched != new_tile);
    let before: Vec<_> = replicas.iter().map(|r| (tile(r, old_tile), tile(r, untouched))).collect();
    for ((old, far_tile), r) in before.iter().zip(&replicas) {
        assert!(old.0.contains(&moved) && far_tile.0.contains(&far));
        // Served once, so cached now.
        assert_eq!(tile(r, old_tile).1, old.1);
    }

    let added = moved + 100_000;
    db.sql(&format!(
        "INSERT INTO heritage.sites (id, name, kind, rank, geom)
           VALUES ({added}, 'Đình mới', 'đình', 'provincial', ST_SetSRID(ST_MakePoint({lon} + 0.00001, {lat}), 4326));
         UPDATE heritage.sites SET geom = ST_Translate(geom, 0.2, 0), name = 'Đã dời' WHERE id = {moved};
         DELETE FROM heritage.sites WHERE id = {gone};"
    ));
    for r in &replicas {
        eventually(Duration::from_secs(10), "the three edits on a replica", || {
            let moved_now = r.json(&format!("/collections/heritage_sites/items/{moved}"));
            r.get(&format!("/collections/heritage_sites/items/{added}")).status() == 200
                && r.get(&format!("/collections/heritage_sites/items/{gone}")).status() == 404
                && moved_now["properties"]["name"] == "Đã dời"
        });
        let moved_now = r.json(&format!("/collections/heritage_sites/items/{moved}"));
        let x = moved_now["geometry"]["coordinates"][0].as_f64().unwrap();
        assert_eq!(x.to_string(), db.sql(&format!("SELECT ST_X(geom) FROM heritage.sites WHERE id = {moved}")));
    }
    for ((old, far_tile), r) in before.iter().zip(&replicas) {
        let (ids, etag) = tile(r, old_tile);
        assert!(!ids.contains(&moved) && ids.contains(&added), "the old tile: {ids:?}");
        assert_ne!(etag, old.1, "the old tile's ETag");
        assert!(tile(r, new_tile).0.contains(&moved), "the new tile");
        let revalidated = reqwest::blocking::Client::new()
            .get(format!("{}/tiles/heritage_sites/14/{}/{}.mvt", r.base, untouched.0, untouched.1))
            .header("if-none-match", &far_tile.1)
            .send()
            .unwrap();
        assert_eq!(revalidated.status(), 304, "a tile no change touched keeps its ETag");
        assert_eq!(metric(r, "bando_layer_reloads_total"), 0.0, "applied without reloading the layer");
        assert!(metric(r, "bando_changes_applied_total") >= 3.0);
        let count = db.sql("SELECT count(*) FROM heritage.sites");
        assert_eq!(r.json("/collections/heritage_sites/items?limit=1")["numberMatched"].to_string(), count);
        let ready = r.json("/ready");
        assert!(ready["changes"]["sequence"].as_i64().unwrap() > 0, "{ready}");
    }
}

/// Pauses a server's process and closes its database connections, as a network cut would.
fn cut_off(db: &TestDb, server: &Server) {
    run_ok(Command::new("kill").args(["-STOP", &server.pid().to_string()]));
    db.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
}

fn resume(server: &Server) {
    run_ok(Command::new("kill").args(["-CONT", &server.pid().to_string()]));
}

/// `(id, name)` of every heritage site, as the server serves them and as the table holds them.
fn served_and_stored(db: &TestDb, server: &Server) -> (String, String) {
    let page = server.json("/collections/heritage_sites/items?limit=10000&properties=name");
    let mut served: Vec<String> = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}|{}", f["id"], f["properties"]["name"].as_str().unwrap()))
        .collect();
    served.sort();
    let mut stored: Vec<String> =
        db.sql("SELECT id || '|' || name FROM heritage.sites").lines().map(str::to_owned).collect();
    stored.sort();
    (served.join("\n"), stored.join("\n"))
}

/// The replica named so, as `/admin/status` of `server` lists it.
fn replica(server: &Server, name: &str) -> Option<Value> {
    let status: Value = server.get_as("/admin/status", Some(ADMIN_KEY), &[]).json().unwrap();
    status["feed"]["replicas"].as_array()?.iter().find(|r| r["name"] == name).cloned()
}

/// A server that reports its place in the change log under `name`.
fn named(db: &TestDb, name: &str) -> Server {
    let mut cmd = db.bando(&[]);
    cmd.env("BANDO_DATABASE__REPLICA_NAME", name);
    Server::start_admin(cmd)
}

#[test]
fn a_replica_that_was_away_catches_up_from_the_log_without_reloading_and_others_see_its_lag() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let server = named(&db, "away");
    let observer = named(&db, "observer");
    eventually(Duration::from_secs(10), "both replicas reporting", || {
        replica(&observer, "away").is_some_and(|r| r["behind"] == 0)
            && replica(&observer, "observer").is_some_and(|r| r["behind"] == 0)
    });
    cut_off(&db, &server);
    // 1 000 changes: 600 inserts, 300 updates, 100 deletes.
    db.sql(
        "INSERT INTO heritage.sites (id, name, kind, rank, geom)
           SELECT 200000 + g, 'Di tích ' || g, 'đình', 'provincial', ST_SetSRID(ST_MakePoint(105.7 + g * 0.0001, 10.0), 4326)
           FROM generate_series(1, 600) g;
         UPDATE heritage.sites SET name = name || ' (sửa)' WHERE id BETWEEN 200001 AND 200300;
         DELETE FROM heritage.sites WHERE id BETWEEN 200301 AND 200400;",
    );
    assert_eq!(db.sql("SELECT count(*) FROM bando.changes WHERE feature_id > 200000"), "1000");
    // The observer applies the changes; the replica away is 1 000 behind and its lag grows.
    eventually(Duration::from_secs(10), "the observer applying the changes", || {
        replica(&observer, "observer").is_some_and(|r| r["behind"] == 0)
    });
    let away = replica(&observer, "away").unwrap();
    assert_eq!(away["behind"], 1000, "{away}");
    std::thread::sleep(Duration::from_secs(1));
    let later = replica(&observer, "away").unwrap();
    assert!(later["lagSeconds"].as_f64().unwrap() > away["lagSeconds"].as_f64().unwrap() + 0.5, "{away} {later}");
    assert!(later["seenSecondsAgo"].as_f64().unwrap() >= 1.0, "{later}");
    resume(&server);
    eventually(Duration::from_secs(30), "catching up", || {
        let (served, stored) = served_and_stored(&db, &server);
        served == stored
    });
    eventually(Duration::from_secs(10), "the replica reporting it caught up", || {
        replica(&observer, "away").is_some_and(|r| r["behind"] == 0 && r["lagSeconds"] == 0.0)
    });
    assert_eq!(metric(&server, "bando_layer_reloads_total"), 0.0, "caught up from the log, not by a reload");
    assert!(metric(&server, "bando_changes_applied_total") >= 1000.0);
}

#[test]
fn a_replica_the_pruned_log_no_longer_reaches_reloads_and_ends_correct() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let server = Server::start_admin(db.bando(&[]));
    cut_off(&db, &server);
    for i in 0..5 {
        db.sql(&format!(
            "UPDATE heritage.sites SET name = 'Lần {i}' WHERE id = (SELECT min(id) + {i} FROM heritage.sites)"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, "[database]\nchange_log_rows = 1\n").unwrap();
    let before: u64 = db.sql("SELECT count(*) FROM bando.changes").parse().unwrap();
    let pruned = run_ok(&mut db.bando(&["--config", config.to_str().unwrap(), "prune-changes"]));
    assert_eq!(pruned.trim(), format!("{} changes pruned", before - 1));
    assert_eq!(db.sql("SELECT count(*) FROM bando.changes"), "1");
    resume(&server);
    eventually(Duration::from_secs(30), "reloading", || metric(&server, "bando_layer_reloads_total") >= 1.0);
    eventually(Duration::from_secs(10), "the table's rows", || {
        let (served, stored) = served_and_stored(&db, &server);
        served == stored
    });
}

/// One Server-Sent Event: its id and its data.
type Sse = (Option<String>, Value);

/// Reads a change stream on a thread of its own; events arrive on the receiver, which closes
/// when the stream ends.
fn stream(server: &Server, layer: &str, key: Option<&str>, last_event: Option<&str>) -> mpsc::Receiver<Sse> {
    let mut request = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{}/collections/{layer}/changes", server.base));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(id) = last_event {
        request = request.header("last-event-id", id);
    }
    let response = request.send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut id, mut data) = (None, None);
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { return };
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(serde_json::from_str(v.trim()).unwrap());
            } else if line.is_empty()
                && let Some(data) = data.take()
                && tx.send((id.take(), data)).is_err()
            {
                return;
            }
        }
    });
    rx
}

fn next(rx: &mpsc::Receiver<Sse>) -> Sse {
    rx.recv_timeout(Duration::from_secs(10)).expect("a change event within 10 s")
}

#[test]
fn the_change_stream_delivers_every_change_in_order_resumes_and_hides_what_it_must() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let agency = run_ok(&mut db.bando(&["keys", "create", "--role", "agency"])).trim().to_owned();
    let mut server = Server::start_admin(db.bando(&[]));
    let anonymous = stream(&server, "heritage_sites", None, None);
    let id: i64 = db.sql("SELECT max(id) + 1 FROM heritage.sites").parse().unwrap();
    // Each change waits for the one before it to arrive: a change applied after a later one
    // carries the feature as it is then (none, once deleted).
    let events: Vec<Sse> = [
        format!(
            "INSERT INTO heritage.sites (id, name, kind, rank, geom)
               VALUES ({id}, 'Chùa mới', 'chùa', 'provincial', ST_SetSRID(ST_MakePoint(105.78, 10.03), 4326))"
        ),
        format!("UPDATE heritage.sites SET name = 'Chùa Mới' WHERE id = {id}"),
        format!("DELETE FROM heritage.sites WHERE id = {id}"),
    ]
    .iter()
    .map(|sql| {
        db.sql(sql);
        next(&anonymous)
    })
    .collect();
    let ops: Vec<&str> = events.iter().map(|(_, d)| d["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["insert", "update", "delete"]);
    assert!(events.iter().all(|(_, d)| d["id"] == id));
    let sequences: Vec<i64> = events.iter().map(|(_, d)| d["sequence"].as_i64().unwrap()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    // The feature is there for the insert and the update, as it was then; none for the delete.
    assert!(events[0].1["feature"]["type"] == "Feature" && events[0].1["bbox"][0].as_f64().unwrap() > 105.0);
    assert_eq!(events[1].1["feature"]["properties"]["name"], "Chùa Mới");
    assert!(events[2].1.get("feature").is_none());

    // Resuming after the insert replays the update and the delete, from the log.
    let resumed = stream(&server, "heritage_sites", None, events[0].0.as_deref());
    let replayed: Vec<Sse> = (0..2).map(|_| next(&resumed)).collect();
    assert_eq!(
        replayed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        [events[1].0.clone(), events[2].0.clone()]
    );
    let bad = server.get_as("/collections/heritage_sites/changes", None, &[("last-event-id", "yesterday")]);
    assert_eq!(bad.status(), 400);

    // Private properties only with clearance; hidden layers are not there at all.
    assert_eq!(server.get_as("/collections/warehouses/changes", None, &[]).status(), 404);
    assert_eq!(server.get_as("/collections/resource_zones/changes", Some(&agency), &[]).status(), 404);
    let as_agency = stream(&server, "warehouses", Some(&agency), None);
    let as_admin = stream(&server, "warehouses", Some(ADMIN_KEY), None);
    db.sql("UPDATE logistics.warehouses SET name = name || '.' WHERE id = (SELECT min(id) FROM logistics.warehouses)");
    let (seen_by_agency, seen_by_admin) = (next(&as_agency).1, next(&as_admin).1);
    assert!(seen_by_admin["feature"]["properties"].get("phone").is_some(), "{seen_by_admin}");
    assert!(seen_by_agency["feature"]["properties"].get("phone").is_none(), "{seen_by_agency}");
    assert!(seen_by_agency["feature"]["properties"].get("name").is_some());

    // A revoked key's stream ends at the next change; the others go on.
    let key_id = agency.split('_').nth(1).unwrap();
    run_ok(&mut db.bando(&["keys", "revoke", key_id]));
    eventually(Duration::from_secs(10), "the revocation", || {
        server.get_as("/collections/warehouses", Some(&agency), &[]).status() == 401
    });
    db.sql("UPDATE logistics.warehouses SET name = name || '.' WHERE id = (SELECT min(id) FROM logistics.warehouses)");
    assert_eq!(next(&as_admin).1["op"], "update");
    assert_eq!(as_agency.recv_timeout(Duration::from_secs(5)), Err(mpsc::RecvTimeoutError::Disconnected));

    // Shutting down ends every stream, and the server exits.
    run_ok(Command::new("kill").args(["-TERM", &server.pid().to_string()]));
    assert!(server.wait_exit(Duration::from_secs(10)).success());
    for rx in [anonymous, resumed, as_admin] {
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Err(mpsc::RecvTimeoutError::Disconnected));
    }
}

#[test]
fn an_import_or_a_truncation_is_one_reload_of_the_layer_not_a_change_per_feature() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["import", "--all"]));
    let server = Server::start_admin(db.bando(&[]));
    let logged =
        || -> u64 { db.sql("SELECT count(*) FROM bando.changes WHERE feature_id IS NOT NULL").parse().unwrap() };
    let sites = e2e::samples().join("heritage_sites.geojson");
    db.sql("DELETE FROM heritage.sites WHERE id % 2 = 0");
    eventually(Duration::from_secs(10), "the deletions", || {
        let stored: u64 = db.sql("SELECT count(*) FROM heritage.sites").parse().unwrap();
        server.json("/collections/heritage_sites/items?limit=1")["numberMatched"] == stored
    });
    let before = logged();
    run_ok(&mut db.bando(&["import", sites.to_str().unwrap(), "--layer", "heritage_sites", "--mode", "replace"]));
    assert_eq!(logged(), before, "an import writes no change per feature");
    let count: u64 = db.sql("SELECT count(*) FROM heritage.sites").parse().unwrap();
    eventually(Duration::from_secs(10), "the import reaching the server", || {
        server.json("/collections/heritage_sites/items?limit=1")["numberMatched"] == count
    });
    eventually(Duration::from_secs(5), "one reload", || metric(&server, "bando_layer_reloads_total") == 1.0);
    db.sql("TRUNCATE heritage.sites");
    eventually(Duration::from_secs(10), "the truncation reaching the server", || {
        server.json("/collections/heritage_sites/items?limit=1")["numberMatched"] == 0
    });
    assert_eq!(metric(&server, "bando_layer_reloads_total"), 2.0);
}
