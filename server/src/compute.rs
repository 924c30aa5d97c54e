//! The pool that a request's CPU work runs on: tile rendering, filter evaluation, encoding.
//!
//! That work must not run on the async threads, where it would hold up every other request
//! (`/health` included), nor on as many threads as there are requests: a few expensive ones
//! would then share the cores with everything else. It runs on at most one blocking thread per
//! core; a request waits for a free one within its own time limit (the middleware's timeout
//! drops it), and work that has started checks its deadline itself.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::ApiError;

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

    /// Runs `work` on a blocking thread once one is free. The thread stays taken until the work
    /// ends, even when the request has given up waiting for it.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Unavailable("the server is shutting down".into()))?;
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(format!("the work of a request failed: {e}")))
    }
}
