//! The monitoring chores that no request does: observation partitions made ahead (at start and
//! daily), the stations layer's latest readings brought up to date every few seconds,
//! datastreams silent past their reporting interval raised as "no data" alerts, and the one
//! reader of new alert events that every alert stream follows.

use std::time::{Duration, Instant};

use layers::sensing::{self, alerts};

use crate::state::AppState;

const DAY: Duration = Duration::from_secs(86_400);
/// How often the stations layer takes the latest readings.
const STATIONS: Duration = Duration::from_secs(5);

/// Runs the chores until the process ends.
pub async fn watch(state: AppState, pool: sqlx::PgPool) {
    let every = state.settings().monitoring.check_every;
    let mut partitioned: Option<Instant> = None;
    let mut checked: Option<Instant> = None;
    if let Err(e) = sensing::configure(&pool, state.settings().monitoring.access).await {
        tracing::warn!(error = %e, "the monitoring settings could not be recorded");
    }
    loop {
        if partitioned.is_none_or(|t| t.elapsed() >= DAY) {
            match sensing::partitions(&pool).await {
                Ok(made) => {
                    tracing::debug!(made, "observation partitions");
                    partitioned = Some(Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "observation partitions could not be made"),
            }
        }
        if checked.is_none_or(|t| t.elapsed() >= every) {
            match alerts::silent(&pool, &state.settings().monitoring.rules).await {
                Ok(opened) => state.alerts_changed(opened),
                Err(e) => tracing::warn!(error = %e, "silent datastreams could not be checked"),
            }
            checked = Some(Instant::now());
        }
        if let Err(e) = alerts::refresh_all_stations(&pool).await {
            tracing::warn!(error = %e, "the stations layer could not be brought up to date");
        }
        tokio::time::sleep(STATIONS.min(every)).await;
    }
}

/// How often the follower reads the events without a signal (events written by another replica).
const POLL: Duration = Duration::from_millis(500);

/// Reads new alert events as they are written and hands them to the alert streams: one reader
/// for any number of streams.
pub async fn follow_alerts(state: AppState, pool: sqlx::PgPool) {
    let mut after: Option<i64> = None;
    loop {
        let woken = state.alert_signal().notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let read = match after {
            None => alerts::last_event(&pool).await.map(|last| (Vec::new(), last)),
            Some(seq) => alerts::events_after(&pool, seq, 500).await.map(|e| {
                let last = e.last().map_or(seq, |e| e.seq);
                (e, last)
            }),
        };
        match read {
            Ok((events, last)) => {
                let full = events.len() == 500;
                for e in events {
                    // Nobody listening is not an error.
                    let _ = state.alert_feed().send(std::sync::Arc::new(e));
                }
                after = Some(last);
                if full {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "alert events could not be read"),
        }
        let _ = tokio::time::timeout(POLL, woken).await;
    }
}
