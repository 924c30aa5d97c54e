//! Building a Mapbox Vector Tile 2.1 from Web Mercator features: the protobuf is written as
//! features are added.
//!
//! Hand-written rather than through an MVT crate: a layer's keys are its columns, known before
//! its first feature, and a value is looked up by its encoded bytes in one table, so a tag
//! costs the hash of a few bytes and no allocation. The crate used before looked up each key
//! by its name and each value by its type, allocating every new string: a fifth of the time
//! of a parcel tile at zoom 13, where most values (areas, dates, numbers) are new.

use std::hash::BuildHasher as _;

use geo_types::{Coord, Geometry};
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::{
    BUFFER, EXTENT, TileCoord,
    shape::{Buffers, Part, TileFrame},
    wire,
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

/// Builds one tile, layer by layer. Layers that end up with no feature are left out.
///
/// ```
/// use geo_types::{Geometry, point};
/// let tile = tiler::TileCoord::new(0, 0, 0).unwrap_or_else(|e| panic!("{e}"));
/// let mut b = tiler::TileBuilder::new(tile);
/// b.start_layer("places", ["name"]);
/// let shown = b.add_feature(Some(7), &Geometry::Point(point! { x: 0.0, y: 0.0 }), |tags| {
///     tags.add(0, tiler::TagValue::Str("Cần Thơ"))
/// });
/// assert!(shown);
/// assert!(b.finish().is_some_and(|bytes| !bytes.is_empty()));
/// ```
pub struct TileBuilder {
    frame: TileFrame,
    buffers: Buffers,
    /// The finished layers' `Tile.layers` fields.
    tile: Vec<u8>,
    layer: Layer,
    /// One feature's geometry commands and tags, as packed varints.
    geometry: Vec<u8>,
    tags: Vec<u8>,
    features: usize,
}

/// The layer being written.
#[derive(Default)]
struct Layer {
    name: String,
    /// The keys features may use, by the index that [`Tags::add`] takes.
    keys: Vec<String>,
    /// Each key's index in the layer's keys table, once a feature has used it.
    key_ids: Vec<Option<u32>>,
    /// The keys used, in the order of their first use: the layer's keys table.
    used_keys: Vec<usize>,
    /// The `Layer.features` fields so far.
    features: Vec<u8>,
    values: Values,
}

/// A layer's values table: each distinct value once, numbered in the order it first appears.
#[derive(Default)]
struct Values {
    /// The `Layer.values` fields, one after another.
    bytes: Vec<u8>,
    /// Where each value's field ends in `bytes`.
    ends: Vec<usize>,
    /// Value numbers, found by the hash of their fields' bytes.
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Values {
    /// The number of `value`, added if it is new.
    fn index(&mut self, value: TagValue<'_>) -> u32 {
        let start = self.bytes.len();
        value_field(&mut self.bytes, value);
        let Self { bytes, ends, table, hasher } = self;
        let new = &bytes[start..];
        let hash = hasher.hash_one(new);
        if let Some(&i) = table.find(hash, |&i| field_of(bytes, ends, i) == new) {
            bytes.truncate(start);
            return i;
        }
        let i = u32::try_from(ends.len()).unwrap_or(u32::MAX);
        ends.push(bytes.len());
        table.insert_unique(hash, i, |&i| hasher.hash_one(field_of(bytes, ends, i)));
        i
    }

    /// Makes room for `n` more distinct values.
    fn reserve(&mut self, n: usize) {
        let Self { bytes, ends, table, hasher } = self;
        table.reserve(n, |&i| hasher.hash_one(field_of(bytes, ends, i)));
        ends.reserve(n);
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.table.clear();
    }
}

/// The bytes of value `i`'s field.
fn field_of<'b>(bytes: &'b [u8], ends: &[usize], i: u32) -> &'b [u8] {
    let i = i as usize;
    &bytes[if i == 0 { 0 } else { ends[i - 1] }..ends[i]]
}

/// Appends `value` as a `Layer.values` field: a `Value` message with one field set.
fn value_field(buf: &mut Vec<u8>, value: TagValue<'_>) {
    wire::key(buf, 4, wire::LEN);
    match value {
        TagValue::Str(s) => {
            wire::varint(buf, wire::bytes_field_len(s.len()) as u64);
            wire::bytes_field(buf, 1, s.as_bytes());
        }
        TagValue::Double(d) => {
            wire::varint(buf, 9);
            wire::key(buf, 3, wire::FIXED64);
            buf.extend_from_slice(&d.to_le_bytes());
        }
        // Non-negative integers as `uint_value`, negative ones as `sint_value`: the shortest.
        TagValue::Int(i) => {
            let (field, v) = if i >= 0 { (5, i.unsigned_abs()) } else { (6, wire::zigzag(i)) };
            wire::varint(buf, wire::varint_field_len(v) as u64);
            wire::varint_field(buf, field, v);
        }
        TagValue::Bool(b) => {
            wire::varint(buf, 2);
            wire::varint_field(buf, 7, u64::from(b));
        }
    }
}

/// Writes one feature's properties.
pub struct Tags<'f> {
    layer: &'f mut Layer,
    tags: &'f mut Vec<u8>,
}

impl Tags<'_> {
    /// Adds the property of key `key` (an index into the keys given to
    /// [`TileBuilder::start_layer`]).
    ///
    /// # Panics
    ///
    /// If the layer has no such key: a bug of the caller.
    pub fn add(&mut self, key: usize, value: TagValue<'_>) {
        let layer = &mut *self.layer;
        let key_id = *layer.key_ids[key].get_or_insert_with(|| {
            layer.used_keys.push(key);
            u32::try_from(layer.used_keys.len() - 1).unwrap_or(u32::MAX)
        });
        wire::varint(self.tags, u64::from(key_id));
        wire::varint(self.tags, u64::from(layer.values.index(value)));
    }
}

/// The MVT version written into every layer.
const VERSION: u64 = 2;

/// MVT geometry commands.
const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

/// Appends the geometry commands of one shape's parts. The cursor runs on from part to part.
fn commands<'c>(parts: impl Iterator<Item = (Part, &'c [Coord<i32>])>, out: &mut Vec<u8>) {
    let header = |out: &mut Vec<u8>, id: u32, count: usize| wire::varint(out, u64::from(id) | (count as u64) << 3);
    let mut cursor = Coord { x: 0, y: 0 };
    let mut to = |out: &mut Vec<u8>, c: Coord<i32>| {
        wire::varint(out, wire::zigzag(i64::from(c.x) - i64::from(cursor.x)));
        wire::varint(out, wire::zigzag(i64::from(c.y) - i64::from(cursor.y)));
        cursor = c;
    };
    for (part, coords) in parts {
        let Some((&first, rest)) = coords.split_first() else { continue };
        match part {
            Part::Points => {
                header(out, MOVE_TO, coords.len());
                coords.iter().for_each(|&c| to(out, c));
            }
            Part::Line => {
                header(out, MOVE_TO, 1);
                to(out, first);
                header(out, LINE_TO, rest.len());
                rest.iter().for_each(|&c| to(out, c));
            }
            Part::Exterior | Part::Hole => {
                let ring = if coords.len() > 1 && coords.last() == Some(&first) {
                    &coords[..coords.len() - 1]
                } else {
                    coords
                };
                // MVT: exterior rings turn clockwise on screen (positive area with y down),
                // holes the other way.
                let area = signed_area(ring);
                let reverse = area != 0 && (area > 0) != (part == Part::Exterior);
                let nth = |i: usize| if reverse { ring[ring.len() - 1 - i] } else { ring[i] };
                header(out, MOVE_TO, 1);
                to(out, nth(0));
                if ring.len() > 1 {
                    header(out, LINE_TO, ring.len() - 1);
                    (1..ring.len()).for_each(|i| to(out, nth(i)));
                }
                header(out, CLOSE_PATH, 1);
            }
        }
    }
}

/// Twice the signed area of a ring (the shoelace formula).
fn signed_area(ring: &[Coord<i32>]) -> i64 {
    let cross = |a: &Coord<i32>, b: &Coord<i32>| i64::from(a.x) * i64::from(b.y) - i64::from(a.y) * i64::from(b.x);
    let closing = ring.last().zip(ring.first()).map_or(0, |(a, b)| cross(a, b));
    ring.windows(2).map(|w| cross(&w[0], &w[1])).sum::<i64>() + closing
}

impl TileBuilder {
    /// A builder for `tile` with the default extent and buffer.
    pub fn new(tile: TileCoord) -> Self {
        Self::in_frame(TileFrame::new(tile, EXTENT, BUFFER))
    }

    /// A builder for a tile of another grid, whose geometries `frame` places.
    pub fn in_frame(frame: TileFrame) -> Self {
        Self {
            frame,
            buffers: Buffers::default(),
            tile: Vec::new(),
            layer: Layer::default(),
            geometry: Vec::new(),
            tags: Vec::new(),
            features: 0,
        }
    }

    /// Starts a layer whose features may carry these keys; the features added next belong
    /// to it. Only the keys a feature uses are written.
    pub fn start_layer<'k>(&mut self, name: &str, keys: impl IntoIterator<Item = &'k str>) {
        self.end_layer();
        let layer = &mut self.layer;
        layer.name.clear();
        layer.name.push_str(name);
        layer.keys.clear();
        layer.keys.extend(keys.into_iter().map(str::to_owned));
        layer.key_ids.clear();
        layer.key_ids.resize(layer.keys.len(), None);
    }

    /// Makes room for about `features` features in the layer being written (the values table
    /// grown feature by feature rehashed every value about once more).
    pub fn reserve(&mut self, features: usize) {
        let layer = &mut self.layer;
        layer.values.reserve(features * layer.keys.len() / 2);
    }

    /// Adds a feature if any of it shows in the tile (after clipping and the low-zoom rule of
    /// [`crate::shape`]); `tags` then writes its properties. Returns whether it was added.
    pub fn add_feature(&mut self, id: Option<u64>, geometry: &Geometry, tags: impl FnOnce(&mut Tags<'_>)) -> bool {
        let Some(shape) = self.frame.shape(geometry, &mut self.buffers) else { return false };
        let geom_type: u64 = match shape.parts().next() {
            Some((Part::Points, _)) | None => 1,
            Some((Part::Line, _)) => 2,
            Some((Part::Exterior | Part::Hole, _)) => 3,
        };
        self.geometry.clear();
        commands(shape.parts(), &mut self.geometry);
        self.tags.clear();
        tags(&mut Tags { layer: &mut self.layer, tags: &mut self.tags });

        // Empty packed fields are left out.
        let packed_len = |bytes: &[u8]| if bytes.is_empty() { 0 } else { wire::bytes_field_len(bytes.len()) };
        let len = id.map_or(0, wire::varint_field_len)
            + packed_len(&self.tags)
            + wire::varint_field_len(geom_type)
            + packed_len(&self.geometry);
        let out = &mut self.layer.features;
        wire::key(out, 2, wire::LEN);
        wire::varint(out, len as u64);
        if let Some(id) = id {
            wire::varint_field(out, 1, id);
        }
        if !self.tags.is_empty() {
            wire::bytes_field(out, 2, &self.tags);
        }
        wire::varint_field(out, 3, geom_type);
        if !self.geometry.is_empty() {
            wire::bytes_field(out, 4, &self.geometry);
        }
        self.features += 1;
        true
    }

    /// Appends the layer being written to the tile, if it has features.
    fn end_layer(&mut self) {
        let layer = &mut self.layer;
        if layer.features.is_empty() {
            return;
        }
        let keys = layer.used_keys.iter().map(|&k| layer.keys[k].as_str());
        let len = wire::bytes_field_len(layer.name.len())
            + layer.features.len()
            + keys.clone().map(|k| wire::bytes_field_len(k.len())).sum::<usize>()
            + layer.values.bytes.len()
            + wire::varint_field_len(u64::from(EXTENT))
            + wire::varint_field_len(VERSION);
        let out = &mut self.tile;
        out.reserve(len + 8);
        wire::key(out, 3, wire::LEN);
        wire::varint(out, len as u64);
        wire::bytes_field(out, 1, layer.name.as_bytes());
        out.extend_from_slice(&layer.features);
        for key in keys {
            wire::bytes_field(out, 3, key.as_bytes());
        }
        out.extend_from_slice(&layer.values.bytes);
        wire::varint_field(out, 5, u64::from(EXTENT));
        wire::varint_field(out, 15, VERSION);
        layer.features.clear();
        layer.used_keys.clear();
        layer.values.clear();
    }

    /// The tile's bytes, or `None` when no feature showed (an empty tile).
    pub fn finish(mut self) -> Option<Vec<u8>> {
        self.end_layer();
        (self.features > 0).then_some(self.tile)
    }
}

#[cfg(test)]
mod tests {
    use fast_mvt::{MvtGeomType, MvtTileBuilder, MvtValueRef};
    use geo_types::{Geometry, LineString, MultiPoint, MultiPolygon, Point, Polygon, coord, line_string, polygon};

    use super::*;

    type Feature = (Option<u64>, Geometry, Vec<(usize, TagValue<'static>)>);

    /// Features of every kind, in and out of the tile, with values repeated within and
    /// across keys.
    fn layers(tile: TileCoord) -> Vec<(&'static str, Vec<&'static str>, Vec<Feature>)> {
        let [a, b, c, d] = tile.bounds();
        let at = |fx: f64, fy: f64| coord! { x: a + (c - a) * fx, y: b + (d - b) * fy };
        let square =
            |x: f64, y: f64, s: f64| LineString(vec![at(x, y), at(x + s, y), at(x + s, y + s), at(x, y + s), at(x, y)]);
        let reversed = |mut l: LineString| {
            l.0.reverse();
            l
        };
        let sites: Vec<Feature> = vec![
            (Some(1), Geometry::Point(Point(at(0.5, 0.5))), vec![(0, TagValue::Str("đình")), (1, TagValue::Int(3))]),
            (
                None,
                Geometry::MultiPoint(MultiPoint(vec![Point(at(0.1, 0.2)), Point(at(0.7, 0.9))])),
                vec![(1, TagValue::Int(-3))],
            ),
            (Some(3), Geometry::Point(Point(at(3.0, 3.0))), vec![(0, TagValue::Str("outside"))]),
            (Some(4), Geometry::Point(Point(at(0.2, 0.2))), vec![]),
        ];
        let nothing: Vec<Feature> =
            vec![(Some(9), Geometry::Point(Point(at(-2.0, 0.5))), vec![(0, TagValue::Bool(true))])];
        let shapes: Vec<Feature> = vec![
            (
                Some(u64::MAX),
                Geometry::Polygon(Polygon::new(
                    square(0.1, 0.1, 0.5),
                    vec![reversed(square(0.2, 0.2, 0.1)), square(0.4, 0.4, 0.1)],
                )),
                vec![(2, TagValue::Double(-0.0)), (0, TagValue::Str("3")), (1, TagValue::Bool(false))],
            ),
            (
                Some(11),
                Geometry::MultiPolygon(MultiPolygon(vec![
                    Polygon::new(reversed(square(0.7, 0.7, 0.6)), vec![]),
                    polygon![(x: a, y: b), (x: a, y: d), (x: c, y: b)],
                ])),
                vec![(2, TagValue::Double(0.0)), (1, TagValue::Int(3)), (0, TagValue::Str("3"))],
            ),
            (
                Some(12),
                Geometry::LineString(line_string![
                    at(-0.5, 0.5),
                    at(0.5, 0.52),
                    at(1.5, 0.5),
                    at(1.5, -0.5),
                    at(0.3, 0.1)
                ]),
                vec![(1, TagValue::Int(i64::MIN)), (2, TagValue::Double(f64::MAX)), (0, TagValue::Str(""))],
            ),
        ];
        vec![
            ("sites", vec!["name", "rank"], sites),
            ("empty", vec!["k"], nothing),
            ("shapes", vec!["a", "b", "c"], shapes),
        ]
    }

    /// The same tile through the MVT crate's writer, shape by shape.
    fn reference(tile: TileCoord, layers: &[(&str, Vec<&str>, Vec<Feature>)]) -> Option<Vec<u8>> {
        let frame = TileFrame::new(tile, EXTENT, BUFFER);
        let mut buffers = Buffers::default();
        let mut out = MvtTileBuilder::new();
        let mut any = false;
        for (name, keys, features) in layers {
            let mut layer = None;
            for (id, geometry, tags) in features {
                let Some(shape) = frame.shape(geometry, &mut buffers) else { continue };
                let l = match layer.take() {
                    Some(l) => l,
                    None => std::mem::take(&mut out).layer(*name).unwrap_or_else(|e| panic!("{e}")),
                };
                let mut f = l.feature_of(match shape.parts().next() {
                    Some((Part::Points, _)) | None => MvtGeomType::Point,
                    Some((Part::Line, _)) => MvtGeomType::LineString,
                    Some(_) => MvtGeomType::Polygon,
                });
                f.id(*id);
                for (part, coords) in shape.parts() {
                    let coords = coords.iter().copied();
                    let written = match part {
                        Part::Points => f.points(coords),
                        Part::Line => f.line(coords),
                        Part::Exterior | Part::Hole => f.ring(coords, part == Part::Exterior),
                    };
                    written.unwrap_or_else(|e| panic!("{e}"));
                }
                for &(k, v) in tags {
                    let v = match v {
                        TagValue::Str(s) => MvtValueRef::String(s),
                        TagValue::Int(i) if i >= 0 => MvtValueRef::UInt(i.unsigned_abs()),
                        TagValue::Int(i) => MvtValueRef::SInt(i),
                        TagValue::Double(d) => MvtValueRef::Double(d),
                        TagValue::Bool(b) => MvtValueRef::Bool(b),
                    };
                    f.tag_ref(keys[k], v).unwrap_or_else(|e| panic!("{e}"));
                }
                layer = Some(f.end());
                any = true;
            }
            if let Some(l) = layer {
                out = l.end();
            }
        }
        any.then(|| out.encode())
    }

    fn ours(tile: TileCoord, layers: &[(&str, Vec<&str>, Vec<Feature>)]) -> (Option<Vec<u8>>, Vec<bool>) {
        let mut b = TileBuilder::new(tile);
        let mut shown = Vec::new();
        for (name, keys, features) in layers {
            b.start_layer(name, keys.iter().copied());
            for (id, geometry, tags) in features {
                shown.push(b.add_feature(*id, geometry, |t| tags.iter().for_each(|&(k, v)| t.add(k, v))));
            }
        }
        (b.finish(), shown)
    }

    #[test]
    fn tiles_are_byte_for_byte_what_the_mvt_crate_writes() {
        let tile = TileCoord::new(13, 6502, 3866).unwrap_or_else(|e| panic!("{e}"));
        let layers = layers(tile);
        let (bytes, shown) = ours(tile, &layers);
        assert_eq!(shown, [true, true, false, true, false, true, true, true]);
        let bytes = bytes.unwrap_or_default();
        assert_eq!(bytes, reference(tile, &layers).unwrap_or_default());

        let read = fast_mvt::MvtReaderRef::new(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
        let names: Vec<_> = read.layers().map(|l| l.name().to_owned()).collect();
        assert_eq!(names, ["sites", "shapes"], "the layer without features is left out");
    }

    #[test]
    fn a_tile_without_features_is_none() {
        let tile = TileCoord::new(13, 6502, 3866).unwrap_or_else(|e| panic!("{e}"));
        let layers = layers(tile);
        let (bytes, _) = ours(tile, &layers[1..2]);
        assert_eq!(bytes, None);
    }
}
