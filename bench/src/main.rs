//! `loadgen`: requests every URL of a list (cycling until a request count or a time limit is
//! reached) at a fixed concurrency, as fast as answered or paced to a rate, and prints one JSON line of results: requests/s, latency
//! percentiles, statuses, bytes. Bounded: it stops by itself.
//!
//! Written here rather than taken from a load tool so that both servers of a side-by-side run
//! are driven by the same client, with the same URL list, and the results come out as data.
#![allow(clippy::print_stdout)]

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// File with one URL per line.
    urls: std::path::PathBuf,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Stop after this many requests (default: one pass over the list).
    #[arg(long)]
    requests: Option<usize>,
    /// Stop after this many seconds in any case.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Send `Accept-Encoding: gzip`, as browsers do.
    #[arg(long)]
    gzip: bool,
    /// Decode every tile (gunzipping if needed) and report features per tile. Costs client
    /// CPU, so use it in a pass of its own, not in a timed one.
    #[arg(long)]
    count_features: bool,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    label: String,
    /// Requests per second in all, due at even intervals (default: as fast as answered). The
    /// latency counts from the send (the timer wakes up to a millisecond late); requests sent
    /// over 5 ms after they were due are counted as `late`, so that a server that falls
    /// behind shows.
    #[arg(long)]
    rate: Option<f64>,
}

struct Sample {
    micros: u64,
    status: u16,
    bytes: usize,
    features: usize,
}

/// Features in an MVT body, gzip-compressed or not.
fn count_features(body: &[u8]) -> usize {
    let mut raw = Vec::new();
    let body = if body.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        if flate2::read::GzDecoder::new(body).read_to_end(&mut raw).is_err() {
            return 0;
        }
        &raw[..]
    } else {
        body
    };
    fast_mvt::MvtReaderRef::new(body).map_or(0, |tile| tile.layers().map(|l| l.features().len()).sum())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let urls: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(&args.urls)?.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect(),
    );
    anyhow::ensure!(!urls.is_empty(), "no URLs in {}", args.urls.display());
    let total = args.requests.unwrap_or(urls.len());
    let mut headers = reqwest::header::HeaderMap::new();
    if args.gzip {
        headers.insert(reqwest::header::ACCEPT_ENCODING, reqwest::header::HeaderValue::from_static("gzip"));
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let count = args.count_features;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    #[allow(clippy::cast_precision_loss)]
    let every = args.rate.map(|r| Duration::from_secs_f64(args.concurrency as f64 / r));
    for worker in 0..args.concurrency {
        let (client, urls, next) = (client.clone(), Arc::clone(&urls), Arc::clone(&next));
        #[allow(clippy::cast_precision_loss)]
        let mut due = started + every.map_or(Duration::ZERO, |e| e.mul_f64(worker as f64 / args.concurrency as f64));
        workers.push(tokio::spawn(async move {
            let (mut samples, mut late) = (Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    return (samples, late);
                }
                if let Some(every) = every {
                    tokio::time::sleep_until(due.into()).await;
                    late += usize::from(due.elapsed() > Duration::from_millis(5));
                    due += every;
                }
                let t = Instant::now();
                let (status, body) = match client.get(&urls[i % urls.len()]).send().await {
                    Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
                    Err(_) => (0, Default::default()),
                };
                let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                let features = if count && status == 200 { count_features(&body) } else { 0 };
                samples.push(Sample { micros, status, bytes: body.len(), features });
            }
        }));
    }
    let (mut samples, mut late) = (Vec::new(), 0);
    for w in workers {
        let (s, l) = w.await?;
        samples.extend(s);
        late += l;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u64> = samples.iter().map(|s| s.micros).collect();
    latencies.sort_unstable();
    let pct = |p: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for s in &samples {
        *statuses.entry(s.status.to_string()).or_default() += 1;
    }
    let bytes: usize = samples.iter().map(|s| s.bytes).sum();
    let max_bytes = samples.iter().map(|s| s.bytes).max().unwrap_or(0);
    let features: usize = samples.iter().map(|s| s.features).sum();
    let max_features = samples.iter().map(|s| s.features).max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let n = samples.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "label": args.label,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "late": late,
            "requests": samples.len(),
            "seconds": seconds,
            "rps": n / seconds,
            "p50_ms": pct(0.5),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
            "statuses": statuses,
            "mean_bytes": if n > 0.0 { bytes as f64 / n } else { 0.0 },
            "max_bytes": max_bytes,
            "mean_features": if count && n > 0.0 { Some(features as f64 / n) } else { None },
            "max_features": count.then_some(max_features),
        })
    );
    Ok(())
}
