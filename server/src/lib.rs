//! The `bando` service: configuration, layer loading, and the HTTP routes.
//!
//! The modules, in an order where each imports only modules listed before it
//! (`tests/layout.rs` checks that there is no cycle):
//! - `media`, `error`, `settings`, `layer`, `assets`, `glyphs`: the media types; the one status
//!   table; the serving settings; the served layer and its extents; the map pages' files; label
//!   glyphs.
//! - `auth`, `request`, `language`, `feature_view`, `limits`, `compute`, `audit`, `html`: keys
//!   and callers; typed request values; the language people read; a feature as answers show it;
//!   the rate limiters; the bounded pool for CPU work; the audit trail; page layout.
//! - `access`: what one caller may read, as views of the layers.
//! - `tiles`, `vn2000_grid`, `tilejson`, `mbtiles`, `package`, `tilesets`, `style`, `schema`, `features`, `openapi`, `geojson`, `edits`:
//!   the service core (tile rendering and cache, the VN-2000 tile grid, TileJSON, MBTiles files
//!   written and read, tile packages written and served as they are, MapLibre styles and
//!   cartography, JSON Schemas, feature pages, the OpenAPI document), the GeoJSON encoder, and
//!   writes as clients send them.
//! - `config`, `web`, `keys`: the configuration, and what is read from it at start.
//! - `downloads`, `dcat`, `imports`, `respond`, `hub`, `state`: whole layers
//!   written as files; the open-data catalog of them; imports from the operator's page;
//!   how answers are written; what the change-log follower shares with handlers; the shared
//!   state that composes the core.
//! - `access_log`, `middleware`, `load`, `live`, `monitoring`, `webhooks`, `routes`, `listener`: the
//!   access log and what else runs around handlers, loading, the change feed, the monitoring
//!   chores and alert deliveries, the handlers (extract → core → encode;
//!   no route module imports another), and the connections they are served on.

pub mod access;
pub mod access_log;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod compute;
pub mod config;
pub mod dcat;
pub mod downloads;
pub mod edits;
pub mod error;
pub mod feature_view;
pub mod features;
pub mod geojson;
pub mod glyphs;
pub mod html;
pub mod hub;
pub mod imports;
pub mod keys;
pub mod language;
pub mod layer;
pub mod limits;
pub mod listener;
pub mod live;
pub mod load;
pub mod mbtiles;
pub mod media;
pub mod middleware;
pub mod monitoring;
pub mod openapi;
pub mod package;
pub mod request;
pub mod respond;
pub mod routes;
pub mod schema;
pub mod settings;
pub mod state;
pub mod style;
pub mod tilejson;
pub mod tiles;
pub mod tilesets;
pub mod vn2000_grid;
pub mod web;
pub mod webhooks;

use axum::{
    Extension, Router,
    http::{Method, header},
};
use tower_http::{
    cors::{Any, CorsLayer},
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing::Level;

use crate::{error::ApiError, routes::api::Operations, state::AppState};

// `layers` and `tiler` do not depend on each other, so each names the Web Mercator world and the
// deepest zoom itself; here, where both are used, they must agree.
const _: () = assert!(layers::mercator::HALF_WORLD == tiler::tile::HALF_WORLD);
const _: () = assert!(layers::catalog::MAX_ZOOM == tiler::tile::MAX_ZOOM);

/// The whole HTTP application: every route of [`routes::all`], and `/api` describing them.
pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(Any)
        .expose_headers([
            header::ETAG,
            header::CONTENT_ENCODING,
            header::LOCATION,
            header::HeaderName::from_static("content-crs"),
        ]);
    let endpoints = routes::all();
    let operations: Operations = endpoints.iter().map(|e| e.operation).collect();
    let router = endpoints.into_iter().fold(Router::new(), |r, e| r.route(e.operation.route, e.handler));
    // The write methods join the GET routes of the same paths.
    let router = routes::writes::routes().into_iter().fold(router, |r, (path, methods)| r.route(path, methods));
    // SensorThings and alerts: an API of their own, described by their service root, not `/api`.
    // The operator's page likewise.
    let router = [routes::sta::routes(), routes::alerts::routes(), routes::admin::routes()]
        .into_iter()
        .flatten()
        .fold(router, |r, (path, methods)| r.route(path, methods));
    let routes = router
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(format!("{method} is not allowed here; see the Allow header"))
        })
        .layer(Extension(operations))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::throttle))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::origin))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::check_size))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(limits::panic_response))
        // GeoJSON and pages shrink five- to tenfold; tiles carry their own gzip, which this
        // leaves alone. Downloads are left as written: compressing a whole layer would be long
        // CPU work on the async threads, outside the downloads' own pool.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true).compress_when({
            use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
            DefaultPredicate::new()
                .and(NotForContentType::const_new(media::GEOPACKAGE))
                .and(NotForContentType::const_new(media::FLATGEOBUF))
                .and(NotForContentType::const_new(media::CSV))
        }))
        .with_state(state);
    // tower-http answers every OPTIONS as a CORS preflight; a plain one (without
    // Access-Control-Request-Method) goes to the routes, which say what this caller may do.
    let with_cors = routes.clone().layer(cors);
    let dispatch = tower::service_fn(move |request: axum::extract::Request| {
        let plain_options = request.method() == Method::OPTIONS
            && !request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let target = if plain_options { routes.clone() } else { with_cors.clone() };
        tower::ServiceExt::oneshot(target, request)
    });
    Router::new()
        .fallback_service(dispatch)
        // 5xx answers are logged once, where they are made (ApiError); 503 from /ready while
        // loading is expected and stays at debug level here.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
        .layer(axum::middleware::from_fn(access_log::log))
}
