//! Alert events delivered to the configured webhooks (the IOC): each event POSTed as JSON, in
//! the order of `sta.alert_events`, retried with a growing pause until the receiver answers 2xx,
//! and only then the next; the position reached is kept in `sta.webhook_cursors`, so a restart
//! resumes there (at least once, in order per station since in order overall). One replica
//! delivers: the one holding the webhook's advisory lock.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use layers::sensing::alerts::{self, AlertEvent};
use sqlx::{PgPool, Row};

use crate::{settings::Webhook, state::AppState};

/// The first pause after a failed delivery; it doubles up to [`MOST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MOST_PAUSE: Duration = Duration::from_secs(60);
/// How often a replica without the lock tries to take it.
const STANDBY: Duration = Duration::from_secs(5);
/// How often the events table is read without a signal (events written by another replica).
const POLL: Duration = Duration::from_millis(500);

/// `sha256=<hex>` of the body under the secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Delivers to every configured webhook until the process ends.
pub fn start(state: &AppState, pool: &PgPool) {
    for hook in state.settings().monitoring.webhooks.clone() {
        tokio::spawn(deliver_all(state.clone(), pool.clone(), hook));
    }
}

async fn deliver_all(state: AppState, pool: PgPool, hook: Webhook) {
    let client = match hook.client() {
        Ok(c) => c,
        Err(e) => return tracing::error!(url = %hook.url, error = %e, "webhook client"),
    };
    loop {
        // The lock lives as long as its connection: held while this replica delivers.
        let Some(mut lock) = take_lock(&pool, &hook.url).await else {
            tokio::time::sleep(STANDBY).await;
            continue;
        };
        if let Err(e) = deliver_from_cursor(&state, &pool, &client, &hook, &mut lock).await {
            tracing::warn!(url = %hook.url, error = %e, "webhook deliveries paused");
            tokio::time::sleep(STANDBY).await;
        }
    }
}

/// The webhook's lock, on a connection of its own (not the pool's: a session lock would stay
/// with a pooled connection after its use); it is released when the connection closes.
async fn take_lock(pool: &PgPool, url: &str) -> Option<sqlx::PgConnection> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(&pool.connect_options()).await.ok()?;
    let row = sqlx::query("SELECT pg_try_advisory_lock(hashtextextended('sta.webhook:' || $1, 0))")
        .bind(url)
        .fetch_one(&mut conn)
        .await
        .ok()?;
    row.get::<bool, _>(0).then_some(conn)
}

/// Whether the lock's connection is still open (a lost session has lost the lock).
async fn holds(lock: &mut sqlx::PgConnection) -> bool {
    use sqlx::Connection;
    lock.ping().await.is_ok()
}

/// Delivers events from the webhook's cursor on; returns only on a database error.
async fn deliver_from_cursor(
    state: &AppState,
    pool: &PgPool,
    client: &reqwest::Client,
    hook: &Webhook,
    lock: &mut sqlx::PgConnection,
) -> Result<(), layers::Error> {
    let db = layers::Error::db("webhook cursor");
    // A new webhook starts with the events that come after it was configured.
    sqlx::query(
        "INSERT INTO sta.webhook_cursors (url, seq) SELECT $1, coalesce(max(seq), 0) FROM sta.alert_events \
         ON CONFLICT (url) DO NOTHING",
    )
    .bind(&hook.url)
    .execute(pool)
    .await
    .map_err(db)?;
    let row = sqlx::query("SELECT seq FROM sta.webhook_cursors WHERE url = $1")
        .bind(&hook.url)
        .fetch_one(pool)
        .await
        .map_err(layers::Error::db("webhook cursor"))?;
    let mut cursor: i64 = row.get(0);
    loop {
        let woken = state.alert_signal().notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let events = alerts::events_after(pool, cursor, 100).await?;
        if events.is_empty() {
            let _ = tokio::time::timeout(POLL, woken).await;
            continue;
        }
        if !holds(lock).await {
            return Err(layers::Error::db("webhook lock")(sqlx::Error::PoolClosed));
        }
        for event in events {
            deliver(client, hook, &event).await;
            cursor = event.seq;
            sqlx::query("UPDATE sta.webhook_cursors SET seq = $2 WHERE url = $1")
                .bind(&hook.url)
                .bind(cursor)
                .execute(pool)
                .await
                .map_err(layers::Error::db("webhook cursor"))?;
        }
    }
}

/// POSTs one event until the receiver takes it.
async fn deliver(client: &reqwest::Client, hook: &Webhook, event: &AlertEvent) {
    let body = event.body.to_string();
    let mut pause = FIRST_PAUSE;
    for attempt in 1u32.. {
        let mut request = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-bando-event", &event.event)
            .header("x-bando-delivery", event.seq.to_string())
            .body(body.clone());
        if let Some(secret) = &hook.secret {
            request = request.header("x-bando-signature", signature(secret, body.as_bytes()));
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(url = %hook.url, status = %r.status(), attempt, "webhook refused an alert event"),
            Err(e) => tracing::warn!(url = %hook.url, error = %e, attempt, "webhook unreachable"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MOST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
