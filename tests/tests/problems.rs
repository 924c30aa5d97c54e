//! Every error is a problem (RFC 9457), also those the router answers before any handler runs.
#![allow(clippy::unwrap_used)]

use e2e::{Server, bando};
use serde_json::Value;

#[test]
fn the_routers_own_answers_are_problems_too() {
    let server = Server::start(bando(&[]));
    let client = reqwest::blocking::Client::new();
    let problem = |r: reqwest::blocking::Response, status: u16| -> reqwest::header::HeaderMap {
        assert_eq!(r.status(), status, "{}", r.url());
        let headers = r.headers().clone();
        assert_eq!(headers["content-type"], "application/problem+json", "{}", r.url());
        let body: Value = r.json().unwrap();
        assert_eq!(body["status"], status);
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        headers
    };
    // A method the path does not take: 405, saying which it does.
    for path in ["/collections", "/collections/roads/items", "/tiles/roads/10/812/480.mvt"] {
        let headers = problem(client.post(format!("{}{path}", server.base)).send().unwrap(), 405);
        assert_eq!(headers["allow"], "GET,HEAD", "{path}");
        problem(client.delete(format!("{}{path}", server.base)).send().unwrap(), 405);
    }
    // A path segment that is not UTF-8 once decoded, on every kind of capture.
    for path in [
        "/collections/%FF",
        "/collections/roads/items/%FF%FE",
        "/styles/%FF.json",
        "/fonts/%FF/0-255.pbf",
        "/assets/%C3",
    ] {
        problem(server.get(path), 400);
    }
    problem(server.get("/no/such/route"), 404);
}
