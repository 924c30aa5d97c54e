//! What people read: a property's configured title and unit, and the labels of its codes, in
//! Vietnamese unless the caller's `Accept-Language` prefers English, in the schemas, the HTML
//! tables and the style the viewer's popups and legend read; the data keeps its codes.
#![allow(clippy::unwrap_used)]

use e2e::{Server, bando};
use serde_json::{Value, json};

fn get(server: &Server, path: &str, lang: Option<&str>) -> reqwest::blocking::Response {
    let request = reqwest::blocking::Client::new().get(format!("{}{path}", server.base));
    let request = match lang {
        Some(l) => request.header("Accept-Language", l),
        None => request,
    };
    request.send().unwrap()
}

#[test]
fn schemas_give_titles_units_and_code_labels_in_the_language_asked_for() {
    let server = Server::start(bando(&[]));
    for (lang, title, trunk, width, language) in [
        (None, "Cấp đường", "Quốc lộ", "Bề rộng", "vi"),
        (Some("en-GB,en;q=0.9,vi;q=0.5"), "Class", "National highway", "Width", "en"),
        (Some("vi-VN,vi;q=0.9,en;q=0.8"), "Cấp đường", "Quốc lộ", "Bề rộng", "vi"),
    ] {
        let response = get(&server, "/collections/roads/schema", lang);
        assert_eq!(response.headers()["content-language"], language);
        let vary: Vec<&str> = response.headers().get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(vary.contains(&"accept-language"), "{vary:?}");
        let schema: Value = response.json().unwrap();
        let class = &schema["properties"]["class"];
        assert_eq!(class["title"], title);
        let codes = class["anyOf"].as_array().unwrap();
        assert!(codes.contains(&json!({ "const": "trunk", "title": trunk })), "{class}");
        // A code the list does not name is still a valid value.
        assert_eq!(codes.last().unwrap(), &json!({ "type": "string" }));
        let width_m = &schema["properties"]["width_m"];
        assert_eq!((width_m["title"].as_str(), width_m["x-ogc-unit"].as_str()), (Some(width), Some("m")));

        // The queryables describe what a filter may name the same way.
        let queryables: Value = get(&server, "/collections/roads/queryables", lang).json().unwrap();
        assert_eq!(queryables["properties"]["class"], *class);
    }
}

#[test]
fn pages_head_columns_with_titles_and_show_codes_with_their_labels() {
    let server = Server::start(bando(&[]));
    let path = "/collections/roads/items?filter=class%3D%27trunk%27&limit=3&f=html";
    for (lang, html_lang, heads, class) in [
        (None, "vi", ["Cấp đường", "Bề rộng (m)"], "Quốc lộ (trunk)"),
        (Some("en"), "en", ["Class", "Width (m)"], "National highway (trunk)"),
    ] {
        let response = get(&server, path, lang);
        assert_eq!(response.headers()["content-language"], html_lang);
        let page = response.text().unwrap();
        assert!(page.contains(&format!(r#"<html lang="{html_lang}">"#)));
        for head in heads {
            assert!(page.contains(&format!("<th>{head}</th>")), "{lang:?}: no column {head}");
        }
        assert_eq!(page.matches(&format!("<td>{class}</td>")).count(), 3, "{lang:?}");
    }
    // The data itself keeps its codes.
    let json: Value =
        get(&server, "/collections/roads/items?filter=class%3D%27trunk%27&limit=3", Some("en")).json().unwrap();
    assert!(json["features"].as_array().unwrap().iter().all(|f| f["properties"]["class"] == "trunk"));
    assert!(get(&server, "/collections/roads/items?limit=1", Some("en")).headers().get("content-language").is_none());
}

#[test]
fn the_style_carries_the_labels_for_popups_and_labels_its_legend_from_the_code_list() {
    let server = Server::start(bando(&[]));
    let style = server.json("/styles/province.json");
    let layers = style["metadata"]["bando:layers"].as_array().unwrap();
    let layer = |id: &str| layers.iter().find(|l| l["id"] == id).unwrap();

    let rank = &layer("heritage_sites")["properties"]["rank"];
    assert_eq!(rank["title"], json!({ "vi": "Cấp xếp hạng", "en": "Rank" }));
    assert_eq!(rank["labels"]["national"], json!({ "vi": "Di tích quốc gia", "en": "National monument" }));
    assert_eq!(layer("roads")["properties"]["width_m"]["unit"], "m");

    // The legend says what the code list says: "Đường ngõ, hẻm", not the theme's own "Đường ngõ".
    let legend = layer("roads")["legend"].as_array().unwrap();
    assert_eq!(legend.last().unwrap()["label"], json!({ "vi": "Đường ngõ, hẻm", "en": "Local road" }));
    // A layer without a code list keeps the theme's labels.
    assert_eq!(layer("places")["legend"][0]["label"], json!({ "vi": "Điểm dân cư", "en": "Place" }));
}
