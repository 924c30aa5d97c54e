//! OGC API - Features Part 1 on the sample data: items as GeoJSON, paging, bbox, datetime and
//! property filters, one item, and the errors.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use e2e::{Server, bando};
use serde_json::Value;

fn get(server: &Server, path: &str) -> (u16, String, Value) {
    let r = server.get(path);
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ct, r.json().unwrap_or(Value::Null))
}

#[test]
fn paging_walks_a_whole_collection_with_nothing_lost_or_repeated() {
    let server = Server::start_admin(bando(&[]));
    let (status, ct, first) = get(&server, "/collections/roads/items?limit=500");
    assert_eq!((status, ct.as_str()), (200, "application/geo+json"));
    let matched = first["numberMatched"].as_u64().unwrap();
    assert_eq!(matched, 2217);
    let mut seen = BTreeSet::new();
    let mut page = first;
    let mut pages = 0;
    loop {
        for f in page["features"].as_array().unwrap() {
            assert!(seen.insert(f["id"].as_i64().unwrap()), "feature {} twice", f["id"]);
        }
        assert_eq!(page["numberReturned"].as_u64().unwrap() as usize, page["features"].as_array().unwrap().len());
        pages += 1;
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_owned());
        let Some(next) = next else { break };
        page = reqwest::blocking::get(next).unwrap().json().unwrap();
    }
    assert_eq!(seen.len() as u64, matched);
    assert_eq!(pages, 5);
    let (_, _, last) = get(&server, "/collections/roads/items?limit=500&offset=2000");
    assert!(last["links"].as_array().unwrap().iter().any(|l| l["rel"] == "prev"));
}

#[test]
fn filters_select_exactly_the_matching_features() {
    let server = Server::start_admin(bando(&[]));
    // bbox around Cần Thơ's centre: every returned point lies inside, and a feature crossing
    // the box's edge (a commune) is included.
    let (_, _, body) = get(&server, "/collections/heritage_sites/items?bbox=105.7,9.95,105.85,10.1&limit=1000");
    let features = body["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for f in features {
        let c = &f["geometry"]["coordinates"];
        let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((105.7..=105.85).contains(&x) && (9.95..=10.1).contains(&y), "{c}");
    }
    let (_, _, communes) = get(&server, "/collections/communes/items?bbox=105.78,10.03,105.781,10.031");
    assert!(communes["numberMatched"].as_u64().unwrap() >= 1);

    let (_, _, rank) = get(&server, "/collections/heritage_sites/items?rank=special_national&limit=100");
    let names: Vec<&str> =
        rank["features"].as_array().unwrap().iter().map(|f| f["properties"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Chùa Kh'leang"), "{names:?}");
    assert!(rank["features"].as_array().unwrap().iter().all(|f| f["properties"]["rank"] == "special_national"));

    let (_, _, dated) = get(&server, "/collections/heritage_sites/items?datetime=2016-01-01/2017-12-31&limit=1000");
    for f in dated["features"].as_array().unwrap() {
        let d = f["properties"]["recognized_on"].as_str().unwrap();
        assert!(("2016-01-01"..="2017-12-31").contains(&d), "{d}");
    }
    let (_, _, open) = get(&server, "/collections/heritage_sites/items?datetime=../2016-01-01&limit=1");
    let (_, _, after) = get(&server, "/collections/heritage_sites/items?datetime=2016-01-02/..&limit=1");
    let (_, _, all_dated) = get(&server, "/collections/heritage_sites/items?datetime=../..&limit=1");
    assert_eq!(
        open["numberMatched"].as_u64().unwrap() + after["numberMatched"].as_u64().unwrap(),
        all_dated["numberMatched"].as_u64().unwrap()
    );
}

#[test]
fn one_item_by_id() {
    let server = Server::start_admin(bando(&[]));
    let (status, ct, site) = get(&server, "/collections/heritage_sites/items/6");
    assert_eq!((status, ct.as_str()), (200, "application/geo+json"));
    assert_eq!(site["properties"]["name"], "Đình Tân Phước");
    assert_eq!(site["geometry"]["coordinates"], serde_json::json!([105.6512, 9.789]));
    // The VN-2000 layer comes out in lon/lat.
    let (_, _, wh) = get(&server, "/collections/warehouses/items?limit=1");
    let x = wh["features"][0]["geometry"]["coordinates"][0].as_f64().unwrap();
    assert!((105.2..106.4).contains(&x), "{x}");
}

#[test]
fn bad_requests_get_problem_json() {
    let server = Server::start(bando(&[]));
    for (path, status) in [
        ("/collections/roads/items?limit=0", 400),
        ("/collections/roads/items?f=xml", 400),
        ("/collections/roads/items?crs=http://www.opengis.net/def/crs/EPSG/0/2154", 400),
        ("/collections/roads/items?crs=EPSG:abc", 400),
        ("/collections/roads/items?bbox=1,2,3,4&bbox-crs=urn:nothing", 400),
        ("/collections/roads/items?bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326", 400),
        ("/collections/roads/items?filter=class%20=", 400),
        ("/collections/roads/items?filter=colour%20=%20'red'", 400),
        ("/collections/roads/items?filter=class='x'&filter-lang=cql-text", 400),
        ("/collections/roads/items?filter=%7B%22op%22", 400),
        ("/collections/roads/items?filter=%7B%22op%22:%22=%22%7D&filter-lang=cql2-json", 400),
        ("/collections/roads/items?sortby=colour", 400),
        ("/collections/roads/items?properties=colour", 400),
        ("/collections/heritage_sites/items/6?crs=http://www.opengis.net/def/crs/EPSG/0/1", 400),
        ("/collections/heritage_sites/items/6?limit=1", 400),
        ("/collections/roads/items?limit=abc", 400),
        ("/collections/roads/items?offset=-1", 400),
        ("/collections/roads/items?bbox=1,2,3", 400),
        ("/collections/roads/items?bbox=105,10,106,9", 400),
        ("/collections/roads/items?bbox=a,b,c,d", 400),
        ("/collections/roads/items?bbox=0,0,1,NaN", 400),
        ("/collections/roads/items?datetime=yesterday", 400),
        ("/collections/roads/items?datetime=2021-01-01/2020-01-01", 400),
        ("/collections/roads/items?colour=red", 400),
        ("/collections/roads/items?lanes=many", 400),
        ("/collections/roads/items?limit=5&limit=6", 400),
        ("/collections/nosuch/items", 404),
        ("/collections/roads/items/999999999", 404),
        ("/collections/roads/items/abc", 404),
    ] {
        let r = server.get(path);
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
    }
    // The position of a parse error is named.
    let r: Value = server.get("/collections/roads/items?filter=class%20%3D%20%27a%27%20AND").json().unwrap();
    assert!(r["detail"].as_str().unwrap().contains("at character 16"), "{r}");
    assert_eq!(server.get("/health").status(), 200);
}

#[test]
fn a_limit_above_the_maximum_returns_the_maximum() {
    // OGC 17-069r4, /req/core/fc-limit-response-1 C: not an error; the maximum is used.
    let server = Server::start_admin({
        let mut cmd = bando(&[]);
        cmd.env("BANDO_FEATURES__MAX_LIMIT", "100");
        cmd
    });
    let (status, _, body) = get(&server, "/collections/roads/items?limit=500");
    assert_eq!(status, 200);
    assert_eq!(body["numberReturned"], 100);
    let next = body["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next").unwrap();
    assert!(next["href"].as_str().unwrap().contains("limit=100&offset=100"), "{next}");
}

#[test]
fn the_largest_offset_answers_an_empty_last_page() {
    let server = Server::start(bando(&[]));
    let (status, _, page) = get(&server, &format!("/collections/roads/items?offset={}&limit=10000", u64::MAX));
    assert_eq!(status, 200);
    assert_eq!(page["numberReturned"], 0);
    let rels: Vec<&str> = page["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert!(rels.contains(&"prev") && !rels.contains(&"next"), "{rels:?}");
    let html = server.get(&format!("/collections/roads/items?offset={}&f=html", u64::MAX));
    assert_eq!(html.status(), 200);
}

#[test]
fn datetime_on_a_collection_without_time_matches_every_feature() {
    let server = Server::start(bando(&[]));
    let (_, _, all) = get(&server, "/collections/airports/items?limit=1");
    assert!(server.json("/collections/airports").get("extent").and_then(|e| e.get("temporal")).is_none());
    for interval in ["2020-01-01", "../2000-01-01", "2030-01-01/.."] {
        let (status, _, dated) = get(&server, &format!("/collections/airports/items?limit=1&datetime={interval}"));
        assert_eq!(status, 200);
        assert_eq!(dated["numberMatched"], all["numberMatched"], "{interval}");
    }
    assert!(all["numberMatched"].as_u64().unwrap() > 0);
}

#[test]
fn link_headers_mirror_the_paging_links_of_the_body() {
    let server = Server::start(bando(&[]));
    for path in ["/collections/roads/items?limit=5&offset=10", "/collections/roads/items?limit=5&offset=10&f=html"] {
        let r = server.get(path);
        let header = r.headers()["link"].to_str().unwrap().to_owned();
        let mut from_header: Vec<(String, String)> = header
            .split(", <")
            .map(|l| {
                let (href, rest) = l.trim_start_matches('<').split_once(">; rel=\"").unwrap();
                (rest.split('"').next().unwrap().to_owned(), href.to_owned())
            })
            .collect();
        from_header.sort();
        let rels: Vec<&str> = from_header.iter().map(|(rel, _)| rel.as_str()).collect();
        assert_eq!(rels, ["alternate", "next", "prev", "self"], "{path}");
        if !path.ends_with("f=html") {
            let body: Value = r.json().unwrap();
            let mut from_body: Vec<(String, String)> = body["links"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["rel"] != "collection")
                .map(|l| (l["rel"].as_str().unwrap().to_owned(), l["href"].as_str().unwrap().to_owned()))
                .collect();
            from_body.sort();
            assert_eq!(from_header, from_body);
        }
    }
    let one = server.get("/collections/roads/items/5");
    assert!(one.headers()["link"].to_str().unwrap().contains("rel=\"self\""));
}

/// `(id, metres)` of a `near` answer's features, in answer order.
fn distances(body: &Value) -> Vec<(i64, f64)> {
    let features = body["features"].as_array().unwrap();
    features.iter().map(|f| (f["id"].as_i64().unwrap(), f["properties"]["distance_m"].as_f64().unwrap())).collect()
}

/// `(id, metres)` as PostGIS measures `geography`, nearest first, for the rows `condition` keeps.
fn postgis_distances(
    db: &e2e::TestDb,
    table: &str,
    lon: f64,
    lat: f64,
    condition: &str,
    limit: usize,
) -> Vec<(i64, f64)> {
    let here = format!("ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography");
    let rows = db.sql(&format!(
        "SELECT id || ' ' || ST_Distance(geom::geography, {here}) FROM {table} WHERE {condition}
         ORDER BY ST_Distance(geom::geography, {here}), id LIMIT {limit}"
    ));
    rows.lines()
        .map(|l| {
            let (id, d) = l.split_once(' ').unwrap();
            (id.parse().unwrap(), d.parse().unwrap())
        })
        .collect()
}

fn assert_same_to_a_centimetre(ours: &[(i64, f64)], postgis: &[(i64, f64)], what: &str) {
    assert_eq!(ours.len(), postgis.len(), "{what}: {ours:?} vs {postgis:?}");
    for ((id, d), (pid, pd)) in ours.iter().zip(postgis) {
        assert_eq!(id, pid, "{what}: {ours:?} vs {postgis:?}");
        assert!((d - pd).abs() < 0.01, "{what}: feature {id} is {d} m away, PostGIS says {pd} m");
    }
}

#[test]
fn nearest_features_come_nearest_first_with_the_distances_postgis_measures() {
    let db = e2e::TestDb::new();
    e2e::run_ok(&mut db.bando(&["import", "--all"]));
    let server = Server::start_admin(db.bando(&[]));
    let (lon, lat) = (105.7851, 10.0342);
    for (layer, table) in [
        ("heritage_sites", "heritage.sites"),
        ("roads", "transport.roads"),
        ("communes", "admin.communes"),
        ("rivers", "env.rivers"),
    ] {
        let (status, _, body) = get(&server, &format!("/collections/{layer}/items?near={lon},{lat}&limit=7"));
        assert_eq!(status, 200, "{layer}: {body}");
        let expected = postgis_distances(&db, table, lon, lat, "true", 7);
        assert_same_to_a_centimetre(&distances(&body), &expected, layer);
    }

    // Within a distance, with a filter and a box: every match, and numberMatched counts them.
    let path = format!("/collections/heritage_sites/items?near={lon},{lat}&within=3000&kind=chùa&limit=100");
    let (status, _, body) = get(&server, &path);
    assert_eq!(status, 200, "{body}");
    let here = format!("ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography");
    let condition = format!("kind = 'chùa' AND ST_Distance(geom::geography, {here}) <= 3000");
    let expected = postgis_distances(&db, "heritage.sites", lon, lat, &condition, 100);
    assert!(!expected.is_empty(), "the sample has pagodas within 3 km");
    assert_same_to_a_centimetre(&distances(&body), &expected, "pagodas within 3 km");
    assert_eq!(body["numberMatched"], expected.len());
    let boxed = format!("{path}&bbox={},{},{},{}", lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01);
    let (_, _, body) = get(&server, &boxed);
    let inside = format!(
        "{condition} AND geom && ST_MakeEnvelope({}, {}, {}, {}, 4326)",
        lon - 0.01,
        lat - 0.01,
        lon + 0.01,
        lat + 0.01
    );
    assert_same_to_a_centimetre(
        &distances(&body),
        &postgis_distances(&db, "heritage.sites", lon, lat, &inside, 100),
        "in a box",
    );
    let page = server.get(&format!("{path}&f=html")).text().unwrap();
    let header = page.split("</tr>").next().unwrap();
    assert!(header.ends_with("<th>distance_m</th>"), "the page's table heads its distance column: {header}");

    for bad in
        ["near=105.7", "near=a,b", "near=200,10", "within=100", "near=105.7,10&within=-1", "near=105.7,10&sortby=name"]
    {
        let (status, ct, body) = get(&server, &format!("/collections/heritage_sites/items?{bad}"));
        assert_eq!((status, ct.as_str()), (400, "application/problem+json"), "{bad}: {body}");
    }
}
