//! OGC API - Features beyond the basics, on the sample data: the landing page, conformance and
//! OpenAPI links, HTML pages, Part 2 (CRS) against PROJ, Part 3 (CQL2 filters and queryables),
//! `sortby`, `properties` and `q`.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use e2e::{Server, bando, run_ok};
use serde_json::Value;

const EPSG: &str = "http://www.opengis.net/def/crs/EPSG/0/";
/// EPSG:9210 (VN-2000 / TM-3 105-45) with EPSG:6960's published datum shift.
const TM3_105_45: &str = "+proj=tmerc +lat_0=0 +lon_0=105.75 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 \
    +towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278 +units=m";

fn features(body: &Value) -> &Vec<Value> {
    body["features"].as_array().unwrap()
}

fn ids(body: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = features(body).iter().map(|f| f["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Ids matching a filter, every page at once.
fn filtered(server: &Server, layer: &str, filter: &str, extra: &str) -> Vec<i64> {
    ids(&server.json(&format!("/collections/{layer}/items?limit=10000&filter={}{extra}", enc(filter))))
}

/// Ids of all features for which `keep` holds, decided here from the GeoJSON.
fn expected(all: &Value, keep: impl Fn(&Value) -> bool) -> Vec<i64> {
    let mut ids: Vec<i64> =
        features(all).iter().filter(|f| keep(&f["properties"])).map(|f| f["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn landing_page_conformance_and_openapi_link_up() {
    let server = Server::start_admin(bando(&[]));
    let landing = server.json("/");
    let link = |rel: &str| landing["links"].as_array().unwrap().iter().find(|l| l["rel"] == rel).unwrap().clone();
    assert_eq!(link("service-desc")["type"], "application/vnd.oai.openapi+json;version=3.0");
    assert_eq!(link("service-doc")["type"], "text/html");
    assert!(landing["links"].as_array().unwrap().iter().all(|l| l["type"].is_string() && l["href"].is_string()));
    let api = server.get("/api");
    assert_eq!(api.headers()["content-type"], "application/vnd.oai.openapi+json;version=3.0");
    let api: Value = api.json().unwrap();
    assert_eq!(api["openapi"], "3.0.3");
    for id in e2e::sample_layer_ids() {
        assert!(api["paths"][format!("/collections/{id}/items")]["get"].is_object(), "{id}");
    }
    // Each queryable of a layer is a query parameter of its items path.
    let params: Vec<&str> = api["paths"]["/collections/heritage_sites/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["name", "kind", "rank", "recognized_on", "address"]);

    let conformance = server.json("/conformance");
    let classes: Vec<&str> =
        conformance["conformsTo"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for c in ["ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/html", "ogcapi-features-2/1.0/conf/crs"]
        .iter()
        .chain(&[
            "ogcapi-features-3/1.0/conf/filter",
            "cql2/1.0/conf/spatial-functions",
            "cql2/1.0/conf/temporal-functions",
        ])
    {
        assert!(classes.contains(&format!("http://www.opengis.net/spec/{c}").as_str()), "{c}");
    }
    // Nothing is declared that is not implemented: no arithmetic, arrays or property-property.
    assert!(!classes.iter().any(|c| c.ends_with("/arithmetic") || c.ends_with("/array-functions")));
}

#[test]
fn html_pages_for_people_and_json_for_programs() {
    let server = Server::start(bando(&[]));
    let client = reqwest::blocking::Client::new();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (path, map) in [
        ("/", false),
        ("/conformance", false),
        ("/collections", false),
        ("/collections/heritage_sites", true),
        ("/collections/heritage_sites/items", true),
        ("/collections/heritage_sites/items/6", true),
        ("/api.html", false),
    ] {
        let r = client.get(format!("{}{path}", server.base)).header("accept", browser).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        let page = r.text().unwrap();
        assert!(page.starts_with("<!doctype html>"), "{path}");
        assert_eq!(page.contains("<svg class=\"map\""), map, "{path}");
        // Nothing on the page comes from another host.
        for attr in page.split("src=\"").chain(page.split("href=\"")).skip(1) {
            assert!(!attr.starts_with("http") || attr.starts_with(&server.base), "{path}: {attr:.60}");
        }
    }
    let item = server.get("/collections/heritage_sites/items/6?f=html").text().unwrap();
    assert!(item.contains("Đình Tân Phước") && item.contains("<circle"));
    let json = client.get(format!("{}/collections", server.base)).header("accept", "application/json").send().unwrap();
    assert_eq!(json.headers()["content-type"], "application/json");
}

#[test]
fn collections_describe_their_crs_and_queryables() {
    let server = Server::start_admin(bando(&[]));
    let c = server.json("/collections/heritage_sites");
    let crs: Vec<&str> = c["crs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(crs[0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    for code in [4326, 3857, 4756, 3405, 3406, 9205, 9210, 9218] {
        assert!(crs.contains(&format!("{EPSG}{code}").as_str()), "{code}");
    }
    assert_eq!(c["storageCrs"], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    assert!(c["extent"]["temporal"]["interval"][0][0].is_string());
    let q = server.get("/collections/heritage_sites/queryables");
    assert_eq!(q.headers()["content-type"], "application/schema+json");
    let q: Value = q.json().unwrap();
    assert_eq!(q["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(q["properties"]["geometry"]["format"], "geometry-point");
    assert_eq!(q["properties"]["recognized_on"]["format"], "date");
    assert_eq!(q["additionalProperties"], false);
    // Private properties are queryable for the cleared (the admin here); access.rs covers the rest.
    let parcels = server.json("/collections/land_parcels/queryables");
    assert!(parcels["properties"].get("owner_name").is_some() && parcels["properties"].get("id_number").is_none());
}

#[test]
fn crs_answers_agree_with_proj() {
    let server = Server::start_admin(bando(&[]));
    let lonlat = server.json("/collections/warehouses/items/1");
    let (lon, lat) = {
        let c = &lonlat["geometry"]["coordinates"];
        (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
    };
    let proj = |to: &str| -> (f64, f64) {
        let out = run_ok(
            Command::new("sh")
                .arg("-c")
                .arg(format!("echo {lon} {lat} | cs2cs -f %.4f +proj=longlat +datum=WGS84 +to {to}")),
        );
        let v: Vec<f64> = out.split_whitespace().take(2).map(|s| s.parse().unwrap()).collect();
        (v[0], v[1])
    };
    for (code, to) in [
        (9210, TM3_105_45.to_owned()),
        (
            3405,
            TM3_105_45.replace("+proj=tmerc +lat_0=0 +lon_0=105.75 +k=0.9999 +x_0=500000 +y_0=0", "+proj=utm +zone=48"),
        ),
        (3857, "+init=epsg:3857".to_owned()),
    ] {
        let r = server.get(&format!("/collections/warehouses/items/1?crs={EPSG}{code}"));
        assert_eq!(r.headers()["content-crs"], format!("<{EPSG}{code}>").as_str());
        let body: Value = r.json().unwrap();
        let c = &body["geometry"]["coordinates"];
        let (x, y) = proj(&to);
        let off = (c[0].as_f64().unwrap() - x).hypot(c[1].as_f64().unwrap() - y);
        assert!(off < 0.02, "EPSG:{code}: {c} against PROJ's {x} {y}: {off} m");
    }
    // EPSG:4326 is latitude first.
    let swapped = server.json(&format!("/collections/warehouses/items/1?crs={EPSG}4326"));
    assert_eq!(swapped["geometry"]["coordinates"], serde_json::json!([lat, lon]));
    // A box in VN-2000 around the warehouse finds it, in items and in filters.
    let (x, y) = proj(TM3_105_45);
    let tm3_box = format!("{},{},{},{}", x - 50.0, y - 50.0, x + 50.0, y + 50.0);
    let found = server.json(&format!("/collections/warehouses/items?bbox={tm3_box}&bbox-crs={EPSG}9210"));
    assert!(ids(&found).contains(&1), "{found}");
    let polygon = format!(
        "S_INTERSECTS(geometry, POLYGON(({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b})))",
        a = x - 50.0,
        b = y - 50.0,
        c = x + 50.0,
        d = y + 50.0
    );
    assert_eq!(filtered(&server, "warehouses", &polygon, &format!("&filter-crs={EPSG}9210")), ids(&found));
    let latlon_box = format!("{},{},{},{}", lat - 0.001, lon - 0.001, lat + 0.001, lon + 0.001);
    let by_4326 = server.json(&format!("/collections/warehouses/items?bbox={latlon_box}&bbox-crs={EPSG}4326"));
    assert!(ids(&by_4326).contains(&1));
    // The default is announced too.
    let r = server.get("/collections/warehouses/items?limit=1");
    assert_eq!(r.headers()["content-crs"], "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>");
}

#[test]
fn cql2_filters_select_exactly_what_they_say() {
    let server = Server::start_admin(bando(&[]));
    let sites = server.json("/collections/heritage_sites/items?limit=10000");
    let parcels = server.json("/collections/land_parcels/items?limit=10000");
    let text = |p: &Value, k: &str| p[k].as_str().unwrap_or("").to_owned();
    let num = |p: &Value, k: &str| p[k].as_f64().unwrap_or(f64::NAN);

    // Basic CQL2.
    let special = expected(&sites, |p| p["rank"] == "special_national");
    assert!(!special.is_empty());
    assert_eq!(filtered(&server, "heritage_sites", "rank = 'special_national'", ""), special);
    assert_eq!(
        filtered(&server, "land_parcels", "land_use <> 'LUA' AND NOT area_m2 < 2000", ""),
        expected(&parcels, |p| p["land_use"] != "LUA" && num(p, "area_m2") >= 2000.0)
    );
    // Advanced comparison operators.
    assert_eq!(
        filtered(&server, "land_parcels", "land_use IN ('LUA', 'ONT') AND area_m2 BETWEEN 500 AND 1000", ""),
        expected(&parcels, |p| {
            ["LUA", "ONT"].contains(&text(p, "land_use").as_str()) && (500.0..=1000.0).contains(&num(p, "area_m2"))
        })
    );
    let pagodas = filtered(&server, "heritage_sites", "name LIKE 'Chùa%'", "");
    assert!(!pagodas.is_empty());
    assert_eq!(pagodas, expected(&sites, |p| text(p, "name").starts_with("Chùa")));
    // Case- and accent-insensitive comparison.
    let den_tho = filtered(&server, "heritage_sites", "ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('%DEN THO%'))", "");
    assert_eq!(den_tho, expected(&sites, |p| text(p, "name").to_lowercase().contains("đền thờ")));
    assert_eq!(
        filtered(&server, "heritage_sites", "CASEI(name) = casei('ĐÌNH TÂN PHƯỚC')", ""),
        expected(&sites, |p| p["name"] == "Đình Tân Phước")
    );
    // Spatial functions agree with bbox.
    let in_box = ids(&server.json("/collections/land_parcels/items?limit=10000&bbox=105.7,10.0,105.8,10.05"));
    assert!(!in_box.is_empty());
    let envelope = "S_INTERSECTS(geometry, BBOX(105.7, 10.0, 105.8, 10.05))";
    assert_eq!(filtered(&server, "land_parcels", envelope, ""), in_box);
    let polygon = "POLYGON((105.7 10.0, 105.8 10.0, 105.8 10.05, 105.7 10.05, 105.7 10.0))";
    let within = filtered(&server, "land_parcels", &format!("S_WITHIN(geometry, {polygon})"), "");
    let disjoint = filtered(&server, "land_parcels", &format!("S_DISJOINT(geometry, {polygon})"), "");
    assert!(!within.is_empty() && within.len() < in_box.len());
    assert_eq!(in_box.len() + disjoint.len(), features(&parcels).len());
    // Temporal functions.
    let after = filtered(&server, "heritage_sites", "T_AFTER(recognized_on, DATE('2016-01-01'))", "");
    assert_eq!(after, expected(&sites, |p| p["recognized_on"].as_str().is_some_and(|d| d > "2016-01-01")));
    let during = filtered(&server, "heritage_sites", "T_DURING(recognized_on, INTERVAL('2000-01-01', '..'))", "");
    assert_eq!(during, expected(&sites, |p| p["recognized_on"].as_str().is_some_and(|d| d > "2000-01-01")));
    // cql2-json says the same as cql2-text.
    let json = r#"{"op": "and", "args": [{"op": "=", "args": [{"property": "rank"}, "special_national"]},
        {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [100, 5, 110, 15]}]}]}"#;
    assert_eq!(filtered(&server, "heritage_sites", json, "&filter-lang=cql2-json"), special);
    // A filter combines with the other parameters.
    let both = server
        .json(&format!("/collections/heritage_sites/items?rank=special_national&filter={}", enc("kind = 'chùa'")));
    assert!(!features(&both).is_empty());
    assert!(
        features(&both)
            .iter()
            .all(|f| f["properties"]["rank"] == "special_national" && f["properties"]["kind"] == "chùa")
    );
}

#[test]
fn free_text_search_ignores_case_and_diacritics() {
    let server = Server::start_admin(bando(&[]));
    let search = |q: &str| server.json(&format!("/collections/heritage_sites/items?limit=100&q={}", enc(q)));
    let plain = search("dinh tan phuoc");
    assert_eq!(features(&plain)[0]["properties"]["name"], "Đình Tân Phước");
    assert_eq!(ids(&plain), ids(&search("Đình Tân Phước")));
    assert_eq!(ids(&plain), ids(&search("ĐÌNH  tân,phuoc")));
    let den_tho = search("den tho");
    let names: Vec<String> =
        features(&den_tho).iter().map(|f| f["properties"]["name"].as_str().unwrap().to_lowercase()).collect();
    assert!(names.iter().filter(|n| n.starts_with("đền thờ")).count() >= 10, "{names:?}");
    // The best matches (both words, as a phrase, in the name) come first.
    let first_other = names.iter().position(|n| !n.contains("đền thờ")).unwrap_or(names.len());
    assert!(
        names[..first_other].iter().all(|n| n.contains("đền thờ"))
            && names[first_other..].iter().all(|n| !n.contains("đền thờ"))
    );
    assert_eq!(search("qqqzzz")["numberMatched"], 0);
}

#[test]
fn a_box_crossing_the_antimeridian_covers_both_sides() {
    // West edge east of the east edge: the box runs from 105.7°E across 180° to 105.6°E, so with
    // the box from 105.6°E to 105.7°E it covers every site exactly once.
    let server = Server::start(bando(&[]));
    let count = |bbox: &str| {
        server.json(&format!("/collections/heritage_sites/items?bbox={bbox}&limit=1"))["numberMatched"]
            .as_u64()
            .unwrap()
    };
    let (across, inside) = (count("105.7,-90,105.6,90"), count("105.6,-90,105.7,90"));
    assert!(across > 0 && inside > 0);
    assert_eq!(across + inside, count("-180,-90,180,90"));
}

#[test]
fn sortby_orders_and_properties_selects() {
    let server = Server::start_admin(bando(&[]));
    let body = server.json("/collections/land_parcels/items?limit=50&sortby=-area_m2,parcel_no&properties=area_m2");
    let areas: Vec<f64> = features(&body).iter().map(|f| f["properties"]["area_m2"].as_f64().unwrap()).collect();
    assert!(areas.windows(2).all(|w| w[0] >= w[1]), "{areas:?}");
    let all = server.json("/collections/land_parcels/items?limit=10000");
    let max = features(&all).iter().map(|f| f["properties"]["area_m2"].as_f64().unwrap()).fold(0.0, f64::max);
    assert_eq!(areas[0], max);
    assert!(features(&body).iter().all(|f| f["properties"].as_object().unwrap().len() == 1));
    let dated = server.json("/collections/heritage_sites/items?limit=200&sortby=%2Brecognized_on");
    let dates: Vec<&Value> = features(&dated).iter().map(|f| &f["properties"]["recognized_on"]).collect();
    let firsts: Vec<&str> = dates.iter().map_while(|d| d.as_str()).collect();
    assert!(firsts.windows(2).all(|w| w[0] <= w[1]));
    assert!(dates[firsts.len()..].iter().all(|d| d.is_null()), "nulls sort last");
}
