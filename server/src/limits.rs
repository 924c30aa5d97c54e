//! The request rate per API key (or per address without one), the failed authentications per
//! address, and the answer to a handler that panicked. The middleware applies them.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

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

/// How long failed authentications are counted for.
const STRIKE_WINDOW: Duration = Duration::from_secs(60);

/// Failed authentications per client address. A client that keeps sending bad keys is refused
/// (429) for the rest of the minute, whatever key it sends next: otherwise a success would still
/// stand out among the refusals, and guessing would only be slower. Hand-written because the
/// rate limiter above cannot look at a bucket without taking from it.
pub struct Strikes {
    per_minute: u32,
    by_address: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// Addresses tracked at most: past it the oldest windows are forgotten first.
const STRIKE_ADDRESSES: usize = 10_000;

/// The address failures are counted for: an IPv6 client has a whole /64 to rotate through.
fn counted(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

impl Strikes {
    /// At most `per_minute` failures per address in a minute; 0 counts nothing.
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, by_address: Mutex::default() }
    }

    /// The whole seconds `address` must still wait, when it has failed too often.
    pub fn locked_out(&self, address: IpAddr) -> Option<u64> {
        if self.per_minute == 0 {
            return None;
        }
        let map = self.by_address.lock().unwrap_or_else(PoisonError::into_inner);
        let &(count, since) = map.get(&counted(address))?;
        let left = STRIKE_WINDOW.checked_sub(since.elapsed())?;
        (count >= self.per_minute).then(|| left.as_secs() + 1)
    }

    /// Counts one failed authentication from `address`.
    pub fn strike(&self, address: IpAddr) {
        if self.per_minute == 0 {
            return;
        }
        let mut map = self.by_address.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: expired windows go first, then, under a flood of addresses, the oldest.
        if map.len() >= STRIKE_ADDRESSES {
            map.retain(|_, (_, since)| since.elapsed() < STRIKE_WINDOW);
        }
        if map.len() >= STRIKE_ADDRESSES
            && let Some(oldest) = map.iter().min_by_key(|(_, (_, since))| *since).map(|(a, _)| *a)
        {
            map.remove(&oldest);
        }
        let entry = map.entry(counted(address)).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= STRIKE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_after_its_failures_and_others_are_not() {
        let strikes = Strikes::new(3);
        let (bad, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..2 {
            strikes.strike(bad);
        }
        assert_eq!(strikes.locked_out(bad), None);
        strikes.strike(bad);
        assert!(strikes.locked_out(bad).is_some_and(|s| (1..=60).contains(&s)));
        assert_eq!(strikes.locked_out(other), None);
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for last in 1..=3 {
            strikes.strike(v6(&format!("2001:db8:1:2::{last}")));
        }
        assert!(strikes.locked_out(v6("2001:db8:1:2::99")).is_some(), "one /64 is one client");
        let off = Strikes::new(0);
        (0..10).for_each(|_| off.strike(bad));
        assert_eq!(off.locked_out(bad), None);
    }
}
