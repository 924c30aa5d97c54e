//! Thresholds and alerts: a reading over its limit opens an alert on its datastream, further
//! readings over it update the alert, a run of readings back within it closes it; a datastream
//! silent past its reporting interval opens a "no data" alert, which its next reading closes.
//! Every change of an alert is an event in `sta.alert_events`, in order, for streams and webhooks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::Value as Json;
use sqlx::{PgPool, Row};

use super::{observations::Stream, write::Write};
use crate::{Error, Result};

/// The alert rules of the configuration (`[monitoring]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Limits per observed property (and station class).
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    /// Readings back within the limit, one after another, that close an alert.
    #[serde(default = "Rules::default_clear_after")]
    pub clear_after: u32,
    /// Seconds without a reading after which a datastream is "no data", unless its
    /// `properties.reportingInterval` (seconds) says otherwise; none: only those that say.
    #[serde(default)]
    pub reporting_interval_s: Option<f64>,
}

impl Rules {
    fn default_clear_after() -> u32 {
        3
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self { thresholds: Vec::new(), clear_after: Self::default_clear_after(), reporting_interval_s: None }
    }
}

/// The limit of one observed property: the regulation's value C, for stations of one class.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The ObservedProperty's name.
    pub parameter: String,
    /// The station class it applies to (the Thing's `properties.class`, e.g. the column A or B
    /// of QCVN 40:2011/BTNMT); none: every station without a more specific threshold.
    #[serde(default)]
    pub class: Option<String>,
    /// The lowest allowed value.
    #[serde(default)]
    pub min: Option<f64>,
    /// The highest allowed value C before the flow factors.
    #[serde(default)]
    pub max: Option<f64>,
    /// Whether the maximum is C × Kq × Kf, the factors read from the Thing's `properties.kq`
    /// and `properties.kf` (1 when absent).
    #[serde(default)]
    pub flow_factors: bool,
}

/// The allowed range of a datastream's readings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// Readings below are over the limit.
    pub lower: Option<f64>,
    /// Readings above are over the limit.
    pub upper: Option<f64>,
}

impl Limit {
    /// How far a reading lies outside the range (0 inside).
    fn excess(&self, v: f64) -> f64 {
        let above = self.upper.map_or(0.0, |u| v - u);
        let below = self.lower.map_or(0.0, |l| l - v);
        above.max(below).max(0.0)
    }
}

impl Rules {
    /// The limit of a datastream: the threshold of its station's class, else the general one.
    pub fn limit(&self, stream: &Stream) -> Option<Limit> {
        let class = stream.station.get("class").and_then(Json::as_str);
        let of_parameter = self.thresholds.iter().filter(|t| t.parameter == stream.parameter);
        let t = of_parameter
            .clone()
            .find(|t| t.class.is_some() && t.class.as_deref() == class)
            .or_else(|| of_parameter.clone().find(|t| t.class.is_none()))?;
        let factor = |k: &str| stream.station.get(k).and_then(Json::as_f64).unwrap_or(1.0);
        let scale = if t.flow_factors { factor("kq") * factor("kf") } else { 1.0 };
        Some(Limit { lower: t.min, upper: t.max.map(|m| m * scale) })
    }
}

/// A reading as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    /// Its datastream.
    pub datastream: i64,
    /// Its phenomenon time.
    pub time: DateTime<Utc>,
    /// Its result, when a number.
    pub value: Option<f64>,
}

/// An open alert while the rules run over a batch.
#[derive(Debug)]
struct Open {
    id: Option<i64>,
    kind: &'static str,
    datastream: i64,
    limit: Limit,
    first: Option<f64>,
    last: Option<f64>,
    worst: Option<f64>,
    readings: i32,
    under: i32,
    opened_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    events: Vec<&'static str>,
    changed: bool,
}

impl Open {
    fn new(kind: &'static str, datastream: i64, limit: Limit, at: DateTime<Utc>) -> Self {
        Self {
            id: None,
            kind,
            datastream,
            limit,
            first: None,
            last: None,
            worst: None,
            readings: 0,
            under: 0,
            opened_at: at,
            last_at: at,
            closed_at: None,
            events: vec!["opened"],
            changed: true,
        }
    }

    /// An alert as stored.
    fn of_row(r: &sqlx::postgres::PgRow, limit: Limit) -> Self {
        let kind = if r.get::<String, _>("kind") == "limit" { "limit" } else { "no_data" };
        Open {
            id: Some(r.get("id")),
            first: r.get("first_value"),
            last: r.get("last_value"),
            worst: r.get("worst_value"),
            readings: r.get("readings"),
            under: r.get("under"),
            last_at: r.get("last_at"),
            closed_at: r.get("closed_at"),
            events: Vec::new(),
            changed: false,
            ..Open::new(kind, r.get("datastream_id"), limit, r.get("opened_at"))
        }
    }

    /// Notes an event, once per batch: the stream shows the state the batch left.
    fn event(&mut self, e: &'static str) {
        if !self.events.contains(&e) {
            self.events.push(e);
        }
        self.changed = true;
    }

    /// Whether the readings left it as `other` says (what an alert re-run from them shows).
    fn same_as(&self, other: &Open) -> bool {
        (self.first, self.last, self.worst, self.readings, self.under)
            == (other.first, other.last, other.worst, other.readings, other.under)
            && (self.opened_at, self.last_at, self.closed_at) == (other.opened_at, other.last_at, other.closed_at)
    }
}

/// The limit rule over one datastream's readings, taken in time order: the alert they hold
/// open, and those they closed.
struct Run {
    datastream: i64,
    limit: Limit,
    clear_after: i32,
    open: Option<Open>,
    closed: Vec<Open>,
}

impl Run {
    fn new(datastream: i64, limit: Limit, clear_after: u32, open: Option<Open>) -> Self {
        Self { datastream, limit, clear_after: clear_after as i32, open, closed: Vec::new() }
    }

    /// One reading's result: over the limit it opens or updates the alert; back within it, the
    /// `clear_after`-th in a row closes it.
    fn read(&mut self, time: DateTime<Utc>, v: f64) {
        let limit = self.limit;
        if limit.excess(v) > 0.0 {
            let alert = self.open.get_or_insert_with(|| Open::new("limit", self.datastream, limit, time));
            if alert.id.is_some() {
                alert.event("updated");
            }
            alert.first.get_or_insert(v);
            alert.readings += 1;
            alert.under = 0;
            alert.last = Some(v);
            alert.last_at = time;
            if alert.worst.is_none_or(|w| limit.excess(v) > limit.excess(w)) {
                alert.worst = Some(v);
            }
            alert.limit = limit;
        } else if let Some(alert) = &mut self.open {
            alert.under += 1;
            alert.changed = true;
            if alert.under >= self.clear_after {
                let mut alert = self.open.take().expect("present");
                alert.closed_at = Some(time);
                alert.event("closed");
                self.closed.push(alert);
            }
        }
    }

    /// Every alert the readings touched, the closed ones first.
    fn alerts(self) -> impl Iterator<Item = Open> {
        self.closed.into_iter().chain(self.open)
    }
}

/// Runs the rules over a batch of readings of these datastreams, in the write's transaction:
/// the Things whose alerts it opened or closed (their status changed).
pub async fn evaluate(
    w: &mut Write<'_>,
    streams: &HashMap<i64, Stream>,
    mut readings: Vec<Reading>,
) -> Result<Vec<i64>> {
    let limits: HashMap<i64, Limit> = streams.values().filter_map(|s| Some((s.id, w.rules.limit(s)?))).collect();
    // Only a datastream with an open alert, or a reading over its limit, has alerts to change:
    // readings within their limits, where nothing is open, cost nothing more. (A reading within
    // its limit written while another write opens an alert does not count towards closing it.)
    let over = |r: &Reading| r.value.zip(limits.get(&r.datastream)).is_some_and(|(v, l)| l.excess(v) > 0.0);
    let mut ids: Vec<i64> = streams.values().filter(|s| s.alerted).map(|s| s.id).collect();
    ids.extend(readings.iter().filter(|r| over(r)).map(|r| r.datastream));
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    readings.retain(|r| ids.binary_search(&r.datastream).is_ok());
    lock(w, &ids).await?;
    let rows = sqlx::query("SELECT * FROM sta.alerts WHERE datastream_id = ANY($1) AND closed_at IS NULL")
        .bind(&ids)
        .fetch_all(&mut *w.conn)
        .await
        .map_err(Error::db("reading open alerts"))?;
    let no_limit = Limit { lower: None, upper: None };
    let mut silent: HashMap<i64, Open> = HashMap::new();
    let mut runs: HashMap<i64, Run> = HashMap::new();
    for r in &rows {
        let alert = Open::of_row(r, limits.get(&r.get("datastream_id")).copied().unwrap_or(no_limit));
        match alert.kind {
            "limit" => {
                let run = Run::new(alert.datastream, alert.limit, w.rules.clear_after, Some(alert));
                runs.insert(run.datastream, run);
            }
            _ => _ = silent.insert(alert.datastream, alert),
        }
    }
    readings.sort_by_key(|r| (r.datastream, r.time));
    let mut done: Vec<Open> = Vec::new();
    for r in &readings {
        // A late reading (older than what an open alert has seen) does not move it.
        let newer = |a: &Open| a.id.is_none() || r.time > a.last_at;
        if silent.get(&r.datastream).is_some_and(newer)
            && let Some(mut alert) = silent.remove(&r.datastream)
        {
            alert.closed_at = Some(r.time);
            alert.event("closed");
            done.push(alert);
        }
        let (Some(limit), Some(v)) = (limits.get(&r.datastream), r.value) else { continue };
        let run = runs.entry(r.datastream).or_insert_with(|| Run::new(r.datastream, *limit, w.rules.clear_after, None));
        if run.open.as_ref().is_none_or(newer) {
            run.read(r.time, v);
        }
    }
    done.extend(silent.into_values());
    done.extend(runs.into_values().flat_map(Run::alerts));
    let mut alerted = Vec::new();
    for alert in done.into_iter().filter(|a| a.changed) {
        let stream = &streams[&alert.datastream];
        save(w, &alert, stream).await?;
        // An alert opened or closed changes its station's status at once; an update does not
        // (the latest readings follow with the stations' periodic refresh).
        let moved = alert.events.iter().any(|e| *e != "updated");
        if moved && !alerted.contains(&stream.thing) {
            alerted.push(stream.thing);
        }
    }
    Ok(alerted)
}

/// One writer of a datastream's alerts at a time, taken in id order (no deadlock).
async fn lock(w: &mut Write<'_>, sorted_ids: &[i64]) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('sta.alerts', d)) FROM unnest($1::bigint[]) d ORDER BY d",
    )
    .bind(sorted_ids)
    .execute(&mut *w.conn)
    .await
    .map_err(Error::db("evaluating alerts"))?;
    Ok(())
}

/// The most readings one re-run of a datastream's alerts reads: a correction far back in a long
/// alert is re-run this far, and the alerts after stay as they were.
const RERUN_READINGS: i64 = 100_000;

/// Re-runs a datastream's limit rule after readings at `times` changed or were deleted, in the
/// write's transaction, and makes its alerts what the readings now say: from the start of the
/// alert a changed reading belonged to (or from the reading, where it belonged to none) until
/// the rule again has nothing open past the change. An alert left with no reading over the
/// limit is withdrawn.
pub async fn rerun(w: &mut Write<'_>, stream: &Stream, times: &[DateTime<Utc>]) -> Result<()> {
    let (Some(limit), Some(&from), Some(&to)) = (w.rules.limit(stream), times.iter().min(), times.iter().max()) else {
        return Ok(());
    };
    lock(w, &[stream.id]).await?;
    let db = || Error::db("re-running alerts");
    // The alerts the change may move: those still open at or after its first reading.
    let rows = sqlx::query(
        "SELECT * FROM sta.alerts WHERE datastream_id = $1 AND kind = 'limit' \
         AND (closed_at IS NULL OR closed_at >= $2) ORDER BY opened_at",
    )
    .bind(stream.id)
    .bind(from)
    .fetch_all(&mut *w.conn)
    .await
    .map_err(db())?;
    let mut recorded: Vec<Open> = rows.iter().map(|r| Open::of_row(r, limit)).collect();
    let start = recorded.first().map_or(from, |a| a.opened_at.min(from));
    let mut readings = sqlx::query(
        "SELECT phenomenon_time, sta.number_of(result) FROM sta.observations \
         WHERE datastream_id = $1 AND phenomenon_time >= $2 ORDER BY phenomenon_time, id LIMIT $3",
    )
    .bind(stream.id)
    .bind(start)
    .bind(RERUN_READINGS)
    .fetch(&mut *w.conn);
    let mut run = Run::new(stream.id, limit, w.rules.clear_after, None);
    let mut until = start;
    while let Some(row) = readings.try_next().await.map_err(db())? {
        let time: DateTime<Utc> = row.get(0);
        if let Some(v) = row.get::<Option<f64>, _>(1) {
            run.read(time, v);
        }
        until = time;
        // Past the change, with nothing open on either side, the rest reads as it did.
        let recorded_open = recorded.iter().any(|a| a.opened_at <= time && a.closed_at.is_none_or(|c| time < c));
        if time >= to && run.open.is_none() && !recorded_open {
            break;
        }
    }
    drop(readings);
    recorded.retain(|a| a.opened_at <= until);
    let mut derived = run.alerts();
    let mut writes: Vec<Open> = Vec::new();
    for mut old in recorded {
        match derived.next() {
            Some(new) if old.same_as(&new) => {}
            Some(mut new) => {
                let event = match (old.closed_at.is_some(), new.closed_at.is_some()) {
                    (false, true) => "closed",
                    (true, false) => "opened",
                    _ => "updated",
                };
                (new.id, new.events) = (old.id, Vec::new());
                new.event(event);
                writes.push(new);
            }
            // Withdrawn before.
            None if old.readings == 0 => {}
            None => {
                old.readings = 0;
                old.closed_at = Some(old.closed_at.unwrap_or(old.opened_at));
                old.event("withdrawn");
                writes.push(old);
            }
        }
    }
    // Alerts the change makes: opened, and closed if the readings after it close them.
    writes.extend(derived);
    // Closed and withdrawn alerts are written before any is (re)opened: at most one is open.
    writes.sort_by_key(|a| a.closed_at.is_none());
    for alert in &writes {
        save(w, alert, stream).await?;
    }
    Ok(())
}

/// Writes an alert's state and its events.
async fn save(w: &mut Write<'_>, a: &Open, stream: &Stream) -> Result<()> {
    let db = Error::db("writing an alert");
    let id: i64 = match a.id {
        Some(id) => {
            sqlx::query(
                "UPDATE sta.alerts SET last_value = $2, worst_value = $3, readings = $4, under = $5, \
                 last_at = $6, closed_at = $7, lower_limit = $8, upper_limit = $9, first_value = $10, \
                 opened_at = $11 WHERE id = $1",
            )
            .bind(id)
            .bind(a.last)
            .bind(a.worst)
            .bind(a.readings)
            .bind(a.under)
            .bind(a.last_at)
            .bind(a.closed_at)
            .bind(a.limit.lower)
            .bind(a.limit.upper)
            .bind(a.first)
            .bind(a.opened_at)
            .execute(&mut *w.conn)
            .await
            .map_err(db)?;
            id
        }
        None => sqlx::query(
            "INSERT INTO sta.alerts (kind, datastream_id, thing_id, parameter, unit, lower_limit, upper_limit, \
                 first_value, last_value, worst_value, readings, under, opened_at, last_at, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(a.kind)
        .bind(a.datastream)
        .bind(stream.thing)
        .bind(&stream.parameter)
        .bind(&stream.unit)
        .bind(a.limit.lower)
        .bind(a.limit.upper)
        .bind(a.first)
        .bind(a.last)
        .bind(a.worst)
        .bind(a.readings)
        .bind(a.under)
        .bind(a.opened_at)
        .bind(a.last_at)
        .bind(a.closed_at)
        .fetch_one(&mut *w.conn)
        .await
        .map_err(db)?
        .get(0),
    };
    for e in &a.events {
        event(&mut *w.conn, id, e).await?;
        w.alert_events += 1;
    }
    Ok(())
}

/// Writes an alert event. Writers of events take turns until they commit, so that the events'
/// sequence is their commit order: a stream that has read up to one sequence never misses a
/// smaller one committed later. Events are rare beside readings, and the lock is taken after the
/// datastreams' locks, always in that order.
async fn event(conn: &mut sqlx::PgConnection, alert: i64, name: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('sta.alert_events', 0))")
        .execute(&mut *conn)
        .await
        .map_err(Error::db("ordering alert events"))?;
    sqlx::query("INSERT INTO sta.alert_events (alert_id, event, body) SELECT a.id, $2, sta.alert_body(a) FROM sta.alerts a WHERE a.id = $1")
        .bind(alert)
        .bind(name)
        .execute(conn)
        .await
        .map_err(Error::db("writing an alert event"))?;
    Ok(())
}

/// Writes the latest readings and the status of these Things into the stations layer's table
/// (only the rows that change).
pub async fn refresh_stations(conn: &mut sqlx::PgConnection, things: &[i64]) -> Result<()> {
    sqlx::query("SELECT sta.refresh_stations($1, false)")
        .bind(things)
        .execute(conn)
        .await
        .map_err(Error::db("refreshing the stations layer"))?;
    Ok(())
}

/// Brings every station of the stations layer up to date: a write refreshes the stations whose
/// alerts it changed at once, and this the latest readings of the others, every few seconds, so
/// that readings do not all queue on their station's row.
pub async fn refresh_all_stations(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT sta.refresh_stations(array(SELECT id FROM sta.stations), true)")
        .execute(pool)
        .await
        .map_err(Error::db("refreshing the stations layer"))?;
    Ok(())
}

/// Opens a "no data" alert for every datastream silent past its reporting interval; returns
/// how many were opened.
pub async fn silent(pool: &PgPool, rules: &Rules) -> Result<u64> {
    let mut tx = pool.begin().await.map_err(Error::db("checking silent stations"))?;
    let opened = sqlx::query(
        "WITH last AS ( \
             SELECT d.id, d.thing_id, op.name, d.unit_of_measurement->>'symbol' AS unit, \
                    (SELECT max(o.phenomenon_time) FROM sta.observations o WHERE o.datastream_id = d.id) AS at, \
                    coalesce(sta.number_of(d.properties->'reportingInterval'), $1) AS every \
             FROM sta.datastreams d JOIN sta.observed_properties op ON op.id = d.observed_property_id) \
         INSERT INTO sta.alerts (kind, datastream_id, thing_id, parameter, unit, opened_at, last_at) \
         SELECT 'no_data', id, thing_id, name, unit, now(), at FROM last \
         WHERE at IS NOT NULL AND every IS NOT NULL AND at < now() - make_interval(secs => every) \
         ON CONFLICT (datastream_id, kind) WHERE closed_at IS NULL DO NOTHING RETURNING id, thing_id",
    )
    .bind(rules.reporting_interval_s)
    .fetch_all(&mut *tx)
    .await
    .map_err(Error::db("opening no-data alerts"))?;
    for row in &opened {
        event(&mut tx, row.get(0), "opened").await?;
    }
    let things: Vec<i64> = opened.iter().map(|r| r.get(1)).collect();
    if !things.is_empty() {
        refresh_stations(&mut tx, &things).await?;
    }
    tx.commit().await.map_err(Error::db("opening no-data alerts"))?;
    Ok(opened.len() as u64)
}

/// An alert event as the stream and webhooks send it.
#[derive(Clone, Debug)]
pub struct AlertEvent {
    /// Its place in the order of events: the stream's event id.
    pub seq: i64,
    /// `opened`, `updated`, `closed`, `acknowledged`, `withdrawn`.
    pub event: String,
    /// The alert as the event left it, with `event` and `sequence`.
    pub body: Json,
}

/// The sequence of the last alert event (0 before the first).
pub async fn last_event(pool: &PgPool) -> Result<i64> {
    let row: (Option<i64>,) = sqlx::query_as("SELECT max(seq) FROM sta.alert_events")
        .fetch_one(pool)
        .await
        .map_err(Error::db("reading alert events"))?;
    Ok(row.0.unwrap_or(0))
}

/// Up to `limit` events after `seq`, in order.
pub async fn events_after(pool: &PgPool, seq: i64, limit: i64) -> Result<Vec<AlertEvent>> {
    let rows = sqlx::query("SELECT seq, event, body FROM sta.alert_events WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(seq)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(Error::db("reading alert events"))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (seq, event): (i64, String) = (r.get(0), r.get(1));
            let sqlx::types::Json(mut body): sqlx::types::Json<Json> = r.get(2);
            body["event"] = event.clone().into();
            body["sequence"] = seq.into();
            AlertEvent { seq, event, body }
        })
        .collect())
}

/// The alerts, newest first: open ones only, or all.
pub async fn list(pool: &PgPool, open_only: bool, limit: i64) -> Result<Vec<Json>> {
    let rows = sqlx::query(
        "SELECT sta.alert_body(a) FROM sta.alerts a WHERE NOT $1 OR a.closed_at IS NULL ORDER BY a.id DESC LIMIT $2",
    )
    .bind(open_only)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading alerts"))?;
    Ok(rows.into_iter().map(|r| r.get::<sqlx::types::Json<Json>, _>(0).0).collect())
}

/// An operator acknowledges an alert: the alert as it now is.
pub async fn acknowledge(pool: &PgPool, alert: i64, who: &str) -> Result<Json> {
    let mut tx = pool.begin().await.map_err(Error::db("acknowledging an alert"))?;
    let done = sqlx::query(
        "UPDATE sta.alerts SET acknowledged_at = now(), acknowledged_by = $2 \
         WHERE id = $1 AND acknowledged_at IS NULL RETURNING id",
    )
    .bind(alert)
    .bind(who)
    .fetch_optional(&mut *tx)
    .await
    .map_err(Error::db("acknowledging an alert"))?;
    if done.is_some() {
        event(&mut tx, alert, "acknowledged").await?;
    }
    let row = sqlx::query("SELECT sta.alert_body(a) FROM sta.alerts a WHERE a.id = $1")
        .bind(alert)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("reading an alert"))?
        .ok_or_else(|| Error::NoEntity(format!("no alert {alert}")))?;
    tx.commit().await.map_err(Error::db("acknowledging an alert"))?;
    Ok(row.get::<sqlx::types::Json<Json>, _>(0).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream(parameter: &str, station: Json) -> Stream {
        Stream {
            id: 1,
            thing: 1,
            station: station.as_object().expect("valid").clone(),
            parameter: parameter.into(),
            unit: None,
            location: None,
            feature: None,
            alerted: false,
        }
    }

    fn rules() -> Rules {
        let t = |parameter: &str, class: Option<&str>, min: Option<f64>, max: f64, flow_factors: bool| Threshold {
            parameter: parameter.into(),
            class: class.map(Into::into),
            min,
            max: Some(max),
            flow_factors,
        };
        Rules {
            thresholds: vec![
                t("COD", Some("A"), None, 75.0, true),
                t("COD", Some("B"), None, 150.0, true),
                t("pH", Some("B"), Some(5.5), 9.0, false),
                t("pH", None, Some(6.0), 9.0, false),
            ],
            ..Rules::default()
        }
    }

    #[test]
    fn the_limit_is_c_times_the_flow_factors_of_the_station_class() {
        let s = stream("COD", json!({"class": "B", "kq": 0.9, "kf": 1.0}));
        assert_eq!(rules().limit(&s), Some(Limit { lower: None, upper: Some(150.0 * 0.9) }));
        let s = stream("COD", json!({"class": "A"}));
        assert_eq!(rules().limit(&s).expect("valid").upper, Some(75.0));
        // pH takes no factors, and a station of no listed class gets the general threshold.
        let s = stream("pH", json!({"class": "B", "kq": 0.6}));
        assert_eq!(rules().limit(&s), Some(Limit { lower: Some(5.5), upper: Some(9.0) }));
        let s = stream("pH", json!({"class": "C"}));
        assert_eq!(rules().limit(&s).expect("valid").lower, Some(6.0));
        assert_eq!(rules().limit(&stream("TSS", json!({}))), None);
    }

    #[test]
    fn the_excess_is_measured_on_the_side_the_reading_leaves() {
        let l = Limit { lower: Some(6.0), upper: Some(9.0) };
        assert_eq!(l.excess(7.0), 0.0);
        assert_eq!(l.excess(9.5), 0.5);
        assert_eq!(l.excess(5.0), 1.0);
    }
}
