//! InfluxDB 1.x through its `/write` API, with the database created on demand
//! (1.x answers 404 "database not found" to writes into a missing database).
//! Timestamps are sent in nanoseconds, the API's default: `precision=us` is read
//! as nanoseconds by InfluxDB 1.6, so we never pass a precision.

use super::line_protocol::{encode_rows, refusal, Schema, Unsigned};
use super::{classify, error_message, forwarder, parse_retry_after, OutputHandle, OutputSpec, Secret};
use super::{Sink, SinkConfig, WriteResult};
use crate::store::{Row, Store};
use reqwest::header::{CONTENT_ENCODING, RETRY_AFTER};
use serde::Deserialize;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// `{"type": "influxdb", "url", "database", "username", "password",
/// "retention_policy", "gzip", "schema"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub url: String,
    pub database: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub retention_policy: Option<String>,
    #[serde(default = "super::settings::yes")]
    pub gzip: bool,
    #[serde(default)]
    pub schema: Schema,
}

impl Settings {
    /// The keys above, as the config spells them.
    pub const FIELDS: &'static [&'static str] = &[
        "url",
        "database",
        "username",
        "password",
        "retention_policy",
        "gzip",
        "schema",
    ];
}

impl SinkConfig for Settings {
    fn kind(&self) -> &'static str {
        "influxdb"
    }

    fn configured_url(&self) -> &str {
        &self.url
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut shown = serde_json::Map::new();
        shown.insert("database".into(), self.database.clone().into());
        shown.insert("schema".into(), self.schema.name().into());
        shown
    }

    fn start(&self, spec: &OutputSpec, store: Store) -> anyhow::Result<Arc<OutputHandle>> {
        let sink = InfluxV1::new(self, Duration::from_millis(spec.timeout_ms))?;
        Ok(forwarder::spawn(spec.clone(), sink, store))
    }
}

pub struct InfluxV1 {
    client: reqwest::Client,
    write_url: reqwest::Url,
    query_url: reqwest::Url,
    database: String,
    auth: Option<(String, Option<Secret>)>,
    gzip: bool,
    schema: Schema,
}

impl InfluxV1 {
    pub fn new(settings: &Settings, timeout: Duration) -> anyhow::Result<Self> {
        let mut base = reqwest::Url::parse(&settings.url)?;
        if settings.username.is_some() {
            // "username"/"password" win over a `user:password@` in the url
            // (the client would send both).
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        let mut write_url = base.join("write")?;
        write_url.query_pairs_mut().append_pair("db", &settings.database);
        if let Some(rp) = &settings.retention_policy {
            write_url.query_pairs_mut().append_pair("rp", rp);
        }
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(InfluxV1 {
            client,
            write_url,
            query_url: base.join("query")?,
            database: settings.database.clone(),
            auth: settings.username.clone().map(|u| (u, settings.password.clone())),
            gzip: settings.gzip,
            schema: settings.schema,
        })
    }

    fn request(&self, url: &reqwest::Url) -> reqwest::RequestBuilder {
        let request = self.client.post(url.clone());
        match &self.auth {
            Some((user, password)) => request.basic_auth(user, password.as_ref().map(|p| p.expose())),
            None => request,
        }
    }
}

/// `CREATE DATABASE "name"`, with the identifier's quotes escaped.
fn create_database(name: &str) -> String {
    format!(
        "CREATE DATABASE \"{}\"",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

impl Sink for InfluxV1 {
    type Batch = String;

    async fn prepare(&self) -> Result<(), String> {
        let response = self
            .request(&self.query_url)
            .form(&[("q", create_database(&self.database))])
            .send()
            .await
            .map_err(|e| format!("cannot reach InfluxDB to create database {}: {e}", self.database))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        // /query answers 200 with {"results":[{"error": ...}]} for statement errors.
        if status.is_success() && !body.contains("\"error\"") {
            tracing::info!("created InfluxDB database {} (or it existed)", self.database);
            Ok(())
        } else {
            Err(format!(
                "creating database {} failed: HTTP {status}: {}",
                self.database,
                body.trim()
            ))
        }
    }

    fn refusal(&self, row: &Row) -> Option<String> {
        refusal(row, self.schema, Unsigned::AsInteger)
    }

    fn encode(&self, rows: &[&Row]) -> String {
        // 1.x rejects the `u` suffix.
        encode_rows(rows, self.schema, Unsigned::AsInteger)
    }

    fn as_text(&self, batch: &String) -> String {
        batch.clone()
    }

    async fn write(&self, body: &String) -> WriteResult {
        let mut request = self.request(&self.write_url);
        request = if self.gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            match gz.write_all(body.as_bytes()).and_then(|_| gz.finish()) {
                Ok(bytes) => request.header(CONTENT_ENCODING, "gzip").body(bytes),
                Err(e) => {
                    return WriteResult::Retry {
                        reason: format!("gzip failed: {e}"),
                        after: None,
                    }
                }
            }
        } else {
            request.body(body.clone())
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return WriteResult::Retry {
                    reason: format!("cannot reach InfluxDB: {e}"),
                    after: None,
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()));
        let text = response.text().await.unwrap_or_default();
        classify(status, error_message(&text), retry_after)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_quoted() {
        assert_eq!(super::create_database(r#"my "db""#), r#"CREATE DATABASE "my \"db\"""#);
    }
}
