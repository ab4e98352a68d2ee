//! The InfluxDB v2 write API (`/api/v2/write`), through the `influxdb2` crate:
//! InfluxDB 1.8+, 2.x, 3.x, Cloud and VictoriaMetrics all take it.
//!
//! The crate reports a failed write as status and body only, so `Retry-After`
//! cannot be honoured here; the forwarder's backoff applies instead.

use super::line_protocol::{encode_rows, refusal, Schema, Unsigned};
use super::{classify, error_message, forwarder, OutputHandle, OutputSpec, Secret};
use super::{Sink, SinkConfig, WriteResult};
use crate::sample::FieldValue;
use crate::store::{Row, Store};
use influxdb2::models::WriteDataPoint;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// `{"type": "influxdb_v2", "url", "org", "bucket", "token", "gzip", "schema"}`;
/// VictoriaMetrics needs no token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub url: String,
    pub org: String,
    pub bucket: String,
    #[serde(default)]
    pub token: Secret,
    #[serde(default = "super::settings::yes")]
    pub gzip: bool,
    #[serde(default)]
    pub schema: Schema,
}

impl Settings {
    /// The keys above, as the config spells them.
    pub const FIELDS: &'static [&'static str] = &["url", "org", "bucket", "token", "gzip", "schema"];
}

impl SinkConfig for Settings {
    fn kind(&self) -> &'static str {
        "influxdb_v2"
    }

    fn configured_url(&self) -> &str {
        &self.url
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let shown = [("org", &self.org), ("bucket", &self.bucket)].map(|(k, v)| (k.to_string(), v.clone().into()));
        let mut shown = serde_json::Map::from_iter(shown);
        shown.insert("schema".into(), self.schema.name().into());
        shown
    }

    fn start(&self, spec: &OutputSpec, store: Store) -> anyhow::Result<Arc<OutputHandle>> {
        let sink = InfluxV2::new(self, Duration::from_millis(spec.timeout_ms))?;
        Ok(forwarder::spawn(spec.clone(), sink, store))
    }
}

pub struct InfluxV2 {
    client: influxdb2::Client,
    bucket: String,
    schema: Schema,
}

/// A whole batch of already-encoded line protocol, handed to the crate as one
/// "point" so its gzip and request handling apply unchanged.
struct Encoded(String);

impl WriteDataPoint for Encoded {
    fn write_data_point_to<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        w.write_all(self.0.as_bytes())
    }
}

impl InfluxV2 {
    pub fn new(settings: &Settings, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout);
        let mut builder =
            influxdb2::ClientBuilder::with_builder(http, &settings.url, &settings.org, settings.token.expose());
        if settings.gzip {
            // Note: the crate's `gzip(false)` would still compress; only call it to enable.
            builder = builder.gzip(true);
        }
        Ok(InfluxV2 {
            client: builder.build()?,
            bucket: settings.bucket.clone(),
            schema: settings.schema,
        })
    }
}

impl Sink for InfluxV2 {
    type Batch = String;

    async fn prepare(&self) -> Result<(), String> {
        Ok(())
    }

    fn refusal(&self, row: &Row) -> Option<String> {
        if let Some(reason) = refusal(row, self.schema, Unsigned::Supported) {
            return Some(reason);
        }
        // InfluxDB reads a line break in a quoted string, but VictoriaMetrics
        // cuts the line there and drops it with a 204: refuse it loudly.
        let text_with_break =
            |(k, v): &(String, FieldValue)| matches!(v, FieldValue::Text(t) if t.contains('\n')).then(|| k.clone());
        let field = row.sample.fields.iter().find_map(text_with_break)?;
        Some(format!(
            "string field {field:?} contains a line break, which VictoriaMetrics cannot read (the v2 output refuses it)"
        ))
    }

    fn encode(&self, rows: &[&Row]) -> String {
        encode_rows(rows, self.schema, Unsigned::Supported)
    }

    fn as_text(&self, batch: &String) -> String {
        batch.clone()
    }

    async fn write(&self, body: &String) -> WriteResult {
        let points = futures::stream::iter([Encoded(body.clone())]);
        match self.client.write(&self.bucket, points).await {
            Ok(()) => WriteResult::Written,
            Err(influxdb2::RequestError::Http { status, text }) => {
                classify(status.as_u16(), error_message(&text), None)
            }
            Err(e) => WriteResult::Retry {
                reason: format!("cannot reach the server: {e}"),
                after: None,
            },
        }
    }
}
