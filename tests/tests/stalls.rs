//! No client can stall the service: expensive filters end at the time limit while health probes
//! answer at once, slow or silent connections are cut off while others are served, and a
//! degenerate geometry is refused before it can flood the log. Each load here is bounded in
//! time and stops by itself.
#![allow(clippy::unwrap_used)]

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use e2e::{Server, bando};
use serde_json::Value;

/// `/items` of `layer` filtered by `op` against a 400-vertex star-shaped polygon over the whole
/// sample province: under 8 kB, and seconds of geometry work per request.
fn expensive_filter(op: &str, layer: &str) -> String {
    let n = 400;
    let mut ring: Vec<String> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i) / f64::from(n);
            let r = 0.7 * (1.0 + 0.05 * (17.0 * a).sin());
            format!("{:.3} {:.3}", 105.8 + r * a.cos(), 9.84 + 0.7 * a.sin())
        })
        .collect();
    ring.push(ring[0].clone());
    let filter = format!("{op}(geometry,POLYGON(({})))", ring.join(","));
    let encoded: String = filter.replace(' ', "%20").replace(',', "%2C").replace('(', "%28").replace(')', "%29");
    format!("/collections/{layer}/items?limit=10&filter={encoded}")
}

#[test]
fn expensive_filters_end_at_the_time_limit_while_health_answers_at_once() {
    let mut cmd = bando(&[]);
    cmd.env("BANDO_LIMITS__REQUEST_TIMEOUT_S", "1");
    let server = Server::start(cmd);
    let attack = expensive_filter("S_TOUCHES", "roads");
    assert!(attack.len() < 8192, "{}", attack.len());
    let started = Instant::now();
    let attackers: Vec<_> = (0..32)
        .map(|i| {
            let url = format!("{}{attack}", server.base);
            let op = ["S_TOUCHES", "S_CROSSES"][i % 2];
            let url = url.replace("S_TOUCHES", op);
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
                let begun = Instant::now();
                let r = client.get(url).send().unwrap();
                let status = r.status().as_u16();
                let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
                (status, kind, begun.elapsed())
            })
        })
        .collect();
    let client = reqwest::blocking::Client::new();
    let mut health = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        let begun = Instant::now();
        assert_eq!(client.get(format!("{}/health", server.base)).send().unwrap().status(), 200);
        health.push(begun.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    for a in attackers {
        let (status, kind, took) = a.join().unwrap();
        assert_eq!((status, kind.as_str()), (503, "application/problem+json"));
        // The time limit, and a little for the last feature tested and the answer.
        assert!(took < Duration::from_millis(2500), "an expensive request took {took:?}");
    }
    health.sort();
    let p95 = health[health.len() * 95 / 100];
    eprintln!("health under attack: {} probes, p95 {p95:?}, max {:?}", health.len(), health[health.len() - 1]);
    assert!(p95 < Duration::from_millis(50), "health p95 {p95:?} while 32 expensive requests ran");
    // The same filter on a small box is cheap, and answered.
    let cheap = format!("{attack}&bbox=105.0,9.0,105.01,9.01");
    assert_eq!(server.get(&cheap).status(), 200);
}

/// Opens a connection to `base`, sends `first`, then one byte every `trickle`, and returns how
/// long until the server closed it (at most `within`).
fn closed_after(base: &str, first: &[u8], trickle: Option<Duration>, within: Duration) -> Duration {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    stream.write_all(first).unwrap();
    let begun = Instant::now();
    let mut buf = [0u8; 1024];
    while begun.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return begun.elapsed(),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return begun.elapsed(),
        }
        if let Some(every) = trickle {
            std::thread::sleep(every);
            if stream.write_all(b"X").is_err() {
                return begun.elapsed();
            }
        }
    }
    within
}

#[test]
fn slow_and_silent_connections_are_cut_off_while_others_are_served() {
    let mut cmd = bando(&[]);
    cmd.env("BANDO_LIMITS__HEADER_TIMEOUT_S", "2").env("BANDO_LIMITS__MAX_CONNECTIONS", "4");
    let server = Server::start(cmd);
    let within = Duration::from_secs(8);
    // As many slow clients as the server takes connections: one silent, one stopping inside
    // the request line, one trickling a header, one idle after a request.
    let slow: Vec<_> = [
        (&b""[..], None),
        (&b"GET /collections HTTP/1.1\r\nHost: x"[..], None),
        (&b"GET /collections HTTP/1.1\r\nHost: x\r\nX-Slow: "[..], Some(Duration::from_millis(300))),
        (&b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"[..], None),
    ]
    .into_iter()
    .map(|(first, trickle)| {
        let base = server.base.clone();
        std::thread::spawn(move || closed_after(&base, first, trickle, within))
    })
    .collect();
    std::thread::sleep(Duration::from_millis(300));
    // The next client waits for a connection until a slow one is cut off, then is served, and
    // so are the ones after it.
    let client = reqwest::blocking::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let begun = Instant::now();
    assert_eq!(client.get(format!("{}/collections", server.base)).send().unwrap().status(), 200);
    let waited = begun.elapsed();
    assert!(waited > Duration::from_millis(1000) && waited < Duration::from_secs(5), "waited {waited:?}");
    for _ in 0..5 {
        assert_eq!(client.get(format!("{}/collections", server.base)).send().unwrap().status(), 200);
    }
    for s in slow {
        let took = s.join().unwrap();
        assert!(took < Duration::from_secs(5), "a slow connection stayed open {took:?}");
        assert!(took >= Duration::from_millis(1500), "cut off before the timeout: {took:?}");
    }
}

#[test]
fn a_degenerate_filter_geometry_is_refused_and_the_log_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = Server::start_logging_to(bando(&[]), &log);
    let before = std::fs::metadata(&log).unwrap().len();
    for literal in [
        "POLYGON((105.5 9.5,105.5 9.5,105.5 9.5,105.5 9.5))",
        "POLYGON((105 9,106 10,106 9,105 10,105 9))",
        "POLYGON((105 9,106 9,107 9,105 9))",
        "LINESTRING(105.5 9.5,105.5 9.5)",
    ] {
        for op in ["S_TOUCHES", "S_CROSSES", "S_WITHIN", "S_EQUALS"] {
            let filter = format!("{op}(geometry,{literal})").replace(' ', "%20");
            let r = server.get(&format!("/collections/communes/items?filter={filter}"));
            assert_eq!(r.status(), 400, "{op} {literal}");
            let problem: Value = r.json().unwrap();
            assert!(problem["detail"].as_str().unwrap().contains("invalid geometry"), "{problem}");
        }
    }
    let grown = std::fs::metadata(&log).unwrap().len() - before;
    assert!(grown < 4096, "16 refused requests wrote {grown} bytes of log");
}
