//! `bando layers`: publishing what was imported without SQL, picked up by a running server at
//! once, with the temporal property chosen by default and changeable.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::{Server, TestDb, output, run_ok, samples};
use serde_json::Value;

/// Waits until `path` answers `status` anonymously, and returns the body.
fn eventually(server: &Server, path: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = server.get(path);
        if r.status() == status {
            return r.json().unwrap_or(Value::Null);
        }
        assert!(Instant::now() < deadline, "{path} did not become {status} within 10 s (it is {})", r.status());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn imported_layers_are_published_listed_and_changed_without_sql_and_servers_follow_at_once() {
    let db = TestDb::new();
    let roads = samples().join("roads.gpkg");
    run_ok(&mut db.bando(&["import", roads.to_str().unwrap(), "--layer", "new_roads"]));
    let server = Server::start(db.bando(&[]));
    assert_eq!(server.get("/collections/new_roads").status(), 404, "an import is internal until published");

    let list = run_ok(&mut db.bando(&["layers", "list"]));
    let row = list.lines().find(|l| l.starts_with("new_roads ")).unwrap_or_else(|| panic!("{list}"));
    let rows = db.sql("SELECT count(*) FROM public.new_roads");
    assert!(row.contains("internal") && row.contains(&rows) && row.contains("(first date)"), "{row}");

    run_ok(&mut db.bando(&["layers", "set", "new_roads", "--access", "public", "--title", "Đường mới"]));
    let collection = eventually(&server, "/collections/new_roads", 200);
    assert_eq!(collection["title"], "Đường mới");
    // The date column is the temporal property by default: `datetime` selects and the
    // collection has a temporal extent.
    let interval = &collection["extent"]["temporal"]["interval"][0];
    assert_eq!(interval[0].as_str().unwrap()[..10], db.sql("SELECT min(opened_on) FROM public.new_roads"));
    let before_2010 = server.json("/collections/new_roads/items?datetime=../2010-01-01T00:00:00Z&limit=1");
    assert_eq!(
        before_2010["numberMatched"].to_string(),
        db.sql("SELECT count(*) FROM public.new_roads WHERE opened_on <= '2010-01-01'")
    );

    // A property that is not a date, a layer the configuration defines, a layer that is not
    // there: refused, with the reason.
    for (args, reason) in [
        (vec!["new_roads", "--temporal", "name"], "not a date or date-time column"),
        (vec!["roads", "--access", "public"], "change it there"),
        (vec!["no_such_layer", "--access", "public"], "no layer"),
    ] {
        let mut all = vec!["layers", "set"];
        all.extend(args.iter());
        let out = output(&mut db.bando(&all));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(reason), "{args:?}: {err}");
    }

    run_ok(&mut db.bando(&["layers", "set", "new_roads", "--no-temporal"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.json("/collections/new_roads")["extent"].get("temporal").is_some() {
        assert!(Instant::now() < deadline, "the temporal property is still there");
        std::thread::sleep(Duration::from_millis(100));
    }
    let all = server.json("/collections/new_roads/items?datetime=../2010-01-01T00:00:00Z&limit=1");
    assert_eq!(all["numberMatched"].to_string(), rows);

    // A layer imported while the server runs is served once published.
    let sites = samples().join("heritage_sites.geojson");
    run_ok(&mut db.bando(&["import", sites.to_str().unwrap(), "--layer", "new_sites"]));
    run_ok(&mut db.bando(&["layers", "set", "new_sites", "--access", "public"]));
    let items = eventually(&server, "/collections/new_sites/items?limit=1", 200);
    assert_eq!(items["numberMatched"].to_string(), db.sql("SELECT count(*) FROM public.new_sites"));

    run_ok(&mut db.bando(&["layers", "set", "new_sites", "--access", "restricted"]));
    eventually(&server, "/collections/new_sites", 404);
    let audit = run_ok(&mut db.bando(&["audit"]));
    assert_eq!(audit.lines().filter(|l| l.contains("layer-set")).count(), 4, "{audit}");
}
