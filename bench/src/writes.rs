//! `writes`: OGC API - Features Part 4 writes against a server at a fixed concurrency for a
//! fixed time: single-feature `POST`, `PUT` or `PATCH` (each worker on a feature of its own,
//! sending back the ETag it was last given when the server gives one), or 1000-feature batch
//! `POST`s. With `--tile`, a single client instead times each `POST` until a tile shows the new
//! feature. Prints one JSON line. Bounded: it stops by itself.
#![allow(clippy::print_stdout)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Post,
    Put,
    Patch,
    Batch,
}

#[derive(Parser)]
struct Args {
    /// The collection's items URL, `http://host:port/collections/{id}/items`.
    items: String,
    /// What to send.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Clients at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// How long.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// An API key, sent as `X-API-Key`.
    #[arg(long)]
    key: Option<String>,
    /// A tile URL template with `{z}/{x}/{y}`: time each POST until the tile holds the feature.
    #[arg(long)]
    tile: Option<String>,
}

/// A heritage-like point feature somewhere in the province, numbered `n`.
fn feature(n: usize) -> Value {
    let (x, y) = (105.3 + (n % 997) as f64 * 0.0009, 9.3 + (n % 991) as f64 * 0.001);
    json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [x, y] },
            "properties": { "name": format!("site {n}"), "kind": "đình", "rank": "provincial" } })
}

struct Client {
    http: reqwest::Client,
    key: Option<String>,
}

impl Client {
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.key {
            Some(k) => r.header("x-api-key", k),
            None => r,
        }
    }

    /// POSTs a feature: its id (from `Location`) and ETag, if the server gives one.
    async fn create(&self, items: &str, body: &Value) -> anyhow::Result<(String, Option<String>)> {
        let r = self
            .request(reqwest::Method::POST, items)
            .header("content-type", "application/geo+json")
            .body(body.to_string())
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "POST answered {}: {}", r.status(), r.text().await?);
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let id = location.rsplit('/').next().unwrap_or_default().to_owned();
        let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((id, etag))
    }
}

/// One worker: writes until `until`, recording each write's latency.
async fn work(
    client: Arc<Client>,
    args: Arc<Args>,
    worker: usize,
    until: Instant,
    times: Arc<Mutex<Vec<f64>>>,
) -> anyhow::Result<()> {
    let mut own = None;
    if matches!(args.mode, Mode::Put | Mode::Patch) {
        own = Some(client.create(&args.items, &feature(worker)).await?);
    }
    let mut n = worker * 1_000_000;
    while Instant::now() < until {
        n += 1;
        let started = Instant::now();
        match args.mode {
            Mode::Post => {
                client.create(&args.items, &feature(n)).await?;
            }
            Mode::Batch => {
                let features: Vec<Value> = (0..1000).map(|i| feature(n * 1000 + i)).collect();
                let body = json!({ "type": "FeatureCollection", "features": features });
                let r = client
                    .request(reqwest::Method::POST, &args.items)
                    .header("content-type", "application/geo+json")
                    .body(body.to_string())
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "batch POST answered {}", r.status());
            }
            Mode::Put | Mode::Patch => {
                let (id, etag) = own.as_mut().ok_or_else(|| anyhow::anyhow!("no feature"))?;
                let url = format!("{}/{id}", args.items);
                let (method, kind, body) = if args.mode == Mode::Put {
                    // The id repeated in the body, as some servers need it.
                    let mut replacement = feature(n);
                    replacement["id"] = id.parse::<i64>().map_or_else(|_| json!(id), |i| json!(i));
                    (reqwest::Method::PUT, "application/geo+json", replacement)
                } else {
                    let patch = json!({ "properties": { "name": format!("site {n}") } });
                    (reqwest::Method::PATCH, "application/merge-patch+json", patch)
                };
                let mut r = client.request(method, &url).header("content-type", kind).body(body.to_string());
                if let Some(e) = etag.as_ref() {
                    r = r.header("if-match", e.as_str());
                }
                let r = r.send().await?;
                anyhow::ensure!(r.status().is_success(), "{} answered {}", url, r.status());
                *etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
            }
        }
        times.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The tile of zoom `z` holding lon/lat `(x, y)`.
fn tile_of(z: u32, x: f64, y: f64) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let lat = y.to_radians();
    let tx = ((x + 180.0) / 360.0 * n).floor() as u32;
    let ty = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (tx, ty)
}

/// Whether the tile at `url` holds a feature with this id.
async fn tile_holds(http: &reqwest::Client, url: &str, id: u64) -> anyhow::Result<bool> {
    let r = http.get(url).send().await?;
    if r.status() == 204 {
        return Ok(false);
    }
    // reqwest asks for no compression, so the tile comes as MVT bytes.
    let body = r.bytes().await?;
    let tile = fast_mvt::MvtReaderRef::new(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(tile.layers().any(|l| l.features().any(|f| f.id() == Some(id))))
}

/// A single client: POST, then read the tile until it shows the feature; 200 times.
async fn visibility(client: &Client, args: &Args, template: &str) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::new();
    for n in 0..200 {
        let body = feature(5_000_000 + n);
        let (x, y) = (
            body["geometry"]["coordinates"][0].as_f64().unwrap_or(0.0),
            body["geometry"]["coordinates"][1].as_f64().unwrap_or(0.0),
        );
        let (tx, ty) = tile_of(15, x, y);
        let url = template.replace("{z}", "15").replace("{x}", &tx.to_string()).replace("{y}", &ty.to_string());
        let started = Instant::now();
        let (id, _) = client.create(&args.items, &body).await?;
        let id: u64 = id.parse()?;
        while !tile_holds(&client.http, &url, id).await? {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "feature {id} not in {url} after 10 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(started.elapsed().as_secs_f64());
    }
    Ok(times)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency.max(1)).build()?;
    let client = Arc::new(Client { http, key: args.key.clone() });
    if let Some(template) = &args.tile {
        let mut times = visibility(&client, &args, template).await?;
        times.sort_by(f64::total_cmp);
        let line = json!({ "visible_in_tile": times.len(), "p50_ms": percentile(&times, 0.5) * 1e3, "p99_ms": percentile(&times, 0.99) * 1e3, "max_ms": percentile(&times, 1.0) * 1e3 });
        println!("{line}");
        return Ok(());
    }
    let times = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|w| tokio::spawn(work(Arc::clone(&client), Arc::clone(&args), w + 1, until, Arc::clone(&times))))
        .collect();
    for w in workers {
        w.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut times = times.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    times.sort_by(f64::total_cmp);
    let per_write = if args.mode == Mode::Batch { 1000.0 } else { 1.0 };
    let line = json!({
        "requests": times.len(),
        "features_per_s": times.len() as f64 * per_write / elapsed,
        "p50_ms": percentile(&times, 0.5) * 1e3,
        "p99_ms": percentile(&times, 0.99) * 1e3,
    });
    println!("{line}");
    Ok(())
}
