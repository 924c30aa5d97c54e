//! The three legacy encodings of Vietnamese text agencies' files still carry, both ways.
//!
//! Hand-written because no maintained crate covers them: `encoding_rs` knows Windows-1258 but
//! neither TCVN3 nor VNI, which are font encodings rather than registered character sets. The
//! TCVN3 and Windows-1258 tables are checked against the C library's converters in the tests.

use unicode_normalization::{UnicodeNormalization, char::decompose_canonical};

use super::TextEncoding;

/// TCVN 5712:1993 (VN1) for bytes 0x80–0xFF. TCVN3 ("ABC", the `.VnTime` fonts) is its VN3
/// subset; decoding with the full table also reads the capitals VN1 adds.
const TCVN3_HIGH: [u16; 128] = [
    0x00c0, 0x1ea2, 0x00c3, 0x00c1, 0x1ea0, 0x1eb6, 0x1eac, 0x00c8, 0x1eba, 0x1ebc, 0x00c9, 0x1eb8, 0x1ec6, 0x00cc,
    0x1ec8, 0x0128, 0x00cd, 0x1eca, 0x00d2, 0x1ece, 0x00d5, 0x00d3, 0x1ecc, 0x1ed8, 0x1edc, 0x1ede, 0x1ee0, 0x1eda,
    0x1ee2, 0x00d9, 0x1ee6, 0x0168, 0x00a0, 0x0102, 0x00c2, 0x00ca, 0x00d4, 0x01a0, 0x01af, 0x0110, 0x0103, 0x00e2,
    0x00ea, 0x00f4, 0x01a1, 0x01b0, 0x0111, 0x1eb0, 0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00e0, 0x1ea3, 0x00e3,
    0x00e1, 0x1ea1, 0x1eb2, 0x1eb1, 0x1eb3, 0x1eb5, 0x1eaf, 0x1eb4, 0x1eae, 0x1ea6, 0x1ea8, 0x1eaa, 0x1ea4, 0x1ec0,
    0x1eb7, 0x1ea7, 0x1ea9, 0x1eab, 0x1ea5, 0x1ead, 0x00e8, 0x1ec2, 0x1ebb, 0x1ebd, 0x00e9, 0x1eb9, 0x1ec1, 0x1ec3,
    0x1ec5, 0x1ebf, 0x1ec7, 0x00ec, 0x1ec9, 0x1ec4, 0x1ebe, 0x1ed2, 0x0129, 0x00ed, 0x1ecb, 0x00f2, 0x1ed4, 0x1ecf,
    0x00f5, 0x00f3, 0x1ecd, 0x1ed3, 0x1ed5, 0x1ed7, 0x1ed1, 0x1ed9, 0x1edd, 0x1edf, 0x1ee1, 0x1edb, 0x1ee3, 0x00f9,
    0x1ed6, 0x1ee7, 0x0169, 0x00fa, 0x1ee5, 0x1eeb, 0x1eed, 0x1eef, 0x1ee9, 0x1ef1, 0x1ef3, 0x1ef7, 0x1ef9, 0x00fd,
    0x1ef5, 0x1ed0,
];

/// Windows-1258 for bytes 0x80–0xFF; 0xFFFD where the code page defines nothing.
const CP1258_HIGH: [u16; 128] = [
    0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0xfffd, 0x2039, 0x0152, 0xfffd,
    0xfffd, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0xfffd, 0x203a,
    0x0153, 0xfffd, 0xfffd, 0x0178, 0x00a0, 0x00a1, 0x00a2, 0x00a3, 0x00a4, 0x00a5, 0x00a6, 0x00a7, 0x00a8, 0x00a9,
    0x00aa, 0x00ab, 0x00ac, 0x00ad, 0x00ae, 0x00af, 0x00b0, 0x00b1, 0x00b2, 0x00b3, 0x00b4, 0x00b5, 0x00b6, 0x00b7,
    0x00b8, 0x00b9, 0x00ba, 0x00bb, 0x00bc, 0x00bd, 0x00be, 0x00bf, 0x00c0, 0x00c1, 0x00c2, 0x0102, 0x00c4, 0x00c5,
    0x00c6, 0x00c7, 0x00c8, 0x00c9, 0x00ca, 0x00cb, 0x0300, 0x00cd, 0x00ce, 0x00cf, 0x0110, 0x00d1, 0x0309, 0x00d3,
    0x00d4, 0x01a0, 0x00d6, 0x00d7, 0x00d8, 0x00d9, 0x00da, 0x00db, 0x00dc, 0x01af, 0x0303, 0x00df, 0x00e0, 0x00e1,
    0x00e2, 0x0103, 0x00e4, 0x00e5, 0x00e6, 0x00e7, 0x00e8, 0x00e9, 0x00ea, 0x00eb, 0x0301, 0x00ed, 0x00ee, 0x00ef,
    0x0111, 0x00f1, 0x0323, 0x00f3, 0x00f4, 0x01a1, 0x00f6, 0x00f7, 0x00f8, 0x00f9, 0x00fa, 0x00fb, 0x00fc, 0x01b0,
    0x20ab, 0x00ff,
];

/// Windows-1252 for bytes 0x80–0x9F (above them it is Latin-1). VNI is a font encoding drawn
/// over this code page, and text typed in TCVN3 or VNI fonts and saved as Unicode arrives as
/// these characters.
const CP1252_C1: [u16; 32] = [
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d,
    0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a,
    0x0153, 0x009d, 0x017e, 0x0178,
];

const GRAVE: char = '\u{300}';
const ACUTE: char = '\u{301}';
const TILDE: char = '\u{303}';
const HOOK: char = '\u{309}';
const DOT: char = '\u{323}';
const CIRCUMFLEX: char = '\u{302}';
const BREVE: char = '\u{306}';
const HORN: char = '\u{31b}';

/// The five Vietnamese tone marks, as combining characters.
pub(super) const TONES: [char; 5] = [GRAVE, ACUTE, TILDE, HOOK, DOT];

fn high(table: &[u16; 128], b: u8) -> char {
    char::from_u32(u32::from(table[usize::from(b - 0x80)])).unwrap_or('\u{fffd}')
}

/// The character a byte shows as in Windows-1252.
pub fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9f => char::from_u32(u32::from(CP1252_C1[usize::from(b - 0x80)])).unwrap_or('\u{fffd}'),
        _ => char::from(b),
    }
}

/// The Windows-1252 byte of a character (Latin-1 for U+0080–U+00FF, so text that went through
/// either code page maps back), if it has one.
pub(super) fn cp1252_byte(c: char) -> Option<u8> {
    if let Ok(b) = u8::try_from(u32::from(c))
        && !(0x80..0xa0).contains(&b)
    {
        return Some(b);
    }
    let code = u16::try_from(u32::from(c)).ok()?;
    CP1252_C1.iter().position(|&x| x == code).and_then(|i| u8::try_from(0x80 + i).ok())
}

/// Decodes `bytes` written in `encoding` to NFC Unicode. Bytes the encoding leaves undefined
/// become U+FFFD, which the detector counts against it.
pub fn decode(encoding: TextEncoding, bytes: &[u8]) -> String {
    let text: String = match encoding {
        TextEncoding::Utf8 => return String::from_utf8_lossy(bytes).into_owned(),
        TextEncoding::Tcvn3 => {
            bytes.iter().map(|&b| if b < 0x80 { char::from(b) } else { high(&TCVN3_HIGH, b) }).collect()
        }
        TextEncoding::Cp1258 => {
            bytes.iter().map(|&b| if b < 0x80 { char::from(b) } else { high(&CP1258_HIGH, b) }).collect()
        }
        TextEncoding::Vni => decode_vni(bytes),
    };
    text.nfc().collect()
}

/// VNI writes a letter as its base followed by a byte for its marks (`aà` is ầ, `oø` is ò);
/// đ, ơ, ư and the toned i and ỵ have bytes of their own. Lowercase and capital forms differ
/// only in case (`aø`, `AØ`).
fn decode_vni(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut last: Option<char> = None;
    for &b in bytes {
        let c = cp1252_char(b);
        let marks = last.filter(|l| is_vni_base(*l)).and_then(|l| vni_marks(l, c));
        if let Some(marks) = marks {
            out.extend(marks.iter().flatten());
            // One byte of marks per letter.
            last = None;
            continue;
        }
        let letter = vni_letter(c);
        out.push(letter);
        last = Some(letter);
    }
    out
}

/// The letters a VNI marks byte may follow.
fn is_vni_base(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ơ' | 'ư') || matches!(c, 'Ơ' | 'Ư')
}

/// The combining marks a VNI byte adds to `base`, if it is a marks byte that fits it.
fn vni_marks(base: char, byte: char) -> Option<[Option<char>; 2]> {
    let lower = byte.to_lowercase().next()?;
    let tone = match lower {
        'ø' => Some(GRAVE),
        'ù' => Some(ACUTE),
        'û' => Some(HOOK),
        'õ' => Some(TILDE),
        'ï' => Some(DOT),
        _ => None,
    };
    if let Some(t) = tone {
        return Some([Some(t), None]);
    }
    let b = base.to_ascii_lowercase();
    let circumflex = matches!(b, 'a' | 'e' | 'o');
    let (mark, tone) = match lower {
        'â' if circumflex => (CIRCUMFLEX, None),
        'à' if circumflex => (CIRCUMFLEX, Some(GRAVE)),
        'á' if circumflex => (CIRCUMFLEX, Some(ACUTE)),
        'å' if circumflex => (CIRCUMFLEX, Some(HOOK)),
        'ã' if circumflex => (CIRCUMFLEX, Some(TILDE)),
        'ä' if circumflex => (CIRCUMFLEX, Some(DOT)),
        'ê' if b == 'a' => (BREVE, None),
        'è' if b == 'a' => (BREVE, Some(GRAVE)),
        'é' if b == 'a' => (BREVE, Some(ACUTE)),
        'ú' if b == 'a' => (BREVE, Some(HOOK)),
        'ü' if b == 'a' => (BREVE, Some(TILDE)),
        'ë' if b == 'a' => (BREVE, Some(DOT)),
        _ => return None,
    };
    Some([Some(mark), tone])
}

/// What a VNI byte that is not a marks byte stands for.
fn vni_letter(c: char) -> char {
    match c {
        'ñ' => 'đ',
        'Ñ' => 'Đ',
        'ô' => 'ơ',
        'Ô' => 'Ơ',
        'ö' => 'ư',
        'Ö' => 'Ư',
        'æ' => 'ỉ',
        'Æ' => 'Ỉ',
        'ó' => 'ĩ',
        'Ó' => 'Ĩ',
        'ò' => 'ị',
        'Ò' => 'Ị',
        'î' => 'ỵ',
        'Î' => 'Ỵ',
        _ => c,
    }
}

/// Encodes NFC text in `encoding`; `None` when a character has no code there. Used to make
/// the legacy samples and in tests; Bando itself only decodes.
pub fn encode(encoding: TextEncoding, text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.nfc() {
        if c.is_ascii() {
            out.push(u8::try_from(c).ok()?);
            continue;
        }
        match encoding {
            TextEncoding::Utf8 => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            TextEncoding::Tcvn3 => out.push(table_byte(&TCVN3_HIGH, c)?),
            TextEncoding::Cp1258 => encode_cp1258(c, &mut out)?,
            TextEncoding::Vni => encode_vni(c, &mut out)?,
        }
    }
    Some(out)
}

fn table_byte(table: &[u16; 128], c: char) -> Option<u8> {
    let code = u16::try_from(u32::from(c)).ok()?;
    table.iter().position(|&x| x == code && x != 0xfffd).and_then(|i| u8::try_from(0x80 + i).ok())
}

/// A letter and its tone mark, apart: `ệ` is (`ê`, dot below).
fn split_tone(c: char) -> (char, Option<char>) {
    let mut parts = Vec::new();
    decompose_canonical(c, |p| parts.push(p));
    let tone = parts.iter().copied().find(|p| TONES.contains(p));
    let base: String = parts.into_iter().filter(|p| !TONES.contains(p)).collect::<String>().nfc().collect();
    (base.chars().next().unwrap_or(c), tone)
}

/// Windows-1258 has the toneless letters (â, ơ, đ…) and writes tones as combining marks.
fn encode_cp1258(c: char, out: &mut Vec<u8>) -> Option<()> {
    if let Some(b) = table_byte(&CP1258_HIGH, c) {
        out.push(b);
        return Some(());
    }
    let (base, tone) = split_tone(c);
    out.push(if base.is_ascii() { u8::try_from(base).ok()? } else { table_byte(&CP1258_HIGH, base)? });
    out.push(table_byte(&CP1258_HIGH, tone?)?);
    Some(())
}

/// The inverse of [`decode_vni`].
fn encode_vni(c: char, out: &mut Vec<u8>) -> Option<()> {
    let upper = c.is_uppercase();
    let case = |lower: char| if upper { lower.to_uppercase().next().unwrap_or(lower) } else { lower };
    let mut parts = Vec::new();
    decompose_canonical(c, |p| parts.push(p));
    let letter = parts[0].to_lowercase().next().unwrap_or(parts[0]);
    let tone = parts.iter().copied().find(|p| TONES.contains(p));
    let has = |m: char| parts.contains(&m);
    let mut chars: Vec<char> = Vec::with_capacity(2);
    match (letter, tone) {
        ('đ', _) => chars.push(case('ñ')),
        ('i', Some(t)) => chars.push(case(match t {
            GRAVE => 'ì',
            ACUTE => 'í',
            HOOK => 'æ',
            TILDE => 'ó',
            _ => 'ò',
        })),
        ('y', Some(DOT)) => chars.push(case('î')),
        ('o' | 'u', _) if has(HORN) => {
            chars.push(case(if letter == 'o' { 'ô' } else { 'ö' }));
            chars.extend(tone.map(|t| case(vni_tone(t))));
        }
        ('a' | 'e' | 'o', _) if has(CIRCUMFLEX) => {
            chars.push(case(letter));
            chars.push(case(match tone {
                None => 'â',
                Some(GRAVE) => 'à',
                Some(ACUTE) => 'á',
                Some(HOOK) => 'å',
                Some(TILDE) => 'ã',
                Some(_) => 'ä',
            }));
        }
        ('a', _) if has(BREVE) => {
            chars.push(case('a'));
            chars.push(case(match tone {
                None => 'ê',
                Some(GRAVE) => 'è',
                Some(ACUTE) => 'é',
                Some(HOOK) => 'ú',
                Some(TILDE) => 'ü',
                Some(_) => 'ë',
            }));
        }
        ('a' | 'e' | 'o' | 'u' | 'y', Some(t)) if parts.len() == 2 => {
            chars.push(case(letter));
            chars.push(case(vni_tone(t)));
        }
        _ => return None,
    }
    for ch in chars {
        out.push(cp1252_byte(ch)?);
    }
    Some(())
}

fn vni_tone(t: char) -> char {
    match t {
        GRAVE => 'ø',
        ACUTE => 'ù',
        HOOK => 'û',
        TILDE => 'õ',
        _ => 'ï',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOWER: &str = "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ";

    /// Every Vietnamese letter, lowercase and capital.
    fn alphabet() -> String {
        LOWER.chars().flat_map(|c| [c, c.to_uppercase().next().unwrap_or(c)]).collect()
    }

    /// The C library's converter for a code page, as an independent reading of the tables.
    fn iconv(from: &str, bytes: &[u8]) -> Option<String> {
        use std::io::Write as _;
        let mut child = std::process::Command::new("iconv")
            .args(["-f", from, "-t", "UTF-8"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(bytes).ok()?;
        let out = child.wait_with_output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).nfc().collect())
    }

    #[test]
    fn tcvn3_reads_the_words_agencies_wrote() {
        assert_eq!(
            decode(TextEncoding::Tcvn3, b"Vi\xd6t Nam, H\xb5 N\xe9i, \xa7\xb5 N\xbdng, C\xc7n Th\xac"),
            "Việt Nam, Hà Nội, Đà Nẵng, Cần Thơ"
        );
    }

    #[test]
    fn vni_reads_the_words_agencies_wrote() {
        let bytes: Vec<u8> = "Vieät Nam, Haø Noäi, Ñaø Naüng, Caàn Thô, tröôøng, Hoà Chí Minh, Myõ Tho, Kyø"
            .chars()
            .map(|c| cp1252_byte(c).expect("a Windows-1252 character"))
            .collect();
        assert_eq!(
            decode(TextEncoding::Vni, &bytes),
            "Việt Nam, Hà Nội, Đà Nẵng, Cần Thơ, trường, Hồ Chí Minh, Mỹ Tho, Kỳ"
        );
    }

    #[test]
    fn tables_agree_with_the_c_library() {
        for (encoding, name) in [(TextEncoding::Tcvn3, "TCVN5712-1"), (TextEncoding::Cp1258, "CP1258")] {
            for b in 0x80..=0xffu8 {
                let ours = decode(encoding, &[b]);
                if ours == "\u{fffd}" {
                    continue;
                }
                // iconv missing from the machine is the only reason to have no answer.
                let theirs = iconv(name, &[b]).expect("iconv converts the byte");
                assert_eq!(ours, theirs, "{name} byte {b:#04x}");
            }
        }
    }

    #[test]
    fn every_letter_survives_each_encoding() {
        // TCVN3 has no toned capitals (they were set in a capitals font); its table has some.
        let tcvn3: String =
            alphabet().chars().filter(|&c| table_byte(&TCVN3_HIGH, c).is_some() || c.is_ascii()).collect();
        assert!(LOWER.chars().all(|c| tcvn3.contains(c)), "TCVN3 writes every lowercase letter");
        for (encoding, text) in
            [(TextEncoding::Tcvn3, tcvn3), (TextEncoding::Vni, alphabet()), (TextEncoding::Cp1258, alphabet())]
        {
            let bytes = encode(encoding, &text).unwrap_or_else(|| panic!("{encoding:?} encodes every letter"));
            assert_eq!(decode(encoding, &bytes), text, "{encoding:?}");
        }
    }

    #[test]
    fn windows_1258_writes_tones_as_marks_as_the_c_library_reads_them() {
        let text = "Trường Đại học Cần Thơ, Bến Ninh Kiều";
        let bytes = encode(TextEncoding::Cp1258, text).expect("Windows-1258 writes it");
        assert_eq!(iconv("CP1258", &bytes).expect("iconv reads it"), text);
        let tcvn3 = encode(TextEncoding::Tcvn3, text).expect("TCVN3 writes it");
        assert_eq!(iconv("TCVN5712-1", &tcvn3).expect("iconv reads it"), text);
    }
}
