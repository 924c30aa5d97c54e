//! The HTTP routes, one module per family. Each module lists its [`Endpoint`]s: a path with its
//! OpenAPI description and its handler, so that the router and `/api` are built from the same
//! registration. Handlers extract typed values, call the service core and encode the answer;
//! no route module imports another.

pub mod admin;
pub mod alerts;
pub mod api;
pub mod catalog;
pub mod changes;
pub mod collections;
pub mod health;
pub mod items;
pub mod landing;
pub mod maps;
pub mod metrics;
pub mod ogc_tiles;
pub mod queryables;
pub mod sta;
pub mod tiles;
pub mod writes;

use axum::{
    handler::Handler,
    http::{HeaderMap, header},
    routing::MethodRouter,
};

use crate::{openapi::Operation, state::AppState};

/// A served path: its description and its handler.
pub struct Endpoint {
    /// What `/api` says of it.
    pub operation: Operation,
    /// What answers it.
    pub handler: MethodRouter<AppState>,
}

impl Endpoint {
    /// A GET endpoint (HEAD answered too, as for every GET).
    pub fn get<H: Handler<T, AppState>, T: 'static>(operation: Operation, handler: H) -> Self {
        Self { operation, handler: axum::routing::get(handler) }
    }
}

/// Every endpoint the service serves.
pub fn all() -> Vec<Endpoint> {
    [
        landing::endpoints(),
        api::endpoints(),
        collections::endpoints(),
        catalog::endpoints(),
        queryables::endpoints(),
        items::endpoints(),
        changes::endpoints(),
        ogc_tiles::endpoints(),
        tiles::endpoints(),
        maps::endpoints(),
        health::endpoints(),
        metrics::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The service's base URL as the client reached it, for absolute links.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let proto = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::openapi::{Context, document};

    #[test]
    fn every_route_is_registered_once_and_documented_with_its_captures() {
        let endpoints = all();
        let routes: BTreeSet<&str> = endpoints.iter().map(|e| e.operation.route).collect();
        assert_eq!(routes.len(), endpoints.len(), "a route is registered twice");
        for op in endpoints.iter().map(|e| &e.operation) {
            // The documented path names as many captures as the route has, each a parameter
            // of the operation (the items path is written out per collection instead).
            let captures: Vec<&str> = op.path.split('{').skip(1).filter_map(|c| c.split('}').next()).collect();
            assert_eq!(captures.len(), op.route.matches('{').count(), "{} vs {}", op.path, op.route);
            for c in captures.iter().filter(|_| !op.per_layer) {
                assert!(op.parameters.contains(c), "{}: {c} is not a parameter", op.path);
            }
        }
    }

    #[test]
    fn every_parameter_an_operation_names_is_described() {
        let operations: Vec<Operation> = all().into_iter().map(|e| e.operation).collect();
        let cx = Context {
            base: "",
            views: &[],
            styles: vec![],
            fonts: vec![],
            assets: vec![],
            default_limit: 10,
            max_limit: 100,
            editable: vec![],
            tilesets: vec![],
            tile_matrix_sets: vec!["WebMercatorQuad"],
        };
        let doc = document(&operations, &cx);
        for op in &operations {
            for p in op.parameters {
                // Keyed by its name, but for `/items`' own `f` (which takes the download formats).
                let name = match *p {
                    "itemsFormat" => "f",
                    "byteRange" => "Range",
                    other => other,
                };
                assert!(doc["components"]["parameters"][p]["name"] == name, "{}: no parameter {p}", op.path);
            }
        }
        let responses = doc["components"]["responses"].as_object().map(|r| r.len());
        assert!(responses >= Some(8), "{responses:?}");
    }
}
