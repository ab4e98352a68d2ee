//! What `/query` answers, in InfluxDB 1.x's JSON shape:
//! `{"results":[{"statement_id":0,"series":[{"name","tags","columns","values"}]}]}`,
//! an `"error"` in place of `"series"` for a statement that failed, and
//! neither for one that found nothing.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct QueryResponse {
    pub results: Vec<StatementResult>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StatementResult {
    pub statement_id: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StatementResult {
    pub fn error(statement_id: usize, message: impl Into<String>) -> Self {
        StatementResult {
            statement_id,
            series: Vec::new(),
            error: Some(message.into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Series {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub columns: Vec<String>,
    /// Rows; the first column is `time` in SELECT answers.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub values: Vec<Vec<Value>>,
}

/// How times are written: `epoch=h|m|s|ms|u|ns` as integers, else RFC 3339
/// (in the `tz()` zone's offset when the statement has one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeFormat {
    Epoch(i64),
    Rfc3339,
}

impl TimeFormat {
    /// The `epoch` parameter, or why it is not one.
    pub fn from_param(epoch: Option<&str>) -> Result<TimeFormat, String> {
        Ok(match epoch {
            None => TimeFormat::Rfc3339,
            Some("ns" | "n") => TimeFormat::Epoch(1),
            Some("u" | "µ") => TimeFormat::Epoch(1_000),
            Some("ms") => TimeFormat::Epoch(1_000_000),
            Some("s") => TimeFormat::Epoch(1_000_000_000),
            Some("m") => TimeFormat::Epoch(60_000_000_000),
            Some("h") => TimeFormat::Epoch(3_600_000_000_000),
            Some(other) => {
                return Err(format!(
                    "epoch={other:?} is not a time unit; use h, m, s, ms, u or ns (or leave it out for RFC 3339 times)"
                ))
            }
        })
    }

    pub fn format(&self, ns: i64, tz: Option<chrono_tz::Tz>) -> Value {
        match (self, tz) {
            (TimeFormat::Epoch(unit), _) => Value::from(ns / unit),
            (TimeFormat::Rfc3339, None) => {
                Value::from(DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            (TimeFormat::Rfc3339, Some(tz)) => {
                Value::from(tz.timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
        }
    }
}
