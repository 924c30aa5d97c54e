//! The GeoParquet download (GeoParquet 1.1): features written column by column in row groups,
//! geometry as WKB, with the `geo` metadata (encoding, geometry types, CRS as PROJJSON, bbox)
//! and the layer's title, licence and attribution as file metadata. Written with the `parquet`
//! crate's column writers: Debian's GDAL has no Parquet driver, and the Arrow layer would add a
//! second data model to build for nothing. A row group is held in memory, the file is not.

use std::{fs::File, path::Path, sync::Arc};

use chrono::{Datelike, NaiveDate};
use geo::BoundingRect;
use geo_types::Geometry;
use geozero::{CoordDimensions, ToWkb};
use parquet::{
    basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical},
    data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type},
    file::{metadata::KeyValue, properties::WriterProperties, writer::SerializedFileWriter},
    schema::types::Type,
};
use serde_json::{Value as Json, json};

use crate::{
    Error, PropertyType, Result, Value,
    export::{FileFeature, FileLayer},
};

/// Rows per row group: small enough to hold in memory, large enough for readers to skip by.
const ROWS_PER_GROUP: usize = 65_536;
/// The geometry column's name.
const GEOMETRY: &str = "geometry";

/// Writes `features` as a new GeoParquet file at `path`; answers how many were written.
pub fn write<'a>(path: &Path, layer: &FileLayer, features: impl Iterator<Item = FileFeature<'a>>) -> Result<u64> {
    let fail = |e: parquet::errors::ParquetError| Error::Export(format!("writing GeoParquet: {e}"));
    let io = |e: std::io::Error| Error::Export(format!("writing GeoParquet: {e}"));
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(file_metadata(layer)))
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        SerializedFileWriter::new(File::create(path).map_err(io)?, schema(layer).map_err(fail)?, Arc::new(properties))
            .map_err(fail)?;
    let mut group = Group::new(layer);
    let mut seen = Seen::default();
    let mut written = 0;
    for feature in features {
        seen.add(&feature.geometry);
        group.push(&feature)?;
        written += 1;
        if group.ids.len() == ROWS_PER_GROUP {
            group.write(&mut writer).map_err(fail)?;
        }
    }
    if !group.ids.is_empty() || written == 0 {
        group.write(&mut writer).map_err(fail)?;
    }
    writer.append_key_value_metadata(KeyValue::new("geo".into(), seen.geo(layer)?.to_string()));
    writer.close().map_err(fail)?;
    Ok(written)
}

/// The columns: the id, the geometry, then each property in its Parquet type.
fn schema(layer: &FileLayer) -> parquet::errors::Result<Arc<Type>> {
    let column = |name: &str, physical, logical, repetition| {
        Type::primitive_type_builder(name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()
            .map(Arc::new)
    };
    let mut fields = vec![
        column(layer.id_column, Physical::INT64, None, Repetition::REQUIRED)?,
        column(GEOMETRY, Physical::BYTE_ARRAY, None, Repetition::REQUIRED)?,
    ];
    for (name, kind) in &layer.fields {
        let (physical, logical) = match kind {
            PropertyType::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            PropertyType::Integer => (Physical::INT64, None),
            PropertyType::Real => (Physical::DOUBLE, None),
            PropertyType::Boolean => (Physical::BOOLEAN, None),
            PropertyType::Date => (Physical::INT32, Some(LogicalType::Date)),
            PropertyType::Datetime => (Physical::INT64, Some(LogicalType::timestamp(true, TimeUnit::MICROS))),
        };
        fields.push(column(name, physical, logical, Repetition::OPTIONAL)?);
    }
    Type::group_type_builder("schema").with_fields(fields).build().map(Arc::new)
}

/// What travels with the data, as the file's key-value metadata.
fn file_metadata(layer: &FileLayer) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new("title".into(), layer.title.to_owned()),
        KeyValue::new("description".into(), layer.description.to_owned()),
        KeyValue::new("attribution".into(), layer.attribution.to_owned()),
    ];
    if let Some(license) = layer.license {
        out.push(KeyValue::new("license".into(), license.to_owned()));
    }
    out
}

/// One property column of a row group: the values present and, per row, whether it has one.
enum Column {
    Text(Vec<ByteArray>, Vec<i16>),
    Int(Vec<i64>, Vec<i16>),
    Real(Vec<f64>, Vec<i16>),
    Bool(Vec<bool>, Vec<i16>),
    Date(Vec<i32>, Vec<i16>),
    Instant(Vec<i64>, Vec<i16>),
}

/// The rows of the row group being gathered.
struct Group {
    ids: Vec<i64>,
    geometries: Vec<ByteArray>,
    columns: Vec<Column>,
}

impl Group {
    fn new(layer: &FileLayer) -> Self {
        let columns = layer
            .fields
            .iter()
            .map(|(_, kind)| match kind {
                PropertyType::Text => Column::Text(Vec::new(), Vec::new()),
                PropertyType::Integer => Column::Int(Vec::new(), Vec::new()),
                PropertyType::Real => Column::Real(Vec::new(), Vec::new()),
                PropertyType::Boolean => Column::Bool(Vec::new(), Vec::new()),
                PropertyType::Date => Column::Date(Vec::new(), Vec::new()),
                PropertyType::Datetime => Column::Instant(Vec::new(), Vec::new()),
            })
            .collect();
        Self { ids: Vec::new(), geometries: Vec::new(), columns }
    }

    fn push(&mut self, feature: &FileFeature) -> Result<()> {
        let wkb = feature
            .geometry
            .to_wkb(CoordDimensions::xy())
            .map_err(|e| Error::Export(format!("feature {}: its geometry as WKB: {e}", feature.id)))?;
        self.ids.push(feature.id);
        self.geometries.push(wkb.into());
        for (column, value) in self.columns.iter_mut().zip(&feature.values) {
            let present = column.push(value);
            if !present && !matches!(value, Value::Null) {
                return Err(Error::Export(format!("feature {}: {value:?} does not fit its column's type", feature.id)));
            }
        }
        Ok(())
    }

    /// Writes the gathered rows as one row group and empties it.
    fn write(&mut self, writer: &mut SerializedFileWriter<File>) -> parquet::errors::Result<()> {
        let mut group = writer.next_row_group()?;
        let missing = || parquet::errors::ParquetError::General("the schema has fewer columns than the rows".into());
        let mut id = group.next_column()?.ok_or_else(missing)?;
        id.typed::<Int64Type>().write_batch(&self.ids, None, None)?;
        id.close()?;
        let mut geometry = group.next_column()?.ok_or_else(missing)?;
        geometry.typed::<ByteArrayType>().write_batch(&self.geometries, None, None)?;
        geometry.close()?;
        for column in &self.columns {
            let mut w = group.next_column()?.ok_or_else(missing)?;
            match column {
                Column::Text(v, d) => w.typed::<ByteArrayType>().write_batch(v, Some(d), None)?,
                Column::Int(v, d) | Column::Instant(v, d) => w.typed::<Int64Type>().write_batch(v, Some(d), None)?,
                Column::Real(v, d) => w.typed::<DoubleType>().write_batch(v, Some(d), None)?,
                Column::Bool(v, d) => w.typed::<BoolType>().write_batch(v, Some(d), None)?,
                Column::Date(v, d) => w.typed::<Int32Type>().write_batch(v, Some(d), None)?,
            };
            w.close()?;
        }
        group.close()?;
        let layer_columns = std::mem::take(&mut self.columns);
        self.columns = layer_columns.into_iter().map(Column::emptied).collect();
        self.ids.clear();
        self.geometries.clear();
        Ok(())
    }
}

impl Column {
    /// Adds a row; false (and a null) when the value is null or not of the column's type.
    fn push(&mut self, value: &Value) -> bool {
        match (&mut *self, value) {
            (Self::Text(v, _), Value::Text(s)) => v.push(ByteArray::from(s.as_bytes())),
            (Self::Int(v, _), Value::Int(n)) => v.push(*n),
            (Self::Real(v, _), Value::Float(x)) => v.push(*x),
            (Self::Real(v, _), Value::Int(n)) => v.push(*n as f64),
            (Self::Bool(v, _), Value::Bool(b)) => v.push(*b),
            (Self::Date(v, _), Value::Date(day)) => v.push(days_since_epoch(*day)),
            (Self::Instant(v, _), Value::DateTime(t)) => v.push(t.timestamp_micros()),
            _ => {
                self.definitions().push(0);
                return false;
            }
        }
        self.definitions().push(1);
        true
    }

    fn definitions(&mut self) -> &mut Vec<i16> {
        match self {
            Self::Text(_, d)
            | Self::Int(_, d)
            | Self::Real(_, d)
            | Self::Bool(_, d)
            | Self::Date(_, d)
            | Self::Instant(_, d) => d,
        }
    }

    fn emptied(self) -> Self {
        match self {
            Self::Text(..) => Self::Text(Vec::new(), Vec::new()),
            Self::Int(..) => Self::Int(Vec::new(), Vec::new()),
            Self::Real(..) => Self::Real(Vec::new(), Vec::new()),
            Self::Bool(..) => Self::Bool(Vec::new(), Vec::new()),
            Self::Date(..) => Self::Date(Vec::new(), Vec::new()),
            Self::Instant(..) => Self::Instant(Vec::new(), Vec::new()),
        }
    }
}

fn days_since_epoch(day: NaiveDate) -> i32 {
    day.num_days_from_ce() - NaiveDate::from_ymd_opt(1970, 1, 1).map_or(719_163, |e| e.num_days_from_ce())
}

/// The geometry types and the extent of what was written, for the `geo` metadata.
#[derive(Default)]
struct Seen {
    types: std::collections::BTreeSet<&'static str>,
    bbox: Option<geo_types::Rect>,
}

impl Seen {
    fn add(&mut self, geometry: &Geometry) {
        self.types.insert(match geometry {
            Geometry::Point(_) => "Point",
            Geometry::Line(_) | Geometry::LineString(_) => "LineString",
            Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
            Geometry::MultiPoint(_) => "MultiPoint",
            Geometry::MultiLineString(_) => "MultiLineString",
            Geometry::MultiPolygon(_) => "MultiPolygon",
            Geometry::GeometryCollection(_) => "GeometryCollection",
        });
        if let Some(r) = geometry.bounding_rect() {
            self.bbox = Some(match self.bbox {
                None => r,
                Some(b) => geo_types::Rect::new(
                    (b.min().x.min(r.min().x), b.min().y.min(r.min().y)),
                    (b.max().x.max(r.max().x), b.max().y.max(r.max().y)),
                ),
            });
        }
    }

    /// The `geo` metadata of GeoParquet 1.1. CRS84 is the default CRS and goes unsaid; any
    /// other is written as PROJJSON, as the specification asks.
    fn geo(&self, layer: &FileLayer) -> Result<Json> {
        let mut column = json!({ "encoding": "WKB", "geometry_types": self.types });
        if let Some(b) = self.bbox {
            column["bbox"] = json!([b.min().x, b.min().y, b.max().x, b.max().y]);
        }
        if layer.epsg != 4326 {
            let projjson = gdal::spatial_ref::SpatialRef::from_epsg(layer.epsg)
                .and_then(|srs| srs.to_projjson())
                .map_err(|e| Error::Export(format!("EPSG:{} as PROJJSON: {e}", layer.epsg)))?;
            column["crs"] = serde_json::from_str(&projjson)
                .map_err(|e| Error::Export(format!("EPSG:{} as PROJJSON: {e}", layer.epsg)))?;
        }
        Ok(json!({ "version": "1.1.0", "primary_column": GEOMETRY, "columns": { GEOMETRY: column } }))
    }
}
