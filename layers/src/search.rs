//! Free-text search (`q`): every word must appear in some text property, ignoring case and
//! diacritics; results rank by how well the words match.

use std::sync::OnceLock;

use crate::{Feature, Value, text};

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

/// A parsed `q`: its words, folded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextSearch {
    words: Vec<String>,
    phrase: String,
}

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
        Ok((!words.is_empty()).then(|| Self { phrase: words.join(" "), words }))
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
        if self.words.len() > 1 && texts().any(|t| t.contains(&self.phrase)) {
            total += 4;
        }
        Some(total)
    }

    /// The highest score a feature can have.
    pub fn max_score(&self) -> u32 {
        u32::try_from(self.words.len()).unwrap_or(u32::MAX / 4).saturating_mul(3).saturating_add(4)
    }
}

fn word_score(text: &str, word: &str) -> u32 {
    let mut best = 0;
    for (at, _) in text.match_indices(word) {
        let starts = text[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let ends = text[at + word.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
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
    fn whole_words_and_phrases_rank_higher() {
        assert!(score("den tho", "Đền thờ Bác Hồ") > score("den tho", "Thờ tự đền"));
        assert!(score("an", "An Bình") > score("an", "Cần Thơ"));
        assert!(TextSearch::new(" , ").is_ok_and(|s| s.is_none()));
        assert!(TextSearch::new(&"x".repeat(201)).is_err());
    }
}
