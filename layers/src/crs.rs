//! Coordinate reference systems: recognising a source's CRS and reprojecting to lon/lat.
//!
//! Every VN-2000 system goes to WGS 84 through one documented transformation, EPSG:6960
//! ("VN-2000 to WGS 84 (2)", the national seven-parameter set). Left to itself PROJ picks a
//! different operation for points in the Mekong delta, about a metre away; here the
//! transformation is pinned by building the source CRS from its PROJ string, whose `+towgs84` is
//! exactly EPSG:6960. Migration `0002_vn2000.sql` pins the same strings for PostGIS.

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use geo::MapCoordsInPlace;
use geo_types::{Coord, Geometry};

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
    code.parse::<i32>().ok().filter(|c| *c > 0).ok_or_else(|| format!("{} is not a CRS: write EPSG:<code>", quoted(s)))
}

/// A CRS as given, quoted for a message: its first 40 characters, so that an answer never
/// echoes a whole PROJ string or whatever else was sent.
fn quoted(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
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

/// CRS84, the default CRS of OGC API - Features: WGS 84 with longitude first.
pub const CRS84_URI: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const EPSG_URI: &str = "http://www.opengis.net/def/crs/EPSG/0/";

/// A CRS feature queries can answer in and take boxes and filters in (OGC API - Features
/// Part 2): CRS84, EPSG:4326 (latitude first), Web Mercator and the VN-2000 systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Crs {
    /// WGS 84, longitude first.
    Crs84,
    /// An EPSG code from [`Crs::supported`].
    Epsg(i32),
}

impl Crs {
    /// Every CRS Bando supports, CRS84 first.
    pub fn supported() -> impl Iterator<Item = Crs> {
        [Crs::Crs84, Crs::Epsg(4326), Crs::Epsg(3857)].into_iter().chain(VN2000_SRIDS.map(Crs::Epsg))
    }

    /// Reads an OGC CRS URI (`http://www.opengis.net/def/crs/EPSG/0/4326`), its safe CURIE
    /// (`[EPSG:4326]`) or `EPSG:4326`; only supported systems are accepted.
    ///
    /// ```
    /// use layers::crs::Crs;
    /// assert_eq!(Crs::from_uri("http://www.opengis.net/def/crs/EPSG/0/9210"), Ok(Crs::Epsg(9210)));
    /// assert!(Crs::from_uri("http://www.opengis.net/def/crs/EPSG/0/2154").is_err());
    /// ```
    pub fn from_uri(s: &str) -> Result<Crs, String> {
        let s = s.trim();
        let crs = if s == CRS84_URI || s == "[OGC:CRS84]" || s == "OGC:CRS84" {
            Some(Crs::Crs84)
        } else {
            let code = s
                .strip_prefix(EPSG_URI)
                .or_else(|| s.strip_prefix("[EPSG:").and_then(|c| c.strip_suffix(']')))
                .or_else(|| s.strip_prefix("EPSG:"));
            code.and_then(|c| c.parse::<i32>().ok()).map(Crs::Epsg)
        };
        crs.filter(|c| Crs::supported().any(|s| s == *c)).ok_or_else(|| {
            format!("unsupported CRS {}; the collection's `crs` list names the supported ones", quoted(s))
        })
    }

    /// The OGC URI of this CRS.
    pub fn uri(self) -> String {
        match self {
            Crs::Crs84 => CRS84_URI.into(),
            Crs::Epsg(code) => format!("{EPSG_URI}{code}"),
        }
    }

    /// Whether coordinates are written latitude first (EPSG's geographic systems).
    fn lat_first(self) -> bool {
        matches!(self, Crs::Epsg(4326 | 4756))
    }

    /// Whether coordinates are degrees.
    pub fn is_geographic(self) -> bool {
        matches!(self, Crs::Crs84 | Crs::Epsg(4326 | 4756))
    }

    /// Runs `f` with this thread's converter for the CRS. PROJ's transformations are not
    /// thread-safe and take a millisecond or more to set up, so each thread keeps its own.
    pub fn with_projector<T>(self, f: impl FnOnce(&Projector) -> T) -> Result<T, String> {
        thread_local! {
            static PROJECTORS: std::cell::RefCell<std::collections::HashMap<Crs, std::rc::Rc<Projector>>> =
                std::cell::RefCell::default();
        }
        let projector = PROJECTORS.with(|cache| -> Result<_, String> {
            if let Some(p) = cache.borrow().get(&self) {
                return Ok(p.clone());
            }
            let p = std::rc::Rc::new(Projector::new(self).map_err(|e| format!("{}: {e}", self.uri()))?);
            cache.borrow_mut().insert(self, p.clone());
            Ok(p)
        })?;
        Ok(f(&projector))
    }
}

/// Converts coordinates between lon/lat WGS 84 and one [`Crs`], in that CRS's axis order.
pub struct Projector {
    crs: Crs,
    /// For the VN-2000 systems: from lon/lat, and back.
    proj: Option<(CoordTransform, CoordTransform)>,
}

impl Projector {
    fn new(crs: Crs) -> gdal::errors::Result<Self> {
        let proj = match crs {
            Crs::Epsg(code) if is_vn2000(code) => {
                let mut wgs84 = SpatialRef::from_epsg(4326)?;
                wgs84.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
                let target = source_crs(code)?;
                Some((CoordTransform::new(&wgs84, &target)?, CoordTransform::new(&target, &wgs84)?))
            }
            _ => None,
        };
        Ok(Self { crs, proj })
    }

    /// A lon/lat geometry in this CRS.
    pub fn from_lonlat(&self, g: &Geometry) -> Result<Geometry, String> {
        let mut g = match (&self.proj, self.crs) {
            (Some((forward, _)), _) => transform(forward, g)?,
            (None, Crs::Epsg(3857)) => crate::mercator::geometry_to_mercator(g),
            _ => g.clone(),
        };
        if self.crs.lat_first() {
            g.map_coords_in_place(|c| Coord { x: c.y, y: c.x });
        }
        Ok(g)
    }

    /// One coordinate of this CRS in lon/lat.
    pub fn to_lonlat(&self, c: Coord) -> Result<Coord, String> {
        let c = if self.crs.lat_first() { Coord { x: c.y, y: c.x } } else { c };
        match (&self.proj, self.crs) {
            (Some((_, back)), _) => match transform(back, &Geometry::Point(c.into()))? {
                Geometry::Point(p) => Ok(p.0),
                _ => Err("transformation failed".into()),
            },
            (None, Crs::Epsg(3857)) => Ok(crate::mercator::to_lonlat(c)),
            _ => Ok(c),
        }
    }
}

/// Applies a GDAL transformation to every coordinate of a geometry in one call.
fn transform(ct: &CoordTransform, g: &Geometry) -> Result<Geometry, String> {
    use geo::CoordsIter;
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = g.coords_iter().map(|c| (c.x, c.y)).unzip();
    let mut zs = vec![0.0; xs.len()];
    ct.transform_coords(&mut xs, &mut ys, &mut zs).map_err(|e| e.to_string())?;
    let next = std::cell::Cell::new(0);
    let mut out = g.clone();
    out.map_coords_in_place(|_| {
        let i = next.get();
        next.set(i + 1);
        Coord { x: xs[i], y: ys[i] }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_crs_is_echoed_shortened() {
        let proj = "+proj=longlat +datum=WGS84 ".repeat(20);
        let message = Crs::from_uri(&proj).err().unwrap_or_default();
        assert!(message.len() < 140 && message.contains("…"), "{message}");
        assert!(parse_srid(&proj).err().is_some_and(|m| m.len() < 100));
        assert!(Crs::from_uri("EPSG:1").err().is_some_and(|m| m.contains("\"EPSG:1\";")));
    }

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
    fn vn2000_output_round_trips_and_4326_is_latitude_first() -> Result<(), String> {
        let lonlat = Geometry::Point(geo_types::point! { x: 106.545_219_903, y: 9.946_102_239 });
        let tm3 = Crs::Epsg(9210).with_projector(|p| p.from_lonlat(&lonlat))??;
        let Geometry::Point(p) = tm3 else { return Err("not a point".into()) };
        assert!((p.x() - 587_000.0).abs() < 0.01 && (p.y() - 1_100_000.0).abs() < 0.01, "{p:?}");
        let back = Crs::Epsg(9210).with_projector(|pr| pr.to_lonlat(p.0))??;
        assert!((back.x - 106.545_219_903).abs() < 1e-9 && (back.y - 9.946_102_239).abs() < 1e-9);
        let latlon = Crs::Epsg(4326).with_projector(|p| p.from_lonlat(&lonlat))??;
        assert_eq!(latlon, Geometry::Point(geo_types::point! { x: 9.946_102_239, y: 106.545_219_903 }));
        Ok(())
    }

    #[test]
    fn wgs84_needs_no_transformation() -> gdal::errors::Result<()> {
        assert!(to_wgs84(4326)?.is_none());
        Ok(())
    }
}
