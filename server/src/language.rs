//! The language of what people read, from `Accept-Language` (RFC 9110 §12.5.4): Vietnamese, the
//! province's own, unless the caller prefers English.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use layers::labels::Lang;

/// The language `headers` ask for among those Bando speaks.
pub fn negotiate(headers: &HeaderMap) -> Lang {
    let (mut vi, mut en) = (0.0_f32, 0.0_f32);
    let ranges = headers.get_all(header::ACCEPT_LANGUAGE).iter().filter_map(|v| v.to_str().ok());
    for range in ranges.flat_map(|v| v.split(',')) {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts.find_map(|p| p.trim().strip_prefix("q=").map(|q| q.trim().parse::<f32>().ok()));
        // A weight that does not parse makes the range unusable, not the most wanted.
        let Some(q) = q.unwrap_or(Some(1.0)) else { continue };
        let names =
            |lang: &str| tag == "*" || tag == lang || tag.strip_prefix(lang).is_some_and(|r| r.starts_with('-'));
        if names("vi") {
            vi = vi.max(q);
        }
        if names("en") {
            en = en.max(q);
        }
    }
    if en > vi { Lang::En } else { Lang::Vi }
}

/// `response` marked as written in `lang`, and as varying with the caller's languages.
pub fn mark(mut response: Response, lang: Lang) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.tag()));
    headers.append(header::VARY, HeaderValue::from_static("accept-language"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(value: &str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(value).expect("a header value"));
        negotiate(&headers)
    }

    #[test]
    fn vietnamese_unless_english_is_preferred() {
        assert_eq!(negotiate(&HeaderMap::new()), Lang::Vi);
        assert_eq!(of("en-US,en;q=0.9"), Lang::En);
        assert_eq!(of("en-GB, vi;q=0.5"), Lang::En);
        assert_eq!(of("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::Vi);
        assert_eq!(of("fr, en;q=0.3"), Lang::En);
        assert_eq!(of("fr, *;q=0.3"), Lang::Vi);
        // Equal weights keep the province's language.
        assert_eq!(of("en, vi"), Lang::Vi);
    }

    #[test]
    fn refused_or_unreadable_ranges_do_not_count() {
        assert_eq!(of("en;q=0"), Lang::Vi);
        assert_eq!(of("en;q=high"), Lang::Vi);
        assert_eq!(of("eng"), Lang::Vi);
    }
}
