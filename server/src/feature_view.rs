//! A feature as an answer shows it: the properties of a column selection, in order, with their
//! names. Every encoder reads features through this one view (GeoJSON, HTML pages, tiles), so
//! that what a caller may see is decided once, when the [`Columns`] are chosen.

use geo_types::Geometry;
use layers::{Feature, LayerDef, PropertyDef, Value, crs::Crs};

use crate::error::ApiError;

/// Which properties an answer carries, by index into the layer's properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns<'a>(Vec<(usize, &'a PropertyDef)>);

impl<'a> Columns<'a> {
    /// The properties at these indices of `def`, in that order.
    pub fn new(def: &'a LayerDef, indices: impl IntoIterator<Item = usize>) -> Self {
        Self(indices.into_iter().map(|i| (i, &def.properties[i])).collect())
    }

    /// The properties no caller needs clearance for: what tiles and TileJSON carry.
    pub fn public(def: &'a LayerDef) -> Self {
        Self::new(def, (0..def.properties.len()).filter(|&i| !def.properties[i].private))
    }

    /// The property names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.0.iter().map(|&(_, p)| p.name.as_str())
    }

    /// The properties, in order.
    pub fn defs(&self) -> impl Iterator<Item = &'a PropertyDef> + '_ {
        self.0.iter().map(|&(_, p)| p)
    }

    /// The indices, in order.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().map(|&(i, _)| i)
    }

    /// The feature seen through these columns.
    pub fn view<'f>(&'f self, feature: &'f Feature) -> FeatureView<'f> {
        FeatureView { feature, columns: self, distance: None }
    }
}

/// One feature through a column selection.
#[derive(Clone, Copy)]
pub struct FeatureView<'a> {
    feature: &'a Feature,
    columns: &'a Columns<'a>,
    /// Metres from the point of a `near` query, shown as [`DISTANCE`] after the properties.
    distance: Option<&'a Value>,
}

/// The property a `near` query adds to each feature: its distance in metres.
pub const DISTANCE: &str = "distance_m";

impl<'a> FeatureView<'a> {
    /// The feature's id.
    pub fn id(&self) -> i64 {
        self.feature.id
    }

    /// The geometry in Web Mercator, as the index keeps it.
    pub fn mercator(&self) -> &'a Geometry {
        &self.feature.mercator
    }

    /// The geometry in `crs`.
    pub fn geometry(&self, crs: Crs) -> Result<Geometry, ApiError> {
        match crs {
            Crs::Crs84 => Ok(self.feature.geometry.clone()),
            Crs::Epsg(3857) => Ok(self.feature.mercator.clone()),
            other => other
                .with_projector(|p| p.from_lonlat(&self.feature.geometry))
                .and_then(|r| r)
                .map_err(ApiError::Internal),
        }
    }

    /// The feature with its distance from a `near` query's point.
    pub fn with_distance(self, distance: Option<&'a Value>) -> Self {
        Self { distance, ..self }
    }

    /// `(name, value)` of each column, in order, then the distance of a `near` query.
    pub fn properties(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        let (feature, columns) = (self.feature, self.columns);
        let columns = columns.0.iter().map(move |&(i, p)| (p.name.as_str(), &feature.properties[i]));
        columns.chain(self.distance.map(|d| (DISTANCE, d)))
    }

    /// `(property, value)` of each column, in order, then `(None, distance)` of a `near` query.
    pub fn described(&self) -> impl Iterator<Item = (Option<&'a PropertyDef>, &'a Value)> + 'a {
        let (feature, columns) = (self.feature, self.columns);
        let columns = columns.0.iter().map(move |&(i, p)| (Some(p), &feature.properties[i]));
        columns.chain(self.distance.map(|d| (None, d)))
    }
}
