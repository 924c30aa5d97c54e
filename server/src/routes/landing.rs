//! The landing page and `/conformance`, as JSON or HTML.

use std::fmt::Write;

use axum::{
    Router,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use super::{api::OPENAPI_JSON, base_url};
use crate::{
    error::ApiError,
    html,
    request::{Format, Params},
    state::AppState,
};

/// The conformance classes Bando implements, and only those.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(landing)).route("/conformance", get(conformance))
}

async fn landing(params: Params, headers: HeaderMap) -> Result<Response, ApiError> {
    let format = Format::negotiate(&params, &headers)?;
    let base = base_url(&headers);
    let link = |rel: &str, kind: &str, path: &str, title: &str| json!({ "rel": rel, "type": kind, "title": title, "href": format!("{base}{path}") });
    let links = vec![
        link("self", "application/json", "/?f=json", "This document"),
        link("alternate", "text/html", "/?f=html", "This document as HTML"),
        link("service-desc", OPENAPI_JSON, "/api", "The API definition (OpenAPI 3.0)"),
        link("service-doc", "text/html", "/api.html", "The API documentation"),
        link("conformance", "application/json", "/conformance", "Conformance classes"),
        link(
            "http://www.opengis.net/def/rel/ogc/1.0/conformance",
            "application/json",
            "/conformance",
            "Conformance classes",
        ),
        link("data", "application/json", "/collections", "Layers"),
        link("http://www.opengis.net/def/rel/ogc/1.0/data", "application/json", "/collections", "Layers"),
        link(
            "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
            "application/json",
            "/tileMatrixSets",
            "Tiling schemes",
        ),
    ];
    let title = "Bando";
    let description = "Vector tiles and feature services for the province's spatial layers";
    if format == Format::Html {
        let mut body = format!("<p>{description}</p><ul>");
        for l in &links[2..] {
            let href = l["href"].as_str().unwrap_or_default().trim_start_matches(&base).to_owned();
            let _ = write!(
                body,
                r#"<li><a href="{}">{}</a></li>"#,
                html::escape(&href),
                html::escape(l["title"].as_str().unwrap_or_default())
            );
        }
        body.push_str("</ul>");
        let page = html::page(title, &[], "/?f=json", &body);
        return Ok(([(header::CONTENT_TYPE, html::HTML)], page).into_response());
    }
    let body = json!({ "title": title, "description": description, "links": links });
    Ok(([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

async fn conformance(params: Params, headers: HeaderMap) -> Result<Response, ApiError> {
    if Format::negotiate(&params, &headers)? == Format::Html {
        let items: String = CONFORMANCE.iter().map(|c| format!("<li><code>{c}</code></li>")).collect();
        let page =
            html::page("Conformance", &[("Bando", "/".into())], "/conformance?f=json", &format!("<ul>{items}</ul>"));
        return Ok(([(header::CONTENT_TYPE, html::HTML)], page).into_response());
    }
    let body: Value = json!({ "conformsTo": CONFORMANCE });
    Ok(([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}
