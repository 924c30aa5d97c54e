//! Whole-layer downloads: `f=csv`, `f=gpkg`, `f=fgb` and `f=parquet` on `/items` answer every feature that
//! matches the request's filters (no page limit) as one file. The file is written to a
//! temporary folder on a thread of the downloads' own (so that a download never holds up tiles
//! and pages) and unlinked once open; `respond::download` streams it. Neither the file nor the
//! layer's encoding sits in memory, and nothing is left on disk whatever happens to the request.

use std::{
    borrow::Cow,
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use layers::{
    PropertyType, Value,
    crs::Crs,
    export::{FileFeature, FileLayer},
};

use crate::{
    access::LayerView,
    compute::{Deadline, too_late},
    error::ApiError,
    feature_view::DISTANCE,
    features::{ItemsRequest, Page},
    media::{CSV, FLATGEOBUF, GEOPACKAGE, PARQUET},
};

/// A download format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Download {
    /// CSV: UTF-8 with a byte order mark (so that spreadsheets read Vietnamese), geometry as WKT.
    Csv,
    /// OGC GeoPackage.
    GeoPackage,
    /// FlatGeobuf.
    FlatGeobuf,
    /// GeoParquet 1.1, as data-science and AI pipelines read.
    GeoParquet,
}

impl Download {
    /// Every download format, in the order collections list them.
    pub const ALL: [Self; 4] = [Self::GeoPackage, Self::FlatGeobuf, Self::GeoParquet, Self::Csv];

    /// The format `f` names, if it names one.
    pub fn named(f: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.key() == f)
    }

    /// Its value of `f`, and its file name extension.
    pub fn key(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::GeoPackage => "gpkg",
            Self::FlatGeobuf => "fgb",
            Self::GeoParquet => "parquet",
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv => CSV,
            Self::GeoPackage => GEOPACKAGE,
            Self::FlatGeobuf => FLATGEOBUF,
            Self::GeoParquet => PARQUET,
        }
    }

    /// Its name, for link titles.
    pub fn title(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::GeoPackage => "GeoPackage",
            Self::FlatGeobuf => "FlatGeobuf",
            Self::GeoParquet => "GeoParquet",
        }
    }

    /// Its code in the EU's file-type vocabulary (which DCAT-AP names), where it has one.
    pub fn file_type(self) -> Option<&'static str> {
        match self {
            Self::Csv => Some("CSV"),
            Self::GeoPackage => Some("GPKG"),
            Self::GeoParquet => Some("PARQUET"),
            Self::FlatGeobuf => None,
        }
    }
}

/// A download written and open, ready to be sent.
pub struct Written {
    /// The file, open for reading and already unlinked.
    pub file: File,
    /// Its size.
    pub bytes: u64,
    /// The name to save it as.
    pub name: String,
    /// Its format.
    pub format: Download,
    /// The layer's licence.
    pub license: Option<String>,
}

/// Writes what `request` finds on `view` as a `format` file; 503 past `deadline`.
pub fn write(
    view: &LayerView,
    request: &ItemsRequest,
    format: Download,
    deadline: Deadline,
) -> Result<Written, ApiError> {
    let crs = file_crs(request.crs)?;
    let page = Page::find(view, request)?;
    let folder = tempfile::tempdir().map_err(internal)?;
    let name = format!("{}.{}", view.def.id.as_str(), format.key());
    let path = folder.path().join(&name);
    // Stops the writing once the time is up; the answer is then a 503, not a truncated file.
    let in_time = |_: &FileFeature| !deadline.passed();
    let failed = std::cell::RefCell::new(None);
    let features = features(&page, crs, &failed).take_while(in_time);
    match format {
        Download::Csv => write_csv(&path, &view.def.source.id_column, &page, features).map_err(internal)?,
        Download::GeoParquet => {
            let layer = file_layer(view, &page, crs, request.query.near.is_some());
            layers::geoparquet::write(&path, &layer, features).map_err(|e| internal(e.to_string()))?;
        }
        Download::GeoPackage => {
            let layer = file_layer(view, &page, crs, request.query.near.is_some());
            layers::export::write_geopackage(&path, &layer, features).map_err(|e| internal(e.to_string()))?;
        }
        Download::FlatGeobuf => {
            let layer = file_layer(view, &page, crs, request.query.near.is_some());
            layers::flatgeobuf::write(&path, &layer, features).map_err(|e| internal(e.to_string()))?;
        }
    }
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    if deadline.passed() {
        return Err(too_late());
    }
    let file = File::open(&path).map_err(internal)?;
    let bytes = file.metadata().map_err(internal)?.len();
    // The open file outlives its folder: deleting the folder unlinks it, and the data goes when
    // the answer has been sent (or dropped).
    drop(folder);
    Ok(Written { file, bytes, name, format, license: view.def.license.clone() })
}

/// The EPSG code a file's coordinates are written in: longitude first for CRS84 (as GIS files
/// store EPSG:4326), projected coordinates as `crs` asks.
fn file_crs(crs: Crs) -> Result<Crs, ApiError> {
    match crs {
        Crs::Crs84 | Crs::Epsg(4326) => Ok(Crs::Crs84),
        other if other.is_geographic() => Err(ApiError::BadRequest(
            "crs: a download is in CRS84 or a projected CRS; a geographic one other than WGS 84 is not offered".into(),
        )),
        other => Ok(other),
    }
}

/// The page's features as a file takes them, geometry in `crs`, one at a time (a projected
/// layer is not copied whole); the first projection that fails ends them and is kept in `failed`.
fn features<'a>(
    page: &'a Page,
    crs: Crs,
    failed: &'a std::cell::RefCell<Option<ApiError>>,
) -> impl Iterator<Item = FileFeature<'a>> + 'a {
    let distances = page.distances.iter().map(Some).chain(std::iter::repeat(None));
    page.features.iter().zip(distances).map_while(move |(f, distance)| {
        let geometry = match crs {
            Crs::Crs84 => Cow::Borrowed(&f.geometry),
            _ => match page.columns.view(f).geometry(crs) {
                Ok(g) => Cow::Owned(g),
                Err(e) => {
                    *failed.borrow_mut() = Some(e);
                    return None;
                }
            },
        };
        let values = page.columns.indices().map(|i| &f.properties[i]).chain(distance).collect();
        Some(FileFeature { id: f.id, geometry, values })
    })
}

/// How the file describes its layer.
fn file_layer<'a>(view: &'a LayerView, page: &'a Page, crs: Crs, near: bool) -> FileLayer<'a> {
    let def = &view.def;
    let mut fields: Vec<(&str, PropertyType)> =
        page.columns.indices().zip(page.columns.names()).map(|(i, name)| (name, def.properties[i].kind)).collect();
    if near {
        fields.push((DISTANCE, PropertyType::Real));
    }
    FileLayer {
        name: def.id.as_str(),
        title: &def.title,
        description: &def.description,
        license: def.license.as_deref(),
        attribution: &def.attribution,
        geometry: def.geometry,
        epsg: match crs {
            Crs::Epsg(code) => code.unsigned_abs(),
            Crs::Crs84 => 4326,
        },
        id_column: &def.source.id_column,
        fields,
    }
}

/// CSV (RFC 4180, CRLF line ends) with a byte order mark: `WKT`, the id, then the properties.
/// Written here rather than through GDAL, whose WKT rounds coordinates to 15 digits: these are
/// the stored numbers, each in the shortest text that reads back to it.
fn write_csv<'a>(
    path: &Path,
    id_column: &str,
    page: &Page,
    features: impl Iterator<Item = FileFeature<'a>>,
) -> std::io::Result<()> {
    use wkt::ToWkt;
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all("\u{feff}WKT,".as_bytes())?;
    write_field(&mut out, id_column)?;
    let distance = (!page.distances.is_empty()).then_some(DISTANCE);
    for name in page.columns.names().chain(distance) {
        out.write_all(b",")?;
        write_field(&mut out, name)?;
    }
    out.write_all(b"\r\n")?;
    for f in features {
        write_field(&mut out, &f.geometry.wkt_string())?;
        write!(out, ",{}", f.id)?;
        for value in f.values {
            out.write_all(b",")?;
            match value {
                Value::Null => {}
                Value::Text(s) => write_field(&mut out, s)?,
                Value::Bool(b) => write!(out, "{b}")?,
                Value::Int(n) => write!(out, "{n}")?,
                Value::Float(x) => write!(out, "{x}")?,
                Value::Date(d) => write!(out, "{}", d.format("%Y-%m-%d"))?,
                Value::DateTime(t) => write!(out, "{}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))?,
            }
        }
        out.write_all(b"\r\n")?;
    }
    out.into_inner().map_err(std::io::IntoInnerError::into_error).map(drop)
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn write_field(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    if s.contains([',', '"', '\r', '\n']) {
        write!(out, "\"{}\"", s.replace('"', "\"\""))
    } else {
        out.write_all(s.as_bytes())
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("writing a download: {e}"))
}
