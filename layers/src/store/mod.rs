//! Where layers are loaded from: PostGIS tables (the system of record) or files (the embedded
//! default, with no database). Both produce the same [`LayerIndex`](crate::LayerIndex). With
//! PostGIS, [`feed`] tells which tables changed and [`changes`] which features.

pub mod changes;
pub mod edit;
pub mod feed;
pub mod files;
pub mod postgis;
pub mod publish;
pub mod replicas;
pub mod security;
