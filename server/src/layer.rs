//! The served layer: a definition, its index, the version cached tiles are keyed by, and the
//! extents found once at load rather than on every request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use layers::{Feature, LayerDef, LayerIndex, Value, mercator::MAX_LAT};

/// A layer ready to serve: its definition and its index.
pub struct Layer {
    /// The definition.
    pub def: LayerDef,
    /// The features.
    pub index: LayerIndex,
    /// Rises each time the layer is (re)loaded; cached tiles are keyed by it. Changes applied
    /// from the change log keep it, and drop only the tiles they touch.
    pub version: u64,
    /// Earliest and latest values of the temporal property; found at load rather than by a
    /// scan on every `/collections`, and widened by changes.
    time_range: Option<[Value; 2]>,
    /// Set once a newer state of the layer is served: a tile rendered from this one is then
    /// not cached.
    superseded: AtomicBool,
}

impl Layer {
    /// A freshly loaded layer, with a version no earlier load of it had.
    pub fn new(def: LayerDef, index: LayerIndex) -> Self {
        static VERSION: AtomicU64 = AtomicU64::new(1);
        let time_range = time_range(&def, std::iter::empty(), index.features());
        Self {
            def,
            index,
            version: VERSION.fetch_add(1, Ordering::Relaxed),
            time_range,
            superseded: AtomicBool::new(false),
        }
    }

    /// This layer with changes applied: `index` is its new index, `changed` the ids of the
    /// features that changed or came. The version stays, so untouched cached tiles stay valid.
    pub fn changed(&self, index: LayerIndex, changed: &[i64]) -> Self {
        let now = changed.iter().filter_map(|&id| index.get(id));
        let time_range = time_range(&self.def, self.time_range.iter().flatten(), now);
        Self { def: self.def.clone(), index, version: self.version, time_range, superseded: AtomicBool::new(false) }
    }

    /// Marks that a newer state of this layer is served.
    pub fn supersede(&self) {
        self.superseded.store(true, Ordering::Release);
    }

    /// True once a newer state of this layer is served.
    pub fn is_superseded(&self) -> bool {
        self.superseded.load(Ordering::Acquire)
    }

    /// First and last instants of the temporal property, as RFC 3339 text; dates as midnight UTC.
    pub fn time_extent(&self) -> Option<[serde_json::Value; 2]> {
        let instant = |v: &Value| match v {
            Value::Date(_) => format!("{v}T00:00:00Z").into(),
            other => other.to_json(),
        };
        self.time_range.as_ref().map(|[lo, hi]| [instant(lo), instant(hi)])
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

/// The earliest and latest values of the layer's temporal property among `known` values and
/// those of `features`.
fn time_range<'a>(
    def: &LayerDef,
    known: impl Iterator<Item = &'a Value>,
    features: impl Iterator<Item = &'a Feature>,
) -> Option<[Value; 2]> {
    let t = def.temporal.as_ref()?;
    let i = def.properties.iter().position(|p| &p.name == t)?;
    let less = |a: &Value, b: &Value| layers::filter::compare(a, b) == Some(std::cmp::Ordering::Less);
    let (mut lo, mut hi) = (None::<&Value>, None::<&Value>);
    let values = known.chain(features.map(|f| &f.properties[i]));
    for v in values.filter(|v| !matches!(v, Value::Null)) {
        if lo.is_none_or(|l| less(v, l)) {
            lo = Some(v);
        }
        if hi.is_none_or(|h| less(h, v)) {
            hi = Some(v);
        }
    }
    Some([lo?.clone(), hi?.clone()])
}
