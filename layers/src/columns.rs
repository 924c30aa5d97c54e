//! Column-wise copies of a layer's properties, for attribute filters: a property's values in
//! one dense array (numbers as they are, text as codes into a sorted dictionary), made the first
//! time a filter names it. A comparison then reads a few bytes per feature from one array
//! instead of following two pointers per feature into its row, and answers as a bitmap that the
//! filter's `AND` and `OR` combine word by word.
//!
//! Hand-written: the column stores of crates.io (Arrow, Polars) would bring a query engine and
//! its types for three kinds of array and one comparison.

use std::{
    cmp::Ordering,
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use crate::{Feature, Value};

/// A set of rows, one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    /// No row of `len`.
    pub fn none(len: usize) -> Self {
        Self { words: vec![0; len.div_ceil(64)], len }
    }

    /// The rows of `len` for which `test` holds.
    pub fn of(len: usize, test: impl Fn(usize) -> bool) -> Self {
        let mut words = vec![0u64; len.div_ceil(64)];
        for (w, word) in words.iter_mut().enumerate() {
            let start = w * 64;
            for bit in 0..(len - start).min(64) {
                *word |= u64::from(test(start + bit)) << bit;
            }
        }
        Self { words, len }
    }

    /// The rows whose value passes `test`, 64 at a time.
    pub fn of_values<T: Copy>(values: &[T], test: impl Fn(T) -> bool) -> Self {
        let word = |chunk: &[T]| chunk.iter().enumerate().fold(0u64, |w, (bit, &v)| w | (u64::from(test(v)) << bit));
        Self { words: values.chunks(64).map(word).collect(), len: values.len() }
    }

    /// Rows in both.
    #[must_use]
    pub fn and(mut self, other: &Self) -> Self {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= b);
        self
    }

    /// Rows in either.
    #[must_use]
    pub fn or(mut self, other: &Self) -> Self {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a |= b);
        self
    }

    /// The rows in the set, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }

    /// How many rows it holds.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The number of rows it is a set of.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it is a set of no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One property of every feature, in the features' order.
#[derive(Debug)]
pub enum Column {
    /// Integers (0 where null), and the rows that have one.
    Ints(Vec<i64>, Bitmap),
    /// Numbers (0 where null), and the rows that have one.
    Floats(Vec<f64>, Bitmap),
    /// Text as codes into `dictionary`, sorted, so that codes order as the strings do;
    /// [`NULL_CODE`] is null.
    Texts {
        /// Each row's code.
        codes: Vec<u32>,
        /// The distinct strings, in byte order.
        dictionary: Vec<Box<str>>,
        /// The same strings folded for free-text search, made by the first search.
        folded: OnceLock<Box<[Box<str>]>>,
    },
    /// Values of another type (or of several): filters on it read the rows.
    Other,
}

/// The code of a null in a text column.
pub const NULL_CODE: u32 = u32::MAX;

impl Column {
    /// Copies property `i` of `features`.
    pub fn build(features: &[impl std::borrow::Borrow<Feature>], i: usize) -> Self {
        let value = |row: usize| features[row].borrow().properties.get(i).unwrap_or(&Value::Null);
        let n = features.len();
        let first = (0..n).map(value).find(|v| !matches!(v, Value::Null));
        let one_type = first.is_some_and(|first| {
            let kind = std::mem::discriminant(first);
            (0..n).map(value).all(|v| matches!(v, Value::Null) || std::mem::discriminant(v) == kind)
        });
        let present = || Bitmap::of(n, |row| !matches!(value(row), Value::Null));
        match first.filter(|_| one_type) {
            Some(Value::Int(_)) => {
                let values = (0..n).map(|row| if let Value::Int(x) = value(row) { *x } else { 0 }).collect();
                Self::Ints(values, present())
            }
            Some(Value::Float(_)) => {
                let values = (0..n).map(|row| if let Value::Float(x) = value(row) { *x } else { 0.0 }).collect();
                Self::Floats(values, present())
            }
            Some(Value::Text(_)) => Self::texts((0..n).map(value)),
            _ => Self::Other,
        }
    }

    fn texts<'a>(values: impl Iterator<Item = &'a Value> + Clone) -> Self {
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for v in values.clone() {
            if let Value::Text(s) = v {
                let next = u32::try_from(seen.len()).unwrap_or(NULL_CODE);
                seen.entry(s).or_insert(next);
            }
        }
        let mut dictionary: Vec<&str> = seen.keys().copied().collect();
        dictionary.sort_unstable();
        for (code, s) in dictionary.iter().enumerate() {
            seen.insert(s, u32::try_from(code).unwrap_or(NULL_CODE));
        }
        let codes = values.map(|v| if let Value::Text(s) = v { seen[s.as_str()] } else { NULL_CODE }).collect();
        Self::Texts { codes, dictionary: dictionary.into_iter().map(Box::from).collect(), folded: OnceLock::new() }
    }

    /// The rows whose text holds `word` once folded (as [`crate::text::fold`] folds it): each
    /// distinct string is searched once, however many rows share it. `None` unless the column
    /// is text.
    pub fn containing(&self, word: &memchr::memmem::Finder) -> Option<Bitmap> {
        let Self::Texts { codes, dictionary, folded } = self else { return None };
        let folded = folded.get_or_init(|| dictionary.iter().map(|s| crate::text::fold(s).into_boxed_str()).collect());
        let holds: Vec<bool> = folded.iter().map(|s| word.find(s.as_bytes()).is_some()).collect();
        Some(Bitmap::of_values(codes, |code| code != NULL_CODE && holds[code as usize]))
    }

    /// The rows whose value compares with `literal` (as `compare(value, literal)`, or the
    /// other way round when `flipped`) to `ord`, or to anything else when `negate`; a null, or
    /// a literal of another type, is in neither. `None` for a column of [`Column::Other`].
    pub fn compare(&self, ord: Ordering, negate: bool, literal: &Value, flipped: bool) -> Option<Bitmap> {
        let wanted = |o: Ordering| ((if flipped { o.reverse() } else { o }) == ord) != negate;
        // Which of less, equal and greater (the value against the literal) are wanted: each
        // test below is then a few comparisons without branches, which the compiler vectorises.
        let [less, equal, greater] = [Ordering::Less, Ordering::Equal, Ordering::Greater].map(wanted);
        let numbers = |x: f64, y: f64| (less & (x < y)) | (equal & (x == y)) | (greater & (x > y));
        Some(match (self, literal) {
            (Self::Ints(values, present), Value::Int(y)) => {
                let y = *y;
                Bitmap::of_values(values, |x| (less & (x < y)) | (equal & (x == y)) | (greater & (x > y))).and(present)
            }
            (Self::Ints(values, present), Value::Float(y)) => {
                Bitmap::of_values(values, |x| numbers(x as f64, *y)).and(present)
            }
            (Self::Floats(values, present), Value::Float(y)) => {
                Bitmap::of_values(values, |x| numbers(x, *y)).and(present)
            }
            (Self::Floats(values, present), Value::Int(y)) => {
                Bitmap::of_values(values, |x| numbers(x, *y as f64)).and(present)
            }
            (Self::Texts { codes, dictionary, .. }, Value::Text(s)) => {
                // Codes below `lt` are less than the literal, those from `lt` to `le` equal
                // to it (one code, or none when it is not in the dictionary), the rest up to
                // the dictionary's end greater; nulls are past the end.
                let lt = dictionary.partition_point(|d| **d < **s);
                let le = lt + usize::from(dictionary.get(lt).is_some_and(|d| **d == **s));
                let code = |n: usize| u32::try_from(n).unwrap_or(NULL_CODE);
                let (lt, le, end) = (code(lt), code(le), code(dictionary.len()));
                Bitmap::of_values(codes, |c| {
                    (less & (c < lt)) | (equal & (c >= lt) & (c < le)) | (greater & (c >= le) & (c < end))
                })
            }
            (Self::Other, _) => return None,
            (Self::Ints(v, _), _) => Bitmap::none(v.len()),
            (Self::Floats(v, _), _) => Bitmap::none(v.len()),
            (Self::Texts { codes, .. }, _) => Bitmap::none(codes.len()),
        })
    }

    /// The rows that are null; `None` for a column of [`Column::Other`].
    pub fn nulls(&self) -> Option<Bitmap> {
        let absent = |present: &Bitmap| Bitmap::of(present.len(), |r| !present.contains(r));
        match self {
            Self::Ints(_, present) | Self::Floats(_, present) => Some(absent(present)),
            Self::Texts { codes, .. } => Some(Bitmap::of(codes.len(), |r| codes[r] == NULL_CODE)),
            Self::Other => None,
        }
    }
}

impl Bitmap {
    /// Whether `row` is in the set.
    pub fn contains(&self, row: usize) -> bool {
        self.words.get(row / 64).is_some_and(|w| w >> (row % 64) & 1 == 1)
    }
}

/// The column-wise copies of one packed set of features, each made on first use and kept as
/// long as the features.
pub struct Columns {
    slots: Box<[OnceLock<Arc<Column>>]>,
}

impl Columns {
    /// Room for `properties` columns, none made yet.
    pub fn new(properties: usize) -> Self {
        Self { slots: (0..properties).map(|_| OnceLock::new()).collect() }
    }

    /// Property `i` of `features` (the features these columns belong to), made now if it is
    /// the first time it is asked for.
    pub fn get(&self, features: &[impl std::borrow::Borrow<Feature>], i: usize) -> Option<Arc<Column>> {
        let slot = self.slots.get(i)?;
        Some(Arc::clone(slot.get_or_init(|| Arc::new(Column::build(features, i)))))
    }
}

#[cfg(test)]
mod tests {
    use geo_types::{Geometry, point};

    use super::*;

    fn rows(values: Vec<Value>) -> Vec<Feature> {
        let g = Geometry::Point(point!(x: 0.0, y: 0.0));
        values.into_iter().enumerate().map(|(i, v)| Feature::new(i as i64, g.clone(), vec![v])).collect()
    }

    /// Every comparison of the column answers as `crate::filter::compare` does, row by row.
    #[test]
    fn a_column_compares_as_the_rows_do() {
        let t = |s: &str| Value::Text(s.into());
        let cases = [
            vec![Value::Int(3), Value::Null, Value::Int(-7), Value::Int(3), Value::Int(10)],
            vec![Value::Float(2.5), Value::Float(f64::NAN), Value::Null, Value::Float(-1.0), Value::Float(2.5)],
            vec![t("ODT"), t("LUA"), Value::Null, t("ĐẤT"), t("ODT"), t(""), t("ONT")],
            vec![Value::Int(1), t("mixed")],
        ];
        let literals = [
            Value::Int(3),
            Value::Float(2.5),
            Value::Float(0.0),
            t("ODT"),
            t("NAA"),
            t("ZZZ"),
            t(""),
            Value::Bool(true),
        ];
        for values in cases {
            let features = rows(values);
            let column = Column::build(&features, 0);
            for literal in &literals {
                for ord in [Ordering::Less, Ordering::Equal, Ordering::Greater] {
                    for (negate, flipped) in [(false, false), (true, false), (false, true), (true, true)] {
                        let expected = Bitmap::of(features.len(), |r| {
                            let v = &features[r].properties[0];
                            let o = if flipped {
                                crate::filter::compare(literal, v)
                            } else {
                                crate::filter::compare(v, literal)
                            };
                            o.is_some_and(|o| (o == ord) != negate)
                        });
                        match column.compare(ord, negate, literal, flipped) {
                            Some(got) => assert_eq!(got, expected, "{column:?} {ord:?} {negate} {literal:?} {flipped}"),
                            None => assert!(matches!(column, Column::Other)),
                        }
                    }
                }
            }
            if let Some(nulls) = column.nulls() {
                assert_eq!(nulls, Bitmap::of(features.len(), |r| features[r].properties[0] == Value::Null));
            }
        }
    }

    #[test]
    fn a_bitmap_lists_its_rows_in_order() {
        let b = Bitmap::of(200, |r| r % 3 == 0 || r == 199);
        let ones: Vec<usize> = b.ones().collect();
        assert_eq!(ones, (0..200).filter(|r| r % 3 == 0 || *r == 199).collect::<Vec<_>>());
        assert_eq!(b.count(), ones.len());
        let even = Bitmap::of(200, |r| r % 2 == 0);
        assert_eq!(
            b.clone().and(&even).ones().collect::<Vec<_>>(),
            (0..200).filter(|r| r % 6 == 0).collect::<Vec<_>>()
        );
        assert_eq!(Bitmap::none(200).or(&b), b);
    }
}
