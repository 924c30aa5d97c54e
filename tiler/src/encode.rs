//! Building a Mapbox Vector Tile 2.1 from Web Mercator features, on top of `fast-mvt` (which
//! does the protobuf, command encoding, winding and tag de-duplication).

use fast_mvt::{MvtGeomType, MvtLayerBuilder, MvtTileBuilder, MvtValueRef};
use geo_types::Geometry;

use crate::{
    BUFFER, EXTENT, TileCoord,
    shape::{Buffers, Part, TileFrame},
};

/// A property value as MVT carries it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TagValue<'a> {
    /// String.
    Str(&'a str),
    /// Integer.
    Int(i64),
    /// Double.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

/// Encoding failed (a bug: every shape given to the encoder is checked first).
#[derive(Debug, thiserror::Error)]
#[error("encoding tile {tile}: {source}")]
pub struct EncodeError {
    tile: TileCoord,
    #[source]
    source: fast_mvt::MvtError,
}

// One per tile, moved at each feature: boxing the larger variant would allocate per feature.
#[allow(clippy::large_enum_variant)]
enum State {
    Tile(MvtTileBuilder),
    Layer(MvtLayerBuilder),
}

/// Builds one tile, layer by layer. Layers that end up with no feature are left out.
///
/// ```
/// use geo_types::{Geometry, point};
/// let tile = tiler::TileCoord::new(0, 0, 0).unwrap_or_else(|e| panic!("{e}"));
/// let mut b = tiler::TileBuilder::new(tile);
/// b.start_layer("places");
/// let shown = b.add_feature(Some(7), &Geometry::Point(point! { x: 0.0, y: 0.0 }), |tags| {
///     tags.add("name", tiler::TagValue::Str("Cần Thơ"))
/// });
/// assert!(matches!(shown, Ok(true)));
/// assert!(b.finish().is_some_and(|bytes| !bytes.is_empty()));
/// ```
pub struct TileBuilder {
    tile: TileCoord,
    frame: TileFrame,
    buffers: Buffers,
    state: Option<State>,
    pending_layer: Option<String>,
    features: usize,
}

/// Writes one feature's properties.
pub struct Tags<'f> {
    feature: &'f mut fast_mvt::MvtFeatureBuilder,
    error: Option<fast_mvt::MvtError>,
}

impl Tags<'_> {
    /// Adds a property.
    pub fn add(&mut self, key: &str, value: TagValue<'_>) {
        let value = match value {
            TagValue::Str(s) => MvtValueRef::String(s),
            TagValue::Int(i) if i >= 0 => MvtValueRef::UInt(i.unsigned_abs()),
            TagValue::Int(i) => MvtValueRef::SInt(i),
            TagValue::Double(d) => MvtValueRef::Double(d),
            TagValue::Bool(b) => MvtValueRef::Bool(b),
        };
        if let Err(e) = self.feature.tag_ref(key, value) {
            self.error.get_or_insert(e);
        }
    }
}

impl TileBuilder {
    /// A builder for `tile` with the default extent and buffer.
    pub fn new(tile: TileCoord) -> Self {
        Self::in_frame(tile, TileFrame::new(tile, EXTENT, BUFFER))
    }

    /// A builder for a tile of another grid: `frame` places its geometries, `tile` (its
    /// matrix, row and column) names it in errors.
    pub fn in_frame(tile: TileCoord, frame: TileFrame) -> Self {
        Self {
            tile,
            frame,
            buffers: Buffers::default(),
            state: Some(State::Tile(MvtTileBuilder::new())),
            pending_layer: None,
            features: 0,
        }
    }

    /// Starts a layer; the features added next belong to it.
    pub fn start_layer(&mut self, name: &str) {
        self.pending_layer = Some(name.to_owned());
    }

    /// Adds a feature if any of it shows in the tile (after clipping and the low-zoom rule of
    /// [`crate::shape`]); `tags` then writes its properties. Returns whether it was added.
    pub fn add_feature(
        &mut self,
        id: Option<u64>,
        geometry: &Geometry,
        tags: impl FnOnce(&mut Tags<'_>),
    ) -> Result<bool, EncodeError> {
        let Some(shape) = self.frame.shape(geometry, &mut self.buffers) else { return Ok(false) };
        let tile = self.tile;
        let err = |source| EncodeError { tile, source };
        let layer = open_layer(&mut self.state, self.pending_layer.take()).map_err(err)?;
        let mut feature = layer.feature_of(match shape.parts().next() {
            Some((Part::Points, _)) | None => MvtGeomType::Point,
            Some((Part::Line, _)) => MvtGeomType::LineString,
            Some((Part::Exterior | Part::Hole, _)) => MvtGeomType::Polygon,
        });
        feature.id(id);
        let written = shape.parts().try_for_each(|(part, coords)| {
            let coords = coords.iter().copied();
            match part {
                Part::Points => feature.points(coords),
                Part::Line => feature.line(coords),
                Part::Exterior | Part::Hole => feature.ring(coords, part == Part::Exterior),
            }
            .map(|_| ())
        });
        let mut t = Tags { feature: &mut feature, error: None };
        tags(&mut t);
        let tag_error = t.error;
        self.state = Some(State::Layer(feature.end()));
        written.map_err(err)?;
        if let Some(e) = tag_error {
            return Err(err(e));
        }
        self.features += 1;
        Ok(true)
    }

    /// The tile's bytes, or `None` when no feature showed (an empty tile).
    pub fn finish(self) -> Option<Vec<u8>> {
        if self.features == 0 {
            return None;
        }
        match self.state? {
            State::Tile(tile) => Some(tile.encode()),
            State::Layer(layer) => Some(layer.encode()),
        }
    }
}

/// The layer features go into, opening the pending one on its first feature.
fn open_layer(state: &mut Option<State>, pending: Option<String>) -> Result<MvtLayerBuilder, fast_mvt::MvtError> {
    let state = state.take().unwrap_or_else(|| State::Tile(MvtTileBuilder::new()));
    match (state, pending) {
        (State::Tile(tile), Some(name)) => tile.layer(name),
        (State::Layer(layer), Some(name)) => layer.layer(name),
        (State::Layer(layer), None) => Ok(layer),
        (State::Tile(tile), None) => tile.layer("default"),
    }
}
