//! What one caller may read: the readable layers, each as a [`LayerView`] that knows which
//! properties this caller may see and filter on. Computed once per request, so that no later
//! step decides it again; every layer opened is noted here, in one place, on the caller's
//! [`Reads`](crate::auth::Reads), for the audit and for caching.
//!
//! A layer the caller may not read is answered exactly as one that does not exist.

use std::{collections::BTreeMap, ops::Deref, sync::Arc};

use layers::{LayerId, PropertyDef, PropertyType};

use crate::{auth::Caller, error::ApiError, feature_view::Columns, layer::Layer};

/// At most this many layers in one request (a multi-layer tile or TileJSON).
pub const MAX_LAYERS: usize = 32;

/// A layer as one caller sees it.
pub struct LayerView {
    layer: Arc<Layer>,
    /// Indices of the properties the caller may see, in the layer's order.
    visible: Vec<usize>,
}

impl Deref for LayerView {
    type Target = Layer;
    fn deref(&self) -> &Layer {
        &self.layer
    }
}

impl LayerView {
    /// The layer as `caller` sees it: private properties only with clearance.
    pub fn new(layer: Arc<Layer>, caller: &Caller) -> Self {
        let visible =
            (0..layer.def.properties.len()).filter(|&i| !layer.def.properties[i].private || caller.sees_private());
        let visible = visible.collect();
        Self { layer, visible }
    }

    /// The layer itself, shared.
    pub fn layer(&self) -> &Arc<Layer> {
        &self.layer
    }

    /// The properties the caller may see, in order.
    pub fn visible(&self) -> impl Iterator<Item = (usize, &PropertyDef)> {
        self.visible.iter().map(|&i| (i, &self.def.properties[i]))
    }

    /// The properties the caller may filter on, in order.
    pub fn queryable(&self) -> impl Iterator<Item = (usize, &PropertyDef)> {
        self.visible().filter(|(_, p)| p.queryable)
    }

    /// Whether the caller may filter on the property at `i`.
    pub fn is_queryable(&self, i: usize) -> bool {
        self.def.properties[i].queryable && self.visible.contains(&i)
    }

    /// The visible property called `name`.
    pub fn visible_named(&self, name: &str) -> Option<usize> {
        self.visible().find(|(_, p)| p.name == name).map(|(i, _)| i)
    }

    /// The queryable property called `name`.
    pub fn queryable_named(&self, name: &str) -> Option<usize> {
        self.queryable().find(|(_, p)| p.name == name).map(|(i, _)| i)
    }

    /// The visible text properties: what `q` searches.
    pub fn searchable(&self) -> Vec<usize> {
        self.visible().filter(|(_, p)| p.kind == PropertyType::Text).map(|(i, _)| i).collect()
    }

    /// Every visible property as answer columns.
    pub fn columns(&self) -> Columns<'_> {
        Columns::new(&self.def, self.visible.iter().copied())
    }
}

/// The layers one caller may read.
pub struct Access<'a> {
    layers: Arc<BTreeMap<LayerId, Arc<Layer>>>,
    caller: &'a Caller,
}

impl<'a> Access<'a> {
    /// `caller`'s access to `layers`.
    pub fn new(layers: Arc<BTreeMap<LayerId, Arc<Layer>>>, caller: &'a Caller) -> Self {
        Self { layers, caller }
    }

    /// Every layer the caller may read, in id order. Listing is not reading: nothing is audited.
    pub fn all(&self) -> Vec<LayerView> {
        let readable = self.layers.values().filter(|l| self.caller.may_read(l.def.access));
        let views: Vec<LayerView> = readable.map(|l| LayerView::new(Arc::clone(l), self.caller)).collect();
        for v in &views {
            self.caller.reads.note(&v.def.id, v.def.access, false);
        }
        views
    }

    /// The layers named in `a,b,c`: 400 for a layer named twice or for more than
    /// [`MAX_LAYERS`] (before any is opened), 404 for one that does not exist or that the
    /// caller may not read.
    pub fn list(&self, spec: &str) -> Result<Vec<LayerView>, ApiError> {
        let names: Vec<&str> = spec.split(',').collect();
        if names.len() > MAX_LAYERS {
            return Err(ApiError::BadRequest(format!("at most {MAX_LAYERS} layers per tile")));
        }
        if let Some(twice) = names.iter().enumerate().find_map(|(i, n)| names[..i].contains(n).then_some(n)) {
            return Err(ApiError::BadRequest(format!("layer {twice:?} is named twice")));
        }
        names.into_iter().map(|name| self.read(name)).collect()
    }

    /// The one layer a collection path names: 404 for a list, an unknown layer or one the
    /// caller may not read.
    pub fn one(&self, id: &str) -> Result<LayerView, ApiError> {
        if id.contains(',') {
            return Err(ApiError::NotFound(format!("no collection {id:?}")));
        }
        self.read(id)
    }

    fn read(&self, name: &str) -> Result<LayerView, ApiError> {
        let layer = name.parse::<LayerId>().ok().and_then(|id| self.layers.get(&id));
        let layer = layer
            .filter(|l| self.caller.may_read(l.def.access))
            .ok_or_else(|| ApiError::NotFound(format!("no layer {name:?}")))?;
        self.caller.reads.note(&layer.def.id, layer.def.access, true);
        Ok(LayerView::new(Arc::clone(layer), self.caller))
    }
}
