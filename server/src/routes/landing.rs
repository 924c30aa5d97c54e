//! The landing page and `/conformance`, as JSON or HTML.

use std::fmt::Write;

use axum::{extract::State, http::HeaderMap, response::Response};
use serde_json::json;

use super::{Endpoint, base_url};
use crate::{
    error::ApiError,
    html::{self, Page, Trail},
    media::{JSON, OPENAPI_JSON},
    openapi::{Operation, Status},
    request::{Format, Params},
    respond,
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
    // Part 5 (Schemas), published as OGC API - Common - Part 3.
    "http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/schemas",
    "http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/returnables-and-receivables",
    "http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/sortables",
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

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    let json_html: &[&str] = &[JSON, "text/html"];
    vec![
        Endpoint::get(
            Operation::new("/", "/", "Landing page")
                .parameters(&["f"])
                .ok("Links to the API", json_html)
                .statuses(&[Status::BadRequest]),
            landing,
        ),
        Endpoint::get(
            Operation::new("/conformance", "/conformance", "Conformance classes")
                .parameters(&["f"])
                .ok("Conformance classes", json_html)
                .statuses(&[Status::BadRequest]),
            conformance,
        ),
    ]
}

async fn landing(params: Params, headers: HeaderMap) -> Result<Response, ApiError> {
    let format = Format::negotiate(&params, &headers)?;
    let base = base_url(&headers);
    let link = |rel: &str, kind: &str, path: &str, title: &str| json!({ "rel": rel, "type": kind, "title": title, "href": format!("{base}{path}") });
    let links = vec![
        link("self", JSON, "/?f=json", "This document"),
        link("alternate", "text/html", "/?f=html", "This document as HTML"),
        link("service-desc", OPENAPI_JSON, "/api", "The API definition (OpenAPI 3.0)"),
        link("service-doc", "text/html", "/api.html", "The API documentation"),
        link("conformance", JSON, "/conformance", "Conformance classes"),
        link("http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON, "/conformance", "Conformance classes"),
        link("data", JSON, "/collections", "Layers"),
        link("http://www.opengis.net/def/rel/ogc/1.0/data", JSON, "/collections", "Layers"),
        link("http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", JSON, "/tileMatrixSets", "Tiling schemes"),
    ];
    let title = "Bando";
    let description = "Vector tiles and feature services for the province's spatial layers";
    respond::negotiated(
        format,
        || Ok(respond::json(JSON, json!({ "title": title, "description": description, "links": links }).to_string())),
        || {
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
            Ok(Page::new(title, Trail::Landing, "/?f=json", body))
        },
    )
}

/// OGC API - Features Part 4 (1.0.0-draft.2), declared when some layer takes writes: with a
/// database, and a layer the configuration makes editable. (The draft lists the ETag class
/// under `/req/`; its other classes, and the pattern of every OGC class, are under `/conf/`.)
pub const WRITES: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
];

async fn conformance(State(state): State<AppState>, params: Params, headers: HeaderMap) -> Result<Response, ApiError> {
    let writes = state.pool().is_some()
        && state.layers().values().any(|l| !l.def.editable_by.is_empty() && l.def.source.table.is_some());
    let classes: Vec<&str> = CONFORMANCE.iter().chain(WRITES.iter().filter(|_| writes)).copied().collect();
    respond::negotiated(
        Format::negotiate(&params, &headers)?,
        || Ok(respond::json(JSON, json!({ "conformsTo": classes }).to_string())),
        || {
            let items: String = classes.iter().map(|c| format!("<li><code>{c}</code></li>")).collect();
            Ok(Page::new("Conformance", Trail::Home, "/conformance?f=json", format!("<ul>{items}</ul>")))
        },
    )
}
