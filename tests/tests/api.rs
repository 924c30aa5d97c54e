//! `/api` and the router agree: every documented path is served, and everything it answers,
//! to good and to bad requests, is a status the document declares for that path.
#![allow(clippy::unwrap_used)]

use e2e::{Server, bando, run_ok};
use serde_json::Value;

/// A value for each path parameter: the first of its enum, the first feature of the first
/// collection, or the first tile inside that collection's declared `tileMatrixSetLimits`.
fn example(server: &Server, doc: &Value, name: &str) -> String {
    let schema = &doc["components"]["parameters"][name]["schema"];
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.as_str().unwrap().to_owned();
    }
    match name {
        "z" | "tileMatrix" | "x" | "tileCol" | "y" | "tileRow" => {
            let collection = example(server, doc, "collectionId");
            let tileset = server.json(&format!("/collections/{collection}/tiles/WebMercatorQuad"));
            let limits = &tileset["tileMatrixSetLimits"][0];
            match name {
                "z" | "tileMatrix" => limits["tileMatrix"].as_str().unwrap().to_owned(),
                "x" | "tileCol" => limits["minTileCol"].to_string(),
                _ => limits["minTileRow"].to_string(),
            }
        }
        "featureId" => {
            let collection = example(server, doc, "collectionId");
            server.json(&format!("/collections/{collection}/items?limit=1"))["features"][0]["id"].to_string()
        }
        "range" => "0-255".into(),
        other => panic!("no example for path parameter {other}"),
    }
}

/// `path` with each `{parameter}` replaced, the one called `wrong` (if any) by a value that
/// names nothing.
fn concrete(server: &Server, doc: &Value, path: &str, wrong: Option<&str>) -> String {
    let mut out = path.to_owned();
    while let Some(start) = out.find('{') {
        let end = start + out[start..].find('}').unwrap();
        let name = out[start + 1..end].to_owned();
        let value = if wrong == Some(name.as_str()) { "zz-nothing".to_owned() } else { example(server, doc, &name) };
        out.replace_range(start..=end, &value);
    }
    out
}

fn parameters_in(path: &str) -> Vec<&str> {
    path.split('{').skip(1).map(|p| &p[..p.find('}').unwrap()]).collect()
}

#[test]
fn every_documented_path_is_served_and_answers_only_what_it_declares() {
    // With a tile package configured, so that its paths have something to serve.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("p.pmtiles");
    run_ok(bando(&["export", "--layers", "places", "--minzoom", "6", "--maxzoom", "7", "-o"]).arg(&archive));
    let mut cmd = bando(&[]);
    let package = format!("{{file={:?}, title=\"Places\", access=\"public\"}}", archive.display().to_string());
    cmd.env("BANDO_TILESETS__PACKAGE", package);
    let server = Server::start_admin(cmd);
    let doc = server.json("/api");
    let paths = doc["paths"].as_object().unwrap();
    // The map pages, styles, fonts and assets are documented too.
    for path in [
        "/styles",
        "/styles/{styleId}.json",
        "/fonts/{fontstack}/{range}.pbf",
        "/assets/{assetName}",
        "/viewer",
        "/embed/{embedLayer}",
    ] {
        assert!(paths.contains_key(path), "{path} is served but not in /api");
    }
    let fallback = server.get("/no/such/path").json::<Value>().unwrap()["detail"].clone();
    for (path, item) in paths {
        let declared: Vec<&str> = item["get"]["responses"].as_object().unwrap().keys().map(String::as_str).collect();
        for code in ["200", "401", "413", "414", "429", "500", "503"] {
            assert!(declared.contains(&code), "{path} does not declare {code}");
        }
        let mut requests = vec![
            (concrete(&server, &doc, path, None), true),
            (format!("{}?zz_unknown=1", concrete(&server, &doc, path, None)), false),
        ];
        requests.extend(parameters_in(path).into_iter().map(|p| (concrete(&server, &doc, path, Some(p)), false)));
        for (url, good) in requests {
            let r = server.get(&url);
            let status = r.status().as_u16();
            // 500 and 503 are declared everywhere, but no request here may be answered so.
            assert!(status < 500, "GET {url} answered {status}");
            assert!(
                declared.contains(&status.to_string().as_str()),
                "GET {url} answered {status}, which {path} does not declare ({declared:?})"
            );
            if good {
                assert!(r.status().is_success(), "GET {url} answered {status}");
            } else if status == 404 {
                assert_ne!(r.json::<Value>().unwrap()["detail"], fallback, "GET {url} reached no route");
            }
        }
    }
    assert!(paths.len() > 20, "only {} paths in /api", paths.len());
}

#[test]
fn statuses_the_middleware_answers_are_declared_where_they_happen() {
    let server = Server::start(bando(&[]));
    let doc = server.json("/api");
    // A connection of its own for each request: the server closes one after refusing its
    // request unread, and a pooled connection might be reused just as it closes.
    let client = reqwest::blocking::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let declared = |path: &str, code: u16| doc["paths"][path]["get"]["responses"].get(code.to_string()).is_some();
    // A bad key, an over-large body and an over-long URL, on a tile path and on the viewer.
    for path in ["/tiles/heritage_sites/10/812/480.mvt", "/viewer"] {
        let r = client.get(format!("{}{path}", server.base)).header("x-api-key", "bando_nope").send().unwrap();
        assert_eq!(r.status(), 401);
        let r = client.get(format!("{}{path}", server.base)).body(vec![b'x'; 100_000]).send().unwrap();
        assert_eq!(r.status(), 413);
        let r = client.get(format!("{}{path}?pad={}", server.base, "a".repeat(9000))).send().unwrap();
        assert_eq!(r.status(), 414);
    }
    for code in [401, 413, 414] {
        assert!(declared("/tiles/{layers}/{z}/{x}/{y}.mvt", code) && declared("/viewer", code), "{code}");
    }
}
