//! The map pages and what they load: styles, glyphs, MapLibre, `/viewer` and `/embed/{layer}`.
//! Every page and style lists only the layers the caller may read.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use layers::mercator::MAX_LAT;
use serde_json::{Value, json};
use tiler::tile::MAX_ZOOM;

use super::{Endpoint, base_url};
use crate::{
    auth::Caller,
    error::ApiError,
    glyphs::GlyphRange,
    html,
    media::{HTML, JSON, PROTOBUF, STYLE_JSON},
    openapi::{Operation, Status},
    request::{Params, Segments},
    respond,
    state::AppState,
    style::{self, Fonts, PROVINCE},
};

/// The routes of this module.
pub fn endpoints() -> Vec<Endpoint> {
    let page: &[&str] = &["text/html"];
    vec![
        Endpoint::get(
            Operation::new("/styles", "/styles", "Map styles").ok("The styles the caller may use", &[JSON]),
            styles,
        ),
        Endpoint::get(
            Operation::new("/styles/{file}", "/styles/{styleId}.json", "A MapLibre style")
                .parameters(&["styleId"])
                .ok("A style (MapLibre style specification v8)", &[STYLE_JSON])
                .statuses(&[Status::NotFound]),
            style_file,
        ),
        Endpoint::get(
            Operation::new("/fonts/{stack}/{file}", "/fonts/{fontstack}/{range}.pbf", "Label glyphs")
                .parameters(&["fontstack", "range"])
                .ok("Signed distance fields of 256 code points", &[PROTOBUF])
                .statuses(&[Status::NotFound]),
            glyphs,
        ),
        Endpoint::get(
            Operation::new("/assets/{name}", "/assets/{assetName}", "A file the map pages load")
                .parameters(&["assetName"])
                .ok("The file", &["text/javascript", "text/css", "application/json", "image/png"])
                .statuses(&[Status::NotModified, Status::NotFound]),
            asset,
        ),
        Endpoint::get(
            Operation::new("/viewer", "/viewer", "The map viewer")
                .parameters(&["layer"])
                .ok("The viewer page", page)
                .statuses(&[Status::BadRequest]),
            viewer,
        ),
        Endpoint::get(
            Operation::new("/embed/{layer}", "/embed/{embedLayer}", "An embeddable map of one layer")
                .parameters(&["embedLayer", "center", "zoom", "feature"])
                .ok("The map page, to show in a frame", page)
                .statuses(&[Status::BadRequest, Status::NotFound]),
            embed,
        ),
    ]
}

async fn styles(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    let entry = |id: &str, title: &str| {
        json!({"id": id, "title": title,
               "links": [{"href": format!("{base}/styles/{id}.json"), "rel": "stylesheet", "type": STYLE_JSON}]})
    };
    let views = state.access(&caller).all();
    let list: Vec<Value> = style::list(&views).into_iter().map(|(id, title)| entry(id, title)).collect();
    Json(json!({"styles": list}))
}

async fn style_file(
    State(state): State<AppState>,
    caller: Caller,
    Segments(file): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = file.strip_suffix(".json").ok_or_else(|| ApiError::NotFound(format!("no style {file:?}")))?;
    let (title, layers) = style::layers_of(id, &state.access(&caller))?;
    let web = state.web();
    let fonts = Fonts { regular: &web.label_font, bold: &web.bold_font };
    let doc = style::document(&base_url(&headers), id, &title, &layers, &fonts);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(STYLE_JSON))], Json(doc)).into_response())
}

async fn glyphs(
    State(state): State<AppState>,
    Segments((stack, file)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let range = file.strip_suffix(".pbf").and_then(GlyphRange::parse).ok_or_else(|| {
        ApiError::NotFound(format!("no glyph range {file:?}: ranges are start-end.pbf, 256 code points"))
    })?;
    let missing = format!("no font {stack:?}");
    let body = tokio::task::spawn_blocking(move || state.web().glyphs.range(&stack, range))
        .await
        .map_err(|e| ApiError::Internal(format!("rendering glyphs: {e}")))?
        .ok_or(ApiError::NotFound(missing))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        body,
    )
        .into_response())
}

async fn asset(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let asset = state.web().assets.get(&name).ok_or_else(|| ApiError::NotFound(format!("no asset {name:?}")))?;
    let etag = HeaderValue::from_str(&asset.etag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let cache = [(header::ETAG, etag), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if respond::not_modified(&headers, &asset.etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let media_type = (header::CONTENT_TYPE, HeaderValue::from_static(asset.media_type));
    Ok((cache, [media_type], asset.body.clone()).into_response())
}

async fn viewer(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    params.only(&["layer"])?;
    // The page is the same for every caller; what it shows comes from the style, which is
    // fetched with the caller's key. A layer to focus on is checked there, not here, so that
    // the page says nothing about layers the caller cannot see.
    let config = json!({"style": format!("/styles/{PROVINCE}.json"), "focus": params.get("layer")});
    map_page(&state, "Bản đồ / Map viewer", "viewer", &config, "'self'")
}

/// `/embed/{layer}` parameters, parsed.
struct Focus {
    center: Option<[f64; 2]>,
    zoom: Option<f64>,
    feature: Option<i64>,
}

impl Focus {
    fn parse(params: &Params) -> Result<Self, ApiError> {
        params.only(&["center", "zoom", "feature"])?;
        let bad = |what: &str, v: &str| ApiError::BadRequest(format!("{what} {v:?}"));
        let center = params
            .get("center")
            .map(|v| {
                let parts: Vec<f64> = v
                    .split(',')
                    .map(|p| p.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("center must be lon,lat, not", v))?;
                match parts[..] {
                    [lon, lat] if (-180.0..=180.0).contains(&lon) && (-MAX_LAT..=MAX_LAT).contains(&lat) => {
                        Ok([lon, lat])
                    }
                    _ => Err(bad(&format!("center must be lon,lat within ±180 and ±{MAX_LAT:.4}, not"), v)),
                }
            })
            .transpose()?;
        let zoom = params
            .get("zoom")
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|z| (0.0..=f64::from(MAX_ZOOM)).contains(z))
                    .ok_or_else(|| bad(&format!("zoom must be a number from 0 to {MAX_ZOOM}, not"), v))
            })
            .transpose()?;
        let feature = params
            .get("feature")
            .map(|v| v.parse::<i64>().map_err(|_| bad("feature must be a feature id, not", v)))
            .transpose()?;
        Ok(Self { center, zoom, feature })
    }
}

async fn embed(
    State(state): State<AppState>,
    caller: Caller,
    Segments(layer): Segments<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let layer = state.access(&caller).one(&layer)?;
    let focus = Focus::parse(&params)?;
    if let Some(id) = focus.feature.filter(|id| layer.index.get(*id).is_none()) {
        return Err(ApiError::NotFound(format!("no feature {id} in {}", layer.def.id)));
    }
    let id = &layer.def.id;
    let config = json!({
        "style": format!("/styles/{id}.json"), "layer": id, "title": layer.def.title,
        "center": focus.center, "zoom": focus.zoom, "feature": focus.feature,
    });
    let frame_ancestors = state.web().frame_ancestors.clone();
    map_page(&state, &layer.def.title, "embed", &config, &frame_ancestors)
}

/// A full-window map page running `/assets/{script}.mjs` with `config`. Its Content Security
/// Policy allows nothing but this server, and framing only by `frame_ancestors`.
fn map_page(
    state: &AppState,
    title: &str,
    script: &str,
    config: &Value,
    frame_ancestors: &str,
) -> Result<Response, ApiError> {
    if let Some(missing) = &state.web().assets.missing {
        return Err(ApiError::Unavailable(missing.clone()));
    }
    // JSON inside a <script> element ends at the first `</`: escape every `<`.
    let config = config.to_string().replace('<', "\\u003c");
    let page = format!(
        r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Bando</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/maplibre-gl.css"><link rel="stylesheet" href="/assets/map.css">
<script id="bando-config" type="application/json">{config}</script>
<script type="module" src="/assets/{script}.mjs"></script>
</head><body class="{script}"><div id="map" role="region" aria-label="{title}"></div></body></html>"#,
        title = html::escape(title),
    );
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors {frame_ancestors}"
    );
    let csp = HeaderValue::from_str(&csp)
        .map_err(|_| ApiError::Internal("frame_ancestors is not a valid header value".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HTML)),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        page,
    )
        .into_response())
}
