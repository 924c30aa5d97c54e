//! Tile coordinates from a path: a tile or a 400, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let mut parts = s.splitn(3, '/');
        let (z, x, y) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if let Ok(tile) = server::request::parse_tile(z, x, y) {
            let _ = tile.bounds();
        }
    }
});
