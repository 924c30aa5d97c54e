//! The HTTP routes, one module per family.

pub mod api;
pub mod collections;
pub mod health;
pub mod items;
pub mod landing;
pub mod maps;
pub mod metrics;
pub mod ogc_tiles;
pub mod queryables;
pub mod tiles;

use axum::http::{HeaderMap, header};

/// The service's base URL as the client reached it, for absolute links.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let proto = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}")
}
