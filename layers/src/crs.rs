//! Coordinate reference systems: recognising a source's CRS and reprojecting to lon/lat.
//!
//! Every VN-2000 system goes to WGS 84 through one documented transformation, EPSG:6960
//! ("VN-2000 to WGS 84 (2)", the national seven-parameter set). Left to itself PROJ picks a
//! different operation for points in the Mekong delta, about a metre away; here the
//! transformation is pinned by building the source CRS from its PROJ string, whose `+towgs84` is
//! exactly EPSG:6960. Migration `0002_vn2000.sql` pins the same strings for PostGIS.

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

/// SRIDs of the VN-2000 systems: geographic, UTM 48N/49N and the provincial TM-3 zones. Keep in
/// step with `bando.vn2000_crs` (migration 0002).
pub const VN2000_SRIDS: [i32; 17] =
    [4756, 3405, 3406, 9205, 9206, 9207, 9208, 9209, 9210, 9211, 9212, 9213, 9214, 9215, 9216, 9217, 9218];

/// True for the VN-2000 SRIDs.
pub fn is_vn2000(srid: i32) -> bool {
    VN2000_SRIDS.contains(&srid)
}

/// Parses `EPSG:9210` (any case) or a bare `9210`.
///
/// ```
/// assert_eq!(layers::crs::parse_srid("epsg:9210"), Ok(9210));
/// assert!(layers::crs::parse_srid("EPSG:abc").is_err());
/// ```
pub fn parse_srid(s: &str) -> Result<i32, String> {
    let code = s.get(..5).filter(|p| p.eq_ignore_ascii_case("EPSG:")).map_or(s, |_| &s[5..]);
    code.parse::<i32>().ok().filter(|c| *c > 0).ok_or_else(|| format!("{s:?} is not a CRS: write EPSG:<code>"))
}

/// The EPSG code of a GDAL spatial reference, identifying it when the file only has a WKT
/// (as ESRI `.prj` files do).
pub(crate) fn epsg_code(sr: &SpatialRef) -> Option<i32> {
    if sr.auth_name().as_deref() == Some("EPSG") {
        return sr.auth_code().ok();
    }
    let mut sr = sr.clone();
    sr.auto_identify_epsg().ok()?;
    (sr.auth_name().as_deref() == Some("EPSG")).then(|| sr.auth_code().ok()).flatten()
}

/// A lon/lat spatial reference for `srid`, with x = longitude. For VN-2000 systems the CRS is
/// built from its PROJ string so that the datum shift is EPSG:6960.
fn source_crs(srid: i32) -> gdal::errors::Result<SpatialRef> {
    let epsg = SpatialRef::from_epsg(u32::try_from(srid).unwrap_or(0))?;
    let mut sr = if is_vn2000(srid) { SpatialRef::from_proj4(&epsg.to_proj4()?)? } else { epsg };
    sr.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(sr)
}

/// The transformation from `srid` to lon/lat WGS 84, or `None` when the source already is.
pub(crate) fn to_wgs84(srid: i32) -> gdal::errors::Result<Option<CoordTransform>> {
    if srid == 4326 {
        return Ok(None);
    }
    let mut wgs84 = SpatialRef::from_epsg(4326)?;
    wgs84.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&source_crs(srid)?, &wgs84).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vn2000_tm3_goes_through_epsg_6960() -> gdal::errors::Result<()> {
        // Reference: PROJ with EPSG:6960 applied explicitly,
        //   echo 587000 1100000 0 0 | cct -d 9 +proj=pipeline +step +inv +proj=tmerc +lat_0=0 +lon_0=105.75 +k=0.9999
        //     +x_0=500000 +ellps=WGS84 +step +proj=cart +ellps=WGS84 +step +proj=helmert
        //     +x=-191.90441429 +y=-39.30318279 +z=-111.45032835 +rx=-0.00928836 +ry=0.01975479
        //     +rz=-0.00427372 +s=0.252906278 +convention=coordinate_frame +step +inv +proj=cart
        //     +ellps=WGS84 +step +proj=unitconvert +xy_in=rad +xy_out=deg
        // gives 106.545219903 9.946102239. PROJ's default operation lands 0.8 m east of it.
        let ct = to_wgs84(9210)?.ok_or(gdal::errors::GdalError::BadArgument("none".into()))?;
        let (mut x, mut y, mut z) = ([587_000.0], [1_100_000.0], [0.0]);
        ct.transform_coords(&mut x, &mut y, &mut z)?;
        let metres = ((x[0] - 106.545_219_903) * 109_600.0).hypot((y[0] - 9.946_102_239) * 110_600.0);
        assert!(metres < 0.01, "{} {} is {metres} m off", x[0], y[0]);
        Ok(())
    }

    #[test]
    fn wgs84_needs_no_transformation() -> gdal::errors::Result<()> {
        assert!(to_wgs84(4326)?.is_none());
        Ok(())
    }
}
