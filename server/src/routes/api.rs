//! `/api`: the OpenAPI 3.0 definition of every path Bando serves, and `/api.html`, the same as a
//! page. Each collection's items path lists its own queryable properties as parameters, as
//! OGC API - Features Part 3 (queryables-query-parameters) asks and GDAL's client reads.
//!
//! Written out with `serde_json` rather than derived: most of the document depends on the
//! configured layers, which no derive macro sees.

use std::fmt::Write;

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::get,
};
use layers::{crs::Crs, search::MAX_QUERY_CHARS};
use serde_json::{Map, Value, json};

use super::{base_url, items::ITEMS_PARAMETERS, queryables::property_schema};
use crate::{auth::Caller, html, state::AppState};

/// The media type of the OpenAPI document.
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api", get(api)).route("/api.html", get(api_html))
}

async fn api(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let doc = document(&state, &caller, &base_url(&headers));
    ([(header::CONTENT_TYPE, OPENAPI_JSON)], doc.to_string()).into_response()
}

async fn api_html(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let doc = document(&state, &caller, &base_url(&headers));
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
    let page = html::page("API", &[("Bando", "/".into())], "/api", &body);
    ([(header::CONTENT_TYPE, html::HTML)], page).into_response()
}

fn resolve<'a>(doc: &'a Value, p: &'a Value) -> &'a Value {
    match p["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/parameters/")) {
        Some(name) => &doc["components"]["parameters"][name],
        None => p,
    }
}

fn param(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn response(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn ok(description: &str, types: &[&str]) -> Value {
    let content: Map<String, Value> = types
        .iter()
        .map(|t| {
            let schema = if t.starts_with("text/") { json!({ "type": "string" }) } else { json!({ "type": "object" }) };
            ((*t).to_owned(), json!({ "schema": schema }))
        })
        .collect();
    json!({ "description": description, "content": content })
}

/// A GET operation. Every path may also answer a bad key, an over-long URL, a used-up rate
/// and a timeout: those are added to each.
fn operation(summary: &str, parameters: Vec<Value>, mut responses: Value) -> Value {
    for (status, name) in
        [("401", "Unauthorized"), ("414", "UriTooLong"), ("429", "TooManyRequests"), ("503", "Unavailable")]
    {
        responses[status] = response(name);
    }
    json!({ "get": { "summary": summary, "parameters": parameters, "responses": responses } })
}

/// The whole document for the layers this caller may know of.
fn document(state: &AppState, caller: &Caller, base: &str) -> Value {
    let layers = state.layers_for(caller);
    let ids: Vec<String> = layers.iter().map(|l| l.def.id.to_string()).collect();
    let json_html = ["application/json", "text/html"];
    let mut paths = Map::new();
    let mut add = |path: &str, item: Value| {
        paths.insert(path.to_owned(), item);
    };
    let standard = json!({ "400": response("BadRequest") });
    let with_404 = json!({ "400": response("BadRequest"), "404": response("NotFound") });
    let merge = |mut a: Value, ok: Value| {
        a["200"] = ok;
        a
    };
    add("/", operation("Landing page", vec![param("f")], merge(standard.clone(), ok("Links to the API", &json_html))));
    add(
        "/conformance",
        operation(
            "Conformance classes",
            vec![param("f")],
            merge(standard.clone(), ok("Conformance classes", &json_html)),
        ),
    );
    add("/api", operation("This document", vec![], json!({ "200": ok("OpenAPI 3.0", &[OPENAPI_JSON]) })));
    add(
        "/api.html",
        operation("This document as a page", vec![], json!({ "200": ok("API documentation", &["text/html"]) })),
    );
    add(
        "/collections",
        operation("Collections", vec![param("f")], merge(standard.clone(), ok("The collections", &json_html))),
    );
    add(
        "/collections/{collectionId}",
        operation(
            "One collection",
            vec![param("collectionId"), param("f")],
            merge(with_404.clone(), ok("The collection", &json_html)),
        ),
    );
    add(
        "/collections/{collectionId}/queryables",
        operation(
            "Properties a filter may name (JSON Schema)",
            vec![param("collectionId"), param("f")],
            merge(with_404.clone(), ok("The queryables", &["application/schema+json", "text/html"])),
        ),
    );
    for layer in &layers {
        let id = layer.def.id.to_string();
        let mut parameters: Vec<Value> = ITEMS_PARAMETERS.iter().copied().map(param).collect();
        for (_, p) in layer.def.properties.iter().enumerate().filter(|(i, _)| layer.is_queryable(*i, caller)) {
            let schema = property_schema(p.kind);
            parameters.push(json!({
                "name": p.name, "in": "query", "required": false, "style": "form", "explode": false, "schema": schema,
                "description": format!("Only features whose `{}` equals this value.", p.name),
            }));
        }
        add(
            &format!("/collections/{id}/items"),
            operation(
                &format!("Features of {id}"),
                parameters,
                merge(standard.clone(), ok("A page of features", &["application/geo+json", "text/html"])),
            ),
        );
    }
    add(
        "/collections/{collectionId}/items/{featureId}",
        operation(
            "One feature",
            vec![param("collectionId"), param("featureId"), param("crs"), param("f")],
            merge(with_404.clone(), ok("The feature", &["application/geo+json", "text/html"])),
        ),
    );
    let tile_ok = json!({ "description": "A Mapbox Vector Tile", "content": { "application/vnd.mapbox-vector-tile": { "schema": { "type": "string", "format": "binary" } } } });
    let tile_responses = json!({
        "200": tile_ok, "204": { "description": "The tile is empty" }, "304": { "description": "Not modified" },
        "400": response("BadRequest"), "404": response("NotFound"),
    });
    add(
        "/tileMatrixSets",
        operation("Tiling schemes", vec![], json!({ "200": ok("The tiling schemes", &["application/json"]) })),
    );
    add(
        "/tileMatrixSets/{tileMatrixSetId}",
        operation(
            "A tiling scheme",
            vec![param("tileMatrixSetId")],
            json!({ "200": ok("The tiling scheme", &["application/json"]), "404": response("NotFound") }),
        ),
    );
    add(
        "/collections/{collectionId}/tiles",
        operation(
            "A collection's vector tilesets",
            vec![param("collectionId")],
            merge(with_404.clone(), ok("Tilesets", &["application/json"])),
        ),
    );
    add(
        "/collections/{collectionId}/tiles/{tileMatrixSetId}",
        operation(
            "A collection's vector tileset",
            vec![param("collectionId"), param("tileMatrixSetId")],
            merge(with_404.clone(), ok("Tileset metadata", &["application/json"])),
        ),
    );
    add(
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        operation(
            "A vector tile of one collection",
            ["collectionId", "tileMatrixSetId", "tileMatrix", "tileRow", "tileCol"].into_iter().map(param).collect(),
            tile_responses.clone(),
        ),
    );
    add(
        "/tiles/{layers}/{z}/{x}/{y}.mvt",
        operation(
            "A vector tile of one or more layers",
            ["layers", "z", "x", "y"].into_iter().map(param).collect(),
            tile_responses,
        ),
    );
    add(
        "/tiles/{layers}.json",
        operation(
            "TileJSON 3.0.0 for one or more layers",
            vec![param("layers")],
            merge(with_404.clone(), ok("TileJSON", &["application/json"])),
        ),
    );
    add("/health", operation("Liveness", vec![], json!({ "200": ok("The process answers", &["application/json"]) })));
    add(
        "/ready",
        operation(
            "Readiness",
            vec![],
            json!({ "200": ok("Every layer is loaded", &["application/json"]), "503": response("Unavailable") }),
        ),
    );
    add("/metrics", operation("Prometheus metrics", vec![], json!({ "200": ok("Counters", &["text/plain"]) })));

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Bando",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vector tiles and OGC API - Features for the province's spatial layers.",
        },
        "servers": [{ "url": base }],
        "paths": paths,
        "components": { "parameters": parameters(&ids, state), "responses": responses() },
    })
}

fn parameters(ids: &[String], state: &AppState) -> Value {
    let crs: Vec<String> = Crs::supported().map(Crs::uri).collect();
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false, "description": description, "schema": schema });
    let path = |name: &str, schema: Value| json!({ "name": name, "in": "path", "required": true, "schema": schema });
    let max = state.settings().max_limit;
    json!({
        "f": query("f", "The representation: JSON (GeoJSON for features) or HTML. Without it, the Accept header decides.", json!({ "type": "string", "enum": ["json", "html"] })),
        "limit": query("limit", &format!("Features per page, default {}. Above {max}, {max} are returned.", state.settings().default_limit), json!({ "type": "integer", "minimum": 1 })),
        "offset": query("offset", "Features to skip; the `next` and `prev` links carry it.", json!({ "type": "integer", "minimum": 0 })),
        "bbox": query("bbox", "Only features intersecting this box: min x, min y, max x, max y in `bbox-crs` axis order (CRS84 by default).", json!({ "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } })),
        "bbox-crs": query("bbox-crs", "The CRS of `bbox`.", json!({ "type": "string", "format": "uri", "enum": crs })),
        "crs": query("crs", "The CRS of the answer's coordinates.", json!({ "type": "string", "format": "uri", "enum": crs })),
        "datetime": query("datetime", "An instant or interval (RFC 3339, `..` for an open end) the feature's time must fall in.", json!({ "type": "string" })),
        "filter": query("filter", "A CQL2 filter on the queryable properties and the geometry.", json!({ "type": "string" })),
        "filter-lang": query("filter-lang", "The encoding of `filter`.", json!({ "type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text" })),
        "filter-crs": query("filter-crs", "The CRS of geometries in `filter`.", json!({ "type": "string", "format": "uri", "enum": crs })),
        "q": query("q", "Words to find in the text properties, ignoring case and diacritics; results rank by relevance.", json!({ "type": "string", "maxLength": MAX_QUERY_CHARS })),
        "sortby": query("sortby", "Properties to order by, comma-separated, each with an optional `+` or `-`.", json!({ "type": "string" })),
        "properties": query("properties", "Only these properties, comma-separated.", json!({ "type": "string" })),
        "collectionId": path("collectionId", json!({ "type": "string", "enum": ids })),
        "featureId": path("featureId", json!({ "type": "string", "example": "1" })),
        "tileMatrixSetId": path("tileMatrixSetId", json!({ "type": "string", "enum": ["WebMercatorQuad"] })),
        "tileMatrix": path("tileMatrix", json!({ "type": "integer", "minimum": 0, "maximum": 22 })),
        "tileRow": path("tileRow", json!({ "type": "integer", "minimum": 0 })),
        "tileCol": path("tileCol", json!({ "type": "integer", "minimum": 0 })),
        "layers": path("layers", json!({ "type": "string", "enum": ids, "description": "A layer id, or several joined by commas" })),
        "z": path("z", json!({ "type": "integer", "minimum": 0, "maximum": 22 })),
        "x": path("x", json!({ "type": "integer", "minimum": 0 })),
        "y": path("y", json!({ "type": "integer", "minimum": 0 })),
    })
}

fn responses() -> Value {
    let problem = |description: &str| {
        json!({ "description": description, "content": { "application/problem+json": { "schema": {
            "type": "object",
            "required": ["title", "status", "detail"],
            "properties": {
                "type": { "type": "string" }, "title": { "type": "string" },
                "status": { "type": "integer" }, "detail": { "type": "string" },
            },
        } } } })
    };
    let mut all = json!({
        "BadRequest": problem("A parameter is unknown or malformed; the detail says which."),
        "NotFound": problem("No such collection, feature or tile."),
        "Unavailable": problem("The service is loading, a layer failed to load, or the request took too long."),
        "Unauthorized": problem("The API key is not valid."),
        "UriTooLong": problem("The URL is longer than the configured limit."),
        "TooManyRequests": problem("The caller's request rate is used up; `Retry-After` says for how long."),
    });
    all["TooManyRequests"]["headers"] = json!({ "Retry-After": { "schema": { "type": "integer" } } });
    all
}
