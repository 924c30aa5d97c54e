//! `propagation`: updates single rows of a layer table at a steady rate, one committed statement
//! each, and times how long each change takes to reach every replica: from the moment the
//! `UPDATE` returns (committed) to the moment the replica's change stream announces it, which
//! it does right after the new index is swapped in, when `/items/{id}` already shows it. Prints
//! one JSON line per replica: p50, p99, max and missing changes. Bounded: it stops by itself.
#![allow(clippy::print_stdout)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// PostgreSQL URL of the database the replicas follow.
    database: String,
    /// The layer table, `schema.table`, with an integer `id` column.
    table: String,
    /// The layer id the replicas serve it as.
    layer: String,
    /// Base URLs of the replicas.
    #[arg(required = true)]
    replicas: Vec<String>,
    /// Changes to make.
    #[arg(long, default_value_t = 1000)]
    changes: usize,
    /// Spread over this many seconds.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// The column each update sets to itself (any column: the change is what counts).
    #[arg(long, default_value = "id")]
    column: String,
    /// Write the changed ids here, one per line.
    #[arg(long)]
    ids_out: Option<std::path::PathBuf>,
}

/// When each id's change was announced by one replica.
type Seen = Arc<Mutex<HashMap<i64, Instant>>>;

/// Follows one replica's change stream, recording when each id is announced.
async fn watch(url: String, seen: Seen) -> anyhow::Result<()> {
    let mut response = reqwest::Client::new().get(url).send().await?.error_for_status()?;
    let mut pending = String::new();
    while let Some(chunk) = response.chunk().await? {
        let now = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let data = event.lines().find_map(|l| l.strip_prefix("data:")).unwrap_or("{}");
            let data: serde_json::Value = serde_json::from_str(data.trim()).unwrap_or_default();
            if let Some(id) = data["id"].as_i64() {
                seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(id).or_insert(now);
            }
        }
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&args.database).await?;
    let ids: Vec<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM {} ORDER BY random() LIMIT $1", args.table)))
            .bind(i64::try_from(args.changes)?)
            .fetch_all(&pool)
            .await?;
    if let Some(path) = &args.ids_out {
        std::fs::write(path, ids.iter().map(|id| format!("{id}\n")).collect::<String>())?;
    }
    let seen: Vec<Seen> = args.replicas.iter().map(|_| Seen::default()).collect();
    for (base, seen) in args.replicas.iter().zip(&seen) {
        let url = format!("{base}/collections/{}/changes", args.layer);
        let seen = Arc::clone(seen);
        tokio::spawn(async move {
            if let Err(e) = watch(url, seen).await {
                eprintln!("change stream ended: {e}");
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let update = format!("UPDATE {} SET {col} = {col} WHERE id = $1", args.table, col = args.column);
    #[allow(clippy::cast_precision_loss)]
    let every = Duration::from_secs_f64(args.seconds / args.changes.max(1) as f64);
    let mut committed = HashMap::new();
    let mut tick = tokio::time::interval(every);
    for &id in &ids {
        tick.tick().await;
        sqlx::query(sqlx::AssertSqlSafe(update.clone())).bind(id).execute(&pool).await?;
        committed.insert(id, Instant::now());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (base, seen) in args.replicas.iter().zip(&seen) {
        let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut delays: Vec<f64> = committed
            .iter()
            .filter_map(|(id, at)| seen.get(id).map(|s| s.saturating_duration_since(*at).as_secs_f64() * 1000.0))
            .collect();
        delays.sort_by(f64::total_cmp);
        let line = serde_json::json!({
            "replica": base,
            "changes": committed.len(),
            "missing": committed.len() - delays.len(),
            "p50_ms": percentile(&delays, 0.5),
            "p99_ms": percentile(&delays, 0.99),
            "max_ms": delays.last(),
        });
        println!("{line}");
    }
    Ok(())
}
