//! CRS URIs: a supported CRS or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = layers::crs::Crs::from_uri(s);
        let _ = layers::crs::parse_srid(s);
    }
});
