//! Text folding for searches that ignore case and Vietnamese diacritics.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Lower-cases `s` and removes its diacritics, so that "Đình Tân Phước" and "dinh tan phuoc"
/// fold to the same text.
///
/// Unicode decomposition strips the tone and vowel marks (ầ → a, ư → u) but leaves `đ`, which
/// is a letter of its own with no decomposition; Vietnamese readers type it as `d`, so it is
/// mapped by hand.
///
/// ```
/// assert_eq!(layers::text::fold("Đình Tân Phước"), "dinh tan phuoc");
/// assert_eq!(layers::text::fold("Chùa Kh'leang"), "chua kh'leang");
/// ```
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

/// Removes diacritics from `s`, keeping its case.
pub fn unaccent(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c => c,
        })
        .nfc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vietnamese_vowel_folds_to_its_base_letter() {
        assert_eq!(fold("ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ"), "a".repeat(17));
        assert_eq!(fold("ƯỪỨỬỮỰƠỜỚỞỠỢ"), "uuuuuuoooooo");
        assert_eq!(fold("đĐ"), "dd");
    }

    #[test]
    fn unaccent_keeps_case_and_lower_keeps_accents() {
        assert_eq!(unaccent("Đền Thờ"), "Den Tho");
        assert_eq!("Đền Thờ".to_lowercase(), "đền thờ");
    }
}
