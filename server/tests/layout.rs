//! The shape of the server crate, read from its source: its modules import each other in one
//! direction only, and no route module imports another. Either rule broken makes a module that
//! cannot be read, tested or moved alone.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Each source file under `src/` (but the crate roots), by module path: `routes::items`.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{stem}::"), out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name =
                    if stem == "mod" { prefix.trim_end_matches("::").to_owned() } else { format!("{prefix}{stem}") };
                if !matches!(name.as_str(), "lib" | "main") {
                    out.insert(name, std::fs::read_to_string(&path).unwrap());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut out);
    out
}

/// The first segment of every path after `anchor` (`crate::`, `super::`) in `source`, braces
/// of a `use` group included: `use crate::{a::B, c}` names `a` and `c`.
fn named_after(source: &str, anchor: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut names = BTreeSet::new();
    for (at, _) in source.match_indices(anchor) {
        let rest = &source[at + anchor.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.insert(ident(group[start..i].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(ident(group[start..i].trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

/// The modules in the order `lib.rs` lists them: the names before the colon of each `//! - `.
fn documented_order() -> Vec<String> {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - ")?.split_once(':').map(|(names, _)| names.to_owned()))
        .flat_map(|names| names.split(',').map(|n| n.trim().trim_matches('`').to_owned()).collect::<Vec<_>>())
        .collect()
}

/// Which top-level modules each top-level module imports.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let top = |m: &str| m.split("::").next().unwrap().to_owned();
    let tops: BTreeSet<String> = modules.keys().map(|m| top(m)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, source) in &modules {
        let from = top(module);
        let deps: Vec<String> =
            named_after(source, "crate::").into_iter().filter(|d| tops.contains(d) && *d != from).collect();
        edges.entry(from).or_default().extend(deps);
    }
    edges
}

#[test]
fn the_modules_import_each_other_in_one_direction_only() {
    let edges = imports();
    // Peel off modules that import nothing left; whatever remains is a cycle.
    let mut left = edges.clone();
    while let Some(leaf) = left.iter().find(|(_, deps)| deps.is_empty()).map(|(m, _)| m.clone()) {
        left.remove(&leaf);
        left.values_mut().for_each(|deps| {
            deps.remove(&leaf);
        });
    }
    assert!(left.is_empty(), "these modules import each other in a cycle: {left:?}");
    assert!(edges.len() > 20, "only {} modules found", edges.len());
}

#[test]
fn each_module_imports_only_those_lib_rs_lists_before_it() {
    let order = documented_order();
    let position = |m: &str| order.iter().position(|o| o == m);
    for (module, deps) in imports() {
        let at = position(&module).unwrap_or_else(|| panic!("{module} is not in the module list of lib.rs"));
        for dep in deps {
            assert!(position(&dep).is_some_and(|d| d < at), "{module} imports {dep}, which lib.rs lists after it");
        }
    }
}

#[test]
fn no_route_module_imports_another() {
    let modules = modules();
    let routes: BTreeSet<&str> = modules.keys().filter_map(|m| m.strip_prefix("routes::")).collect();
    assert!(routes.len() > 5, "{routes:?}");
    for (module, source) in modules.iter().filter(|(m, _)| m.starts_with("routes::")) {
        let mut named = named_after(source, "super::");
        named.extend(named_after(source, "routes::"));
        let siblings: Vec<&String> = named.iter().filter(|n| routes.contains(n.as_str())).collect();
        assert!(siblings.is_empty(), "{module} imports the route modules {siblings:?}");
    }
}

#[test]
fn the_reader_finds_grouped_and_inline_paths() {
    let source = "use crate::{a::B, c::{d, e}, f};\nlet x = crate::g::h();\nuse super::{Endpoint, base_url};";
    let found: Vec<String> = named_after(source, "crate::").into_iter().collect();
    assert_eq!(found, ["a", "c", "f", "g"]);
    assert_eq!(named_after(source, "super::").into_iter().collect::<Vec<_>>(), ["Endpoint", "base_url"]);
}
