//! The `"outputs"` section of the config: which InfluxDB servers get samples,
//! how they are batched, and where secrets come from.

use serde::Deserialize;
use std::fmt;

/// A password or token: inline, or read from an environment variable or a
/// file at startup (`{"env": "INFLUX_TOKEN"}`, `{"file": "/etc/datalogger/token"}`).
/// Never printed: `Debug` and the API show `***`.
#[derive(Clone, Default, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: String },
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match SecretSource::deserialize(d)
            .map_err(|_| D::Error::custom("a secret is a string, {\"env\": \"VARIABLE\"} or {\"file\": \"/path\"}"))?
        {
            SecretSource::Inline(s) => Ok(Secret(s)),
            SecretSource::Env { env } => std::env::var(&env)
                .map(Secret)
                .map_err(|_| D::Error::custom(format!("environment variable {env} is not set"))),
            SecretSource::File { file } => std::fs::read_to_string(&file)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| D::Error::custom(format!("cannot read secret file {file}: {e}"))),
        }
    }
}

/// How points are shaped for the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    /// measurement = the sample's, tags = the sample's plus `item=<name>`.
    #[default]
    Default,
    /// What the Python logger wrote: measurement `rpdemo`, field key = item
    /// name, value = the primary field, no tags.
    Rpdemo,
}

/// Where an output writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// InfluxDB 1.x `/write` API.
    Influxdb {
        url: String,
        database: String,
        username: Option<String>,
        password: Option<Secret>,
        retention_policy: Option<String>,
    },
    /// The `/api/v2/write` API (InfluxDB 1.8+, 2.x, 3.x, Cloud, VictoriaMetrics).
    InfluxdbV2 {
        url: String,
        org: String,
        bucket: String,
        token: Secret,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Influxdb,
    InfluxdbV2,
}

/// The output as written in the config, before the target is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: String,
    #[serde(rename = "type")]
    kind: Kind,
    url: String,
    database: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    retention_policy: Option<String>,
    org: Option<String>,
    bucket: Option<String>,
    token: Option<Secret>,
    #[serde(default = "default_batch_size")]
    batch_size: usize,
    #[serde(default = "default_flush_interval_ms")]
    flush_interval_ms: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_true")]
    gzip: bool,
    #[serde(default)]
    schema: Schema,
    items: Option<Vec<String>>,
    measurements: Option<Vec<String>>,
    #[serde(default = "default_max_backlog_age_days")]
    max_backlog_age_days: u32,
    #[serde(default = "default_max_backlog_points")]
    max_backlog_points: u64,
}

impl RawOutput {
    fn into_spec(self) -> Result<OutputSpec, String> {
        let need = |v: Option<String>, what: &str| v.ok_or_else(|| format!("\"{what}\" is required for this type"));
        let target = match self.kind {
            Kind::Influxdb => Target::Influxdb {
                url: self.url,
                database: need(self.database, "database")?,
                username: self.username,
                password: self.password,
                retention_policy: self.retention_policy,
            },
            Kind::InfluxdbV2 => Target::InfluxdbV2 {
                url: self.url,
                org: need(self.org, "org")?,
                bucket: need(self.bucket, "bucket")?,
                token: self.token.unwrap_or_default(),
            },
        };
        Ok(OutputSpec {
            name: self.name,
            target,
            batch_size: self.batch_size,
            flush_interval_ms: self.flush_interval_ms,
            timeout_ms: self.timeout_ms,
            gzip: self.gzip,
            schema: self.schema,
            items: self.items,
            measurements: self.measurements,
            max_backlog_age_days: self.max_backlog_age_days,
            max_backlog_points: self.max_backlog_points,
        })
    }
}

fn default_batch_size() -> usize {
    5000
}
fn default_flush_interval_ms() -> u64 {
    1000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_true() -> bool {
    true
}
fn default_max_backlog_age_days() -> u32 {
    30
}
fn default_max_backlog_points() -> u64 {
    50_000_000
}

/// One checked output. Everything but the target has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub name: String,
    pub target: Target,
    /// Points per write request.
    pub batch_size: usize,
    /// Longest a sample waits for a batch to fill.
    pub flush_interval_ms: u64,
    /// Per-request timeout.
    pub timeout_ms: u64,
    pub gzip: bool,
    pub schema: Schema,
    /// Only these items (all when absent).
    pub items: Option<Vec<String>>,
    /// Only these measurements (all when absent).
    pub measurements: Option<Vec<String>>,
    /// Undelivered samples older than this are dropped for this output (counted, logged).
    pub max_backlog_age_days: u32,
    /// Undelivered samples beyond this many are dropped, oldest first.
    pub max_backlog_points: u64,
}

impl OutputSpec {
    pub fn url(&self) -> &str {
        match &self.target {
            Target::Influxdb { url, .. } | Target::InfluxdbV2 { url, .. } => url,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.target {
            Target::Influxdb { .. } => "influxdb",
            Target::InfluxdbV2 { .. } => "influxdb_v2",
        }
    }

    /// The output an rpdemo config (a top-level `"database"`, no `"outputs"`)
    /// always had: InfluxDB on localhost, in the Python logger's schema.
    pub fn rpdemo(database: &str) -> OutputSpec {
        OutputSpec {
            name: "influxdb".into(),
            target: Target::Influxdb {
                url: "http://localhost:8086".into(),
                database: database.into(),
                username: None,
                password: None,
                retention_policy: None,
            },
            batch_size: default_batch_size(),
            flush_interval_ms: default_flush_interval_ms(),
            timeout_ms: default_timeout_ms(),
            gzip: true,
            schema: Schema::Rpdemo,
            items: None,
            measurements: None,
            max_backlog_age_days: default_max_backlog_age_days(),
            max_backlog_points: default_max_backlog_points(),
        }
    }
}

/// Parses the `"outputs"` list; every problem names the output.
pub fn parse(value: &serde_json::Value, problems: &mut Vec<String>) -> Vec<OutputSpec> {
    let Some(list) = value.as_array() else {
        problems.push("\"outputs\" must be a list of outputs, each {\"name\", \"type\", ...}".into());
        return Vec::new();
    };
    let mut outputs: Vec<OutputSpec> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let label = match v.get("name").and_then(|n| n.as_str()) {
            Some(n) => format!("output \"{n}\" (outputs[{i}])"),
            None => format!("outputs[{i}]"),
        };
        match RawOutput::deserialize(v).map_err(|e| e.to_string()).and_then(RawOutput::into_spec) {
            Ok(spec) => {
                if let Err(e) = check(&spec) {
                    problems.push(format!("{label}: {e}"));
                } else if outputs.iter().any(|o| o.name == spec.name) {
                    problems.push(format!("{label}: the name is used twice; give each output its own name"));
                } else {
                    outputs.push(spec);
                }
            }
            Err(e) => problems.push(format!(
                "{label}: {e}; an output needs \"name\" and \"type\" (\"influxdb\" with url and database, or \"influxdb_v2\" with url, org, bucket and token)"
            )),
        }
    }
    outputs
}

fn check(spec: &OutputSpec) -> Result<(), String> {
    if spec.name.is_empty() {
        return Err("\"name\" must not be empty".into());
    }
    match reqwest::Url::parse(spec.url()) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
        _ => {
            return Err(format!(
                "\"url\" must be an http:// or https:// URL, got {:?}",
                spec.url()
            ))
        }
    }
    if spec.batch_size == 0 || spec.batch_size > 1_000_000 {
        return Err("\"batch_size\" must be from 1 to 1000000".into());
    }
    if spec.flush_interval_ms == 0 || spec.timeout_ms == 0 {
        return Err("\"flush_interval_ms\" and \"timeout_ms\" must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_come_from_env_or_file_and_never_print() {
        std::env::set_var("DL_TEST_TOKEN", "s3cret");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "filepw\n").unwrap();
        let mut problems = Vec::new();
        let outputs = parse(
            &json!([
                {"name": "a", "type": "influxdb_v2", "url": "http://h:8428", "org": "o", "bucket": "b",
                 "token": {"env": "DL_TEST_TOKEN"}},
                {"name": "b", "type": "influxdb", "url": "http://h:8086", "database": "d",
                 "username": "u", "password": {"file": file.to_str().unwrap()}},
            ]),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let Target::InfluxdbV2 { token, .. } = &outputs[0].target else {
            panic!()
        };
        assert_eq!(token.expose(), "s3cret");
        let Target::Influxdb { password, .. } = &outputs[1].target else {
            panic!()
        };
        assert_eq!(password.as_ref().unwrap().expose(), "filepw");
        assert!(!format!("{outputs:?}").contains("s3cret"));
        assert!(!format!("{outputs:?}").contains("filepw"));
        assert!(outputs[0].gzip && outputs[0].batch_size == 5000);
    }

    #[test]
    fn bad_outputs_are_named() {
        let mut problems = Vec::new();
        parse(
            &json!([
                {"name": "x", "type": "influxdb", "url": "localhost:8086", "database": "d"},
                {"name": "y", "type": "graphite", "url": "http://h"},
                {"name": "z", "type": "influxdb_v2", "url": "http://h", "org": "o", "bucket": "b",
                 "token": {"env": "DL_TEST_SURELY_UNSET"}},
                {"name": "w", "type": "influxdb", "url": "http://h", "database": "d", "colour": 1},
            ]),
            &mut problems,
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems[0].contains("output \"x\"") && problems[0].contains("http://"),
            "{}",
            problems[0]
        );
        assert!(problems[1].contains("output \"y\""), "{}", problems[1]);
        assert!(problems[2].contains("DL_TEST_SURELY_UNSET"), "{}", problems[2]);
        assert!(problems[3].contains("colour"), "{}", problems[3]);
    }
}
