//! How answers are written: the negotiated JSON-or-HTML answer, JSON with its media type, the
//! conditional, compressed answer of a tile, and a download streamed from its file.

use std::io::Read;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{downloads::Written, error::ApiError, html::Page, media::MVT, request::Format, tiles::Rendered};

/// `body` as `media_type`.
pub fn json(media_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    ([(header::CONTENT_TYPE, media_type)], body.into()).into_response()
}

/// The representation `format` asks for: `json` builds the JSON answer, `page` the HTML one;
/// only the one asked for is built. The answer varies with `Accept`, and says so to caches.
pub fn negotiated(
    format: Format,
    json: impl FnOnce() -> Result<Response, ApiError>,
    page: impl FnOnce() -> Result<Page, ApiError>,
) -> Result<Response, ApiError> {
    let mut response = match format {
        Format::Json => json()?,
        Format::Html => page()?.into_response(),
    };
    response.headers_mut().append(header::VARY, HeaderValue::from_static("accept"));
    Ok(response)
}

/// `response` with a `Link` header (RFC 8288) mirroring the `self`, `alternate`, `next` and
/// `prev` links of its body, for clients that page by headers (OGC 17-069r4,
/// /rec/core/link-header).
pub fn with_link_header(mut response: Response, links: &serde_json::Value) -> Response {
    let mirrored: Vec<String> = links
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| ["self", "alternate", "next", "prev"].iter().any(|r| l["rel"] == *r))
        .filter_map(|l| {
            let (href, rel, kind) = (l["href"].as_str()?, l["rel"].as_str()?, l["type"].as_str()?);
            Some(format!("<{href}>; rel=\"{rel}\"; type=\"{kind}\""))
        })
        .collect();
    // Hrefs are percent-encoded and types are constants, so the value is plain ASCII.
    if let Ok(value) = HeaderValue::from_str(&mirrored.join(", ")) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// Whether an `If-None-Match` list names `etag` (weak forms match too: RFC 9110 compares
/// weakly for `If-None-Match`).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.trim() == "*" || if_none_match.split(',').any(|t| t.trim().trim_start_matches("W/") == etag)
}

/// Whether the request's `If-None-Match` names `etag`, so that 304 is the answer.
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| etag_matches(v, etag))
}

/// Whether the client accepts gzip (and has not refused it with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
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

/// A tile as tile clients expect it: 204 when empty, gzip when accepted, a strong ETag per
/// encoding and 304 when it matches.
pub fn tile(rendered: &Rendered, headers: &HeaderMap, cache_control: &str) -> Result<Response, ApiError> {
    let gzip = accepts_gzip(headers);
    let etag = if gzip { rendered.etag.replacen('"', "\"gz-", 1) } else { rendered.etag.clone() };
    let mut common = HeaderMap::new();
    common.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(cache_control) {
        common.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        common.insert(header::ETAG, v);
    }
    if not_modified(headers, &etag) {
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

/// The file as the answer's body, read in chunks as the client takes them.
pub fn download(written: Written) -> Response {
    const CHUNK: usize = 256 * 1024;
    let Written { file, bytes, name, format, license } = written;
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        // Reading a local file blocks only briefly, but it blocks: off the async threads.
        let read = tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0; CHUNK];
            let n = file.read(&mut chunk)?;
            chunk.truncate(n);
            Ok::<_, std::io::Error>((chunk, file))
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match read {
            Ok((chunk, _)) if chunk.is_empty() => None,
            Ok((chunk, file)) => Some((Ok(Bytes::from(chunk)), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    headers.insert(header::CONTENT_LENGTH, bytes.into());
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    // Every download names its licence beside it too; a CSV file has no place for it inside.
    let link = license.as_deref().and_then(license_link);
    if let Some(href) = link.as_ref().and_then(|l| l["href"].as_str())
        && let Ok(v) = HeaderValue::from_str(&format!("<{href}>; rel=\"license\""))
    {
        headers.insert(header::LINK, v);
    }
    response
}

/// The `license` link of an SPDX licence identifier: its page in the SPDX licence list.
pub fn license_link(spdx: &str) -> Option<serde_json::Value> {
    let plain = !spdx.is_empty() && spdx.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    plain.then(|| serde_json::json!({ "href": format!("https://spdx.org/licenses/{spdx}.html"), "rel": "license", "type": "text/html", "title": spdx }))
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
        assert!(etag_matches("*", "\"b\""));
        assert!(!etag_matches("\"c\"", "\"b\""));
        assert!(!etag_matches("\"bb\"", "\"b\""), "a tag that only contains the etag is another tag");
    }
}
