//! The monitoring chores that no request does: observation partitions made ahead (at start and
//! daily), the stations layer's latest readings brought up to date every few seconds, and
//! datastreams silent past their reporting interval raised as "no data" alerts.

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
