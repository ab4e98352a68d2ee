//! Serving an axum `Router` over HTTP/1 with the limits a logger that runs for
//! months needs and `axum::serve` lacks: a client that sends half a request
//! (or nothing) is dropped after `HEADER_TIMEOUT`, a stalled body after
//! `BODY_TIMEOUT`, and at most `connection_limit` connections are open at
//! once, so clients can never use up the file descriptors that sampling needs
//! (reading /proc, opening sockets). Further connections wait in the kernel's
//! listen queue, holding none of ours, until an open one ends.
//!
//! Requests whose URI or headers are too large get a JSON error like every
//! other answer (`refuse_oversized_head`), at limits below hyper's own. What
//! hyper refuses while parsing (a malformed request line, bytes that are not
//! a URI, a head beyond its buffer or 100 headers) it answers itself, with a
//! bare 400/414/431 and no body: there is no hook to shape those.

use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long a client may take to send a request's line and headers. hyper
/// starts this timer whenever it waits for a request, so it is also how long
/// an idle keep-alive connection stays open.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may go without sending anything.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once, at most (see `connection_limit`).
pub const MAX_CONNECTIONS: u64 = 1024;
/// Longest request URI answered; longer ones get 414 (hyper's own limit is 64 KiB).
pub const MAX_URI_BYTES: usize = 8 << 10;
/// Most headers in a request, and their total size; beyond, 431 (hyper's
/// own limits are 100 headers and about 400 KB).
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// Raises this process's soft limit of open files to its hard limit (Linux's
/// default soft limit, 1024, is low for a server that also samples), and
/// returns the soft limit now in force.
pub fn raise_open_files_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum.unwrap_or(u64::MAX);
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// The API's share of the open-file limit: a quarter of it, at most
/// `MAX_CONNECTIONS`; the rest is sampling's, the store's and the sinks'.
pub fn connection_limit() -> usize {
    let open_files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    (open_files / 4).clamp(1, MAX_CONNECTIONS) as usize
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for the requests in progress to be answered.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limit: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let router = router
        .layer(axum::middleware::from_fn(refuse_oversized_head))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(BODY_TIMEOUT));
    // Dropping `stop_rx` tells the accept loop and every connection to stop.
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    // Every connection holds a clone of `open_rx`; `open_tx.closed()` waits for them all.
    let (open_tx, open_rx) = watch::channel(());
    let permits = Arc::new(Semaphore::new(limit));
    let mut at_limit = false;
    loop {
        // Logged once an episode: back below the limit means a quarter free.
        if at_limit && permits.available_permits() >= (limit / 4).max(1) {
            at_limit = false;
            tracing::info!("REST API below its limit of {limit} connections again");
        }
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !std::mem::replace(&mut at_limit, true) {
                    tracing::warn!(
                        "REST API at its limit of {limit} open connections: new ones wait until one \
                         ends (idle and slow ones are closed after {} s)",
                        HEADER_TIMEOUT.as_secs()
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    _ = stop_tx.closed() => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it
                    // was accepted: wait a little rather than spin.
                    tracing::error!("REST API: accept failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = stop_tx.closed() => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let (stop, open) = (stop_tx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.closed() => {
                    // Finish the request in progress, then close.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop((permit, open));
        });
    }
    drop((listener, open_rx));
    open_tx.closed().await;
}

/// 414 or 431 as JSON for a URI or headers over our limits, before routing.
async fn refuse_oversized_head(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::StatusCode;
    let uri_len = req.uri().to_string().len();
    let headers = req.headers();
    let header_bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    let refusal = if uri_len > MAX_URI_BYTES {
        Some((
            StatusCode::URI_TOO_LONG,
            format!(
                "the request URI has {uri_len} bytes, more than {MAX_URI_BYTES}; names and query parameters are short"
            ),
        ))
    } else if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request has {} headers of {header_bytes} bytes; at most {MAX_HEADERS} headers of \
                 {MAX_HEADER_BYTES} bytes in all are accepted",
                headers.len()
            ),
        ))
    } else {
        None
    };
    match refusal {
        Some((status, message)) => (status, axum::Json(serde_json::json!({ "error": message }))).into_response(),
        None => next.run(req).await,
    }
}
