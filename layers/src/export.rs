//! Features written to a GeoPackage through GDAL, for downloads: SQLite pages that readers
//! seek in, so the file is written whole and sent afterwards. The layer and feature types here
//! are also what the FlatGeobuf and GeoParquet writers take.

use std::{borrow::Cow, ffi::CString, path::Path};

use chrono::{Datelike, Timelike};
use gdal::{
    DriverManager, Metadata,
    spatial_ref::{AxisMappingStrategy, SpatialRef},
    vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal},
};
use geo_types::Geometry;

use crate::{Error, GeometryType, PropertyType, Result, Value};

/// The layer a file holds: its name, columns, coordinates' CRS, and what travels with the data.
pub struct FileLayer<'a> {
    /// The layer's (table's) name in the file.
    pub name: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its description.
    pub description: &'a str,
    /// The licence of the data.
    pub license: Option<&'a str>,
    /// Whom the data is to be credited to.
    pub attribution: &'a str,
    /// The geometry type of every feature.
    pub geometry: GeometryType,
    /// The EPSG code of the coordinates (4326: longitude first, as GIS files store it).
    pub epsg: u32,
    /// The name of the feature id's column.
    pub id_column: &'a str,
    /// The property columns, in order.
    pub fields: Vec<(&'a str, PropertyType)>,
}

/// One feature to write: its id, its geometry, and a value for each of the layer's fields.
pub struct FileFeature<'a> {
    /// The feature id.
    pub id: i64,
    /// The geometry, in the layer's CRS.
    pub geometry: Cow<'a, Geometry>,
    /// The values, in the order of [`FileLayer::fields`].
    pub values: Vec<&'a Value>,
}

/// Writes `features` as the one layer of a new GeoPackage at `path`; answers how many were
/// written.
pub fn write_geopackage<'a>(
    path: &Path,
    layer: &FileLayer,
    features: impl Iterator<Item = FileFeature<'a>>,
) -> Result<u64> {
    let gdal = |source| Error::Gdal { path: path.to_path_buf(), source };
    let driver = DriverManager::get_driver_by_name("GPKG").map_err(gdal)?;
    let mut dataset = driver.create_vector_only(path).map_err(gdal)?;
    let mut srs = SpatialRef::from_epsg(layer.epsg).map_err(gdal)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let fid = format!("FID={}", layer.id_column);
    let identifier = format!("IDENTIFIER={}", layer.title);
    let description = format!("DESCRIPTION={}", layer.description);
    let gpkg_options = [fid.as_str(), identifier.as_str(), description.as_str()];
    let options = LayerOptions {
        name: layer.name,
        srs: Some(&srs),
        ty: wkb_type(layer.geometry),
        options: Some(&gpkg_options[..]),
    };
    // A GeoPackage written without a transaction commits every row: a hundred times slower.
    let mut transaction = dataset.start_transaction().map_err(gdal)?;
    let written = {
        let mut out = transaction.create_layer(options).map_err(gdal)?;
        fill(&mut out, layer, features).map_err(gdal)?
    };
    transaction.commit().map_err(gdal)?;
    dataset.close().map_err(gdal)?;
    Ok(written)
}

/// Declares the columns and metadata of `out`, then writes the features into it, each with its
/// id as the row's FID.
fn fill<'a>(
    out: &mut gdal::vector::Layer,
    layer: &FileLayer,
    features: impl Iterator<Item = FileFeature<'a>>,
) -> gdal::errors::Result<u64> {
    for &(name, kind) in &layer.fields {
        add_field(out, name, kind)?;
    }
    out.set_metadata_item("TITLE", layer.title, "")?;
    out.set_metadata_item("ATTRIBUTION", layer.attribution, "")?;
    if let Some(license) = layer.license {
        out.set_metadata_item("LICENSE", license, "")?;
    }
    let defn = gdal::vector::Defn::from_layer(out);
    let mut written = 0;
    for f in features {
        let mut feature = Feature::new(&defn)?;
        set_fid(&feature, f.id);
        feature.set_geometry(as_declared(&f.geometry, layer.geometry).to_gdal()?)?;
        for (i, value) in f.values.into_iter().enumerate() {
            set_value(&mut feature, i, value)?;
        }
        feature.create(&*out)?;
        written += 1;
    }
    Ok(written)
}

/// A single part as the one part of a Multi* when the layer declares Multi*: GDAL refuses
/// a geometry of another type than its layer's (files can hold both kinds under one declared
/// type, as a Shapefile does).
pub(crate) fn as_declared(g: &Geometry, declared: GeometryType) -> Cow<'_, Geometry> {
    use geo_types::{MultiLineString, MultiPoint, MultiPolygon};
    match (g, declared) {
        (Geometry::Point(p), GeometryType::MultiPoint) => Cow::Owned(MultiPoint(vec![*p]).into()),
        (Geometry::LineString(l), GeometryType::MultiLineString) => Cow::Owned(MultiLineString(vec![l.clone()]).into()),
        (Geometry::Polygon(p), GeometryType::MultiPolygon) => Cow::Owned(MultiPolygon(vec![p.clone()]).into()),
        _ => Cow::Borrowed(g),
    }
}

fn wkb_type(t: GeometryType) -> OGRwkbGeometryType::Type {
    use OGRwkbGeometryType as W;
    match t {
        GeometryType::Point => W::wkbPoint,
        GeometryType::LineString => W::wkbLineString,
        GeometryType::Polygon => W::wkbPolygon,
        GeometryType::MultiPoint => W::wkbMultiPoint,
        GeometryType::MultiLineString => W::wkbMultiLineString,
        GeometryType::MultiPolygon => W::wkbMultiPolygon,
        GeometryType::Geometry => W::wkbUnknown,
    }
}

fn set_value(feature: &mut Feature, i: usize, value: &Value) -> gdal::errors::Result<()> {
    match value {
        Value::Null => feature.set_field_null(i),
        Value::Bool(b) => feature.set_field_integer(i, i32::from(*b)),
        Value::Int(n) => feature.set_field_integer64(i, *n),
        Value::Float(x) => feature.set_field_double(i, *x),
        Value::Text(s) => feature.set_field_string(i, s),
        Value::Date(d) => feature.set_field(i, &gdal::vector::FieldValue::DateValue(*d)),
        Value::DateTime(t) => {
            set_datetime(feature, i, t);
            Ok(())
        }
    }
}

/// Adds a column; booleans get GDAL's Boolean subtype, which GeoPackage and FlatGeobuf keep as
/// booleans. The gdal crate exposes neither subtypes nor a field handle, so the C API is used.
#[allow(unsafe_code)]
fn add_field(out: &gdal::vector::Layer, name: &str, kind: PropertyType) -> gdal::errors::Result<()> {
    let ty = match kind {
        PropertyType::Text => OGRFieldType::OFTString,
        PropertyType::Integer => OGRFieldType::OFTInteger64,
        PropertyType::Real => OGRFieldType::OFTReal,
        PropertyType::Boolean => OGRFieldType::OFTInteger,
        PropertyType::Date => OGRFieldType::OFTDate,
        PropertyType::Datetime => OGRFieldType::OFTDateTime,
    };
    let name = CString::new(name)?;
    // SAFETY: the field definition is created, used while alive and destroyed here; GDAL copies
    // it into the layer's definition, and `out`'s handle is valid while `out` is borrowed.
    let rv = unsafe {
        let field = gdal_sys::OGR_Fld_Create(name.as_ptr(), ty);
        if kind == PropertyType::Boolean {
            gdal_sys::OGR_Fld_SetSubType(field, gdal_sys::OGRFieldSubType::OFSTBoolean);
        }
        let rv = gdal_sys::OGR_L_CreateField(out.c_layer(), field, 1);
        gdal_sys::OGR_Fld_Destroy(field);
        rv
    };
    if rv == gdal_sys::OGRErr::OGRERR_NONE {
        Ok(())
    } else {
        Err(gdal::errors::GdalError::OgrError { err: rv, method_name: "OGR_L_CreateField" })
    }
}

/// Sets the feature's id (the gdal crate has no setter).
#[allow(unsafe_code)]
fn set_fid(feature: &Feature, id: i64) {
    // SAFETY: the handle belongs to `feature`, alive for the call.
    unsafe { gdal_sys::OGR_F_SetFID(feature.c_feature(), id) };
}

/// Sets a datetime with its fraction of a second, in UTC (the gdal crate's setter drops the
/// fraction).
#[allow(unsafe_code)]
fn set_datetime(feature: &Feature, i: usize, t: &chrono::DateTime<chrono::Utc>) {
    let Ok(i) = std::ffi::c_int::try_from(i) else { return };
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    // To the millisecond, as GeoPackage keeps it: a fraction rounded up in f32 would make 60 s.
    let seconds = t.second() as f32 + (t.nanosecond() / 1_000_000) as f32 / 1000.0;
    #[allow(clippy::cast_possible_wrap)]
    let (month, day, hour, minute) = (t.month() as i32, t.day() as i32, t.hour() as i32, t.minute() as i32);
    // SAFETY: the handle belongs to `feature`, alive for the call; GDAL checks the index.
    // The time zone flag 100 is UTC.
    unsafe {
        gdal_sys::OGR_F_SetFieldDateTimeEx(feature.c_feature(), i, t.year(), month, day, hour, minute, seconds, 100)
    };
}
