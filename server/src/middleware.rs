//! What runs before every handler: sizes first (414, 413), then who the caller is (401 for a
//! bad key), then the caller's rate (429) and the time limit (503).

use axum::{
    extract::{ConnectInfo, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{auth::Caller, error::ApiError, state::AppState};

/// Refuses over-long URLs (414) and over-large bodies (413) before the request is looked at.
pub async fn check_size(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let settings = state.settings();
    let url = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if url > settings.max_url_bytes {
        return Err(ApiError::UriTooLong(format!(
            "the URL is {url} bytes; at most {} are accepted",
            settings.max_url_bytes
        )));
    }
    let body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if body > settings.max_body_bytes {
        return Err(ApiError::TooLarge(format!(
            "the body is {body} bytes; at most {} are accepted",
            settings.max_body_bytes
        )));
    }
    Ok(next.run(request).await)
}

/// Identifies the caller of every request (401 for a bad key) and records it on the request
/// for the handlers.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let mut caller = state.keyring().identify(request.headers())?;
    caller.address = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// Applies the caller's rate (429 with `Retry-After`) and the time limit (503). Health probes
/// are not counted: a monitor must never be locked out.
pub async fn throttle(State(state): State<AppState>, caller: Caller, request: Request, next: Next) -> Response {
    let probe = matches!(request.uri().path(), "/health" | "/ready" | "/metrics");
    if let Err(wait) = if probe { Ok(()) } else { state.throttle().admit(&caller) } {
        let mut response =
            ApiError::TooManyRequests(format!("too many requests; try again in {wait} s")).into_response();
        if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let limit = state.settings().request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!("the request took longer than {} s", limit.as_secs())).into_response(),
    }
}
