//! Loads a layer straight from a file, for serving without a database.

use std::{path::Path, time::Instant};

use crate::{Error, Feature, LayerDef, LayerIndex, Result, Value, crs, source::Source};

/// Reads every feature of `path` into an index, reprojected to lon/lat (VN-2000 through
/// EPSG:6960) and with the properties the layer declares, matched to source fields by name
/// (case-insensitive). The id comes from the field named like the layer's id column, or is the
/// row number.
pub fn load(def: &LayerDef, path: &Path) -> Result<LayerIndex> {
    let started = Instant::now();
    let src = Source::open(path, def.source.layer.as_deref(), None)?;
    let gdal_err = |source| Error::Gdal { path: path.into(), source };
    let transform = crs::to_wgs84(src.srid).map_err(gdal_err)?;
    let find = |name: &str| src.fields.iter().position(|f| f.name.eq_ignore_ascii_case(name));
    let slots: Vec<Option<usize>> = def.properties.iter().map(|p| find(&p.name)).collect();
    let id_slot = find(&def.source.id_column);
    let mut features = Vec::with_capacity(usize::try_from(src.feature_count().unwrap_or(0)).unwrap_or(0));
    src.for_each(|row, geometry, values| {
        let Some(geometry) = geometry.filter(|g| !g.is_empty()) else { return Ok(()) };
        let geometry = match &transform {
            Some(t) => geometry.transform(t).and_then(|g| g.to_geo()),
            None => geometry.to_geo(),
        }
        .map_err(gdal_err)?;
        let id = match id_slot.and_then(|i| values[i].as_ref()) {
            Some(v) => match crate::source::convert(Some(v), crate::PropertyType::Integer) {
                Ok(Value::Int(id)) => id,
                _ => return Err(bad_id(path, row)),
            },
            None => i64::try_from(row).map_err(|_| bad_id(path, row))?,
        };
        let properties = def
            .properties
            .iter()
            .zip(&slots)
            .map(|(p, slot)| {
                let value = slot.and_then(|i| values[i].as_ref());
                crate::source::convert(value, p.kind).map_err(|expected| Error::BadValue {
                    path: path.into(),
                    row,
                    field: p.name.clone(),
                    value: value.map(crate::source::field_text).unwrap_or_default(),
                    expected,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        features.push(Feature::new(id, geometry, properties));
        Ok(())
    })?;
    let index = LayerIndex::build(features);
    tracing::info!(
        layer = %def.id, file = %path.display(), features = index.len(),
        seconds = started.elapsed().as_secs_f64(), megabytes = index.approx_bytes() / 1_000_000,
        "layer loaded from file"
    );
    Ok(index)
}

fn bad_id(path: &Path, row: u64) -> Error {
    Error::UnreadableSource { path: path.into(), reason: format!("row {row}: the id is not an integer") }
}
