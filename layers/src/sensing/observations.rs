//! Adding observations, one or thousands at once (the `dataArray` extension, OGC 18-088 §14):
//! every reading is checked first, its datastream and feature of interest resolved once per
//! batch, all are inserted in one statement, and the alert rules run over them in the same
//! transaction, so that a reading is never stored without its alert, nor an alert without it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use sqlx::Row;

use super::{
    alerts::{self, Reading},
    model::EntitySet,
    sql::Param,
    write::{Author, Write, columns, invalid, reference, write_error},
};
use crate::{Error, Result};

/// The feature of interest of a new observation.
#[derive(Clone, Debug, PartialEq)]
enum FeatureOfInterest {
    /// The Thing's Location, as a feature of interest made once (OGC 18-088 §8.2.7).
    FromLocation,
    /// An existing one.
    Id(i64),
    /// A new one, given inline.
    New(Json),
}

/// An observation checked and ready to insert.
#[derive(Clone, Debug, PartialEq)]
pub struct NewObservation {
    datastream: i64,
    phenomenon: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    result_time: Option<DateTime<Utc>>,
    result: Json,
    quality: Option<Json>,
    valid: Option<(DateTime<Utc>, DateTime<Utc>)>,
    parameters: Option<Json>,
    feature: FeatureOfInterest,
}

/// What the alert rules need of a datastream, and where its readings' feature comes from.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The datastream.
    pub id: i64,
    /// Its Thing (the station).
    pub thing: i64,
    /// The Thing's `properties`.
    pub station: Map<String, Json>,
    /// The ObservedProperty's name.
    pub parameter: String,
    /// The unit's symbol.
    pub unit: Option<String>,
    /// The Thing's first Location.
    pub location: Option<i64>,
    /// The feature of interest made from it, once there is one.
    pub feature: Option<i64>,
    /// Whether the datastream has an open alert.
    pub alerted: bool,
}

impl NewObservation {
    /// An observation from its JSON; `datastream` when it is created inside one.
    pub fn from_json(body: &Json, pointer: &str, datastream: Option<i64>) -> Result<Self> {
        let object = body.as_object().ok_or_else(|| invalid(pointer, "an observation is a JSON object"))?;
        let mut new = Self {
            datastream: 0,
            phenomenon: None,
            result_time: None,
            result: object.get("result").cloned().unwrap_or(Json::Null),
            quality: None,
            valid: None,
            parameters: None,
            feature: FeatureOfInterest::FromLocation,
        };
        let mut times: HashMap<String, DateTime<Utc>> = HashMap::new();
        for (column, value) in columns(EntitySet::Observations, object, pointer, true)? {
            match (column.as_str(), value) {
                ("result_quality", Param::Json(v)) => new.quality = Some(v),
                ("parameters", Param::Json(v)) => new.parameters = Some(v),
                (c, Param::Time(t)) => drop(times.insert(c.to_owned(), t)),
                _ => {}
            }
        }
        new.phenomenon = times.get("phenomenon_time").map(|a| (*a, times.get("phenomenon_time_end").copied()));
        new.result_time = times.get("result_time").copied();
        new.valid = times.get("valid_time_start").zip(times.get("valid_time_end")).map(|(a, b)| (*a, *b));
        let at = format!("{pointer}/Datastream");
        new.datastream = match (object.get("Datastream"), datastream) {
            (Some(d), _) => reference(d, &at)?.ok_or_else(|| invalid(&at, "name the Datastream by its @iot.id"))?,
            (None, Some(id)) => id,
            (None, None) => return Err(invalid(&at, "an observation needs its Datastream")),
        };
        let at = format!("{pointer}/FeatureOfInterest");
        new.feature = match object.get("FeatureOfInterest") {
            None | Some(Json::Null) => FeatureOfInterest::FromLocation,
            Some(f) => match reference(f, &at)? {
                Some(id) => FeatureOfInterest::Id(id),
                None => FeatureOfInterest::New(f.clone()),
            },
        };
        Ok(new)
    }
}

impl NewObservation {
    /// Makes it an observation of this feature of interest (it is created inside it).
    pub fn of_feature(&mut self, feature: i64) {
        self.feature = FeatureOfInterest::Id(feature);
    }
}

/// The observations of a `CreateObservations` document: a list of datastreams, each with its
/// `components` and the `dataArray` of readings in that order. At most `most` readings.
pub fn data_array(body: &Json, most: usize) -> Result<Vec<(NewObservation, String)>> {
    let groups = body.as_array().ok_or_else(|| invalid("", "a list of {Datastream, components, dataArray}"))?;
    let total: usize = groups.iter().map(|g| g["dataArray"].as_array().map_or(0, Vec::len)).sum();
    if total > most {
        return Err(Error::TooMany(format!("{total} observations in one request; at most {most} are accepted")));
    }
    let mut out = Vec::with_capacity(total);
    for (i, group) in groups.iter().enumerate() {
        let at = format!("/{i}");
        let datastream = group.get("Datastream").ok_or_else(|| invalid(&format!("{at}/Datastream"), "required"))?;
        let datastream = reference(datastream, &format!("{at}/Datastream"))?
            .ok_or_else(|| invalid(&format!("{at}/Datastream"), "name the Datastream by its @iot.id"))?;
        let components: Vec<&str> = group["components"]
            .as_array()
            .ok_or_else(|| invalid(&format!("{at}/components"), "a list of names"))?
            .iter()
            .map(|c| c.as_str().unwrap_or(""))
            .collect();
        for (j, c) in components.iter().enumerate() {
            let known = ["phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters"];
            if !known.contains(c) && *c != "FeatureOfInterest/id" {
                return Err(invalid(&format!("{at}/components/{j}"), format!("{c:?} is not a component")));
            }
        }
        let rows = group["dataArray"].as_array().ok_or_else(|| invalid(&format!("{at}/dataArray"), "a list"))?;
        for (j, row) in rows.iter().enumerate() {
            let row_at = format!("{at}/dataArray/{j}");
            let values = row
                .as_array()
                .filter(|v| v.len() == components.len())
                .ok_or_else(|| invalid(&row_at, format!("a list of {} values, one per component", components.len())))?;
            let mut object = Map::new();
            for (c, v) in components.iter().zip(values) {
                match *c {
                    "FeatureOfInterest/id" => {
                        object.insert("FeatureOfInterest".into(), serde_json::json!({"@iot.id": v}))
                    }
                    c => object.insert(c.to_owned(), v.clone()),
                };
            }
            // A member's pointer names its place in the row, not its name.
            let new =
                NewObservation::from_json(&Json::Object(object), &row_at, Some(datastream)).map_err(|e| match e {
                    Error::BadEntity { pointer, detail } => {
                        let member = pointer.strip_prefix(&format!("{row_at}/")).unwrap_or("");
                        let name = member.split('/').next().unwrap_or("");
                        let name = if name == "FeatureOfInterest" { "FeatureOfInterest/id" } else { name };
                        let index = components.iter().position(|c| *c == name);
                        let pointer = index.map_or(pointer.clone(), |k| format!("{row_at}/{k}"));
                        Error::BadEntity { pointer, detail }
                    }
                    other => other,
                })?;
            out.push((new, row_at));
        }
    }
    Ok(out)
}

/// The datastreams these observations name, with what the alert rules need of them; and, in the
/// same round trip, the transaction's time and `count` new observation ids.
pub(super) async fn streams(
    w: &mut Write<'_>,
    ids: &[i64],
    count: usize,
) -> Result<(HashMap<i64, Stream>, DateTime<Utc>, Vec<i64>)> {
    let rows = sqlx::query(
        "WITH fresh AS MATERIALIZED ( \
             SELECT now() AS at, array(SELECT nextval('sta.observations_id') FROM generate_series(1, $2)) AS ids) \
         SELECT fresh.at, fresh.ids, d.id, d.thing_id, coalesce(t.properties, '{}'), op.name, \
                d.unit_of_measurement->>'symbol', l.location, \
                (SELECT f.id FROM sta.features_of_interest f WHERE f.location_id = l.location), \
                EXISTS (SELECT FROM sta.alerts a WHERE a.datastream_id = d.id AND a.closed_at IS NULL) \
         FROM fresh LEFT JOIN ( \
             sta.datastreams d \
             JOIN sta.things t ON t.id = d.thing_id \
             JOIN sta.observed_properties op ON op.id = d.observed_property_id \
             CROSS JOIN LATERAL (SELECT min(tl.location_id) AS location FROM sta.thing_locations tl \
                                 WHERE tl.thing_id = d.thing_id) l \
         ) ON d.id = ANY($1)",
    )
    .bind(ids)
    .bind(count as i64)
    .fetch_all(&mut *w.conn)
    .await
    .map_err(write_error)?;
    let first = rows.first().ok_or_else(|| Error::db("reading datastreams")(sqlx::Error::RowNotFound))?;
    let (at, new_ids): (DateTime<Utc>, Vec<i64>) = (first.get(0), first.get(1));
    let mut streams = HashMap::new();
    for r in rows.iter().filter(|r| r.get::<Option<i64>, _>(2).is_some()) {
        let sqlx::types::Json(station): sqlx::types::Json<Map<String, Json>> = r.get(4);
        let s = Stream {
            id: r.get(2),
            thing: r.get(3),
            station,
            parameter: r.get(5),
            unit: r.get(6),
            location: r.get(7),
            feature: r.get(8),
            alerted: r.get(9),
        };
        streams.insert(s.id, s);
    }
    Ok((streams, at, new_ids))
}

/// The feature of interest made from a Location (once, then reused).
async fn feature_from_location(w: &mut Write<'_>, location: i64) -> Result<i64> {
    let made = sqlx::query(
        "INSERT INTO sta.features_of_interest (name, description, encoding_type, feature, location_id) \
         SELECT name, description, encoding_type, location, id FROM sta.locations WHERE id = $1 \
         ON CONFLICT (location_id) DO NOTHING RETURNING id",
    )
    .bind(location)
    .fetch_optional(&mut *w.conn)
    .await
    .map_err(write_error)?;
    if let Some(row) = made {
        return Ok(row.get(0));
    }
    // Made before, or by a transaction that committed while this one waited on it.
    let row = sqlx::query("SELECT id FROM sta.features_of_interest WHERE location_id = $1")
        .bind(location)
        .fetch_one(&mut *w.conn)
        .await
        .map_err(write_error)?;
    Ok(row.get(0))
}

/// Features of interest a batch has resolved: those made from a Location, by location, and
/// those named by id that exist.
#[derive(Default)]
struct Features {
    made: HashMap<i64, i64>,
    checked: Vec<i64>,
}

/// The feature of interest of one new observation: named, given inline, or its Thing's Location.
async fn feature_of(w: &mut Write<'_>, posted: &Posted<'_>, stream: &Stream, found: &mut Features) -> Result<i64> {
    let (o, at) = (&posted.observation, posted.pointer.as_str());
    Ok(match &o.feature {
        FeatureOfInterest::Id(id) if found.checked.contains(id) => *id,
        FeatureOfInterest::Id(id) => {
            found.checked.push(*id);
            let exists = sqlx::query("SELECT 1 FROM sta.features_of_interest WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *w.conn)
                .await
                .map_err(write_error)?;
            exists.ok_or_else(|| {
                invalid(&format!("{at}/FeatureOfInterest/@iot.id"), format!("no FeaturesOfInterest({id})"))
            })?;
            *id
        }
        FeatureOfInterest::New(body) => {
            if matches!(posted.author, Author::Station(_)) {
                return Err(Error::NotAllowed("a station key may not create features of interest".into()));
            }
            w.create_feature(body, format!("{at}/FeatureOfInterest")).await?
        }
        FeatureOfInterest::FromLocation => {
            let location = stream.location.ok_or_else(|| {
                invalid(&format!("{at}/FeatureOfInterest"), "required: the Thing has no Location to take it from")
            })?;
            match found.made.get(&location).copied().or(stream.feature) {
                Some(f) => f,
                None => {
                    let f = feature_from_location(w, location).await?;
                    found.made.insert(location, f);
                    f
                }
            }
        }
    })
}

/// One observation to add: the pointer that names it in its request, and who sends it.
pub struct Posted<'a> {
    /// The observation.
    pub observation: NewObservation,
    /// Where it is in its request's body.
    pub pointer: String,
    /// Who sends it.
    pub author: &'a Author,
}

/// Inserts the observations of one request (each with the pointer that names it) and returns
/// their ids, in order.
pub async fn insert(w: &mut Write<'_>, items: Vec<(NewObservation, String)>) -> Result<Vec<i64>> {
    let author = w.author;
    let posted = items.into_iter().map(|(observation, pointer)| Posted { observation, pointer, author }).collect();
    insert_posted(w, posted).await
}

/// Inserts observations each sent by its own author (those of several requests written
/// together) and returns their ids, in order.
pub async fn insert_posted(w: &mut Write<'_>, items: Vec<Posted<'_>>) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = items.iter().map(|p| p.observation.datastream).collect();
    ids.sort_unstable();
    ids.dedup();
    let (streams, now, new_ids) = streams(w, &ids, items.len()).await?;
    let mut found = Features::default();
    let mut feature_ids = Vec::with_capacity(items.len());
    for posted in &items {
        let (o, at) = (&posted.observation, &posted.pointer);
        let stream = streams
            .get(&o.datastream)
            .ok_or_else(|| invalid(&format!("{at}/Datastream/@iot.id"), format!("no Datastreams({})", o.datastream)))?;
        if let Author::Station(key) = posted.author
            && stream.station.get("station_key").and_then(Json::as_str) != Some(key.as_str())
        {
            return Err(Error::NotAllowed(format!(
                "this station key may not add observations to Datastreams({})",
                o.datastream
            )));
        }
        feature_ids.push(feature_of(w, posted, stream, &mut found).await?);
    }
    let observations: Vec<NewObservation> = items.into_iter().map(|p| p.observation).collect();
    let times: Vec<DateTime<Utc>> = observations.iter().map(|o| o.phenomenon.map_or(now, |p| p.0)).collect();
    let json = |f: &dyn Fn(&NewObservation) -> Option<Json>| -> Vec<Option<sqlx::types::Json<Json>>> {
        observations.iter().map(|o| f(o).map(sqlx::types::Json)).collect()
    };
    sqlx::query(
        "INSERT INTO sta.observations (id, datastream_id, phenomenon_time, phenomenon_time_end, result_time, \
             result, result_quality, valid_time_start, valid_time_end, parameters, feature_id) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], \
             $6::jsonb[], $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::jsonb[], $11::bigint[])",
    )
    .bind(&new_ids)
    .bind(observations.iter().map(|o| o.datastream).collect::<Vec<i64>>())
    .bind(&times)
    .bind(observations.iter().map(|o| o.phenomenon.and_then(|p| p.1)).collect::<Vec<_>>())
    .bind(observations.iter().map(|o| o.result_time).collect::<Vec<_>>())
    .bind(json(&|o| Some(o.result.clone())))
    .bind(json(&|o| o.quality.clone()))
    .bind(observations.iter().map(|o| o.valid.map(|v| v.0)).collect::<Vec<_>>())
    .bind(observations.iter().map(|o| o.valid.map(|v| v.1)).collect::<Vec<_>>())
    .bind(json(&|o| o.parameters.clone()))
    .bind(&feature_ids)
    .execute(&mut *w.conn)
    .await
    .map_err(write_error)?;
    let readings: Vec<Reading> = observations
        .iter()
        .zip(&times)
        .map(|(o, t)| Reading { datastream: o.datastream, time: *t, value: o.result.as_f64() })
        .collect();
    let alerted = alerts::evaluate(w, &streams, readings).await?;
    if !alerted.is_empty() {
        alerts::refresh_stations(&mut *w.conn, &alerted).await?;
    }
    Ok(new_ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_data_array_row_becomes_the_observation_its_components_name() {
        let body = json!([{
            "Datastream": {"@iot.id": 4},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray": [["2026-03-01T07:00:00+07:00", 81.5, 2], ["2026-03-01T07:05:00+07:00", 79, 2]]
        }]);
        let rows = data_array(&body, 10).expect("valid");
        assert_eq!(rows.len(), 2);
        let (first, at) = &rows[0];
        assert_eq!(at, "/0/dataArray/0");
        assert_eq!(first.datastream, 4);
        assert_eq!(first.result, json!(81.5));
        assert_eq!(first.feature, FeatureOfInterest::Id(2));
        assert_eq!(first.phenomenon, Some(("2026-03-01T00:00:00Z".parse().expect("valid"), None)));
    }

    #[test]
    fn a_bad_value_in_a_data_array_is_named_by_its_row_and_column() {
        let body = json!([{
            "Datastream": {"@iot.id": 4},
            "components": ["result", "phenomenonTime"],
            "dataArray": [[1, "2026-03-01T07:00:00Z"], [2, "not a time"]]
        }]);
        match data_array(&body, 10) {
            Err(Error::BadEntity { pointer, .. }) => assert_eq!(pointer, "/0/dataArray/1/1"),
            other => panic!("{other:?}"),
        }
        let short = json!([{"Datastream": {"@iot.id": 4}, "components": ["result"], "dataArray": [[1, 2]]}]);
        assert!(matches!(data_array(&short, 10), Err(Error::BadEntity { pointer, .. }) if pointer == "/0/dataArray/0"));
        let many = json!([{"Datastream": {"@iot.id": 4}, "components": ["result"], "dataArray": [[1], [2], [3]]}]);
        assert!(matches!(data_array(&many, 2), Err(Error::TooMany(_))));
    }

    #[test]
    fn an_observation_names_its_datastream_or_is_created_in_one() {
        let e = NewObservation::from_json(&json!({"result": 1}), "", None).expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/Datastream"), "{e:?}");
        let o = NewObservation::from_json(&json!({"result": null}), "", Some(9)).expect("valid");
        assert_eq!((o.datastream, o.result), (9, Json::Null));
        let e = NewObservation::from_json(&json!({"phenomenonTime": "2026-03-01T00:00:00Z"}), "", Some(9))
            .expect_err("refused");
        assert!(matches!(e, Error::BadEntity { ref pointer, .. } if pointer == "/result"), "{e:?}");
    }
}
