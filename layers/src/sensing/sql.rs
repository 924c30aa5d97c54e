//! `$filter` and `$orderby` expressions as SQL over the entity tables. Identifiers come from the
//! data model only; every value from a request is a bound parameter.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::{
    model::{EntitySet, Kind, Link},
    odata::{Expr, Literal, Op},
};
use crate::{Error, Result};

/// A bound value.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// A Boolean.
    Bool(bool),
    /// An instant.
    Time(DateTime<Utc>),
    /// A JSON value (jsonb).
    Json(serde_json::Value),
    /// SQL NULL of this type (`timestamptz`, `jsonb`…).
    Null(&'static str),
}

/// SQL text being written, and the values its placeholders stand for.
#[derive(Debug, Default)]
pub struct Sql {
    /// The text.
    pub text: String,
    /// `$1`, `$2`… in order.
    pub params: Vec<Param>,
}

impl Sql {
    /// The placeholder of a new parameter, cast to its type.
    pub fn bind(&mut self, p: Param) -> String {
        let cast = match p {
            Param::Text(_) => "text",
            Param::Int(_) => "bigint",
            Param::Float(_) => "float8",
            Param::Bool(_) => "boolean",
            Param::Time(_) => "timestamptz",
            Param::Json(_) => "jsonb",
            Param::Null(sql_type) => sql_type,
        };
        self.params.push(p);
        format!("${}::{cast}", self.params.len())
    }

    /// Binds the parameters to a query of this text.
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text.as_str()));
        for p in &self.params {
            q = match p {
                Param::Text(v) => q.bind(v),
                Param::Int(v) => q.bind(v),
                Param::Float(v) => q.bind(v),
                Param::Bool(v) => q.bind(v),
                Param::Time(v) => q.bind(v),
                Param::Json(v) => q.bind(sqlx::types::Json(v)),
                Param::Null(_) => q.bind(None::<String>),
            };
        }
        q
    }
}

/// The type of an expression, as far as SQL needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Text,
    Number,
    Bool,
    Time,
    Geometry,
    Json,
    Null,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadQuery(detail.into())
}

/// Compiles expressions of one entity set, its table aliased `alias`.
pub struct Compiler<'a> {
    sql: &'a mut Sql,
    aliases: usize,
}

impl<'a> Compiler<'a> {
    /// A compiler writing parameters into `sql`.
    pub fn new(sql: &'a mut Sql) -> Self {
        Self { sql, aliases: 0 }
    }

    /// A Boolean condition.
    pub fn condition(&mut self, e: &Expr, set: EntitySet, alias: &str) -> Result<String> {
        match self.expr(e, set, alias)? {
            (text, Ty::Bool) => Ok(text),
            (text, Ty::Json) => Ok(format!("({text} = 'true'::jsonb)")),
            _ => Err(bad("$filter must be a condition (true or false)")),
        }
    }

    /// A value to order by.
    pub fn value(&mut self, e: &Expr, set: EntitySet, alias: &str) -> Result<String> {
        self.expr(e, set, alias).map(|(text, _)| text)
    }

    fn expr(&mut self, e: &Expr, set: EntitySet, alias: &str) -> Result<(String, Ty)> {
        match e {
            Expr::Literal(l) => Ok(self.literal(l)),
            Expr::Path(steps) => self.path(steps, set, alias),
            Expr::Not(inner) => Ok((format!("(NOT {})", self.condition(inner, set, alias)?), Ty::Bool)),
            Expr::Binary(op, l, r) => self.binary(*op, l, r, set, alias),
            Expr::Call(name, args) => self.call(name, args, set, alias),
        }
    }

    fn literal(&mut self, l: &Literal) -> (String, Ty) {
        match l {
            Literal::Text(s) => (self.sql.bind(Param::Text(s.clone())), Ty::Text),
            Literal::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => {
                (self.sql.bind(Param::Int(*n as i64)), Ty::Number)
            }
            Literal::Number(n) => (self.sql.bind(Param::Float(*n)), Ty::Number),
            Literal::Bool(b) => (self.sql.bind(Param::Bool(*b)), Ty::Bool),
            Literal::Null => ("NULL".to_owned(), Ty::Null),
            Literal::Time(t) => (self.sql.bind(Param::Time(*t)), Ty::Time),
            Literal::Geography(wkt) => {
                (format!("ST_GeomFromText({}, 4326)", self.sql.bind(Param::Text(wkt.clone()))), Ty::Geometry)
            }
        }
    }

    fn path(&mut self, steps: &[String], set: EntitySet, alias: &str) -> Result<(String, Ty)> {
        let (first, rest) = steps.split_first().ok_or_else(|| bad("an empty path"))?;
        if first == "id" || first == "@iot.id" {
            return match rest {
                [] => Ok((format!("{alias}.id"), Ty::Number)),
                _ => Err(bad(format!("{} has no members", first))),
            };
        }
        if let Some(nav) = set.nav(first) {
            let Link::Column(fk) = nav.link else {
                return Err(bad(format!("{first} leads to many entities: a filter can only follow a path to one")));
            };
            // `Datastream/id` is the foreign key itself, which its index serves.
            if matches!(rest, [id] if id == "id" || id == "@iot.id") {
                return Ok((format!("{alias}.{fk}"), Ty::Number));
            }
            if rest.is_empty() {
                return Err(bad(format!("{first} is an entity; name one of its properties")));
            }
            self.aliases += 1;
            let inner = format!("a{}", self.aliases);
            let (text, ty) = self.path(rest, nav.target, &inner)?;
            let table = nav.target.table();
            return Ok((format!("(SELECT {text} FROM {table} {inner} WHERE {inner}.id = {alias}.{fk})"), ty));
        }
        let p = set.property(first).ok_or_else(|| bad(format!("{} has no property {first:?}", set.name())))?;
        let column = format!("{alias}.{}", p.column);
        let (text, ty) = match p.kind {
            Kind::Text => (column, Ty::Text),
            Kind::Json | Kind::Object => (column, Ty::Json),
            Kind::GeoJson => (format!("{alias}.geom"), Ty::Geometry),
            Kind::Instant | Kind::InstantOrInterval => (column, Ty::Time),
            Kind::Interval => (format!("{column}_start"), Ty::Time),
            Kind::Derived(_) => return Err(bad(format!("{first} cannot be filtered or sorted by"))),
        };
        match (rest, ty) {
            ([], _) => Ok((text, ty)),
            (members, Ty::Json) => {
                let keys: Vec<String> = members.iter().map(|m| self.sql.bind(Param::Text(m.clone()))).collect();
                Ok((format!("jsonb_extract_path({text}, {})", keys.join(", ")), Ty::Json))
            }
            _ => Err(bad(format!("{first} has no members"))),
        }
    }

    fn binary(&mut self, op: Op, l: &Expr, r: &Expr, set: EntitySet, alias: &str) -> Result<(String, Ty)> {
        if matches!(op, Op::And | Op::Or) {
            let (a, b) = (self.condition(l, set, alias)?, self.condition(r, set, alias)?);
            let word = if op == Op::And { "AND" } else { "OR" };
            return Ok((format!("({a} {word} {b})"), Ty::Bool));
        }
        let left = self.expr(l, set, alias)?;
        let right = self.expr(r, set, alias)?;
        let arithmetic = match op {
            Op::Add => Some("+"),
            Op::Sub => Some("-"),
            Op::Mul => Some("*"),
            Op::Div => Some("/"),
            Op::Mod => Some("%"),
            _ => None,
        };
        if let Some(sign) = arithmetic {
            let (a, b) = (number(left)?, number(right)?);
            return Ok(if sign == "%" {
                (format!("mod(({a})::numeric, ({b})::numeric)"), Ty::Number)
            } else if sign == "/" {
                (format!("(({a})::float8 / NULLIF(({b})::float8, 0))"), Ty::Number)
            } else {
                (format!("({a} {sign} {b})"), Ty::Number)
            });
        }
        let sign = match op {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            _ => "<=",
        };
        let (a, b) = match (left, right) {
            ((_, Ty::Null), (b, _)) | ((b, _), (_, Ty::Null)) => {
                return match op {
                    Op::Eq => Ok((format!("({b} IS NULL)"), Ty::Bool)),
                    Op::Ne => Ok((format!("({b} IS NOT NULL)"), Ty::Bool)),
                    _ => Err(bad("null can only be compared with eq and ne")),
                };
            }
            pair => coerce(pair)?,
        };
        Ok((format!("({a} {sign} {b})"), Ty::Bool))
    }

    fn call(&mut self, name: &str, args: &[Expr], set: EntitySet, alias: &str) -> Result<(String, Ty)> {
        let mut compiled = Vec::with_capacity(args.len());
        for a in args {
            compiled.push(self.expr(a, set, alias)?);
        }
        let arity = |n: usize| {
            if compiled.len() == n { Ok(()) } else { Err(bad(format!("{name} takes {n} arguments"))) }
        };
        // Each argument is read through `arg`, so that too few arguments are a 400 wherever the
        // arity is checked.
        let arg = |i: usize| compiled.get(i).cloned().ok_or_else(|| bad(format!("{name} takes more arguments")));
        let text = |i: usize| as_text(arg(i)?);
        let geom = |i: usize| match arg(i)? {
            (t, Ty::Geometry) => Ok(t),
            _ => Err(bad(format!("argument {} of {name} is not a geometry", i + 1))),
        };
        let time = |i: usize| match arg(i)? {
            (t, Ty::Time) => Ok(t),
            (t, Ty::Text | Ty::Json) => Ok(format!("({})::timestamptz", as_text((t, Ty::Text))?)),
            _ => Err(bad(format!("argument {} of {name} is not a time", i + 1))),
        };
        let out = match name {
            "substringof" => (arity(2)?, format!("(strpos({}, {}) > 0)", text(1)?, text(0)?), Ty::Bool),
            "contains" => (arity(2)?, format!("(strpos({}, {}) > 0)", text(0)?, text(1)?), Ty::Bool),
            "startswith" => (arity(2)?, format!("starts_with({}, {})", text(0)?, text(1)?), Ty::Bool),
            "endswith" => {
                let (a, b) = (text(0)?, text(1)?);
                (arity(2)?, format!("(right({a}, length({b})) = {b})"), Ty::Bool)
            }
            "length" => (arity(1)?, format!("length({})", text(0)?), Ty::Number),
            "indexof" => (arity(2)?, format!("(strpos({}, {}) - 1)", text(0)?, text(1)?), Ty::Number),
            "tolower" => (arity(1)?, format!("lower({})", text(0)?), Ty::Text),
            "toupper" => (arity(1)?, format!("upper({})", text(0)?), Ty::Text),
            "trim" => (arity(1)?, format!("btrim({})", text(0)?), Ty::Text),
            "concat" => (arity(2)?, format!("({} || {})", text(0)?, text(1)?), Ty::Text),
            "year" | "month" | "day" | "hour" | "minute" | "second" => {
                (arity(1)?, format!("extract({name} FROM ({}) AT TIME ZONE 'UTC')", time(0)?), Ty::Number)
            }
            "now" => (arity(0)?, "now()".to_owned(), Ty::Time),
            // Times are UTC here: the offset of every instant is 0.
            "totaloffsetminutes" => (arity(1)?, format!("(0 * extract(epoch FROM {}))", time(0)?), Ty::Number),
            "fractionalseconds" => {
                (arity(1)?, format!("(extract(microseconds FROM {}) % 1000000 / 1e6)", time(0)?), Ty::Number)
            }
            "date" => (arity(1)?, format!("(({}) AT TIME ZONE 'UTC')::date::text", time(0)?), Ty::Text),
            "time" => (arity(1)?, format!("(({}) AT TIME ZONE 'UTC')::time::text", time(0)?), Ty::Text),
            // OData counts from 0, SQL from 1.
            "substring" if compiled.len() == 2 => {
                ((), format!("substr({}, ({})::int + 1)", text(0)?, number(arg(1)?)?), Ty::Text)
            }
            "substring" => {
                let (s, from, n) = (text(0)?, number(arg(1)?)?, number(arg(2)?)?);
                (arity(3)?, format!("substr({s}, ({from})::int + 1, ({n})::int)"), Ty::Text)
            }
            "round" | "floor" => (arity(1)?, format!("{name}({})", number(arg(0)?)?), Ty::Number),
            "ceiling" => (arity(1)?, format!("ceiling({})", number(arg(0)?)?), Ty::Number),
            "geo.distance" => (arity(2)?, format!("ST_Distance({}, {})", geom(0)?, geom(1)?), Ty::Number),
            "geo.length" => (arity(1)?, format!("ST_Length({})", geom(0)?), Ty::Number),
            "geo.intersects" => (arity(2)?, format!("ST_Intersects({}, {})", geom(0)?, geom(1)?), Ty::Bool),
            "st_equals" | "st_disjoint" | "st_touches" | "st_within" | "st_overlaps" | "st_crosses"
            | "st_intersects" | "st_contains" => {
                let f = format!("ST_{}", &name[3..]);
                (arity(2)?, format!("{f}({}, {})", geom(0)?, geom(1)?), Ty::Bool)
            }
            "st_relate" => (arity(3)?, format!("ST_Relate({}, {}, {})", geom(0)?, geom(1)?, text(2)?), Ty::Bool),
            other => return Err(bad(format!("unknown function {other:?}"))),
        };
        Ok((out.1, out.2))
    }
}

fn number((text, ty): (String, Ty)) -> Result<String> {
    match ty {
        Ty::Number => Ok(text),
        Ty::Json => Ok(format!("sta.number_of({text})")),
        _ => Err(bad("arithmetic needs numbers")),
    }
}

fn as_text((text, ty): (String, Ty)) -> Result<String> {
    match ty {
        Ty::Text => Ok(text),
        Ty::Json => Ok(format!("({text} #>> '{{}}')")),
        _ => Err(bad("a text function is given something that is not text")),
    }
}

/// Both sides of a comparison in one SQL type: JSON (a result, a property) meets a literal's.
fn coerce(pair: ((String, Ty), (String, Ty))) -> Result<(String, String)> {
    let ((a, ta), (b, tb)) = pair;
    let json_as = |json: String, other: Ty| match other {
        Ty::Number => Ok(format!("sta.number_of({json})")),
        Ty::Text => Ok(format!("({json} #>> '{{}}')")),
        Ty::Bool => Ok(format!("(CASE WHEN jsonb_typeof({json}) = 'boolean' THEN ({json})::text::boolean END)")),
        Ty::Time => Ok(format!("({json} #>> '{{}}')::timestamptz")),
        Ty::Json => Ok(json),
        _ => Err(bad("a JSON value cannot be compared with a geometry")),
    };
    match (ta, tb) {
        (x, y) if x == y => Ok((a, b)),
        (Ty::Json, other) => Ok((json_as(a, other)?, b)),
        (other, Ty::Json) => Ok((a, json_as(b, other)?)),
        (Ty::Time, Ty::Text) => Ok((a, format!("({b})::timestamptz"))),
        (Ty::Text, Ty::Time) => Ok((format!("({a})::timestamptz"), b)),
        _ => Err(bad("the two sides of a comparison have different types")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensing::odata::Query;

    fn compile(set: EntitySet, filter: &str) -> Result<(String, Vec<Param>)> {
        let q = Query::parse([("$filter", filter)])?;
        let mut sql = Sql::default();
        let text = Compiler::new(&mut sql).condition(q.filter.as_ref().expect("valid"), set, "e")?;
        Ok((text, sql.params))
    }

    #[test]
    fn a_path_to_one_entity_is_a_subquery_and_its_id_the_foreign_key() {
        let (text, params) = compile(EntitySet::Observations, "Datastream/Thing/name eq 'Trà Nóc'").expect("valid");
        assert_eq!(
            text,
            "((SELECT (SELECT a2.name FROM sta.things a2 WHERE a2.id = a1.thing_id) \
             FROM sta.datastreams a1 WHERE a1.id = e.datastream_id) = $1::text)"
        );
        assert_eq!(params, vec![Param::Text("Trà Nóc".into())]);
        let (text, params) = compile(EntitySet::Observations, "Datastream/@iot.id eq 7").expect("valid");
        assert_eq!(text, "(e.datastream_id = $1::bigint)");
        assert_eq!(params, vec![Param::Int(7)]);
    }

    #[test]
    fn a_result_compared_with_a_number_is_read_as_a_number() {
        let (text, _) = compile(EntitySet::Observations, "result gt 7.5 and result ne null").expect("valid");
        assert_eq!(text, "((sta.number_of(e.result) > $1::float8) AND (e.result IS NOT NULL))");
    }

    #[test]
    fn paths_the_model_does_not_have_are_refused() {
        for f in [
            "bogus eq 1",
            "Datastreams/name eq 'a'",
            "Thing eq 1",
            "name/first eq 'a'",
            "phenomenonTime eq 'a' or location eq 1",
            "unknownfn(name)",
            "substringof(name)",
            "endswith(result)",
            "round()",
            "description",
        ] {
            let set = if f.starts_with("Datastreams") || f == "description" {
                EntitySet::Things
            } else {
                EntitySet::Observations
            };
            assert!(matches!(compile(set, f), Err(Error::BadQuery(_))), "{f}");
        }
    }

    #[test]
    fn spatial_functions_read_the_geometry_column() {
        let (text, params) =
            compile(EntitySet::Locations, "st_within(location, geography'POLYGON((105 9,106 9,106 10,105 9))')")
                .expect("valid");
        assert_eq!(text, "ST_within(e.geom, ST_GeomFromText($1::text, 4326))");
        assert_eq!(params.len(), 1);
    }
}
