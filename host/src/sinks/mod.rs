//! Sinks: where samples go after the store (today InfluxDB 1.x and the v2
//! write API, in one file each).
//!
//! A sink receives typed rows (`store::Row`) and does its own encoding; the
//! shared `forwarder` reads the store from the output's own durable position,
//! filters, batches, retries with backoff, splits or sets aside what the
//! server refuses, bounds the backlog, and advances the position only after
//! the server acknowledged a batch.
//!
//! To add a sink: one file with its `Settings` (implementing `SinkConfig`)
//! and its `Sink`, one variant in `SinkSettings` with its arm in
//! `SinkSettings::config` and its entry in `SinkSettings::FIELDS` below, and
//! its tests.

mod forwarder;
pub mod influxdb_v1;
pub mod influxdb_v2;
pub mod line_protocol;
mod partial;
mod settings;

pub use crate::secret::Secret;
pub use forwarder::{spawn, OutputHandle, OutputState, OutputStatus};
pub use line_protocol::Schema;
pub use settings::{parse_outputs, OutputSpec};

use crate::store::{Row, Store};
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
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

/// A destination for stored rows.
pub trait Sink: Send + Sync + 'static {
    /// One batch in the sink's wire format, encoded once and kept for retries.
    type Batch: Send + Sync + 'static;
    /// Makes the target ready (e.g. creates the database). Called at start
    /// and whenever a write reports `MissingDatabase`.
    fn prepare(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// Why the sink cannot send `row` so that the server stores exactly it,
    /// if so (e.g. line protocol cannot write a trailing backslash in a tag):
    /// such a row is set aside instead of sent.
    fn refusal(&self, row: &Row) -> Option<String>;
    /// Encodes rows the output selected and `refusal` let through (never empty).
    fn encode(&self, rows: &[&Row]) -> Self::Batch;
    /// Sends one batch.
    fn write(&self, batch: &Self::Batch) -> impl Future<Output = WriteResult> + Send;
    /// The batch as text, kept in the store's `rejected_batches` when the
    /// server refuses it.
    fn as_text(&self, batch: &Self::Batch) -> String;
}

/// What every sink's settings provide; implemented in the sink's own file.
pub trait SinkConfig: Send + Sync {
    /// The `"type"` that selects it.
    fn kind(&self) -> &'static str;
    /// Where it writes, as configured (with any credentials in it).
    fn configured_url(&self) -> &str;
    /// Where it writes, for the log and `GET /outputs`: the credentials of a
    /// `user:password@` in the url are shown as `***` (and still sent).
    fn url(&self) -> String {
        settings::redact_userinfo(self.configured_url())
    }
    /// Problems serde cannot see; most sinks speak HTTP, so by default the
    /// `url` must be http:// or https://.
    fn check(&self) -> Result<(), String> {
        settings::check_http_url(self.configured_url())
    }
    /// Settings `GET /outputs` shows besides type and url (no secrets).
    fn details(&self) -> serde_json::Map<String, serde_json::Value>;
    /// Builds the sink and starts forwarding to it.
    fn start(&self, spec: &OutputSpec, store: Store) -> anyhow::Result<Arc<OutputHandle>>;
}

/// Each sink's own settings, selected by the output's `"type"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkSettings {
    /// InfluxDB 1.x `/write` API.
    Influxdb(influxdb_v1::Settings),
    /// The `/api/v2/write` API (InfluxDB 1.8+, 2.x, 3.x, Cloud, VictoriaMetrics).
    InfluxdbV2(influxdb_v2::Settings),
}

impl SinkSettings {
    /// Appended to a config error in an output, so the fix is at hand.
    pub const HINT: &'static str = "an output needs \"name\" and \"type\" (\"influxdb\" with url and database, or \"influxdb_v2\" with url, org, bucket and token)";

    /// Each type's own keys. Earlier versions accepted any type's keys on
    /// every output and ignored those of other types; such configs still
    /// load, with a warning (`settings::parse_outputs`).
    pub const FIELDS: [(&'static str, &'static [&'static str]); 2] = [
        ("influxdb", influxdb_v1::Settings::FIELDS),
        ("influxdb_v2", influxdb_v2::Settings::FIELDS),
    ];

    pub fn config(&self) -> &dyn SinkConfig {
        match self {
            SinkSettings::Influxdb(s) => s,
            SinkSettings::InfluxdbV2(s) => s,
        }
    }
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
    fn fields_lists_every_key_of_each_type() {
        for (kind, fields) in SinkSettings::FIELDS {
            // serde names every key a type takes when it meets an unknown one.
            let probe = serde_json::json!({"type": kind, "zz_probe": 1});
            let e = SinkSettings::deserialize(probe).unwrap_err().to_string();
            for field in fields {
                assert!(e.contains(&format!("`{field}`")), "{kind}: {field} is not a key: {e}");
            }
            assert_eq!(
                e.matches('`').count(),
                2 * (fields.len() + 1),
                "{kind}: FIELDS misses a key: {e}"
            );
        }
    }

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
