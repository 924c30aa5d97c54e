//! The catalog the open-data portal harvests, `/catalog`: DCAT-AP 3, one `dcat:Dataset` per
//! public layer with a `dcat:Distribution` per download format, the OGC API and its public
//! tile packages, written as
//! JSON-LD or Turtle from one list of triples. Hand-written: the graph is small and fixed in
//! shape, and both syntaxes are a page of code, where an RDF library would add a data model
//! and its parsers for nothing.

use std::fmt::Write as _;

use layers::labels::Bilingual;
use serde_json::{Map, Value as Json, json};

use crate::{downloads::Download, layer::Layer, media, settings::CatalogConfig};

/// The vocabularies the catalog uses, by prefix.
const PREFIXES: [(&str, &str); 10] = [
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("locn", "http://www.w3.org/ns/locn#"),
    ("gsp", "http://www.opengis.net/ont/geosparql#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
];

/// The object of a triple.
#[derive(Clone, Debug, PartialEq)]
enum Object {
    /// A resource, by full IRI.
    Iri(String),
    /// Text in a language (`vi`, `en`), or without one.
    Text(String, Option<&'static str>),
    /// A literal of a datatype, as a prefixed name (`xsd:dateTime`).
    Typed(String, &'static str),
}

/// Triples in the order they are written; predicates and classes as prefixed names.
#[derive(Default)]
struct Graph {
    triples: Vec<(String, &'static str, Object)>,
}

impl Graph {
    fn add(&mut self, subject: &str, predicate: &'static str, object: Object) {
        self.triples.push((subject.to_owned(), predicate, object));
    }

    fn a(&mut self, subject: &str, class: &str) {
        self.add(subject, "rdf:type", Object::Iri(expand(class)));
    }

    fn iri(&mut self, subject: &str, predicate: &'static str, object: &str) {
        self.add(subject, predicate, Object::Iri(object.to_owned()));
    }

    /// A link to a resource of `class`: DCAT-AP's shapes check the class of what is linked,
    /// and a harvester infers nothing, so it is stated.
    fn link(&mut self, subject: &str, predicate: &'static str, object: &str, class: &str) {
        self.iri(subject, predicate, object);
        self.a(object, class);
    }

    fn both(&mut self, subject: &str, predicate: &'static str, text: &Bilingual) {
        self.add(subject, predicate, Object::Text(text.vi.clone(), Some("vi")));
        self.add(subject, predicate, Object::Text(text.en.clone(), Some("en")));
    }

    /// A layer's text: Vietnamese beside its English, or of no stated language without one.
    fn translated(&mut self, subject: &str, predicate: &'static str, text: &str, english: Option<&str>) {
        match english {
            Some(en) => {
                self.add(subject, predicate, Object::Text(text.to_owned(), Some("vi")));
                self.add(subject, predicate, Object::Text(en.to_owned(), Some("en")));
            }
            None => self.add(subject, predicate, Object::Text(text.to_owned(), None)),
        }
    }

    /// The subjects in the order they first appear, each with its triples.
    fn subjects(&self) -> Vec<(&str, Vec<(&'static str, &Object)>)> {
        let mut out: Vec<(&str, Vec<(&'static str, &Object)>)> = Vec::new();
        for (s, p, o) in &self.triples {
            match out.iter_mut().find(|(subject, _)| subject == s) {
                Some((_, pairs)) => pairs.push((p, o)),
                None => out.push((s, vec![(p, o)])),
            }
        }
        out
    }

    /// JSON-LD: a context of the prefixes and one node per subject.
    fn json_ld(&self) -> Json {
        let context: Map<String, Json> = PREFIXES.iter().map(|(p, ns)| ((*p).to_owned(), json!(ns))).collect();
        let nodes: Vec<Json> = self
            .subjects()
            .into_iter()
            .map(|(subject, pairs)| {
                let mut node = Map::new();
                node.insert("@id".into(), json!(subject));
                for (p, o) in pairs {
                    let (key, value) = match (p, o) {
                        ("rdf:type", Object::Iri(class)) => ("@type", json!(compact(class))),
                        (_, Object::Iri(iri)) => (p, json!({ "@id": iri })),
                        (_, Object::Text(s, Some(lang))) => (p, json!({ "@value": s, "@language": lang })),
                        (_, Object::Text(s, None)) => (p, json!(s)),
                        (_, Object::Typed(s, datatype)) => (p, json!({ "@value": s, "@type": datatype })),
                    };
                    match node.get_mut(key) {
                        Some(Json::Array(values)) => values.push(value),
                        _ => {
                            node.insert(key.into(), json!([value]));
                        }
                    }
                }
                Json::Object(node)
            })
            .collect();
        json!({ "@context": context, "@graph": nodes })
    }

    /// Turtle: the prefixes, then each subject with its predicates.
    fn turtle(&self) -> String {
        let mut out = String::new();
        for (p, ns) in PREFIXES {
            let _ = writeln!(out, "@prefix {p}: <{ns}> .");
        }
        for (subject, pairs) in self.subjects() {
            let _ = write!(out, "\n<{}>", iri_text(subject));
            for (i, (p, o)) in pairs.iter().enumerate() {
                let object = match o {
                    Object::Iri(iri) => format!("<{}>", iri_text(iri)),
                    Object::Text(s, Some(lang)) => format!("{}@{lang}", quoted(s)),
                    Object::Text(s, None) => quoted(s),
                    Object::Typed(s, datatype) => format!("{}^^{datatype}", quoted(s)),
                };
                let _ = write!(out, "{}\n    {p} {object}", if i == 0 { "" } else { " ;" });
            }
            out.push_str(" .\n");
        }
        out
    }
}

/// A prefixed name as a full IRI.
fn expand(name: &str) -> String {
    let (prefix, local) = name.split_once(':').unwrap_or(("", name));
    PREFIXES.iter().find(|(p, _)| *p == prefix).map_or_else(|| name.to_owned(), |(_, ns)| format!("{ns}{local}"))
}

/// A full IRI as a prefixed name where a prefix covers it.
fn compact(iri: &str) -> String {
    PREFIXES
        .iter()
        .find_map(|(p, ns)| iri.strip_prefix(ns).map(|local| format!("{p}:{local}")))
        .unwrap_or_else(|| iri.to_owned())
}

/// An IRI as Turtle writes it between `<>`: the characters it may not hold there escaped.
fn iri_text(iri: &str) -> String {
    iri.chars()
        .map(|c| match c {
            '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' | '\0'..=' ' => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// A Turtle string literal.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The EU's data theme of a layer's kind, from the vocabulary DCAT-AP names, and its label.
fn data_theme(layer: &Layer) -> Option<(&'static str, Bilingual)> {
    use layers::Theme;
    let label = |vi: &str, en: &str| Bilingual { vi: vi.into(), en: en.into() };
    Some(match layer.def.theme? {
        Theme::Boundaries | Theme::Places => ("REGI", label("Vùng và đô thị", "Regions and cities")),
        Theme::Zones | Theme::Water | Theme::Parcels => ("ENVI", label("Môi trường", "Environment")),
        Theme::Roads | Theme::Transport | Theme::Logistics => ("TRAN", label("Giao thông", "Transport")),
        Theme::Heritage => ("EDUC", label("Giáo dục, văn hóa và thể thao", "Education, culture and sport")),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// A licence's IRI: a URL as given, an SPDX identifier as its SPDX page.
fn license_iri(license: &str) -> String {
    if license.starts_with("http://") || license.starts_with("https://") {
        license.to_owned()
    } else {
        format!("https://spdx.org/licenses/{license}")
    }
}

/// A lon/lat box as a WKT polygon.
fn box_wkt([x0, y0, x1, y1]: [f64; 4]) -> String {
    format!("POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))")
}

/// A public layer as the catalog describes it.
pub struct Entry<'a> {
    /// The layer.
    pub layer: &'a Layer,
    /// When its data last changed, RFC 3339, when known.
    pub modified: Option<String>,
    /// The public tile packages of it.
    pub packages: Vec<&'a crate::tilesets::Tileset>,
}

/// The catalog of `entries` for a service at `base`.
fn graph(config: &CatalogConfig, base: &str, entries: &[Entry]) -> Graph {
    let mut g = Graph::default();
    let catalog = format!("{base}/catalog");
    let (publisher, contact, api) =
        (format!("{catalog}#publisher"), format!("{catalog}#contact"), format!("{catalog}#features-api"));
    g.a(&catalog, "dcat:Catalog");
    g.both(&catalog, "dct:title", &config.title);
    g.both(&catalog, "dct:description", &config.description);
    g.iri(&catalog, "dct:publisher", &publisher);
    g.link(&catalog, "foaf:homepage", &format!("{base}/"), "foaf:Document");
    g.link(
        &catalog,
        "dct:language",
        "http://publications.europa.eu/resource/authority/language/VIE",
        "dct:LinguisticSystem",
    );
    g.iri(&catalog, "dcat:service", &api);
    if let Some(latest) = entries.iter().filter_map(|e| e.modified.as_deref()).max() {
        g.add(&catalog, "dct:modified", Object::Typed(latest.to_owned(), "xsd:dateTime"));
    }
    for e in entries {
        g.iri(&catalog, "dcat:dataset", &format!("{base}/collections/{}", e.layer.def.id));
    }
    g.a(&publisher, "foaf:Agent");
    g.both(&publisher, "foaf:name", &config.publisher);
    if let Some(url) = &config.publisher_url {
        g.link(&publisher, "foaf:homepage", url, "foaf:Document");
    }
    let has_contact = config.contact_name.is_some() || config.contact_email.is_some();
    if has_contact {
        g.a(&contact, "vcard:Kind");
        g.a(&contact, "vcard:Organization");
        g.add(&contact, "vcard:fn", Object::Text(config.contact_name.clone().unwrap_or_default(), None));
        if let Some(email) = &config.contact_email {
            g.iri(&contact, "vcard:hasEmail", &format!("mailto:{email}"));
        }
    }
    g.a(&api, "dcat:DataService");
    g.add(&api, "dct:title", Object::Text("OGC API - Features".into(), Some("en")));
    g.link(&api, "dcat:endpointURL", &format!("{base}/"), "rdfs:Resource");
    g.link(&api, "dcat:endpointDescription", &format!("{base}/api"), "rdfs:Resource");
    g.link(&api, "dct:conformsTo", "http://www.opengis.net/spec/ogcapi-features-1/1.0", "dct:Standard");
    for e in entries {
        g.iri(&api, "dcat:servesDataset", &format!("{base}/collections/{}", e.layer.def.id));
    }
    for e in entries {
        dataset(&mut g, base, e, &publisher, has_contact.then_some(contact.as_str()), &api);
    }
    g
}

/// One layer's dataset and its distributions.
fn dataset(g: &mut Graph, base: &str, e: &Entry, publisher: &str, contact: Option<&str>, api: &str) {
    let def = &e.layer.def;
    let here = format!("{base}/collections/{}", def.id);
    g.a(&here, "dcat:Dataset");
    g.add(&here, "dct:identifier", Object::Text(def.id.to_string(), None));
    g.translated(&here, "dct:title", &def.title, def.title_en.as_deref());
    g.translated(&here, "dct:description", &def.description, def.description_en.as_deref());
    for k in &def.keywords {
        g.add(&here, "dcat:keyword", Object::Text(k.clone(), None));
    }
    if let Some((code, label)) = data_theme(e.layer) {
        let iri = format!("http://publications.europa.eu/resource/authority/data-theme/{code}");
        g.link(&here, "dcat:theme", &iri, "skos:Concept");
        g.both(&iri, "skos:prefLabel", &label);
    }
    g.iri(&here, "dct:publisher", publisher);
    if let Some(contact) = contact {
        g.iri(&here, "dcat:contactPoint", contact);
    }
    g.link(&here, "dcat:landingPage", &format!("{here}?f=html"), "foaf:Document");
    if let Some(modified) = &e.modified {
        g.add(&here, "dct:modified", Object::Typed(modified.clone(), "xsd:dateTime"));
    }
    if let Some(bbox) = e.layer.bbox() {
        let place = format!("{here}#extent");
        g.iri(&here, "dct:spatial", &place);
        g.a(&place, "dct:Location");
        g.add(&place, "dcat:bbox", Object::Typed(box_wkt(bbox), "gsp:wktLiteral"));
    }
    if let Some([start, end]) = e.layer.time_extent() {
        let period = format!("{here}#period");
        g.iri(&here, "dct:temporal", &period);
        g.a(&period, "dct:PeriodOfTime");
        for (p, t) in [("dcat:startDate", start), ("dcat:endDate", end)] {
            if let Some(t) = t.as_str() {
                g.add(&period, p, Object::Typed(t.to_owned(), "xsd:dateTime"));
            }
        }
    }
    let license = def.license.as_deref().map(license_iri);
    if let Some(license) = &license {
        g.a(license, "dct:LicenseDocument");
    }
    let mut distributions = vec![Distribution {
        url: format!("{here}/items?f=json"),
        media_type: media::GEOJSON,
        file_type: Some("GEOJSON"),
        title: "GeoJSON (OGC API - Features)".into(),
        service: Some(api),
    }];
    distributions.extend(Download::ALL.map(|d| Distribution {
        url: format!("{here}/items?f={}", d.key()),
        media_type: d.media_type(),
        file_type: d.file_type(),
        title: format!("{} file of every feature", d.title()),
        service: None,
    }));
    distributions.extend(e.packages.iter().map(|t| Distribution {
        url: format!("{base}/tilesets/{}", t.file_name()),
        media_type: t.media_type(),
        file_type: None,
        title: format!("{} ({})", t.config.title, t.format.title()),
        service: None,
    }));
    for (i, d) in distributions.into_iter().enumerate() {
        d.add(g, &format!("{here}#distribution-{i}"), &here, license.as_deref());
    }
}

/// One way to get a dataset.
struct Distribution<'a> {
    url: String,
    media_type: &'static str,
    /// Its code in the EU's file-type vocabulary, where it has one.
    file_type: Option<&'static str>,
    title: String,
    /// The API it is served through, when it is an API's answer rather than a file.
    service: Option<&'a str>,
}

impl Distribution<'_> {
    fn add(self, g: &mut Graph, d: &str, dataset: &str, license: Option<&str>) {
        g.iri(dataset, "dcat:distribution", d);
        g.a(d, "dcat:Distribution");
        g.add(d, "dct:title", Object::Text(self.title, Some("en")));
        g.link(d, "dcat:accessURL", &self.url, "rdfs:Resource");
        g.iri(d, "dcat:downloadURL", &self.url);
        // The IANA registry names the type without its parameters.
        let essence = self.media_type.split(';').next().unwrap_or_default().trim();
        let media_iri = format!("http://www.iana.org/assignments/media-types/{essence}");
        g.iri(d, "dcat:mediaType", &media_iri);
        g.a(&media_iri, "dct:MediaType");
        if let Some(code) = self.file_type {
            let format = format!("http://publications.europa.eu/resource/authority/file-type/{code}");
            g.iri(d, "dct:format", &format);
            g.a(&format, "dct:MediaTypeOrExtent");
        }
        if let Some(api) = self.service {
            g.iri(d, "dcat:accessService", api);
        }
        if let Some(license) = license {
            g.iri(d, "dct:license", license);
        }
    }
}

/// The catalog as JSON-LD.
pub fn json_ld(config: &CatalogConfig, base: &str, entries: &[Entry]) -> String {
    graph(config, base, entries).json_ld().to_string()
}

/// The catalog as Turtle.
pub fn turtle(config: &CatalogConfig, base: &str, entries: &[Entry]) -> String {
    graph(config, base, entries).turtle()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turtle_escapes_what_would_end_a_literal_or_an_iri() {
        assert_eq!(quoted("a \"b\"\\\nc"), r#""a \"b\"\\\nc""#);
        assert_eq!(iri_text("http://x/a b>"), "http://x/a\\u0020b\\u003E");
        assert_eq!(compact(&expand("dcat:Dataset")), "dcat:Dataset");
        assert_eq!(expand("dct:title"), "http://purl.org/dc/terms/title");
    }

    #[test]
    fn json_ld_and_turtle_hold_the_same_statements() {
        let mut g = Graph::default();
        g.a("http://x/c", "dcat:Catalog");
        g.both("http://x/c", "dct:title", &Bilingual { vi: "Bản đồ".into(), en: "Map".into() });
        g.add("http://x/c", "dct:modified", Object::Typed("2026-01-01T00:00:00Z".into(), "xsd:dateTime"));
        let ld = g.json_ld();
        let node = &ld["@graph"][0];
        assert_eq!(node["@type"], json!(["dcat:Catalog"]));
        assert_eq!(node["dct:title"][0], json!({ "@value": "Bản đồ", "@language": "vi" }));
        let ttl = g.turtle();
        assert!(ttl.contains("<http://x/c>\n    rdf:type <http://www.w3.org/ns/dcat#Catalog> ;"), "{ttl}");
        assert!(ttl.contains("dct:title \"Map\"@en ;"), "{ttl}");
        assert!(ttl.ends_with("\"2026-01-01T00:00:00Z\"^^xsd:dateTime .\n"), "{ttl}");
    }
}
