//! Free-text search (`q`): every word must appear in some text property, ignoring case and
//! diacritics; results rank by how well the words match.

use std::sync::{Arc, OnceLock};

use memchr::memmem::Finder;

use crate::{
    Feature, Value,
    columns::{Bitmap, Column},
    text,
};

/// A feature's text values folded for search, computed on the first search that reads them
/// rather than at load (most layers are never searched, and load time counts) and kept for
/// the feature's life: every later search compares, without folding. Non-text values fold to
/// an empty string.
#[derive(Clone, Default)]
pub struct FoldedText(OnceLock<Box<[Box<str>]>>);

impl FoldedText {
    /// The folded values of `properties`, computed on the first call.
    pub fn of(&self, properties: &[Value]) -> &[Box<str>] {
        self.0.get_or_init(|| {
            properties
                .iter()
                .map(|v| match v {
                    Value::Text(s) => text::fold(s).into_boxed_str(),
                    _ => Box::default(),
                })
                .collect()
        })
    }

    /// Heap bytes held, once computed.
    pub fn heap_bytes(&self) -> usize {
        self.0.get().map_or(0, |all| all.iter().map(|s| s.len() + std::mem::size_of::<Box<str>>()).sum())
    }
}

/// A cache: features are equal whatever it holds.
impl PartialEq for FoldedText {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for FoldedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "FoldedText(folded)" } else { "FoldedText(not yet)" })
    }
}

/// Longest `q` accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// A parsed `q`: its words, folded, each with its searcher.
#[derive(Clone, Debug)]
pub struct TextSearch {
    words: Vec<Finder<'static>>,
    phrase: Finder<'static>,
}

/// Queries are equal when they search for the same words.
impl PartialEq for TextSearch {
    fn eq(&self, other: &Self) -> bool {
        self.phrase.needle() == other.phrase.needle()
    }
}

impl Eq for TextSearch {}

impl TextSearch {
    /// Splits `q` into words at spaces and commas; `None` when it has none.
    pub fn new(q: &str) -> Result<Option<Self>, String> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(format!("q is longer than {MAX_QUERY_CHARS} characters"));
        }
        let folded = text::fold(q);
        let words: Vec<String> = folded
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        // A searcher is built once per query: the layer's every text is searched with it.
        let finder = |w: &str| Finder::new(w.as_bytes()).into_owned();
        Ok((!words.is_empty())
            .then(|| Self { phrase: finder(&words.join(" ")), words: words.iter().map(|w| finder(w)).collect() }))
    }

    /// The feature's score over the properties at `fields`, or `None` when a word is missing.
    /// A word scores 3 as a whole word, 2 as the start of one and 1 inside one; the whole
    /// phrase appearing as written adds 4.
    pub fn score(&self, f: &Feature, fields: &[usize]) -> Option<u32> {
        // Runs for every feature of the layer: no allocation here.
        let texts = || fields.iter().filter_map(|&i| f.folded(i));
        let mut total = 0;
        for w in &self.words {
            total += texts().map(|t| word_score(t, w)).max().filter(|s| *s > 0)?;
        }
        if self.words.len() > 1 && texts().any(|t| self.phrase.find(t.as_bytes()).is_some()) {
            total += 4;
        }
        Some(total)
    }

    /// The rows that may match, read from the columns of the text properties at `fields`:
    /// those where every word is in one of them (a superset: [`Self::score`] decides). `None`
    /// when a property has no text column to read.
    pub fn narrow(&self, fields: &[usize], column: &dyn Fn(usize) -> Option<Arc<Column>>) -> Option<Bitmap> {
        let columns: Vec<Arc<Column>> = fields.iter().map(|&i| column(i)).collect::<Option<_>>()?;
        let holding = |word| -> Option<Bitmap> {
            let hits: Vec<Bitmap> = columns.iter().map(|c| c.containing(word)).collect::<Option<_>>()?;
            hits.into_iter().reduce(|a, b| a.or(&b))
        };
        let per_word: Vec<Bitmap> = self.words.iter().map(holding).collect::<Option<_>>()?;
        per_word.into_iter().reduce(|a, b| a.and(&b))
    }

    /// The highest score a feature can have.
    pub fn max_score(&self) -> u32 {
        u32::try_from(self.words.len()).unwrap_or(u32::MAX / 4).saturating_mul(3).saturating_add(4)
    }
}

fn word_score(text: &str, word: &Finder) -> u32 {
    let mut best = 0;
    // The word is whole UTF-8 characters, so each match starts and ends on a character boundary.
    for at in word.find_iter(text.as_bytes()) {
        let starts = text[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let ends = text[at + word.needle().len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        best = best.max(match (starts, ends) {
            (true, true) => 3,
            (true, false) => 2,
            _ => 1,
        });
    }
    best
}

#[cfg(test)]
mod tests {
    use geo_types::{Geometry, point};

    use super::*;

    fn named(id: i64, name: &str) -> Feature {
        Feature::new(id, Geometry::Point(point! { x: 105.0, y: 10.0 }), vec![Value::Text(name.into())])
    }

    fn score(q: &str, name: &str) -> Option<u32> {
        TextSearch::new(q).ok().flatten()?.score(&named(1, name), &[0])
    }

    #[test]
    fn words_match_without_case_or_diacritics() {
        assert!(score("dinh tan phuoc", "Đình Tân Phước").is_some());
        assert!(score("ĐÌNH", "Đình Tân Phước").is_some());
        assert!(score("dinh chua", "Đình Tân Phước").is_none());
    }

    #[test]
    fn the_columns_pick_exactly_the_rows_that_score() {
        let t = |s: &str| Value::Text(s.into());
        let rows: Vec<Feature> = [
            (t("Đình Tân Phước"), t("Ninh Kiều")),
            (t("Chùa Ông"), Value::Null),
            (Value::Null, t("đình làng Tân An")),
            (t("Đường Trần Hưng Đạo"), t("Tân Phú")),
            (t("Đình Tân Phước"), t("Cái Răng")),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| Feature::new(i as i64, Geometry::Point(point! { x: 105.0, y: 10.0 }), vec![a, b]))
        .collect();
        let columns = crate::columns::Columns::new(2);
        for q in ["dinh tan", "tan", "CHUA", "phuoc kieu", "hung dao tan phu", "khong co"] {
            let search = TextSearch::new(q).ok().flatten().expect("words");
            let picked = search.narrow(&[0, 1], &|i| columns.get(&rows, i)).expect("text columns");
            let scored: Vec<usize> = (0..rows.len()).filter(|&r| search.score(&rows[r], &[0, 1]).is_some()).collect();
            assert_eq!(picked.ones().collect::<Vec<_>>(), scored, "{q}");
        }
        // A property of numbers has no text column: the rows are read one by one.
        let numbers = vec![Feature::new(1, Geometry::Point(point! { x: 105.0, y: 10.0 }), vec![Value::Int(7)])];
        let columns = crate::columns::Columns::new(1);
        let seven = TextSearch::new("7").ok().flatten().expect("a word");
        assert!(seven.narrow(&[0], &|i| columns.get(&numbers, i)).is_none());
    }

    #[test]
    fn whole_words_and_phrases_rank_higher() {
        assert!(score("den tho", "Đền thờ Bác Hồ") > score("den tho", "Thờ tự đền"));
        assert!(score("an", "An Bình") > score("an", "Cần Thơ"));
        assert!(TextSearch::new(" , ").is_ok_and(|s| s.is_none()));
        assert!(TextSearch::new(&"x".repeat(201)).is_err());
    }
}
