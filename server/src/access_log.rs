//! One access-log line per request, for operators: method, path (with the values of anything
//! that looks like a secret masked), status, bytes sent, milliseconds until the body was sent
//! whole, and the caller's key id (never the key). Lines go to the `bando::access` target, so
//! that `RUST_LOG=info,bando::access=off` turns them off.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{Method, Uri},
    middleware::Next,
    response::Response,
};

/// The id of the key a request was made with, left on its response by the authentication for
/// this log.
#[derive(Clone, Debug)]
pub struct KeyId(pub String);

/// Logs the request once its answer's body is sent, or dropped by a client that went away.
pub async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, target) = (request.method().clone(), shown(request.uri()));
    let response = next.run(request).await;
    let line = Line {
        started,
        method,
        target,
        status: response.status().as_u16(),
        key: response.extensions().get::<KeyId>().map(|k| k.0.clone()),
    };
    response.map(|body| Body::new(Counted { body, bytes: 0, line }))
}

/// What one line says, but for the bytes.
struct Line {
    started: Instant,
    method: Method,
    target: String,
    status: u16,
    key: Option<String>,
}

/// A body that counts what it sends and logs its request when it is done.
struct Counted {
    body: Body,
    bytes: u64,
    line: Line,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &frame {
            self.bytes += f.data_ref().map_or(0, |d| d.len() as u64);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let l = &self.line;
        tracing::info!(
            target: "bando::access",
            method = %l.method,
            path = %l.target,
            status = l.status,
            bytes = self.bytes,
            ms = (l.started.elapsed().as_secs_f64() * 1e4).round() / 10.0,
            key = %l.key.as_deref().unwrap_or("-"),
            "request"
        );
    }
}

/// The path and query as logged: keys travel in headers, but a client may still put one in the
/// query; the value of every parameter whose name suggests a secret is masked.
fn shown(uri: &Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_owned() };
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["key", "token", "secret", "password", "auth"].iter().any(|s| name.contains(s))
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((name, _)) if secret(name) => format!("{name}=***"),
            _ => p.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_query_are_masked_and_the_rest_kept() {
        let uri = Uri::from_static("/collections/roads/items?limit=5&api_key=bando_x_123&Token=abc&bbox=1,2,3,4");
        assert_eq!(shown(&uri), "/collections/roads/items?limit=5&api_key=***&Token=***&bbox=1,2,3,4");
        assert_eq!(shown(&Uri::from_static("/health")), "/health");
    }
}
