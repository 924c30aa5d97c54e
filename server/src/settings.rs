//! The serving settings: what the configuration's `[tiles]`, `[features]` and `[limits]`
//! sections set for every request, read by the core without the configuration itself.

/// Serving settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Bytes of compressed tiles the cache may hold; 0 turns it off.
    pub tile_cache_bytes: u64,
    /// `Cache-Control` of tile responses.
    pub tile_cache_control: String,
    /// Features per page when the request gives no `limit`.
    pub default_limit: usize,
    /// Largest page.
    pub max_limit: usize,
    /// Steady requests per second per key or address.
    pub requests_per_second: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
    /// How long a request may take.
    pub request_timeout: std::time::Duration,
    /// Longest URL in bytes.
    pub max_url_bytes: usize,
    /// Largest body in bytes.
    pub max_body_bytes: usize,
}
