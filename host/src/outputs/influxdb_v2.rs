//! The InfluxDB v2 write API (`/api/v2/write`), through the `influxdb2` crate:
//! InfluxDB 1.8+, 2.x, 3.x, Cloud and VictoriaMetrics all take it.
//!
//! The crate reports a failed write as status and body only, so `Retry-After`
//! cannot be honoured here; the forwarder's backoff applies instead.

use super::{classify, error_message, Secret, Sink, WriteResult};
use crate::outputs::line_protocol::Unsigned;
use influxdb2::models::WriteDataPoint;
use std::time::Duration;

pub struct InfluxV2 {
    client: influxdb2::Client,
    bucket: String,
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
    pub fn new(
        url: &str,
        org: &str,
        bucket: &str,
        token: &Secret,
        gzip: bool,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout);
        let mut builder = influxdb2::ClientBuilder::with_builder(http, url, org, token.expose());
        if gzip {
            // Note: the crate's `gzip(false)` would still compress; only call it to enable.
            builder = builder.gzip(true);
        }
        Ok(InfluxV2 {
            client: builder.build()?,
            bucket: bucket.into(),
        })
    }
}

impl Sink for InfluxV2 {
    async fn prepare(&self) -> Result<(), String> {
        Ok(())
    }

    async fn write(&self, body: String) -> WriteResult {
        let points = futures::stream::iter([Encoded(body)]);
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

    fn unsigned(&self) -> Unsigned {
        Unsigned::Supported
    }
}
