//! Reading vector files through GDAL: Shapefile (with `.prj`/`.cpg`), GeoPackage, GeoJSON, KML
//! and CSV with lon/lat columns. Shared by the importer and the file-backed store.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use gdal::{
    Dataset, DatasetOptions, GdalOpenFlags,
    vector::{FieldValue, LayerAccess, OGRFieldType, OGRwkbGeometryType},
};

use crate::{
    Error, GeometryType, PropertyType, Result, Value, crs,
    legacy_text::{FieldText, FieldVerdict, TextDetector, TextEncodingChoice},
};

/// The drivers Bando reads; others are refused, so that a stray raster or a database connection
/// string is not "imported" by accident.
const DRIVERS: [&str; 6] = ["ESRI Shapefile", "GPKG", "GeoJSON", "GeoJSONSeq", "KML", "LIBKML"];

/// Column names the CSV reader takes as longitude and latitude.
const CSV_OPTIONS: [&str; 4] = [
    "X_POSSIBLE_NAMES=lon,lng,long,longitude,x",
    "Y_POSSIBLE_NAMES=lat,latitude,y",
    "KEEP_GEOM_COLUMNS=NO",
    "AUTODETECT_TYPE=YES",
];

/// A field of the source as GDAL reports it.
#[derive(Clone, Debug)]
pub struct SourceField {
    /// Name as in the file.
    pub name: String,
    /// The property type it maps to.
    pub kind: PropertyType,
}

/// An opened vector file: one of its layers, its format and its CRS.
pub struct Source {
    dataset: Dataset,
    path: PathBuf,
    /// Position of the layer read among the file's layers.
    layer: usize,
    /// GDAL driver short name, e.g. `ESRI Shapefile`.
    pub format: String,
    /// EPSG code of the coordinates.
    pub srid: i32,
    /// The attribute fields.
    pub fields: Vec<SourceField>,
    /// The geometry type a new layer made from this source gets.
    pub geometry_type: GeometryType,
    /// Which fields GDAL reads as strings: their raw bytes are decoded per [`Source::text`].
    string_fields: Vec<bool>,
    /// How each field's text is read (all as written unless [`Source::read_text_as`] says).
    text: Vec<FieldText>,
    /// Values converted so far, per field.
    converted: Vec<std::cell::Cell<u64>>,
}

impl Source {
    /// Opens the layer `layer` of `path` (which may be left out when the file holds one layer).
    /// `src_srid` overrides the CRS the file declares. Files without a CRS are taken as lon/lat
    /// when their format says so (GeoJSON, KML, CSV); others are an error.
    pub fn open(path: &Path, layer: Option<&str>, src_srid: Option<i32>) -> Result<Self> {
        route_gdal_messages();
        // GDAL's virtual file systems (`/vsizip/…`, an uploaded Shapefile's archive) are not on disk.
        if !path.to_string_lossy().starts_with("/vsi") && !path.exists() {
            return Err(Error::MissingFile { path: path.into() });
        }
        let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let options = DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            allowed_drivers: Some(if is_csv { &["CSV"] } else { &DRIVERS }),
            open_options: is_csv.then_some(&CSV_OPTIONS[..]),
            sibling_files: None,
        };
        let dataset = Dataset::open_ex(path, options).map_err(|e| Error::UnreadableSource {
            path: path.into(),
            reason: format!(
                "not a readable Shapefile, GeoPackage, GeoJSON, KML or CSV file ({})",
                e.to_string().trim()
            ),
        })?;
        let format = dataset.driver().short_name();
        let index = choose_layer(&dataset, path, layer)?;
        let layer = dataset.layer(index).map_err(|e| Error::Gdal { path: path.into(), source: e })?;
        if layer.defn().geom_fields().count() == 0 {
            return Err(Error::NoGeometry { path: path.into() });
        }
        let fields: Vec<SourceField> = layer
            .defn()
            .fields()
            .enumerate()
            .map(|(i, f)| SourceField {
                name: f.name(),
                kind: ogr_property_type(f.field_type(), is_boolean(&layer, i)),
            })
            .collect();
        let string_fields = layer.defn().fields().map(|f| f.field_type() == OGRFieldType::OFTString).collect();
        let text = vec![FieldText::AsWritten; fields.len()];
        let converted = vec![std::cell::Cell::new(0); fields.len()];
        let srid = match (src_srid, layer.spatial_ref()) {
            (Some(srid), _) => srid,
            (None, Some(sr)) => crs::epsg_code(&sr).ok_or_else(|| Error::UnknownCrs {
                path: path.into(),
                reason: format!(
                    "the CRS {:?} has no EPSG code; pass --src-crs EPSG:<code>",
                    sr.name().unwrap_or_default()
                ),
            })?,
            (None, None) if matches!(format.as_str(), "GeoJSON" | "GeoJSONSeq" | "KML" | "LIBKML" | "CSV") => 4326,
            (None, None) => {
                return Err(Error::UnknownCrs {
                    path: path.into(),
                    reason: "the file declares no CRS (a Shapefile needs its .prj); pass --src-crs EPSG:<code>".into(),
                });
            }
        };
        let geometry_type = layer_geometry_type(layer.defn().geom_fields().next().map(|g| g.field_type()));
        Ok(Self {
            dataset,
            path: path.into(),
            layer: index,
            format,
            srid,
            fields,
            geometry_type,
            string_fields,
            text,
            converted,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of features, when the driver knows it without a scan.
    pub fn feature_count(&self) -> Option<u64> {
        self.dataset.layer(self.layer).ok().and_then(|l| l.try_feature_count())
    }

    /// Calls `f` with each feature's 1-based row number, its geometry (if any) and its field
    /// values in the order of [`Source::fields`]. Stops at the first error `f` returns.
    pub fn for_each(
        &self,
        mut f: impl FnMut(u64, Option<&gdal::vector::Geometry>, Vec<Option<FieldValue>>) -> Result<()>,
    ) -> Result<()> {
        let mut layer = self.dataset.layer(self.layer).map_err(|e| self.gdal_error(e))?;
        let n = self.fields.len();
        for (i, feature) in layer.features().enumerate() {
            let values = (0..n).map(|k| self.value(&feature, k)).collect();
            f(i as u64 + 1, feature.geometry().filter(|g| is_present(g)), values)?;
        }
        Ok(())
    }

    /// Field `k` of `feature`; strings from their raw bytes, read as [`Source::text`] says (the
    /// gdal crate would replace bytes that are not UTF-8 before anything could recognise them).
    fn value(&self, feature: &gdal::vector::Feature<'_>, k: usize) -> Option<FieldValue> {
        if self.string_fields[k] {
            let (text, converted) = self.text[k].read(raw_string(feature, k)?);
            if converted {
                self.converted[k].set(self.converted[k].get() + 1);
            }
            return Some(FieldValue::StringValue(text.into_owned()));
        }
        feature.field(k).ok().flatten()
    }

    /// Reads each field's text as `text` says, in the order of [`Source::fields`].
    pub fn read_text_as(&mut self, text: Vec<FieldText>) {
        if text.len() == self.fields.len() {
            self.text = text;
        }
    }

    /// Values [`Source::for_each`] has converted from a legacy encoding, per field.
    pub fn converted(&self) -> Vec<u64> {
        self.converted.iter().map(std::cell::Cell::get).collect()
    }

    /// Recognises the encoding of each string field from all its values (geometries are not
    /// read for this pass). `None` for fields that are not strings.
    pub fn detect_text(&self, choice: TextEncodingChoice) -> Result<Vec<Option<FieldVerdict>>> {
        let strings: Vec<usize> = (0..self.fields.len()).filter(|&k| self.string_fields[k]).collect();
        let mut detectors: Vec<TextDetector> = strings.iter().map(|_| TextDetector::default()).collect();
        if !strings.is_empty() {
            let mut layer = self.dataset.layer(self.layer).map_err(|e| self.gdal_error(e))?;
            let _geometry_skipped = IgnoreGeometry::on(&layer);
            for feature in layer.features() {
                for (d, &k) in detectors.iter_mut().zip(&strings) {
                    if let Some(raw) = raw_string(&feature, k) {
                        d.add(raw);
                    }
                }
            }
        }
        let mut verdicts = vec![None; self.fields.len()];
        for (d, k) in detectors.into_iter().zip(strings) {
            verdicts[k] = Some(d.verdict(choice));
        }
        Ok(verdicts)
    }

    fn gdal_error(&self, source: gdal::errors::GdalError) -> Error {
        Error::Gdal { path: self.path.clone(), source }
    }
}

/// The position of the layer to read: the one named, or the only one. A file with several
/// layers and none named is refused rather than cut to its first layer.
/// One layer of a file as an import would read it: what an operator chooses among.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLayer {
    /// Its name in the file.
    pub name: String,
    /// Its features, when the driver knows without a scan.
    pub features: Option<u64>,
    /// The EPSG code its coordinates are read in; `None` where the file declares no CRS with one.
    pub srid: Option<i32>,
}

/// The layers of `path` that have geometries, each as [`Source::open`] would read it.
pub fn survey(path: &Path) -> Result<Vec<FileLayer>> {
    let names: Vec<String> = {
        // Opening the first layer checks the file as an import would, and names them all.
        match Source::open(path, None, None) {
            Ok(one) => one.dataset.layers().map(|l| l.name()).collect(),
            Err(Error::SourceLayer { layers, .. }) => layers,
            Err(Error::UnknownCrs { .. } | Error::NoGeometry { .. }) => {
                let dataset = Dataset::open(path).map_err(|e| Error::Gdal { path: path.into(), source: e })?;
                dataset.layers().map(|l| l.name()).collect()
            }
            Err(e) => return Err(e),
        }
    };
    let mut out = Vec::new();
    for name in names {
        match Source::open(path, Some(&name), None) {
            Ok(source) => out.push(FileLayer { name, features: source.feature_count(), srid: Some(source.srid) }),
            Err(Error::UnknownCrs { .. }) => out.push(FileLayer { name, features: None, srid: None }),
            Err(Error::NoGeometry { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn choose_layer(dataset: &Dataset, path: &Path, wanted: Option<&str>) -> Result<usize> {
    let names: Vec<String> = dataset.layers().map(|l| l.name()).collect();
    let refuse = |reason: String| Error::SourceLayer { path: path.into(), reason, layers: names.clone() };
    match (wanted, names.len()) {
        (_, 0) => Err(Error::UnreadableSource { path: path.into(), reason: "the file holds no vector layer".into() }),
        (Some(name), _) => {
            names.iter().position(|n| n == name).ok_or_else(|| refuse(format!("it has no layer `{name}`")))
        }
        (None, 1) => Ok(0),
        (None, n) => Err(refuse(format!("the file holds {n} layers"))),
    }
}

/// True for an integer field with GDAL's Boolean subtype (how GeoJSON and GeoPackage booleans
/// arrive). The gdal crate does not expose subtypes, so the C API is asked directly.
#[allow(unsafe_code)]
fn is_boolean(layer: &gdal::vector::Layer<'_>, field: usize) -> bool {
    let Ok(field) = std::ffi::c_int::try_from(field) else { return false };
    // SAFETY: the definition handle belongs to `layer`, which outlives this call, and `field` is
    // one of its field indices; GDAL returns null for an index out of range, which is checked.
    unsafe {
        let defn = gdal_sys::OGR_FD_GetFieldDefn(layer.defn().c_defn(), field);
        !defn.is_null() && gdal_sys::OGR_Fld_GetSubType(defn) == gdal_sys::OGRFieldSubType::OFSTBoolean
    }
}

/// The bytes of a string field as the file has them (after the driver's own recoding, such as
/// a Shapefile's `.cpg`); `None` when the field is unset or null.
#[allow(unsafe_code)]
fn raw_string<'f>(feature: &'f gdal::vector::Feature<'_>, field: usize) -> Option<&'f [u8]> {
    let field = std::ffi::c_int::try_from(field).ok()?;
    // SAFETY: the handle belongs to `feature`, borrowed for the returned lifetime; `field` is
    // one of its definition's indices. GDAL owns the returned string until the feature changes
    // or is freed, neither of which can happen while it is borrowed.
    unsafe {
        let handle = feature.c_feature();
        if gdal_sys::OGR_F_IsFieldSetAndNotNull(handle, field) == 0 {
            return None;
        }
        let text = gdal_sys::OGR_F_GetFieldAsString(handle, field);
        (!text.is_null()).then(|| std::ffi::CStr::from_ptr(text).to_bytes())
    }
}

/// Tells GDAL not to read geometries from a layer until dropped.
struct IgnoreGeometry(gdal_sys::OGRLayerH);

impl IgnoreGeometry {
    #[allow(unsafe_code)]
    fn on(layer: &gdal::vector::Layer<'_>) -> Self {
        let names = [c"OGR_GEOMETRY".as_ptr(), std::ptr::null()];
        // SAFETY: a live layer handle and a null-terminated list of C strings that GDAL copies.
        unsafe {
            let handle = layer.c_layer();
            gdal_sys::OGR_L_SetIgnoredFields(handle, names.as_ptr().cast_mut());
            Self(handle)
        }
    }
}

impl Drop for IgnoreGeometry {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the guard is made and dropped inside `Source::detect_text`, while the dataset
        // that owns the layer is alive; a null list clears what is ignored.
        unsafe {
            gdal_sys::OGR_L_SetIgnoredFields(self.0, std::ptr::null_mut());
        }
    }
}

/// Sends GDAL's own messages to the log instead of stderr: its errors reach the user once, as
/// this crate's errors, and the CLI's error stays on one line.
fn route_gdal_messages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| {
            tracing::debug!(target: "gdal", ?class, number, "{message}");
        });
    });
}

/// False for a feature whose geometry is null. The gdal crate hands out a geometry wrapping a
/// null pointer in that case, and every safe method on it makes GDAL print an error; reading
/// the pointer is the only quiet test.
#[allow(unsafe_code)]
fn is_present(g: &gdal::vector::Geometry) -> bool {
    // SAFETY: the pointer is only compared with null, never dereferenced.
    !unsafe { g.c_geometry() }.is_null()
}

/// Lines and polygons become Multi* so that a file mixing single and multi parts fits.
fn layer_geometry_type(t: Option<OGRwkbGeometryType::Type>) -> GeometryType {
    use OGRwkbGeometryType as T;
    match t.map(gdal::vector::geometry_type_flatten) {
        Some(T::wkbPoint) => GeometryType::Point,
        Some(T::wkbMultiPoint) => GeometryType::MultiPoint,
        Some(T::wkbLineString | T::wkbMultiLineString) => GeometryType::MultiLineString,
        Some(T::wkbPolygon | T::wkbMultiPolygon) => GeometryType::MultiPolygon,
        _ => GeometryType::Geometry,
    }
}

/// The property type an OGR field type (and its Boolean subtype) maps to; lists and times are
/// kept as text.
fn ogr_property_type(t: OGRFieldType::Type, boolean: bool) -> PropertyType {
    match t {
        OGRFieldType::OFTInteger if boolean => PropertyType::Boolean,
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => PropertyType::Integer,
        OGRFieldType::OFTReal => PropertyType::Real,
        OGRFieldType::OFTDate => PropertyType::Date,
        OGRFieldType::OFTDateTime => PropertyType::Datetime,
        _ => PropertyType::Text,
    }
}

/// Converts a source value to a value of the target property type. `Err` carries the type name
/// for the caller's error message.
pub fn convert(value: Option<&FieldValue>, kind: PropertyType) -> Result<Value, String> {
    let Some(value) = value else { return Ok(Value::Null) };
    let text = |v: &FieldValue| match v {
        FieldValue::StringValue(s) => s.trim().to_owned(),
        other => field_text(other),
    };
    let bad = || Err(format!("{kind:?}").to_lowercase());
    Ok(match (kind, value) {
        (PropertyType::Text, FieldValue::StringValue(s)) => Value::Text(s.as_str().into()),
        (PropertyType::Text, v) => Value::Text(field_text(v).into()),
        (_, FieldValue::StringValue(s)) if s.trim().is_empty() => Value::Null,
        (PropertyType::Integer, FieldValue::IntegerValue(i)) => Value::Int(i64::from(*i)),
        (PropertyType::Integer, FieldValue::Integer64Value(i)) => Value::Int(*i),
        #[allow(clippy::cast_possible_truncation)]
        (PropertyType::Integer, FieldValue::RealValue(r)) if r.fract() == 0.0 && r.abs() < 9e15 => {
            Value::Int(*r as i64)
        }
        (PropertyType::Integer, v) => match text(v).parse() {
            Ok(i) => Value::Int(i),
            Err(_) => return bad(),
        },
        (PropertyType::Real, FieldValue::RealValue(r)) => Value::Float(*r),
        #[allow(clippy::cast_precision_loss)]
        (PropertyType::Real, FieldValue::Integer64Value(i)) => Value::Float(*i as f64),
        (PropertyType::Real, FieldValue::IntegerValue(i)) => Value::Float(f64::from(*i)),
        (PropertyType::Real, v) => match text(v).parse::<f64>() {
            Ok(r) if r.is_finite() => Value::Float(r),
            _ => return bad(),
        },
        (PropertyType::Boolean, FieldValue::IntegerValue(i @ (0 | 1))) => Value::Bool(*i == 1),
        (PropertyType::Boolean, v) => match text(v).to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "1" => Value::Bool(true),
            "false" | "f" | "no" | "0" => Value::Bool(false),
            _ => return bad(),
        },
        (PropertyType::Date, FieldValue::DateValue(d)) => Value::Date(*d),
        (PropertyType::Date, FieldValue::DateTimeValue(t)) => Value::Date(t.date_naive()),
        (PropertyType::Date, v) => match parse_date(&text(v)) {
            Some(d) => Value::Date(d),
            None => return bad(),
        },
        (PropertyType::Datetime, FieldValue::DateTimeValue(t)) => Value::DateTime(t.with_timezone(&Utc)),
        (PropertyType::Datetime, FieldValue::DateValue(d)) => {
            Value::DateTime(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()))
        }
        (PropertyType::Datetime, v) => match parse_datetime(&text(v)) {
            Some(t) => Value::DateTime(t),
            None => return bad(),
        },
    })
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y"].iter().find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

fn parse_datetime(s: &str) -> Option<chrono::DateTime<Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| Utc.from_utc_datetime(&t))
}

/// A source value as text, for messages and text columns.
pub fn field_text(v: &FieldValue) -> String {
    match v {
        FieldValue::IntegerValue(i) => i.to_string(),
        FieldValue::Integer64Value(i) => i.to_string(),
        FieldValue::RealValue(r) => r.to_string(),
        FieldValue::StringValue(s) => s.clone(),
        FieldValue::DateValue(d) => d.to_string(),
        FieldValue::DateTimeValue(t) => t.to_rfc3339(),
        FieldValue::IntegerListValue(l) => format!("{l:?}"),
        FieldValue::Integer64ListValue(l) => format!("{l:?}"),
        FieldValue::RealListValue(l) => format!("{l:?}"),
        FieldValue::StringListValue(l) => format!("{l:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<FieldValue> {
        Some(FieldValue::StringValue(v.into()))
    }

    #[test]
    fn strings_convert_to_the_target_type() {
        assert_eq!(convert(s(" 42 ").as_ref(), PropertyType::Integer), Ok(Value::Int(42)));
        assert_eq!(convert(s("2.5").as_ref(), PropertyType::Real), Ok(Value::Float(2.5)));
        assert_eq!(convert(s("yes").as_ref(), PropertyType::Boolean), Ok(Value::Bool(true)));
        assert_eq!(convert(s("").as_ref(), PropertyType::Integer), Ok(Value::Null));
        assert_eq!(convert(None, PropertyType::Date), Ok(Value::Null));
        assert_eq!(
            convert(s("2025-07-01").as_ref(), PropertyType::Date),
            Ok(Value::Date(NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default()))
        );
    }

    #[test]
    fn bad_values_name_the_expected_type() {
        assert_eq!(convert(s("abc").as_ref(), PropertyType::Integer), Err("integer".into()));
        assert_eq!(convert(s("NaN").as_ref(), PropertyType::Real), Err("real".into()));
        assert_eq!(convert(s("31/02/2025").as_ref(), PropertyType::Date), Err("date".into()));
        assert_eq!(convert(Some(&FieldValue::RealValue(1.5)), PropertyType::Integer), Err("integer".into()));
    }

    #[test]
    fn numbers_become_text_for_text_columns() {
        assert_eq!(convert(Some(&FieldValue::IntegerValue(7)), PropertyType::Text), Ok(Value::Text("7".into())));
    }
}
