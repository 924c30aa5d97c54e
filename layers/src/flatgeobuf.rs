//! FlatGeobuf downloads, written here rather than through GDAL or the `flatgeobuf` crate's
//! writer: the format's spatial index precedes its features, so a writer must know every
//! feature's box and place before it writes the first one. GDAL's writer keeps about 270 bytes a
//! feature until the end, the crate's about 140 (the boxes, their sorted copy and the tree);
//! this one keeps 48 (the box, the feature's place in a temporary file, and its rank on the
//! Hilbert curve while sorting), so a 500 000-feature download costs 23 MB, not 136. The crate
//! is used for the format's FlatBuffers tables only.
//!
//! The file: the magic bytes, the header, the packed Hilbert R-tree (root first, leaves last,
//! 16 children a node), then the features in the leaves' order.

use std::{
    fs::File,
    io::{BufWriter, Write},
    os::unix::fs::FileExt,
    path::Path,
};

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use flatgeobuf as fgb;
use geo::BoundingRect;
use geo_types::{Coord, Geometry};

use crate::{
    Error, GeometryType, PropertyType, Result, Value,
    export::{FileFeature, FileLayer, as_declared},
};

const MAGIC: [u8; 8] = [b'f', b'g', b'b', 3, b'f', b'g', b'b', 0];
/// Children per node of the index, the format's default.
const NODE_SIZE: usize = 16;

/// A feature written to the temporary file: its box (NaN for an empty geometry, which no box
/// search finds) and where it starts there.
struct Placed {
    bbox: [f64; 4],
    at: u64,
}

/// Writes `features` as a FlatGeobuf file at `path` with its spatial index; answers how many.
pub fn write<'a>(path: &Path, layer: &FileLayer, features: impl Iterator<Item = FileFeature<'a>>) -> Result<u64> {
    let io = |e: std::io::Error| Error::Export(format!("writing FlatGeobuf: {e}"));
    let folder = path.parent().unwrap_or(Path::new("."));
    let spill = tempfile::tempfile_in(folder).map_err(io)?;
    let (placed, end) = write_features(&spill, layer, features).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
    out.write_all(&MAGIC).map_err(io)?;
    let extent = placed.iter().map(|p| p.bbox).filter(|b| !b[0].is_nan()).reduce(union);
    out.write_all(&header(layer, placed.len() as u64, extent)).map_err(io)?;
    let order = hilbert_order(&placed, extent.unwrap_or_default());
    let size = |slot: usize| placed.get(slot + 1).map_or(end, |next| next.at) - placed[slot].at;
    write_index(&mut out, &placed, &order, &size).map_err(io)?;
    let mut buf = Vec::new();
    for &slot in &order {
        buf.resize(usize::try_from(size(slot as usize)).unwrap_or(usize::MAX), 0);
        spill.read_exact_at(&mut buf, placed[slot as usize].at).map_err(io)?;
        out.write_all(&buf).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(placed.len() as u64)
}

/// Encodes each feature into `spill`, in arrival order; answers where each went and the end.
fn write_features<'a>(
    spill: &File,
    layer: &FileLayer,
    features: impl Iterator<Item = FileFeature<'a>>,
) -> std::io::Result<(Vec<Placed>, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, spill);
    let mut fbb = FlatBufferBuilder::new();
    let (mut props, mut at, mut placed) = (Vec::new(), 0u64, Vec::new());
    for f in features {
        let geometry = as_declared(&f.geometry, layer.geometry);
        let bbox = geometry.bounding_rect().map_or([f64::NAN; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        props.clear();
        push_value(&mut props, 0, &Value::Int(f.id));
        for (i, v) in f.values.iter().enumerate() {
            push_value(&mut props, i + 1, v);
        }
        fbb.reset();
        let g = encode_geometry(&mut fbb, &geometry);
        let properties = Some(fbb.create_vector(&props));
        let feature =
            fgb::Feature::create(&mut fbb, &fgb::FeatureArgs { geometry: Some(g), properties, columns: None });
        fbb.finish_size_prefixed(feature, None);
        out.write_all(fbb.finished_data())?;
        placed.push(Placed { bbox, at });
        at += fbb.finished_data().len() as u64;
    }
    out.flush()?;
    Ok((placed, at))
}

/// A value as FlatGeobuf writes a property: its column's number, then the value (a null is left
/// out). Dates and instants are ISO 8601 text in a `DateTime` column, the only kind it has.
fn push_value(out: &mut Vec<u8>, column: usize, value: &Value) {
    let text = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    if matches!(value, Value::Null) {
        return;
    }
    out.extend_from_slice(&u16::try_from(column).unwrap_or(u16::MAX).to_le_bytes());
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::Float(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Text(s) => text(out, s),
        Value::Date(_) | Value::DateTime(_) => text(out, &value.to_string()),
    }
}

/// A geometry as FlatGeobuf's table: coordinates flat, ring and line ends by coordinate count
/// (left out for a polygon's one ring), polygons of a multipolygon and members of a collection
/// as parts.
fn encode_geometry<'b>(fbb: &mut FlatBufferBuilder<'b>, g: &Geometry) -> WIPOffset<fgb::Geometry<'b>> {
    let parts: Vec<_> = match g {
        Geometry::MultiPolygon(mp) => {
            mp.0.iter().map(|p| table(fbb, fgb::GeometryType::Polygon, &flat_polygon(p), None)).collect()
        }
        Geometry::GeometryCollection(c) => c.0.iter().map(|m| encode_geometry(fbb, m)).collect(),
        _ => return table(fbb, geometry_type_of(g), &flat(g), None),
    };
    let parts = fbb.create_vector(&parts);
    table(fbb, geometry_type_of(g), &(Vec::new(), Vec::new()), Some(parts))
}

type Parts<'b> = WIPOffset<flatbuffers::Vector<'b, flatbuffers::ForwardsUOffset<fgb::Geometry<'b>>>>;

fn table<'b>(
    fbb: &mut FlatBufferBuilder<'b>,
    ty: fgb::GeometryType,
    (xy, ends): &(Vec<f64>, Vec<u32>),
    parts: Option<Parts<'b>>,
) -> WIPOffset<fgb::Geometry<'b>> {
    let xy = (!xy.is_empty()).then(|| fbb.create_vector(xy));
    // GDAL reads a multilinestring's parts only from its ends, even when it has one.
    let ends = (ends.len() > 1 || ty == fgb::GeometryType::MultiLineString).then(|| fbb.create_vector(ends));
    fgb::Geometry::create(fbb, &fgb::GeometryArgs { ends, xy, type_: ty, parts, ..Default::default() })
}

/// The coordinates of a geometry without parts, flat, and where each ring or line ends.
fn flat(g: &Geometry) -> (Vec<f64>, Vec<u32>) {
    let mut flat = (Vec::new(), Vec::new());
    match g {
        Geometry::Point(p) => push_line(&mut flat, std::iter::once(p.0)),
        Geometry::Line(l) => push_line(&mut flat, [l.start, l.end].into_iter()),
        Geometry::LineString(l) => push_line(&mut flat, l.0.iter().copied()),
        Geometry::MultiPoint(m) => push_line(&mut flat, m.0.iter().map(|p| p.0)),
        Geometry::MultiLineString(m) => m.0.iter().for_each(|l| push_line(&mut flat, l.0.iter().copied())),
        Geometry::Polygon(p) => flat = flat_polygon(p),
        Geometry::Rect(r) => flat = flat_polygon(&r.to_polygon()),
        Geometry::Triangle(t) => flat = flat_polygon(&t.to_polygon()),
        Geometry::MultiPolygon(_) | Geometry::GeometryCollection(_) => {}
    }
    flat
}

fn flat_polygon(p: &geo_types::Polygon) -> (Vec<f64>, Vec<u32>) {
    let mut flat = (Vec::new(), Vec::new());
    std::iter::once(p.exterior()).chain(p.interiors()).for_each(|r| push_line(&mut flat, r.0.iter().copied()));
    flat
}

fn push_line((xy, ends): &mut (Vec<f64>, Vec<u32>), coords: impl Iterator<Item = Coord>) {
    for c in coords {
        xy.extend([c.x, c.y]);
    }
    ends.push(u32::try_from(xy.len() / 2).unwrap_or(u32::MAX));
}

fn geometry_type_of(g: &Geometry) -> fgb::GeometryType {
    use fgb::GeometryType as T;
    match g {
        Geometry::Point(_) => T::Point,
        Geometry::Line(_) | Geometry::LineString(_) => T::LineString,
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => T::Polygon,
        Geometry::MultiPoint(_) => T::MultiPoint,
        Geometry::MultiLineString(_) => T::MultiLineString,
        Geometry::MultiPolygon(_) => T::MultiPolygon,
        Geometry::GeometryCollection(_) => T::GeometryCollection,
    }
}

fn layer_geometry_type(t: GeometryType) -> fgb::GeometryType {
    use fgb::GeometryType as T;
    match t {
        GeometryType::Point => T::Point,
        GeometryType::LineString => T::LineString,
        GeometryType::Polygon => T::Polygon,
        GeometryType::MultiPoint => T::MultiPoint,
        GeometryType::MultiLineString => T::MultiLineString,
        GeometryType::MultiPolygon => T::MultiPolygon,
        GeometryType::Geometry => T::Unknown,
    }
}

fn column_type(kind: PropertyType) -> fgb::ColumnType {
    use fgb::ColumnType as C;
    match kind {
        PropertyType::Text => C::String,
        PropertyType::Integer => C::Long,
        PropertyType::Real => C::Double,
        PropertyType::Boolean => C::Bool,
        PropertyType::Date | PropertyType::Datetime => C::DateTime,
    }
}

/// The size-prefixed header: the layer's name, title and description, its licence and
/// attribution as JSON metadata, the CRS, the columns (the id first: FlatGeobuf has no feature
/// id) and the index's node size.
fn header(layer: &FileLayer, count: u64, extent: Option<[f64; 4]>) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let columns: Vec<_> = std::iter::once((layer.id_column, PropertyType::Integer))
        .chain(layer.fields.iter().copied())
        .map(|(name, kind)| {
            let name = Some(fbb.create_string(name));
            fgb::Column::create(&mut fbb, &fgb::ColumnArgs { name, type_: column_type(kind), ..Default::default() })
        })
        .collect();
    let columns = Some(fbb.create_vector(&columns));
    let metadata = serde_json::json!({ "license": layer.license, "attribution": layer.attribution }).to_string();
    let args = fgb::HeaderArgs {
        name: Some(fbb.create_string(layer.name)),
        envelope: extent.map(|e| fbb.create_vector(&e)),
        geometry_type: layer_geometry_type(layer.geometry),
        columns,
        features_count: count,
        index_node_size: if count == 0 { 0 } else { NODE_SIZE as u16 },
        crs: {
            let org = Some(fbb.create_string("EPSG"));
            Some(fgb::Crs::create(
                &mut fbb,
                &fgb::CrsArgs { org, code: i32::try_from(layer.epsg).unwrap_or(0), ..Default::default() },
            ))
        },
        title: Some(fbb.create_string(layer.title)),
        description: Some(fbb.create_string(layer.description)),
        metadata: Some(fbb.create_string(&metadata)),
        ..Default::default()
    };
    let header = fgb::Header::create(&mut fbb, &args);
    fbb.finish_size_prefixed(header, None);
    fbb.finished_data().to_vec()
}

/// The features' slots sorted along a Hilbert curve over the extent, so that the index's nodes
/// hold features near each other. Empty geometries go last.
fn hilbert_order(placed: &[Placed], extent: [f64; 4]) -> Vec<u32> {
    let (w, h) = (extent[2] - extent[0], extent[3] - extent[1]);
    let scale = |v: f64, lo: f64, span: f64| {
        // Truncation is the point: a cell of a 65 536 × 65 536 grid.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if span > 0.0 { ((v - lo) / span * 65_535.0) as u32 } else { 0 }
    };
    let mut keyed: Vec<(u32, u32)> = placed
        .iter()
        .enumerate()
        .map(|(slot, p)| {
            let key = if p.bbox[0].is_nan() {
                u32::MAX
            } else {
                let x = scale((p.bbox[0] + p.bbox[2]) / 2.0, extent[0], w);
                let y = scale((p.bbox[1] + p.bbox[3]) / 2.0, extent[1], h);
                hilbert(x, y)
            };
            (key, u32::try_from(slot).unwrap_or(u32::MAX))
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, slot)| slot).collect()
}

/// Position on the Hilbert curve of the cell `(x, y)` of a 65 536-cell-wide grid.
fn hilbert(mut x: u32, mut y: u32) -> u32 {
    const N: u32 = 1 << 16;
    let mut d: u32 = 0;
    let mut s = N / 2;
    while s > 0 {
        let (rx, ry) = (u32::from(x & s > 0), u32::from(y & s > 0));
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = N - 1 - x;
                y = N - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Writes the packed R-tree: the upper levels from the root down (each node's box and the
/// position of its first child in the tree), then a leaf per feature (its box and where it
/// starts among the features), in `order`.
fn write_index(
    out: &mut impl Write,
    placed: &[Placed],
    order: &[u32],
    size: &dyn Fn(usize) -> u64,
) -> std::io::Result<()> {
    if order.is_empty() {
        return Ok(());
    }
    let leaves = order.len();
    let leaf = |i: usize| placed[order[i] as usize].bbox;
    let parents_of = |count: usize, child: &dyn Fn(usize) -> [f64; 4]| -> Vec<[f64; 4]> {
        (0..count.div_ceil(NODE_SIZE))
            .map(|j| (j * NODE_SIZE..((j + 1) * NODE_SIZE).min(count)).map(child).reduce(union).unwrap_or_default())
            .collect()
    };
    // Only the upper levels are kept (a sixteenth of the leaves and less); the leaves' boxes
    // are read from `placed` when they are written. Even one leaf has a root above it.
    let mut levels = vec![parents_of(leaves, &leaf)];
    while let Some(top) = levels.last().filter(|l| l.len() > 1) {
        let next = parents_of(top.len(), &|i| top[i]);
        levels.push(next);
    }
    let counts: Vec<usize> = std::iter::once(leaves).chain(levels.iter().map(Vec::len)).collect();
    let total: usize = counts.iter().sum();
    // Where each level starts in the tree: the root at 0, the leaves last.
    let mut starts = vec![0; counts.len()];
    let mut next = 0;
    for level in (0..counts.len()).rev() {
        starts[level] = next;
        next += counts[level];
    }
    debug_assert_eq!(next, total);
    let node = |out: &mut dyn Write, b: [f64; 4], offset: u64| -> std::io::Result<()> {
        for v in b {
            out.write_all(&v.to_le_bytes())?;
        }
        out.write_all(&offset.to_le_bytes())
    };
    for (level, parents) in levels.iter().enumerate().rev() {
        for (j, &b) in parents.iter().enumerate() {
            node(out, b, (starts[level] + j * NODE_SIZE) as u64)?;
        }
    }
    let mut offset = 0;
    for &slot in order {
        node(out, placed[slot as usize].bbox, offset)?;
        offset += size(slot as usize);
    }
    Ok(())
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hilbert_curve_visits_each_cell_of_a_small_grid_once_and_neighbours_in_turn() {
        // The curve over the grid's 4 × 4 corner cells at the finest level: every step of
        // positions 0..16 moves to an adjacent cell.
        let mut cells: Vec<(u32, u32, u32)> = (0..4).flat_map(|x| (0..4).map(move |y| (hilbert(x, y), x, y))).collect();
        cells.sort_unstable();
        assert_eq!(cells.iter().map(|c| c.0).collect::<Vec<_>>(), (0..16).collect::<Vec<_>>());
        for w in cells.windows(2) {
            assert_eq!(w[0].1.abs_diff(w[1].1) + w[0].2.abs_diff(w[1].2), 1, "{w:?}");
        }
    }

    /// A line from the origin to a point given with 17 significant digits, the shortest text
    /// that reads back to that double.
    fn grid_line() -> Geometry {
        use geo_types::{LineString, MultiLineString};
        let line = LineString::from(vec![(0.0, 0.0), (105.346_994_999_999_99, 10.0)]);
        Geometry::MultiLineString(MultiLineString(vec![line]))
    }

    /// A layer of `n` × `n` points on a grid (ids in a shuffled order, so the file's order is
    /// not the id order) and one long line across them, written to a file.
    fn grid_file(dir: &Path, n: i32) -> std::path::PathBuf {
        use geo_types::point;
        let path = dir.join("grid.fgb");
        let layer = FileLayer {
            name: "grid",
            title: "Lưới",
            description: "",
            license: Some("CC-BY-4.0"),
            attribution: "",
            geometry: GeometryType::Geometry,
            epsg: 4326,
            id_column: "id",
            fields: vec![("name", PropertyType::Text)],
        };
        // 17 significant digits: the shortest text that reads back to this double.
        let line = grid_line();
        let mut geometries: Vec<(i64, Geometry)> = (0..n * n)
            .map(|i| {
                (
                    i64::from((i * 7919) % (n * n)),
                    Geometry::Point(point! { x: f64::from(i % n) * 0.1, y: f64::from(i / n) * 0.1 }),
                )
            })
            .collect();
        geometries.push((-1, line));
        let names: Vec<Value> = geometries.iter().map(|(id, _)| Value::Text(format!("điểm {id}").into())).collect();
        let features = geometries.iter().zip(&names).map(|((id, g), name)| FileFeature {
            id: *id,
            geometry: std::borrow::Cow::Borrowed(g),
            values: vec![name],
        });
        assert_eq!(write(&path, &layer, features).expect("written"), u64::try_from(n * n + 1).expect("small"));
        path
    }

    #[test]
    fn another_reader_finds_through_the_index_exactly_the_features_in_a_box() {
        use fgb::FallibleStreamingIterator;
        use geozero::FeatureProperties;
        let dir = tempfile::tempdir().expect("a folder");
        let path = grid_file(dir.path(), 60);
        let open =
            || fgb::FgbReader::open(std::io::BufReader::new(File::open(&path).expect("open"))).expect("a FlatGeobuf");
        let reader = open();
        let header = reader.header();
        assert_eq!((header.features_count(), header.index_node_size()), (3601, 16));
        assert_eq!(header.title(), Some("Lưới"));
        assert!(header.metadata().is_some_and(|m| m.contains("CC-BY-4.0")));
        let ids = |mut found: fgb::FeatureIter<std::io::BufReader<File>, fgb::Seekable>| {
            let mut ids = Vec::new();
            while let Some(f) = found.next().expect("a feature") {
                let f: &fgb::FgbFeature = f;
                ids.push(f.property::<i64>("id").expect("an id"));
            }
            ids.sort_unstable();
            ids
        };
        // Points with x in 1.0..=2.0 and y in 3.0..=3.5 (grid cells 10..=20 by 30..=35), and
        // the line, whose box covers them all.
        let mut want: Vec<i64> = (0..3600)
            .filter(|i| (10..=20).contains(&(i % 60)) && (30..=35).contains(&(i / 60)))
            .map(|i| i64::from((i * 7919) % 3600))
            .chain([-1])
            .collect();
        want.sort_unstable();
        assert_eq!(ids(open().select_bbox(0.95, 2.95, 2.05, 3.55).expect("searched")), want);
        assert_eq!(ids(open().select_all().expect("read")).len(), 3601);
        let mut line = open().select_bbox(100.0, 9.0, 110.0, 11.0).expect("searched");
        let read = line.next().expect("read").map(|f| geozero::ToGeo::to_geo(f).expect("a geometry"));
        assert_eq!(read, Some(grid_line()));
        // Each point alone, in a box just around it: every node above it must cover it.
        for i in (0..3600).step_by(7) {
            let (x, y) = (f64::from(i % 60) * 0.1, f64::from(i / 60) * 0.1);
            let found = ids(open().select_bbox(x - 0.01, y - 0.01, x + 0.01, y + 0.01).expect("searched"));
            assert!(found.contains(&i64::from((i * 7919) % 3600)), "point {i}: {found:?}");
        }
    }

    #[test]
    fn a_value_is_its_column_then_its_bytes_and_a_null_is_left_out() {
        let mut out = Vec::new();
        push_value(&mut out, 3, &Value::Null);
        assert!(out.is_empty());
        push_value(&mut out, 2, &Value::Text("Hội An".into()));
        assert_eq!(out[..2], [2, 0]);
        assert_eq!(out[2..6], [8, 0, 0, 0]);
        assert_eq!(&out[6..], "Hội An".as_bytes());
    }
}
