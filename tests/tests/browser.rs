//! The map pages in a real browser: headless Chromium (Debian's) driven by playwright-core
//! through `web/browser-check.mjs`, against `bando serve` on the sample files, as an anonymous
//! visitor. The server is the installed binary run from `/`, so the pages load the MapLibre it
//! embeds. Screenshots are kept in `target/browser-artifacts/`.
#![allow(clippy::unwrap_used)]

use e2e::{ADMIN_KEY, Server, installed_bando, repo, run_ok, sample_layer_ids};
use serde_json::Value;

/// What the browser saw, as the driver script reports it.
fn drive(server: &Server, feature: i64) -> Value {
    let out = repo().join("target/browser-artifacts");
    std::fs::create_dir_all(&out).unwrap();
    let report = run_ok(
        std::process::Command::new("node")
            .arg(repo().join("web/browser-check.mjs"))
            .arg(&server.base)
            .arg(&out)
            .env("FEATURE", feature.to_string())
            .env("KEY", ADMIN_KEY),
    );
    for shot in ["viewer", "viewer-search", "viewer-popup", "embed", "embed_feature"] {
        let png = std::fs::read(out.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}.png is not a picture of a map");
    }
    serde_json::from_str(&report).unwrap()
}

/// No console error, no Content-Security-Policy violation, no failed request, and nothing asked
/// of any host but Bando.
fn assert_clean(page: &str, seen: &Value) {
    for what in ["errors", "csp", "failed", "foreign"] {
        assert_eq!(seen[what], Value::Array(Vec::new()), "{page}: {what}");
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn near(a: &Value, b: &Value) -> bool {
    (a[0].as_f64().unwrap() - b[0].as_f64().unwrap()).abs() < 1e-4
        && (a[1].as_f64().unwrap() - b[1].as_f64().unwrap()).abs() < 1e-4
}

#[test]
fn the_viewer_and_the_embedded_heritage_map_work_in_a_browser_with_nothing_from_elsewhere() {
    // Only Bando's own pages may frame its embeds here (the sample also allows local pages).
    let mut command = installed_bando(&[]);
    command.env("BANDO_WEB__FRAME_ANCESTORS", "[\"'self'\"]");
    let server = Server::start_admin(command);
    let anonymous: Value = reqwest::blocking::get(format!("{}/collections", server.base)).unwrap().json().unwrap();
    let public: Vec<String> =
        anonymous["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let hit = &server.json("/collections/heritage_sites/items?q=den%20tho&limit=1")["features"][0];
    let site = server.json("/collections/heritage_sites/items/6");
    let report = drive(&server, 6);

    let viewer = &report["viewer"];
    assert_clean("/viewer", &viewer["seen"]);
    // Every layer an anonymous visitor may see is in the viewer, and each is drawn.
    let mut shown = strings(&viewer["initial"]["layers"]);
    shown.sort();
    let mut expected = public.clone();
    expected.sort();
    assert_eq!(shown, expected);
    for id in &public {
        assert!(viewer["initial"]["counts"][id].as_u64().unwrap_or(0) > 0, "{id} is not drawn: {}", viewer["initial"]);
    }
    // The layer list hides and shows a layer; the interface speaks Vietnamese and English.
    assert_eq!(viewer["roadsOff"], 0);
    assert!(viewer["roadsOn"].as_u64().unwrap() > 0);
    assert_eq!(
        viewer["languages"],
        serde_json::json!(["Tìm di tích, điểm du lịch…", "Find heritage sites, tourist spots…"])
    );
    // Labels are drawn from Bando's own glyphs, Vietnamese letters included.
    let glyphs = viewer["seen"]["glyphs"].as_array().unwrap();
    assert!(
        glyphs.iter().any(|g| g["url"].as_str().unwrap().ends_with("/7680-7935.pbf") && g["status"] == 200),
        "no Vietnamese glyphs were loaded: {glyphs:?}"
    );

    // "den tho" finds the site the q search ranks first, named with diacritics, and flies there.
    let search = &viewer["search"];
    let name = hit["properties"]["name"].as_str().unwrap();
    assert!(!name.is_ascii(), "{name}");
    assert_eq!(search["popup"], name);
    assert!(near(&search["center"], &hit["geometry"]["coordinates"]), "{search}");
    assert!(search["zoom"].as_f64().unwrap() >= 15.0);
    assert!(search["counts"]["heritage_sites"].as_u64().unwrap_or(0) > 0);

    // Clicking a site opens its popup, with its Vietnamese name.
    let click = &viewer["click"];
    assert!(click["target"].is_string(), "no site to click: {click}");
    assert_eq!(click["popup"], click["target"]);

    // The popup names each property by its configured title and shows a code by its label, as
    // the layer's schema does; the legend labels the ranks the same way, in either language.
    let schema = server.json("/collections/heritage_sites/schema");
    let clicked = server.json(&format!("/collections/heritage_sites/items/{}", click["id"]));
    let rank = clicked["properties"]["rank"].as_str().unwrap();
    let label = rank_label(&schema, rank);
    assert_ne!(label, rank);
    let rows = click["rows"].as_array().unwrap();
    assert!(rows.contains(&serde_json::json!(["rank", "Cấp xếp hạng", format!("{label} ({rank})")])), "{click}");
    let date = clicked["properties"]["recognized_on"].as_str().unwrap();
    assert!(rows.contains(&serde_json::json!(["recognized_on", "Ngày xếp hạng", date])), "{click}");
    let english = reqwest::blocking::Client::new()
        .get(format!("{}/collections/heritage_sites/schema", server.base))
        .header("Accept-Language", "en")
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    for (legend, schema) in viewer["legends"].as_array().unwrap().iter().zip([&schema, &english]) {
        let ranks = ["special_national", "national", "provincial", "tourist_spot"];
        let expected: Vec<String> = ranks.iter().map(|r| rank_label(schema, r)).collect();
        assert_eq!(legend.as_array().unwrap()[..ranks.len()], expected, "{legend}");
    }

    // The sites' pictograms draw, each icon the map or the legend names is in the sprite, and the
    // legend draws them from the sprite's sheet.
    let icons = &viewer["icons"];
    assert!(icons["drawn"].as_u64().unwrap() > 0, "{icons}");
    assert_eq!(icons["missing"], serde_json::json!([]));
    assert!(icons["legend"].as_array().unwrap().len() >= 8, "{icons}");
    assert_eq!(icons["inSprite"], icons["legend"]);
    assert_eq!(icons["sheetLoaded"], true);

    // The popup lists the five point features nearest the click (the site clicked aside), as
    // the service's `near` finds them.
    let nearest = &viewer["nearest"];
    let at: Vec<f64> = nearest["at"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let queried = strings(&nearest["layers"]);
    assert!(queried.contains(&"heritage_sites".to_owned()) && queried.iter().all(|l| public.contains(l)), "{nearest}");
    let mut expected: Vec<(f64, String, i64)> = Vec::new();
    for id in &queried {
        let url = format!("{}/collections/{id}/items?near={},{}&within=5000&limit=6", server.base, at[0], at[1]);
        let page: Value = reqwest::blocking::get(url).unwrap().json().unwrap();
        for f in page["features"].as_array().unwrap() {
            let (fid, metres) = (f["id"].as_i64().unwrap(), f["properties"]["distance_m"].as_f64().unwrap());
            if nearest["except"] != format!("{id}/{fid}") {
                expected.push((metres, id.clone(), fid));
            }
        }
    }
    expected.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    expected.truncate(5);
    let listed: Vec<(f64, String, i64)> = nearest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["metres"].as_f64().unwrap(), i["layer"].as_str().unwrap().to_owned(), i["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(listed.len(), 5, "near {at:?}: {nearest}");
    assert_eq!(listed, expected, "near {at:?}");

    // An admin's key typed into the viewer brings every layer in.
    let with_key = &report["viewer_with_key"];
    assert_clean("/viewer with a key", &with_key["seen"]);
    let mut all = strings(&with_key["layers"]);
    all.sort();
    assert_eq!(all, sample_layer_ids());
    assert!(all.len() > public.len());

    for page in ["embed", "embed_feature"] {
        assert_clean(page, &report[page]["seen"]);
        assert!(strings(&report[page]["layers"]).contains(&"heritage_sites".to_owned()));
        assert!(report[page]["counts"]["heritage_sites"].as_u64().unwrap_or(0) > 0, "{page}: {}", report[page]);
    }
    // Bando's own page may frame the embed; a page from another origin is refused.
    let (own, other) = (&report["framed_by_self"], &report["framed_by_other"]);
    assert_eq!((&own["ready"], &own["refused"]), (&Value::Bool(true), &Value::Bool(false)), "{own}");
    assert_eq!((&other["ready"], &other["refused"]), (&Value::Bool(false), &Value::Bool(true)), "{other}");
    // `?feature=6` centres the embedded map on that site and opens its popup.
    let focused = &report["embed_feature"];
    assert_eq!(focused["popup"], site["properties"]["name"]);
    assert!(near(&focused["center"], &site["geometry"]["coordinates"]), "{focused}");
}

/// The title a schema gives a heritage rank's code.
fn rank_label(schema: &Value, code: &str) -> String {
    let codes = schema["properties"]["rank"]["anyOf"].as_array().unwrap();
    let entry = codes.iter().find(|c| c["const"] == code).unwrap_or_else(|| panic!("no {code} in {codes:?}"));
    entry["title"].as_str().unwrap().to_owned()
}
