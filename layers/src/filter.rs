//! CQL2 filters (OGC 21-065), compiled against one layer and evaluated on the in-memory index.
//!
//! The `cql2` crate parses both encodings into one expression tree. That tree is compiled here
//! into a [`Filter`] whose properties are resolved to column positions and whose literals are
//! already of the property's type, so that evaluating a feature touches no strings and no JSON.
//! The crate's own evaluator works on JSON documents, which would mean building one per feature.
//!
//! Supported: comparisons, `LIKE`, `BETWEEN`, `IN`, `IS NULL`, `CASEI`, `ACCENTI`, the eight
//! spatial predicates on the layer's geometry, and the fifteen temporal ones on its date
//! properties. Arithmetic and array functions are refused with a clear message.

use std::{
    borrow::Cow,
    cmp::Ordering,
    num::NonZeroUsize,
    sync::{Arc, Once},
};

use chrono::{DateTime, NaiveDate, Utc};
use cql2::Expr;
use geo::{BoundingRect, Intersects, MapCoords, Relate};
use geo_types::{Coord, Geometry, Rect};
use like::Like;

use crate::{
    Feature, LayerDef, PropertyType, Value,
    columns::{Bitmap, Column},
    text, validity,
};

/// The names a filter may use for the layer's geometry.
pub const GEOMETRY_NAMES: [&str; 2] = ["geometry", "geom"];

/// Deepest nesting of parentheses, brackets or braces a filter may have. The parser recurses,
/// and an attacker's thousand-deep filter must not reach its stack limit.
pub const MAX_DEPTH: usize = 32;

/// Longest filter accepted, in bytes.
pub const MAX_BYTES: usize = 8192;

/// Stack for the parser's thread: ample for [`MAX_BYTES`] of the deepest-recursing input.
const PARSER_STACK: usize = 64 << 20;

/// Largest number of operations in one filter.
pub const MAX_NODES: usize = 500;

/// Most rule attempts the cql2-text parser may make on one filter. Its grammar backtracks at
/// every parenthesis, so an invalid filter costs twice as much for each level it is nested:
/// twenty `(` took over ten seconds. A valid filter of [`MAX_BYTES`] needs under 300 000
/// attempts; two million cap the worst input at about 20 ms.
const MAX_PARSER_CALLS: usize = 2_000_000;

/// What a filter that reached [`MAX_PARSER_CALLS`] is told.
const TOO_COMPLEX: &str = "the filter is too complex to parse: nest fewer parentheses";

const ARITHMETIC: [&str; 7] = ["+", "-", "*", "/", "%", "^", "div"];
const NO_ARITHMETIC: &str = "arithmetic is not supported in filters";

/// Why a filter was refused, with the character position of the problem when it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// What is wrong, naming the position where there is one.
    pub message: String,
}

impl FilterError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// The encoding of a filter (`filter-lang`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterLang {
    /// `cql2-text`, the default.
    Text,
    /// `cql2-json`.
    Json,
}

/// A compiled filter.
#[derive(Clone, Debug)]
pub struct Filter {
    root: Node,
}

#[derive(Clone, Debug)]
enum Node {
    Const(Option<bool>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare(Operand, Ordering, bool, Operand),
    Like(Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    IsNull(Operand),
    /// The literal, and its box: a feature outside the box is decided without the costly
    /// relate.
    Spatial(SpatialOp, Box<Geometry>, Option<Rect>),
    Temporal(TemporalOp, Time, Time),
}

#[derive(Clone, Debug)]
enum Operand {
    Property(usize),
    Literal(Value),
    Lower(Box<Operand>),
    Unaccent(Box<Operand>),
}

/// A temporal operand: an interval from one bound to another (an instant is an interval of
/// length zero, a date or time property one whose bounds are both that property).
#[derive(Clone, Copy, Debug)]
struct Time(Bound, Bound);

/// One end of a [`Time`]: fixed, or the value of a date or time property.
#[derive(Clone, Copy, Debug)]
enum Bound {
    At(DateTime<Utc>),
    Property(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpatialOp {
    Intersects,
    Disjoint,
    Equals,
    Touches,
    Within,
    Overlaps,
    Crosses,
    Contains,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TemporalOp {
    After,
    Before,
    Contains,
    Disjoint,
    During,
    Equals,
    FinishedBy,
    Finishes,
    Intersects,
    Meets,
    MetBy,
    OverlappedBy,
    Overlaps,
    StartedBy,
    Starts,
}

impl Filter {
    /// Parses and compiles a filter for `layer`. `visible` says which properties the caller may
    /// name; `to_lonlat` maps the filter's coordinates (in `filter-crs`) to lon/lat.
    pub fn parse(
        source: &str,
        lang: FilterLang,
        layer: &LayerDef,
        visible: &(dyn Fn(usize) -> bool + Sync),
        to_lonlat: &(dyn Fn(Coord) -> Result<Coord, String> + Sync),
    ) -> Result<Self, FilterError> {
        check_depth(source)?;
        // The limit is process-wide, for every pest parser; cql2's is the only one Bando runs.
        static CALL_LIMIT: Once = Once::new();
        CALL_LIMIT.call_once(|| pest::set_call_limit(NonZeroUsize::new(MAX_PARSER_CALLS)));
        let parse = || {
            let expr = match lang {
                FilterLang::Text => cql2::parse_text(source).map_err(|e| FilterError::new(text_error(&e)))?,
                FilterLang::Json => cql2::parse_json(source).map_err(|e| {
                    FilterError::new(format!("invalid cql2-json at line {}, column {}: {e}", e.line(), e.column()))
                })?,
            };
            let mut compiler = Compiler { layer, visible, to_lonlat, nodes: 0 };
            compiler.node(&expr).map_err(|e| locate(e, source))
        };
        // The parser recurses once per operator, and so do the compiler and the expression's
        // drop: on a request thread's small stack, a filter of a thousand `NOT`s would overflow
        // it and take the process down. They run on a thread of their own with room to spare;
        // the compiled filter is bounded by MAX_NODES.
        let root = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(PARSER_STACK)
                .spawn_scoped(scope, parse)
                .map_err(|e| FilterError::new(format!("cannot parse now: {e}")))?
                .join()
                .unwrap_or_else(|_| Err(FilterError::new("the filter could not be parsed")))
        })?;
        Ok(Self { root })
    }

    /// Whether the feature passes. Unknown (a comparison with null) counts as false.
    pub fn matches(&self, f: &Feature) -> bool {
        let ctx = Ctx { f };
        ctx.eval(&self.root) == Some(true)
    }

    /// The rows of column-wise copies (`column(i)` gives property `i`'s) that may match: every
    /// match and maybe more, or exactly the matches when `exact`; `None` when the filter has no
    /// part the columns decide. Only comparisons of a property with literals are decided
    /// there, and only under `AND` and `OR`, whose true rows are the intersection and the union
    /// of their parts' (three-valued logic: a null is in no part's true rows).
    pub fn narrow(&self, column: &dyn Fn(usize) -> Option<Arc<Column>>) -> Option<Narrowed> {
        narrow(&self.root, column)
    }

    /// A lon/lat box every matching feature intersects, when the filter implies one: the index
    /// then reads only the features in it.
    pub fn search_box(&self) -> Option<Rect> {
        fn of(n: &Node) -> Option<Rect> {
            match n {
                Node::Spatial(op, _, bounds) if *op != SpatialOp::Disjoint => *bounds,
                Node::And(parts) => parts.iter().find_map(of),
                _ => None,
            }
        }
        of(&self.root)
    }
}

/// Refuses filters nested deeper than [`MAX_DEPTH`] before any parser sees them.
fn check_depth(source: &str) -> Result<(), FilterError> {
    if source.len() > MAX_BYTES {
        return Err(FilterError::new(format!("the filter is longer than {MAX_BYTES} bytes")));
    }
    let mut depth = 0usize;
    for (i, c) in source.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            let at = source[..i].chars().count() + 1;
            return Err(FilterError::new(format!("the filter nests deeper than {MAX_DEPTH} levels at character {at}")));
        }
    }
    Ok(())
}

/// The parser's message, on one line, with the position it reports.
fn text_error(e: &cql2::Error) -> String {
    let detail = e.to_string();
    if detail.contains("call limit reached") {
        return TOO_COMPLEX.into();
    }
    let position = detail.lines().find_map(|l| l.trim().strip_prefix("--> ")).map(str::to_owned);
    let expected = detail.lines().find_map(|l| l.trim().strip_prefix("= ")).unwrap_or("not valid cql2-text");
    match position {
        Some(p) => {
            let column = p.split_once(':').map_or(p.as_str(), |(_, c)| c);
            format!("invalid cql2-text at character {column}: {expected}")
        }
        None => format!("invalid cql2-text: {detail}"),
    }
}

/// Adds the position of the first mention of a name the compiler refused.
fn locate(e: Compile, source: &str) -> FilterError {
    match e.culprit.and_then(|name| source.find(&name)) {
        Some(byte) => FilterError::new(format!("{} (at character {})", e.message, source[..byte].chars().count() + 1)),
        None => FilterError::new(e.message),
    }
}

struct Compile {
    message: String,
    culprit: Option<String>,
}

fn fail<T>(message: impl Into<String>) -> Result<T, Compile> {
    Err(Compile { message: message.into(), culprit: None })
}

struct Compiler<'a> {
    layer: &'a LayerDef,
    visible: &'a (dyn Fn(usize) -> bool + Sync),
    to_lonlat: &'a (dyn Fn(Coord) -> Result<Coord, String> + Sync),
    nodes: usize,
}

impl Compiler<'_> {
    fn node(&mut self, e: &Expr) -> Result<Node, Compile> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return fail(format!("the filter has more than {MAX_NODES} operations"));
        }
        let (op, args) = match e {
            Expr::Bool(b) => return Ok(Node::Const(Some(*b))),
            Expr::Operation { op, args } => (op.as_str(), args.as_slice()),
            // A boolean property alone is a condition: `flag` means `flag = true`.
            Expr::Property { property } => {
                let (i, kind) = self.property(property)?;
                if kind != PropertyType::Boolean {
                    return fail(format!("{} is not a condition", describe(e)));
                }
                return Ok(Node::Compare(
                    Operand::Property(i),
                    Ordering::Equal,
                    false,
                    Operand::Literal(Value::Bool(true)),
                ));
            }
            other => return fail(format!("{} is not a condition", describe(other))),
        };
        let arity = |n: usize| {
            if args.len() == n { Ok(()) } else { fail(format!("{op} takes {n} arguments, not {}", args.len())) }
        };
        Ok(match op {
            "and" => Node::And(args.iter().map(|a| self.node(a)).collect::<Result<_, _>>()?),
            "or" => Node::Or(args.iter().map(|a| self.node(a)).collect::<Result<_, _>>()?),
            "not" => {
                arity(1)?;
                Node::Not(Box::new(self.node(&args[0])?))
            }
            "=" | "<>" | "<" | ">" | "<=" | ">=" => {
                arity(2)?;
                let (a, b) = self.pair(&args[0], &args[1])?;
                let (ord, negate) = match op {
                    "=" => (Ordering::Equal, false),
                    "<>" => (Ordering::Equal, true),
                    "<" => (Ordering::Less, false),
                    ">=" => (Ordering::Less, true),
                    ">" => (Ordering::Greater, false),
                    _ => (Ordering::Greater, true),
                };
                Node::Compare(a, ord, negate, b)
            }
            "like" => {
                arity(2)?;
                let (a, b) = self.pair(&args[0], &args[1])?;
                Node::Like(a, b)
            }
            "between" => {
                arity(3)?;
                let (a, lo) = self.pair(&args[0], &args[1])?;
                let (_, hi) = self.pair(&args[0], &args[2])?;
                Node::Between(a, lo, hi)
            }
            "in" => {
                arity(2)?;
                let Expr::Array(list) = args[1].as_ref() else { return fail("IN takes a list") };
                let a = self.operand(&args[0], None)?;
                let kind = self.kind_of(&a);
                let list = list.iter().map(|v| self.operand(v, kind)).collect::<Result<_, _>>()?;
                Node::In(a, list)
            }
            "isNull" => {
                arity(1)?;
                Node::IsNull(self.operand(&args[0], None)?)
            }
            _ if op.starts_with("s_") => self.spatial(op, args)?,
            _ if op.starts_with("t_") => self.temporal(op, args)?,
            _ if ARITHMETIC.contains(&op) => return fail(NO_ARITHMETIC),
            _ if op.starts_with("a_") => return fail("array functions are not supported in filters"),
            _ => return Err(Compile { message: format!("unknown function {op:?}"), culprit: Some(op.into()) }),
        })
    }

    /// Two operands of a comparison, the literal one converted to the other's property type.
    fn pair(&mut self, a: &Expr, b: &Expr) -> Result<(Operand, Operand), Compile> {
        let left = self.operand(a, None)?;
        let right = self.operand(b, self.kind_of(&left))?;
        let left = match self.kind_of(&right) {
            Some(kind) if self.kind_of(&left).is_none() => self.operand(a, Some(kind))?,
            _ => left,
        };
        Ok((left, right))
    }

    fn kind_of(&self, o: &Operand) -> Option<PropertyType> {
        match o {
            Operand::Property(i) => Some(self.layer.properties[*i].kind),
            Operand::Lower(inner) | Operand::Unaccent(inner) => self.kind_of(inner),
            Operand::Literal(_) => None,
        }
    }

    fn property(&self, name: &str) -> Result<(usize, PropertyType), Compile> {
        self.layer
            .properties
            .iter()
            .enumerate()
            .find(|(i, p)| p.name == name && (self.visible)(*i))
            .map(|(i, p)| (i, p.kind))
            .ok_or_else(|| Compile {
                message: format!("unknown property {name:?}; /queryables lists the ones this collection has"),
                culprit: Some(name.into()),
            })
    }

    /// A scalar operand; literals are converted to `kind` when it is known.
    fn operand(&mut self, e: &Expr, kind: Option<PropertyType>) -> Result<Operand, Compile> {
        self.nodes += 1;
        let literal = |v: Value| -> Result<Operand, Compile> {
            match kind {
                Some(k) => convert(v, k).map(Operand::Literal),
                None => Ok(Operand::Literal(v)),
            }
        };
        match e {
            Expr::Property { property } => Ok(Operand::Property(self.property(property)?.0)),
            Expr::Literal(s) => literal(Value::Text(s.as_str().into())),
            Expr::Float(v) if !v.is_finite() => fail("numbers must be finite"),
            Expr::Float(v) => literal(number(*v)),
            Expr::Bool(b) => literal(Value::Bool(*b)),
            Expr::Null => Ok(Operand::Literal(Value::Null)),
            Expr::Date { date } => literal(Value::Date(parse_date(date)?)),
            Expr::Timestamp { timestamp } => literal(Value::DateTime(parse_timestamp(timestamp)?)),
            Expr::Operation { op, args } if (op == "casei" || op == "accenti") && args.len() == 1 => {
                let inner = Box::new(self.operand(&args[0], kind)?);
                Ok(if op == "casei" { Operand::Lower(inner) } else { Operand::Unaccent(inner) })
            }
            Expr::Operation { op, .. } if ARITHMETIC.contains(&op.as_str()) => fail(NO_ARITHMETIC),
            other => fail(format!("{} cannot be compared", describe(other))),
        }
    }

    fn spatial(&mut self, op: &str, args: &[Box<Expr>]) -> Result<Node, Compile> {
        let op = match op {
            "s_intersects" => SpatialOp::Intersects,
            "s_disjoint" => SpatialOp::Disjoint,
            "s_equals" => SpatialOp::Equals,
            "s_touches" => SpatialOp::Touches,
            "s_within" => SpatialOp::Within,
            "s_overlaps" => SpatialOp::Overlaps,
            "s_crosses" => SpatialOp::Crosses,
            "s_contains" => SpatialOp::Contains,
            _ => return fail(format!("unknown spatial function {op:?}")),
        };
        let [a, b] = args else { return fail("spatial functions take 2 arguments") };
        let is_geom =
            |e: &Expr| matches!(e, Expr::Property { property } if GEOMETRY_NAMES.contains(&property.as_str()));
        let (literal, op) = match (is_geom(a), is_geom(b)) {
            (true, false) => (b, op),
            // Swapped: the feature is the first argument from here on, so the asymmetric
            // predicates turn into their converses.
            (false, true) => (
                a,
                match op {
                    SpatialOp::Within => SpatialOp::Contains,
                    SpatialOp::Contains => SpatialOp::Within,
                    other => other,
                },
            ),
            _ => {
                let named = [a, b].into_iter().find_map(|e| match e.as_ref() {
                    Expr::Property { property } if !is_geom(e) => Some(property.clone()),
                    _ => None,
                });
                return Err(Compile {
                    message: "a spatial function compares the geometry property (\"geometry\") with a literal geometry"
                        .into(),
                    culprit: named,
                });
            }
        };
        let g = literal_geometry(literal)?;
        let to_lonlat = self.to_lonlat;
        let g = g
            .try_map_coords(to_lonlat)
            .map_err(|e| Compile { message: format!("filter geometry: {e}"), culprit: None })?;
        let bounds = g.bounding_rect();
        Ok(Node::Spatial(op, Box::new(g), bounds))
    }

    fn temporal(&mut self, op: &str, args: &[Box<Expr>]) -> Result<Node, Compile> {
        use TemporalOp::*;
        let op = match op {
            "t_after" => After,
            "t_before" => Before,
            "t_contains" => Contains,
            "t_disjoint" => Disjoint,
            "t_during" => During,
            "t_equals" => Equals,
            "t_finishedBy" => FinishedBy,
            "t_finishes" => Finishes,
            "t_intersects" => Intersects,
            "t_meets" => Meets,
            "t_metBy" => MetBy,
            "t_overlappedBy" => OverlappedBy,
            "t_overlaps" => Overlaps,
            "t_startedBy" => StartedBy,
            "t_starts" => Starts,
            _ => return fail(format!("unknown temporal function {op:?}")),
        };
        let [a, b] = args else { return fail("temporal functions take 2 arguments") };
        Ok(Node::Temporal(op, self.time(a)?, self.time(b)?))
    }

    fn time(&mut self, e: &Expr) -> Result<Time, Compile> {
        match e {
            Expr::Interval { interval } => match interval.as_slice() {
                [a, b] => Ok(Time(self.bound(a, DateTime::<Utc>::MIN_UTC)?, self.bound(b, DateTime::<Utc>::MAX_UTC)?)),
                _ => fail("INTERVAL takes a start and an end"),
            },
            other => {
                let t = self.bound(other, DateTime::<Utc>::MIN_UTC)?;
                Ok(Time(t, t))
            }
        }
    }

    /// An instant: a literal, `..` (the open end `open`), or a date or time property (which
    /// the temporal-functions class allows as an interval's bounds too).
    fn bound(&self, e: &Expr, open: DateTime<Utc>) -> Result<Bound, Compile> {
        match e {
            Expr::Literal(s) if s == ".." => Ok(Bound::At(open)),
            Expr::Date { date } => Ok(Bound::At(midnight(parse_date(date)?))),
            Expr::Timestamp { timestamp } => parse_timestamp(timestamp).map(Bound::At),
            Expr::Literal(s) => time_literal(s).map(Bound::At),
            Expr::Property { property } => {
                let (i, kind) = self.property(property)?;
                if !matches!(kind, PropertyType::Date | PropertyType::Datetime) {
                    return Err(Compile {
                        message: format!("property {property:?} is not a date or time"),
                        culprit: Some(property.clone()),
                    });
                }
                Ok(Bound::Property(i))
            }
            other => fail(format!("{} is not a date or time", describe(other))),
        }
    }
}

/// A geometry literal, checked first: conversion would quietly close an open ring or accept a
/// line of one position. A `BBOX` whose west edge is east of its east edge crosses the
/// antimeridian, as the `bbox` parameter does: it becomes the two boxes on either side.
fn literal_geometry(literal: &Expr) -> Result<Geometry, Compile> {
    let invalid = |why: String| Compile { message: format!("invalid geometry: {why}"), culprit: None };
    if let Expr::BBox { bbox } = literal {
        let n: Vec<f64> = bbox
            .iter()
            .map(|e| f64::try_from(e.as_ref().clone()).map_err(|e| invalid(e.to_string())))
            .collect::<Result<_, _>>()?;
        let [w, s, e, n] = match n.as_slice() {
            [w, s, e, n] | [w, s, _, e, n, _] => [*w, *s, *e, *n],
            _ => return Err(invalid("BBOX takes 4 or 6 numbers".into())),
        };
        if s > n {
            return Err(invalid(format!("BBOX's south edge {s} is north of its north edge {n}")));
        }
        if s == n || w == e {
            return Err(invalid(format!("BBOX({w}, {s}, {e}, {n}) has no area")));
        }
        let mut parts: Vec<_> =
            crate::query::antimeridian_parts([w, s, e, n]).into_iter().map(Rect::to_polygon).collect();
        return Ok(match parts.len() {
            1 => Geometry::Polygon(parts.remove(0)),
            _ => Geometry::MultiPolygon(parts.into()),
        });
    }
    let json = serde_json::to_value(literal).map_err(|e| invalid(e.to_string()))?;
    validity::check_structure(&json).map_err(invalid)?;
    let g = Geometry::try_from(literal.clone()).map_err(|e| invalid(e.to_string()))?;
    // The predicates' results are undefined on an invalid geometry (and the geometry library
    // warns on every feature it compares one with).
    validity::check_valid(&g).map_err(invalid)?;
    Ok(g)
}

fn describe(e: &Expr) -> String {
    e.to_text().unwrap_or_else(|_| format!("{e:?}"))
}

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 { Value::Int(v as i64) } else { Value::Float(v) }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn literal_text(e: &Expr) -> Result<&str, Compile> {
    match e {
        Expr::Literal(s) => Ok(s),
        other => fail(format!("{} is not a literal", describe(other))),
    }
}

fn parse_date(e: &Expr) -> Result<NaiveDate, Compile> {
    let s = literal_text(e)?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| fail(format!("{s:?} is not a date (YYYY-MM-DD)")))
}

fn parse_timestamp(e: &Expr) -> Result<DateTime<Utc>, Compile> {
    time_literal(literal_text(e)?)
}

fn time_literal(s: &str) -> Result<DateTime<Utc>, Compile> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map(midnight).or_else(|_| fail(format!("{s:?} is not an RFC 3339 time")))
}

/// Converts a literal to a property's type, so a date property compares with `'2024-01-01'`.
fn convert(v: Value, kind: PropertyType) -> Result<Value, Compile> {
    let bad = |v: &Value| fail(format!("{} is not a valid {kind:?} value", v.to_json()));
    Ok(match (v, kind) {
        (Value::Null, _) => Value::Null,
        (Value::Text(s), PropertyType::Text) => Value::Text(s),
        (Value::Int(i), PropertyType::Integer) => Value::Int(i),
        (Value::Int(i), PropertyType::Real) => Value::Float(i as f64),
        (Value::Float(f), PropertyType::Real | PropertyType::Integer) => Value::Float(f),
        (Value::Bool(b), PropertyType::Boolean) => Value::Bool(b),
        (Value::Date(d), PropertyType::Date) => Value::Date(d),
        (Value::Date(d), PropertyType::Datetime) => Value::DateTime(midnight(d)),
        (Value::DateTime(t), PropertyType::Datetime | PropertyType::Date) => Value::DateTime(t),
        (Value::Text(s), PropertyType::Date) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) => Value::Date(d),
            Err(_) => return bad(&Value::Text(s)),
        },
        (Value::Text(s), PropertyType::Datetime) => Value::DateTime(time_literal(&s)?),
        (v, _) => return bad(&v),
    })
}

/// The rows a filter may match, from column-wise copies (see [`Filter::narrow`]).
#[derive(Debug)]
pub struct Narrowed {
    /// Every row that matches, and maybe others.
    pub rows: Bitmap,
    /// True when `rows` are exactly the matches.
    pub exact: bool,
}

fn narrow(n: &Node, column: &dyn Fn(usize) -> Option<Arc<Column>>) -> Option<Narrowed> {
    let exact = |rows| Some(Narrowed { rows, exact: true });
    match n {
        Node::Compare(Operand::Property(i), ord, negate, Operand::Literal(v)) => {
            exact(column(*i)?.compare(*ord, *negate, v, false)?)
        }
        Node::Compare(Operand::Literal(v), ord, negate, Operand::Property(i)) => {
            exact(column(*i)?.compare(*ord, *negate, v, true)?)
        }
        Node::Between(Operand::Property(i), Operand::Literal(lo), Operand::Literal(hi)) => {
            let c = column(*i)?;
            exact(c.compare(Ordering::Less, true, lo, false)?.and(&c.compare(Ordering::Greater, true, hi, false)?))
        }
        Node::In(Operand::Property(i), list) => {
            let c = column(*i)?;
            let mut rows: Option<Bitmap> = None;
            for o in list {
                let Operand::Literal(v) = o else { return None };
                let equal = c.compare(Ordering::Equal, false, v, false)?;
                rows = Some(match rows {
                    Some(r) => r.or(&equal),
                    None => equal,
                });
            }
            exact(rows?)
        }
        Node::IsNull(Operand::Property(i)) => exact(column(*i)?.nulls()?),
        Node::And(parts) => {
            let narrowed: Vec<Option<Narrowed>> = parts.iter().map(|p| narrow(p, column)).collect();
            let every = narrowed.iter().all(Option::is_some);
            narrowed
                .into_iter()
                .flatten()
                .reduce(|a, b| Narrowed { rows: a.rows.and(&b.rows), exact: a.exact && b.exact })
                .map(|n| Narrowed { exact: n.exact && every, ..n })
        }
        Node::Or(parts) => parts
            .iter()
            .map(|p| narrow(p, column))
            .reduce(|a, b| {
                let (a, b) = (a?, b?);
                Some(Narrowed { rows: a.rows.or(&b.rows), exact: a.exact && b.exact })
            })
            .flatten(),
        _ => None,
    }
}

/// Evaluation of a filter on one feature.
struct Ctx<'a> {
    f: &'a Feature,
}

impl Ctx<'_> {
    fn eval(&self, n: &Node) -> Option<bool> {
        match n {
            Node::Const(v) => *v,
            // Three-valued logic: false wins an AND and true wins an OR, whatever is unknown.
            Node::And(parts) => parts
                .iter()
                .try_fold(Some(true), |acc, p| match self.eval(p) {
                    Some(false) => Err(()),
                    v => Ok(if acc == Some(true) { v } else { acc }),
                })
                .unwrap_or(Some(false)),
            Node::Or(parts) => parts
                .iter()
                .try_fold(Some(false), |acc, p| match self.eval(p) {
                    Some(true) => Err(()),
                    v => Ok(if acc == Some(false) { v } else { acc }),
                })
                .unwrap_or(Some(true)),
            Node::Not(inner) => self.eval(inner).map(|v| !v),
            Node::Compare(a, ord, negate, b) => compare(&self.value(a), &self.value(b)).map(|o| (o == *ord) != *negate),
            Node::Like(a, p) => match (self.value(a).as_ref(), self.value(p).as_ref()) {
                (Value::Text(s), Value::Text(p)) => Like::<true>::like(s.as_str(), p.as_str()).ok(),
                _ => None,
            },
            Node::Between(a, lo, hi) => {
                let v = self.value(a);
                Some(
                    compare(&v, &self.value(lo))? != Ordering::Less
                        && compare(&v, &self.value(hi))? != Ordering::Greater,
                )
            }
            Node::In(a, list) => {
                let v = self.value(a);
                if matches!(v.as_ref(), Value::Null) {
                    return None;
                }
                Some(list.iter().any(|o| compare(&v, &self.value(o)) == Some(Ordering::Equal)))
            }
            Node::IsNull(a) => Some(matches!(self.value(a).as_ref(), Value::Null)),
            Node::Spatial(op, g, bounds) => Some(self.spatial(*op, g, *bounds)),
            Node::Temporal(op, a, b) => Some(temporal(*op, self.time(a)?, self.time(b)?)),
        }
    }

    fn value<'v>(&'v self, o: &'v Operand) -> Cow<'v, Value> {
        let fold = |inner: &Operand, f: fn(&str) -> String| match self.value(inner).as_ref() {
            Value::Text(s) => Cow::Owned(Value::Text(f(s).into())),
            other => Cow::Owned(other.clone()),
        };
        match o {
            Operand::Property(i) => Cow::Borrowed(&self.f.properties[*i]),
            Operand::Literal(v) => Cow::Borrowed(v),
            Operand::Lower(inner) => fold(inner, str::to_lowercase),
            Operand::Unaccent(inner) => fold(inner, text::unaccent),
        }
    }

    /// The interval; unknown when a bound is a property without a value.
    fn time(&self, Time(a, b): &Time) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((self.instant(a)?, self.instant(b)?))
    }

    fn instant(&self, b: &Bound) -> Option<DateTime<Utc>> {
        match b {
            Bound::At(t) => Some(*t),
            Bound::Property(i) => match &self.f.properties[*i] {
                Value::Date(d) => Some(midnight(*d)),
                Value::DateTime(t) => Some(*t),
                _ => None,
            },
        }
    }

    fn spatial(&self, op: SpatialOp, other: &Geometry, bounds: Option<Rect>) -> bool {
        let g = &self.f.geometry;
        // Every predicate but DISJOINT needs the two to meet, and they cannot meet when their
        // boxes do not.
        let apart = match (bounds, g.bounding_rect()) {
            (Some(a), Some(b)) => !a.intersects(&b),
            _ => true,
        };
        if apart {
            return op == SpatialOp::Disjoint;
        }
        match op {
            SpatialOp::Intersects => g.intersects(other),
            SpatialOp::Disjoint => !g.intersects(other),
            _ => {
                let m = g.relate(other);
                match op {
                    SpatialOp::Equals => m.is_equal_topo(),
                    SpatialOp::Touches => m.is_touches(),
                    SpatialOp::Within => m.is_within(),
                    SpatialOp::Overlaps => m.is_overlaps(),
                    SpatialOp::Crosses => m.is_crosses(),
                    _ => m.is_contains(),
                }
            }
        }
    }
}

/// Orders two values of compatible types; `None` when either is null or they do not compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Text(x), Text(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (DateTime(x), DateTime(y)) => Some(x.cmp(y)),
        (Date(x), DateTime(y)) => Some(midnight(*x).cmp(y)),
        (DateTime(x), Date(y)) => Some(x.cmp(&midnight(*y))),
        _ => None,
    }
}

/// The CQL2 temporal predicates on closed intervals (an instant is an interval of length zero).
fn temporal(
    op: TemporalOp,
    (a0, a1): (DateTime<Utc>, DateTime<Utc>),
    (b0, b1): (DateTime<Utc>, DateTime<Utc>),
) -> bool {
    use TemporalOp::*;
    match op {
        After => a0 > b1,
        Before => a1 < b0,
        Contains => a0 < b0 && a1 > b1,
        Disjoint => a1 < b0 || a0 > b1,
        During => a0 > b0 && a1 < b1,
        Equals => a0 == b0 && a1 == b1,
        FinishedBy => a0 < b0 && a1 == b1,
        Finishes => a0 > b0 && a1 == b1,
        Intersects => a0 <= b1 && a1 >= b0,
        Meets => a1 == b0,
        MetBy => a0 == b1,
        OverlappedBy => a0 > b0 && a0 < b1 && a1 > b1,
        Overlaps => a0 < b0 && a1 > b0 && a1 < b1,
        StartedBy => a0 == b0 && a1 > b1,
        Starts => a0 == b0 && a1 < b1,
    }
}

#[cfg(test)]
mod tests {
    use geo_types::point;

    use super::*;

    fn layer() -> LayerDef {
        serde_json::from_str(
            r#"{"title": "t", "geometry": "Point", "access": "public", "source": {"file": "x"},
                "properties": [
                  {"name": "name", "type": "text", "queryable": true},
                  {"name": "rank", "type": "integer", "queryable": true},
                  {"name": "built", "type": "date", "queryable": true},
                  {"name": "owner", "type": "text", "private": true}
                ]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn site(id: i64, name: &str, rank: i64, built: &str, x: f64) -> Feature {
        let built = NaiveDate::parse_from_str(built, "%Y-%m-%d").map_or(Value::Null, Value::Date);
        let props = vec![Value::Text(name.into()), Value::Int(rank), built, Value::Text("Nguyễn Văn A".into())];
        Feature::new(id, Geometry::Point(point! { x: x, y: 10.0 }), props)
    }

    fn sites() -> Vec<Feature> {
        vec![
            site(1, "Đình Tân Phước", 1, "1890-05-01", 105.1),
            site(2, "Chùa Kh'leang", 3, "1533-01-01", 105.2),
            site(3, "Đền thờ Bác Hồ", 2, "1975-04-30", 105.3),
            site(4, "Nhà cổ Bình Thủy", 2, "", 105.4),
        ]
    }

    fn ids(source: &str, lang: FilterLang) -> Result<Vec<i64>, FilterError> {
        let def = layer();
        let visible = |i: usize| !def.properties[i].private;
        let f = Filter::parse(source, lang, &def, &visible, &|c| Ok(c))?;
        Ok(sites().iter().filter(|s| f.matches(s)).map(|s| s.id).collect())
    }

    fn text(source: &str) -> Vec<i64> {
        ids(source, FilterLang::Text).unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    /// Whatever the filter, the columns' rows hold every match, and are the matches when they
    /// say they are exact.
    #[test]
    fn the_columns_narrow_to_every_match_and_decide_what_they_can() {
        let names = ["Đình Tân Phước", "Chùa Kh'leang", "Đền thờ Bác Hồ", "", "Nhà cổ"];
        let features: Vec<Feature> = (0..300)
            .map(|i: i64| {
                let name = if i % 7 == 0 { Value::Null } else { Value::Text(names[i as usize % 5].into()) };
                let rank = if i % 11 == 0 { Value::Null } else { Value::Int(i % 4) };
                let built = NaiveDate::from_ymd_opt(1500 + (i as i32 % 500), 1, 1).map_or(Value::Null, Value::Date);
                Feature::new(i, Geometry::Point(point! { x: 105.0, y: 10.0 }), vec![name, rank, built, Value::Null])
            })
            .collect();
        let columns: Vec<Arc<Column>> = (0..4).map(|i| Arc::new(Column::build(&features, i))).collect();
        let def = layer();
        let visible = |i: usize| !def.properties[i].private;
        let filters = [
            ("rank = 2", true),
            ("rank <> 2", true),
            ("rank >= 2 AND name = 'Nhà cổ'", true),
            ("rank < 1 OR name > 'Đ'", true),
            ("name < 'Chùa' OR rank IS NULL", true),
            ("rank BETWEEN 1 AND 2", true),
            ("name IN ('', 'Nhà cổ', 'Z')", true),
            ("name IS NULL AND rank IN (0, 3)", true),
            ("2 > rank", true),
            ("rank = 2 AND built > DATE('1700-01-01')", false),
            ("rank = 2 AND NOT name = ''", false),
            ("name LIKE 'Đ%' AND rank > 0", false),
            ("rank = 2 OR name LIKE 'Đ%'", false),
            ("NOT rank = 2", false),
        ];
        for (source, decided) in filters {
            let f = Filter::parse(source, FilterLang::Text, &def, &visible, &|c| Ok(c))
                .unwrap_or_else(|e| panic!("{source}: {e}"));
            let matches = Bitmap::of(features.len(), |r| f.matches(&features[r]));
            let narrowed = f.narrow(&|i| columns.get(i).cloned());
            match narrowed {
                Some(n) => {
                    assert_eq!(n.rows.clone().and(&matches), matches, "{source}: a match left out");
                    assert_eq!(n.exact, decided, "{source}");
                    if n.exact {
                        assert_eq!(n.rows, matches, "{source}");
                    }
                }
                None => assert!(!decided, "{source}: the columns should decide it"),
            }
        }
    }

    #[test]
    fn comparisons_and_logic_follow_cql2() {
        assert_eq!(text("rank = 2"), vec![3, 4]);
        assert_eq!(text("rank >= 2 AND NOT rank = 3"), vec![3, 4]);
        assert_eq!(text("rank < 2 OR name = 'Chùa Kh''leang'"), vec![1, 2]);
        assert_eq!(text("rank <> 2"), vec![1, 2]);
        assert_eq!(text("built IS NULL"), vec![4]);
        // Unknown is not true, and its negation is not true either.
        assert_eq!(text("NOT built > '1800-01-01'"), vec![2]);
    }

    #[test]
    fn advanced_comparisons_like_between_in() {
        assert_eq!(text("name LIKE 'Đ%'"), vec![1, 3]);
        assert_eq!(text("name NOT LIKE '%Bình%'"), vec![1, 2, 3]);
        assert_eq!(text("rank BETWEEN 2 AND 3"), vec![2, 3, 4]);
        assert_eq!(text("rank IN (1, 3)"), vec![1, 2]);
        assert_eq!(text("rank NOT IN (1, 3)"), vec![3, 4]);
    }

    #[test]
    fn case_and_accent_insensitive_comparisons() {
        assert_eq!(text("CASEI(name) = casei('đình tân phước')"), vec![1]);
        assert_eq!(text("ACCENTI(name) = accenti('Dinh Tan Phuoc')"), vec![1]);
        assert_eq!(text("CASEI(ACCENTI(name)) LIKE casei(accenti('%DEN THO%'))"), vec![3]);
    }

    #[test]
    fn degenerate_geometry_literals_are_refused() {
        for literal in [
            "POLYGON((105 9,106 10,106 9,105 10,105 9))",
            "POLYGON((105 9,106 9,107 9,105 9))",
            "POLYGON((105 9,105 9,105 9,105 9))",
            "LINESTRING(105 9,105 9)",
        ] {
            let e = ids(&format!("S_TOUCHES(geometry, {literal})"), FilterLang::Text).err();
            assert!(e.is_some_and(|e| e.message.contains("invalid geometry")), "{literal}");
        }
        assert_eq!(text("S_INTERSECTS(geometry, POLYGON((105 9,105.25 9,105.25 11,105 11,105 9)))"), vec![1, 2]);
    }

    #[test]
    fn spatial_predicates_on_the_geometry() {
        assert_eq!(text("S_INTERSECTS(geometry, BBOX(105.15, 9, 105.35, 11))"), vec![2, 3]);
        assert_eq!(text("S_WITHIN(geometry, POLYGON((105 9, 105.25 9, 105.25 11, 105 11, 105 9)))"), vec![1, 2]);
        assert_eq!(text("S_CONTAINS(POLYGON((105 9, 105.25 9, 105.25 11, 105 11, 105 9)), geometry)"), vec![1, 2]);
        assert_eq!(text("S_DISJOINT(geometry, POINT(105.1 10))"), vec![2, 3, 4]);
        assert_eq!(text("S_EQUALS(geometry, POINT(105.4 10))"), vec![4]);
    }

    #[test]
    fn temporal_predicates_on_dates() {
        assert_eq!(text("T_BEFORE(built, DATE('1900-01-01'))"), vec![1, 2]);
        assert_eq!(text("T_AFTER(built, TIMESTAMP('1900-01-01T00:00:00Z'))"), vec![3]);
        assert_eq!(text("T_DURING(built, INTERVAL('1800-01-01', '1980-01-01'))"), vec![1, 3]);
        assert_eq!(text("T_INTERSECTS(built, INTERVAL('..', '1890-05-01'))"), vec![1, 2]);
        assert_eq!(text("T_EQUALS(built, DATE('1975-04-30'))"), vec![3]);
    }

    #[test]
    fn json_encoding_gives_the_same_answers() {
        let json = r#"{"op": "and", "args": [
            {"op": ">", "args": [{"property": "rank"}, 1]},
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [105.3, 10]}]}]}"#;
        assert_eq!(ids(json, FilterLang::Json), Ok(vec![3]));
    }

    #[test]
    fn bad_filters_are_refused_with_a_position() {
        let err = |s: &str| ids(s, FilterLang::Text).err().map(|e| e.message).unwrap_or_default();
        assert!(err("rank = ").contains("at character 8"), "{}", err("rank = "));
        assert!(
            err("colour = 'red'").contains("unknown property \"colour\";")
                && err("colour = 'red'").contains("character 1")
        );
        // Private properties do not exist for this caller.
        assert!(err("rank = 1 AND owner = 'x'").contains("character 14"), "{}", err("rank = 1 AND owner = 'x'"));
        assert!(err("rank = 'high'").contains("not a valid Integer"));
        assert!(err("rank + 1 = 2").contains("arithmetic"));
        assert!(err("rank = 1e999").contains("finite"));
        // A long chain of prefix operators must not overflow the stack.
        assert!(err(&format!("{}rank = 1", "NOT ".repeat(2000))).contains("operations"));
        assert!(err(&format!("{}rank = 1{}", "(".repeat(40), ")".repeat(40))).contains("deeper than 32"));
        assert!(err("T_AFTER(name, DATE('2020-01-01'))").contains("not a date"));
        assert!(ids("{\"op\": ", FilterLang::Json).is_err());
    }

    #[test]
    fn invalid_deep_nesting_is_refused_before_the_parser_backtracks_for_long() {
        let err = |s: &str| ids(s, FilterLang::Text).err().map(|e| e.message).unwrap_or_default();
        // Found by the fuzzer: without a bound on the parser's work, this takes over ten seconds.
        assert_eq!(err(&"(".repeat(20)), TOO_COMPLEX);
        assert_eq!(err(&format!("{}rank = {}", "(".repeat(30), ")".repeat(30))), TOO_COMPLEX);
        // Valid filters at the depth and size limits still parse.
        assert_eq!(text(&format!("{}rank = 2{}", "(".repeat(32), ")".repeat(32))), vec![3, 4]);
        let ranks: Vec<String> = (0..1500).map(|i| i.to_string()).collect();
        assert_eq!(text(&format!("rank IN ({})", ranks.join(","))), vec![1, 2, 3, 4]);
    }
}
