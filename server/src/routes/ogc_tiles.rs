//! OGC API - Tiles (OGC 20-057) and OGC Two Dimensional Tile Matrix Set 2.0 (OGC 17-083r4):
//! the WebMercatorQuad tiling scheme and each collection's vector tileset.

use axum::{Json, extract::State, http::HeaderMap, response::Response};
use serde_json::{Value, json};
use tiler::{
    TileCoord,
    tile::{HALF_WORLD, MAX_ZOOM},
};

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    compute::Deadline,
    error::ApiError,
    layer::Layer,
    media::{JSON, MVT, PMTILES, TILEJSON},
    openapi::{Operation, Status},
    request::{Segments, parse_tile},
    respond,
    state::AppState,
    tilejson::geometry_kind,
    tiles::{TMS_ID, TMS_URI},
};

const EPSG_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
/// Link relation of a tiling scheme.
pub const REL_TILING_SCHEME: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    let found: &[Status] = &[Status::BadRequest, Status::NotFound];
    vec![
        Endpoint::get(Operation::new("/tileMatrixSets", "/tileMatrixSets", "Tiling schemes"), tile_matrix_sets),
        Endpoint::get(
            Operation::new("/tileMatrixSets/{id}", "/tileMatrixSets/{tileMatrixSetId}", "A tiling scheme")
                .parameters(&["tileMatrixSetId"])
                .statuses(&[Status::NotFound]),
            tile_matrix_set,
        ),
        Endpoint::get(
            Operation::new(
                "/collections/{id}/tiles",
                "/collections/{collectionId}/tiles",
                "A collection's vector tilesets",
            )
            .parameters(&["collectionId"])
            .statuses(found),
            tilesets,
        ),
        Endpoint::get(
            Operation::new(
                "/collections/{id}/tiles/{tms}",
                "/collections/{collectionId}/tiles/{tileMatrixSetId}",
                "A collection's vector tileset",
            )
            .parameters(&["collectionId", "tileMatrixSetId"])
            .statuses(found),
            tileset,
        ),
        Endpoint::get(
            Operation::new(
                "/collections/{id}/tiles/{tms}/{z}/{row}/{col}",
                "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
                "A vector tile of one collection",
            )
            .parameters(&["collectionId", "tileMatrixSetId", "tileMatrix", "tileRow", "tileCol"])
            .ok("A Mapbox Vector Tile", &[MVT])
            .statuses(&[Status::NoContent, Status::NotModified, Status::BadRequest, Status::NotFound]),
            tile,
        ),
    ]
}

async fn tile_matrix_sets(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({
        "tileMatrixSets": [{
            "id": TMS_ID,
            "title": "Google Maps Compatible for the World",
            "uri": TMS_URI,
            "links": [{ "rel": "self", "type": JSON, "href": format!("{base}/tileMatrixSets/{TMS_ID}") }],
        }],
        "links": [{ "rel": "self", "type": JSON, "href": format!("{base}/tileMatrixSets") }],
    }))
}

async fn tile_matrix_set(Segments(id): Segments<String>) -> Result<Json<Value>, ApiError> {
    check_tms(&id)?;
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = 1u32 << z;
            let cell = 2.0 * HALF_WORLD / 256.0 / f64::from(n);
            json!({
                "id": z.to_string(),
                // OGC's standardized rendering pixel is 0.28 mm.
                "scaleDenominator": cell / 0.000_28,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_WORLD, HALF_WORLD],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    Ok(Json(json!({
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": EPSG_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    })))
}

fn check_tms(id: &str) -> Result<(), ApiError> {
    if id == TMS_ID { Ok(()) } else { Err(ApiError::NotFound(format!("no tile matrix set {id:?}; only {TMS_ID}"))) }
}

async fn tilesets(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let layer = state.access(&caller).one(&id)?;
    let base = base_url(&headers);
    let tileset = format!("{base}/collections/{id}/tiles/{TMS_ID}");
    let mut links = vec![json!({ "rel": "self", "type": JSON, "href": format!("{base}/collections/{id}/tiles") })];
    // The tile packages of this layer the caller may read, to take offline.
    links.extend(
        state
            .tilesets()
            .values()
            .filter(|t| caller.may_read(t.config.access) && t.config.layers.contains(&id))
            .map(|t| json!({ "rel": "enclosure", "type": PMTILES, "title": t.config.title, "length": t.bytes, "href": format!("{base}/tilesets/{}.pmtiles", t.id) })),
    );
    Ok(Json(json!({
        "links": links,
        "tilesets": [{
            "title": layer.def.title,
            "dataType": "vector",
            "crs": EPSG_3857,
            "tileMatrixSetURI": TMS_URI,
            "links": [
                { "rel": "self", "type": JSON, "href": tileset },
                { "rel": REL_TILING_SCHEME, "type": JSON, "href": format!("{base}/tileMatrixSets/{TMS_ID}") },
            ],
        }],
    })))
}

async fn tileset(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, tms)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_tms(&tms)?;
    let layer = state.access(&caller).one(&id)?;
    let base = base_url(&headers);
    let def = &layer.def;
    let mut doc = json!({
        "title": def.title,
        "description": def.description,
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": limits(&layer),
        "layers": [{
            "id": def.id,
            "title": def.title,
            "dataType": "vector",
            "geometryDimension": match geometry_kind(def.geometry) { "point" => 0, "line" => 1, _ => 2 },
            "minTileMatrix": def.minzoom.to_string(),
            "maxTileMatrix": def.maxzoom.to_string(),
        }],
        "links": [
            { "rel": "self", "type": JSON, "href": format!("{base}/collections/{id}/tiles/{TMS_ID}") },
            { "rel": REL_TILING_SCHEME, "type": JSON, "href": format!("{base}/tileMatrixSets/{TMS_ID}") },
            { "rel": "item", "type": MVT, "templated": true,
              "href": format!("{base}/collections/{id}/tiles/{TMS_ID}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}") },
            { "rel": "alternate", "type": TILEJSON, "title": "TileJSON", "href": format!("{base}/tiles/{id}.json") },
        ],
    });
    if !def.attribution.is_empty() {
        doc["attribution"] = json!(def.attribution);
    }
    if let Some([w, s, e, n]) = layer.bbox() {
        doc["boundingBox"] = json!({
            "lowerLeft": [w, s], "upperRight": [e, n],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        });
    }
    Ok(Json(doc))
}

/// The tiles with data at each zoom of the layer's range, from its extent.
fn limits(layer: &Layer) -> Vec<Value> {
    (layer.def.minzoom..=layer.def.maxzoom)
        .filter_map(|z| {
            let (a, b) = corners(layer, z)?;
            Some(json!({
                "tileMatrix": z.to_string(),
                "minTileRow": a.y(), "maxTileRow": b.y(), "minTileCol": a.x(), "maxTileCol": b.x(),
            }))
        })
        .collect()
}

/// The north-west and south-east tiles of the layer's extent at zoom `z`; `None` for an empty
/// layer or a zoom outside its range.
fn corners(layer: &Layer, z: u8) -> Option<(TileCoord, TileCoord)> {
    let e = layer.index.extent().filter(|_| layer.serves_zoom(z))?;
    let nw = layers::mercator::to_mercator(geo_types::Coord { x: e.min().x, y: e.max().y });
    let se = layers::mercator::to_mercator(geo_types::Coord { x: e.max().x, y: e.min().y });
    Some((TileCoord::containing(z, nw.x, nw.y).ok()?, TileCoord::containing(z, se.x, se.y).ok()?))
}

/// Whether the tileset's `tileMatrixSetLimits` hold the tile (OGC 20-057
/// `/req/tileset/tm-limits`: a tile outside them is not found, an empty one inside is 204).
fn within_limits(layer: &Layer, t: TileCoord) -> bool {
    corners(layer, t.z()).is_some_and(|(a, b)| (a.x()..=b.x()).contains(&t.x()) && (a.y()..=b.y()).contains(&t.y()))
}

async fn tile(
    State(state): State<AppState>,
    caller: Caller,
    deadline: Deadline,
    Segments((id, tms, z, row, col)): Segments<(String, String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_tms(&tms)?;
    let layer = state.access(&caller).one(&id)?;
    // OGC API - Tiles orders the path as tileMatrix / tileRow / tileCol: z / y / x.
    let tile = parse_tile(&z, &col, &row)?;
    if !within_limits(&layer, tile) {
        return Err(ApiError::NotFound(format!(
            "tile {z}/{row}/{col} lies outside the tileset's tileMatrixSetLimits (see /collections/{id}/tiles/{TMS_ID})"
        )));
    }
    let rendered = state.tiles().tile(vec![layer.layer().clone()], tile, deadline).await?;
    respond::tile(&rendered, &headers, &state.settings().tile_cache_control)
}
