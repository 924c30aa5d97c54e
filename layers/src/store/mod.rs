//! Where layers are loaded from: PostGIS tables (the system of record) or files (the embedded
//! default, with no database). Both produce the same [`LayerIndex`](crate::LayerIndex).

pub mod files;
pub mod postgis;
pub mod security;
