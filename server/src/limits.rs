//! Limits on requests: URL length and body size before anything else, then a rate per API key
//! (or per address without one) and a time limit. Each is answered with a problem+json.

use std::{num::NonZeroU32, sync::Arc};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::{auth::Caller, error::ApiError, state::AppState};

/// The keyed token buckets (`governor`), one per API key or client address.
pub struct Throttle {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Throttle {
    /// Buckets refilling at `per_second`, holding `burst`.
    pub fn new(per_second: u32, burst: u32) -> Arc<Self> {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self { limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)) })
    }

    /// `Ok` when the caller may go on, else the whole seconds to wait.
    fn admit(&self, caller: &Caller) -> Result<(), u64> {
        let key = match (&caller.key, caller.address) {
            (Some(k), _) => format!("key:{k}"),
            (None, Some(a)) => format!("ip:{a}"),
            (None, None) => "anonymous".to_owned(),
        };
        // Forget idle buckets now and then, so that a scan from many addresses does not grow
        // the map for ever.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            wait.as_secs() + 1
        })
    }
}

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

/// A panic in a handler: logged, and a 500 for that request only.
pub fn panic_response(detail: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = detail
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| detail.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(format!("handler panicked: {message}")).into_response()
}
