//! `/api`: the OpenAPI 3.0 definition of every path Bando serves, written from the router's
//! own registration, and `/api.html`, the same as a page.

use std::{fmt::Write, sync::Arc};

use axum::{Extension, extract::State, http::HeaderMap, response::Response};
use serde_json::Value;

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    html::{self, Page, Trail},
    media::OPENAPI_JSON,
    openapi::{self, Operation},
    respond,
    state::AppState,
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::get(Operation::new("/api", "/api", "This document").ok("OpenAPI 3.0", &[OPENAPI_JSON]), api),
        Endpoint::get(
            Operation::new("/api.html", "/api.html", "This document as a page").ok("API documentation", &["text/html"]),
            api_html,
        ),
    ]
}

/// Every operation the router serves, as the application was built with them.
pub type Operations = Arc<[Operation]>;

async fn api(
    State(state): State<AppState>,
    Extension(operations): Extension<Operations>,
    caller: Caller,
    headers: HeaderMap,
) -> Response {
    respond::json(OPENAPI_JSON, document(&state, &operations, &caller, &headers).to_string())
}

async fn api_html(
    State(state): State<AppState>,
    Extension(operations): Extension<Operations>,
    caller: Caller,
    headers: HeaderMap,
) -> Page {
    let doc = document(&state, &operations, &caller, &headers);
    let mut body =
        String::from("<p>The machine-readable definition is at <a href=\"/api\">/api</a> (OpenAPI 3.0).</p>");
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let op = &item["get"];
        let _ = write!(
            body,
            "<h3><code>GET {}</code></h3><p>{}</p>",
            html::escape(path),
            html::escape(op["summary"].as_str().unwrap_or_default())
        );
        let params: Vec<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| resolve(&doc, p)["name"].as_str().map(str::to_owned))
            .collect();
        if !params.is_empty() {
            let _ = write!(body, "<p>Parameters: <code>{}</code></p>", html::escape(&params.join(", ")));
        }
    }
    Page::new("API", Trail::Home, "/api", body)
}

/// The document for the layers this caller may know of.
fn document(state: &AppState, operations: &[Operation], caller: &Caller, headers: &HeaderMap) -> Value {
    let views = state.access(caller).all();
    let web = state.web();
    let base = base_url(headers);
    let cx = openapi::Context {
        base: &base,
        views: &views,
        styles: crate::style::list(&views).into_iter().map(|(id, _)| id.to_owned()).collect(),
        fonts: web.glyphs.fonts().map(str::to_owned).collect(),
        assets: web.assets.names().map(str::to_owned).collect(),
        default_limit: state.settings().default_limit,
        max_limit: state.settings().max_limit,
        editable: views
            .iter()
            .filter(|v| state.pool().is_some() && v.def.source.table.is_some() && !v.def.editable_by.is_empty())
            .map(|v| v.def.id.to_string())
            .collect(),
        tilesets: state
            .tilesets()
            .values()
            .filter(|t| caller.may_read(t.config.access))
            .map(|t| (t.id.clone(), t.file_name()))
            .collect(),
        tile_matrix_sets: std::iter::once(crate::tiles::TMS_ID)
            .chain(state.vn2000_grid().map(|_| crate::vn2000_grid::ID))
            .collect(),
    };
    openapi::document(operations, &cx)
}

fn resolve<'a>(doc: &'a Value, p: &'a Value) -> &'a Value {
    match p["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/parameters/")) {
        Some(name) => &doc["components"]["parameters"][name],
        None => p,
    }
}
