//! Bando's layers: the layer catalog, the feature model, the PostGIS and file stores, the import
//! pipeline and the in-memory index that tiles and feature queries read from.
//!
//! This crate knows nothing of HTTP or vector tiles; the `server` crate wires it to the web.
#![warn(missing_docs)]

pub mod catalog;
pub mod columns;
pub mod crs;
pub mod distance;
pub mod error;
pub mod export;
pub mod feature;
pub mod filter;
pub mod flatgeobuf;
pub mod geoparquet;
pub mod import;
pub mod index;
pub mod labels;
pub mod legacy_text;
pub mod mercator;
pub mod query;
pub mod search;
pub mod sensing;
pub mod source;
pub mod store;
pub mod text;
pub mod validity;

pub use catalog::{AccessLevel, GeometryType, LayerDef, LayerId, PropertyDef, PropertyType, Theme};
pub use error::{Error, Result};
pub use feature::{Feature, Value};
pub use index::{Candidate, LayerIndex};
