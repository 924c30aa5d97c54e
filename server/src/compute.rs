//! The pool that a request's CPU work runs on: tile rendering, filter evaluation, encoding.
//!
//! That work must not run on the async threads, where it would hold up every other request
//! (`/health` included), nor on as many threads as there are requests: a few expensive ones
//! would then share the cores with everything else. It runs on at most one blocking thread per
//! core; a request waits for a free one within its own time limit (the middleware's timeout
//! drops it), and work that has started checks its deadline itself.

use std::{sync::Arc, time::Instant};

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// When a request's time is up: set as it arrives (the middleware's time limit), so that work
/// which waited for a thread knows how much of that time is left.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Instant);

impl Deadline {
    /// `limit` from now (or very far off, if that is past what the clock can hold).
    pub fn after(limit: std::time::Duration) -> Self {
        let now = Instant::now();
        Self(now.checked_add(limit).unwrap_or(now + std::time::Duration::from_secs(86_400 * 365)))
    }

    /// Whether it has passed.
    pub fn passed(self) -> bool {
        Instant::now() >= self.0
    }
}

/// The request's deadline, as the middleware set it.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Deadline {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Deadline>()
            .copied()
            .ok_or_else(|| ApiError::Internal("no deadline on the request".into()))
    }
}

/// The answer to a request whose time ran out.
pub fn too_late() -> ApiError {
    ApiError::Unavailable("the request took longer than it may; try again later or narrow it".into())
}

/// A bounded set of blocking threads.
#[derive(Clone)]
pub struct Compute {
    permits: Arc<Semaphore>,
}

impl Compute {
    /// At most `threads` pieces of work at once; 0 means one per core.
    pub fn new(threads: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self { permits: Arc::new(Semaphore::new(if threads == 0 { cores } else { threads })) }
    }

    /// Runs `work` on a blocking thread once one is free, unless `deadline` has passed by then.
    /// The thread stays taken until the work ends, even when the request has given up waiting
    /// for it: long work checks the deadline itself.
    pub async fn run<T: Send + 'static>(
        &self,
        deadline: Deadline,
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        // The semaphore is never closed, so waiting only ends with a permit.
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|_| too_late())?;
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            if deadline.passed() {
                return Err(too_late());
            }
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(format!("the work of a request failed: {e}")))?
    }
}
