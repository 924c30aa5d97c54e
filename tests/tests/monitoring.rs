//! Environmental monitoring through the SensorThings API: a real SensorThings client
//! (frost-sta-client) against the server, alerts opened and closed by thresholds as the stream
//! shows them, "no data" for a silent station, batches refused whole, the roles that may write,
//! and readings kept across a SIGKILL.
#![allow(clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    sync::mpsc,
    time::{Duration, Instant},
};

use e2e::{Server, TestDb, run_ok};
use reqwest::{StatusCode, blocking::Client};
use serde_json::{Value, json};

/// QCVN 40:2011/BTNMT column B limit for COD (150 mg/L, times the station's Kq × Kf), and a
/// run of two readings back within it closes an alert.
const ALERTS: &str = "{thresholds=[{parameter=\"COD\", class=\"B\", max=150.0, flow_factors=true}, \
                      {parameter=\"pH\", min=5.5, max=9.0}], clear_after=2}";

fn serve(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let mut cmd = db.bando(&[]);
    cmd.env("BANDO_MONITORING__ALERTS", ALERTS);
    cmd.env("BANDO_DATABASE__CHANGE_POLL_MS", "20");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server::start(cmd)
}

fn key(db: &TestDb, role: &str) -> String {
    run_ok(&mut db.bando(&["keys", "create", "--role", role])).trim().to_owned()
}

/// The public part of a key, `bando_<id>_<secret>`.
fn key_id(key: &str) -> &str {
    key.split('_').nth(1).unwrap()
}

fn post(server: &Server, path: &str, key: Option<&str>, body: &Value) -> reqwest::blocking::Response {
    let mut request = Client::new().post(format!("{}/sta/v1.1/{path}", server.base)).json(body);
    if let Some(key) = key {
        // As SensorThings clients send it: HTTP Basic, the key as the password.
        request = request.basic_auth("device", Some(key));
    }
    request.send().unwrap()
}

fn created_id(response: reqwest::blocking::Response) -> i64 {
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().unwrap_or_default());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit_once('(').unwrap().1.trim_end_matches(')');
    id.parse().unwrap()
}

/// A station of class B (Kq 0.9, so COD is over above 135 mg/L) reporting COD and pH, its
/// readings posted by the key `station_key`: the Datastreams' ids.
fn station(server: &Server, operator: &str, station_key: &str) -> (i64, i64) {
    let thing = json!({
        "name": "Trạm quan trắc KCN Hưng Phú",
        "description": "Nước thải sau xử lý, Cái Răng, Cần Thơ",
        "properties": {"class": "B", "kq": 0.9, "kf": 1.0, "station_key": station_key},
        "Locations": [{"name": "Cống xả Hưng Phú", "description": "Sông Hậu", "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": [105.8013, 10.0132]}}],
        "Datastreams": [
            {"name": "COD Hưng Phú", "description": "COD", "observationType": "OM_Measurement",
             "unitOfMeasurement": {"name": "milligram per litre", "symbol": "mg/L", "definition": "ucum:mg/L"},
             "Sensor": {"name": "COD probe", "description": "UV-Vis", "encodingType": "text/plain", "metadata": "-"},
             "ObservedProperty": {"name": "COD", "definition": "COD", "description": "Nhu cầu oxy hóa học"}},
            {"name": "pH Hưng Phú", "description": "pH", "observationType": "OM_Measurement",
             "unitOfMeasurement": {"name": "pH", "symbol": "pH", "definition": "ucum:[pH]"},
             "Sensor": {"name": "pH probe", "description": "glass electrode", "encodingType": "text/plain", "metadata": "-"},
             "ObservedProperty": {"name": "pH", "definition": "pH", "description": "pH"}}
        ]
    });
    let thing = created_id(post(server, "Things", Some(operator), &thing));
    let streams: Value = server.json(&format!("/sta/v1.1/Things({thing})/Datastreams?$orderby=id"));
    let ids: Vec<i64> = streams["value"].as_array().unwrap().iter().map(|d| d["@iot.id"].as_i64().unwrap()).collect();
    (ids[0], ids[1])
}

/// What `probe` finds within 5 s.
fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "not seen within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The station's feature in the stations layer, once the layer shows it.
fn station_shown(server: &Server, thing: i64) -> Option<Value> {
    let r = server.get(&format!("/collections/monitoring_stations/items/{thing}"));
    (r.status() == 200).then(|| r.json().unwrap())
}

/// The alert stream's events: (id, event, data).
type Event = (i64, String, Value);

fn alert_stream(server: &Server, last_event: Option<i64>) -> mpsc::Receiver<Event> {
    let mut request = Client::builder().timeout(None).build().unwrap().get(format!("{}/alerts/stream", server.base));
    if let Some(id) = last_event {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut id, mut event, mut data) = (None, None, None);
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { return };
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(serde_json::from_str(v.trim()).unwrap());
            } else if line.is_empty()
                && let (Some(i), Some(e), Some(d)) = (id.take(), event.take(), data.take())
                && tx.send((i, e, d)).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// A webhook receiver on a loopback port that answers 500 to its first `failures` requests:
/// its URL, and each request it took (headers, body, when).
fn receiver(failures: usize) -> (String, mpsc::Receiver<(String, String, Instant)>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ioc/alerts", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            while !head.ends_with("\r\n\r\n") {
                if reader.read_line(&mut head).unwrap_or(0) == 0 {
                    break;
                }
            }
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = if n < failures { "500 Internal Server Error" } else { "200 OK" };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes());
            if n >= failures && tx.send((head, String::from_utf8(body).unwrap(), Instant::now())).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// Each SensorThings path is answered 400 with a problem document.
fn assert_refused(server: &Server, paths: &[&str]) {
    for bad in paths {
        let r = server.get(&format!("/sta/v1.1/{bad}"));
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}

fn observe(server: &Server, key: &str, datastream: i64, result: f64) -> StatusCode {
    post(server, "Observations", Some(key), &json!({"result": result, "Datastream": {"@iot.id": datastream}})).status()
}

#[test]
fn a_sensorthings_client_creates_a_station_posts_readings_and_queries_them() {
    let db = TestDb::new();
    let operator = key(&db, "editor");
    let server = serve(&db, &[]);
    let python = std::env::var("STA_CLIENT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = e2e::repo().join("tests/scripts/sensorthings_client.py");
    let out = e2e::output(std::process::Command::new(&python).arg(&script).args([server.base.as_str(), &operator]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{python} {}: {stdout}{}", script.display(), String::from_utf8_lossy(&out.stderr));
    let read: Value = serde_json::from_str(stdout.trim()).unwrap();
    let ds = read["datastream"].as_i64().unwrap();
    let results = |sql: &str| -> Value {
        let text = db.sql(&format!(
            "SELECT coalesce(json_agg(result ORDER BY {sql}), '[]') FROM sta.observations WHERE datastream_id = {ds}"
        ));
        serde_json::from_str(&text).unwrap()
    };
    // What the client read through $filter, $orderby and the pages it followed is the table.
    let over = db.sql(&format!(
        "SELECT json_agg(result ORDER BY phenomenon_time DESC) FROM sta.observations \
         WHERE datastream_id = {ds} AND (result #>> '{{}}')::float8 > 100"
    ));
    assert_eq!(read["over"], serde_json::from_str::<Value>(&over).unwrap());
    // The client's batch: a link per reading, in its order, to what was stored.
    let batch = db.sql(&format!(
        "SELECT json_agg('{}/sta/v1.1/Observations(' || id || ')' ORDER BY phenomenon_time) FROM sta.observations \
         WHERE datastream_id = {ds} AND phenomenon_time >= '2026-03-01T10:00:00+07'",
        server.base
    ));
    assert_eq!(read["batch_links"], serde_json::from_str::<Value>(&batch).unwrap());
    assert_eq!(read["all"], results("phenomenon_time"));
    assert!(read["over"].as_array().unwrap().len() > 2, "more than one page was followed: {read}");
    assert_eq!(
        read["count"].as_i64().unwrap().to_string(),
        db.sql(&format!("SELECT count(*) FROM sta.observations WHERE datastream_id = {ds}"))
    );
    assert_eq!(
        read["expanded_datastreams"],
        json!([db.sql(&format!("SELECT name FROM sta.datastreams WHERE id = {ds}"))])
    );
    assert_eq!(read["expanded_location"], json!([105.7302, 10.0971]));
    // `$top=0` counts without a page (and links to none); bad requests are 4xx, never 5xx.
    let counted = server.json("/sta/v1.1/Observations?$top=0&$count=true");
    assert_eq!((counted["value"].as_array().unwrap().len(), counted.get("@iot.nextLink")), (0, None));
    assert_eq!(counted["@iot.count"], read["count"]);
    assert_refused(
        &server,
        &[
            "Things?$filter=endswith(name)",
            "Locations?$filter=st_within(location,geography'POINT(1')",
            "Things?$expand=Datastreams/Thing/Datastreams/Thing/Datastreams",
            "Things?$top=-1",
        ],
    );
    let wrong = post(&server, &format!("Things({})", read["thing"]), Some(&operator), &json!({}));
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET, HEAD, PATCH, DELETE");
    // Readings that named no feature of interest got the station's Location as one, made once.
    let thing = read["thing"].as_i64().unwrap();
    assert_eq!(db.sql("SELECT count(DISTINCT feature_id) FROM sta.observations"), "1");
    let foi = server
        .json(&format!("/sta/v1.1/Things({thing})/Datastreams({ds})/Observations?$top=1&$expand=FeatureOfInterest"));
    assert_eq!(foi["value"][0]["FeatureOfInterest"]["feature"]["coordinates"], json!([105.7302, 10.0971]));
}

#[test]
fn a_reading_over_the_limit_opens_one_alert_that_readings_back_within_it_close() {
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, ph) = station(&server, &operator, key_id(&device));
    let events = alert_stream(&server, None);
    let sent = Instant::now();
    assert_eq!(observe(&server, &device, cod, 120.0), StatusCode::CREATED, "within 135");
    assert_eq!(observe(&server, &device, cod, 140.0), StatusCode::CREATED);
    let (first, event, alert) = events.recv_timeout(Duration::from_secs(5)).expect("an alert event");
    assert!(sent.elapsed() < Duration::from_secs(5));
    assert_eq!(event, "opened");
    assert_eq!(alert["kind"], "limit");
    assert_eq!(alert["parameter"], "COD");
    assert_eq!(alert["value"], 140.0);
    assert_eq!(alert["upperLimit"], 150.0 * 0.9);
    assert_eq!(alert["thing"]["name"], "Trạm quan trắc KCN Hưng Phú");
    for v in [150.0, 130.0, 160.0] {
        assert_eq!(observe(&server, &device, cod, v), StatusCode::CREATED);
    }
    // 150 and 160 update it; the single 130 between them does not close it.
    let updates: Vec<Event> = (0..2).map(|_| events.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
    assert!(updates.iter().all(|(_, e, a)| e == "updated" && a["id"] == alert["id"]), "{updates:?}");
    assert_eq!(updates[1].2["worstValue"], 160.0);
    assert_eq!(observe(&server, &device, cod, 100.0), StatusCode::CREATED);
    assert_eq!(observe(&server, &device, cod, 90.0), StatusCode::CREATED);
    let (_, event, closed) = events.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((event.as_str(), &closed["id"], &closed["status"]), ("closed", &alert["id"], &json!("closed")));
    // pH below 5.5 is over its lower limit, without flow factors.
    assert_eq!(observe(&server, &device, ph, 5.2), StatusCode::CREATED);
    let (_, event, low) = events.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((event.as_str(), &low["parameter"], &low["lowerLimit"]), ("opened", &json!("pH"), &json!(5.5)));
    assert_eq!(db.sql("SELECT count(*) FROM sta.alerts WHERE kind = 'limit'"), "2");
    // The stations layer shows the station's latest readings and its status, as any layer does.
    let thing = low["thing"]["id"].as_i64().unwrap();
    let shown = wait_for(|| station_shown(&server, thing).filter(|f| f["properties"]["status"] == "alert"));
    assert_eq!(shown["properties"]["latest"], "COD 90.0 mg/L; pH 5.2 pH [alert]");
    assert_eq!(shown["properties"]["open_alerts"], 1);
    assert_eq!(shown["geometry"]["coordinates"], json!([105.8013, 10.0132]));
    // A reconnecting client gets what it missed, in order.
    let replay = alert_stream(&server, Some(first));
    let again: Vec<String> = (0..4).map(|_| replay.recv_timeout(Duration::from_secs(5)).unwrap().1).collect();
    assert_eq!(again, ["updated", "updated", "closed", "opened"]);
    // An operator acknowledges the open one; anyone else may not.
    let ack = |key: Option<&str>| {
        let mut r = Client::new().post(format!("{}/alerts/{}/acknowledge", server.base, low["id"]));
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send().unwrap()
    };
    assert_eq!(ack(None).status(), 401);
    assert_eq!(ack(Some(&device)).status(), 403);
    let acked: Value = ack(Some(&operator)).json().unwrap();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledgedBy"], key_id(&operator));
    let open: Value = server.json("/alerts");
    assert_eq!(open["alerts"].as_array().unwrap().len(), 1);
    // The alerts are a collection as well, at their station, filtered as any other.
    let cod_alerts = wait_for(|| {
        let r = server.get("/collections/alerts/items?filter=parameter%3D%27COD%27&f=json");
        let page: Value = if r.status() == 200 { r.json().unwrap() } else { return None };
        (page["numberMatched"] == 1 && page["features"][0]["properties"]["status"] == "closed").then_some(page)
    });
    assert_eq!(cod_alerts["features"][0]["geometry"]["coordinates"], json!([105.8013, 10.0132]));
    assert_eq!(cod_alerts["features"][0]["id"], alert["id"]);
    let acked = wait_for(|| {
        let page = server.json("/collections/alerts/items?filter=status%3D%27acknowledged%27&f=json");
        (page["numberMatched"] == 1).then_some(page)
    });
    assert_eq!(acked["features"][0]["properties"]["parameter"], "pH");
}

#[test]
fn alerts_reach_the_webhook_signed_in_order_and_after_it_recovers() {
    use hmac::{KeyInit, Mac};
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let (url, delivered) = receiver(2);
    let hooks = format!("[{{url=\"{url}\", secret=\"s3cret\"}}]");
    let server = serve(&db, &[("BANDO_MONITORING__WEBHOOKS", &hooks)]);
    let (cod, _) = station(&server, &operator, key_id(&device));
    let events = alert_stream(&server, None);
    for v in [140.0, 100.0, 90.0] {
        assert_eq!(observe(&server, &device, cod, v), StatusCode::CREATED);
    }
    let streamed: Vec<Event> = (0..2).map(|_| events.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
    // The receiver failed twice first: the opening is delivered after the retries, then the close.
    let got: Vec<(String, String, Instant)> =
        (0..2).map(|_| delivered.recv_timeout(Duration::from_secs(10)).expect("a delivery")).collect();
    for ((head, body, _), (seq, event, alert)) in got.iter().zip(&streamed) {
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!((&sent["id"], &sent["sequence"], &sent["event"]), (&alert["id"], &json!(seq), &json!(event)));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(head.to_ascii_lowercase().contains(&format!("x-bando-signature: sha256={hex}")), "{head}");
        assert!(head.to_ascii_lowercase().contains(&format!("x-bando-event: {event}")), "{head}");
    }
    // Once it answers, a new alert reaches it within a second.
    let sent = Instant::now();
    assert_eq!(observe(&server, &device, cod, 170.0), StatusCode::CREATED);
    let (_, body, at) = delivered.recv_timeout(Duration::from_secs(5)).expect("a delivery");
    assert!(at.duration_since(sent) < Duration::from_secs(1), "{:?}", at.duration_since(sent));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["event"], "opened");
    assert_eq!(db.sql("SELECT seq FROM sta.webhook_cursors"), db.sql("SELECT max(seq) FROM sta.alert_events"));
}

#[test]
fn a_station_that_stops_reporting_raises_no_data_and_its_next_reading_clears_it() {
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let server = serve(&db, &[("BANDO_MONITORING__CHECK_S", "1")]);
    let (cod, _) = station(&server, &operator, key_id(&device));
    let events = alert_stream(&server, None);
    // This datastream reports every 2 s; its last reading is 5 s old.
    db.sql(&format!("UPDATE sta.datastreams SET properties = '{{\"reportingInterval\": 2}}' WHERE id = {cod}"));
    let old = json!({"result": 80.0, "phenomenonTime": "2020-01-01T00:00:00Z", "Datastream": {"@iot.id": cod}});
    assert_eq!(post(&server, "Observations", Some(&device), &old).status(), StatusCode::CREATED);
    let (_, event, alert) = events.recv_timeout(Duration::from_secs(10)).expect("a no-data alert");
    assert_eq!((event.as_str(), &alert["kind"], &alert["datastream"]), ("opened", &json!("no_data"), &json!(cod)));
    assert_eq!(observe(&server, &device, cod, 81.0), StatusCode::CREATED);
    let (_, event, cleared) = events.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((event.as_str(), &cleared["id"]), ("closed", &alert["id"]));
}

#[test]
fn a_batch_with_one_bad_reading_is_refused_whole_with_a_pointer_to_it() {
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let (reader, stranger) = (key(&db, "agency"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, ph) = station(&server, &operator, key_id(&device));
    let rows: Vec<Value> =
        (0..500).map(|i| json!([format!("2026-03-01T00:{:02}:{:02}Z", i / 60, i % 60), 70 + i % 10])).collect();
    let mut bad = rows.clone();
    bad[321] = json!(["2026-03-01T05:21:00Z", 71, "extra"]);
    let batch = |rows: &[Value]| json!([{"Datastream": {"@iot.id": cod}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
    let refused = post(&server, "CreateObservations", Some(&device), &batch(&bad));
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let problem: Value = refused.json().unwrap();
    assert_eq!(problem["pointer"], "/0/dataArray/321");
    let mut bad = rows.clone();
    bad[7] = json!(["2026-02-30T00:00:00Z", 71]);
    let problem: Value = post(&server, "CreateObservations", Some(&device), &batch(&bad)).json().unwrap();
    assert_eq!(problem["pointer"], "/0/dataArray/7/0");
    assert_eq!(db.sql("SELECT count(*) FROM sta.observations"), "0", "nothing of a refused batch is kept");
    let accepted = post(&server, "CreateObservations", Some(&device), &batch(&rows));
    assert_eq!(accepted.status(), 201);
    let links: Vec<String> = accepted.json().unwrap();
    assert_eq!(links.len(), 500);
    assert_eq!(db.sql("SELECT count(*) FROM sta.observations"), "500");
    let last: Value = Client::new().get(&links[499]).send().unwrap().json().unwrap();
    assert_eq!((last["result"].as_f64(), last["phenomenonTime"].as_str()), (Some(79.0), Some("2026-03-01T00:08:19Z")));
    // Access: no key, a reading role, another station's key.
    let one = json!({"result": 7.0, "Datastream": {"@iot.id": ph}});
    assert_eq!(post(&server, "Observations", None, &one).status(), 401);
    assert_eq!(post(&server, "Observations", Some(&reader), &one).status(), 403);
    assert_eq!(post(&server, "Observations", Some(&stranger), &one).status(), 403);
    assert_eq!(post(&server, "Things", Some(&device), &json!({"name": "x", "description": "y"})).status(), 403);
    assert_eq!(post(&server, "Observations", Some(&device), &one).status(), 201);
    // Reads follow the stations layer's access level: made internal, anonymous callers see nothing.
    run_ok(&mut db.bando(&["layers", "set", "monitoring_stations", "--access", "internal"]));
    wait_for(|| (server.get("/sta/v1.1/Things").status() == 404).then_some(()));
    assert_eq!(server.get("/alerts").status(), 404);
    let as_agency =
        Client::new().get(format!("{}/sta/v1.1/Things", server.base)).basic_auth("a", Some(&reader)).send().unwrap();
    assert_eq!(as_agency.status(), 200);
}

#[test]
fn readings_posted_at_once_are_each_answered_as_stored_and_a_bad_one_fails_alone() {
    let db = TestDb::new();
    let (operator, device, stranger) = (key(&db, "editor"), key(&db, "station"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, ph) = station(&server, &operator, key_id(&device));
    let (theirs, _) = station(&server, &operator, key_id(&stranger));
    // Sent together, so that they queue for the same transactions: 40 good readings, one to
    // another station's datastream, one to no datastream, one that is not a reading.
    let mut sends: Vec<(String, Value)> = (0..40)
        .map(|i| {
            let stream = if i % 2 == 0 { cod } else { ph };
            (device.clone(), json!({"result": 7.0 + f64::from(i) / 8.0, "Datastream": {"@iot.id": stream}}))
        })
        .collect();
    sends.push((device.clone(), json!({"result": 1.0, "Datastream": {"@iot.id": theirs}})));
    sends.push((device.clone(), json!({"result": 1.0, "Datastream": {"@iot.id": 999_999}})));
    sends.push((device.clone(), json!({"result": 1.0, "Datastream": {"@iot.id": cod}, "phenomenonTime": "never"})));
    let start = std::sync::Arc::new(std::sync::Barrier::new(sends.len()));
    let answers: Vec<(StatusCode, Value)> = std::thread::scope(|scope| {
        let threads: Vec<_> = sends
            .iter()
            .map(|(key, body)| {
                let (start, server) = (start.clone(), &server);
                scope.spawn(move || {
                    start.wait();
                    let r = post(server, "Observations", Some(key), body);
                    (r.status(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for ((_, sent), (status, answer)) in sends.iter().zip(&answers).take(40) {
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["result"], sent["result"]);
        let stored: Value = server.json(&format!("/sta/v1.1/Observations({})", answer["@iot.id"]));
        assert_eq!(answer, &stored, "the answer is the reading as stored");
    }
    let statuses: Vec<u16> = answers[40..].iter().map(|(s, _)| s.as_u16()).collect();
    assert_eq!(statuses, [403, 400, 400]);
    assert_eq!(answers[42].1["pointer"], "/phenomenonTime");
    assert_eq!(db.sql(&format!("SELECT count(*) FROM sta.observations WHERE datastream_id IN ({cod}, {ph})")), "40");
    assert_eq!(db.sql(&format!("SELECT count(*) FROM sta.observations WHERE datastream_id = {theirs}")), "0");
}

fn send(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<(&str, &Value)>,
) -> reqwest::blocking::Response {
    let mut r = Client::new().request(method, format!("{}/sta/v1.1/{path}", server.base)).basic_auth("d", Some(key));
    if let Some((media_type, body)) = body {
        r = r.header("content-type", media_type).body(body.to_string());
    }
    r.send().unwrap()
}

#[test]
fn entities_are_changed_by_merge_patch_and_deleted_with_what_depends_on_them() {
    use reqwest::Method;
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, ph) = station(&server, &operator, key_id(&device));
    assert_eq!(observe(&server, &device, cod, 100.0), StatusCode::CREATED);
    let thing: i64 = db.sql(&format!("SELECT thing_id FROM sta.datastreams WHERE id = {cod}")).parse().unwrap();
    let obs: i64 = db.sql(&format!("SELECT id FROM sta.observations WHERE datastream_id = {cod}")).parse().unwrap();
    let merge = "application/merge-patch+json";
    // A Thing renamed: the members given change, the others stay; the stations layer follows.
    let renamed = send(
        &server,
        Method::PATCH,
        &format!("Things({thing})"),
        &operator,
        Some((merge, &json!({"name": "Trạm Hưng Phú 1"}))),
    );
    let (status, renamed): (StatusCode, Value) = (renamed.status(), renamed.json().unwrap());
    assert_eq!(status, 200, "{renamed}");
    assert_eq!((&renamed["name"], &renamed["properties"]["class"]), (&json!("Trạm Hưng Phú 1"), &json!("B")));
    wait_for(|| station_shown(&server, thing).filter(|f| f["properties"]["name"] == "Trạm Hưng Phú 1"));
    let fixed = send(
        &server,
        Method::PATCH,
        &format!("Observations({obs})"),
        &operator,
        Some(("application/json", &json!({"result": 99.5}))),
    );
    assert_eq!(fixed.status(), 200, "{}", fixed.text().unwrap());
    assert_eq!(server.json(&format!("/sta/v1.1/Observations({obs})"))["result"], 99.5);
    // Refused: an unknown member (named), a JSON Patch document, a station's key, a missing entity.
    let unknown =
        send(&server, Method::PATCH, &format!("Things({thing})"), &operator, Some((merge, &json!({"colour": "red"}))));
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.json::<Value>().unwrap()["pointer"], "/colour");
    let json_patch = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let refused = send(
        &server,
        Method::PATCH,
        &format!("Things({thing})"),
        &operator,
        Some(("application/json-patch+json", &json_patch)),
    );
    assert_eq!(refused.status(), 415);
    assert_eq!(
        send(&server, Method::PATCH, &format!("Things({thing})"), &device, Some((merge, &json!({"name": "x"}))))
            .status(),
        403
    );
    assert_eq!(send(&server, Method::DELETE, &format!("Datastreams({cod})"), &device, None).status(), 403);
    assert_eq!(send(&server, Method::DELETE, "Datastreams(999999)", &operator, None).status(), 404);
    // A Datastream deleted takes its Observations; the Thing deleted takes the rest and its station.
    assert_eq!(send(&server, Method::DELETE, &format!("Datastreams({cod})"), &operator, None).status(), 200);
    assert_eq!(server.get(&format!("/sta/v1.1/Datastreams({cod})")).status(), 404);
    assert_eq!(db.sql(&format!("SELECT count(*) FROM sta.observations WHERE datastream_id = {cod}")), "0");
    assert_eq!(send(&server, Method::DELETE, &format!("Things({thing})"), &operator, None).status(), 200);
    assert_eq!(db.sql(&format!("SELECT count(*) FROM sta.datastreams WHERE id = {ph}")), "0");
    wait_for(|| station_shown(&server, thing).is_none().then_some(()));
}

#[test]
fn observations_are_read_as_data_arrays_and_paths_as_association_links() {
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, ph) = station(&server, &operator, key_id(&device));
    let rows = |values: &[f64]| -> Vec<Value> {
        values.iter().enumerate().map(|(i, v)| json!([format!("2026-12-01T0{i}:30:00Z"), v])).collect()
    };
    let batch = json!([
        {"Datastream": {"@iot.id": ph}, "components": ["phenomenonTime", "result"], "dataArray": rows(&[7.1, 7.3])},
        {"Datastream": {"@iot.id": cod}, "components": ["phenomenonTime", "result"], "dataArray": rows(&[80.0, 95.5, 101.0])},
    ]);
    assert_eq!(post(&server, "CreateObservations", Some(&device), &batch).status(), StatusCode::CREATED);
    let root = server.json("/sta/v1.1");
    let data_array = json!("http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array");
    assert!(root["serverSettings"]["conformance"].as_array().unwrap().contains(&data_array), "{root}");
    // As the table holds them, grouped by Datastream in the order of each one's first reading.
    let stored = |d: i64| -> Value {
        let sql = format!(
            "SELECT json_agg(json_build_array(id, sta.iso(phenomenon_time), result) ORDER BY phenomenon_time, id) \
             FROM sta.observations WHERE datastream_id = {d}"
        );
        serde_json::from_str(&db.sql(&sql)).unwrap()
    };
    let page = server.json("/sta/v1.1/Observations?$resultFormat=dataArray&$orderby=phenomenonTime&$count=true");
    assert_eq!(page["@iot.count"], 5);
    let groups = page["value"].as_array().unwrap();
    let link = |d: i64| json!(format!("{}/sta/v1.1/Datastreams({d})", server.base));
    assert_eq!(
        groups.iter().map(|g| g["Datastream@iot.navigationLink"].clone()).collect::<Vec<_>>(),
        [link(ph), link(cod)]
    );
    let all = ["id", "phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters"];
    assert_eq!(groups[0]["components"], json!(all));
    for (group, d) in groups.iter().zip([ph, cod]) {
        let firsts: Vec<Value> =
            group["dataArray"].as_array().unwrap().iter().map(|r| json!(r.as_array().unwrap()[..3])).collect();
        assert_eq!(json!(firsts), stored(d), "{group}");
    }
    // `$select` names the components; the pages follow one another with the format kept.
    let mut url = format!(
        "/sta/v1.1/Datastreams({cod})/Observations?$resultFormat=dataArray&$select=id,phenomenonTime,result&$orderby=phenomenonTime&$top=2"
    );
    let mut read = Vec::new();
    loop {
        let page = server.json(&url);
        assert_eq!(page["value"][0]["components"], json!(["id", "phenomenonTime", "result"]));
        read.extend(page["value"][0]["dataArray"].as_array().unwrap().iter().cloned());
        let Some(next) = page["@iot.nextLink"].as_str() else { break };
        assert!(next.contains("$resultFormat=dataArray"), "{next}");
        url = next.strip_prefix(&server.base).unwrap().to_owned();
    }
    assert_eq!(json!(read), stored(cod));
    assert_refused(
        &server,
        &[
            "Things?$resultFormat=dataArray",
            "Observations?$resultFormat=dataArray&$expand=Datastream",
            "Observations?$resultFormat=dataArray&$select=Datastream",
            "Observations?$resultFormat=csv",
        ],
    );
    // `$ref`: the selfLinks alone, of a collection (paged, counted) or of the one entity.
    let thing: i64 = db.sql(&format!("SELECT thing_id FROM sta.datastreams WHERE id = {cod}")).parse().unwrap();
    let refs = server.json(&format!("/sta/v1.1/Things({thing})/Datastreams/$ref?$orderby=id&$expand=Sensor"));
    let sta = format!("{}/sta/v1.1", server.base);
    assert_eq!(
        refs,
        json!({"value": [{"@iot.selfLink": format!("{sta}/Datastreams({cod})")}, {"@iot.selfLink": format!("{sta}/Datastreams({ph})")}]})
    );
    assert_eq!(
        server.json(&format!("/sta/v1.1/Datastreams({cod})/Thing/$ref")),
        json!({"@iot.selfLink": format!("{sta}/Things({thing})")})
    );
    let paged = server.json(&format!("/sta/v1.1/Datastreams({cod})/Observations/$ref?$top=2&$count=true"));
    assert_eq!((paged["@iot.count"].as_i64(), paged["value"].as_array().unwrap().len()), (Some(3), 2));
    let next = paged["@iot.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{sta}/Datastreams({cod})/Observations/$ref?")), "{next}");
    assert_eq!(server.get(&format!("/sta/v1.1/Things({thing})/name/$ref")).status(), 400);
}

#[test]
fn a_corrected_or_deleted_reading_re_runs_the_alerts_it_belonged_to() {
    use reqwest::Method;
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, _) = station(&server, &operator, key_id(&device));
    let events = alert_stream(&server, None);
    let next = || events.recv_timeout(Duration::from_secs(5)).expect("an alert event");
    let at = |minute: u32| format!("2026-12-01T08:{minute:02}:00Z");
    let reading = |minute: u32, result: f64| {
        let body = json!({"result": result, "phenomenonTime": at(minute), "Datastream": {"@iot.id": cod}});
        created_id(post(&server, "Observations", Some(&device), &body))
    };
    let change = |id: i64, result: f64| {
        let body = json!({"result": result});
        let r =
            send(&server, Method::PATCH, &format!("Observations({id})"), &operator, Some(("application/json", &body)));
        assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    };
    let alerts = || {
        db.sql(
            "SELECT json_agg(json_build_array(readings, first_value, closed_at IS NULL) ORDER BY id) FROM sta.alerts",
        )
    };
    // A spike over 135 mg/L opens an alert; one reading back within it does not close it.
    let spike = reading(0, 400.0);
    reading(1, 100.0);
    let (_, event, opened) = next();
    assert_eq!(event, "opened");
    assert_eq!(opened["value"], 400.0);
    // The spike was the probe's fault: corrected, nothing was over the limit, and the alert is void.
    change(spike, 99.0);
    let (_, event, withdrawn) = next();
    assert_eq!(
        (event.as_str(), &withdrawn["id"], &withdrawn["status"]),
        ("withdrawn", &opened["id"], &json!("closed"))
    );
    assert_eq!(alerts(), "[[0, 400, false]]");
    let thing = opened["thing"]["id"].as_i64().unwrap();
    wait_for(|| station_shown(&server, thing).filter(|f| f["properties"]["status"] == "ok"));
    // Corrected again to a value over the limit, the same alert is open again, from that reading.
    change(spike, 200.0);
    let (_, event, reopened) = next();
    assert_eq!((event.as_str(), &reopened["id"]), ("opened", &opened["id"]));
    assert_eq!(reopened["firstValue"], 200.0);
    assert_eq!(alerts(), "[[1, 200, true]]");
    // A second reading within the limit closes it as a live one would; a reading over the limit
    // put in later, after the close, is an alert of its own.
    reading(2, 90.0);
    assert_eq!(next().1, "closed");
    let late = reading(5, 80.0);
    change(late, 300.0);
    let (_, event, own) = next();
    assert_eq!(event, "opened");
    assert_ne!(own["id"], opened["id"]);
    assert_eq!(alerts(), "[[1, 200, false], [1, 300, true]]");
    // Deleted, the first spike takes its closed alert with it; the open one is not touched.
    assert_eq!(send(&server, Method::DELETE, &format!("Observations({spike})"), &operator, None).status(), 200);
    let (_, event, gone) = next();
    assert_eq!((event.as_str(), &gone["id"]), ("withdrawn", &opened["id"]));
    assert_eq!(alerts(), "[[0, 200, false], [1, 300, true]]");
    assert!(events.recv_timeout(Duration::from_millis(500)).is_err(), "no other event");
}

#[test]
fn readings_answered_201_survive_a_sigkill_mid_ingestion() {
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let mut server = serve(&db, &[]);
    let (cod, _) = station(&server, &operator, key_id(&device));
    let (tx, rx) = mpsc::channel();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, device, tx) = (server.base.clone(), device.clone(), tx.clone());
            std::thread::spawn(move || {
                let client = Client::new();
                for i in 0.. {
                    let body = json!({"result": w * 100_000 + i, "Datastream": {"@iot.id": cod}});
                    let Ok(r) = client
                        .post(format!("{base}/sta/v1.1/Observations"))
                        .basic_auth("d", Some(&device))
                        .json(&body)
                        .send()
                    else {
                        return;
                    };
                    if r.status() == 201 {
                        tx.send(w * 100_000 + i).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    std::thread::sleep(Duration::from_millis(1500));
    kill9(server.pid());
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged: Vec<i64> = rx.iter().collect();
    assert!(acknowledged.len() > 20, "only {} readings were answered", acknowledged.len());
    server.wait_exit(Duration::from_secs(10));
    let restarted = serve(&db, &[]);
    let stored: Value = serde_json::from_str(&db.sql("SELECT json_agg(result) FROM sta.observations")).unwrap();
    let stored: std::collections::HashSet<i64> =
        stored.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    let lost: Vec<&i64> = acknowledged.iter().filter(|v| !stored.contains(v)).collect();
    assert!(lost.is_empty(), "{} acknowledged readings are gone: {lost:?}", lost.len());
    // Readings of now are in this month's partition, made ahead, not in the default one.
    assert_eq!(db.sql("SELECT count(*) FROM sta.observations_default"), "0");
    let partition = db.sql("SELECT DISTINCT tableoid::regclass FROM sta.observations");
    assert_eq!(partition, db.sql("SELECT 'sta.observations_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')"));
    let count = restarted.json(&format!("/sta/v1.1/Datastreams({cod})/Observations?$count=true&$top=1"));
    assert_eq!(count["@iot.count"].as_u64(), Some(stored.len() as u64));
}

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn the_viewer_lists_alerts_live_and_shows_a_stations_readings_and_chart() {
    use std::io::Write;
    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    let server = serve(&db, &[]);
    let (cod, ph) = station(&server, &operator, key_id(&device));
    // A day of five-minute COD readings ending over the limit, and one pH reading.
    let rows: Vec<Value> = (0..288)
        .map(|i| json!([format!("2026-03-01T{:02}:{:02}:00Z", i / 12, i % 12 * 5), if i < 285 { 80.0 } else { 190.0 }]))
        .collect();
    let day = json!([{"Datastream": {"@iot.id": cod}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
    assert_eq!(post(&server, "CreateObservations", Some(&device), &day).status(), 201);
    assert_eq!(observe(&server, &device, ph, 7.1), StatusCode::CREATED);
    let thing: i64 = db.sql(&format!("SELECT thing_id FROM sta.datastreams WHERE id = {cod}")).parse().unwrap();
    wait_for(|| station_shown(&server, thing).filter(|f| f["properties"]["status"] == "alert"));

    let out = e2e::repo().join("target/browser-artifacts");
    std::fs::create_dir_all(&out).unwrap();
    let mut browser = std::process::Command::new("node")
        .arg(e2e::repo().join("web/monitoring-check.mjs"))
        .args([server.base.as_str(), out.to_str().unwrap(), &thing.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(browser.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("ready") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the browser script ended before it was ready");
    }
    // What the chart drew from (before the readings below move the latest one on).
    let in_day = db.sql(&format!(
        "SELECT count(*) FROM sta.observations WHERE datastream_id = {cod} AND phenomenon_time >= \
         (SELECT max(phenomenon_time) FROM sta.observations WHERE datastream_id = {cod}) - interval '24 hours'"
    ));
    // An alert raised while the page is open.
    assert_eq!(observe(&server, &device, ph, 4.0), StatusCode::CREATED);
    let mut stdin = browser.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    while !line.starts_with("after") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the browser script ended before it looked again");
    }
    // Every alert closes: two readings back within each limit.
    for (datastream, value) in [(cod, 50.0), (cod, 50.0), (ph, 7.0), (ph, 7.0)] {
        assert_eq!(observe(&server, &device, datastream, value), StatusCode::CREATED);
    }
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let done = browser.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stdout));
    let report: Value = serde_json::from_slice(&done.stdout).unwrap();

    assert_eq!(report["errors"], json!([]));
    assert_eq!(report["before"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["before"][0]["datastream"], cod);
    assert!(report["before"][0]["text"].as_str().unwrap().contains("COD — 190"), "{report}");
    assert_eq!(report["drawn"]["status"], "alert");
    let rows = report["popup"]["rows"].as_array().unwrap();
    assert!(rows.contains(&json!(["COD", "190 mg/L"])) && rows.contains(&json!(["pH", "7.1 pH"])), "{report}");
    // The chart draws the alerted parameter's readings of the 24 h before its latest one.
    assert_eq!(report["popup"]["chartOf"], cod);
    assert_eq!(report["popup"]["chart"].to_string(), in_day);
    let after: Vec<i64> =
        report["after"].as_array().unwrap().iter().map(|a| a["datastream"].as_i64().unwrap()).collect();
    assert_eq!(after.len(), 2, "{report}");
    assert!(after.contains(&ph));
    assert!(report["after"][0]["text"].as_str().unwrap().contains("pH — 4 pH < 5.5"), "{report}");
    // The station turned green as soon as the stream said so: the colour is the feature
    // state's, which is the server's status now.
    assert_eq!(report["cleared"]["state"], "ok", "{report}");
    assert_eq!(report["cleared"]["colour"][1][1], json!(["feature-state", "status"]), "{report}");
    wait_for(|| station_shown(&server, thing).filter(|f| f["properties"]["status"] == "ok"));
}

/// A private CA and a certificate it signed for 127.0.0.1, made by `openssl` in `dir`: the
/// CA's file, and the server's certificate and key files.
fn private_ca(dir: &std::path::Path) -> [String; 3] {
    let file = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let [ca, ca_key, cert, key, csr, ext] =
        ["ca.pem", "ca.key", "server.pem", "server.key", "server.csr", "server.ext"].map(file);
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        .unwrap();
    let openssl = |args: &str| run_ok(std::process::Command::new("openssl").args(args.split(' ')));
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    openssl(&format!("req -x509 -days 2 -subj /CN=IOC-test-CA {ec} -keyout {ca_key} -out {ca}"));
    openssl(&format!("req -subj /CN=127.0.0.1 {ec} -keyout {key} -out {csr}"));
    openssl(&format!(
        "x509 -req -days 2 -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -extfile {ext} -out {cert}"
    ));
    [ca, cert, key]
}

#[test]
fn alerts_reach_an_https_webhook_whose_certificate_a_configured_ca_signed() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, cert, tls_key] = private_ca(dir.path());
    let script = e2e::repo().join("tests/scripts/https_receiver.py");
    let mut receiver = std::process::Command::new("python3")
        .arg(&script)
        .arg(&cert)
        .arg(&tls_key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let port = lines.next().unwrap().unwrap();
    let (tx, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(serde_json::from_str::<Value>(&line).unwrap()).is_err() {
                return;
            }
        }
    });

    let db = TestDb::new();
    let (operator, device) = (key(&db, "editor"), key(&db, "station"));
    // The same receiver twice: trusted through the CA, and without it (its certificate is then
    // nobody's the system trusts, so nothing may reach it).
    let hooks = format!(
        "[{{url=\"https://127.0.0.1:{port}/trusted\", ca_file={:?}}}, {{url=\"https://127.0.0.1:{port}/untrusted\"}}]",
        ca
    );
    let server = serve(&db, &[("BANDO_MONITORING__WEBHOOKS", &hooks)]);
    let (cod, _) = station(&server, &operator, key_id(&device));
    assert_eq!(observe(&server, &device, cod, 140.0), StatusCode::CREATED);
    let got = requests.recv_timeout(Duration::from_secs(10)).expect("a delivery over HTTPS");
    assert_eq!(got["path"], "/trusted");
    let sent: Value = serde_json::from_str(got["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent["event"], "opened");
    assert_eq!(got["headers"]["x-bando-event"], "opened");
    assert!(requests.recv_timeout(Duration::from_secs(2)).is_err(), "the untrusted receiver got a delivery");
    let _ = receiver.kill();
    let _ = receiver.wait();
}
