//! The connections the service is served on: at most `max_connections` at once, each closed
//! when it takes longer than `header_timeout` to send a request's head or stays idle that long
//! between requests, and all finished gracefully at shutdown.
//!
//! `axum::serve` sets none of these (a client that sends nothing keeps its connection for
//! ever), so the accept loop is written here on hyper's own connection builder.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tower::ServiceExt;

use crate::settings::Settings;

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(listener: TcpListener, app: Router, settings: &Settings, shutdown: impl Future<Output = ()>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        // Room above the configured limits, so that a request over them reaches the
        // middleware and gets its problem answer rather than hyper's empty one.
        .max_headers(settings.max_headers.saturating_mul(4).max(100))
        .max_buf_size(settings.max_header_bytes.saturating_add(settings.max_url_bytes).saturating_mul(4).max(8192));
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A connection past the cap waits in the kernel's backlog until one closes.
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => tokio::select! {
                    () = &mut shutdown => break,
                    accepted = listener.accept() => accepted.map(|a| (a, slot)),
                },
                Err(_) => break,
            },
        };
        let ((stream, peer), slot) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, mostly: wait a little rather than spin.
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = app.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection = http.serve_connection(TokioIo::new(ProblemIo::new(stream)), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out ends its connection; nothing to report.
            let _ = connection.await;
            drop(slot);
        });
    }
    // A client that stops reading must not hold the shutdown for ever.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open {} s after the shutdown began; closing them", SHUTDOWN_GRACE.as_secs());
    }
}

/// How long open requests may take to finish at shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// A connection whose answers hyper writes itself, for a request it cannot parse (a URL over
/// 64 KiB, a head over its buffer), carry a problem+json body like every other error. hyper
/// answers those before any service sees the request, with an empty body, and offers no hook:
/// its fixed answer is recognised here and replaced.
struct ProblemIo {
    inner: TcpStream,
    /// A replacement being written, and how much of it is out.
    replacing: Option<(Vec<u8>, usize)>,
}

impl ProblemIo {
    fn new(inner: TcpStream) -> Self {
        Self { inner, replacing: None }
    }

    /// The problem answer standing in for hyper's empty `status` answer, when `head` is one:
    /// the whole of a short head, ending the answer, that hyper alone writes that way.
    fn replacement(head: &[u8]) -> Option<Vec<u8>> {
        if head.len() > 256 || !head.ends_with(b"\r\n\r\n") {
            return None;
        }
        let (status, detail) = [
            ("414 URI Too Long", "the URL is too long"),
            ("431 Request Header Fields Too Large", "the request's headers are too large or too many"),
            ("400 Bad Request", "the request is not valid HTTP"),
        ]
        .into_iter()
        .find(|(s, _)| {
            head.strip_prefix(b"HTTP/1.1 ")
                .and_then(|h| h.strip_prefix(s.as_bytes()))
                .is_some_and(|h| h.starts_with(b"\r\nconnection: close\r\ncontent-length: 0\r\n"))
        })?;
        let code = &status[..3];
        let title = &status[4..];
        let body = format!(r#"{{"type":"about:blank","title":"{title}","status":{code},"detail":"{detail}"}}"#);
        Some(
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }

    /// Writes the replacement out; `written` (what hyper asked to write) once it all is.
    fn poll_replace(&mut self, cx: &mut Context<'_>, written: usize) -> Poll<io::Result<usize>> {
        while let Some((bytes, done)) = &mut self.replacing {
            if *done == bytes.len() {
                self.replacing = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(written))
    }
}

impl AsyncRead for ProblemIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProblemIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.replacing.is_none()
            && let Some(bytes) = Self::replacement(buf)
        {
            self.replacing = Some((bytes, 0));
        }
        if self.replacing.is_some() {
            return self.poll_replace(cx, buf.len());
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|b| !b.is_empty());
        if self.replacing.is_none()
            && let Some(bytes) = first.and_then(|b| Self::replacement(b))
        {
            self.replacing = Some((bytes, 0));
        }
        if self.replacing.is_some() {
            return self.poll_replace(cx, bufs.iter().map(|b| b.len()).sum());
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_empty_answers_are_replaced() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let replaced = ProblemIo::replacement(hyper).map(String::from_utf8);
        let text = replaced.and_then(Result::ok).unwrap_or_default();
        assert!(
            text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json")
        );
        assert!(
            text.ends_with(r#""status":431,"detail":"the request's headers are too large or too many"}"#),
            "{text}"
        );
        // The service's own 431, and any other answer, pass as they are.
        let ours = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n";
        assert!(ProblemIo::replacement(ours).is_none());
        assert!(ProblemIo::replacement(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n").is_none());
    }
}
