//! Words for people: a property's title and the labels of its coded values, in Vietnamese and
//! English. Data keeps its codes (`ODT`); only what people read is labelled.

use std::{collections::BTreeMap, sync::Arc};

use serde::{Deserialize, Serialize};

/// The languages Bando speaks: Vietnamese first, the province's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Tiếng Việt.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The language tag (BCP 47).
    pub fn tag(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }
}

/// Text in Vietnamese and English. Configured as a plain string (the same in both) or as
/// `{ vi = "…", en = "…" }`, English falling back to Vietnamese.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bilingual {
    /// Vietnamese.
    pub vi: String,
    /// English.
    pub en: String,
}

impl Bilingual {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }
}

impl<'de> Deserialize<'de> for Bilingual {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Plain(String),
            Both { vi: String, en: Option<String> },
        }
        // Untagged errors say only "did not match any variant": say what is expected instead.
        let written = Written::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a string or { vi = \"…\", en = \"…\" }"))?;
        Ok(match written {
            Written::Plain(s) => Self { en: s.clone(), vi: s },
            Written::Both { en, vi } => Self { en: en.unwrap_or_else(|| vi.clone()), vi },
        })
    }
}

/// The labels of a property's codes (`ODT` → "Đất ở tại đô thị"), shared by every property
/// that names the list.
pub type CodeList = Arc<BTreeMap<String, Bilingual>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        t: Bilingual,
    }

    fn parse(json: &str) -> Result<Bilingual, String> {
        serde_json::from_str::<Holder>(json).map(|h| h.t).map_err(|e| e.to_string())
    }

    fn ok(json: &str) -> Bilingual {
        parse(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn error(json: &str) -> String {
        parse(json).err().unwrap_or_else(|| panic!("{json} was accepted"))
    }

    #[test]
    fn a_plain_string_serves_both_languages() {
        let t = ok(r#"{"t": "Diện tích"}"#);
        assert_eq!((t.get(Lang::Vi), t.get(Lang::En)), ("Diện tích", "Diện tích"));
    }

    #[test]
    fn english_falls_back_to_vietnamese() {
        let t = ok(r#"{"t": {"vi": "Hạng", "en": "Rank"}}"#);
        assert_eq!((t.get(Lang::Vi), t.get(Lang::En)), ("Hạng", "Rank"));
        assert_eq!(ok(r#"{"t": {"vi": "Hạng"}}"#).get(Lang::En), "Hạng");
    }

    #[test]
    fn anything_else_says_what_is_expected() {
        assert!(error(r#"{"t": {"en": "Rank"}}"#).contains("a string or { vi"));
        assert!(error(r#"{"t": 3}"#).contains("a string or { vi"));
    }
}
