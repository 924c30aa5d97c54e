//! Recognising a field's encoding from its values: each legacy reading of a value is kept only
//! where its words are Vietnamese syllables and the value as written is not.

use std::borrow::Cow;

use unicode_normalization::{UnicodeNormalization, char::decompose_canonical};

use super::{
    TextEncoding, TextEncodingChoice,
    codecs::{TONES, decode},
    legacy_bytes,
};
use crate::text::fold;

/// How an import reads one text field's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldText {
    /// As the file has them.
    #[default]
    AsWritten,
    /// Recognised as this encoding: each value is converted where that reads as Vietnamese
    /// and the value as written does not.
    Detected(TextEncoding),
    /// Declared this encoding by the caller: every value that may be legacy text is converted.
    Declared(TextEncoding),
}

impl FieldText {
    /// The value of raw field bytes, and whether it was converted. Bytes that are not UTF-8
    /// and are read as written are replaced (the detector refuses such fields before an import
    /// reads them).
    pub fn read<'a>(&self, raw: &'a [u8]) -> (Cow<'a, str>, bool) {
        let (encoding, always) = match *self {
            Self::AsWritten | Self::Declared(TextEncoding::Utf8) => return (String::from_utf8_lossy(raw), false),
            Self::Detected(e) => (e, false),
            Self::Declared(e) => (e, true),
        };
        if let Some(bytes) = legacy_bytes(raw) {
            let decoded = decode(encoding, &bytes);
            if always || Reading::of_raw(raw).worse_than(Reading::of(&decoded)) {
                return (Cow::Owned(decoded), true);
            }
        }
        (String::from_utf8_lossy(raw), false)
    }
}

/// What detection found in one field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum FieldVerdict {
    /// ASCII or Unicode: read as written.
    Unicode,
    /// Converted from a legacy encoding.
    Converted {
        /// The encoding recognised or declared.
        from: TextEncoding,
        /// Values converted (of the sample, until the import counts them all).
        values: u64,
    },
    /// No single reading fits: several legacy readings fit equally (`candidates`), or none fits
    /// bytes that are not UTF-8 (`candidates` empty).
    Undecided {
        /// The readings that fit equally well.
        candidates: Vec<TextEncoding>,
        /// Values whose bytes are not UTF-8 (such a field cannot be kept as written).
        not_utf8: u64,
        /// One of the values in question, as written.
        example: String,
    },
}

impl FieldVerdict {
    /// How the import reads the field.
    pub fn field_text(&self, choice: TextEncodingChoice) -> FieldText {
        match (self, choice) {
            (Self::Converted { from, .. }, TextEncodingChoice::Auto) => FieldText::Detected(*from),
            (Self::Converted { from, .. }, TextEncodingChoice::Fixed(_)) => FieldText::Declared(*from),
            _ => FieldText::AsWritten,
        }
    }
}

/// How Vietnamese a text reads: its non-ASCII words that are Vietnamese syllables, and those
/// that are not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Reading {
    syllables: u64,
    foreign: u64,
}

impl Reading {
    fn of(text: &str) -> Self {
        let mut r = Self::default();
        for word in text.split(|c: char| c.is_ascii() && !c.is_ascii_alphanumeric()).filter(|w| !w.is_ascii()) {
            if is_syllable(word) {
                r.syllables += 1;
            } else {
                r.foreign += 1;
            }
        }
        r
    }

    /// Bytes that are not UTF-8 read as nothing at all.
    fn of_raw(raw: &[u8]) -> Self {
        std::str::from_utf8(raw).map_or(Self { syllables: 0, foreign: 1 }, Self::of)
    }

    fn score(self) -> i64 {
        i64::try_from(self.syllables).unwrap_or(i64::MAX) - 2 * i64::try_from(self.foreign).unwrap_or(i64::MAX / 2)
    }

    fn worse_than(self, other: Self) -> bool {
        self.score() < other.score()
    }

    fn add(&mut self, other: Self) {
        self.syllables += other.syllables;
        self.foreign += other.foreign;
    }
}

/// Onsets of Vietnamese syllables, longest first, without diacritics (`đ` folds to `d`).
const ONSETS: [&str; 27] = [
    "ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr", "b", "c", "d", "g", "h", "k", "l", "m", "n",
    "p", "q", "r", "s", "t", "v", "x",
];
/// Final consonants.
const CODAS: [&str; 9] = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// True when `word` is one Vietnamese syllable: onset, vowels and final consonant in their
/// places, Vietnamese letters only (marks on the vowels that take them), one tone at most, and
/// lowercase, capitalised or all capitals.
fn is_syllable(word: &str) -> bool {
    let word: String = word.nfc().collect();
    let letters_fit = word.chars().all(|c| c.is_ascii_alphabetic() || is_vietnamese_letter(c));
    let tones = word.chars().filter(|&c| tone_of(c).is_some()).count();
    if !letters_fit || tones > 1 || !plain_case(&word) {
        return false;
    }
    let folded = fold(&word);
    let onset = ONSETS.iter().find(|o| folded.starts_with(*o)).map_or(0, |o| o.len());
    let rest = &folded[onset..];
    let vowels = rest.find(|c: char| !"aeiouy".contains(c)).unwrap_or(rest.len());
    (1..=3).contains(&vowels) && CODAS.contains(&&rest[vowels..]) && !folded.contains(['f', 'j', 'w', 'z'])
}

fn plain_case(word: &str) -> bool {
    word.chars().skip(1).all(char::is_lowercase) || word.chars().all(char::is_uppercase)
}

fn tone_of(c: char) -> Option<char> {
    let mut tone = None;
    decompose_canonical(c, |p| {
        if TONES.contains(&p) {
            tone = Some(p);
        }
    });
    tone
}

/// A letter of the Vietnamese alphabet beyond ASCII: đ, or a vowel with the marks it takes.
fn is_vietnamese_letter(c: char) -> bool {
    if matches!(c, 'đ' | 'Đ') {
        return true;
    }
    let mut parts = Vec::with_capacity(3);
    decompose_canonical(c, |p| parts.push(p));
    let Some((&base, marks)) = parts.split_first() else { return false };
    let base = base.to_ascii_lowercase();
    let vowel_mark = marks.iter().filter(|m| !TONES.contains(m)).collect::<Vec<_>>();
    let mark_fits = match vowel_mark.as_slice() {
        [] => true,
        ['\u{302}'] => matches!(base, 'a' | 'e' | 'o'),
        ['\u{306}'] => base == 'a',
        ['\u{31b}'] => matches!(base, 'o' | 'u'),
        _ => false,
    };
    "aeiouy".contains(base) && mark_fits && marks.len() - vowel_mark.len() <= 1 && !marks.is_empty()
}

/// Values that may be legacy text, per field, read in every encoding: enough to tell them
/// apart, and few enough that a large file's first pass costs little more than reading it.
/// Later values are only checked for bytes that are not UTF-8 and for Unicode no legacy
/// encoding makes, which settle a field whatever its sample said.
const SAMPLE: u64 = 4096;

/// Gathers one field's values and gives its verdict.
#[derive(Debug, Default)]
pub struct TextDetector {
    as_written: Reading,
    /// What each legacy reading (in [`TextEncoding::LEGACY`] order) gives, value by value the
    /// better of it and the value as written.
    readings: [Reading; 3],
    converted: [u64; 3],
    /// Values in Unicode that no legacy encoding produces (beyond Windows-1252).
    beyond_legacy: u64,
    /// Values that may be legacy text.
    legacy: u64,
    not_utf8: u64,
    example: Option<String>,
}

impl TextDetector {
    /// Takes one value's raw bytes into account.
    pub fn add(&mut self, raw: &[u8]) {
        let Some(bytes) = legacy_bytes(raw) else {
            self.beyond_legacy += u64::from(!raw.is_ascii());
            return;
        };
        self.legacy += 1;
        self.not_utf8 += u64::from(std::str::from_utf8(raw).is_err());
        if self.legacy > SAMPLE {
            return;
        }
        let as_written = Reading::of_raw(raw);
        if self.example.is_none() {
            self.example = Some(String::from_utf8_lossy(raw).into_owned());
        }
        self.as_written.add(as_written);
        for (i, encoding) in TextEncoding::LEGACY.into_iter().enumerate() {
            let reading = Reading::of(&decode(encoding, &bytes));
            if as_written.worse_than(reading) {
                self.readings[i].add(reading);
                self.converted[i] += 1;
            } else {
                self.readings[i].add(as_written);
            }
        }
    }

    /// The verdict for the field under the caller's choice.
    pub fn verdict(&self, choice: TextEncodingChoice) -> FieldVerdict {
        match choice {
            TextEncodingChoice::Fixed(TextEncoding::Utf8) => self.unicode_or_undecided(Vec::new()),
            TextEncodingChoice::Fixed(from) => {
                if self.legacy == 0 {
                    FieldVerdict::Unicode
                } else {
                    FieldVerdict::Converted { from, values: self.legacy }
                }
            }
            TextEncodingChoice::Auto => self.recognised(),
        }
    }

    fn recognised(&self) -> FieldVerdict {
        // A field with Unicode no legacy encoding makes is Unicode, whatever else a few of its
        // values could be read as.
        if self.beyond_legacy > 0 && self.not_utf8 == 0 {
            return FieldVerdict::Unicode;
        }
        let best = self.readings.iter().map(|r| r.score()).max().unwrap_or(i64::MIN);
        if best <= self.as_written.score() {
            return self.unicode_or_undecided(Vec::new());
        }
        let tied: Vec<TextEncoding> = TextEncoding::LEGACY
            .into_iter()
            .zip(self.readings)
            .filter(|(_, r)| r.score() == best)
            .map(|(e, _)| e)
            .collect();
        match tied.as_slice() {
            [from] => {
                let i = TextEncoding::LEGACY.iter().position(|e| e == from).unwrap_or(0);
                FieldVerdict::Converted { from: *from, values: self.converted[i] }
            }
            _ => self.undecided(tied),
        }
    }

    fn unicode_or_undecided(&self, candidates: Vec<TextEncoding>) -> FieldVerdict {
        if self.not_utf8 == 0 { FieldVerdict::Unicode } else { self.undecided(candidates) }
    }

    fn undecided(&self, candidates: Vec<TextEncoding>) -> FieldVerdict {
        FieldVerdict::Undecided {
            candidates,
            not_utf8: self.not_utf8,
            example: self.example.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy_text::encode;

    fn verdict(values: &[&[u8]]) -> FieldVerdict {
        let mut d = TextDetector::default();
        for v in values {
            d.add(v);
        }
        d.verdict(TextEncodingChoice::Auto)
    }

    const NAMES: [&str; 5] = ["Đình Bình Thủy", "Chùa Ông", "Nhà cổ Bình Thủy", "Chợ nổi Cái Răng", "Bến Ninh Kiều"];

    #[test]
    fn vietnamese_syllables_are_told_from_other_words() {
        for w in ["Việt", "Nguyễn", "Phước", "quốc", "giang", "ĐÌNH", "Óc", "khuya", "trường"] {
            assert!(is_syllable(w), "{w}");
        }
        for w in ["ViÖt", "Hµ", "ViƯt", "Müller", "Mỹller", "Nestlé", "Việtt", "Đđ", "hóà"] {
            assert!(!is_syllable(w), "{w}");
        }
    }

    #[test]
    fn each_legacy_encoding_is_recognised_from_its_bytes() {
        for from in TextEncoding::LEGACY {
            let encoded: Vec<Vec<u8>> =
                NAMES.iter().map(|n| encode(from, n).expect("the encoding writes the name")).collect();
            let values: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
            assert_eq!(verdict(&values), FieldVerdict::Converted { from, values: 5 }, "{from}");
            for (raw, name) in values.iter().zip(NAMES) {
                assert_eq!(FieldText::Detected(from).read(raw), (name.into(), true));
            }
        }
    }

    #[test]
    fn legacy_text_saved_as_unicode_is_recognised() {
        let seen: Vec<String> = NAMES
            .iter()
            .map(|n| {
                encode(TextEncoding::Tcvn3, n)
                    .expect("TCVN3 writes the name")
                    .into_iter()
                    .map(crate::legacy_text::cp1252_char)
                    .collect()
            })
            .collect();
        assert_eq!(seen[0], "§×nh B×nh Thñy");
        let values: Vec<&[u8]> = seen.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(verdict(&values), FieldVerdict::Converted { from: TextEncoding::Tcvn3, values: 5 });
    }

    #[test]
    fn unicode_and_foreign_names_are_left_as_written() {
        let values: Vec<&[u8]> = NAMES.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(verdict(&values), FieldVerdict::Unicode);
        assert_eq!(verdict(&["Hà Nam".as_bytes(), "Cà Mau".as_bytes()]), FieldVerdict::Unicode);
        assert_eq!(verdict(&["Müller".as_bytes(), "Nestlé".as_bytes(), "Café".as_bytes()]), FieldVerdict::Unicode);
        assert_eq!(verdict(&[b"MA_01", b"Q1"]), FieldVerdict::Unicode);
    }

    #[test]
    fn bytes_no_reading_explains_are_undecided() {
        let FieldVerdict::Undecided { candidates, not_utf8, .. } = verdict(&[b"\xff\xfe\xfd"]) else {
            panic!("bytes that read as nothing are undecided")
        };
        assert!(candidates.is_empty());
        assert_eq!(not_utf8, 1);
    }
}
