//! A page of features: what a query found, seen through the caller's columns, with what its
//! links need (the offsets of the next and previous pages).

use layers::{Feature, Value, crs::Crs};

use super::ItemsRequest;
use crate::{
    access::LayerView,
    error::ApiError,
    feature_view::{Columns, FeatureView},
};

/// The feature `fid` of `view`: 404 when there is none.
pub fn one<'a>(view: &'a LayerView, fid: &str) -> Result<&'a Feature, ApiError> {
    let feature = fid.parse::<i64>().ok().and_then(|n| view.index.get(n));
    feature.ok_or_else(|| ApiError::NotFound(format!("no feature {fid:?} in collection {:?}", view.def.id.as_str())))
}

/// One page of an `/items` answer.
pub struct Page<'a> {
    /// The features, in answer order.
    pub features: Vec<&'a Feature>,
    /// How many features match in all.
    pub matched: usize,
    /// Features skipped before this page.
    pub offset: usize,
    /// The page size asked for.
    pub limit: usize,
    /// The CRS of the answer's coordinates.
    pub crs: Crs,
    /// The properties every feature of the page carries.
    pub columns: Columns<'a>,
    /// With `near`, each feature's distance in metres (the `distance_m` it carries).
    pub distances: Vec<Value>,
}

impl<'a> Page<'a> {
    /// The page of `request` on `view`: 503 when the query runs past the request's deadline.
    pub fn find(view: &'a LayerView, request: &ItemsRequest) -> Result<Self, ApiError> {
        let query = &request.query;
        let found = layers::query::run(&view.index, &view.def, query).map_err(|_| crate::compute::too_late())?;
        let only = request.properties.as_deref();
        let columns =
            Columns::new(&view.def, view.visible().map(|(i, _)| i).filter(|i| only.is_none_or(|o| o.contains(i))));
        Ok(Self {
            features: found.features,
            matched: found.matched,
            offset: query.offset,
            limit: query.limit,
            crs: request.crs,
            columns,
            distances: found.distances.into_iter().map(Value::Float).collect(),
        })
    }

    /// The features as the answer shows them.
    pub fn views(&self) -> impl Iterator<Item = FeatureView<'_>> {
        let distances = self.distances.iter().map(Some).chain(std::iter::repeat(None));
        self.features.iter().zip(distances).map(|(f, d)| self.columns.view(f).with_distance(d))
    }

    /// The offset of the next page, when there is one.
    pub fn next_offset(&self) -> Option<usize> {
        (self.offset.saturating_add(self.features.len()) < self.matched).then(|| self.offset.saturating_add(self.limit))
    }

    /// The offset of the previous page, when this is not the first.
    pub fn prev_offset(&self) -> Option<usize> {
        (self.offset > 0).then(|| self.offset.saturating_sub(self.limit))
    }
}
