//! The host's own model of one sample: what plugins return, what the store keeps
//! and what the REST API shows. Plugins speak the WIT types; everything after
//! `plugins::` speaks this one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A field value; mirrors the WIT `field-value` variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum FieldValue {
    Float(f64),
    Int(i64),
    Uint(u64),
    Boolean(bool),
    Text(String),
}

impl FieldValue {
    /// Plain JSON for the API (`1.5`, `3`, `true`, `"on"`).
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            FieldValue::Int(i) => Value::from(*i),
            FieldValue::Uint(u) => Value::from(*u),
            FieldValue::Boolean(b) => Value::Bool(*b),
            FieldValue::Text(s) => Value::String(s.clone()),
        }
    }

    /// Rough in-memory size, used for the result-size cap.
    pub fn approx_size(&self) -> usize {
        match self {
            FieldValue::Text(s) => s.len() + 8,
            _ => 8,
        }
    }
}

/// One stamped point, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
    /// In the order the plugin gave them: the first is the primary value.
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
}

impl Sample {
    /// The item's primary value: the first field.
    pub fn primary_value(&self) -> Value {
        self.fields.first().map_or(Value::Null, |(_, v)| v.to_json())
    }

    pub fn approx_size(&self) -> usize {
        let tags: usize = self.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
        let fields: usize = self.fields.iter().map(|(k, v)| k.len() + v.approx_size()).sum();
        self.measurement.len() + tags + fields + 16
    }

    /// The JSON shape the REST API uses:
    /// `{"measurement", "tags": {...}, "fields": {...}, "timestamp": RFC 3339 UTC}`.
    pub fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self.fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
        serde_json::json!({
            "measurement": self.measurement,
            "tags": self.tags,
            "fields": fields,
            "timestamp": rfc3339_ns(self.timestamp_ns),
        })
    }
}

/// The earliest timestamp a sample may carry: InfluxDB's (`i64::MIN + 2` ns,
/// 1677-09-21T00:12:43.145224194Z); it refuses anything earlier.
pub const MIN_TIMESTAMP_NS: i64 = i64::MIN + 2;
/// The latest: InfluxDB's (`i64::MAX - 1` ns, 2262-04-11T23:47:16.854775806Z).
pub const MAX_TIMESTAMP_NS: i64 = i64::MAX - 1;

/// Tag keys a sample may not carry: `item` is the tag the outputs add (the
/// item's name); `time` is refused by InfluxDB 1.x, and InfluxDB 2 discards
/// points with `time`, `_field` or `_measurement` as a tag or field key.
pub const RESERVED_TAG_KEYS: [&str; 4] = ["item", "time", "_field", "_measurement"];
/// Field names a sample may not carry: InfluxDB 1.x silently drops a `time`
/// field; InfluxDB 2 discards points with `_field` or `_measurement` fields.
pub const RESERVED_FIELD_NAMES: [&str; 3] = ["time", "_field", "_measurement"];

/// Why a timestamp cannot be stored and forwarded, if it cannot.
pub fn check_timestamp(ns: i64) -> Result<(), String> {
    match (MIN_TIMESTAMP_NS..=MAX_TIMESTAMP_NS).contains(&ns) {
        true => Ok(()),
        false => Err(format!(
            "timestamp {ns} ns is outside the range InfluxDB can store, {} to {} ({MIN_TIMESTAMP_NS} to {MAX_TIMESTAMP_NS} ns)",
            rfc3339_ns(MIN_TIMESTAMP_NS),
            rfc3339_ns(MAX_TIMESTAMP_NS)
        )),
    }
}

/// RFC 3339 in UTC with `Z`, with fractional seconds only when there are any.
pub fn rfc3339_ns(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Wall-clock now in ns since the Unix epoch.
pub fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_without_needless_fraction() {
        assert_eq!(rfc3339_ns(1_700_000_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_ns(1_700_000_000_500_000_000), "2023-11-14T22:13:20.500Z");
    }

    #[test]
    fn timestamps_outside_influxdbs_range_are_refused() {
        assert_eq!(rfc3339_ns(MIN_TIMESTAMP_NS), "1677-09-21T00:12:43.145224194Z");
        assert_eq!(rfc3339_ns(MAX_TIMESTAMP_NS), "2262-04-11T23:47:16.854775806Z");
        for ok in [MIN_TIMESTAMP_NS, 0, -1, MAX_TIMESTAMP_NS] {
            assert!(check_timestamp(ok).is_ok(), "{ok}");
        }
        for bad in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let e = check_timestamp(bad).unwrap_err();
            assert!(e.contains("outside the range") && e.contains("2262-04-11"), "{e}");
        }
    }

    #[test]
    fn primary_value_is_the_first_field() {
        let s = Sample {
            measurement: "system".into(),
            tags: BTreeMap::new(),
            fields: vec![
                ("load1".into(), FieldValue::Float(0.5)),
                ("n".into(), FieldValue::Int(2)),
            ],
            timestamp_ns: 0,
        };
        assert_eq!(s.primary_value(), serde_json::json!(0.5));
        assert_eq!(s.to_json()["fields"], serde_json::json!({"load1": 0.5, "n": 2}));
    }
}
