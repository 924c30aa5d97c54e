//! Creating entities (OGC 18-088 §10.2): a POSTed entity with its related entities inline (deep
//! insert) or named by `@iot.id`, checked member by member before it is written, so that a bad
//! member is answered with a JSON pointer to it. Observations go through [`super::observations`].

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value as Json};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::{
    alerts::{self, Rules},
    model::{EntitySet, Kind, Link},
    observations::{self, NewObservation},
    sql::{Param, Sql},
};
use crate::{Error, Result};

/// Who writes: an operator, or a station's key (which may only add readings to its own
/// datastreams).
#[derive(Clone, Debug)]
pub enum Author {
    /// `editor` or `admin`: any entity.
    Operator,
    /// A `station` key, by its id: observations of the Things whose `properties.station_key` names it.
    Station(String),
}

/// One write: its transaction's connection, the alert rules, who writes, and what it raised.
pub struct Write<'a> {
    /// The transaction.
    pub conn: &'a mut PgConnection,
    /// Thresholds and alert settings.
    pub rules: &'a Rules,
    /// Who writes.
    pub author: &'a Author,
    /// Alert events written so far.
    pub alert_events: u64,
}

pub(super) fn invalid(pointer: &str, detail: impl Into<String>) -> Error {
    Error::BadEntity { pointer: pointer.to_owned(), detail: detail.into() }
}

/// The id a member `{"@iot.id": n}` names, if it is a reference.
pub(super) fn reference(value: &Json, pointer: &str) -> Result<Option<i64>> {
    match value.get("@iot.id") {
        None => Ok(None),
        Some(id) => {
            id.as_i64().map(Some).ok_or_else(|| invalid(&format!("{pointer}/@iot.id"), "an id is a whole number"))
        }
    }
}

/// An instant in ISO 8601 with its offset.
pub(super) fn instant(value: &Json, pointer: &str) -> Result<DateTime<Utc>> {
    let text = value.as_str().ok_or_else(|| invalid(pointer, "a time is an ISO 8601 string"))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(pointer, format!("{text:?} is not an ISO 8601 time with its offset")))
}

/// An instant or `start/end`.
pub(super) fn span(value: &Json, pointer: &str) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let text = value.as_str().ok_or_else(|| invalid(pointer, "a time is an ISO 8601 string"))?;
    match text.split_once('/') {
        None => Ok((instant(value, pointer)?, None)),
        Some((a, b)) => {
            let (a, b) = (instant(&a.into(), pointer)?, instant(&b.into(), pointer)?);
            if b < a {
                return Err(invalid(pointer, "the interval ends before it starts"));
            }
            Ok((a, Some(b)))
        }
    }
}

/// GeoJSON the geometry column can be derived from: a geometry, or a Feature with one.
fn geojson(value: &Json, pointer: &str) -> Result<()> {
    let parsed = geojson::GeoJson::from_json_value(value.clone())
        .map_err(|e| invalid(pointer, format!("not a GeoJSON geometry or Feature: {e}")))?;
    let geometry = match parsed {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(f) => f.geometry.ok_or_else(|| invalid(pointer, "the Feature has no geometry"))?,
        geojson::GeoJson::FeatureCollection(_) => return Err(invalid(pointer, "one geometry, not a collection")),
    };
    geo_types::Geometry::<f64>::try_from(geometry)
        .map_err(|e| invalid(pointer, format!("not a valid geometry: {e}")))?;
    Ok(())
}

/// The column values of an entity's own properties: all of them for a new entity (`whole`),
/// those the body names for a change (an optional one given as null becomes NULL).
pub(super) fn columns(
    set: EntitySet,
    body: &Map<String, Json>,
    pointer: &str,
    whole: bool,
) -> Result<Vec<(String, Param)>> {
    for key in body.keys() {
        let known = set.property(key).is_some()
            || set.nav(key).is_some()
            || key.starts_with("@iot.")
            || key.ends_with("@iot.navigationLink");
        if !known {
            return Err(invalid(&format!("{pointer}/{key}"), format!("{} has no property {key:?}", set.name())));
        }
    }
    let mut out = Vec::new();
    for p in set.properties() {
        let at = format!("{pointer}/{}", p.name);
        let value = match body.get(p.name) {
            None if p.required && whole => return Err(invalid(&at, format!("{} is required", p.name))),
            Some(Json::Null) if p.required && p.kind != Kind::Json => {
                return Err(invalid(&at, format!("{} is required", p.name)));
            }
            None => continue,
            Some(v) => v,
        };
        let col = p.column.to_owned();
        match p.kind {
            Kind::Derived(_) => {}
            // A change that empties an optional member.
            Kind::Object | Kind::Instant if value.is_null() && !whole => {
                let sql_type = if p.kind == Kind::Object { "jsonb" } else { "timestamptz" };
                out.push((col, Param::Null(sql_type)));
            }
            Kind::Interval if value.is_null() && !whole => {
                out.push((format!("{col}_start"), Param::Null("timestamptz")));
                out.push((format!("{col}_end"), Param::Null("timestamptz")));
            }
            Kind::Text => {
                let s = value.as_str().ok_or_else(|| invalid(&at, "a string"))?;
                out.push((col, Param::Text(s.to_owned())));
            }
            Kind::Json => out.push((col, Param::Json(value.clone()))),
            Kind::Object if value.is_null() => {}
            Kind::Object if !value.is_object() => return Err(invalid(&at, "a JSON object")),
            Kind::Object => out.push((col, Param::Json(value.clone()))),
            Kind::GeoJson => {
                geojson(value, &at)?;
                out.push((col, Param::Json(value.clone())));
            }
            Kind::Instant if value.is_null() => {}
            Kind::Instant => out.push((col, Param::Time(instant(value, &at)?))),
            Kind::InstantOrInterval => {
                let (a, b) = span(value, &at)?;
                out.push((col.clone(), Param::Time(a)));
                match b {
                    Some(b) => out.push((format!("{col}_end"), Param::Time(b))),
                    None if !whole => out.push((format!("{col}_end"), Param::Null("timestamptz"))),
                    None => {}
                }
            }
            Kind::Interval if value.is_null() => {}
            Kind::Interval => {
                let (a, b) = span(value, &at)?;
                let b = b.ok_or_else(|| invalid(&at, "an interval: start/end"))?;
                out.push((format!("{col}_start"), Param::Time(a)));
                out.push((format!("{col}_end"), Param::Time(b)));
            }
        }
    }
    Ok(out)
}

impl Write<'_> {
    /// Creates an entity of `set` from `body` (its related entities too) and returns its id.
    pub async fn create(&mut self, set: EntitySet, body: &Json) -> Result<i64> {
        self.create_at(set, body, String::new(), None).await
    }

    /// Creates a feature of interest given inline in an observation.
    pub(super) async fn create_feature(&mut self, body: &Json, pointer: String) -> Result<i64> {
        self.create_at(EntitySet::FeaturesOfInterest, body, pointer, None).await
    }

    /// `preset`: a foreign key the entity gets from the entity it is created inside.
    fn create_at<'b>(
        &'b mut self,
        set: EntitySet,
        body: &'b Json,
        pointer: String,
        preset: Option<(&'static str, i64)>,
    ) -> BoxFuture<'b, Result<i64>> {
        Box::pin(async move {
            let object = body.as_object().ok_or_else(|| invalid(&pointer, "an entity is a JSON object"))?;
            if set == EntitySet::Observations {
                // Created inside its Datastream, or inside its FeatureOfInterest.
                let datastream = preset.filter(|(col, _)| *col == "datastream_id").map(|(_, id)| id);
                let mut new = NewObservation::from_json(body, &pointer, datastream)?;
                if let Some((_, feature)) = preset.filter(|(col, _)| *col == "feature_id") {
                    new.of_feature(feature);
                }
                let ids = observations::insert(self, vec![(new, pointer)]).await?;
                return Ok(ids[0]);
            }
            if matches!(self.author, Author::Station(_)) {
                return Err(Error::NotAllowed("a station key may only add observations".into()));
            }
            let mut cols = columns(set, object, &pointer, true)?;
            for nav in set.navs() {
                let Link::Column(fk) = nav.link else { continue };
                let at = format!("{pointer}/{}", nav.name);
                let id = match (object.get(nav.name), preset) {
                    (Some(value), _) => self.related(nav.target, value, at).await?,
                    (None, Some((col, id))) if col == fk => id,
                    (None, _) => return Err(invalid(&at, format!("{} is required", nav.name))),
                };
                cols.push((fk.to_owned(), Param::Int(id)));
            }
            let id = self.insert(set, cols).await?;
            for nav in set.navs() {
                let Some(value) = object.get(nav.name) else { continue };
                let at = format!("{pointer}/{}", nav.name);
                let items = match (nav.link, value) {
                    (Link::Column(_), _) => continue,
                    (_, Json::Array(items)) => items,
                    _ => return Err(invalid(&at, format!("{} is a list of entities", nav.name))),
                };
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{at}/{i}");
                    match nav.link {
                        Link::Table(table, this, that) => {
                            let other = self.related(nav.target, item, at).await?;
                            let text =
                                format!("INSERT INTO {table} ({this}, {that}) VALUES ($1, $2) ON CONFLICT DO NOTHING");
                            sqlx::query(AssertSqlSafe(text))
                                .bind(id)
                                .bind(other)
                                .execute(&mut *self.conn)
                                .await
                                .map_err(write_error)?;
                        }
                        Link::Reverse(fk) => {
                            if reference(item, &at)?.is_some() {
                                return Err(invalid(
                                    &at,
                                    format!("a {} belongs to one entity: create it here", nav.name),
                                ));
                            }
                            self.create_at(nav.target, item, at, Some((fk, id))).await?;
                        }
                        Link::Column(_) => unreachable!("skipped above"),
                    }
                }
            }
            if set == EntitySet::Things && object.contains_key("Locations") {
                self.moved(id).await?;
            }
            Ok(id)
        })
    }

    /// Changes the members of an entity that `body` gives, as a JSON merge patch (RFC 7396) of its
    /// own properties; a to-one navigation property names its new entity, a Thing's `Locations`
    /// replace its Locations (and make a HistoricalLocation).
    pub async fn update(&mut self, set: EntitySet, id: i64, body: &Json) -> Result<()> {
        if matches!(self.author, Author::Station(_)) {
            return Err(Error::NotAllowed("a station key may only add observations".into()));
        }
        let object = body.as_object().ok_or_else(|| invalid("", "a change is a JSON object"))?;
        let mut cols = columns(set, object, "", false)?;
        for nav in set.navs() {
            let Some(value) = object.get(nav.name) else { continue };
            let at = format!("/{}", nav.name);
            match nav.link {
                Link::Column(fk) => {
                    if reference(value, &at)?.is_none() {
                        return Err(invalid(&at, "name the entity by its @iot.id"));
                    }
                    cols.push((fk.to_owned(), Param::Int(self.related(nav.target, value, at).await?)));
                }
                Link::Table(..) if set == EntitySet::Things && nav.name == "Locations" => {
                    if !value.is_array() {
                        return Err(invalid(&at, "a list of Locations"));
                    }
                }
                _ => return Err(invalid(&at, format!("change {} through their own URLs", nav.name))),
            }
        }
        let mut sql = Sql::default();
        let sets: Vec<String> = cols.into_iter().map(|(c, v)| format!("{c} = {}", sql.bind(v))).collect();
        let id_param = sql.bind(Param::Int(id));
        // With nothing to set, the statement still says whether the entity exists.
        let assignments = if sets.is_empty() { "id = id".to_owned() } else { sets.join(", ") };
        sql.text = format!("UPDATE {} SET {assignments} WHERE id = {id_param} RETURNING id", set.table());
        let before = self.reading(set, id).await?;
        let found = sql.query().fetch_optional(&mut *self.conn).await.map_err(write_error)?;
        found.ok_or_else(|| Error::NoEntity(format!("no entity {}({id})", set.name())))?;
        if let Some(before) = before {
            let after = self.reading(set, id).await?;
            self.readings_changed(before, after).await?;
        }
        if let (EntitySet::Things, Some(Json::Array(locations))) = (set, object.get("Locations")) {
            sqlx::query("DELETE FROM sta.thing_locations WHERE thing_id = $1")
                .bind(id)
                .execute(&mut *self.conn)
                .await
                .map_err(write_error)?;
            for (i, l) in locations.iter().enumerate() {
                let location = self.related(EntitySet::Locations, l, format!("/Locations/{i}")).await?;
                sqlx::query(
                    "INSERT INTO sta.thing_locations (thing_id, location_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(location)
                .execute(&mut *self.conn)
                .await
                .map_err(write_error)?;
            }
            self.moved(id).await?;
        }
        Ok(())
    }

    /// Deletes an entity, and what cannot be without it (a Thing's Datastreams, their
    /// Observations…, as the standard's integrity rules say).
    pub async fn delete(&mut self, set: EntitySet, id: i64) -> Result<()> {
        if matches!(self.author, Author::Station(_)) {
            return Err(Error::NotAllowed("a station key may only add observations".into()));
        }
        let before = self.reading(set, id).await?;
        let text = format!("DELETE FROM {} WHERE id = $1", set.table());
        let done = sqlx::query(AssertSqlSafe(text)).bind(id).execute(&mut *self.conn).await.map_err(write_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::NoEntity(format!("no entity {}({id})", set.name())));
        }
        if let Some(before) = before {
            self.readings_changed(before, None).await?;
        }
        Ok(())
    }

    /// Where an observation sits (its datastream and phenomenon time): the alerts it may move.
    async fn reading(&mut self, set: EntitySet, id: i64) -> Result<Option<(i64, DateTime<Utc>)>> {
        if set != EntitySet::Observations {
            return Ok(None);
        }
        let row = sqlx::query("SELECT datastream_id, phenomenon_time FROM sta.observations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(write_error)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// A reading was corrected (moved to `after`) or deleted: the alerts of the datastreams it
    /// was and is in are re-run, and their stations' latest readings and status refreshed.
    async fn readings_changed(
        &mut self,
        before: (i64, DateTime<Utc>),
        after: Option<(i64, DateTime<Utc>)>,
    ) -> Result<()> {
        let places: Vec<(i64, DateTime<Utc>)> = std::iter::once(before).chain(after).collect();
        let mut ids: Vec<i64> = places.iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let (streams, _, _) = observations::streams(self, &ids, 0).await?;
        let mut things = Vec::new();
        // In id order, as every writer takes the datastreams' locks.
        for id in ids {
            let Some(stream) = streams.get(&id) else { continue };
            let times: Vec<DateTime<Utc>> = places.iter().filter(|p| p.0 == id).map(|p| p.1).collect();
            alerts::rerun(self, stream, &times).await?;
            things.push(stream.thing);
        }
        things.dedup();
        alerts::refresh_stations(&mut *self.conn, &things).await
    }

    /// The id of an entity named by reference, or created inline.
    async fn related(&mut self, set: EntitySet, value: &Json, at: String) -> Result<i64> {
        match reference(value, &at)? {
            Some(id) => {
                let text = format!("SELECT 1 FROM {} WHERE id = $1", set.table());
                let found = sqlx::query(AssertSqlSafe(text))
                    .bind(id)
                    .fetch_optional(&mut *self.conn)
                    .await
                    .map_err(write_error)?;
                found.map(|_| id).ok_or_else(|| invalid(&format!("{at}/@iot.id"), format!("no {}({id})", set.name())))
            }
            None => self.create_at(set, value, at, None).await,
        }
    }

    async fn insert(&mut self, set: EntitySet, cols: Vec<(String, Param)>) -> Result<i64> {
        let mut sql = Sql::default();
        let names: Vec<String> = cols.iter().map(|(c, _)| c.clone()).collect();
        let values: Vec<String> = cols.into_iter().map(|(_, v)| sql.bind(v)).collect();
        sql.text =
            format!("INSERT INTO {} ({}) VALUES ({}) RETURNING id", set.table(), names.join(", "), values.join(", "));
        let row = sql.query().fetch_one(&mut *self.conn).await.map_err(write_error)?;
        Ok(row.get(0))
    }

    /// A Thing's Locations changed: its HistoricalLocation now (OGC 18-088 §8.2.3).
    async fn moved(&mut self, thing: i64) -> Result<()> {
        sqlx::query(
            "WITH h AS (INSERT INTO sta.historical_locations (thing_id, time) VALUES ($1, now()) RETURNING id) \
             INSERT INTO sta.historical_location_locations (historical_location_id, location_id) \
             SELECT h.id, l.location_id FROM h, sta.thing_locations l WHERE l.thing_id = $1",
        )
        .bind(thing)
        .execute(&mut *self.conn)
        .await
        .map_err(write_error)?;
        Ok(())
    }
}

/// A write's failure: the table refusing a value is the request's fault.
pub(super) fn write_error(e: sqlx::Error) -> Error {
    let err = Error::db("writing entities")(e);
    match err.refused_by_table() {
        Some(why) => Error::BadEntity { pointer: String::new(), detail: why },
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(set: EntitySet, body: Json) -> Result<Vec<(String, Param)>> {
        columns(set, body.as_object().expect("valid"), "", true)
    }

    #[test]
    fn a_missing_or_mistyped_member_is_named_by_its_pointer() {
        let e = cols(EntitySet::Things, json!({"name": "Trạm Trà Nóc"})).expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/description"), "{e:?}");
        let e = cols(EntitySet::Things, json!({"name": 5, "description": ""})).expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/name"), "{e:?}");
        let e = cols(EntitySet::Things, json!({"name": "a", "description": "", "colour": "red"})).expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/colour"), "{e:?}");
        let bad_point = json!({"name": "a", "description": "", "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [105.7]}});
        let e = cols(EntitySet::Locations, bad_point).expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/location"), "{e:?}");
    }

    #[test]
    fn times_and_intervals_become_their_columns() {
        let c = cols(
            EntitySet::Observations,
            json!({"result": 7.1, "phenomenonTime": "2026-03-01T07:00:00+07:00/2026-03-01T08:00:00+07:00",
                   "validTime": "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"}),
        )
        .expect("valid");
        let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["phenomenon_time", "phenomenon_time_end", "result", "valid_time_start", "valid_time_end"]);
        assert_eq!(c[0].1, Param::Time("2026-03-01T00:00:00Z".parse().expect("valid")));
        let e =
            cols(EntitySet::Observations, json!({"result": 1, "phenomenonTime": "yesterday"})).expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/phenomenonTime"), "{e:?}");
    }
}
