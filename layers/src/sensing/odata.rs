//! The SensorThings query options (OGC 18-088 §9.3): `$filter` and `$orderby` expressions,
//! `$select`, `$expand` with nested options, `$top`, `$skip`, `$count`.
//!
//! Hand-written: the published OData crates parse OData 4 filters without SensorThings'
//! paths across entities (`Datastream/Thing/name`), `geography'…'` literals or `st_*`
//! functions, and bring decimal and time-zone tables with them.

use chrono::{DateTime, Utc};

use crate::{Error, Result};

/// Nesting of parentheses an expression may have: deeper input is refused before it can exhaust
/// the stack.
const MAX_DEPTH: usize = 32;
/// Levels of `$expand` (nested options and `A/B` paths alike): each multiplies the work.
const MAX_EXPAND: usize = 4;
/// Terms one expression may have.
const MAX_TERMS: usize = 256;

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `'text'`.
    Text(String),
    /// A number.
    Number(f64),
    /// `true`, `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An ISO 8601 instant.
    Time(DateTime<Utc>),
    /// `geography'POINT(1 2)'`: WKT in WGS 84 longitude, latitude.
    Geography(String),
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
    /// `and`.
    And,
    /// `or`.
    Or,
    /// `add`.
    Add,
    /// `sub`.
    Sub,
    /// `mul`.
    Mul,
    /// `div`.
    Div,
    /// `mod`.
    Mod,
}

impl Op {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            "and" => Self::And,
            "or" => Self::Or,
            "add" => Self::Add,
            "sub" => Self::Sub,
            "mul" => Self::Mul,
            "div" => Self::Div,
            "mod" => Self::Mod,
            _ => return None,
        })
    }

    fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And => 2,
            Self::Eq | Self::Ne | Self::Gt | Self::Ge | Self::Lt | Self::Le => 3,
            Self::Add | Self::Sub => 4,
            Self::Mul | Self::Div | Self::Mod => 5,
        }
    }
}

/// A `$filter` or `$orderby` expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A property path: `result`, `Datastream/Thing/name`, `properties/class`.
    Path(Vec<String>),
    /// A literal.
    Literal(Literal),
    /// A function call.
    Call(String, Vec<Expr>),
    /// `a op b`.
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `not a`.
    Not(Box<Expr>),
}

/// One `$orderby` term.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// What is ordered by.
    pub expr: Expr,
    /// Descending.
    pub desc: bool,
}

/// One `$expand` item: a navigation property and the options of its entities.
#[derive(Clone, Debug, PartialEq)]
pub struct Expand {
    /// The navigation property.
    pub nav: String,
    /// Its options.
    pub query: Query,
}

/// The query options of one request (or of one expanded navigation property).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// `$filter`.
    pub filter: Option<Expr>,
    /// `$orderby`.
    pub orderby: Vec<Order>,
    /// `$top`.
    pub top: Option<u64>,
    /// `$skip`.
    pub skip: u64,
    /// `$count`.
    pub count: bool,
    /// `$select`.
    pub select: Option<Vec<String>>,
    /// `$expand`.
    pub expand: Vec<Expand>,
    /// `$resultFormat=dataArray` (OGC 18-088 §13.1): observations as arrays of their components.
    pub data_array: bool,
    /// The options as given, but `$top` and `$skip`, for next links.
    pub rest: Vec<(String, String)>,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadQuery(detail.into())
}

impl Query {
    /// The options of a request's query string, decoded into name and value pairs.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        Self::parse_at(pairs, 0)
    }

    fn parse_at<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, depth: usize) -> Result<Self> {
        if depth > MAX_EXPAND {
            return Err(bad(format!("$expand reaches at most {MAX_EXPAND} levels deep")));
        }
        let mut q = Self::default();
        let mut seen = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name) {
                return Err(bad(format!("{name} is given twice")));
            }
            seen.push(name);
            match name {
                "$top" => q.top = Some(number(name, value)?),
                "$skip" => q.skip = number(name, value)?,
                "$count" => {
                    q.count = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("$count is true or false, not {value:?}"))),
                    }
                }
                "$filter" => q.filter = Some(Parser::new(value)?.whole()?),
                "$orderby" => q.orderby = Parser::new(value)?.orderby()?,
                "$select" => q.select = Some(names(value)?),
                "$expand" => q.expand = expands(value, depth)?,
                "$resultFormat" if value == "dataArray" && depth == 0 => q.data_array = true,
                "$resultFormat" => {
                    return Err(bad(format!("$resultFormat is dataArray at the top level, not {value:?}")));
                }
                other => return Err(bad(format!("unknown query option {other:?}"))),
            }
            if name != "$top" && name != "$skip" {
                q.rest.push((name.to_owned(), value.to_owned()));
            }
        }
        Ok(q)
    }
}

fn number(name: &str, value: &str) -> Result<u64> {
    value.parse().map_err(|_| bad(format!("{name} is a whole number ≥ 0, not {value:?}")))
}

fn names(value: &str) -> Result<Vec<String>> {
    let names: Vec<String> = value.split(',').map(|s| s.trim().to_owned()).collect();
    if names.iter().any(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '@' || c == '.')) {
        return Err(bad(format!("$select is a list of property names, not {value:?}")));
    }
    Ok(names)
}

/// Splits at `sep` outside parentheses and quotes.
fn split_top(value: &str, sep: char) -> Result<Vec<&str>> {
    let (mut depth, mut quoted, mut start) = (0usize, false, 0);
    let mut parts = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.checked_sub(1).ok_or_else(|| bad("unbalanced parentheses"))?,
            c if c == sep && !quoted && depth == 0 => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || quoted {
        return Err(bad("unbalanced parentheses or quotes"));
    }
    parts.push(&value[start..]);
    Ok(parts)
}

fn expands(value: &str, depth: usize) -> Result<Vec<Expand>> {
    let mut out = Vec::new();
    for item in split_top(value, ',')? {
        let item = item.trim();
        let (path, options) = match item.find('(') {
            Some(i) if item.ends_with(')') => (&item[..i], &item[i + 1..item.len() - 1]),
            Some(_) => return Err(bad(format!("$expand item {item:?} is malformed"))),
            None => (item, ""),
        };
        let mut pairs = Vec::new();
        for option in split_top(options, ';')?.into_iter().filter(|o| !o.trim().is_empty()) {
            let (k, v) =
                option.split_once('=').ok_or_else(|| bad(format!("$expand option {option:?} has no value")))?;
            pairs.push((k.trim(), v));
        }
        // `A/B(options)` expands A, and B within it.
        let mut steps: Vec<&str> = path.split('/').map(str::trim).collect();
        let mut query = Query::parse_at(pairs, depth + steps.len())?;
        let last = steps.pop().unwrap_or_default();
        let mut nav = last.to_owned();
        while let Some(outer) = steps.pop() {
            query = Query { expand: vec![Expand { nav, query }], ..Query::default() };
            nav = outer.to_owned();
        }
        if nav.is_empty() || !nav.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(format!("$expand names navigation properties, not {item:?}")));
        }
        merge(&mut out, Expand { nav, query })?;
    }
    Ok(out)
}

/// Adds an expanded navigation property; one named twice (`A/B,A/C`) is expanded once with both
/// of its own expansions, as long as its other options agree.
fn merge(out: &mut Vec<Expand>, e: Expand) -> Result<()> {
    let Some(same) = out.iter_mut().find(|o| o.nav == e.nav) else {
        out.push(e);
        return Ok(());
    };
    let options = |q: &Query| Query { expand: Vec::new(), rest: Vec::new(), ..q.clone() };
    if options(&same.query) != options(&e.query) {
        return Err(bad(format!("{} is expanded twice with different options", e.nav)));
    }
    for inner in e.query.expand {
        merge(&mut same.query.expand, inner)?;
    }
    for r in e.query.rest {
        if !same.query.rest.contains(&r) {
            same.query.rest.push(r);
        }
    }
    Ok(())
}

/// A token of an expression.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Literal(Literal),
    Open,
    Close,
    Comma,
}

fn tokens(input: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (out.push(Token::Open), i += 1).1,
            ')' => (out.push(Token::Close), i += 1).1,
            ',' => (out.push(Token::Comma), i += 1).1,
            '\'' => {
                let (text, end) = quoted(&chars, i)?;
                out.push(Token::Literal(Literal::Text(text)));
                i = end;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || ":.+-".contains(chars[i])) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Token::Literal(number_or_time(&text)?));
            }
            c if c.is_ascii_alphabetic() || c == '@' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "@._/$".contains(chars[i])) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if (word == "geography" || word == "geometry") && chars.get(i) == Some(&'\'') {
                    let (wkt, end) = quoted(&chars, i)?;
                    out.push(Token::Literal(Literal::Geography(wkt)));
                    i = end;
                } else {
                    out.push(Token::Word(word));
                }
            }
            other => return Err(bad(format!("unexpected {other:?} in the expression"))),
        }
        if out.len() > MAX_TERMS {
            return Err(bad(format!("the expression has more than {MAX_TERMS} terms")));
        }
    }
    Ok(out)
}

/// The string quoted from `start` (a `'`), `''` standing for one quote, and where it ends.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize)> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(bad("a string is not closed")),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((text, i + 1)),
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
}

fn number_or_time(text: &str) -> Result<Literal> {
    if let Ok(n) = text.parse::<f64>()
        && n.is_finite()
    {
        return Ok(Literal::Number(n));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Literal::Time(t.with_timezone(&Utc)))
        .map_err(|_| bad(format!("{text:?} is neither a number nor an ISO 8601 time with its offset")))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Self> {
        Ok(Self { tokens: tokens(input)?, at: 0, depth: 0 })
    }

    fn whole(mut self) -> Result<Expr> {
        let e = self.expr(0)?;
        self.end()?;
        Ok(e)
    }

    fn orderby(mut self) -> Result<Vec<Order>> {
        let mut out = Vec::new();
        loop {
            let expr = self.expr(0)?;
            let desc = match self.peek() {
                Some(Token::Word(w)) if w == "desc" || w == "asc" => {
                    let desc = w == "desc";
                    self.at += 1;
                    desc
                }
                _ => false,
            };
            out.push(Order { expr, desc });
            match self.next() {
                None => return Ok(out),
                Some(Token::Comma) => {}
                Some(t) => return Err(bad(format!("unexpected {t:?} in $orderby"))),
            }
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn end(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(bad(format!("unexpected {t:?} after the expression"))),
        }
    }

    /// Precedence climbing over the binary operators.
    fn expr(&mut self, min: u8) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(bad("the expression is nested too deeply"));
        }
        let mut left = self.unary()?;
        while let Some(Token::Word(w)) = self.peek() {
            let Some(op) = Op::parse(w).filter(|op| op.precedence() > min) else { break };
            self.at += 1;
            let right = self.expr(op.precedence())?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr> {
        match self.next() {
            Some(Token::Word(w)) if w == "not" => Ok(Expr::Not(Box::new(self.expr(Op::Eq.precedence() - 1)?))),
            Some(Token::Word(w)) if w == "true" || w == "false" => Ok(Expr::Literal(Literal::Bool(w == "true"))),
            Some(Token::Word(w)) if w == "null" => Ok(Expr::Literal(Literal::Null)),
            Some(Token::Word(w)) if self.peek() == Some(&Token::Open) => {
                self.at += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Token::Close) {
                    self.at += 1;
                } else {
                    loop {
                        args.push(self.expr(0)?);
                        match self.next() {
                            Some(Token::Comma) => {}
                            Some(Token::Close) => break,
                            _ => return Err(bad(format!("the arguments of {w} are not closed"))),
                        }
                    }
                }
                Ok(Expr::Call(w.to_ascii_lowercase(), args))
            }
            Some(Token::Word(w)) if Op::parse(&w).is_none() => {
                let steps: Vec<String> = w.split('/').map(str::to_owned).collect();
                if steps.iter().any(String::is_empty) {
                    return Err(bad(format!("{w:?} is not a property path")));
                }
                Ok(Expr::Path(steps))
            }
            Some(Token::Literal(l)) => Ok(Expr::Literal(l)),
            Some(Token::Open) => {
                let e = self.expr(0)?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err(bad("a parenthesis is not closed")),
                }
            }
            Some(t) => Err(bad(format!("unexpected {t:?}"))),
            None => Err(bad("the expression ends too early")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(s: &str) -> Result<Expr> {
        Parser::new(s)?.whole()
    }

    fn path(s: &str) -> Expr {
        Expr::Path(s.split('/').map(str::to_owned).collect())
    }

    fn num(n: f64) -> Expr {
        Expr::Literal(Literal::Number(n))
    }

    #[test]
    fn and_binds_tighter_than_or_and_comparison_tighter_than_and() {
        let e = filter("result gt 5 or result lt 1 and name eq 'a'").expect("valid");
        let gt = Expr::Binary(Op::Gt, Box::new(path("result")), Box::new(num(5.0)));
        let lt = Expr::Binary(Op::Lt, Box::new(path("result")), Box::new(num(1.0)));
        let eq = Expr::Binary(Op::Eq, Box::new(path("name")), Box::new(Expr::Literal(Literal::Text("a".into()))));
        let and = Expr::Binary(Op::And, Box::new(lt), Box::new(eq));
        assert_eq!(e, Expr::Binary(Op::Or, Box::new(gt), Box::new(and)));
    }

    #[test]
    fn arithmetic_binds_tighter_than_comparison() {
        let e = filter("result add 1 mul 2 ge 7").expect("valid");
        let mul = Expr::Binary(Op::Mul, Box::new(num(1.0)), Box::new(num(2.0)));
        let add = Expr::Binary(Op::Add, Box::new(path("result")), Box::new(mul));
        assert_eq!(e, Expr::Binary(Op::Ge, Box::new(add), Box::new(num(7.0))));
    }

    #[test]
    fn literals_of_every_kind_are_read() {
        let e = filter("phenomenonTime ge 2026-03-01T00:00:00+07:00").expect("valid");
        let Expr::Binary(_, _, t) = e else { panic!() };
        assert_eq!(*t, Expr::Literal(Literal::Time("2026-02-28T17:00:00Z".parse().expect("valid"))));
        let e = filter("st_within(location, geography'POLYGON((105 10,106 10,106 11,105 10))')").expect("valid");
        let Expr::Call(name, args) = e else { panic!() };
        assert_eq!(name, "st_within");
        assert_eq!(args[1], Expr::Literal(Literal::Geography("POLYGON((105 10,106 10,106 11,105 10))".into())));
        let e = filter("name eq 'Trà Nóc ''A''' and result ne null and not (result eq -1.5e2)").expect("valid");
        let text = format!("{e:?}");
        assert!(text.contains("Trà Nóc 'A'") && text.contains("Null") && text.contains("-150.0"), "{text}");
    }

    #[test]
    fn paths_cross_entities_and_functions_take_them() {
        let e = filter("substringof('Trà', Datastream/Thing/name)").expect("valid");
        assert_eq!(
            e,
            Expr::Call(
                "substringof".into(),
                vec![Expr::Literal(Literal::Text("Trà".into())), path("Datastream/Thing/name")]
            )
        );
    }

    #[test]
    fn malformed_expressions_are_refused_with_a_reason() {
        for bad in [
            "result gt",
            "(result gt 1",
            "result gt 1)",
            "name eq 'open",
            "result gt 1 2",
            "result # 1",
            "Thing//name eq 'a'",
            "eq 1",
            "2026-13-45T00:00:00Z lt phenomenonTime",
        ] {
            assert!(matches!(filter(bad), Err(Error::BadQuery(_))), "{bad}");
        }
        let deep = format!("{}result{}", "(".repeat(100), ")".repeat(100));
        assert!(matches!(filter(&deep), Err(Error::BadQuery(_))));
        let long = vec!["result eq 1"; 200].join(" or ");
        assert!(matches!(filter(&long), Err(Error::BadQuery(_))));
    }

    #[test]
    fn orderby_takes_directions_and_several_terms() {
        let o = Parser::new("phenomenonTime desc, result").expect("valid").orderby().expect("valid");
        assert_eq!(o.len(), 2);
        assert!(o[0].desc && !o[1].desc);
    }

    #[test]
    fn expand_reads_nested_options_and_paths() {
        let q = Query::parse([
            (
                "$expand",
                "Datastreams($select=name;$expand=Observations($top=2;$orderby=phenomenonTime desc)),Locations",
            ),
            ("$top", "5"),
            ("$count", "true"),
        ])
        .expect("valid");
        assert_eq!(q.top, Some(5));
        assert!(q.count);
        assert_eq!(q.expand.len(), 2);
        let ds = &q.expand[0];
        assert_eq!(ds.nav, "Datastreams");
        assert_eq!(ds.query.select, Some(vec!["name".to_owned()]));
        assert_eq!(ds.query.expand[0].nav, "Observations");
        assert_eq!(ds.query.expand[0].query.top, Some(2));
        let q = Query::parse([("$expand", "Datastreams/Sensor,Datastreams/ObservedProperty")]).expect("valid");
        assert_eq!(q.expand.len(), 1);
        let inner: Vec<&str> = q.expand[0].query.expand.iter().map(|e| e.nav.as_str()).collect();
        assert_eq!(inner, ["Sensor", "ObservedProperty"]);
        let q = Query::parse([("$expand", "Datastream/Thing")]).expect("valid");
        assert_eq!(q.expand[0].nav, "Datastream");
        assert_eq!(q.expand[0].query.expand[0].nav, "Thing");
        assert_eq!(q.rest, vec![("$expand".to_owned(), "Datastream/Thing".to_owned())]);
    }

    #[test]
    fn unknown_or_repeated_options_are_refused() {
        assert!(Query::parse([("$top", "-1")]).is_err());
        assert!(Query::parse([("$top", "1"), ("$top", "2")]).is_err());
        assert!(Query::parse([("$bogus", "1")]).is_err());
        assert!(Query::parse([("$count", "yes")]).is_err());
        assert!(Query::parse([("$expand", "Datastreams($top=1")]).is_err());
        let deep = format!("{}Things{}", "Things($expand=".repeat(40), ")".repeat(40));
        assert!(Query::parse([("$expand", deep.as_str())]).is_err());
        assert!(Query::parse([("$expand", "Datastreams/Thing/Datastreams/Thing/Datastreams")]).is_err());
        assert!(Query::parse([("$expand", "Datastreams($top=1),Datastreams($top=2)")]).is_err());
    }
}
