//! HTML pages for people: one layout, escaping, and a small map drawn as inline SVG.
//!
//! The map is SVG drawn on the server rather than a script map: it needs nothing from another
//! host, works with scripts off, and the page stays a few kilobytes.

use std::fmt::Write;

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use geo_types::{Coord, Geometry, LineString, Rect};
use layers::{PropertyDef, Value, labels::Lang};

use crate::{
    feature_view::{Columns, FeatureView},
    media::HTML,
};

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where a page sits below the landing page: its breadcrumbs.
#[derive(Clone, Copy, Debug)]
pub enum Trail<'a> {
    /// The landing page itself: no breadcrumbs.
    Landing,
    /// Directly below the landing page.
    Home,
    /// Below the list of collections.
    Collections,
    /// Below one collection.
    Collection(&'a str),
}

impl<'a> Trail<'a> {
    fn crumbs(self) -> Vec<(&'a str, String)> {
        let mut crumbs = Vec::new();
        if matches!(self, Self::Landing) {
            return crumbs;
        }
        crumbs.push(("Bando", "/".to_owned()));
        if matches!(self, Self::Collections | Self::Collection(_)) {
            crumbs.push(("Collections", "/collections".to_owned()));
        }
        if let Self::Collection(id) = self {
            crumbs.push((id, format!("/collections/{id}")));
        }
        crumbs
    }
}

/// A whole page, answered as `text/html`.
pub struct Page {
    title: String,
    nav: String,
    json: String,
    body: String,
    lang: Lang,
}

impl Page {
    /// A page titled `title` at `trail`, whose JSON representation is at `json`.
    pub fn new(title: &str, trail: Trail, json: &str, body: String) -> Self {
        let mut nav = String::new();
        for (label, href) in trail.crumbs() {
            let _ = write!(nav, r#"<a href="{}">{}</a> › "#, escape(&href), escape(label));
        }
        Self { title: title.to_owned(), nav, json: json.to_owned(), body, lang: Lang::Vi }
    }

    /// The page with its labels in `lang` (Vietnamese by default).
    pub fn in_language(self, lang: Lang) -> Self {
        Self { lang, ..self }
    }

    /// The page's HTML text.
    pub fn render(&self) -> String {
        format!(
            r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Bando</title>
<link rel="alternate" type="application/json" href="{json}">
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 62rem; padding: 1rem; color: #1d2a33; }}
nav {{ font-size: 0.9rem; margin-bottom: 0.5rem; }} a {{ color: #0b5cad; }}
table {{ border-collapse: collapse; width: 100%; margin: 0.5rem 0; }}
th, td {{ text-align: left; border-bottom: 1px solid #dde3e8; padding: 0.25rem 0.5rem; vertical-align: top; }}
svg.map {{ width: 100%; max-height: 26rem; background: #eef3f6; border: 1px solid #c9d3da; }}
.map path {{ fill: #3b82c4; fill-opacity: 0.35; stroke: #1d4f80; stroke-width: 1; vector-effect: non-scaling-stroke; }}
.map path.line {{ fill: none; stroke-width: 1.5; }} .map circle {{ fill: #c4463b; stroke: #fff; }}
code {{ background: #eef3f6; padding: 0 0.2rem; }}
</style></head>
<body><nav>{nav}<a href="{json}">JSON</a></nav>
<h1>{title}</h1>
{body}
</body></html>"#,
            title = escape(&self.title),
            json = escape(&self.json),
            nav = self.nav,
            body = self.body,
            lang = self.lang.tag(),
        )
    }
}

/// The pages' Content Security Policy: no script at all, the page's own inline style, images
/// from this server, and no framing by other sites (as the viewer).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'self'";

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let headers = [
            (header::CONTENT_TYPE, HTML),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ];
        (headers, self.render()).into_response()
    }
}

/// An inline SVG map of Web Mercator geometries, framed on `frame` (or on the geometries).
pub fn svg_map<'a>(geometries: impl IntoIterator<Item = &'a Geometry>, frame: Option<Rect>) -> String {
    let geometries: Vec<&Geometry> = geometries.into_iter().collect();
    let frame = frame.or_else(|| bounds(&geometries));
    let Some(frame) = frame else { return String::new() };
    // A little margin, and a minimum size so a single point has a frame around it.
    let pad = (frame.width().max(frame.height()) * 0.05).max(200.0);
    let (x0, y1) = (frame.min().x - pad, frame.max().y + pad);
    let (w, h) = (frame.width() + 2.0 * pad, frame.height() + 2.0 * pad);
    let scale = 800.0 / w;
    let height = (h * scale).clamp(100.0, 800.0);
    let at = |c: &Coord| ((c.x - x0) * scale, (y1 - c.y) * scale);
    let mut svg = format!(r#"<svg class="map" viewBox="0 0 800 {height:.0}" role="img" aria-label="map">"#);
    for g in geometries {
        draw(&mut svg, g, &at);
    }
    svg.push_str("</svg>");
    svg
}

fn bounds(geometries: &[&Geometry]) -> Option<Rect> {
    use geo::BoundingRect;
    geometries.iter().filter_map(|g| g.bounding_rect()).reduce(layers::index::union)
}

fn draw(svg: &mut String, g: &Geometry, at: &dyn Fn(&Coord) -> (f64, f64)) {
    let ring = |d: &mut String, l: &LineString, close: bool| {
        let mut last = (f64::NAN, f64::NAN);
        for (i, c) in l.0.iter().enumerate() {
            let (x, y) = at(c);
            // Skip points within half a pixel of the previous one: a page of parcels stays small.
            if i > 0 && (x - last.0).abs() < 0.5 && (y - last.1).abs() < 0.5 {
                continue;
            }
            let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" });
            last = (x, y);
        }
        if close {
            d.push('Z');
        }
    };
    match g {
        Geometry::Point(p) => {
            let (x, y) = at(&p.0);
            let _ = write!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4"/>"#);
        }
        Geometry::MultiPoint(m) => m.0.iter().for_each(|p| draw(svg, &Geometry::Point(*p), at)),
        Geometry::LineString(l) => {
            let mut d = String::new();
            ring(&mut d, l, false);
            let _ = write!(svg, r#"<path class="line" d="{d}"/>"#);
        }
        Geometry::MultiLineString(m) => m.0.iter().for_each(|l| draw(svg, &Geometry::LineString(l.clone()), at)),
        Geometry::Polygon(p) => {
            let mut d = String::new();
            std::iter::once(p.exterior()).chain(p.interiors()).for_each(|r| ring(&mut d, r, true));
            let _ = write!(svg, r#"<path fill-rule="evenodd" d="{d}"/>"#);
        }
        Geometry::MultiPolygon(m) => m.0.iter().for_each(|p| draw(svg, &Geometry::Polygon(p.clone()), at)),
        Geometry::GeometryCollection(c) => c.0.iter().for_each(|g| draw(svg, g, at)),
        Geometry::Line(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {}
    }
}

/// Features as a table: one row each, a column per property of `columns` (the same columns
/// whatever the first feature holds), headed by its title and unit in `lang`, coded values
/// shown with their labels, the id linking to the feature's page.
pub fn features_table<'a>(
    collection: &str,
    columns: &Columns,
    features: impl IntoIterator<Item = FeatureView<'a>>,
    lang: Lang,
) -> String {
    let features: Vec<FeatureView> = features.into_iter().collect();
    // The features' own columns head the table: a `near` query adds its distance to each.
    let heads: Vec<String> = match features.first() {
        Some(f) => f.described().map(|(p, _)| heading(p, lang)).collect(),
        None => columns.defs().map(|p| heading(Some(p), lang)).collect(),
    };
    let mut t = String::from("<table><tr><th>id</th>");
    for head in heads {
        let _ = write!(t, "<th>{}</th>", escape(&head));
    }
    t.push_str("</tr>");
    for f in features {
        let fid = f.id();
        let _ = write!(t, r#"<tr><td><a href="/collections/{collection}/items/{fid}?f=html">{fid}</a></td>"#);
        for (p, value) in f.described() {
            let _ = write!(t, "<td>{}</td>", escape(&shown(p, value, lang)));
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    t
}

/// One feature's properties as a table of `(title, value)` rows, as [`features_table`] shows them.
pub fn feature_table(f: &FeatureView, lang: Lang) -> String {
    let rows: Vec<(String, String)> =
        f.described().map(|(p, value)| (heading(p, lang), shown(p, value, lang))).collect();
    table(rows.iter().map(|(k, v)| (k.as_str(), v.clone())))
}

/// A column's heading: the property's title, with its unit; a `near` query's distance otherwise.
fn heading(p: Option<&PropertyDef>, lang: Lang) -> String {
    let Some(p) = p else { return crate::feature_view::DISTANCE.to_owned() };
    match &p.unit {
        Some(unit) => format!("{} ({unit})", p.title_in(lang)),
        None => p.title_in(lang).to_owned(),
    }
}

/// A value as people read it: a code with its label, `label (code)`, anything else as it is.
fn shown(p: Option<&PropertyDef>, value: &Value, lang: Lang) -> String {
    let text = value.to_string();
    match p.and_then(|p| p.label(&text, lang)) {
        Some(label) => format!("{label} ({text})"),
        None => text,
    }
}

/// A table of `(name, value)` rows.
pub fn table<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut t = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(t, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    t.push_str("</table>");
    t
}

#[cfg(test)]
mod tests {
    use geo_types::point;

    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert!(
            Page::new("<x>", Trail::Landing, "/?f=json", String::new())
                .render()
                .contains("<title>&lt;x&gt; · Bando</title>")
        );
    }

    #[test]
    fn maps_draw_every_geometry_inside_the_view() {
        let g = [Geometry::Point(point! { x: 0.0, y: 0.0 }), Geometry::Point(point! { x: 1000.0, y: 500.0 })];
        let svg = svg_map(&g, None);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg_map(&[], None).is_empty());
    }
}
