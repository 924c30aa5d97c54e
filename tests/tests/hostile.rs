//! Hostile requests, sent as raw bytes so that nothing on the client side cleans them up:
//! injection strings in every parameter, path traversal, NaN and huge numbers, 100 kB URLs,
//! deep CQL2 nesting, invalid UTF-8. Each must get a 4xx (never a 5xx, a hang or a dropped
//! connection), and the server must be healthy afterwards.
#![allow(clippy::unwrap_used)]

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use e2e::{Server, bando};

/// Sends one GET with this raw target and returns the status code.
fn raw_get(server: &Server, target: &[u8]) -> u16 {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(format!(" HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    stream.write_all(&request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no HTTP answer: {head:?}"))
}

fn hostile() -> Vec<Vec<u8>> {
    let items = "/collections/roads/items";
    let mut list: Vec<String> = [
        // Injection strings, one per parameter.
        "?bbox=1,2,3,4;DROP%20TABLE%20transport.roads",
        "?limit=10;DROP%20TABLE%20x",
        "?offset=1'--",
        "?datetime=2020-01-01'%20OR%20'1'='1",
        "?filter=name%3D'x';%20DROP%20TABLE%20roads;--",
        "?filter=name%3D'x'%20UNION%20SELECT%20*%20FROM%20bando.api_keys",
        "?filter=pg_sleep(10)%20%3D%201",
        "?filter-lang=sql&filter=1%3D1",
        "?filter-crs=EPSG:4326'--&filter=S_INTERSECTS(geometry,POINT(1%201))",
        "?crs=http://www.opengis.net/def/crs/EPSG/0/4326%27%20OR%201%3D1",
        "?bbox-crs=javascript:alert(1)&bbox=1,2,3,4",
        "?sortby=name;DROP%20TABLE%20x",
        "?properties=*%20FROM%20bando.api_keys",
        "?f=../../etc/passwd",
        "?lanes=1%20OR%201%3D1",
        "?class=x&class=y",
        "?%3Cscript%3E=1",
        // NaN, infinities and huge numbers.
        "?bbox=NaN,NaN,NaN,NaN",
        "?bbox=1e309,0,1,1",
        "?bbox=-inf,-90,inf,90",
        "?bbox=0,0,0",
        "?bbox=181,0,182,1",
        "?limit=99999999999999999999999999",
        "?limit=-1",
        "?limit=0x10",
        "?offset=18446744073709551616",
        "?offset=1e3",
        "?datetime=99999-01-01",
        "?datetime=2020-13-45",
        "?datetime=2020-01-01/../2021-01-01",
        "?lanes=9223372036854775808",
        "?filter=lanes%20%3D%201e999999",
    ]
    .iter()
    .map(|q| format!("{items}{q}"))
    .collect();
    list.extend(
        [
            // Path traversal and odd ids.
            "/collections/../../etc/passwd",
            "/collections/roads/items/..%2F..%2Fetc%2Fpasswd",
            "/collections/%2e%2e/items",
            "/collections/roads%00/items",
            "/collections/roads/items/1%00",
            "/collections/roads/items/99999999999999999999999",
            "/tiles/..%2f..%2fetc%2fpasswd/1/1/1.mvt",
            "/tiles/roads/1/1/..%2f1.mvt",
            "/tiles/roads/99/1/1.mvt",
            "/tiles/roads/4/99999999999/1.mvt",
            "/tiles/roads/-1/0/0.mvt",
            "/tiles/roads/NaN/0/0.mvt",
            "/tiles/roads,roads,roads,roads,roads,roads,roads,roads,roads,roads,nosuch/4/12/7.mvt",
            "/tiles/roads.json.json",
            "/collections/roads/tiles/WebMercatorQuad/1e3/0/0",
            "/collections/roads/tiles/NotAMatrixSet/1/0/0",
            "/tileMatrixSets/..%2F..%2Fetc",
            "/collections/roads/queryables/../../api",
            "/collections?f=xml",
            "/collections/roads/items/1?crs=EPSG:999999",
            // The map pages and what they load.
            "/embed/heritage_sites?center=1e999,10",
            "/embed/heritage_sites?center=105.7,10,3",
            "/embed/heritage_sites?zoom=-0.5",
            "/embed/heritage_sites?feature=1%20OR%201=1",
            "/embed/heritage_sites?center=%3Cscript%3Ealert(1)%3C/script%3E",
            "/viewer?layer=x&f=html",
            "/styles/..%2F..%2Fetc%2Fpasswd.json",
            "/styles/%00.json",
            "/fonts/..%2F..%2Fetc%2Fpasswd/0-255.pbf",
            "/fonts/Noto%20Sans%20Regular/65536-65791.pbf",
            "/fonts/Noto%20Sans%20Regular/0-18446744073709551871.pbf",
            "/assets/..%2F..%2FCargo.toml",
        ]
        .map(str::to_owned),
    );
    // Deep nesting, in both encodings.
    list.push(format!("{items}?filter={}lanes%3D1{}", "(".repeat(2000), ")".repeat(2000)));
    list.push(format!("{items}?filter-lang=cql2-json&filter={}", "%7B%22op%22:%22not%22,%22args%22:%5B".repeat(150)));
    list.push(format!("{items}?filter={}", "NOT%20".repeat(1300) + "lanes%3D1"));
    list.push(format!("{items}?filter=lanes%3D1{}", "%20AND%20lanes%3D1".repeat(400)));
    let mut raw: Vec<Vec<u8>> = list.into_iter().map(String::into_bytes).collect();
    // 100 kB URLs: in the query and in the path.
    raw.push(format!("{items}?q={}", "a".repeat(100_000)).into_bytes());
    raw.push(format!("/collections/{}/items", "x".repeat(100_000)).into_bytes());
    // Invalid UTF-8, percent-encoded and raw.
    raw.push(format!("{items}?q=%FF%FE%FD").into_bytes());
    raw.push(format!("{items}?filter=name%3D'%C3%28'").into_bytes());
    raw.push(b"/collections/\xff\xfe/items".to_vec());
    raw.push(format!("{items}?name=%ED%A0%80").into_bytes());
    raw
}

#[test]
fn hostile_requests_get_4xx_and_the_server_stays_healthy() {
    let server = Server::start(bando(&[]));
    let list = hostile();
    assert!(list.len() >= 50, "only {} hostile requests", list.len());
    let mut answers = Vec::new();
    for target in &list {
        let status = raw_get(&server, target);
        let shown = String::from_utf8_lossy(&target[..target.len().min(90)]).into_owned();
        println!("{status}  {shown}");
        answers.push((status, shown));
    }
    let bad: Vec<&(u16, String)> = answers.iter().filter(|(s, _)| !(400..500).contains(s)).collect();
    assert!(bad.is_empty(), "not answered 4xx: {bad:#?}");
    assert_eq!(server.get("/health").status(), 200);
    assert_eq!(server.get("/collections/roads/items?limit=1").status(), 200);
}
