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
    // A method the path does not take: 405, saying which it does (a read-only layer's items take
    // OPTIONS too, as every layer's do).
    for (path, allow) in [
        ("/collections", "GET,HEAD"),
        ("/collections/roads/items", "GET, HEAD, OPTIONS"),
        ("/tiles/roads/10/812/480.mvt", "GET,HEAD"),
    ] {
        let headers = problem(client.post(format!("{}{path}", server.base)).send().unwrap(), 405);
        assert_eq!(headers["allow"], allow, "{path}");
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

/// Sends raw bytes and returns the status code and the body of the answer.
fn raw(server: &Server, request: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(15))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_lowercase(), body.to_owned())
}

#[test]
fn requests_too_large_to_parse_get_problems_too() {
    let server = Server::start(bando(&[]));
    let end = b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let url_of = |n: usize| [b"GET /".as_slice(), &vec![b'a'; n], end].concat();
    let headers_of = |n: usize, size: usize| {
        let many: Vec<u8> = (0..n).flat_map(|i| format!("X-H{i}: {}\r\n", "v".repeat(size)).into_bytes()).collect();
        [b"GET / HTTP/1.1\r\nHost: x\r\n".as_slice(), &many, b"Connection: close\r\n\r\n"].concat()
    };
    for (what, request, status) in [
        ("a URL over the limit", url_of(10_000), 414),
        ("a URL hyper cannot take", url_of(70_000), 414),
        ("too many headers", headers_of(150, 1), 431),
        ("far too many headers", headers_of(1000, 1), 431),
        ("a header over the limit", headers_of(1, 20_000), 431),
        ("a header hyper cannot take", headers_of(1, 1_000_000), 431),
        ("no HTTP at all", b"HELLO\r\n\r\n".to_vec(), 400),
    ] {
        let (got, head, body) = raw(&server, &request);
        assert_eq!(got, status, "{what}");
        assert!(head.contains("content-type: application/problem+json"), "{what}: {head}");
        let problem: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
        assert_eq!(problem["status"], status, "{what}");
    }
    assert_eq!(server.get("/health").status(), 200);
}
