//! The request rate per API key (or per address without one), and the answer to a handler that
//! panicked. The middleware applies them.

use std::{num::NonZeroU32, sync::Arc};

use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::{auth::Caller, error::ApiError};

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
    pub fn admit(&self, caller: &Caller) -> Result<(), u64> {
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

/// A panic in a handler: logged, and a 500 for that request only.
pub fn panic_response(detail: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = detail
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| detail.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(format!("handler panicked: {message}")).into_response()
}
