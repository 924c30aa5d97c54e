//! The OpenAPI 3.0 document, written from the same [`Operation`]s the router serves (each route
//! module registers its paths with their description), so that no path is served undocumented
//! or documented unserved. Each collection's items path lists that collection's queryable
//! properties as parameters, as OGC API - Features Part 3 (queryables-query-parameters) asks and
//! GDAL's client reads.
//!
//! One table of our own rather than `utoipa`: most of the document depends on the configured
//! layers and on the caller (a path per readable collection, enums of layer ids, fonts and
//! assets), which derive macros do not see, and the table costs no dependency.

use serde_json::{Map, Value, json};

use crate::{
    access::LayerView,
    media::{JSON, MVT, PROTOBUF},
};

/// A status an operation may answer besides 200.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 204: an empty tile.
    NoContent,
    /// 304: the client's copy is current.
    NotModified,
    /// 400: a malformed parameter.
    BadRequest,
    /// 401: a key that is not valid.
    Unauthorized,
    /// 404: no such resource, or one the caller may not know of.
    NotFound,
    /// 206: the byte range asked for.
    PartialContent,
    /// 416: a byte range outside the file.
    RangeNotSatisfiable,
    /// 413: a body over the limit.
    TooLarge,
    /// 414: a URL over the limit.
    UriTooLong,
    /// 429: the caller's rate is used up.
    TooManyRequests,
    /// 500: a failure on the server's side.
    Internal,
    /// 503: loading, a dependency lost, or the request took too long.
    Unavailable,
}

/// What every path may answer, whatever its handler does: the middleware checks keys, sizes,
/// rates and time for every request, and a handler that fails is answered 500.
pub const EVERY_PATH: [Status; 6] = [
    Status::Unauthorized,
    Status::TooLarge,
    Status::UriTooLong,
    Status::TooManyRequests,
    Status::Internal,
    Status::Unavailable,
];

impl Status {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            Self::NoContent => 204,
            Self::NotModified => 304,
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::PartialContent => 206,
            Self::RangeNotSatisfiable => 416,
            Self::TooLarge => 413,
            Self::UriTooLong => 414,
            Self::TooManyRequests => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    fn response(self) -> Value {
        let component = match self {
            Self::NoContent => return json!({ "description": "The tile is empty" }),
            Self::NotModified => return json!({ "description": "Not modified: the client's copy is current" }),
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "NotFound",
            Self::PartialContent => return json!({ "description": "The byte range asked for" }),
            Self::RangeNotSatisfiable => "RangeNotSatisfiable",
            Self::TooLarge => "TooLarge",
            Self::UriTooLong => "UriTooLong",
            Self::TooManyRequests => "TooManyRequests",
            Self::Internal => "Internal",
            Self::Unavailable => "Unavailable",
        };
        json!({ "$ref": format!("#/components/responses/{component}") })
    }
}

/// One GET operation: the path the router matches, the path the document shows, and what it
/// takes and answers.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// The path as the router matches it (`{name}` captures whole segments).
    pub route: &'static str,
    /// The path as the document writes it.
    pub path: &'static str,
    /// One line on what it answers.
    pub summary: &'static str,
    /// Its parameters, by name in the document's `components.parameters`.
    pub parameters: &'static [&'static str],
    /// What a 200 holds.
    pub ok_description: &'static str,
    /// The media types of a 200.
    pub ok_types: &'static [&'static str],
    /// What it may answer besides 200 and [`EVERY_PATH`].
    pub statuses: &'static [Status],
    /// Documented once per readable collection, with that collection's queryables as
    /// parameters (the items path).
    pub per_layer: bool,
}

impl Operation {
    /// An operation with no parameters that answers 200 JSON.
    pub const fn new(route: &'static str, path: &'static str, summary: &'static str) -> Self {
        Self {
            route,
            path,
            summary,
            parameters: &[],
            ok_description: summary,
            ok_types: &[JSON],
            statuses: &[],
            per_layer: false,
        }
    }

    /// With these parameters.
    pub const fn parameters(self, parameters: &'static [&'static str]) -> Self {
        Self { parameters, ..self }
    }

    /// A 200 of these media types.
    pub const fn ok(self, ok_description: &'static str, ok_types: &'static [&'static str]) -> Self {
        Self { ok_description, ok_types, ..self }
    }

    /// Also answering these statuses.
    pub const fn statuses(self, statuses: &'static [Status]) -> Self {
        Self { statuses, ..self }
    }

    /// Documented once per readable collection, with its queryables as parameters.
    pub const fn per_layer(self) -> Self {
        Self { per_layer: true, ..self }
    }

    /// Every status it may answer besides 200, in order: its own, a 400 for a path capture
    /// that does not decode, and those of [`EVERY_PATH`].
    pub fn statuses_answered(&self) -> Vec<Status> {
        let captures = self.route.contains('{').then_some(Status::BadRequest);
        let mut all: Vec<Status> = self.statuses.iter().copied().chain(captures).chain(EVERY_PATH).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    fn item(&self, summary: &str, extra: Vec<Value>) -> Value {
        let content: Map<String, Value> = self
            .ok_types
            .iter()
            .map(|t| {
                let schema = match *t {
                    t if t.starts_with("text/") => json!({ "type": "string" }),
                    PROTOBUF | MVT => {
                        json!({ "type": "string", "format": "binary" })
                    }
                    _ => json!({ "type": "object" }),
                };
                ((*t).to_owned(), json!({ "schema": schema }))
            })
            .collect();
        let mut responses = Map::new();
        responses.insert("200".into(), json!({ "description": self.ok_description, "content": content }));
        for s in self.statuses_answered() {
            responses.insert(s.code().to_string(), s.response());
        }
        let mut parameters: Vec<Value> =
            self.parameters.iter().map(|p| json!({ "$ref": format!("#/components/parameters/{p}") })).collect();
        parameters.extend(extra);
        json!({ "get": { "summary": summary, "parameters": parameters, "responses": responses } })
    }
}

/// What the document lists besides the operations: the caller's layers and the names the
/// parameters may take.
pub struct Context<'a> {
    /// The service's base URL.
    pub base: &'a str,
    /// The layers the caller may read.
    pub views: &'a [LayerView],
    /// The style ids.
    pub styles: Vec<String>,
    /// The font stacks `/fonts` serves.
    pub fonts: Vec<String>,
    /// The files `/assets` serves.
    pub assets: Vec<String>,
    /// Features per page without `limit`.
    pub default_limit: usize,
    /// The largest page.
    pub max_limit: usize,
    /// The collections that take writes (with a database, made editable by the configuration).
    pub editable: Vec<String>,
    /// The tile packages the caller may read: their ids and file names.
    pub tilesets: Vec<(String, String)>,
    /// The ids of the tile matrix sets served.
    pub tile_matrix_sets: Vec<&'static str>,
}

/// The whole document.
pub fn document(operations: &[Operation], cx: &Context) -> Value {
    let mut paths = Map::new();
    for op in operations {
        // A path whose parameter names a package is left out where there is none to name: an
        // empty `enum` is not a schema.
        if op.parameters.contains(&"package") && cx.tilesets.is_empty() {
            continue;
        }
        if op.per_layer {
            for view in cx.views {
                let id = view.def.id.as_str();
                let path = op.path.replace("{collectionId}", id);
                paths.insert(path, op.item(&format!("{} of {id}", op.summary), queryable_parameters(view)));
            }
        } else {
            paths.insert(op.path.to_owned(), op.item(op.summary, Vec::new()));
        }
    }
    for id in &cx.editable {
        add_writes(&mut paths, id);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Bando",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vector tiles, OGC API - Features and map pages for the province's spatial layers.",
        },
        "servers": [{ "url": cx.base }],
        "paths": paths,
        "components": { "parameters": parameters(cx), "responses": responses() },
    })
}

/// The write operations of an editable collection (OGC API - Features Part 4): `POST` on its
/// items path, and on its own feature path, beside `GET`, `PUT`, `PATCH` and `DELETE`.
fn add_writes(paths: &mut Map<String, Value>, id: &str) {
    let problem = |description: &str| json!({ "description": description, "content": { "application/problem+json": { "schema": { "type": "object" } } } });
    let responses = |ok: (&str, &str), extra: &[(&str, &str)]| {
        let mut r = Map::new();
        r.insert(ok.0.into(), json!({ "description": ok.1 }));
        for (code, description) in extra.iter().chain(&[
            ("400", "The body breaks the collection's schema (`pointer` names the member)"),
            ("403", "The caller may read the collection but not change it"),
            ("404", "No such collection or feature"),
        ]) {
            r.insert((*code).into(), problem(description));
        }
        for s in EVERY_PATH {
            r.insert(s.code().to_string(), s.response());
        }
        Value::Object(r)
    };
    let body = |types: &[&str]| {
        let content: Map<String, Value> =
            types.iter().map(|t| ((*t).to_owned(), json!({ "schema": { "type": "object" } }))).collect();
        json!({ "required": true, "content": content })
    };
    let crs = json!({ "name": "Content-Crs", "in": "header", "required": false, "schema": { "type": "string" },
        "description": "The CRS of the body's coordinates, as `<uri>`; CRS84 without it." });
    let if_match = json!({ "name": "If-Match", "in": "header", "required": true, "schema": { "type": "string" },
        "description": "The feature's ETag, as its GET answered it." });
    let fid = json!({ "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } });
    let geojson = ["application/geo+json", "application/json"];
    let items = format!("/collections/{id}/items");
    if let Some(item) = paths.get_mut(&items).and_then(Value::as_object_mut) {
        item.insert(
            "post".into(),
            json!({
                "summary": format!("Add features to {id}: a Feature, or a FeatureCollection in one transaction"),
                "parameters": [crs],
                "requestBody": body(&geojson),
                "responses": responses(("201", "Added: `Location` and `ETag` name the new feature"),
                    &[("415", "The body is not GeoJSON")]),
            }),
        );
    }
    let generic = paths.get("/collections/{collectionId}/items/{featureId}").cloned();
    let mut get = generic.map(|g| g["get"].clone()).unwrap_or(Value::Null);
    if let Some(parameters) = get["parameters"].as_array_mut() {
        parameters.retain(|p| p["$ref"] != "#/components/parameters/collectionId");
    }
    let change = |summary: String, types: Option<&[&str]>, ok: (&str, &str)| {
        let mut op = json!({
            "summary": summary,
            "parameters": [fid, if_match, crs],
            "responses": responses(ok, &[
                ("412", "The feature changed since the ETag given"),
                ("415", "The body's media type is not one this operation takes"),
                ("428", "If-Match is missing"),
            ]),
        });
        if let Some(types) = types {
            op["requestBody"] = body(types);
        }
        op
    };
    paths.insert(format!("{items}/{{featureId}}"), json!({
        "get": get,
        "put": change(format!("Replace a feature of {id}"), Some(&geojson), ("200", "Replaced: the stored feature and its ETag")),
        "patch": change(format!("Change members of a feature of {id} (JSON Merge Patch)"), Some(&["application/merge-patch+json", "application/json"]), ("200", "Changed: the stored feature and its ETag")),
        "delete": change(format!("Delete a feature of {id}"), None, ("204", "Deleted")),
    }));
}

/// Each queryable property of a layer as a parameter of its items path.
fn queryable_parameters(view: &LayerView) -> Vec<Value> {
    view.queryable()
        .map(|(_, p)| {
            json!({
                "name": p.name, "in": "query", "required": false, "style": "form", "explode": false,
                "schema": crate::schema::property(p.kind),
                "description": format!("Only features whose `{}` equals this value.", p.name),
            })
        })
        .collect()
}

fn parameters(cx: &Context) -> Value {
    let crs: Vec<String> = layers::crs::Crs::supported().map(layers::crs::Crs::uri).collect();
    let ids: Vec<&str> = cx.views.iter().map(|v| v.def.id.as_str()).collect();
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "style": "form", "explode": false, "description": description, "schema": schema });
    let path = |name: &str, schema: Value| json!({ "name": name, "in": "path", "required": true, "schema": schema });
    let max = cx.max_limit;
    let zoom = json!({ "type": "integer", "minimum": 0, "maximum": tiler::tile::MAX_ZOOM });
    json!({
        "f": query("f", "The representation: JSON (GeoJSON for features) or HTML. Without it, the Accept header decides.", json!({ "type": "string", "enum": ["json", "html"] })),
        "itemsFormat": query("f", "The representation: a page as JSON (GeoJSON) or HTML, or every matching feature as a GeoPackage, FlatGeobuf, GeoParquet or CSV file (no page limit). Without it, the Accept header decides between JSON and HTML.", json!({ "type": "string", "enum": ["json", "html", "gpkg", "fgb", "parquet", "csv"] })),
        "limit": query("limit", &format!("Features per page, default {}. Above {max}, {max} are returned.", cx.default_limit), json!({ "type": "integer", "minimum": 1 })),
        "offset": query("offset", "Features to skip; the `next` and `prev` links carry it.", json!({ "type": "integer", "minimum": 0 })),
        "bbox": query("bbox", "Only features intersecting this box: min x, min y, max x, max y in `bbox-crs` axis order (CRS84 by default).", json!({ "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } })),
        "bbox-crs": query("bbox-crs", "The CRS of `bbox`.", json!({ "type": "string", "format": "uri", "enum": crs })),
        "crs": query("crs", "The CRS of the answer's coordinates.", json!({ "type": "string", "format": "uri", "enum": crs })),
        "datetime": query("datetime", "An instant or interval (RFC 3339, `..` for an open end) the feature's time must fall in.", json!({ "type": "string" })),
        "filter": query("filter", "A CQL2 filter on the queryable properties and the geometry.", json!({ "type": "string" })),
        "filter-lang": query("filter-lang", "The encoding of `filter`.", json!({ "type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text" })),
        "filter-crs": query("filter-crs", "The CRS of geometries in `filter`.", json!({ "type": "string", "format": "uri", "enum": crs })),
        "q": query("q", "Words to find in the text properties, ignoring case and diacritics; results rank by relevance.", json!({ "type": "string", "maxLength": layers::search::MAX_QUERY_CHARS })),
        "sortby": query("sortby", "Properties to order by, comma-separated, each with an optional `+` or `-`.", json!({ "type": "string" })),
        "properties": query("properties", "Only these properties, comma-separated.", json!({ "type": "string" })),
        "near": query("near", "The features nearest this point first (longitude,latitude in CRS84), each with its geodesic distance in metres on WGS 84 as the property `distance_m`; combines with the other filters, not with `q` or `sortby`.", json!({ "type": "array", "minItems": 2, "maxItems": 2, "items": { "type": "number", "minimum": -180, "maximum": 180 } })),
        "within": query("within", "With `near`: only the features at most this many metres away.", json!({ "type": "number", "minimum": 0 })),
        "collectionId": path("collectionId", json!({ "type": "string", "enum": ids })),
        "featureId": path("featureId", json!({ "type": "string", "example": "1" })),
        "tileMatrixSetId": path("tileMatrixSetId", json!({ "type": "string", "enum": cx.tile_matrix_sets })),
        "tileMatrix": path("tileMatrix", zoom.clone()),
        "tileRow": path("tileRow", json!({ "type": "integer", "minimum": 0 })),
        "tileCol": path("tileCol", json!({ "type": "integer", "minimum": 0 })),
        "layers": path("layers", json!({ "type": "string", "enum": ids.iter().copied().chain(cx.tilesets.iter().map(|(id, _)| id.as_str())).collect::<Vec<_>>(), "description": "A layer id, or several joined by commas; or a tile package's id" })),
        "package": path("package", json!({ "type": "string", "enum": cx.tilesets.iter().map(|(_, file)| file).collect::<Vec<_>>(), "description": "A tile package's file name" })),
        "byteRange": json!({ "name": "Range", "in": "header", "required": false, "description": "One range of bytes (`bytes=0-16383`), as PMTiles readers ask", "schema": { "type": "string", "example": "bytes=0-16383" } }),
        "z": path("z", zoom),
        "x": path("x", json!({ "type": "integer", "minimum": 0 })),
        "y": path("y", json!({ "type": "integer", "minimum": 0 })),
        "styleId": path("styleId", json!({ "type": "string", "enum": cx.styles })),
        "fontstack": path("fontstack", json!({ "type": "string", "enum": cx.fonts, "description": "A font name, or several joined by commas" })),
        "range": path("range", json!({ "type": "string", "pattern": "^[0-9]+-[0-9]+$", "example": "0-255", "description": "256 code points: start-end, start a multiple of 256" })),
        "assetName": path("assetName", json!({ "type": "string", "enum": cx.assets })),
        "embedLayer": path("embedLayer", json!({ "type": "string", "enum": ids })),
        "layer": query("layer", "A layer to frame, when the caller may read it.", json!({ "type": "string" })),
        "center": query("center", "The map's centre: longitude,latitude.", json!({ "type": "string", "example": "105.78,10.03" })),
        "zoom": query("zoom", "The map's zoom, fractions allowed.", json!({ "type": "number", "minimum": 0, "maximum": tiler::tile::MAX_ZOOM })),
        "feature": query("feature", "A feature to centre on, with its popup open.", json!({ "type": "integer" })),
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
        "NotFound": problem("No such collection, feature, tile, style, font range or file."),
        "RangeNotSatisfiable": problem("The byte range lies outside the file."),
        "Unavailable": problem("The service is loading, a layer failed to load, a dependency is missing, or the request took too long."),
        "Unauthorized": problem("The API key is not valid."),
        "TooLarge": problem("The request body is larger than the configured limit."),
        "UriTooLong": problem("The URL is longer than the configured limit."),
        "TooManyRequests": problem("The caller's request rate is used up; `Retry-After` says for how long."),
        "Internal": problem("The server failed to answer; the error is logged."),
    });
    all["TooManyRequests"]["headers"] = json!({ "Retry-After": { "schema": { "type": "integer" } } });
    all
}
