//! `bbox` in every supported CRS: a box or an error, never a panic.
#![no_main]
use layers::crs::Crs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        for crs in [Crs::Crs84, Crs::Epsg(4326), Crs::Epsg(3857), Crs::Epsg(9210)] {
            let _ = server::request::parse_bbox(s, crs);
        }
    }
});
