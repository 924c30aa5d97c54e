//! OGC API - Tiles (OGC 20-057) and OGC Two Dimensional Tile Matrix Set 2.0 (OGC 17-083r4):
//! the WebMercatorQuad tiling scheme, the VN-2000 one when configured, and each collection's
//! vector tileset in each.

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
    media::{JSON, MVT, TILEJSON},
    openapi::{Operation, Status},
    request::{Segments, parse_tile},
    respond,
    state::AppState,
    tilejson::geometry_kind,
    tiles::{TMS_ID, TMS_URI},
    vn2000_grid::{self, Vn2000Grid},
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

/// A tiling scheme this server tiles in.
#[derive(Clone, Copy)]
enum Tms {
    WebMercatorQuad,
    Vn2000(Vn2000Grid),
}

impl Tms {
    /// Every scheme served, WebMercatorQuad first.
    fn all(state: &AppState) -> Vec<Tms> {
        std::iter::once(Tms::WebMercatorQuad).chain(state.vn2000_grid().map(Tms::Vn2000)).collect()
    }

    /// The scheme of `id`, or 404 naming those there are.
    fn find(state: &AppState, id: &str) -> Result<Tms, ApiError> {
        let all = Self::all(state);
        all.iter().copied().find(|t| t.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = all.iter().map(|t| t.id()).collect();
            ApiError::NotFound(format!("no tile matrix set {id:?}; there are {}", ids.join(", ")))
        })
    }

    fn id(self) -> &'static str {
        match self {
            Tms::WebMercatorQuad => TMS_ID,
            Tms::Vn2000(_) => vn2000_grid::ID,
        }
    }

    fn title(self) -> String {
        match self {
            Tms::WebMercatorQuad => "Google Maps Compatible for the World".into(),
            Tms::Vn2000(grid) => grid.title(),
        }
    }

    fn crs(self) -> String {
        match self {
            Tms::WebMercatorQuad => EPSG_3857.into(),
            Tms::Vn2000(grid) => grid.crs_uri(),
        }
    }

    /// Its registered URI; Bando's own VN-2000 scheme has none.
    fn uri(self) -> Option<&'static str> {
        matches!(self, Tms::WebMercatorQuad).then_some(TMS_URI)
    }

    /// The first and last column and row of the layer's tiles at `matrix`.
    fn limits(self, layer: &Layer, matrix: u8) -> Option<([u32; 2], [u32; 2])> {
        match self {
            Tms::WebMercatorQuad => corners(layer, matrix).map(|(a, b)| ([a.x(), b.x()], [a.y(), b.y()])),
            Tms::Vn2000(grid) => grid.limits(layer, matrix),
        }
    }

    /// The matrices that show the layer.
    fn matrices(self, layer: &Layer) -> std::ops::RangeInclusive<u8> {
        match self {
            Tms::WebMercatorQuad => layer.def.minzoom..=layer.def.maxzoom,
            Tms::Vn2000(_) => Vn2000Grid::matrices_of(layer.def.minzoom, layer.def.maxzoom),
        }
    }

    /// Its summary in lists, with links to it.
    fn summary(self, base: &str) -> Value {
        let mut doc = json!({
            "id": self.id(),
            "title": self.title(),
            "crs": self.crs(),
            "links": [{ "rel": "self", "type": JSON, "href": format!("{base}/tileMatrixSets/{}", self.id()) }],
        });
        if let Some(uri) = self.uri() {
            doc["uri"] = json!(uri);
        }
        doc
    }
}

async fn tile_matrix_sets(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    let sets: Vec<Value> = Tms::all(&state).into_iter().map(|t| t.summary(&base)).collect();
    Json(json!({
        "tileMatrixSets": sets,
        "links": [{ "rel": "self", "type": JSON, "href": format!("{base}/tileMatrixSets") }],
    }))
}

async fn tile_matrix_set(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
) -> Result<Json<Value>, ApiError> {
    match Tms::find(&state, &id)? {
        Tms::WebMercatorQuad => Ok(Json(web_mercator_quad())),
        Tms::Vn2000(grid) => Ok(Json(grid.document())),
    }
}

fn web_mercator_quad() -> Value {
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
    json!({
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": EPSG_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    })
}

async fn tilesets(
    State(state): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let layer = state.access(&caller).one(&id)?;
    let base = base_url(&headers);
    let mut links = vec![json!({ "rel": "self", "type": JSON, "href": format!("{base}/collections/{id}/tiles") })];
    // The tile packages of this layer the caller may read, to take offline.
    links.extend(
        state
            .tilesets()
            .values()
            .filter(|t| caller.may_read(t.config.access) && t.config.layers.contains(&id))
            .map(|t| json!({ "rel": "enclosure", "type": t.media_type(), "title": t.config.title, "length": t.bytes, "href": format!("{base}/tilesets/{}", t.file_name()) })),
    );
    let sets: Vec<Value> = Tms::all(&state)
        .into_iter()
        .map(|tms| {
            let mut set = json!({
                "title": layer.def.title,
                "dataType": "vector",
                "crs": tms.crs(),
                "links": [
                    { "rel": "self", "type": JSON, "href": format!("{base}/collections/{id}/tiles/{}", tms.id()) },
                    { "rel": REL_TILING_SCHEME, "type": JSON, "href": format!("{base}/tileMatrixSets/{}", tms.id()) },
                ],
            });
            if let Some(uri) = tms.uri() {
                set["tileMatrixSetURI"] = json!(uri);
            }
            set
        })
        .collect();
    Ok(Json(json!({ "links": links, "tilesets": sets })))
}

async fn tileset(
    State(state): State<AppState>,
    caller: Caller,
    Segments((id, tms)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tms = Tms::find(&state, &tms)?;
    let layer = state.access(&caller).one(&id)?;
    let base = base_url(&headers);
    let def = &layer.def;
    let (tms_id, matrices) = (tms.id(), tms.matrices(&layer));
    let mut doc = json!({
        "title": def.title,
        "description": def.description,
        "dataType": "vector",
        "crs": tms.crs(),
        "tileMatrixSetLimits": limits(tms, &layer),
        "layers": [{
            "id": def.id,
            "title": def.title,
            "dataType": "vector",
            "geometryDimension": match geometry_kind(def.geometry) { "point" => 0, "line" => 1, _ => 2 },
            "minTileMatrix": matrices.start().to_string(),
            "maxTileMatrix": matrices.end().to_string(),
        }],
        "links": [
            { "rel": "self", "type": JSON, "href": format!("{base}/collections/{id}/tiles/{tms_id}") },
            { "rel": REL_TILING_SCHEME, "type": JSON, "href": format!("{base}/tileMatrixSets/{tms_id}") },
            { "rel": "item", "type": MVT, "templated": true,
              "href": format!("{base}/collections/{id}/tiles/{tms_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}") },
            { "rel": "alternate", "type": TILEJSON, "title": "TileJSON", "href": format!("{base}/tiles/{id}.json") },
        ],
    });
    if let Some(uri) = tms.uri() {
        doc["tileMatrixSetURI"] = json!(uri);
    }
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

/// The tiles with data at each matrix that shows the layer, from its extent.
fn limits(tms: Tms, layer: &Layer) -> Vec<Value> {
    tms.matrices(layer)
        .filter_map(|m| {
            let ([min_col, max_col], [min_row, max_row]) = tms.limits(layer, m)?;
            Some(json!({
                "tileMatrix": m.to_string(),
                "minTileRow": min_row, "maxTileRow": max_row, "minTileCol": min_col, "maxTileCol": max_col,
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
fn within_limits(tms: Tms, layer: &Layer, t: TileCoord) -> bool {
    tms.matrices(layer).contains(&t.z())
        && tms
            .limits(layer, t.z())
            .is_some_and(|([c0, c1], [r0, r1])| (c0..=c1).contains(&t.x()) && (r0..=r1).contains(&t.y()))
}

async fn tile(
    State(state): State<AppState>,
    caller: Caller,
    deadline: Deadline,
    Segments((id, tms_id, z, row, col)): Segments<(String, String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tms = Tms::find(&state, &tms_id)?;
    let layer = state.access(&caller).one(&id)?;
    // OGC API - Tiles orders the path as tileMatrix / tileRow / tileCol: z / y / x.
    let tile = parse_tile(&z, &col, &row)?;
    if !within_limits(tms, &layer, tile) {
        return Err(ApiError::NotFound(format!(
            "tile {z}/{row}/{col} lies outside the tileset's tileMatrixSetLimits (see /collections/{id}/tiles/{tms_id})"
        )));
    }
    let rendered = match tms {
        Tms::WebMercatorQuad => state.tiles().tile(vec![layer.layer().clone()], tile, deadline).await?,
        Tms::Vn2000(grid) => {
            let layers = vec![layer.layer().clone()];
            std::sync::Arc::new(state.tiles().uncached(deadline, move || grid.render(&layers, tile)).await?)
        }
    };
    respond::tile(&rendered, &headers, &state.settings().tile_cache_control)
}
