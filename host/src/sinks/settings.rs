//! An entry of the `"outputs"` config list: the settings every sink shares
//! (name, batching, request timeout, filters, backlog limits) beside the
//! sink's own, which its `"type"` selects (`SinkSettings`).

use super::{Schema, SinkSettings};
use crate::store::Row;
use serde::Deserialize;
use serde_json::Value;

/// The keys every output takes, whatever its type.
const COMMON: [&str; 9] = [
    "name",
    "type",
    "batch_size",
    "flush_interval_ms",
    "timeout_ms",
    "items",
    "measurements",
    "max_backlog_age_days",
    "max_backlog_points",
];

/// `#[serde(default = "...")]` for settings that default to on.
pub(super) fn yes() -> bool {
    true
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
fn default_max_backlog_age_days() -> u32 {
    30
}
fn default_max_backlog_points() -> u64 {
    50_000_000
}

/// One checked output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OutputSpec {
    pub name: String,
    /// Where it writes and how: `"type"` and that sink's own settings.
    #[serde(flatten)]
    pub sink: SinkSettings,
    /// Points per write request.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest a sample waits for a batch to fill.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Only these items (all when absent).
    pub items: Option<Vec<String>>,
    /// Only these measurements (all when absent).
    pub measurements: Option<Vec<String>>,
    /// Undelivered samples older than this are dropped for this output (counted, logged).
    #[serde(default = "default_max_backlog_age_days")]
    pub max_backlog_age_days: u32,
    /// Undelivered samples beyond this many are dropped, oldest first.
    #[serde(default = "default_max_backlog_points")]
    pub max_backlog_points: u64,
}

impl OutputSpec {
    /// The output an rpdemo config (a top-level `"database"`, no `"outputs"`)
    /// always had: InfluxDB on localhost, in the Python logger's schema.
    pub fn rpdemo(database: &str) -> OutputSpec {
        OutputSpec {
            name: "influxdb".into(),
            sink: SinkSettings::Influxdb(super::influxdb_v1::Settings {
                url: "http://localhost:8086".into(),
                database: database.into(),
                username: None,
                password: None,
                retention_policy: None,
                gzip: true,
                schema: Schema::Rpdemo,
            }),
            batch_size: default_batch_size(),
            flush_interval_ms: default_flush_interval_ms(),
            timeout_ms: default_timeout_ms(),
            items: None,
            measurements: None,
            max_backlog_age_days: default_max_backlog_age_days(),
            max_backlog_points: default_max_backlog_points(),
        }
    }

    /// Whether this output takes a stored row at all (its filters).
    pub fn selects(&self, row: &Row) -> bool {
        self.items.as_ref().is_none_or(|only| only.contains(&row.item))
            && self
                .measurements
                .as_ref()
                .is_none_or(|only| only.contains(&row.sample.measurement))
    }

    fn check(&self) -> Result<(), String> {
        self.sink.config().check()?;
        if self.name.is_empty() {
            return Err("\"name\" must not be empty".into());
        }
        if self.batch_size == 0 || self.batch_size > 1_000_000 {
            return Err("\"batch_size\" must be from 1 to 1000000".into());
        }
        if self.flush_interval_ms == 0 || self.timeout_ms == 0 {
            return Err("\"flush_interval_ms\" and \"timeout_ms\" must be at least 1".into());
        }
        Ok(())
    }
}

/// Parses the `"outputs"` list; every problem and warning names the output.
pub fn parse_outputs(value: &Value, problems: &mut Vec<String>, warnings: &mut Vec<String>) -> Vec<OutputSpec> {
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
        let v = drop_other_types_keys(v, |w| warnings.push(format!("{label}: {w}")));
        match OutputSpec::deserialize(&v) {
            Ok(spec) => {
                if let Err(e) = spec.check() {
                    problems.push(format!("{label}: {e}"));
                } else if outputs.iter().any(|o| o.name == spec.name) {
                    problems.push(format!(
                        "{label}: the name is used twice; give each output its own name"
                    ));
                } else {
                    outputs.push(spec);
                }
            }
            Err(e) => problems.push(format!("{label}: {}; {}", explain(&e), SinkSettings::HINT)),
        }
    }
    outputs
}

/// The output without keys that only another type takes (which earlier
/// versions ignored), each reported through `warn`.
fn drop_other_types_keys(v: &Value, mut warn: impl FnMut(String)) -> Value {
    let mut v = v.clone();
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    // An unknown type is the error to report, not its keys.
    let Some((_, own)) = SinkSettings::FIELDS.iter().find(|(k, _)| *k == kind) else {
        return v;
    };
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    for (other, fields) in SinkSettings::FIELDS {
        for field in fields.iter().filter(|f| !own.contains(f) && !COMMON.contains(f)) {
            if obj.remove(*field).is_some() {
                warn(format!(
                    "ignoring \"{field}\", a setting of type {other} that a {kind} output does not use"
                ));
            }
        }
    }
    v
}

/// serde's message, worded for the config: which key is missing, and every
/// key an output may have (serde names only the type's own).
fn explain(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if let Some(field) = text.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
        return format!("\"{field}\" is required for this type");
    }
    if text.starts_with("unknown field") {
        return format!("{text}; or one of the settings every output has: {}", COMMON.join(", "));
    }
    text
}

/// A sink's `"url"`: http or https.
pub fn check_http_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
        _ => Err(format!(
            "\"url\" must be an http:// or https:// URL, got {:?}",
            redact_userinfo(url)
        )),
    }
}

/// `url` with the user and password of a `scheme://user:password@host`
/// replaced by `***`, as written otherwise. The HTTP client still sends them
/// (as Basic authentication); only what is shown changes.
pub fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
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
        let outputs = parse_outputs_ok(
            &json!([
                {"name": "a", "type": "influxdb_v2", "url": "http://h:8428", "org": "o", "bucket": "b",
                 "token": {"env": "DL_TEST_TOKEN"}},
                {"name": "b", "type": "influxdb", "url": "http://h:8086", "database": "d",
                 "username": "u", "password": {"file": file.to_str().unwrap()}},
            ]),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let SinkSettings::InfluxdbV2(v2) = &outputs[0].sink else {
            panic!()
        };
        assert_eq!(v2.token.expose(), "s3cret");
        let SinkSettings::Influxdb(v1) = &outputs[1].sink else {
            panic!()
        };
        assert_eq!(v1.password.as_ref().unwrap().expose(), "filepw");
        assert!(!format!("{outputs:?}").contains("s3cret"));
        assert!(!format!("{outputs:?}").contains("filepw"));
        assert!(v2.gzip && outputs[0].batch_size == 5000);
        assert_eq!(outputs[1].timeout_ms, 10_000);
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_userinfo("http://u:p%40ss@h:8086/x?y=1"),
            "http://***@h:8086/x?y=1"
        );
        assert_eq!(redact_userinfo("https://token@h"), "https://***@h");
        assert_eq!(redact_userinfo("http://h:8086/a@b"), "http://h:8086/a@b");
        assert_eq!(redact_userinfo("http://u:p@ss@h/"), "http://***@h/");
        assert_eq!(redact_userinfo("not a url"), "not a url");
        let e = check_http_url("ftp://u:secret@h").unwrap_err();
        assert!(!e.contains("secret") && e.contains("ftp://***@h"), "{e}");
    }

    #[test]
    fn bad_outputs_are_named() {
        let mut problems = Vec::new();
        parse_outputs_ok(
            &json!([
                {"name": "x", "type": "influxdb", "url": "localhost:8086", "database": "d"},
                {"name": "y", "type": "graphite", "url": "http://h"},
                {"name": "z", "type": "influxdb_v2", "url": "http://h", "org": "o", "bucket": "b",
                 "token": {"env": "DL_TEST_SURELY_UNSET"}},
                {"name": "w", "type": "influxdb", "url": "http://h", "database": "d", "colour": 1},
                {"name": "v", "type": "influxdb", "url": "http://h"},
                {"name": "u", "type": "influxdb", "url": "http://h", "database": "d", "batch_size": 0},
            ]),
            &mut problems,
        );
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(
            problems[0].contains("output \"x\"") && problems[0].contains("http://"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("output \"y\"") && problems[1].contains("influxdb_v2"),
            "{}",
            problems[1]
        );
        assert!(problems[2].contains("DL_TEST_SURELY_UNSET"), "{}", problems[2]);
        assert!(
            problems[3].contains("colour") && problems[3].contains("batch_size"),
            "{}",
            problems[3]
        );
        assert!(
            problems[4].contains("\"database\" is required for this type"),
            "{}",
            problems[4]
        );
        assert!(problems[5].contains("batch_size"), "{}", problems[5]);
    }

    #[test]
    fn another_types_keys_are_ignored_with_a_warning() {
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let outputs = parse_outputs(
            &json!([{"name": "vm", "type": "influxdb_v2", "url": "http://h:8428", "org": "o", "bucket": "b",
                     "database": "d", "retention_policy": "rp", "gzip": false}]),
            &mut problems,
            &mut warnings,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(outputs.len(), 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("output \"vm\"") && warnings[0].contains("ignoring \"database\""),
            "{warnings:?}"
        );
        let SinkSettings::InfluxdbV2(v2) = &outputs[0].sink else {
            panic!()
        };
        assert!(!v2.gzip, "a key both types share is kept");
    }

    fn parse_outputs_ok(value: &Value, problems: &mut Vec<String>) -> Vec<OutputSpec> {
        let mut warnings = Vec::new();
        let outputs = parse_outputs(value, problems, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        outputs
    }
}
