//! The change capture does not make concurrent writers of one layer wait on each other. Alone in
//! its test binary, so that no other test shares the two cores while it measures.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use e2e::{TestDb, run_ok};

/// Inserts per second into heritage.sites from `clients` connections for two seconds.
fn inserts_per_second(db: &TestDb, script: &std::path::Path, clients: u32) -> f64 {
    let out = run_ok(Command::new("pgbench").args(["-n", "-T", "2", "-j", "2", "-f"]).arg(script).args([
        "-c",
        &clients.to_string(),
        &db.url,
    ]));
    let tps = out.lines().find_map(|l| l.strip_prefix("tps = ")).unwrap_or_else(|| panic!("{out}"));
    tps.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn concurrent_writers_to_one_layer_do_not_queue_behind_the_change_capture() {
    let db = TestDb::new();
    run_ok(&mut db.bando(&["migrate"]));
    db.sql("CREATE SEQUENCE bench_ids START 1000000");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("insert.sql");
    std::fs::write(
        &script,
        "INSERT INTO heritage.sites (id, name, kind, rank, geom)
         VALUES (nextval('bench_ids'), 'x', 'đình', 'provincial', ST_SetSRID(ST_MakePoint(105.7, 10.0), 4326));\n",
    )
    .unwrap();
    let one = inserts_per_second(&db, &script, 1);
    let eight = inserts_per_second(&db, &script, 8);
    println!("single-row inserts per second: {one:.0} with 1 connection, {eight:.0} with 8");
    assert!(eight > 1.3 * one, "8 connections: {eight:.0}/s, 1 connection: {one:.0}/s");
    // Every insert is in the log.
    assert_eq!(
        db.sql("SELECT count(*) FROM bando.changes WHERE layer_table = 'heritage.sites' AND op = 'insert'"),
        db.sql("SELECT count(*) FROM heritage.sites")
    );
}
