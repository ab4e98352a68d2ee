//! Outputs: store-and-forward from the embedded store to time-series databases.
//!
//! Every output is a peer behind the `Sink` trait (one file each); the shared
//! `forwarder` reads the store from the output's own durable position, encodes
//! line protocol in the output's schema, and advances the position only after
//! the server acknowledged the batch. Adding another database is one new file.

mod forwarder;
pub mod influxdb_v1;
pub mod influxdb_v2;
pub mod line_protocol;
pub mod settings;

pub use forwarder::{spawn, OutputHandle, OutputStatus};
pub use settings::{OutputSpec, Schema, Secret, Target};

use line_protocol::Unsigned;
use std::future::Future;
use std::time::Duration;

/// What a server said to one write.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    /// 2xx: the batch is stored.
    Written,
    /// Network error, timeout, 5xx, 429, 503: try the same batch again later
    /// (after `after` when the server said so with `Retry-After`).
    Retry { reason: String, after: Option<Duration> },
    /// 413: split the batch.
    TooLarge,
    /// 400 and other refusals of the data itself: set the batch aside, go on.
    Rejected { status: u16, message: String },
    /// 401, 403, unknown bucket: a configuration problem; retried slowly.
    Misconfigured { status: u16, message: String },
    /// InfluxDB 1.x: the database does not exist (yet); `prepare` creates it.
    MissingDatabase,
}

/// A database that takes line protocol.
pub trait Sink: Send + Sync + 'static {
    /// Makes the target ready (e.g. creates the database). Called at start
    /// and whenever a write reports `MissingDatabase`.
    fn prepare(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// Sends one batch of line protocol.
    fn write(&self, body: String) -> impl Future<Output = WriteResult> + Send;
    /// Whether the server takes the `u` (unsigned) suffix.
    fn unsigned(&self) -> Unsigned;
}

/// Sorts an HTTP status into what the forwarder does next; shared by sinks.
pub fn classify(status: u16, message: String, retry_after: Option<Duration>) -> WriteResult {
    match status {
        200..=299 => WriteResult::Written,
        413 => WriteResult::TooLarge,
        401 | 403 => WriteResult::Misconfigured { status, message },
        408 | 429 | 500..=599 => WriteResult::Retry {
            reason: format!("HTTP {status}: {message}"),
            after: retry_after,
        },
        404 if message.contains("database not found") => WriteResult::MissingDatabase,
        404 => WriteResult::Misconfigured { status, message },
        _ => WriteResult::Rejected { status, message },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for these servers and
/// falls back to our own backoff).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(600)))
}

/// The message of an InfluxDB error body (`{"error": "..."}`, or the text).
pub fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .or(v.get("message"))
                .and_then(|m| m.as_str())
                .map(String::from)
        })
        .unwrap_or_else(|| body.trim().chars().take(1000).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_actions() {
        assert_eq!(classify(204, String::new(), None), WriteResult::Written);
        assert_eq!(classify(413, String::new(), None), WriteResult::TooLarge);
        assert!(matches!(classify(503, "busy".into(), Some(Duration::from_secs(3))),
            WriteResult::Retry { after: Some(d), .. } if d == Duration::from_secs(3)));
        assert!(matches!(classify(429, String::new(), None), WriteResult::Retry { .. }));
        assert!(matches!(classify(500, String::new(), None), WriteResult::Retry { .. }));
        assert!(matches!(
            classify(400, "partial write".into(), None),
            WriteResult::Rejected { status: 400, .. }
        ));
        assert!(matches!(
            classify(401, String::new(), None),
            WriteResult::Misconfigured { status: 401, .. }
        ));
        assert_eq!(
            classify(404, "database not found: \"x\"".into(), None),
            WriteResult::MissingDatabase
        );
        assert!(matches!(
            classify(404, "bucket not found".into(), None),
            WriteResult::Misconfigured { .. }
        ));
    }

    #[test]
    fn retry_after_and_error_bodies() {
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(Some("99999")), Some(Duration::from_secs(600)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(
            error_message(r#"{"error":"field type conflict"}"#),
            "field type conflict"
        );
        assert_eq!(error_message("plain text\n"), "plain text");
    }
}
