//! The ISEMS collector's read API (`GET /measurements/latest`,
//! `GET /measurements/{nodeId}/latest`), answered from the store byte for
//! byte as the original did (ISEMS/isems-data-collector: compact JSON, sorted
//! keys, every column, numbers as floats), for the isems-app.
//!
//! Rows come from every item and source that stored measurement `isems` with
//! a `nodeId` tag — nodes polled over HTTP (`isems.node`) and those that
//! publish over MQTT (`isems.csvlog`) alike — merged per node: the same line
//! received both ways (same node, same time) is one row. Unlike the original,
//! times are kept in UTC and only rendered in the zone, so the hour a DST
//! change repeats does not collide, and a row's `id` is derived from its node
//! and time, so it survives compaction and the merge.

use crate::sample::{FieldValue, Sample};
use crate::store::{SampleFilter, Store};
use chrono::TimeZone;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// `GET /measurements/{nodeId}/latest` answers this many rows (a count, not a
/// time window), as the original did.
pub const NODE_ROWS: usize = 1440;

/// The tag that names a node.
pub const NODE_TAG: &str = "nodeId";

/// `"compat": {"isems": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsemsSettings {
    /// `/measurements/latest` leaves out nodes whose newest row is older
    /// than this (the original's `HIDE_INACTIVE_AFTER_DAYS`); `?all=true`
    /// shows them.
    pub hide_inactive_after_days: u32,
    /// The zone `timestamp` is written in: the original wrote Europe/Berlin
    /// wall time, and the isems-app reads it as local time.
    pub zone: String,
    /// Append the zone's offset (`+02:00`) to `timestamp`; the original did
    /// not. `"zone": "UTC", "offset": true` gives UTC with its offset.
    pub offset: bool,
    /// The measurement the ISEMS decoders and poller store.
    pub measurement: String,
}

impl Default for IsemsSettings {
    fn default() -> Self {
        IsemsSettings {
            hide_inactive_after_days: 30,
            zone: "Europe/Berlin".into(),
            offset: false,
            measurement: "isems".into(),
        }
    }
}

impl IsemsSettings {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.zone.parse::<chrono_tz::Tz>().is_err() {
            out.push(format!(
                "\"compat\": \"isems\": \"zone\" {:?} is not a time zone; use an IANA name such as \"Europe/Berlin\" or \"UTC\"",
                self.zone
            ));
        }
        if self.measurement.is_empty() {
            out.push("\"compat\": \"isems\": \"measurement\" is empty; leave it out for \"isems\"".into());
        }
        out
    }

    fn tz(&self) -> chrono_tz::Tz {
        self.zone.parse().unwrap_or(chrono_tz::Europe::Berlin)
    }
}

/// The newest row of every node, by node id; nodes silent for longer than
/// the cut-off are left out unless `all`. `now_ns` decides the cut-off.
pub async fn latest(store: &Store, settings: &IsemsSettings, all: bool, now_ns: i64) -> anyhow::Result<String> {
    let mut newest: BTreeMap<String, Sample> = BTreeMap::new();
    for (key, sample) in store.latest().await? {
        if key.measurement != settings.measurement {
            continue;
        }
        let Some(node) = key.tags.get(NODE_TAG) else { continue };
        let newer = newest
            .get(node)
            .is_none_or(|have| sample.timestamp_ns > have.timestamp_ns);
        if newer {
            newest.insert(node.clone(), sample);
        }
    }
    let cutoff = now_ns.saturating_sub(i64::from(settings.hide_inactive_after_days) * 86_400 * 1_000_000_000);
    let rows: Vec<&Sample> = newest.values().filter(|s| all || s.timestamp_ns >= cutoff).collect();
    Ok(answer(&rows, settings))
}

/// A node's newest `NODE_ROWS` rows, newest first; none for an unknown node.
pub async fn node_latest(store: &Store, settings: &IsemsSettings, node: &str) -> anyhow::Result<String> {
    let filter = SampleFilter {
        measurement: Some(settings.measurement.clone()),
        tags: BTreeMap::from([(NODE_TAG.to_string(), node.to_string())]),
        ..SampleFilter::default()
    };
    // A node stored by n items or sources may have each line n times.
    let series = store.series(None, &filter).await?.len().max(1);
    let samples = store.recent_of_all_items(&filter, NODE_ROWS * series).await?;
    let mut rows: Vec<&Sample> = Vec::with_capacity(NODE_ROWS);
    for s in &samples {
        if rows.last().is_some_and(|last| last.timestamp_ns == s.timestamp_ns) {
            continue;
        }
        rows.push(s);
        if rows.len() == NODE_ROWS {
            break;
        }
    }
    Ok(answer(&rows, settings))
}

/// `{"measurements":[...]}`, compact, keys sorted.
fn answer(rows: &[&Sample], settings: &IsemsSettings) -> String {
    let list: Vec<BTreeMap<&'static str, Value>> = rows.iter().map(|s| row(s, settings)).collect();
    let mut out = BTreeMap::new();
    out.insert("measurements", list);
    serde_json::to_string(&out).unwrap_or_else(|_| "{\"measurements\":[]}".into())
}

/// The original's float columns, each from the field of the same name.
const FLOAT_COLUMNS: [&str; 13] = [
    "timeToShutdown",
    "openCircuitVoltage",
    "mppVoltage",
    "batteryVoltage",
    "batteryChargeEstimate",
    "batteryHealthEstimate",
    "batteryTemperature",
    "lowVoltageDisconnectVoltage",
    "temperatureCorrectedVoltage",
    "rateBatteryCapacity",
    "ratedSolarModuleCapacity",
    "latitude",
    "longitude",
];

/// One stored sample as the original's measurement row.
fn row(s: &Sample, settings: &IsemsSettings) -> BTreeMap<&'static str, Value> {
    let fields: HashMap<&str, &FieldValue> = s.fields.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let node = s.tags.get(NODE_TAG).cloned().unwrap_or_default();
    let mut row = BTreeMap::new();
    row.insert("id", Value::from(row_id(&node, s.timestamp_ns)));
    row.insert(
        "timestamp",
        Value::from(timestamp(s.timestamp_ns, settings.tz(), settings.offset)),
    );
    row.insert("nodeId", Value::from(node));
    row.insert(
        "isemsRevision",
        fields.get("isemsRevision").map_or(Value::Null, |v| text(v)),
    );
    row.insert(
        "openMPPTFirmwareVersion",
        fields.get("openMPPTFirmwareVersion").map_or(Value::Null, |v| text(v)),
    );
    row.insert(
        "isPowerSaveMode",
        fields
            .get("isPowerSaveMode")
            .map_or(Value::Null, |v| Value::Bool(truthy(v))),
    );
    for column in FLOAT_COLUMNS {
        let value = fields.get(column).and_then(|v| float(v)).map_or(Value::Null, |f| {
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        });
        row.insert(column, value);
    }
    let status = fields.get("status").and_then(|v| float(v)).unwrap_or(0.0) as u16;
    row.insert("status", Value::from(format!("0x{status:03x}")));
    row
}

fn float(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::Uint(u) => Some(*u as f64),
        FieldValue::Boolean(b) => Some(f64::from(u8::from(*b))),
        FieldValue::Text(t) => t.trim().parse().ok(),
    }
}

fn text(v: &FieldValue) -> Value {
    Value::from(match v {
        FieldValue::Text(t) => t.clone(),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Uint(u) => u.to_string(),
        FieldValue::Float(f) => f.to_string(),
        FieldValue::Boolean(b) => u8::from(*b).to_string(),
    })
}

/// The original: the node's field is the string "1".
fn truthy(v: &FieldValue) -> bool {
    match v {
        FieldValue::Boolean(b) => *b,
        FieldValue::Text(t) => t.trim() == "1",
        other => float(other) == Some(1.0),
    }
}

/// A row's id: stable for a node and time (so it survives compaction and the
/// merge of polled and pushed rows) and below 2^53 (exact in JavaScript):
/// the node's time in seconds (33 bits, to the year 2242) above 20 bits of a
/// hash of its id. Two nodes collide only if their hashes do and they sent a
/// line in the same second.
pub fn row_id(node: &str, timestamp_ns: i64) -> u64 {
    let seconds = (timestamp_ns.div_euclid(1_000_000_000)).clamp(0, (1 << 33) - 1) as u64;
    // FNV-1a: small, stable across builds and platforms.
    let hash = node.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (seconds << 20) | (hash & 0xF_FFFF)
}

/// Python's `datetime.isoformat()` of the time in `zone`: fractional seconds
/// only when there are any, the offset only if asked for.
pub fn timestamp(ns: i64, zone: chrono_tz::Tz, offset: bool) -> String {
    super::isoformat(&zone.timestamp_nanos(ns), offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(node: &str, ts_s: i64, fields: Vec<(&str, FieldValue)>) -> Sample {
        Sample {
            measurement: "isems".into(),
            tags: BTreeMap::from([(NODE_TAG.to_string(), node.to_string())]),
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            timestamp_ns: ts_s * 1_000_000_000,
        }
    }

    /// What isems.node stores for the 18-field example line of devices.md.
    fn old_line() -> Sample {
        use FieldValue::{Float as F, Int as I, Text as T};
        sample(
            "Elektra-Dach",
            1_530_364_575,
            vec![
                ("batteryVoltage", F(14.073)),
                ("isemsRevision", I(1)),
                ("openMPPTFirmwareVersion", T("ATmega8_A_1".into())),
                ("timeToShutdown", I(711)),
                ("isPowerSaveMode", I(0)),
                ("openCircuitVoltage", F(18.614)),
                ("mppVoltage", F(18.614)),
                ("batteryChargeEstimate", F(100.0)),
                ("batteryHealthEstimate", F(100.0)),
                ("batteryTemperature", F(28.0)),
                ("lowVoltageDisconnectVoltage", F(11.67)),
                ("temperatureCorrectedVoltage", F(14.086)),
                ("rateBatteryCapacity", F(7.0)),
                ("ratedSolarModuleCapacity", F(20.0)),
                ("latitude", F(52.507309)),
                ("longitude", F(13.458635)),
            ],
        )
    }

    #[test]
    fn a_row_is_the_originals_json_byte_for_byte() {
        let s = old_line();
        let got = answer(&[&s], &IsemsSettings::default());
        let id = row_id("Elektra-Dach", s.timestamp_ns);
        let want = format!(
            concat!(
                r#"{{"measurements":[{{"batteryChargeEstimate":100.0,"batteryHealthEstimate":100.0,"#,
                r#""batteryTemperature":28.0,"batteryVoltage":14.073,"id":{},"isPowerSaveMode":false,"#,
                r#""isemsRevision":"1","latitude":52.507309,"longitude":13.458635,"#,
                r#""lowVoltageDisconnectVoltage":11.67,"mppVoltage":18.614,"nodeId":"Elektra-Dach","#,
                r#""openCircuitVoltage":18.614,"openMPPTFirmwareVersion":"ATmega8_A_1","#,
                r#""rateBatteryCapacity":7.0,"ratedSolarModuleCapacity":20.0,"status":"0x000","#,
                r#""temperatureCorrectedVoltage":14.086,"timeToShutdown":711.0,"#,
                r#""timestamp":"2018-06-30T15:16:15"}}]}}"#
            ),
            id
        );
        assert_eq!(got, want);
    }

    #[test]
    fn status_is_three_lower_case_hex_digits() {
        let mut s = old_line();
        s.fields.push(("status".into(), FieldValue::Int(0x300)));
        let r = row(&s, &IsemsSettings::default());
        assert_eq!(r["status"], "0x300");
        s.fields.last_mut().unwrap().1 = FieldValue::Int(0xabc);
        assert_eq!(row(&s, &IsemsSettings::default())["status"], "0xabc");
    }

    #[test]
    fn ids_are_stable_distinct_and_exact_in_javascript() {
        let a = row_id("Elektra-Dach", 1_530_364_575_000_000_000);
        assert_eq!(a, row_id("Elektra-Dach", 1_530_364_575_000_000_000));
        assert_ne!(a, row_id("Elektra-Dach-Neu", 1_530_364_575_000_000_000));
        assert_ne!(a, row_id("Elektra-Dach", 1_530_364_576_000_000_000));
        assert!(row_id("x", i64::MAX) < 1 << 53);
        assert!(row_id("x", -5) < 1 << 20, "times before 1970 clamp to 0");
    }

    #[test]
    fn timestamps_render_as_python_isoformat_in_the_zone() {
        let berlin = chrono_tz::Europe::Berlin;
        // Summer (+02:00) and winter (+01:00).
        assert_eq!(
            timestamp(1_530_364_575_000_000_000, berlin, false),
            "2018-06-30T15:16:15"
        );
        assert_eq!(
            timestamp(1_543_622_400_000_000_000, berlin, false),
            "2018-12-01T01:00:00"
        );
        assert_eq!(
            timestamp(1_530_364_575_000_000_000, berlin, true),
            "2018-06-30T15:16:15+02:00"
        );
        assert_eq!(
            timestamp(1_530_364_575_250_000_000, chrono_tz::UTC, true),
            "2018-06-30T13:16:15.250000+00:00"
        );
        // The hour the clocks repeat: two instants, two distinct renderings only with the offset.
        let first = 1_540_686_600_000_000_000; // 2018-10-28T00:30Z = 02:30+02:00
        let second = first + 3_600_000_000_000; // 01:30Z = 02:30+01:00
        assert_eq!(timestamp(first, berlin, false), timestamp(second, berlin, false));
        assert_ne!(timestamp(first, berlin, true), timestamp(second, berlin, true));
        assert_ne!(row_id("n", first), row_id("n", second), "yet their ids differ");
    }

    #[test]
    fn settings_problems_say_the_fix() {
        let bad = IsemsSettings {
            zone: "Mars/Base".into(),
            ..IsemsSettings::default()
        };
        assert!(bad.problems()[0].contains("IANA name"), "{:?}", bad.problems());
        assert!(IsemsSettings::default().problems().is_empty());
    }
}
