//! Bando's tiler: the WebMercatorQuad tile grid, and turning Web Mercator geometries into
//! Mapbox Vector Tile 2.1 layers (clip to the tile plus a buffer, simplify to the zoom, snap to
//! the tile grid, encode).
//!
//! Pure and synchronous: no SQL, no HTTP, no configuration, no I/O. The caller finds the
//! features a tile needs and feeds them to a [`TileBuilder`].
#![warn(missing_docs)]

pub mod budget;
pub mod encode;
pub mod shape;
pub mod tile;
mod wire;

pub use encode::{TagValue, TileBuilder};
pub use tile::{TileCoord, TileError};

/// Tile extent in grid units: MVT's default, 16 units per pixel of a 256 px tile.
pub const EXTENT: u32 = 4096;
/// Buffer around the tile, in grid units (4 px), so that lines and polygon edges continue past
/// the tile edge and adjacent tiles join without seams.
pub const BUFFER: u32 = 64;
