//! The media types Bando answers with, named once.

/// Plain JSON.
pub const JSON: &str = "application/json";
/// GeoJSON: features and feature collections.
pub const GEOJSON: &str = "application/geo+json";
/// JSON Schema: queryables.
pub const SCHEMA_JSON: &str = "application/schema+json";
/// The OpenAPI document.
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";
/// A MapLibre style.
pub const STYLE_JSON: &str = "application/vnd.mapbox.style+json";
/// TileJSON.
pub const TILEJSON: &str = "application/vnd.mapbox.tile+json";
/// A Mapbox Vector Tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Protocol buffers: label glyphs.
pub const PROTOBUF: &str = "application/x-protobuf";
/// Pages.
pub const HTML: &str = "text/html; charset=utf-8";
/// A GeoPackage download.
pub const GEOPACKAGE: &str = "application/geopackage+sqlite3";
/// A FlatGeobuf download.
pub const FLATGEOBUF: &str = "application/flatgeobuf";
/// A CSV download, with its header row.
pub const CSV: &str = "text/csv; charset=utf-8; header=present";
/// Errors (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// GeoParquet (Apache Parquet).
pub const PARQUET: &str = "application/vnd.apache.parquet";
/// JSON-LD.
pub const JSON_LD: &str = "application/ld+json";
/// Turtle.
pub const TURTLE: &str = "text/turtle; charset=utf-8";
/// A PMTiles archive.
pub const PMTILES: &str = "application/vnd.pmtiles";
/// An MBTiles file (an SQLite database, as IANA registers it).
pub const MBTILES: &str = "application/vnd.sqlite3";
