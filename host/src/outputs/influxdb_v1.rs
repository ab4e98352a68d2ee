//! InfluxDB 1.x through its `/write` API, with the database created on demand
//! (1.x answers 404 "database not found" to writes into a missing database).
//! Timestamps are sent in nanoseconds, the API's default: `precision=us` is read
//! as nanoseconds by InfluxDB 1.6, so we never pass a precision.

use super::{classify, error_message, parse_retry_after, Secret, Sink, WriteResult};
use crate::outputs::line_protocol::Unsigned;
use reqwest::header::{CONTENT_ENCODING, RETRY_AFTER};
use std::io::Write;
use std::time::Duration;

pub struct InfluxV1 {
    client: reqwest::Client,
    write_url: reqwest::Url,
    query_url: reqwest::Url,
    database: String,
    auth: Option<(String, Option<Secret>)>,
    gzip: bool,
}

impl InfluxV1 {
    pub fn new(
        url: &str,
        database: &str,
        retention_policy: Option<&str>,
        auth: Option<(String, Option<Secret>)>,
        gzip: bool,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let base = reqwest::Url::parse(url)?;
        let mut write_url = base.join("write")?;
        write_url.query_pairs_mut().append_pair("db", database);
        if let Some(rp) = retention_policy {
            write_url.query_pairs_mut().append_pair("rp", rp);
        }
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(InfluxV1 {
            client,
            write_url,
            query_url: base.join("query")?,
            database: database.into(),
            auth,
            gzip,
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

    async fn write(&self, body: String) -> WriteResult {
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
            request.body(body)
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

    fn unsigned(&self) -> Unsigned {
        Unsigned::AsInteger
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_quoted() {
        assert_eq!(super::create_database(r#"my "db""#), r#"CREATE DATABASE "my \"db\"""#);
    }
}
