//! Writes Unicode text from stdin in a legacy Vietnamese encoding to stdout: how the samples
//! in `data-samples/legacy/` are made (see `make.sh` there).
//!
//! `legacy_text tcvn3|vni|cp1258 [--seen-as-cp1252]`: the second form writes the legacy bytes
//! as the Windows-1252 characters they show as, in UTF-8, as a spreadsheet typed in a TCVN3 or
//! VNI font saves them.

use std::io::{Read as _, Write as _};

use layers::legacy_text::{TextEncodingChoice, encode};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(Ok(TextEncodingChoice::Fixed(encoding))) = args.first().map(|a| a.parse()) else {
        eprintln!("usage: legacy_text tcvn3|vni|cp1258 [--seen-as-cp1252] < unicode > legacy");
        return std::process::ExitCode::from(2);
    };
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        eprintln!("stdin is not UTF-8");
        return std::process::ExitCode::from(2);
    }
    let Some(bytes) = encode(encoding, &text) else {
        eprintln!("the text has a character {encoding} cannot write");
        return std::process::ExitCode::FAILURE;
    };
    let out = if args.iter().any(|a| a == "--seen-as-cp1252") {
        bytes.iter().map(|&b| layers::legacy_text::cp1252_char(b)).collect::<String>().into_bytes()
    } else {
        bytes
    };
    match std::io::stdout().write_all(&out) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}
