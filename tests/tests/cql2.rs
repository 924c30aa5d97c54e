//! The OGC CQL2 abstract test suite (annex A of OGC 21-065) on its own dataset, imported with
//! `bando import` and queried over HTTP: every case with an expected count, of every class the
//! conformance page declares, in CQL2 Text and in CQL2 JSON; the logical combinations; and the
//! queryables the suite expects, with their names and types as published.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::PathBuf,
};

use e2e::{Server, TestDb, repo, run_ok};
use serde_json::Value;

const SOURCES: [&str; 3] =
    ["ne_110m_admin_0_countries", "ne_110m_populated_places_simple", "ne_110m_rivers_lake_centerlines"];
const CQL2: &str = "http://www.opengis.net/spec/cql2/1.0/conf/";

fn suite() -> PathBuf {
    repo().join("tests/data/ogc-cql2")
}

/// One case of the annex: a filter on a data source and the number of features it must find.
#[derive(Debug)]
struct Case {
    class: String,
    source: String,
    filter: String,
    expected: usize,
}

/// The annex's own corrections: the accent-insensitive class's expected counts for these three
/// filters are wrong upstream (opengeospatial/ogcapi-features issue 1011: `'Ch%'` matches
/// Chișinău, Chicago and Chengdu, `'chis%'` matches Chișinău alone).
fn corrected(filter: &str, expected: usize) -> usize {
    match filter {
        "ACCENTI(name) LIKE accenti('Ch%')" => 3,
        "ACCENTI(CASEI(name)) LIKE accenti(casei('Chiș%'))" | "ACCENTI(CASEI(name)) LIKE accenti(casei('cHis%'))" => 1,
        _ => expected,
    }
}

/// The class a row's "Dependency" column names, as a conformance class slug.
fn class_slug(name: &str) -> String {
    match name.trim() {
        "Property-Property Comparisons" => "property-property".into(),
        other => other.to_lowercase().replace(' ', "-"),
    }
}

/// Every row `|[dependencies |]source |`filter` |count` of every annex file, for the classes
/// that `declared` holds (a row's own dependencies must be declared too).
fn cases(declared: &BTreeSet<String>) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut files: Vec<_> = fs::read_dir(suite().join("annex")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let class = text.lines().find_map(|l| l.strip_prefix(":conf-class: ")).unwrap().trim().to_owned();
        if !declared.contains(&class) {
            continue;
        }
        for line in text.lines() {
            let cells: Vec<&str> = line.split(" |").map(|c| c.trim().trim_start_matches('|')).collect();
            let (deps, source, filter, count) = match cells.as_slice() {
                [source, filter, count] => ("n/a", *source, *filter, *count),
                [deps, source, filter, count] => (*deps, *source, *filter, *count),
                _ => continue,
            };
            let (Some(filter), Ok(expected)) =
                (filter.strip_prefix('`').and_then(|f| f.strip_suffix('`')), count.parse::<usize>())
            else {
                continue;
            };
            if !SOURCES.contains(&source)
                || (deps != "n/a" && !deps.split(',').all(|d| declared.contains(&class_slug(d))))
            {
                continue;
            }
            let filter = unescape(filter);
            let expected = corrected(&filter, expected);
            cases.push(Case { class: class.clone(), source: source.into(), filter, expected });
        }
    }
    cases
}

/// AsciiDoc's escapes, as the annex writes them (`\<=`).
fn unescape(s: &str) -> String {
    s.replace("\\<", "<").replace("\\(", "(")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The ids a filter finds, or the server's answer when it is not a 200.
fn found(server: &Server, source: &str, filter: &str, lang: &str) -> Result<BTreeSet<i64>, String> {
    let path = format!("/collections/{source}/items?limit=10000&filter-lang={lang}&filter={}", enc(filter));
    let r = server.get(&path);
    let status = r.status();
    let body: Value = r.json().map_err(|e| format!("{status}: {e}"))?;
    if status != 200 {
        return Err(format!("{status}: {}", body["detail"]));
    }
    Ok(body["features"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect())
}

/// The filter as CQL2 JSON, translated by the cql2 crate's parser.
fn as_json(filter: &str) -> String {
    let expr = cql2::parse_text(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    expr.to_json().unwrap_or_else(|e| panic!("{filter}: {e}"))
}

fn start() -> (TestDb, Server) {
    let db = TestDb::new();
    let gpkg = suite().join("ne110m4cql2.gpkg");
    // A file of three layers is not cut to its first: without a choice the import is refused
    // and names them.
    let refused = e2e::output(&mut db.bando(&["import", gpkg.to_str().unwrap(), "--layer", "all_of_it"]));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(SOURCES.iter().all(|s| stderr.contains(s)), "{stderr}");
    for source in SOURCES {
        run_ok(&mut db.bando(&["import", gpkg.to_str().unwrap(), "--source-layer", source, "--layer", source]));
    }
    let server = Server::start_admin(db.bando(&[]));
    (db, server)
}

#[test]
fn every_declared_class_passes_its_annex_on_the_test_dataset() {
    let (_db, server) = start();
    let conformance = server.json("/conformance");
    let declared: BTreeSet<String> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str()?.strip_prefix(CQL2).map(str::to_owned))
        .collect();
    let cases = cases(&declared);
    let per_class = cases.iter().fold(BTreeMap::<&str, usize>::new(), |mut m, c| {
        *m.entry(c.class.as_str()).or_default() += 1;
        m
    });
    // Every declared class with data cases has them read (the parser reads the annex right).
    for class in ["basic-cql2", "advanced-comparison-operators", "spatial-functions", "temporal-functions"] {
        assert!(per_class.get(class).is_some_and(|&n| n >= 10), "{class}: {per_class:?}");
    }
    let mut failures = Vec::new();
    for case in &cases {
        for (lang, filter) in [("cql2-text", case.filter.clone()), ("cql2-json", as_json(&case.filter))] {
            match found(&server, &case.source, &filter, lang) {
                Ok(ids) if ids.len() == case.expected => {}
                Ok(ids) => failures.push(format!("{case:?} ({lang}): found {}", ids.len())),
                Err(e) => failures.push(format!("{case:?} ({lang}): {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), cases.len() * 2, failures.join("\n"));
}

/// What a predicate finds true and what it finds false (a null makes it neither).
struct Truth {
    yes: BTreeSet<i64>,
    no: BTreeSet<i64>,
}

impl Truth {
    fn not(&self) -> Self {
        Self { yes: self.no.clone(), no: self.yes.clone() }
    }
    fn and(&self, o: &Self) -> Self {
        Self { yes: self.yes.intersection(&o.yes).copied().collect(), no: self.no.union(&o.no).copied().collect() }
    }
    fn or(&self, o: &Self) -> Self {
        Self { yes: self.yes.union(&o.yes).copied().collect(), no: self.no.intersection(&o.no).copied().collect() }
    }
}

#[test]
fn logical_combinations_agree_with_the_annex_and_with_set_algebra() {
    let (_db, server) = start();
    let text = fs::read_to_string(suite().join("annex/annex_ats_basic-cql2.adoc")).unwrap();
    let places = "ne_110m_populated_places_simple";
    let all = found(&server, places, "true", "cql2-text").unwrap();
    assert_eq!(all.len(), 243);
    assert!(found(&server, places, "false", "cql2-text").unwrap().is_empty());
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in text.lines() {
        let cells: Vec<String> = line.split(" |").map(|c| unescape(c.trim().trim_start_matches('|'))).collect();
        let [p1, p2, p3, p4, n] = cells.as_slice() else { continue };
        let (Ok(expected), Some(p)) = (
            n.parse::<usize>(),
            [p1, p2, p3, p4].map(|p| p.strip_prefix('`')?.strip_suffix('`')).into_iter().collect::<Option<Vec<_>>>(),
        ) else {
            continue;
        };
        rows += 1;
        let filter = format!("(NOT ({}) AND {}) OR ({} and {}) or not ({} OR {})", p[1], p[0], p[2], p[3], p[0], p[3]);
        // The same expression computed from each predicate's own results, in CQL2's three-valued
        // logic: `NOT p` of a null is unknown, so a predicate's false set is what `NOT (p)` finds.
        let truth: Vec<Truth> = p
            .iter()
            .map(|q| Truth {
                yes: found(&server, places, q, "cql2-text").unwrap(),
                no: found(&server, places, &format!("NOT ({q})"), "cql2-text").unwrap(),
            })
            .collect();
        let algebra = truth[1].not().and(&truth[0]).or(&truth[2].and(&truth[3])).or(&truth[0].or(&truth[3]).not()).yes;
        match found(&server, places, &filter, "cql2-text") {
            Ok(ids) if ids.len() == expected && ids == algebra => {}
            Ok(ids) => failures.push(format!(
                "{filter}: {} found, {expected} expected, {} by algebra",
                ids.len(),
                algebra.len()
            )),
            Err(e) => failures.push(format!("{filter}: {e}")),
        }
    }
    assert!(rows >= 70, "only {rows} combinations read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn queryables_keep_the_names_and_types_the_data_was_published_with() {
    let (_db, server) = start();
    for source in SOURCES {
        let expected: Value =
            serde_json::from_str(&fs::read_to_string(suite().join(format!("queryables-{source}.json"))).unwrap())
                .unwrap();
        let ours = server.json(&format!("/collections/{source}/queryables"));
        for (name, want) in expected["properties"].as_object().unwrap() {
            if want.get("$ref").is_some() {
                continue; // the geometry, which Bando lists as `geometry` (and accepts as `geom`)
            }
            let got = &ours["properties"][name];
            assert_eq!(got["type"], want["type"], "{source}.{name}: {got}");
            assert_eq!(got.get("format"), want.get("format"), "{source}.{name}: {got}");
        }
    }
    // A boolean stays a boolean on the way out too: in GeoJSON, and in tiles as MVT's boolean
    // value type (GDAL's decoder reads those back as Boolean fields).
    let flagged = server.json("/collections/ne_110m_populated_places_simple/items?filter=boolean%3Dtrue");
    let flagged = flagged["features"].as_array().unwrap();
    assert!(!flagged.is_empty() && flagged.iter().all(|f| f["properties"]["boolean"] == Value::Bool(true)));
    let dir = tempfile::tempdir().unwrap();
    let tile = dir.path().join("tile.mvt");
    fs::write(&tile, server.get("/tiles/ne_110m_populated_places_simple/0/0/0.mvt").bytes().unwrap()).unwrap();
    let decoded = run_ok(
        std::process::Command::new("ogrinfo")
            .args(["-ro", "-al", "-so", "-oo", "Z=0", "-oo", "X=0", "-oo", "Y=0"])
            .arg(&tile),
    );
    assert!(decoded.contains("boolean: Integer(Boolean)"), "{decoded}");
    // And in the downloads that have a boolean type.
    for f in ["gpkg", "fgb"] {
        let file = dir.path().join(format!("places.{f}"));
        let path = format!("/collections/ne_110m_populated_places_simple/items?f={f}");
        fs::write(&file, server.get(&path).bytes().unwrap()).unwrap();
        let info = run_ok(std::process::Command::new("ogrinfo").args(["-ro", "-al", "-so"]).arg(&file));
        assert!(info.contains("boolean: Integer(Boolean)"), "{f}: {info}");
    }
}

#[test]
fn coordinates_come_back_bit_for_bit_as_postgis_stores_them() {
    let (db, server) = start();
    let positions = |g: &Value| {
        fn walk(v: &Value, out: &mut Vec<f64>) {
            match v {
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Number(n) => out.push(n.as_f64().unwrap()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&g["coordinates"], &mut out);
        out
    };
    for source in SOURCES {
        // PostgreSQL writes a float8 as the shortest text that reads back to the same bits
        // (ST_AsGeoJSON stops at 17 decimals, which is not enough for 0.0238…).
        let stored = db.sql(&format!(
            "SELECT id, string_agg(ST_X(p.geom) || ' ' || ST_Y(p.geom), ' ' ORDER BY p.path)
             FROM public.{source}, ST_DumpPoints(geom) p GROUP BY id ORDER BY id"
        ));
        let served = server.json(&format!("/collections/{source}/items?limit=10000"));
        let served: BTreeMap<i64, &Value> = served["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_i64().unwrap(), &f["geometry"]))
            .collect();
        let mut compared = 0;
        for line in stored.lines() {
            let (id, numbers) = line.split_once('|').unwrap();
            let want: Vec<f64> = numbers.split(' ').map(|n| n.parse().unwrap()).collect();
            let got = positions(served[&id.parse::<i64>().unwrap()]);
            assert_eq!(want.len(), got.len(), "{source} {id}");
            for (w, g) in want.iter().zip(&got) {
                assert_eq!(w.to_bits(), g.to_bits(), "{source} {id}: {w} stored, {g} served");
            }
            compared += want.len();
        }
        assert_eq!(served.len(), stored.lines().count(), "{source}");
        assert!(compared > 0, "{source}");
    }
    // Beyond Web Mercator's ±85.05°: Antarctica comes back whole, in the extent, and a box
    // south of −86° finds it.
    let countries = "ne_110m_admin_0_countries";
    let south = server.json(&format!("/collections/{countries}/items?bbox=-180,-90,180,-86"));
    let names: Vec<&str> =
        south["features"].as_array().unwrap().iter().map(|f| f["properties"]["NAME"].as_str().unwrap()).collect();
    assert_eq!(names, ["Antarctica"]);
    let extent = server.json(&format!("/collections/{countries}"))["extent"]["spatial"]["bbox"][0].clone();
    assert_eq!(
        extent[1],
        db.sql(&format!("SELECT ST_YMin(ST_Extent(geom)) FROM public.{countries}")).parse::<f64>().unwrap()
    );
}

#[test]
fn invalid_geometry_literals_are_refused_with_the_reason() {
    let (_db, server) = start();
    for (filter, reason) in [
        ("S_INTERSECTS(geom,POLYGON((0 0, 1 1)))", "4 positions"),
        ("S_INTERSECTS(geom,POLYGON((0 0, 1 0, 1 1, 0 1)))", "end where it starts"),
        ("S_INTERSECTS(geom,LINESTRING(0 0))", "2 positions"),
        ("S_INTERSECTS(geom,BBOX(0,10,1,5))", "south edge"),
        ("S_INTERSECTS(geom,BBOX(0,5,0,10))", "no area"),
        ("S_INTERSECTS(geom,POLYGON((0 0, 1 1, 2 2, 0 0)))", "no area"),
        ("S_INTERSECTS(geom,POLYGON((0 0, 2 2, 2 0, 0 2, 0 0)))", "invalid geometry"),
    ] {
        let r = server.get(&format!("/collections/ne_110m_admin_0_countries/items?filter={}", enc(filter)));
        assert_eq!(r.status(), 400, "{filter}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{filter}");
        let detail = r.json::<Value>().unwrap()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(reason), "{filter}: {detail}");
    }
}
