//! Vietnamese text in the encodings agencies' files still carry: TCVN3 ("ABC"), VNI and
//! Windows-1258, recognised field by field and converted to Unicode NFC on import.
//!
//! A legacy field reaches Bando in one of two shapes: as its raw bytes (a Shapefile without a
//! `.cpg`, a CSV saved by an old tool), or already "converted" by something that took it for
//! Windows-1252 or Latin-1 (a `.cpg` saying 1252, a spreadsheet typed in a VNI font and saved
//! as UTF-8), where `Việt` reads `ViÖt`. Both are brought back to the bytes they were
//! ([`legacy_bytes`]) and decoded with each candidate encoding; the field takes the one whose
//! words read as Vietnamese ([`detect`]).

mod codecs;
mod detect;

use std::{borrow::Cow, fmt, str::FromStr};

pub use self::codecs::{cp1252_char, decode, encode};
pub use self::detect::{FieldText, FieldVerdict, TextDetector};

/// A text encoding a source field may be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    /// Unicode, as every modern format declares.
    Utf8,
    /// TCVN 5712:1993, the `.VnTime` ("ABC") fonts.
    Tcvn3,
    /// VNI-Windows, the `VNI-Times` fonts.
    Vni,
    /// Windows-1258, tones as combining marks.
    Cp1258,
}

impl TextEncoding {
    /// The legacy encodings, in the order ties are reported.
    pub const LEGACY: [Self; 3] = [Self::Tcvn3, Self::Vni, Self::Cp1258];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Tcvn3 => "tcvn3",
            Self::Vni => "vni",
            Self::Cp1258 => "cp1258",
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an import decides the encoding of text fields (`--text-encoding`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextEncodingChoice {
    /// Each field's own, recognised from its values.
    #[default]
    Auto,
    /// Every text field in this one.
    Fixed(TextEncoding),
}

impl FromStr for TextEncodingChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "auto" => Ok(Self::Auto),
            "utf8" => Ok(Self::Fixed(TextEncoding::Utf8)),
            "tcvn3" | "abc" => Ok(Self::Fixed(TextEncoding::Tcvn3)),
            "vni" => Ok(Self::Fixed(TextEncoding::Vni)),
            "cp1258" | "windows1258" => Ok(Self::Fixed(TextEncoding::Cp1258)),
            _ => Err(format!("`{s}` is not one of auto, utf8, tcvn3, vni, cp1258")),
        }
    }
}

/// The bytes a legacy text was written as, if `raw` may be one: raw bytes that are not UTF-8,
/// or UTF-8 whose every character has a Windows-1252 (or Latin-1) byte. `None` for ASCII and
/// for Unicode beyond those code pages, which no legacy encoding produced.
pub fn legacy_bytes(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    if raw.is_ascii() {
        return None;
    }
    let Ok(text) = std::str::from_utf8(raw) else { return Some(Cow::Borrowed(raw)) };
    text.chars().map(codecs::cp1252_byte).collect::<Option<Vec<u8>>>().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_seen_through_windows_1252_maps_back_to_its_bytes() {
        assert_eq!(legacy_bytes("ViÖt Nam".as_bytes()).as_deref(), Some(&b"Vi\xd6t Nam"[..]));
        assert_eq!(legacy_bytes("“Hµ”".as_bytes()).as_deref(), Some(&b"\x93H\xb5\x94"[..]));
        assert_eq!(legacy_bytes(b"Vi\xd6t").as_deref(), Some(&b"Vi\xd6t"[..]));
        assert_eq!(legacy_bytes("Việt Nam".as_bytes()), None);
        assert_eq!(legacy_bytes(b"Viet Nam"), None);
    }

    #[test]
    fn choices_parse_as_the_command_line_writes_them() {
        assert_eq!("auto".parse(), Ok(TextEncodingChoice::Auto));
        assert_eq!("TCVN3".parse(), Ok(TextEncodingChoice::Fixed(TextEncoding::Tcvn3)));
        assert_eq!("windows-1258".parse(), Ok(TextEncodingChoice::Fixed(TextEncoding::Cp1258)));
        assert!("latin1".parse::<TextEncodingChoice>().is_err());
    }
}
