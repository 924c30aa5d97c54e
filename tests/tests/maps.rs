//! Styles, glyphs and map pages over HTTP: what MapLibre loads, and how bad requests are answered.
#![allow(clippy::unwrap_used)]

use e2e::{Server, bando, samples};
use serde_json::Value;

/// Reads one protobuf varint.
fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = bytes[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
    }
    v
}

/// The fields of a protobuf message: (number, varint value or bytes).
fn fields(bytes: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = varint(bytes, &mut at);
        match key & 7 {
            0 => out.push((key >> 3, Ok(varint(bytes, &mut at)))),
            2 => {
                let len = usize::try_from(varint(bytes, &mut at)).unwrap();
                out.push((key >> 3, Err(&bytes[at..at + len])));
                at += len;
            }
            wire => panic!("unexpected wire type {wire}"),
        }
    }
    out
}

/// The code points of a glyph range that carry a bitmap, and the fontstack's name and range.
fn decode_glyphs(pbf: &[u8]) -> (String, String, Vec<u32>) {
    let [(1, Err(stack))] = fields(pbf)[..] else { panic!("not one fontstack") };
    let (mut name, mut range, mut drawn) = (String::new(), String::new(), Vec::new());
    for (number, value) in fields(stack) {
        match (number, value) {
            (1, Err(b)) => name = String::from_utf8(b.to_vec()).unwrap(),
            (2, Err(b)) => range = String::from_utf8(b.to_vec()).unwrap(),
            (3, Err(glyph)) => {
                let g = fields(glyph);
                let id = g.iter().find_map(|(n, v)| (*n == 1).then(|| *v.as_ref().unwrap())).unwrap();
                let width = g.iter().find_map(|(n, v)| (*n == 3).then(|| *v.as_ref().unwrap())).unwrap();
                let height = g.iter().find_map(|(n, v)| (*n == 4).then(|| *v.as_ref().unwrap())).unwrap();
                let bitmap = g.iter().find_map(|(n, v)| (*n == 2).then(|| v.as_ref().unwrap_err().len())).unwrap_or(0);
                // The bitmap is the glyph with 3 pixels of buffer on each side.
                assert_eq!(bitmap as u64, (width + 6) * (height + 6) * u64::from(bitmap > 0), "glyph {id}");
                if bitmap > 0 {
                    drawn.push(u32::try_from(id).unwrap());
                }
            }
            other => panic!("unexpected field {other:?}"),
        }
    }
    (name, range, drawn)
}

#[test]
fn glyphs_cover_every_vietnamese_letter() {
    let server = Server::start(bando(&[]));
    let style = server.json("/styles/province.json");
    let glyphs = style["glyphs"].as_str().unwrap().replace(&server.base, "");
    let fonts: Vec<String> = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["layout"]["text-font"][0].as_str().map(str::to_owned))
        .collect();
    assert!(!fonts.is_empty(), "no labels in the style");
    // Latin-1 (â ê ô), Latin Extended-A (ă đ ĩ ũ ơ ư) and Latin Extended Additional (ạ ả … ỹ).
    let letters = "ÂÊÔâêôĂăĐđĨĩŨũƠơƯư".chars().map(u32::from).chain(0x1EA0..=0x1EF9);
    for font in &fonts {
        let mut drawn = Vec::new();
        for range in ["0-255", "256-511", "7680-7935"] {
            let path = glyphs.replace("{fontstack}", &font.replace(' ', "%20")).replace("{range}", range);
            let r = server.get(&path);
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()["content-type"], "application/x-protobuf");
            let (name, got_range, ids) = decode_glyphs(&r.bytes().unwrap());
            assert_eq!((name.as_str(), got_range.as_str()), (font.as_str(), range));
            drawn.extend(ids);
        }
        let missing: Vec<char> = letters.clone().filter(|c| !drawn.contains(c)).filter_map(char::from_u32).collect();
        assert!(missing.is_empty(), "{font} lacks {missing:?}");
    }
    for bad in [
        "/fonts/Noto%20Sans%20Regular/1-256.pbf",
        "/fonts/Noto%20Sans%20Regular/0-255.png",
        "/fonts/Comic%20Sans/0-255.pbf",
    ] {
        let r = server.get(bad);
        assert_eq!(r.status(), 404, "{bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{bad}");
    }
}

#[test]
fn styles_use_only_bandos_own_sources_and_layers() {
    let server = Server::start(bando(&[]));
    let list = server.json("/styles");
    for entry in list["styles"].as_array().unwrap() {
        let href = entry["links"][0]["href"].as_str().unwrap().replace(&server.base, "");
        let r = server.get(&href);
        assert_eq!(r.status(), 200, "{href}");
        assert_eq!(r.headers()["content-type"], "application/vnd.mapbox.style+json");
        let style: Value = r.json().unwrap();
        assert_eq!(style["version"], 8);
        // Each source is one of Bando's TileJSON documents, whose zoom range is its layers'.
        let mut in_source = std::collections::HashMap::new();
        for (name, source) in style["sources"].as_object().unwrap() {
            let url = source["url"].as_str().unwrap();
            assert!(url.starts_with(&server.base), "{href}: {url}");
            let tilejson = server.json(&url.replace(&server.base, ""));
            for layer in tilejson["vector_layers"].as_array().unwrap() {
                let layer = server.json(&format!("/tiles/{}.json", layer["id"].as_str().unwrap()));
                assert_eq!(
                    (&layer["minzoom"], &layer["maxzoom"]),
                    (&tilejson["minzoom"], &tilejson["maxzoom"]),
                    "{url}"
                );
            }
            in_source.insert(name.clone(), tilejson);
        }
        for layer in style["layers"].as_array().unwrap().iter().skip(1) {
            let tilejson = &in_source[layer["source"].as_str().unwrap()];
            let in_tiles: Vec<&Value> =
                tilejson["vector_layers"].as_array().unwrap().iter().map(|l| &l["id"]).collect();
            assert!(
                in_tiles.contains(&&layer["source-layer"]),
                "{href}: {} is not in its source",
                layer["source-layer"]
            );
        }
    }
    // Each family has its own cartography: roads by class, sites by rank.
    let roads = server.json("/styles/roads.json");
    let line = roads["layers"].as_array().unwrap().iter().find(|l| l["id"] == "roads-line").unwrap();
    assert_eq!(line["paint"]["line-color"][1], serde_json::json!(["get", "class"]));
    let sites = server.json("/styles/heritage_sites.json");
    let circle = sites["layers"].as_array().unwrap().iter().find(|l| l["id"] == "heritage_sites-circle").unwrap();
    assert_eq!(circle["paint"]["circle-color"][1], serde_json::json!(["get", "rank"]));
}

#[test]
fn a_configured_style_replaces_the_theme_and_framing_follows_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(samples().join("bando.toml")).unwrap();
    let text = text.replace("file = \"", &format!("file = \"{}/", samples().display()));
    let text = text.replacen(
        "[layers.heritage_sites]",
        "[layers.heritage_sites]\nstyle = [{ type = \"circle\", paint = { circle-color = \"#123456\" } }]",
        1,
    );
    // The sample's framing line, replaced.
    let start = text.find("frame_ancestors = ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let text =
        format!("{}frame_ancestors = [\"'self'\", \"https://dulich.example.vn\"]{}", &text[..start], &text[end..]);
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, text).unwrap();
    let server = Server::start(bando(&["--config", config.to_str().unwrap()]));

    let style = server.json("/styles/heritage_sites.json");
    let own: Vec<&Value> =
        style["layers"].as_array().unwrap().iter().filter(|l| l["source-layer"] == "heritage_sites").collect();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["paint"]["circle-color"], "#123456");
    assert_eq!(own[0]["id"], "heritage_sites-0");

    let page = server.get("/embed/heritage_sites?center=105.78,10.03&zoom=14");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'self' https://dulich.example.vn"), "{csp}");
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let viewer = server.get("/viewer");
    assert!(viewer.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'self'"));
}

#[test]
fn bad_map_page_requests_are_problems() {
    let server = Server::start(bando(&[]));
    for (path, status) in [
        ("/embed/heritage_sites?center=200,10", 400),
        ("/embed/heritage_sites?center=105.7", 400),
        ("/embed/heritage_sites?center=NaN,10", 400),
        ("/embed/heritage_sites?zoom=23", 400),
        ("/embed/heritage_sites?zoom=abc", 400),
        ("/embed/heritage_sites?feature=x", 400),
        ("/embed/heritage_sites?colour=red", 400),
        ("/embed/heritage_sites?feature=999999", 404),
        ("/embed/nosuchlayer", 404),
        ("/viewer?layer=roads&layer=rivers", 400),
        ("/styles/nosuchlayer.json", 404),
        ("/styles/roads", 404),
        ("/assets/../Cargo.toml", 404),
        ("/assets/nothing.js", 404),
    ] {
        let r = server.get(path);
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
    }
    let r = server.get("/embed/heritage_sites?center=105.78,10.03&zoom=14.5&feature=6");
    assert_eq!(r.status(), 200);
    let body = r.text().unwrap();
    assert!(body.contains(r#""center":[105.78,10.03]"#) && body.contains(r#""feature":6"#), "{body}");
    let collection = server.get("/collections/heritage_sites?f=html").text().unwrap();
    assert!(collection.contains(r#"href="/viewer?layer=heritage_sites""#), "no link to the viewer");
    let js = server.get("/assets/maplibre-gl.mjs");
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    // Scripts are revalidated, never mixed across versions: a matching ETag gets 304.
    assert_eq!(js.headers()["cache-control"], "no-cache");
    let etag = js.headers()["etag"].clone();
    let again = reqwest::blocking::Client::new()
        .get(format!("{}/assets/maplibre-gl.mjs", server.base))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
}
