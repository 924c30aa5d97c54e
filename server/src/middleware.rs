//! What runs around every handler: sizes first (414, 413, 431), the request's public origin,
//! then who the caller is (401 for bad credentials, 429 for an address that keeps sending
//! them), then the caller's rate (429) and the time limit (503). On the way out, what the
//! answer read is audited and decides how shared caches may keep it.

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{access_log::KeyId, auth::Caller, compute::Deadline, error::ApiError, state::AppState};

/// Refuses over-long URLs (414), over-large bodies (413) and over-large or too many headers
/// (431) before the request is looked at.
pub async fn check_size(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let settings = state.settings();
    let url = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if url > settings.max_url_bytes {
        return Err(ApiError::UriTooLong(format!(
            "the URL is {url} bytes; at most {} are accepted",
            settings.max_url_bytes
        )));
    }
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if headers.len() > settings.max_headers || header_bytes > settings.max_header_bytes {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request has {} headers of {header_bytes} bytes; at most {} headers of {} bytes are accepted",
            headers.len(),
            settings.max_headers,
            settings.max_header_bytes
        )));
    }
    let body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let writes = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH);
    let most = if writes { settings.max_write_bytes } else { settings.max_body_bytes };
    // A file imported from the operator's page: its own, larger limit, also kept while it streams.
    let upload = writes && request.uri().path() == crate::imports::UPLOAD_PATH;
    let most = if upload { usize::try_from(settings.admin.max_upload_bytes).unwrap_or(usize::MAX) } else { most };
    if body > most && upload {
        return Err(ApiError::TooLarge(format!(
            "the file is {body} bytes; an upload may be at most {} MiB ([admin] max_upload_mb)",
            most >> 20
        )));
    }
    if body > most {
        return Err(ApiError::TooLarge(format!("the body is {body} bytes; at most {most} are accepted")));
    }
    Ok(next.run(request).await)
}

/// Makes `Host` and `X-Forwarded-Proto`, which links are built from, say what the configured
/// public URL says, or else what the client said if it is a plain host and `http`/`https`:
/// forwarding headers count only from a configured proxy, so that no client can put
/// `javascript:` or another site into the links of a page. Behind such a proxy the client's
/// address (for rates, lock-outs and the audit) is the last one `X-Forwarded-For` names that is
/// not a proxy's.
pub async fn origin(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let settings = state.settings();
    let peer = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let trusted = |ip: std::net::IpAddr| settings.trusted_proxies.contains(&ip.to_canonical());
    let proxied = peer.is_some_and(|p| trusted(p.ip()));
    let headers = request.headers_mut();
    let (scheme, host) = match &settings.public_origin {
        Some((scheme, host)) => (scheme.clone(), host.clone()),
        None => {
            let plain = |v: &HeaderValue| v.to_str().is_ok_and(is_authority);
            let forwarded = |name: &str| proxied.then(|| headers.get(name)).flatten().filter(|v| plain(v)).cloned();
            let host =
                forwarded("x-forwarded-host").or_else(|| headers.get(header::HOST).filter(|v| plain(v)).cloned());
            let scheme = forwarded("x-forwarded-proto").filter(|p| p == "http" || p == "https");
            (scheme.unwrap_or(HeaderValue::from_static("http")), host.unwrap_or(HeaderValue::from_static("127.0.0.1")))
        }
    };
    let client = proxied.then(|| forwarded_client(headers, &trusted)).flatten();
    headers.insert(header::HOST, host);
    headers.insert("x-forwarded-proto", scheme);
    headers.remove("x-forwarded-host");
    if let Some(ip) = client {
        request.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::new(ip, 0)));
    }
    next.run(request).await
}

/// The client a chain of proxies names in `X-Forwarded-For`: the last address that is not one
/// of them (addresses before it could be made up by the client).
fn forwarded_client(headers: &HeaderMap, trusted: &dyn Fn(std::net::IpAddr) -> bool) -> Option<std::net::IpAddr> {
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    hops.into_iter().rev().find(|ip| !trusted(*ip))
}

/// A host and optional port as a link may carry them: letters, digits, `.-:[]` only.
fn is_authority(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

/// Identifies the caller of every request (401 for bad credentials; 429 for an address that
/// has sent too many), records it on the request for the handlers, and settles what the
/// answer read once it is made.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let credentials = has_credentials(request.headers());
    if let Some(wait) = address.filter(|_| credentials).and_then(|a| state.strikes().locked_out(a)) {
        return Ok(too_many(format!("too many failed authentications; try again in {wait} s"), wait));
    }
    let mut caller = match state.keyring().identify(request.headers()) {
        Ok(caller) => caller,
        Err(e) => {
            if let Some(a) = address {
                state.strikes().strike(a);
            }
            return Err(e);
        }
    };
    caller.address = address;
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    let mut response = settle(&state, &caller, response);
    if let Some(key) = &caller.key {
        response.extensions_mut().insert(KeyId(key.clone()));
    }
    Ok(response)
}

fn has_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key("x-api-key") || headers.contains_key(header::AUTHORIZATION)
}

/// The answer as it may leave: restricted layers it read are audited, only when it succeeded
/// (a refused request read nothing), and refused with 503 when the audit cannot take them
/// (never served unaudited). An answer showing a layer that is not public is kept from shared
/// caches; every answer varies with the credentials.
fn settle(state: &AppState, caller: &Caller, mut response: Response) -> Response {
    let reads = caller.reads.take();
    let status = response.status();
    if (status.is_success() || status.is_redirection()) && !reads.restricted.is_empty() {
        let targets: Vec<&str> = reads.restricted.iter().map(|l| l.as_str()).collect();
        if state.audit().record(caller, "read", &targets).is_err() {
            return ApiError::Unavailable("the audit trail is busy; try again shortly".into()).into_response();
        }
    }
    let headers = response.headers_mut();
    let no_store = headers.get(header::CACHE_CONTROL).is_some_and(|v| v.as_bytes().starts_with(b"no-store"));
    if reads.non_public && !no_store {
        headers.insert(header::CACHE_CONTROL, state.settings().private_cache_control.clone());
    }
    // Whatever it shows, the answer depends on the credentials (a 404 for a hidden layer, a
    // shorter list for an anonymous caller): no cache may hand it to another caller.
    headers.append(header::VARY, HeaderValue::from_static("x-api-key, authorization"));
    response
}

fn too_many(message: String, wait: u64) -> Response {
    let mut response = ApiError::TooManyRequests(message).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, wait.into());
    response
}

/// Applies the caller's rate (429 with `Retry-After`) and the time limit (503). Health probes
/// are not counted: a monitor must never be locked out.
pub async fn throttle(State(state): State<AppState>, caller: Caller, mut request: Request, next: Next) -> Response {
    let probe = matches!(request.uri().path(), "/health" | "/ready" | "/metrics");
    if let Err(wait) = if probe { Ok(()) } else { state.throttle().admit(&caller) } {
        return too_many(format!("too many requests; try again in {wait} s"), wait);
    }
    let limit = state.settings().request_timeout;
    request.extensions_mut().insert(Deadline::after(limit));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!("the request took longer than {} s", limit.as_secs())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_proxies_is_the_last_address_no_proxy_has() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let proxies = |ip: std::net::IpAddr| ip.to_string().starts_with("10.");
        assert_eq!(forwarded_client(&headers, &proxies), "203.0.113.7".parse().ok());
    }

    #[test]
    fn only_plain_hosts_reach_links() {
        for ok in ["gis.example.vn", "127.0.0.1:8080", "[::1]:80", "a-b.vn"] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in ["", "evil.vn/path", "a\"><script>", "javascript:alert(1)//", "x y", "a@b"] {
            assert!(!is_authority(bad), "{bad}");
        }
    }
}
