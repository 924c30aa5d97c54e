//! XYZ vector tiles and TileJSON: `/tiles/{layer[,layer…]}/{z}/{x}/{y}.mvt` and
//! `/tiles/{layer[,layer…]}.json`, or the same of a tile package (`[tilesets]`); and a package
//! whole, `/tilesets/{id}.pmtiles` (or `.mbtiles`), in byte ranges.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    compute::Deadline,
    error::ApiError,
    media::{MBTILES, MVT, PMTILES, TILEJSON},
    openapi::{Operation, Status},
    request::{Segments, parse_tile},
    respond,
    state::AppState,
    tilejson,
    tilesets::Tileset,
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::get(
            Operation::new(
                "/tiles/{spec}/{z}/{x}/{file}",
                "/tiles/{layers}/{z}/{x}/{y}.mvt",
                "A vector tile of one or more layers",
            )
            .parameters(&["layers", "z", "x", "y"])
            .ok("A Mapbox Vector Tile", &[MVT])
            .statuses(&[Status::NoContent, Status::NotModified, Status::BadRequest, Status::NotFound]),
            xyz_tile,
        ),
        Endpoint::get(
            Operation::new("/tiles/{spec}", "/tiles/{layers}.json", "TileJSON 3.0.0 for one or more layers")
                .parameters(&["layers"])
                .ok("TileJSON", &[TILEJSON])
                .statuses(&[Status::BadRequest, Status::NotFound]),
            tilejson,
        ),
        Endpoint::get(
            Operation::new("/tilesets/{file}", "/tilesets/{package}", "A tile package, whole or a byte range")
                .parameters(&["package", "byteRange"])
                .ok("The PMTiles archive or MBTiles file (206 with the range asked for)", &[PMTILES, MBTILES])
                .statuses(&[Status::PartialContent, Status::RangeNotSatisfiable, Status::NotFound]),
            package,
        ),
    ]
}

/// The package `id` names, if the caller may read it.
fn readable<'a>(state: &'a AppState, caller: &Caller, id: &str) -> Option<&'a Arc<Tileset>> {
    state.tilesets().get(id).filter(|t| caller.may_read(t.config.access))
}

async fn xyz_tile(
    State(state): State<AppState>,
    caller: Caller,
    deadline: Deadline,
    Segments((spec, z, x, file)): Segments<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let y = file.strip_suffix(".mvt").ok_or_else(|| ApiError::NotFound(format!("{file}: tiles end in .mvt")))?;
    let tile = parse_tile(&z, &x, y)?;
    if let Some(package) = readable(&state, &caller, &spec) {
        return respond::tile(&package.tile(tile).await?, &headers, &state.settings().tile_cache_control);
    }
    let views = state.access(&caller).list(&spec)?;
    let rendered = state.tiles().tile(views.iter().map(|v| v.layer().clone()).collect(), tile, deadline).await?;
    respond::tile(&rendered, &headers, &state.settings().tile_cache_control)
}

async fn tilejson(
    State(state): State<AppState>,
    caller: Caller,
    Segments(spec): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let spec = spec.strip_suffix(".json").ok_or_else(|| ApiError::NotFound(format!("no resource /tiles/{spec}")))?;
    if let Some(package) = readable(&state, &caller, spec) {
        return Ok(respond::json(TILEJSON, package.tilejson(&base_url(&headers)).to_string()));
    }
    let views = state.access(&caller).list(spec)?;
    Ok(respond::json(TILEJSON, tilejson::document(&base_url(&headers), spec, &views).to_string()))
}

/// The package whole, or the one byte range asked for (several ranges are answered whole, as
/// RFC 9110 allows), streamed in chunks either way.
async fn package(
    State(state): State<AppState>,
    caller: Caller,
    Segments(file): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, _) = file.rsplit_once('.').unwrap_or_default();
    let package = readable(&state, &caller, id)
        .filter(|p| p.file_name() == file)
        .ok_or_else(|| ApiError::NotFound(format!("no tile package {file}")))?;
    let size = package.bytes;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(|r| byte_range(r, size));
    let (status, start, end) = match range {
        Some(Some(Ok((start, end)))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(Some(Err(()))) => {
            let mut r = ApiError::RangeNotSatisfiable(format!("{file} has {size} bytes")).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        _ => (StatusCode::OK, 0, size),
    };
    const CHUNK: u64 = 256 * 1024;
    let shared = Arc::clone(package);
    let chunks = futures_util::stream::try_unfold(start, move |at| {
        let package = Arc::clone(&shared);
        async move {
            if at >= end {
                return Ok(None);
            }
            let bytes =
                package.read(at, CHUNK.min(end - at)).await.map_err(|e| std::io::Error::other(e.to_string()))?;
            if bytes.is_empty() {
                return Err(std::io::Error::other("the package is shorter than when it was opened"));
            }
            let next = at + bytes.len() as u64;
            Ok::<_, std::io::Error>(Some((bytes, next)))
        }
    });
    let mut response = (status, Body::from_stream(chunks)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(package.media_type()));
    h.insert(header::CONTENT_LENGTH, (end - start).into());
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

/// The byte range `[start, end)` of one `bytes=` range of a `size`-byte file: `None` when the
/// header is not one range of bytes (the file is then sent whole), `Err` when it lies outside.
fn byte_range(header: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        (size.saturating_sub(n), size)
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() { size } else { last.parse::<u64>().ok()?.saturating_add(1).min(size) };
        if end < start {
            return None;
        }
        (start, end)
    };
    Some(if range.0 < range.1 { Ok(range) } else { Err(()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_range_is_read_as_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some(Ok((0, 100))));
        assert_eq!(byte_range("bytes=900-", 1000), Some(Ok((900, 1000))));
        assert_eq!(byte_range("bytes=-100", 1000), Some(Ok((900, 1000))));
        assert_eq!(byte_range("bytes=990-2000", 1000), Some(Ok((990, 1000))));
        assert_eq!(byte_range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(byte_range("bytes=0-1,5-9", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
        assert_eq!(byte_range("bytes=9-1", 1000), None);
    }
}
