//! The IoT Data Collector's API (findcongwang/iot_data_collector_example):
//! devices `POST /devicedata` readings; `GET /dashboard` ranks devices per
//! feature; `GET /devices/{deviceId}/histogram` counts readings per status.
//!
//! Readings are stored through the intake path: the compat makes an `ingest`
//! source (`source`, "iot") read by the built-in `json` decoder, `deviceId` a
//! tag, `status` a string field, the device's naive timestamp placed in
//! `zone`. The dashboard is what the original meant: the top N *distinct*
//! devices by their highest value in the window, highest first (ties by
//! device id), each row the reading at that maximum (its earliest, if it
//! peaked twice) — built on the store's `top` and `value_counts`.

use crate::store::{SampleFilter, Store};
use chrono::TimeZone;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What a reading's `status` may be.
pub const STATUSES: [&str; 4] = ["ON", "OFF", "ACTIVE", "INACTIVE"];
/// What the dashboard ranks by.
pub const FEATURES: [&str; 2] = ["pressure", "temperature"];
/// The `interval`s the dashboard knows, and how far back each reaches.
pub const INTERVALS: [(&str, Option<i64>); 3] =
    [("all_time", None), ("past_minute", Some(60)), ("past_hour", Some(3600))];
/// The tag that names a device.
pub const DEVICE_TAG: &str = "deviceId";

/// `"compat": {"iot": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IotSettings {
    /// The `ingest` source readings are stored under (the store's item).
    pub source: String,
    pub measurement: String,
    /// Where the devices' naive timestamps are placed, and how they are
    /// written back: an IANA name, or `"local"` for the machine's zone.
    pub zone: String,
    /// Devices per feature on the dashboard (the original's `NUM_TOP_DEVICES`).
    pub top_devices: usize,
}

impl Default for IotSettings {
    fn default() -> Self {
        IotSettings {
            source: "iot".into(),
            measurement: "devicedata".into(),
            zone: crate::sources::json::LOCAL.into(),
            top_devices: 10,
        }
    }
}

impl IotSettings {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.zone != crate::sources::json::LOCAL && self.zone.parse::<chrono_tz::Tz>().is_err() {
            out.push(format!(
                "\"compat\": \"iot\": \"zone\" {:?} is not a time zone; use an IANA name such as \"Europe/Berlin\", or \"local\"",
                self.zone
            ));
        }
        if self.top_devices == 0 || self.source.is_empty() || self.measurement.is_empty() {
            out.push(
                "\"compat\": \"iot\": \"top_devices\" must be at least 1 and \"source\" and \"measurement\" non-empty"
                    .into(),
            );
        }
        out
    }

    /// The `"sources"` entry the compat adds: POSTed readings go through it.
    pub fn source_spec(&self) -> Value {
        json!({
            "name": self.source,
            "ingest": {"max_body_bytes": 65536},
            "decoder": "json",
            "json": {
                "measurement": self.measurement,
                "time": {"key": "timestamp", "format": "iso8601", "zone": self.zone},
                "tags": [DEVICE_TAG],
                "fields": {"status": "string", "pressure": "float", "temperature": "float"}
            }
        })
    }

    /// A stored time as the original wrote it: naive ISO 8601 in the zone.
    fn render(&self, ns: i64) -> String {
        match self.zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => super::isoformat(&tz.timestamp_nanos(ns), false),
            Err(_) => super::isoformat(&chrono::Local.timestamp_nanos(ns), false),
        }
    }
}

/// Checks a `POST /devicedata` body; the answer to echo (the five keys as
/// sent, sorted, compact — what the original's `jsonify(to_dict())` gave).
pub fn check_reading(body: &[u8]) -> Result<String, String> {
    let example = r#"{"deviceId": "device_3", "timestamp": "2026-11-22T10:15:00.123456", "status": "ON", "pressure": 12.34, "temperature": 150.5}"#;
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e}); send {example}"))?;
    let Value::Object(map) = value else {
        return Err(format!("the body must be a JSON object such as {example}"));
    };
    let text = |key: &str| match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        _ => Err(format!("{key:?} must be a non-empty string; send {example}")),
    };
    text(DEVICE_TAG)?;
    text("timestamp")?;
    match map.get("status").and_then(Value::as_str) {
        Some(s) if STATUSES.contains(&s) => {}
        other => {
            return Err(format!(
                "\"status\" is {}; it must be one of {}",
                other.map_or("missing or not a string".to_string(), |s| format!("{s:?}")),
                STATUSES.join(", ")
            ))
        }
    }
    for feature in FEATURES {
        if !map.get(feature).is_some_and(Value::is_number) {
            return Err(format!("{feature:?} must be a number; send {example}"));
        }
    }
    let echo: BTreeMap<&str, &Value> = ["deviceId", "timestamp", "status", "pressure", "temperature"]
        .into_iter()
        .filter_map(|k| Some((k, map.get(k)?)))
        .collect();
    Ok(serde_json::to_string(&echo).unwrap_or_default())
}

/// The window an `interval` names, or what the allowed ones are.
pub fn window(interval: &str, now_ns: i64) -> Result<Option<i64>, String> {
    match INTERVALS.iter().find(|(name, _)| *name == interval) {
        Some((_, back)) => Ok(back.map(|s| now_ns - s * 1_000_000_000)),
        None => Err(format!(
            "unknown interval {interval:?}; use one of {}",
            INTERVALS.map(|(n, _)| n).join(", ")
        )),
    }
}

/// Which features a `features` parameter names, or what the allowed ones are.
pub fn features(list: Option<&str>) -> Result<Vec<&'static str>, String> {
    let Some(list) = list else {
        return Ok(FEATURES.to_vec());
    };
    let mut out = Vec::new();
    for name in list.split(',') {
        let known = FEATURES.iter().find(|f| **f == name).ok_or_else(|| {
            format!(
                "unknown feature {name:?}; use a comma-separated list of {}",
                FEATURES.join(", ")
            )
        })?;
        if !out.contains(known) {
            out.push(*known);
        }
    }
    Ok(out)
}

/// `{"pressure": [reading, ...], ...}`: per feature the top devices by their
/// highest value since `from_ns` (`None`: all time).
pub async fn dashboard(
    store: &Store,
    settings: &IotSettings,
    features: &[&str],
    from_ns: Option<i64>,
) -> anyhow::Result<String> {
    let filter = SampleFilter {
        from_ns,
        measurement: Some(settings.measurement.clone()),
        ..SampleFilter::default()
    };
    let mut out: BTreeMap<&str, Vec<BTreeMap<&str, Value>>> = BTreeMap::new();
    for feature in features {
        let peaks = store.top(&filter, feature, DEVICE_TAG, settings.top_devices).await?;
        let rows = peaks
            .iter()
            .map(|p| {
                // Sorted keys, as Flask's jsonify wrote them.
                let mut row: BTreeMap<&str, Value> = BTreeMap::new();
                row.insert(DEVICE_TAG, Value::from(p.group.clone()));
                row.insert("timestamp", Value::from(settings.render(p.sample.timestamp_ns)));
                for key in ["status", "pressure", "temperature"] {
                    let value = p.sample.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.to_json());
                    row.insert(key, value.unwrap_or(Value::Null));
                }
                row
            })
            .collect();
        out.insert(feature, rows);
    }
    Ok(serde_json::to_string(&out)?)
}

/// `{"device_3": {"ACTIVE": 5, "OFF": 3, "ON": 12}}`: the device's readings
/// per status (statuses it never sent are left out, as the original's GROUP BY did).
pub async fn histogram(store: &Store, settings: &IotSettings, device: &str) -> anyhow::Result<String> {
    let filter = SampleFilter {
        measurement: Some(settings.measurement.clone()),
        tags: BTreeMap::from([(DEVICE_TAG.to_string(), device.to_string())]),
        ..SampleFilter::default()
    };
    let counts = store.value_counts(&filter, "status").await?;
    Ok(serde_json::to_string(&BTreeMap::from([(device, counts)]))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_checked_and_echoed_sorted_as_sent() {
        let echo = check_reading(
            br#"{"temperature": 150, "deviceId": "device_3", "timestamp": "2026-11-22T10:15:00.123456", "status": "ON", "pressure": 12.34, "x": 1}"#,
        )
        .unwrap();
        assert_eq!(
            echo,
            r#"{"deviceId":"device_3","pressure":12.34,"status":"ON","temperature":150,"timestamp":"2026-11-22T10:15:00.123456"}"#
        );
        for (body, want) in [
            (&b"nope"[..], "not JSON"),
            (b"[1]", "JSON object"),
            (
                br#"{"timestamp": "t", "status": "ON", "pressure": 1, "temperature": 2}"#,
                "\"deviceId\" must be",
            ),
            (
                br#"{"deviceId": "d", "timestamp": "t", "status": "DEAD", "pressure": 1, "temperature": 2}"#,
                "\"DEAD\"; it must be one of ON, OFF, ACTIVE, INACTIVE",
            ),
            (
                br#"{"deviceId": "d", "timestamp": "t", "status": "ON", "pressure": "1", "temperature": 2}"#,
                "\"pressure\" must be a number",
            ),
        ] {
            let e = check_reading(body).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn features_and_intervals_name_the_allowed_values() {
        assert_eq!(features(None).unwrap(), FEATURES);
        assert_eq!(
            features(Some("temperature,pressure,temperature")).unwrap(),
            ["temperature", "pressure"]
        );
        assert!(features(Some("humidity"))
            .unwrap_err()
            .contains("pressure, temperature"));
        // What the documented pattern refuses is refused, not read as "all".
        assert!(features(Some("")).is_err());
        assert!(features(Some("pressure, temperature")).is_err());
        assert_eq!(window("all_time", 100).unwrap(), None);
        assert_eq!(window("past_minute", 100_000_000_000).unwrap(), Some(40_000_000_000));
        assert!(window("past_day", 0)
            .unwrap_err()
            .contains("all_time, past_minute, past_hour"));
    }
}
