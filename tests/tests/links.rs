//! Links and pages carry only origins the configuration allows: forwarding headers count from a
//! configured proxy alone, a configured public URL wins, and the HTML pages carry the same
//! protections as the map pages.
#![allow(clippy::unwrap_used)]

use e2e::{Server, bando};
use serde_json::Value;

fn self_link(server: &Server, headers: &[(&str, &str)]) -> String {
    let body: Value = server.get_as("/collections", None, headers).json().unwrap();
    body["links"][0]["href"].as_str().unwrap().to_owned()
}

const HOSTILE: [(&str, &str); 2] =
    [("x-forwarded-proto", "javascript:alert(1)//"), ("x-forwarded-host", "evil.example")];

#[test]
fn forwarding_headers_count_only_from_a_configured_proxy() {
    let direct = Server::start(bando(&[]));
    let own = format!("{}/collections?f=json", direct.base);
    assert_eq!(self_link(&direct, &HOSTILE), own);
    assert_eq!(self_link(&direct, &[("x-forwarded-proto", "https")]), own, "not from a configured proxy");
    let page = direct.get_as("/collections?f=html", None, &HOSTILE).text().unwrap();
    assert!(!page.contains("javascript:") && !page.contains("evil.example"), "{page}");
    let bad_host = direct.get_as("/collections", None, &[("host", "a\"b")]);
    assert!(bad_host.status().is_client_error() || !bad_host.text().unwrap().contains("a\"b"));

    let mut cmd = bando(&[]);
    cmd.env("BANDO_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]");
    let proxied = Server::start(cmd);
    let forwarded = [("x-forwarded-proto", "https"), ("x-forwarded-host", "gis.cantho.gov.vn")];
    assert_eq!(self_link(&proxied, &forwarded), "https://gis.cantho.gov.vn/collections?f=json");
    let host = proxied.base.trim_start_matches("http://");
    let scheme = [HOSTILE[0]];
    assert_eq!(self_link(&proxied, &scheme), format!("http://{host}/collections?f=json"), "only http or https");

    let mut cmd = bando(&[]);
    cmd.env("BANDO_SERVER__PUBLIC_URL", "https://bando.cantho.gov.vn");
    let public = Server::start(cmd);
    assert_eq!(self_link(&public, &forwarded), "https://bando.cantho.gov.vn/collections?f=json");
}

#[test]
fn html_pages_forbid_scripts_and_framing_and_negotiated_answers_vary_with_accept() {
    let server = Server::start(bando(&[]));
    for path in ["/", "/collections", "/collections/roads", "/collections/roads/items?limit=2"] {
        let html = server.get_as(path, None, &[("accept", "text/html")]);
        assert_eq!(html.status(), 200, "{path}");
        let csp = html.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'self'"), "{path}: {csp}");
        assert!(!csp.contains("script-src"), "{path}: no script is allowed at all");
        assert_eq!(html.headers()["x-content-type-options"], "nosniff", "{path}");
        for r in [html, server.get_as(path, None, &[("accept", "application/json")])] {
            let vary: Vec<&str> = r.headers().get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
            assert!(vary.iter().any(|v| v.split(',').any(|p| p.trim() == "accept")), "{path}: {vary:?}");
        }
    }
}
