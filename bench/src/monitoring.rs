//! `monitoring`: the monitoring sample and its load.
//!
//! - `seed`: creates the sample stations (`data-samples/monitoring/stations.csv`) through the
//!   SensorThings API, a Datastream per QCVN 40 parameter, and posts a day of five-minute
//!   readings from a seeded generator, with a few excursions over the limits. Prints what it
//!   planned as one JSON line.
//! - `ingest`: observations posted at a fixed concurrency for a fixed time, one per request or in
//!   `dataArray` batches, as fast as answered or paced to a rate, while one client times each over-limit reading until the alert stream
//!   shows it. Prints one JSON line.
//! - `copy`: the ceiling, PostgreSQL's own `COPY` of as many rows into the same table.
//!
//! Bounded: each stops by itself.
#![allow(clippy::print_stdout)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the sample stations and posts a day of readings.
    Seed {
        /// The server, `http://host:port`.
        base: String,
        /// An operator's key.
        #[arg(long)]
        key: String,
        /// The stations file.
        #[arg(long, default_value = "data-samples/monitoring/stations.csv")]
        stations: String,
        /// The first reading's time.
        #[arg(long, default_value = "2026-03-01T00:00:00+07:00")]
        start: String,
        /// Seconds between readings.
        #[arg(long, default_value_t = 300)]
        every: u32,
        /// Readings per datastream.
        #[arg(long, default_value_t = 288)]
        readings: u32,
        /// The generator's seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The key id written as every station's `station_key`.
        #[arg(long)]
        station_key: Option<String>,
    },
    /// Posts observations to one datastream for a fixed time.
    Ingest {
        /// The server, `http://host:port`.
        base: String,
        /// A key that may post to the datastream.
        #[arg(long)]
        key: String,
        /// The datastreams written, one per client in turn; the first (with a threshold) also
        /// takes the alert latency's readings.
        #[arg(long, value_delimiter = ',', required = true)]
        datastreams: Vec<i64>,
        /// Observations per request: 1 posts to `Observations`, more to `CreateObservations`.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Clients at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// How long.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// A reading within the limit, and one over it.
        #[arg(long, num_args = 2, default_values_t = [80.0, 500.0])]
        values: Vec<f64>,
        /// Observations per second in all, spread evenly over the clients (a client that falls
        /// behind sends at once); as fast as answered when not given.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// `COPY`s rows shaped as the observations into `sta.observations`.
    Copy {
        /// The database.
        database_url: String,
        /// The datastream the rows belong to.
        #[arg(long)]
        datastream: i64,
        /// Its feature of interest.
        #[arg(long)]
        feature: i64,
        /// Rows.
        #[arg(long, default_value_t = 200_000)]
        rows: usize,
    },
}

/// The parameters of QCVN 40:2011 Table 1: name, unit, typical treated level and spread.
const PARAMETERS: [(&str, &str, f64, f64); 8] = [
    ("Temperature", "°C", 30.0, 1.2),
    ("pH", "pH", 7.2, 0.25),
    ("BOD5", "mg/L", 24.0, 4.0),
    ("COD", "mg/L", 70.0, 10.0),
    ("TSS", "mg/L", 40.0, 8.0),
    ("NH4-N", "mg/L", 3.5, 1.0),
    ("Total N", "mg/L", 16.0, 3.0),
    ("Total P", "mg/L", 2.2, 0.5),
];
/// Column B's C for the parameters excursions may hit (A is half of it for these).
const EXCURSIONS: [(&str, f64); 3] = [("COD", 150.0), ("TSS", 100.0), ("NH4-N", 10.0)];

/// SplitMix64: a seeded generator, so that the sample is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A normal deviate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(f64::MIN_POSITIVE), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The fields of one CSV line, quotes honoured.
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    out.push(field);
    out
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/sta/v1.1/{path}", self.base);
        Ok(self.http.post(url).basic_auth("bench", Some(&self.key)).json(body).send().await?)
    }

    /// POSTs an entity: its id.
    async fn create(&self, path: &str, body: &Value) -> anyhow::Result<i64> {
        let r = self.post(path, body).await?;
        anyhow::ensure!(r.status() == 201, "POST {path}: {} {}", r.status(), r.text().await?);
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let id = location.rsplit_once('(').map(|(_, id)| id.trim_end_matches(')')).unwrap_or_default();
        Ok(id.parse()?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}/sta/v1.1/{path}", self.base);
        Ok(self.http.get(url).basic_auth("bench", Some(&self.key)).send().await?.json().await?)
    }
}

#[allow(clippy::too_many_arguments)]
async fn seed(
    api: &Api,
    stations: &str,
    start: &str,
    every: u32,
    readings: u32,
    seed: u64,
    station_key: Option<String>,
) -> anyhow::Result<Value> {
    let start = chrono::DateTime::parse_from_rfc3339(start)?;
    let mut rng = Rng(seed);
    let mut properties = Vec::new();
    for (name, _, _, _) in PARAMETERS {
        let body =
            json!({"name": name, "definition": format!("QCVN 40:2011/BTNMT Table 1: {name}"), "description": name});
        properties.push(api.create("ObservedProperties", &body).await?);
    }
    let text = std::fs::read_to_string(stations)?;
    let (mut planned, mut count, mut datastreams) = (Vec::new(), 0usize, 0usize);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f = fields(line);
        anyhow::ensure!(f.len() == 9, "{stations}: {line:?} has {} fields, not 9", f.len());
        let (lon, lat): (f64, f64) = (f[2].parse()?, f[3].parse()?);
        let class = f[4].clone();
        let sensor = json!({"name": format!("Analyser, {}", f[0]), "description": "Multi-parameter online analyser",
                            "encodingType": "text/plain", "metadata": "QCVN 40:2011/BTNMT parameters"});
        let sensor = api.create("Sensors", &sensor).await?;
        let streams: Vec<Value> = PARAMETERS
            .iter()
            .zip(&properties)
            .map(|((name, unit, _, _), op)| {
                json!({"name": format!("{name}, {}", f[0]), "description": format!("{name} of the treated wastewater"),
                       "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                       "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": ""},
                       "Sensor": {"@iot.id": sensor}, "ObservedProperty": {"@iot.id": op}})
            })
            .collect();
        let mut props = json!({"class": class, "kq": f[5].parse::<f64>()?, "kf": f[6].parse::<f64>()?,
                               "receiving_water": f[7], "discharge_m3_day": f[8].parse::<f64>()?});
        if let Some(k) = &station_key {
            props["station_key"] = k.clone().into();
        }
        let thing = json!({"name": f[0], "description": f[1], "properties": props,
            "Locations": [{"name": format!("Cống xả, {}", f[0]), "description": f[1], "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [lon, lat]}}],
            "Datastreams": streams});
        let thing = api.create("Things", &thing).await?;
        let ids = api.get(&format!("Things({thing})/Datastreams?$orderby=id&$select=id")).await?;
        let ids: Vec<i64> =
            ids["value"].as_array().into_iter().flatten().filter_map(|d| d["@iot.id"].as_i64()).collect();
        datastreams += ids.len();
        // Now and then one parameter leaves its limit for 30 to 90 minutes.
        let excursion = (rng.unit() < 0.5).then(|| {
            let (name, c) = EXCURSIONS[(rng.next() % 3) as usize];
            let from = (rng.next() % u64::from(readings.saturating_sub(18).max(1))) as u32;
            let length = 6 + (rng.next() % 13) as u32;
            let scale = if class == "A" { 0.5 } else { 1.0 };
            (name, from, from + length, c * scale * (1.3 + 0.5 * rng.unit()))
        });
        let mut groups = Vec::new();
        for ((name, _, level, spread), id) in PARAMETERS.iter().zip(&ids) {
            let rows: Vec<Value> = (0..readings)
                .map(|i| {
                    let at = start + chrono::Duration::seconds(i64::from(i * every));
                    let value = match excursion {
                        Some((n, from, to, high)) if n == *name && (from..to).contains(&i) => {
                            high + rng.normal() * spread
                        }
                        _ => level + rng.normal() * spread,
                    };
                    json!([at.to_rfc3339(), (value * 100.0).round() / 100.0])
                })
                .collect();
            count += rows.len();
            groups.push(
                json!({"Datastream": {"@iot.id": id}, "components": ["phenomenonTime", "result"], "dataArray": rows}),
            );
        }
        let r = api.post("CreateObservations", &Value::Array(groups)).await?;
        anyhow::ensure!(r.status() == 201, "CreateObservations: {} {}", r.status(), r.text().await?);
        if let Some((name, from, to, _)) = excursion {
            planned.push(json!({"thing": thing, "parameter": name, "from": from, "to": to}));
        }
    }
    Ok(json!({"datastreams": datastreams, "observations": count, "excursions": planned}))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn ingest(
    api: Arc<Api>,
    datastreams: &[i64],
    batch: usize,
    concurrency: usize,
    seconds: f64,
    values: &[f64],
    rate: Option<f64>,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let (ok, values) = (values[0], values[1]);
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (api, latencies) = (Arc::clone(&api), Arc::clone(&latencies));
        let datastream = datastreams[worker % datastreams.len()];
        // Each client's requests are due at even intervals, offset from the others'.
        let every = rate.map(|r| Duration::from_secs_f64(batch as f64 * concurrency as f64 / r));
        let first = Instant::now() + every.map_or(Duration::ZERO, |e| e.mul_f64(worker as f64 / concurrency as f64));
        workers.push(tokio::spawn(async move {
            let mut posted = 0usize;
            let mut due = first;
            while Instant::now() < deadline {
                if let Some(every) = every {
                    tokio::time::sleep_until(due.into()).await;
                    due += every;
                }
                let sent = Instant::now();
                let r = if batch == 1 {
                    api.post("Observations", &json!({"result": ok, "Datastream": {"@iot.id": datastream}})).await
                } else {
                    let rows: Vec<Value> = (0..batch).map(|_| json!([ok])).collect();
                    let body =
                        json!([{"Datastream": {"@iot.id": datastream}, "components": ["result"], "dataArray": rows}]);
                    api.post("CreateObservations", &body).await
                };
                match r {
                    Ok(r) if r.status() == 201 => posted += batch,
                    Ok(r) => anyhow::bail!("POST answered {}: {}", r.status(), r.text().await?),
                    Err(e) => return Err(e),
                }
                latencies.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(posted)
        }));
    }
    let alerts = alert_latency(&api, datastreams[0], ok, values, deadline).await?;
    let started = Instant::now() - Duration::from_secs_f64(seconds);
    let mut posted = 0;
    for w in workers {
        posted += w.await??;
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds);
    let mut l = latencies.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    l.sort_by(f64::total_cmp);
    Ok(
        json!({"observations": posted, "per_second": posted as f64 / elapsed, "batch": batch, "concurrency": concurrency, "rate": rate,
              "request_ms_p50": percentile(&l, 0.5), "request_ms_p99": percentile(&l, 0.99),
              "alerts": alerts.len(), "alert_ms_p50": percentile(&alerts, 0.5), "alert_ms_p99": percentile(&alerts, 0.99)}),
    )
}

/// Every half second, one reading over the limit (then enough within it to close the alert):
/// the time from sending the POST to the alert's `opened` on the stream (the POST's own time
/// included: the event may arrive before the answer).
async fn alert_latency(api: &Api, datastream: i64, ok: f64, over: f64, deadline: Instant) -> anyhow::Result<Vec<f64>> {
    let url = format!("{}/alerts/stream", api.base);
    let mut stream = api.http.get(url).send().await?;
    let mut samples = Vec::new();
    let mut buffer = String::new();
    while Instant::now() + Duration::from_millis(500) < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let committed = Instant::now();
        let r = api.post("Observations", &json!({"result": over, "Datastream": {"@iot.id": datastream}})).await?;
        anyhow::ensure!(r.status() == 201, "POST answered {}", r.status());
        loop {
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await??;
            let Some(chunk) = chunk else { anyhow::bail!("the alert stream ended") };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            if buffer.contains("event: opened") || buffer.contains("event:opened") {
                samples.push(committed.elapsed().as_secs_f64() * 1000.0);
                buffer.clear();
                break;
            }
        }
        for _ in 0..5 {
            api.post("Observations", &json!({"result": ok, "Datastream": {"@iot.id": datastream}})).await?;
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

async fn copy(url: &str, datastream: i64, feature: i64, rows: usize) -> anyhow::Result<Value> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut text = String::with_capacity(rows * 64);
    for i in 0..rows {
        text.push_str(&format!(
            "{datastream}\t2026-12-01 00:00:{:02}.{:06}+00\t80\t{feature}\n",
            i % 60,
            i % 1_000_000
        ));
    }
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY sta.observations (datastream_id, phenomenon_time, result, feature_id) FROM STDIN")
        .await?;
    copy.send(text.as_bytes()).await?;
    let copied = copy.finish().await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({"rows": copied, "seconds": seconds, "per_second": copied as f64 / seconds}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let out = match args.command {
        Command::Seed { base, key, stations, start, every, readings, seed: s, station_key } => {
            let api = Api { http, base, key };
            seed(&api, &stations, &start, every, readings, s, station_key).await?
        }
        Command::Ingest { base, key, datastreams, batch, concurrency, seconds, values, rate } => {
            let api = Arc::new(Api { http, base, key });
            ingest(api, &datastreams, batch.max(1), concurrency.max(1), seconds, &values, rate).await?
        }
        Command::Copy { database_url, datastream, feature, rows } => {
            copy(&database_url, datastream, feature, rows).await?
        }
    };
    println!("{out}");
    Ok(())
}
