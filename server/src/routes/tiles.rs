//! XYZ vector tiles and TileJSON: `/tiles/{layer[,layer…]}/{z}/{x}/{y}.mvt` and
//! `/tiles/{layer[,layer…]}.json`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use layers::{AccessLevel, GeometryType, LayerId, PropertyType};
use serde_json::{Value, json};
use tiler::TileCoord;

use super::base_url;
use crate::{
    auth::Caller,
    error::ApiError,
    state::{AppState, Layer},
};

/// The MVT media type.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// At most this many layers in one tile request.
pub const MAX_LAYERS: usize = 32;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/tiles/{spec}", get(tilejson)).route("/tiles/{spec}/{z}/{x}/{file}", get(xyz_tile))
}

async fn xyz_tile(
    State(state): State<AppState>,
    caller: Caller,
    Path((spec, z, x, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layers = resolve_layers(&state, &caller, &spec)?;
    let y = file.strip_suffix(".mvt").ok_or_else(|| ApiError::NotFound(format!("{file}: tiles end in .mvt")))?;
    let tile = parse_tile(&z, &x, y)?;
    serve_tile(&state, layers, tile, &headers).await
}

/// Parses the tile coordinates of a path: 400 for anything that is not a tile.
pub fn parse_tile(z: &str, x: &str, y: &str) -> Result<TileCoord, ApiError> {
    let num = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| ApiError::BadRequest(format!("{name} must be a non-negative integer, not {v:?}")))
    };
    TileCoord::new(num("zoom", z)?, num("column", x)?, num("row", y)?).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The layers named in `a,b,c`: 404 for one that does not exist.
/// A layer the caller may not read is answered exactly as one that does not exist. Reads of
/// restricted layers go to the audit trail.
pub fn resolve_layers(state: &AppState, caller: &Caller, spec: &str) -> Result<Vec<Arc<Layer>>, ApiError> {
    let mut layers: Vec<Arc<Layer>> = Vec::new();
    for name in spec.split(',') {
        let layer = name.parse::<LayerId>().ok().and_then(|id| state.layer(&id));
        let layer = layer
            .filter(|l| caller.may_read(l.def.access))
            .ok_or_else(|| ApiError::NotFound(format!("no layer {name:?}")))?;
        if layer.def.access == AccessLevel::Restricted {
            state.audit(caller, "read", layer.def.id.as_str(), caller.address.map(|a| a.to_string()));
        }
        if !layers.iter().any(|l| l.def.id == layer.def.id) {
            layers.push(layer);
        }
    }
    if layers.len() > MAX_LAYERS {
        return Err(ApiError::BadRequest(format!("at most {MAX_LAYERS} layers per tile")));
    }
    Ok(layers)
}

/// The one layer a collection path names: 404 for a list or an unknown layer.
pub fn one_layer(state: &AppState, caller: &Caller, id: &str) -> Result<Arc<Layer>, ApiError> {
    if id.contains(',') {
        return Err(ApiError::NotFound(format!("no collection {id:?}")));
    }
    Ok(resolve_layers(state, caller, id)?.remove(0))
}

/// Renders (or fetches) a tile and answers with the HTTP a tile client expects: 404 outside the
/// layers' zoom range, 204 for an empty tile, gzip when accepted, a strong ETag and 304.
pub async fn serve_tile(
    state: &AppState,
    layers: Vec<Arc<Layer>>,
    tile: TileCoord,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if !layers.iter().any(|l| l.serves_zoom(tile.z())) {
        let ranges: Vec<String> =
            layers.iter().map(|l| format!("{} {}-{}", l.def.id, l.def.minzoom, l.def.maxzoom)).collect();
        return Err(ApiError::NotFound(format!("zoom {} is outside the zoom range ({})", tile.z(), ranges.join(", "))));
    }
    let rendered = state.tiles().tile(layers, tile).await?;
    let gzip = accepts_gzip(headers);
    let etag = if gzip { rendered.etag.replacen('"', "\"gz-", 1) } else { rendered.etag.clone() };
    let mut common = HeaderMap::new();
    common.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&state.settings().tile_cache_control) {
        common.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        common.insert(header::ETAG, v);
    }
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| etag_matches(v, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let Some(gz) = &rendered.gzip else { return Ok((StatusCode::NO_CONTENT, common).into_response()) };
    common.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if gzip {
        common.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        Ok((common, gz.clone()).into_response())
    } else {
        Ok((common, rendered.identity()?).into_response())
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(
                |p| matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)),
            );
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.trim() == "*" || if_none_match.split(',').any(|t| t.trim().trim_start_matches("W/") == etag)
}

async fn tilejson(
    State(state): State<AppState>,
    caller: Caller,
    Path(spec): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let spec = spec.strip_suffix(".json").ok_or_else(|| ApiError::NotFound(format!("no resource /tiles/{spec}")))?;
    let layers = resolve_layers(&state, &caller, spec)?;
    let base = base_url(&headers);
    Ok(Json(tilejson_document(&base, spec, &layers)))
}

/// TileJSON 3.0.0 for a set of layers.
pub fn tilejson_document(base: &str, spec: &str, layers: &[Arc<Layer>]) -> Value {
    let minzoom = layers.iter().map(|l| l.def.minzoom).min().unwrap_or(0);
    let maxzoom = layers.iter().map(|l| l.def.maxzoom).max().unwrap_or(22);
    let bounds = crate::state::extent_of(layers.iter().map(|l| &**l)).unwrap_or([
        -180.0,
        -85.051_128_779_806_59,
        180.0,
        85.051_128_779_806_59,
    ]);
    let center_zoom = minzoom.max(maxzoom.min(10));
    let attribution: Vec<&str> = layers.iter().map(|l| l.def.attribution.as_str()).filter(|a| !a.is_empty()).collect();
    let mut attribution_unique: Vec<&str> = Vec::new();
    for a in attribution {
        if !attribution_unique.contains(&a) {
            attribution_unique.push(a);
        }
    }
    json!({
        "tilejson": "3.0.0",
        "name": layers.iter().map(|l| l.def.title.as_str()).collect::<Vec<_>>().join(", "),
        "description": layers.iter().map(|l| l.def.description.as_str()).filter(|d| !d.is_empty()).collect::<Vec<_>>().join(" "),
        "attribution": attribution_unique.join("; "),
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{spec}/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0, center_zoom],
        "vector_layers": layers.iter().map(|l| vector_layer(l)).collect::<Vec<_>>(),
    })
}

fn vector_layer(layer: &Layer) -> Value {
    let fields: serde_json::Map<String, Value> = layer
        .def
        .properties
        .iter()
        .filter(|p| !p.private)
        .map(|p| {
            let kind = match p.kind {
                PropertyType::Integer | PropertyType::Real => "Number",
                PropertyType::Boolean => "Boolean",
                PropertyType::Text | PropertyType::Date | PropertyType::Datetime => "String",
            };
            (p.name.clone(), json!(p.title.as_deref().unwrap_or(kind)))
        })
        .collect();
    json!({
        "id": layer.def.id,
        "description": layer.def.title,
        "minzoom": layer.def.minzoom,
        "maxzoom": layer.def.maxzoom,
        "fields": fields,
        "geometry_type": geometry_kind(layer.def.geometry),
    })
}

/// `point`, `line` or `polygon`, as style editors expect.
pub fn geometry_kind(g: GeometryType) -> &'static str {
    match g {
        GeometryType::Point | GeometryType::MultiPoint => "point",
        GeometryType::LineString | GeometryType::MultiLineString => "line",
        GeometryType::Polygon | GeometryType::MultiPolygon | GeometryType::Geometry => "polygon",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")));
            accepts_gzip(&m)
        };
        assert!(h("gzip, deflate, br"));
        assert!(h("br;q=1.0, gzip;q=0.8"));
        assert!(!h("gzip;q=0"));
        assert!(!h("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etags_match_lists_and_weak_forms() {
        assert!(etag_matches("\"a\", \"b\"", "\"b\""));
        assert!(etag_matches("W/\"b\"", "\"b\""));
        assert!(!etag_matches("\"c\"", "\"b\""));
    }

    #[test]
    fn bad_tile_coordinates_are_400() {
        for (z, x, y) in [("a", "0", "0"), ("3", "8", "0"), ("23", "0", "0"), ("-1", "0", "0"), ("1", "0", "1.5")] {
            assert!(matches!(parse_tile(z, x, y), Err(ApiError::BadRequest(_))), "{z}/{x}/{y}");
        }
    }
}
