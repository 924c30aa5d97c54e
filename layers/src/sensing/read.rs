//! Reading entities: resource paths (`Things(1)/Datastreams`), one SQL query per collection with
//! its filter, order and page, the JSON of each entity with its links, and `$expand`.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value as Json};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use super::{
    model::{EntitySet, Kind, Link, Nav},
    odata::Query,
    sql::{Compiler, Param, Sql},
};
use crate::{Error, Result};

/// How many entities a page holds.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    /// When `$top` is not given.
    pub default_top: u64,
    /// The most `$top` may ask for.
    pub max_top: u64,
}

/// Which entities of a set a request means.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// All of them.
    All,
    /// Those reached from one entity through one of its navigation properties.
    Related {
        /// The entity's set.
        parent: EntitySet,
        /// Its id.
        id: i64,
        /// The navigation property.
        nav: &'static Nav,
    },
}

impl Scope {
    fn condition(&self, alias: &str, sql: &mut Sql) -> String {
        let Self::Related { parent, id, nav } = *self else { return "true".to_owned() };
        let id = sql.bind(Param::Int(id));
        match nav.link {
            Link::Column(fk) => format!("{alias}.id = (SELECT p.{fk} FROM {} p WHERE p.id = {id})", parent.table()),
            Link::Reverse(fk) => format!("{alias}.{fk} = {id}"),
            Link::Table(table, this, that) => {
                format!("{alias}.id IN (SELECT l.{that} FROM {table} l WHERE l.{this} = {id})")
            }
        }
    }
}

/// What a resource path names.
#[derive(Clone, Debug)]
pub enum Resource {
    /// A collection of entities.
    Collection(EntitySet, Scope),
    /// One entity.
    Entity(EntitySet, i64),
    /// One property of one entity; `raw` for `$value`.
    Property(EntitySet, i64, &'static str, bool),
}

/// One step of a path: a set or navigation property name and an id.
fn step(segment: &str) -> Result<(&str, Option<i64>)> {
    let Some((name, rest)) = segment.split_once('(') else { return Ok((segment, None)) };
    let id = rest.strip_suffix(')').ok_or_else(|| Error::BadQuery(format!("{segment:?} is not closed")))?;
    // Every id here is a number: a quoted one names nothing.
    let id = id.parse::<i64>().map_err(|_| Error::NoEntity(format!("no entity {segment}")))?;
    Ok((name, Some(id)))
}

/// The resource of a path below the service root, checking that each entity on the way exists.
pub async fn resolve(pool: &PgPool, path: &str) -> Result<Resource> {
    let mut segments = path.trim_matches('/').split('/');
    let (first, id) = step(segments.next().unwrap_or_default())?;
    let set = EntitySet::parse(first).ok_or_else(|| Error::NoEntity(format!("no entity set {first:?}")))?;
    let (mut set, mut scope, mut id) = (set, Scope::All, id);
    let mut rest = segments.peekable();
    while let Some(segment) = rest.next() {
        let here = match id {
            Some(i) => existing(pool, set, scope, i).await?,
            None if matches!(scope, Scope::Related { nav, .. } if nav.to_one()) => only(pool, set, scope).await?,
            None => return Err(Error::BadQuery(format!("{segment:?} follows a collection: name one entity first"))),
        };
        let (name, next_id) = step(segment)?;
        if let Some(nav) = set.nav(name) {
            (scope, id) = (Scope::Related { parent: set, id: here, nav }, next_id);
            set = nav.target;
            continue;
        }
        let property = set
            .property(name)
            .map(|p| p.name)
            .or((name == "id").then_some("id"))
            .ok_or_else(|| Error::NoEntity(format!("{} has no property {name:?}", set.name())))?;
        let raw = match rest.next() {
            None => false,
            Some("$value") if rest.peek().is_none() => true,
            Some(other) => return Err(Error::BadQuery(format!("{other:?} cannot follow a property"))),
        };
        return Ok(Resource::Property(set, here, property, raw));
    }
    Ok(match (id, scope) {
        (Some(i), scope) => Resource::Entity(set, existing(pool, set, scope, i).await?),
        (None, Scope::Related { nav, .. }) if nav.to_one() => Resource::Entity(set, only(pool, set, scope).await?),
        (None, scope) => Resource::Collection(set, scope),
    })
}

/// `id` if that entity is in `scope`.
async fn existing(pool: &PgPool, set: EntitySet, scope: Scope, id: i64) -> Result<i64> {
    let mut sql = Sql::default();
    let cond = scope.condition("e", &mut sql);
    let id_param = sql.bind(Param::Int(id));
    sql.text = format!("SELECT e.id FROM {} e WHERE e.id = {id_param} AND {cond}", set.table());
    let found = sql.query().fetch_optional(pool).await.map_err(Error::db("reading an entity"))?;
    found.map(|_| id).ok_or_else(|| Error::NoEntity(format!("no entity {}({id})", set.name())))
}

/// The one entity a to-one navigation property leads to.
async fn only(pool: &PgPool, set: EntitySet, scope: Scope) -> Result<i64> {
    let mut sql = Sql::default();
    let cond = scope.condition("e", &mut sql);
    sql.text = format!("SELECT e.id FROM {} e WHERE {cond}", set.table());
    let row = sql.query().fetch_optional(pool).await.map_err(Error::db("reading an entity"))?;
    row.map(|r| r.get::<i64, _>(0)).ok_or_else(|| Error::NoEntity(format!("no {} there", set.name())))
}

/// The SQL of one property's JSON value.
fn value_sql(alias: &str, column: &str, kind: Kind) -> String {
    match kind {
        Kind::Text | Kind::Json | Kind::Object | Kind::GeoJson => format!("{alias}.{column}"),
        Kind::Instant => format!("sta.iso({alias}.{column})"),
        Kind::InstantOrInterval => format!("sta.iso_span({alias}.{column}, {alias}.{column}_end)"),
        Kind::Interval => format!(
            "CASE WHEN {alias}.{column}_start IS NULL THEN NULL \
             ELSE sta.iso({alias}.{column}_start) || '/' || sta.iso({alias}.{column}_end) END"
        ),
        Kind::Derived(sql) => sql.replace("{a}", alias),
    }
}

/// `jsonb_build_object` of every property of the set.
fn body_sql(set: EntitySet, alias: &str) -> String {
    let members: Vec<String> =
        set.properties().iter().map(|p| format!("'{}', {}", p.name, value_sql(alias, p.column, p.kind))).collect();
    format!("jsonb_build_object({})", members.join(", "))
}

/// The bodies (properties without links) of the entities of `set` with these ids, read on
/// `conn`: inside the transaction that wrote them, so that answering costs no round trip more.
pub async fn bodies(conn: &mut PgConnection, set: EntitySet, ids: &[i64]) -> Result<HashMap<i64, Map<String, Json>>> {
    let text = format!("SELECT e.id, {} FROM {} e WHERE e.id = ANY($1)", body_sql(set, "e"), set.table());
    let rows = sqlx::query(AssertSqlSafe(text)).bind(ids).fetch_all(conn).await.map_err(read_error)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let sqlx::types::Json(body): sqlx::types::Json<Map<String, Json>> = row.get(1);
            (row.get(0), body)
        })
        .collect())
}

/// A page of a collection.
#[derive(Debug, Default)]
pub struct Page {
    /// The entities, as JSON with their links.
    pub values: Vec<Json>,
    /// `@iot.count`, when asked for.
    pub count: Option<i64>,
    /// Whether entities follow this page.
    pub more: bool,
}

/// Reads entities of a set, each with its `@iot.selfLink` under `base` (the service root).
pub struct Reader<'a> {
    /// The database.
    pub pool: &'a PgPool,
    /// The service root URL, without a trailing `/`.
    pub base: &'a str,
    /// Page sizes.
    pub paging: Paging,
    /// Queries and entities one request may still read: `$expand` multiplies both, so the
    /// request is refused (400) once they are spent rather than left to run.
    pub budget: std::sync::atomic::AtomicU64,
}

impl Paging {
    /// The page size a query gets.
    pub fn top(&self, query: &Query) -> u64 {
        query.top.unwrap_or(self.default_top).min(self.max_top)
    }
}

impl<'a> Reader<'a> {
    /// A reader of one request, with its budget of queries and entities.
    pub fn new(pool: &'a PgPool, base: &'a str, paging: Paging) -> Self {
        // Room for a full page with a few expanded members each.
        let budget = (paging.max_top * 4).max(10_000);
        Reader { pool, base, paging, budget: budget.into() }
    }

    fn spend(&self, n: u64) -> Result<()> {
        use std::sync::atomic::Ordering;
        // One request's reads run one after another: a plain load and store suffice.
        let left = self.budget.load(Ordering::Relaxed);
        self.budget.store(left.saturating_sub(n), Ordering::Relaxed);
        if left < n {
            return Err(Error::BadQuery(
                "the request reads too many entities (its $expand and $top multiply): ask for less".into(),
            ));
        }
        Ok(())
    }

    /// A page of the set's entities in `scope`, as `query` asks.
    pub fn list<'b>(&'b self, set: EntitySet, scope: Scope, query: &'b Query) -> BoxFuture<'b, Result<Page>> {
        Box::pin(async move { self.list_where(set, scope, query, None).await })
    }

    /// One entity, as `query` asks (`$select`, `$expand`).
    pub async fn one(&self, set: EntitySet, id: i64, query: &Query) -> Result<Json> {
        let page = self.list_where(set, Scope::All, query, Some(id)).await?;
        page.values.into_iter().next().ok_or_else(|| Error::NoEntity(format!("no entity {}({id})", set.name())))
    }

    /// An entity read by [`bodies`], as [`Reader::one`] answers it without query options.
    pub fn shape(&self, set: EntitySet, id: i64, body: Map<String, Json>) -> Json {
        Json::Object(self.entity(set, id, body, None))
    }

    /// One property of one entity.
    pub async fn property(&self, set: EntitySet, id: i64, name: &str) -> Result<Json> {
        let entity = self.one(set, id, &Query::default()).await?;
        let key = if name == "id" { "@iot.id" } else { name };
        Ok(entity.get(key).cloned().unwrap_or(Json::Null))
    }

    async fn list_where(&self, set: EntitySet, scope: Scope, query: &Query, id: Option<i64>) -> Result<Page> {
        let (rows, count, more) = self.rows(set, scope, query, id, &body_sql(set, "e")).await?;
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.get(0);
            let sqlx::types::Json(body): sqlx::types::Json<Map<String, Json>> = row.get(1);
            let mut entity = self.entity(set, id, body, query.select.as_deref());
            for expand in &query.expand {
                self.expand(set, id, expand, &mut entity).await?;
            }
            values.push(Json::Object(entity));
        }
        Ok(Page { values, count, more })
    }

    /// A page of observations as data arrays (OGC 18-088 §13.1): one item per Datastream, in
    /// the order its first observation comes, with the components `$select` names (all, by
    /// default) and each observation an array of their values.
    pub async fn data_array(&self, scope: Scope, query: &Query) -> Result<Page> {
        const ALL: &[&str] =
            &["id", "phenomenonTime", "result", "resultTime", "resultQuality", "validTime", "parameters"];
        if !query.expand.is_empty() {
            return Err(Error::BadQuery("$expand is not allowed with $resultFormat=dataArray".into()));
        }
        let components: Vec<String> =
            query.select.clone().unwrap_or_else(|| ALL.iter().map(|c| c.to_string()).collect());
        if let Some(other) = components.iter().find(|c| !ALL.contains(&c.as_str())) {
            return Err(Error::BadQuery(format!("{other:?} is not a component of a data array")));
        }
        let set = EntitySet::Observations;
        let columns = format!("e.datastream_id, {}", body_sql(set, "e"));
        let (rows, count, more) = self.rows(set, scope, query, None, &columns).await?;
        let mut groups: Vec<(i64, Vec<Json>)> = Vec::new();
        let mut group_of: HashMap<i64, usize> = HashMap::new();
        for row in rows {
            let (id, datastream): (i64, i64) = (row.get(0), row.get(1));
            let sqlx::types::Json(body): sqlx::types::Json<Map<String, Json>> = row.get(2);
            let values = components
                .iter()
                .map(|c| if c == "id" { id.into() } else { body.get(c).cloned().unwrap_or(Json::Null) })
                .collect();
            let group = *group_of.entry(datastream).or_insert_with(|| {
                groups.push((datastream, Vec::new()));
                groups.len() - 1
            });
            groups[group].1.push(Json::Array(values));
        }
        let values = groups
            .into_iter()
            .map(|(datastream, rows)| {
                serde_json::json!({
                    "Datastream@iot.navigationLink": format!("{}/Datastreams({datastream})", self.base),
                    "components": components,
                    "dataArray": rows,
                })
            })
            .collect();
        Ok(Page { values, count, more })
    }

    /// The rows of one page of a collection (each `e.id` then `columns`), with `@iot.count` when
    /// asked for and whether more follow.
    async fn rows(
        &self,
        set: EntitySet,
        scope: Scope,
        query: &Query,
        id: Option<i64>,
        columns: &str,
    ) -> Result<(Vec<sqlx::postgres::PgRow>, Option<i64>, bool)> {
        check_names(set, query)?;
        // A larger $top is served as pages of the largest, with a next link.
        let top = self.paging.top(query);
        let mut sql = Sql::default();
        let mut conditions = vec![scope.condition("e", &mut sql)];
        if let Some(id) = id {
            conditions.push(format!("e.id = {}", sql.bind(Param::Int(id))));
        }
        let mut compiler = Compiler::new(&mut sql);
        if let Some(f) = &query.filter {
            conditions.push(compiler.condition(f, set, "e")?);
        }
        let mut order = Vec::new();
        for o in &query.orderby {
            let value = compiler.value(&o.expr, set, "e")?;
            order.push(format!("{value} {}", if o.desc { "DESC NULLS LAST" } else { "ASC NULLS FIRST" }));
        }
        order.push("e.id".to_owned());
        let conditions = conditions.join(" AND ");
        let count = if query.count {
            let text = format!("SELECT count(*) FROM {} e WHERE {conditions}", set.table());
            let counting = Sql { text, params: sql.params.clone() };
            let row = counting.query().fetch_one(self.pool).await.map_err(read_error)?;
            Some(row.get::<i64, _>(0))
        } else {
            None
        };
        let limit = sql.bind(Param::Int(top as i64 + 1));
        let offset = sql.bind(Param::Int(query.skip.min(i64::MAX as u64) as i64));
        sql.text = format!(
            "SELECT e.id, {columns} FROM {} e WHERE {conditions} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            set.table(),
            order.join(", ")
        );
        let mut rows = sql.query().fetch_all(self.pool).await.map_err(read_error)?;
        self.spend(1 + rows.len() as u64)?;
        let more = top > 0 && rows.len() as u64 > top;
        rows.truncate(top as usize);
        Ok((rows, count, more))
    }

    /// The JSON of one entity: its id and links, then its properties (all, or those selected).
    fn entity(&self, set: EntitySet, id: i64, body: Map<String, Json>, select: Option<&[String]>) -> Map<String, Json> {
        let wanted = |name: &str| select.is_none_or(|s| s.iter().any(|n| n == name));
        let self_link = format!("{}/{}({id})", self.base, set.name());
        let mut out = Map::new();
        if wanted("id") || wanted("@iot.id") {
            out.insert("@iot.id".into(), id.into());
        }
        if wanted("selfLink") || wanted("@iot.selfLink") {
            out.insert("@iot.selfLink".into(), self_link.clone().into());
        }
        for (name, value) in body {
            // Optional properties without a value are left out, as the standard's examples do;
            // an Observation's result and resultTime are mandatory, and may be null.
            let mandatory = set == EntitySet::Observations && (name == "result" || name == "resultTime");
            if wanted(&name) && (!value.is_null() || mandatory) {
                out.insert(name, value);
            }
        }
        for nav in set.navs().iter().filter(|n| wanted(n.name)) {
            out.insert(format!("{}@iot.navigationLink", nav.name), format!("{self_link}/{}", nav.name).into());
        }
        out
    }

    async fn expand(
        &self,
        set: EntitySet,
        id: i64,
        expand: &super::odata::Expand,
        entity: &mut Map<String, Json>,
    ) -> Result<()> {
        let nav = set
            .nav(&expand.nav)
            .ok_or_else(|| Error::BadQuery(format!("{} has no navigation property {:?}", set.name(), expand.nav)))?;
        let scope = Scope::Related { parent: set, id, nav };
        let page = self.list(nav.target, scope, &expand.query).await?;
        if nav.to_one() {
            entity.insert(nav.name.into(), page.values.into_iter().next().unwrap_or(Json::Null));
            return Ok(());
        }
        if page.more {
            let top = self.paging.top(&expand.query);
            let link = format!("{}/{}({id})/{}", self.base, set.name(), nav.name);
            entity.insert(format!("{}@iot.nextLink", nav.name), next_link(&link, &expand.query, top).into());
        }
        if let Some(count) = page.count {
            entity.insert(format!("{}@iot.count", nav.name), count.into());
        }
        entity.insert(nav.name.into(), Json::Array(page.values));
        Ok(())
    }
}

/// The URL of the page after this one of `query` on `link`.
pub fn next_link(link: &str, query: &Query, top: u64) -> String {
    let mut pairs: Vec<(String, String)> = query.rest.clone();
    pairs.push(("$top".into(), top.to_string()));
    pairs.push(("$skip".into(), (query.skip + top).to_string()));
    let encoded: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("{link}?{}", encoded.join("&"))
}

/// Percent-encoding of a query value: everything but unreserved characters.
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn check_names(set: EntitySet, query: &Query) -> Result<()> {
    for name in query.select.iter().flatten() {
        let known = set.property(name).is_some()
            || set.nav(name).is_some()
            || ["id", "@iot.id", "selfLink", "@iot.selfLink"].contains(&name.as_str());
        if !known {
            return Err(Error::BadQuery(format!("{} has no property {name:?} to select", set.name())));
        }
    }
    Ok(())
}

/// A query's failure: the database refusing a value (a time that does not parse, a division) is
/// the request's fault.
fn read_error(e: sqlx::Error) -> Error {
    // PostGIS reports WKT it cannot parse as an internal error (XX000): it is the request's.
    if let sqlx::Error::Database(d) = &e
        && d.message().starts_with("parse error")
    {
        return Error::BadQuery(format!("a geography literal: {}", d.message()));
    }
    let err = Error::db("reading entities")(e);
    match err.refused_by_table() {
        Some(why) => Error::BadQuery(why),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_keep_the_options_and_move_the_page() {
        let q = Query::parse([("$filter", "result gt 5"), ("$top", "2"), ("$skip", "4")]).expect("valid");
        assert_eq!(
            next_link("http://h/sta/v1.1/Observations", &q, 2),
            "http://h/sta/v1.1/Observations?$filter=result%20gt%205&$top=2&$skip=6"
        );
    }

    #[test]
    fn every_property_of_every_set_has_a_json_value() {
        for set in EntitySet::ALL {
            let sql = body_sql(set, "e");
            for p in set.properties() {
                assert!(sql.contains(&format!("'{}', ", p.name)), "{}: {}", set.name(), p.name);
            }
            assert!(!sql.contains("{a}"), "{sql}");
        }
    }
}
