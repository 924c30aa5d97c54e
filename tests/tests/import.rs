//! `bando import` against a real PostGIS: every format, VN-2000, repair and de-duplication
//! counts, atomicity, and the bad-input errors.
#![allow(clippy::unwrap_used)]

use std::{fs, process::Command};

use e2e::{TestDb, ogr_feature_count, output, run_ok, samples};

/// One sample file per format the importer reads.
const FORMATS: [(&str, &str); 5] = [
    ("communes.geojson", "communes"),
    ("roads.gpkg", "roads"),
    ("warehouses.shp", "warehouses"),
    ("ports.kml", "ports"),
    ("airports.csv", "airports"),
];

#[test]
fn every_format_imports_with_exact_counts_into_configured_and_new_layers() {
    let db = TestDb::new();
    for (file, layer) in FORMATS {
        let path = samples().join(file);
        let expected = ogr_feature_count(&path);
        assert!(expected > 0, "{file} is empty");
        let table = match layer {
            "communes" => "admin.communes",
            "roads" => "transport.roads",
            "warehouses" => "logistics.warehouses",
            "ports" => "transport.ports",
            _ => "transport.airports",
        };
        let p = path.to_str().unwrap();
        let report = run_ok(&mut db.bando(&["import", p, "--layer", layer]));
        assert_eq!(report_count(&report, "written"), expected, "{file}: {report}");
        assert_eq!(report_count(&report, "read"), expected, "{file}: {report}");
        assert_eq!(db.sql(&format!("SELECT count(*) FROM {table}")), expected.to_string(), "{file}");
        // The same file as a layer that does not exist yet: its table is created from the fields.
        let new_layer = format!("new_{layer}");
        run_ok(&mut db.bando(&["import", p, "--layer", &new_layer]));
        assert_eq!(db.sql(&format!("SELECT count(*) FROM public.{new_layer}")), expected.to_string(), "{file}");
        assert_eq!(db.sql(&format!("SELECT imported FROM bando.layers WHERE id = '{new_layer}'")), "t");
    }
    // Vietnamese text survives every path, and typed columns stay typed.
    assert_eq!(db.sql("SELECT name FROM admin.communes ORDER BY id LIMIT 1"), first_geojson_name("communes.geojson"));
    let cold_stores = run_ok(
        Command::new("ogrinfo")
            .args(["-ro", "-al", "-q", "-where", "name LIKE 'Kho lạnh%'"])
            .arg(samples().join("warehouses.shp")),
    )
    .matches("OGRFeature(")
    .count();
    assert!(cold_stores > 0);
    assert_eq!(
        db.sql("SELECT count(*) FROM logistics.warehouses WHERE name LIKE 'Kho lạnh%'"),
        cold_stores.to_string()
    );
    assert_eq!(
        db.sql("SELECT data_type FROM information_schema.columns WHERE table_name = 'new_roads' AND column_name = 'opened_on'"),
        "date"
    );
    assert_eq!(db.sql("SELECT count(*) FROM bando.import_log WHERE status = 'ok'"), "10");
}

/// A count from the import report that the CLI prints.
fn report_count(report: &str, label: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned()))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label} in report:\n{report}"))
}

fn first_geojson_name(file: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(samples().join(file)).unwrap()).unwrap();
    v["features"][0]["properties"]["name"].as_str().unwrap().to_owned()
}

/// Applies EPSG:6960 with PROJ itself: the inverse TM-3 projection, then the Helmert step that
/// PROJ's own definition of EPSG:6960 gives, then back to degrees.
fn proj_epsg_6960(points: &str) -> Vec<(f64, f64)> {
    let tmerc = run_ok(Command::new("projinfo").args(["EPSG:9210", "-o", "PROJ", "-q", "--single-line"]));
    let tmerc: Vec<&str> =
        tmerc.split_whitespace().filter(|t| !t.starts_with("+towgs84") && *t != "+type=crs").collect();
    let op =
        run_ok(Command::new("projinfo").args(["-k", "operation", "EPSG:6960", "-o", "PROJ", "-q", "--single-line"]));
    let helmert = op.split("+step").find(|s| s.contains("+proj=helmert")).expect("EPSG:6960 is a Helmert step");
    let pipeline = format!(
        "+proj=pipeline +step +inv {} +step +proj=cart +ellps=WGS84 +step {} +step +inv +proj=cart +ellps=WGS84 \
         +step +proj=unitconvert +xy_in=rad +xy_out=deg",
        tmerc.join(" "),
        helmert.trim()
    );
    let mut child = Command::new("cct")
        .args(["-d", "10"])
        .args(pipeline.split_whitespace())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), points.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            (v[0], v[1])
        })
        .collect()
}

fn metres_apart(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dy = (a.1 - b.1) * 110_600.0;
    let dx = (a.0 - b.0) * 111_320.0 * a.1.to_radians().cos();
    dx.hypot(dy)
}

#[test]
fn a_vn2000_shapefile_lands_within_a_centimetre_of_proj_epsg_6960() {
    let db = TestDb::new();
    let shp = samples().join("warehouses.shp");
    run_ok(&mut db.bando(&["import", shp.to_str().unwrap(), "--layer", "warehouses"]));
    // The raw TM-3 coordinates, read by GDAL (not by bando), in file order = id order.
    let csv = run_ok(
        Command::new("ogr2ogr")
            .args(["-f", "CSV", "/vsistdout/", "-lco", "GEOMETRY=AS_XY", "-sql"])
            .arg("SELECT id FROM warehouses ORDER BY id")
            .arg(&shp),
    );
    let mut ids = Vec::new();
    let mut points = String::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        points.push_str(&format!("{} {} 0 0\n", f[0], f[1]));
        ids.push(f[2].to_owned());
    }
    let reference = proj_epsg_6960(&points);
    let stored = db.sql("SELECT ST_X(geom) || ' ' || ST_Y(geom) FROM logistics.warehouses ORDER BY id");
    let stored: Vec<(f64, f64)> = stored
        .lines()
        .map(|l| {
            let (x, y) = l.split_once(' ').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert_eq!(stored.len(), 155);
    assert_eq!(stored.len(), reference.len());
    let worst = stored.iter().zip(&reference).map(|(s, r)| metres_apart(*s, *r)).fold(0.0, f64::max);
    assert!(worst < 0.01, "worst deviation from PROJ's EPSG:6960 is {worst} m");

    // PROJ's default operation (what plain ST_Transform by SRID does) is a different one: this
    // test would catch an importer that used it.
    let default = run_ok(Command::new("sh").arg("-c").arg(format!(
        "printf '{}' | cs2cs -f %.10f EPSG:9210 EPSG:4326",
        points.lines().next().unwrap().rsplit_once(" 0 0").unwrap().0
    )));
    let d: Vec<f64> = default.split_whitespace().take(2).map(|t| t.parse().unwrap()).collect();
    assert!(metres_apart((d[1], d[0]), reference[0]) > 0.3, "PROJ's default should differ here");
}

#[test]
fn repairs_duplicates_and_rejections_are_counted_exactly() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zones.geojson");
    let square = |x: f64| format!("[[[{x},10],[{x}.01,10],[{x}.01,10.01],[{x},10.01],[{x},10]]]");
    let feature = |name: &str, geometry: &str| {
        format!(r#"{{"type":"Feature","properties":{{"name":"{name}","kind":"forest"}},"geometry":{geometry}}}"#)
    };
    let polygon = |x: f64| format!(r#"{{"type":"Polygon","coordinates":{}}}"#, square(x));
    let features = [
        feature("Rừng tràm A", &polygon(105.1)),
        feature("Rừng tràm B", &polygon(105.2)),
        feature("Rừng tràm C", &polygon(105.3)),
        feature("Rừng tràm A", &polygon(105.1)),  // duplicate of A
        feature("Rừng tràm A", &polygon(105.1)),  // and again
        feature("Rừng tràm A2", &polygon(105.1)), // same shape, other name: kept
        // A bow-tie: invalid, ST_MakeValid turns it into two triangles.
        feature(
            "Nơ",
            r#"{"type":"Polygon","coordinates":[[[105.5,10],[105.51,10.01],[105.51,10],[105.5,10.01],[105.5,10]]]}"#,
        ),
        feature("Không hình", "null"),
        feature("Điểm", r#"{"type":"Point","coordinates":[105.6,10]}"#),
        feature("Rỗng", r#"{"type":"MultiPolygon","coordinates":[]}"#), // GDAL reads an empty geometry
        feature("Không có", r#"{"type":"Polygon","coordinates":[]}"#),  // GDAL reads no geometry
    ];
    fs::write(&path, format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))).unwrap();

    let out = run_ok(&mut db.bando(&["import", path.to_str().unwrap(), "--layer", "resource_zones"]));
    let row = db.sql(
        "SELECT rows_read, rows_written, repaired, duplicates_removed, rejected::text FROM bando.import_log ORDER BY id DESC LIMIT 1",
    );
    assert_eq!(
        row, r#"11|5|1|2|{"no geometry": 2, "empty geometry": 1, "geometry type POINT does not fit the layer": 1}"#,
        "report: {out}"
    );
    assert_eq!(db.sql("SELECT count(*) FROM env.resource_zones"), "5");
    assert_eq!(db.sql("SELECT bool_and(ST_IsValid(geom)) FROM env.resource_zones"), "t");
    assert_eq!(db.sql("SELECT ST_NumGeometries(geom) FROM env.resource_zones WHERE name = 'Nơ'"), "2");
    for (label, n) in [("read", 11), ("written", 5), ("repaired", 1), ("duplicates removed", 2), ("rejected", 4)] {
        assert_eq!(report_count(&out, label), n, "{label}");
    }
}

#[test]
fn rows_copied_straight_into_a_new_layer_are_the_file_exactly_and_its_edits_are_captured() {
    let db = TestDb::new();
    // A GeoPackage in EPSG:4326 with its own ids: every row is clean, so every row goes
    // straight into the new table. ogr2ogr's copy of the same file is the reference.
    let roads = samples().join("roads.gpkg");
    run_ok(&mut db.bando(&["import", roads.to_str().unwrap(), "--layer", "straight_roads"]));
    run_ok(Command::new("ogr2ogr").args(["-f", "PostgreSQL", &ogr_connection(&db.url)]).arg(&roads).args([
        "-nln",
        "public.ogr_roads",
        "-lco",
        "GEOMETRY_NAME=geom",
        "-lco",
        "FID=ogr_fid",
    ]));
    let expected = ogr_feature_count(&roads).to_string();
    let same = "SELECT count(*) FROM public.straight_roads b JOIN public.ogr_roads o USING (id)
                WHERE ST_AsEWKB(b.geom) = ST_AsEWKB(o.geom) AND b.name IS NOT DISTINCT FROM o.name
                  AND b.class = o.class AND b.opened_on IS NOT DISTINCT FROM o.opened_on";
    assert_eq!(db.sql(same), expected);
    assert_eq!(db.sql("SELECT count(*) FROM public.straight_roads"), expected);

    // Generated ids follow the file: clean rows, a duplicate, a 3D row and an invalid one (both
    // staged and fixed by PostGIS). A file of polygons makes a multi-polygon layer: the clean
    // polygons are wrapped on the way in as the staged ones are by PostGIS.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.geojson");
    // The second longitude has 14 significant digits: what is stored must keep them all.
    let ring = |x: &str, z: &str| {
        format!("[[{x},10{z}],[{x}2345678901,10{z}],[{x}2345678901,10.01{z}],[{x},10.01{z}],[{x},10{z}]]")
    };
    let feature = |name: &str, geometry: String| {
        format!(r#"{{"type":"Feature","properties":{{"name":"{name}"}},"geometry":{geometry}}}"#)
    };
    let features = [
        feature("one", format!(r#"{{"type":"Polygon","coordinates":[{}]}}"#, ring("105.1", ""))),
        feature("two", format!(r#"{{"type":"Polygon","coordinates":[{}]}}"#, ring("105.2", ""))),
        feature("one", format!(r#"{{"type":"Polygon","coordinates":[{}]}}"#, ring("105.1", ""))),
        feature("three", format!(r#"{{"type":"Polygon","coordinates":[{}]}}"#, ring("105.3", ",5"))),
        feature(
            "four",
            r#"{"type":"Polygon","coordinates":[[[105.5,10],[105.51,10.01],[105.51,10],[105.5,10.01],[105.5,10]]]}"#
                .to_owned(),
        ),
        feature("five", format!(r#"{{"type":"Polygon","coordinates":[{}]}}"#, ring("105.6", ""))),
    ];
    fs::write(&path, format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))).unwrap();
    let out = run_ok(&mut db.bando(&["import", path.to_str().unwrap(), "--layer", "mixed"]));
    assert_eq!(report_count(&out, "duplicates removed"), 1, "{out}");
    assert_eq!(report_count(&out, "repaired"), 1, "{out}");
    assert_eq!(
        db.sql("SELECT string_agg(id || ':' || name || ':' || GeometryType(geom) || ':' || ST_NDims(geom), ' ' ORDER BY id) FROM public.mixed"),
        "1:one:MULTIPOLYGON:2 2:two:MULTIPOLYGON:2 3:three:MULTIPOLYGON:2 4:four:MULTIPOLYGON:2 5:five:MULTIPOLYGON:2"
    );
    assert_eq!(db.sql("SELECT bool_and(ST_IsValid(geom)) FROM public.mixed"), "t");
    assert_eq!(
        db.sql("SELECT ST_AsText(geom, 15) FROM public.mixed WHERE id = 2"),
        "MULTIPOLYGON(((105.2 10,105.22345678901 10,105.22345678901 10.01,105.2 10.01,105.2 10)))"
    );

    // The new table has its spatial index, and its edits reach the change log after the one
    // reload the import recorded.
    assert_eq!(db.sql("SELECT count(*) FROM pg_indexes WHERE tablename = 'mixed' AND indexdef LIKE '%gist%'"), "1");
    db.sql("UPDATE public.mixed SET name = 'five, renamed' WHERE id = 5");
    assert_eq!(
        db.sql("SELECT string_agg(op || coalesce(':' || feature_id, ''), ' ' ORDER BY seq) FROM bando.changes WHERE layer_table = 'public.mixed'"),
        "reload update:5"
    );
}

/// GDAL's `PG:` connection string for a `postgres://user@host:port/db` URL (GDAL appends to
/// the string, which a URL does not survive).
fn ogr_connection(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let (user, rest) = rest.split_once('@').unwrap();
    let (host_port, dbname) = rest.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
    format!("PG:host={host} port={port} dbname={dbname} user={user}")
}

#[test]
fn a_failed_import_leaves_the_layer_exactly_as_it_was() {
    let db = TestDb::new();
    let roads = samples().join("roads.gpkg");
    run_ok(&mut db.bando(&["import", roads.to_str().unwrap(), "--layer", "roads"]));
    let checksum = "SELECT count(*) || ':' || md5(string_agg(id || name || ST_AsEWKB(geom)::text, ',' ORDER BY id)) FROM transport.roads";
    let before = db.sql(checksum);

    // The same roads as CSV, with a bad value late in the file (row 2000 of 2217).
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("roads.csv");
    run_ok(Command::new("ogr2ogr").args(["-f", "CSV", "-lco", "GEOMETRY=AS_WKT"]).arg(&csv).arg(&roads));
    let text = fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let lanes = header.iter().position(|h| h.trim_matches('"') == "lanes").unwrap();
    let bad = lines[2000].clone();
    let mut fields = split_csv(&bad);
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    fields[lanes] = "abc".into();
    lines[2000] = fields.join(",");
    fs::write(&csv, lines.join("\n") + "\n").unwrap();

    for mode in ["replace", "append"] {
        let out =
            output(&mut db.bando(&["import", csv.to_str().unwrap(), "--layer", "roads", "--mode", mode, "--strict"]));
        assert_eq!(out.status.code(), Some(2), "{mode}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("row 2000") && err.contains("`lanes`") && err.contains("\"abc\""), "{err}");
        assert_eq!(db.sql(checksum), before, "{mode} changed the layer");
    }
    assert_eq!(
        db.sql("SELECT count(*) FROM bando.import_log WHERE status = 'failed' AND error LIKE '%row 2000%'"),
        "2"
    );

    // A new layer whose import fails in the database (two features share an id: the table's
    // primary key refuses the second) leaves no table and no catalog entry behind.
    let last = lines.len() - 1;
    let mut fields = split_csv(&lines[last]);
    fields[header.iter().position(|h| h.trim_matches('"') == "id").unwrap()] = "\"1\"".into();
    lines[last] = fields.join(",");
    lines[2000] = bad;
    fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let out = output(&mut db.bando(&["import", csv.to_str().unwrap(), "--layer", "roads_copy", "--strict"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(db.sql("SELECT to_regclass('public.roads_copy') IS NULL AND NOT EXISTS (SELECT 1 FROM bando.layers WHERE id = 'roads_copy')"), "t");
}

#[test]
fn rows_the_table_refuses_are_reported_with_row_field_value_and_reason_and_the_rest_written() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["migrate"]));
    db.sql(
        "CREATE TABLE public.sites (id bigint PRIMARY KEY, name text NOT NULL, rank smallint CHECK (rank BETWEEN 1 AND 3),
                                   geom geometry(Point, 4326) NOT NULL);
         INSERT INTO bando.layers (id, title, schema_name, table_name, geometry_type, imported, access)
         VALUES ('sites', 'Sites', 'public', 'sites', 'Point', true, 'internal')",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sites.geojson");
    let feature = |id: i64, name: &str, rank: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{"id":{id},"name":{name},"rank":{rank}}},"geometry":{{"type":"Point","coordinates":[105.{id},10.0]}}}}"#
        )
    };
    let rows = [
        feature(1, "\"A\"", "\"1\""),
        feature(2, "null", "\"2\""),  // NOT NULL
        feature(3, "\"C\"", "\"x\""), // not an integer
        feature(4, "\"D\"", "\"9\""), // CHECK
        feature(1, "\"E\"", "\"1\""), // duplicate key
        feature(6, "\"F\"", "\"3\""),
    ];
    fs::write(&file, format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, rows.join(","))).unwrap();
    let path = file.to_str().unwrap();

    // --strict: all or nothing.
    let out = output(&mut db.bando(&["import", path, "--layer", "sites", "--strict"]));
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(db.sql("SELECT count(*) FROM public.sites"), "0");

    let report = run_ok(&mut db.bando(&["import", path, "--layer", "sites"]));
    assert_eq!(report_count(&report, "written"), 2, "{report}");
    assert_eq!(report_count(&report, "rejected"), 4, "{report}");
    assert_eq!(db.sql("SELECT string_agg(id || name, ',' ORDER BY id) FROM public.sites"), "1A,6F");
    for line in [
        "row 2, field `name`",
        "row 3, field `rank`, value \"x\": not a valid integer",
        "row 4: new row for relation \"sites\" violates check constraint",
        "row 5: duplicate key value violates unique constraint",
    ] {
        assert!(report.contains(line), "{line:?} is not in:\n{report}");
    }
    let logged = db.sql(
        "SELECT string_agg((r ->> 'row') || ':' || coalesce(r ->> 'field', '-'), ',')
         FROM bando.import_log, jsonb_array_elements(rejected_rows) r WHERE status = 'ok'",
    );
    assert_eq!(logged, "2:name,3:rank,4:-,5:-");
}

/// Splits one line of ogr2ogr's CSV (quoted WKT contains commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                out.last_mut().unwrap().push(c);
            }
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[test]
fn bad_input_gets_a_one_line_error_and_exit_code_2() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("notes.txt"), "just some words, not a map\n").unwrap();
    fs::write(d.join("no_geometry.csv"), "name,population\nCần Thơ,1200000\n").unwrap();
    fs::write(d.join("broken.geojson"), r#"{"type":"FeatureCollection","features":[{"type":"Feature","geo"#).unwrap();
    for ext in ["shp", "shx", "dbf", "cpg"] {
        fs::copy(samples().join(format!("warehouses.{ext}")), d.join(format!("noprj.{ext}"))).unwrap();
    }
    let p = |name: &str| d.join(name).to_str().unwrap().to_owned();
    let communes = samples().join("communes.geojson").to_str().unwrap().to_owned();
    let cases: [(Vec<String>, &str); 6] = [
        (vec![p("missing.shp")], "no such file"),
        (vec![p("notes.txt")], "not a readable"),
        (vec![p("no_geometry.csv")], "no geometry column"),
        (vec![p("broken.geojson")], "not a readable"),
        (vec![p("noprj.shp")], "declares no CRS"),
        (vec![communes, "--src-crs".into(), "EPSG:999999".into()], "EPSG:999999"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["import".to_owned()];
        all.extend(args.clone());
        all.extend(["--layer".to_owned(), "anything".to_owned()]);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = output(&mut db.bando(&refs));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: not one line: {err}");
    }
    assert_eq!(db.sql("SELECT to_regclass('public.anything') IS NULL"), "t");
}

#[test]
fn a_bad_configuration_names_the_file_the_layer_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bando.toml");
    fs::write(
        &config,
        "[layers.roads]\ntitle = \"Roads\"\ngeometry = \"MultiLineString\"\naccess = \"public\"\n\
         source = { table = \"transport.roads\" }\nminzoom = 15\nmaxzoom = 10\n",
    )
    .unwrap();
    let out = output(&mut e2e::bando(&["--config", config.to_str().unwrap(), "serve"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bando.toml: layer `roads`: field `minzoom`"), "{err}");

    fs::write(&config, "[layers.roads]\ntitle = 12\n").unwrap();
    let out = output(&mut e2e::bando(&["--config", config.to_str().unwrap(), "serve"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("layers.roads.title") && err.contains("bando.toml"), "{err}");
}

/// The legacy-encoded samples (made by `data-samples/legacy/make.sh` from `expected.csv`) and
/// the encoding the report must name for their text fields.
const LEGACY_SAMPLES: [(&str, &str); 4] = [
    ("heritage_tcvn3_shp.shp", "TCVN3"),
    ("heritage_vni.csv", "VNI"),
    ("heritage_cp1258.csv", "CP1258"),
    ("heritage_tcvn3_saved_as_utf8.csv", "TCVN3"),
];
const LEGACY_FIELDS: [&str; 3] = ["ten", "loai", "dia_chi"];

/// `expected.csv`'s text fields, one `ten|loai|dia_chi` line per row.
fn legacy_expected() -> String {
    let text = fs::read_to_string(samples().join("legacy/expected.csv")).unwrap();
    let rows: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| split_csv(l)[2..].iter().map(|v| v.trim_matches('"')).collect::<Vec<_>>().join("|"))
        .collect();
    rows.join("\n")
}

fn legacy_rows(db: &TestDb, layer: &str) -> String {
    db.sql(&format!("SELECT string_agg(concat_ws('|', ten, loai, dia_chi), E'\\n' ORDER BY id) FROM public.{layer}"))
}

#[test]
fn legacy_vietnamese_text_imports_as_the_unicode_it_was_and_the_report_names_the_conversion() {
    let db = TestDb::new();
    let dir = samples().join("legacy");
    let expected = legacy_expected();
    assert_eq!(expected.lines().count(), 10);
    // The Unicode original is left exactly as written, and the report says nothing of text.
    let report = run_ok(&mut db.bando(&["import", dir.join("expected.csv").to_str().unwrap(), "--layer", "unicode"]));
    assert!(!report.contains("text `"), "{report}");
    assert_eq!(legacy_rows(&db, "unicode"), expected);
    for (i, (file, from)) in LEGACY_SAMPLES.into_iter().enumerate() {
        let layer = format!("legacy_{i}");
        let path = dir.join(file);
        // The sample really is legacy: its text is not the Unicode it stands for.
        assert!(
            !String::from_utf8_lossy(&fs::read(dir.join(file.replace(".shp", ".dbf"))).unwrap()).contains("Bình Thủy")
        );
        let report = run_ok(&mut db.bando(&["import", path.to_str().unwrap(), "--layer", &layer]));
        for field in LEGACY_FIELDS {
            let line = format!("text `{field}`: converted from {from} (10 values)");
            assert!(report.contains(&line), "{file}: {line:?} is not in:\n{report}");
        }
        assert_eq!(legacy_rows(&db, &layer), expected, "{file}");
        let logged = db.sql(&format!(
            "SELECT string_agg((t ->> 'field') || ':' || (t ->> 'from'), ',') FROM bando.import_log, \
             jsonb_array_elements(text_fields) t WHERE layer_id = '{layer}'"
        ));
        let lower = from.to_lowercase();
        assert_eq!(logged, format!("ten:{lower},loai:{lower},dia_chi:{lower}"), "{file}");
    }
    // Declaring the encoding gives the same text.
    let vni = dir.join("heritage_vni.csv");
    run_ok(&mut db.bando(&["import", vni.to_str().unwrap(), "--layer", "declared", "--text-encoding", "vni"]));
    assert_eq!(legacy_rows(&db, "declared"), expected);
}

#[test]
fn text_no_encoding_explains_is_refused_naming_the_field_and_the_layer_stays_as_it_was() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("unknown.csv");
    // Bytes that are not UTF-8 and read as Vietnamese in no legacy encoding.
    fs::write(&csv, b"lon,lat,ten\n105.75,10.03,\xff\xfe\xfd\xfc\n".as_slice()).unwrap();
    let original = samples().join("legacy/expected.csv");
    run_ok(&mut db.bando(&["import", original.to_str().unwrap(), "--layer", "sites"]));
    let before = legacy_rows(&db, "sites");
    for args in [vec![], vec!["--text-encoding", "utf8"]] {
        let mut all = vec!["import", csv.to_str().unwrap(), "--layer", "sites"];
        all.extend(args.iter().copied());
        let out = output(&mut db.bando(&all));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("field `ten`") && err.contains("--text-encoding"), "{args:?}: {err}");
        assert_eq!(legacy_rows(&db, "sites"), before);
    }
    // A raw TCVN3 Shapefile read as UTF-8 is refused the same way rather than garbled.
    let shp = samples().join("legacy/heritage_tcvn3_shp.shp");
    let out = output(&mut db.bando(&["import", shp.to_str().unwrap(), "--layer", "sites", "--text-encoding", "utf8"]));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(legacy_rows(&db, "sites"), before);
}
