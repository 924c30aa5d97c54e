//! The edge of every request: the query string as decoded pairs, and the answer's format.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};

use crate::error::ApiError;

/// The query string as `(name, value)` pairs, percent-decoded. Undecodable input (invalid
/// UTF-8) is a 400 problem, not axum's plain-text rejection.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::parse(parts.uri.query().unwrap_or("")).map_err(ApiError::BadRequest)
    }
}

impl Params {
    /// Decodes `a=1&b=x+y`. Unlike the usual form decoders, which replace bytes that are not
    /// UTF-8, this refuses them: a filter or a name must arrive as sent, or not at all.
    pub fn parse(query: &str) -> Result<Self, String> {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| format!("the query string is not UTF-8 once decoded: {s:.40}"))
        };
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                Ok((decode(k)?, decode(v)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self(pairs))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Refuses any parameter outside `allowed`, and any given twice.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut seen = std::collections::HashSet::new();
        for (k, _) in &self.0 {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::BadRequest(format!("unknown parameter {k:?}")));
            }
            if !seen.insert(k) {
                return Err(ApiError::BadRequest(format!("parameter {k:?} is given twice")));
            }
        }
        Ok(())
    }
}

/// The representation asked for, by `f` or else by `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON (GeoJSON for features).
    Json,
    /// An HTML page.
    Html,
}

impl Format {
    /// `f=json|geojson|html` wins; otherwise HTML when `Accept` prefers it to JSON, as browsers
    /// do, and JSON for everything else.
    pub fn negotiate(params: &Params, headers: &HeaderMap) -> Result<Self, ApiError> {
        match params.get("f") {
            Some("json" | "geojson") => return Ok(Self::Json),
            Some("html") => return Ok(Self::Html),
            Some(other) => return Err(ApiError::BadRequest(format!("f must be json or html, not {other:?}"))),
            None => {}
        }
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let position = |needle: &str| accept.find(needle);
        Ok(match (position("text/html"), position("json")) {
            (Some(h), Some(j)) if h < j => Self::Html,
            (Some(_), None) => Self::Html,
            _ => Self::Json,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn negotiate(f: Option<&str>, accept: &str) -> Result<Format, ApiError> {
        let params = Params(f.map(|f| vec![("f".to_owned(), f.to_owned())]).unwrap_or_default());
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).map_err(|e| ApiError::Internal(e.to_string()))?);
        Format::negotiate(&params, &headers)
    }

    #[test]
    fn queries_decode_strictly() {
        let p = Params::parse("q=%C4%90%C3%ACnh+t%C3%A2n&filter=a%3D1&flag").map(|p| p.0);
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<Vec<_>>();
        assert_eq!(p, Ok(pairs(&[("q", "Đình tân"), ("filter", "a=1"), ("flag", "")])));
        assert!(Params::parse("q=%FF%FE").is_err());
    }

    #[test]
    fn browsers_get_html_and_clients_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(negotiate(None, browser).ok(), Some(Format::Html));
        assert_eq!(negotiate(None, "application/geo+json, application/json").ok(), Some(Format::Json));
        assert_eq!(negotiate(None, "*/*").ok(), Some(Format::Json));
        assert_eq!(negotiate(Some("json"), browser).ok(), Some(Format::Json));
        assert!(negotiate(Some("xml"), "").is_err());
    }
}
