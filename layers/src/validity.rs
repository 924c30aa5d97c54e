//! The rules a geometry a client sends must follow, in a filter or in a write: Simple
//! Features' structure (checked on the GeoJSON, since conversion would quietly close an open
//! ring or accept a line of one position) and validity (no ring that crosses itself or has no
//! area), without which spatial predicates have no defined result.

use geo::{Validation, winding_order::Winding};
use geo_types::Geometry;

/// Simple Features' structural rules on a GeoJSON geometry: a line has two positions or more,
/// a ring four or more, its last the same as its first.
pub fn check_structure(g: &serde_json::Value) -> Result<(), String> {
    let kind = g["type"].as_str().unwrap_or_default();
    if kind == "GeometryCollection" {
        return g["geometries"].as_array().into_iter().flatten().try_for_each(check_structure);
    }
    let c = &g["coordinates"];
    fn list(v: &serde_json::Value) -> &[serde_json::Value] {
        v.as_array().map_or(&[], Vec::as_slice)
    }
    let line = |l: &serde_json::Value| match list(l).len() {
        n if n < 2 => Err(format!("a line needs 2 positions or more, this one has {n}")),
        _ => Ok(()),
    };
    let ring = |r: &serde_json::Value| {
        let r = list(r);
        if r.len() < 4 {
            Err(format!("a polygon ring needs 4 positions or more, this one has {}", r.len()))
        } else if r.first() != r.last() {
            Err("a polygon ring must end where it starts".into())
        } else {
            Ok(())
        }
    };
    let polygon = |p: &serde_json::Value| list(p).iter().try_for_each(ring);
    match kind {
        "LineString" => line(c),
        "MultiLineString" => list(c).iter().try_for_each(line),
        "Polygon" => polygon(c),
        "MultiPolygon" => list(c).iter().try_for_each(polygon),
        _ => Ok(()),
    }
}

/// A valid geometry: no self-crossing ring, no ring or line without extent.
pub fn check_valid(g: &Geometry) -> Result<(), String> {
    g.check_validation().map_err(|e| e.to_string())?;
    if !every_ring_has_area(g) {
        return Err("a polygon ring has no area: its positions lie on one line".into());
    }
    Ok(())
}

/// Whether every ring of every polygon in `g` encloses an area (has a winding order), which
/// the validity check above lets pass.
fn every_ring_has_area(g: &Geometry) -> bool {
    let polygon = |p: &geo_types::Polygon| {
        std::iter::once(p.exterior()).chain(p.interiors()).all(|r| r.winding_order().is_some())
    };
    match g {
        Geometry::Polygon(p) => polygon(p),
        Geometry::MultiPolygon(m) => m.iter().all(polygon),
        Geometry::GeometryCollection(c) => c.iter().all(every_ring_has_area),
        _ => true,
    }
}
