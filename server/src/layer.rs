//! The served layer: a definition, its index, the version cached tiles are keyed by, and the
//! extents found once at load rather than on every request.

use std::sync::atomic::{AtomicU64, Ordering};

use layers::{LayerDef, LayerIndex, Value, mercator::MAX_LAT};

/// A layer ready to serve: its definition and its index.
pub struct Layer {
    /// The definition.
    pub def: LayerDef,
    /// The features.
    pub index: LayerIndex,
    /// Rises each time the layer is (re)loaded; cached tiles are keyed by it.
    pub version: u64,
    /// First and last instants of the temporal property, as RFC 3339 text; found once at load
    /// rather than by a scan on every `/collections`.
    pub time_extent: Option<[serde_json::Value; 2]>,
}

impl Layer {
    /// A freshly loaded layer, with a version no earlier load of it had.
    pub fn new(def: LayerDef, index: LayerIndex) -> Self {
        static VERSION: AtomicU64 = AtomicU64::new(1);
        let time_extent = time_extent(&def, &index);
        Self { def, index, version: VERSION.fetch_add(1, Ordering::Relaxed), time_extent }
    }

    /// True when tiles of zoom `z` include this layer.
    pub fn serves_zoom(&self, z: u8) -> bool {
        (self.def.minzoom..=self.def.maxzoom).contains(&z)
    }

    /// The lon/lat box `[minx, miny, maxx, maxy]` around every feature, `None` when empty.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        self.index.extent().map(|e| [e.min().x, e.min().y, e.max().x, e.max().y])
    }
}

/// The whole Web Mercator world in lon/lat: the bounds of a set of layers with no feature.
pub const WORLD: [f64; 4] = [-180.0, -MAX_LAT, 180.0, MAX_LAT];

/// The lon/lat box `[minx, miny, maxx, maxy]` around every feature of these layers.
pub fn extent_of<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> Option<[f64; 4]> {
    let rects = layers.into_iter().filter_map(|l| l.index.extent());
    rects.reduce(layers::index::union).map(|e| [e.min().x, e.min().y, e.max().x, e.max().y])
}

/// The earliest and latest values of the layer's temporal property; dates as midnight UTC.
fn time_extent(def: &LayerDef, index: &LayerIndex) -> Option<[serde_json::Value; 2]> {
    let t = def.temporal.as_ref()?;
    let i = def.properties.iter().position(|p| &p.name == t)?;
    let less = |a: &Value, b: &Value| layers::filter::compare(a, b) == Some(std::cmp::Ordering::Less);
    let (mut lo, mut hi) = (None::<&Value>, None::<&Value>);
    for v in index.features().iter().map(|f| &f.properties[i]).filter(|v| !matches!(v, Value::Null)) {
        if lo.is_none_or(|l| less(v, l)) {
            lo = Some(v);
        }
        if hi.is_none_or(|h| less(h, v)) {
            hi = Some(v);
        }
    }
    let instant = |v: &Value| match v {
        Value::Date(_) => format!("{v}T00:00:00Z").into(),
        other => other.to_json(),
    };
    Some([instant(lo?), instant(hi?)])
}
