//! The built-in `json` decoder: flat JSON objects (one, or an array of them)
//! read through a small mapping in the source's config — which key is the
//! timestamp and in what format, which keys are tags, which are fields and of
//! what type. It covers what IoT devices POST, e.g. the IoT collector's
//! `{"deviceId": "device_3", "timestamp": "2026-11-22T10:15:00.123456",
//! "status": "ON", "pressure": 12.34, "temperature": 150.5}`.
//!
//! It is built in rather than a plugin because the mapping is per source and
//! the WIT `decode` call carries no configuration. Each object is read on its
//! own: a bad one is named in the problem (the payload is then kept aside)
//! and the good ones of the same array are still stored.

use crate::sample::{check_timestamp, FieldValue, Sample};
use chrono::{DateTime, NaiveDateTime, TimeZone};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The decoder's name in a source's `"decoder"`.
pub const NAME: &str = "json";
/// The `"zone"` that means the machine's own (its `TZ` or /etc/localtime).
pub const LOCAL: &str = "local";

/// Where a wall time without an offset is placed.
#[derive(Debug, Clone, Copy)]
enum Zone {
    Named(chrono_tz::Tz),
    Local,
}

impl Zone {
    fn of(name: Option<&str>) -> Zone {
        match name {
            Some(LOCAL) => Zone::Local,
            Some(z) => Zone::Named(z.parse().unwrap_or(chrono_tz::UTC)),
            None => Zone::Named(chrono_tz::UTC),
        }
    }

    /// The instant of a wall time: of one the clock shows twice (autumn) the
    /// first; `None` for one it skips (spring).
    fn place(self, naive: &NaiveDateTime) -> Option<i64> {
        match self {
            Zone::Named(tz) => tz.from_local_datetime(naive).earliest()?.timestamp_nanos_opt(),
            Zone::Local => chrono::Local
                .from_local_datetime(naive)
                .earliest()?
                .timestamp_nanos_opt(),
        }
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Named(tz) => write!(f, "{tz}"),
            Zone::Local => f.write_str("the machine's zone"),
        }
    }
}

/// Tag keys InfluxDB refuses (1.x `time`) or discards points for (2.x);
/// `item` is allowed, as for line protocol: a point's own `item` tag wins.
const REFUSED_TAG_KEYS: [&str; 3] = ["time", "_field", "_measurement"];
/// How many bad objects a problem names before it only counts them.
const NAMED_PROBLEMS: usize = 3;
/// The longest string field kept (InfluxDB's limit, as for line protocol).
const MAX_STRING_LEN: usize = 64 * 1024;

/// A source's `"json"`: how its objects become points.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMapping {
    /// The points' measurement; the source's name if unset.
    pub measurement: Option<String>,
    /// Where the timestamp is; the receive time if unset.
    pub time: Option<TimeKey>,
    /// Keys whose values become tags (strings, numbers and booleans as text).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Keys read as fields, each with its type; every other key is then
    /// ignored. If unset, every key that is not the time or a tag is a field,
    /// typed by its JSON value (numbers are floats, as Telegraf reads them).
    pub fields: Option<FieldTypes>,
}

/// The timestamp's key and format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeKey {
    pub key: String,
    #[serde(default)]
    pub format: TimeFormat,
    /// The zone of timestamps written without an offset (`iso8601` only),
    /// e.g. `"Europe/Berlin"`, or `"local"` for the machine's; UTC if unset.
    pub zone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// `2026-11-22T10:15:00.123456`, with or without an offset (`Z`, `+01:00`).
    #[default]
    Iso8601,
    /// Seconds since the epoch, possibly fractional (number or numeric string).
    Unix,
    UnixMs,
    UnixUs,
    UnixNs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Float,
    Integer,
    Unsigned,
    Boolean,
    String,
}

/// `"fields"`: each key with its type, in the order written (the first field
/// is the primary value), which a map would not keep.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldTypes(pub Vec<(String, FieldType)>);

impl<'de> Deserialize<'de> for FieldTypes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::deserialize(d)?;
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map {
            let t = FieldType::deserialize(v).map_err(|e| {
                serde::de::Error::custom(format!(
                    "field {k:?}: {e}; a field's type is one of \"float\", \"integer\", \"unsigned\", \"boolean\", \"string\""
                ))
            })?;
            out.push((k, t));
        }
        Ok(FieldTypes(out))
    }
}

impl JsonMapping {
    /// What is wrong with the mapping, each with its fix.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.measurement.as_deref() == Some("") {
            out.push("\"json\": \"measurement\" is empty; leave it out to use the source's name".into());
        }
        if let Some(t) = &self.time {
            if t.key.is_empty() {
                out.push("\"json\": \"time\": \"key\" is empty; name the key that holds the timestamp".into());
            }
            if let Some(z) = &t.zone {
                if t.format != TimeFormat::Iso8601 {
                    out.push("\"json\": \"time\": \"zone\" is only for \"format\": \"iso8601\"; remove it".into());
                } else if z != LOCAL && z.parse::<chrono_tz::Tz>().is_err() {
                    out.push(format!(
                        "\"json\": \"time\": \"zone\" {z:?} is not a time zone; use an IANA name such as \"Europe/Berlin\" or \"UTC\", or \"local\" for the machine's"
                    ));
                }
            }
        }
        let time_key = self.time.as_ref().map(|t| t.key.as_str());
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.is_empty() || REFUSED_TAG_KEYS.contains(&tag.as_str()) {
                out.push(format!(
                    "\"json\": \"tags\": {tag:?} cannot be a tag key (empty, or one of {}); rename it",
                    REFUSED_TAG_KEYS.join(", ")
                ));
            }
            if Some(tag.as_str()) == time_key || self.tags[..i].contains(tag) {
                out.push(format!(
                    "\"json\": \"tags\": {tag:?} is also the time or listed twice; list it once"
                ));
            }
        }
        if let Some(fields) = &self.fields {
            if fields.0.is_empty() {
                out.push("\"json\": \"fields\" is empty; list at least one, e.g. {\"temperature\": \"float\"}, or leave it out to read every key".into());
            }
            for (name, _) in &fields.0 {
                if name.is_empty() || crate::sample::RESERVED_FIELD_NAMES.contains(&name.as_str()) {
                    out.push(format!(
                        "\"json\": \"fields\": {name:?} cannot be a field name (empty, or one of {}); rename it",
                        crate::sample::RESERVED_FIELD_NAMES.join(", ")
                    ));
                }
                if Some(name.as_str()) == time_key || self.tags.contains(name) {
                    out.push(format!(
                        "\"json\": \"fields\": {name:?} is also the time or a tag; a key is one of them"
                    ));
                }
            }
        }
        out
    }
}

/// What a payload held: its points, the objects that could not be read and
/// a problem naming the first of them.
#[derive(Debug, Default)]
pub struct Read {
    pub samples: Vec<Sample>,
    pub rejected: usize,
    pub problem: Option<String>,
}

/// Reads a payload: one object or an array of objects. `measurement` is
/// the mapping's or the source's name; `received_ns` stamps objects when the
/// mapping has no `"time"`.
pub fn decode(mapping: &JsonMapping, source: &str, received_ns: i64, payload: &[u8]) -> Read {
    let value: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            return Read {
                samples: Vec::new(),
                rejected: 1,
                problem: Some(format!(
                    "the payload is not JSON ({e}); send an object or an array of objects"
                )),
            }
        }
    };
    let measurement = mapping.measurement.as_deref().unwrap_or(source);
    let zone = Zone::of(mapping.time.as_ref().and_then(|t| t.zone.as_deref()));
    let objects: Vec<&Value> = match &value {
        Value::Array(list) => list.iter().collect(),
        other => vec![other],
    };
    let mut read = Read::default();
    let mut problems = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let point = match object {
            Value::Object(map) => point(mapping, measurement, zone, received_ns, map),
            other => Err(format!("it is {}, not an object", kind(other))),
        };
        match point {
            Ok(s) => read.samples.push(s),
            Err(e) => {
                read.rejected += 1;
                if problems.len() < NAMED_PROBLEMS {
                    problems.push(match value.is_array() {
                        true => format!("object {i} of the array: {e}"),
                        false => format!("the object: {e}"),
                    });
                }
            }
        }
    }
    if read.rejected > 0 {
        let more = read.rejected - problems.len();
        let mut text = problems.join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        read.problem = Some(text);
    }
    read
}

fn point(
    mapping: &JsonMapping,
    measurement: &str,
    zone: Zone,
    received_ns: i64,
    map: &Map<String, Value>,
) -> Result<Sample, String> {
    let timestamp_ns = match &mapping.time {
        None => received_ns,
        Some(t) => {
            let v = map
                .get(&t.key)
                .ok_or_else(|| format!("it has no {:?} (the timestamp)", t.key))?;
            let ns = timestamp(v, t.format, zone).map_err(|e| format!("{:?}: {e}", t.key))?;
            check_timestamp(ns).map_err(|e| format!("{:?}: {e}", t.key))?;
            ns
        }
    };
    let mut tags = BTreeMap::new();
    for key in &mapping.tags {
        let text = match map.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            Some(other) => {
                return Err(format!(
                    "tag {key:?} is {}; a tag is a string, number or boolean",
                    kind(other)
                ))
            }
        };
        if !text.is_empty() {
            tags.insert(key.clone(), text);
        }
    }
    let mut fields = Vec::new();
    match &mapping.fields {
        Some(typed) => {
            for (key, ty) in &typed.0 {
                match map.get(key) {
                    None | Some(Value::Null) => {}
                    Some(v) => fields.push((
                        key.clone(),
                        typed_value(v, *ty).map_err(|e| format!("field {key:?}: {e}"))?,
                    )),
                }
            }
        }
        None => {
            let time_key = mapping.time.as_ref().map(|t| t.key.as_str());
            for (key, v) in map {
                if Some(key.as_str()) == time_key || mapping.tags.contains(key) || v.is_null() {
                    continue;
                }
                if key.is_empty() || crate::sample::RESERVED_FIELD_NAMES.contains(&key.as_str()) {
                    return Err(format!(
                        "key {key:?} cannot be a field name (reserved by InfluxDB); map it with \"time\" or list the fields to read in \"fields\""
                    ));
                }
                fields.push((key.clone(), inferred_value(v).map_err(|e| format!("key {key:?}: {e}"))?));
            }
        }
    }
    if fields.is_empty() {
        return Err(match &mapping.fields {
            Some(typed) => format!(
                "it has none of the fields {}",
                typed
                    .0
                    .iter()
                    .map(|(k, _)| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "it has no fields (only the time, tags or nulls)".into(),
        });
    }
    Ok(Sample {
        measurement: measurement.to_string(),
        tags,
        fields,
        timestamp_ns,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn inferred_value(v: &Value) -> Result<FieldValue, String> {
    match v {
        Value::Number(_) => typed_value(v, FieldType::Float),
        Value::String(_) => typed_value(v, FieldType::String),
        Value::Bool(b) => Ok(FieldValue::Boolean(*b)),
        other => Err(format!(
            "{} is not read (the decoder reads flat objects); flatten it or list the fields to read in \"fields\"",
            kind(other)
        )),
    }
}

fn typed_value(v: &Value, ty: FieldType) -> Result<FieldValue, String> {
    let wrong = || format!("{} where the mapping says {ty:?}", kind(v)).to_lowercase();
    Ok(match (ty, v) {
        (FieldType::Float, Value::Number(n)) => {
            let f = n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("{n} is not a finite float"))?;
            FieldValue::Float(f)
        }
        (FieldType::Integer, Value::Number(n)) => FieldValue::Int(
            whole(n)
                .and_then(|x| i64::try_from(x).ok())
                .ok_or_else(|| format!("{n} is not an integer in the signed 64-bit range"))?,
        ),
        (FieldType::Unsigned, Value::Number(n)) => FieldValue::Uint(
            whole(n)
                .and_then(|x| u64::try_from(x).ok())
                .ok_or_else(|| format!("{n} is not an integer in the unsigned 64-bit range"))?,
        ),
        (FieldType::Boolean, Value::Bool(b)) => FieldValue::Boolean(*b),
        (FieldType::String, Value::String(s)) => {
            if s.len() > MAX_STRING_LEN {
                return Err(format!("a string of {} bytes is longer than {MAX_STRING_LEN}", s.len()));
            }
            FieldValue::Text(s.clone())
        }
        _ => return Err(wrong()),
    })
}

/// A JSON number that is a whole number (`3` or `3.0`).
fn whole(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 2f64.powi(64)).then_some(f as i128)
}

/// A timestamp in ns since the epoch.
fn timestamp(v: &Value, format: TimeFormat, zone: Zone) -> Result<i64, String> {
    let scale: i128 = match format {
        TimeFormat::Iso8601 => {
            let Value::String(s) = v else {
                return Err(format!("{} where an ISO 8601 time (a string) belongs", kind(v)));
            };
            return iso8601(s, zone);
        }
        TimeFormat::Unix => 1_000_000_000,
        TimeFormat::UnixMs => 1_000_000,
        TimeFormat::UnixUs => 1_000,
        TimeFormat::UnixNs => 1,
    };
    let unit = format!("{format:?}").to_lowercase();
    let number = match v {
        Value::Number(n) => n.clone(),
        Value::String(s) => s
            .trim()
            .parse::<serde_json::Number>()
            .map_err(|_| format!("{s:?} is not a number ({unit} time)"))?,
        other => return Err(format!("{} where a {unit} time (a number) belongs", kind(other))),
    };
    let ns = match number.as_i64() {
        Some(i) => i128::from(i) * scale,
        None => {
            let f = number.as_f64().ok_or_else(|| format!("{number} is not a number"))?;
            (f * scale as f64).round() as i128
        }
    };
    i64::try_from(ns).map_err(|_| format!("{number} ({unit}) is outside the range of timestamps"))
}

fn iso8601(s: &str, zone: Zone) -> Result<i64, String> {
    let offset = DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_nanos_opt());
    let utc = match offset {
        Ok(ns) => ns,
        Err(_) => {
            let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .ok_or_else(|| {
                    format!("{s:?} is not an ISO 8601 time; write e.g. \"2026-11-22T10:15:00.123456\" or \"2026-11-22T09:15:00Z\"")
                })?;
            Some(zone.place(&naive).ok_or_else(|| {
                format!("{s:?} does not exist in {zone} (the clocks skipped it) or is out of range; send the time with its offset")
            })?)
        }
    };
    utc.ok_or_else(|| format!("{s:?} is outside the range of timestamps"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(v: Value) -> JsonMapping {
        let m: JsonMapping = serde_json::from_value(v).unwrap();
        assert_eq!(m.problems(), Vec::<String>::new());
        m
    }

    fn iot() -> JsonMapping {
        mapping(json!({
            "measurement": "devicedata",
            "time": {"key": "timestamp", "zone": "Europe/Berlin"},
            "tags": ["deviceId"],
            "fields": {"status": "string", "pressure": "float", "temperature": "float"}
        }))
    }

    #[test]
    fn the_iot_collectors_body_is_one_point_at_the_devices_local_time() {
        let body = br#"{"deviceId": "device_3", "timestamp": "2026-11-22T10:15:00.123456",
                        "status": "ON", "pressure": 12.34, "temperature": 150, "extra": [1]}"#;
        let r = decode(&iot(), "iot", 7, body);
        assert_eq!((r.rejected, r.problem), (0, None));
        let s = &r.samples[0];
        assert_eq!(s.measurement, "devicedata");
        assert_eq!(s.tags["deviceId"], "device_3");
        // 10:15 in Berlin in November is 09:15 UTC.
        assert_eq!(crate::sample::rfc3339_ns(s.timestamp_ns), "2026-11-22T09:15:00.123456Z");
        assert_eq!(
            s.fields,
            vec![
                ("status".to_string(), FieldValue::Text("ON".into())),
                ("pressure".to_string(), FieldValue::Float(12.34)),
                ("temperature".to_string(), FieldValue::Float(150.0)),
            ],
            "in the mapping's order; an integer is a float where the mapping says so; unlisted keys ignored"
        );
    }

    #[test]
    fn an_array_keeps_its_good_objects_and_names_the_bad_ones() {
        let body = br#"[{"deviceId": "a", "timestamp": "2026-11-22T10:15:00", "pressure": 1},
                        {"deviceId": "b", "timestamp": "yesterday", "pressure": 2},
                        {"deviceId": "c", "timestamp": "2026-11-22T10:15:00", "pressure": "high"},
                        7,
                        {"deviceId": "d", "timestamp": "2026-11-22T10:15:01Z"}]"#;
        let r = decode(&iot(), "iot", 0, body);
        assert_eq!(r.samples.len(), 1);
        assert_eq!(r.rejected, 4);
        let p = r.problem.unwrap();
        assert!(
            p.contains("object 1 of the array: \"timestamp\": \"yesterday\" is not an ISO 8601 time"),
            "{p}"
        );
        assert!(
            p.contains("object 2 of the array: field \"pressure\": a string where the mapping says float"),
            "{p}"
        );
        assert!(
            p.contains("object 3 of the array: it is a number, not an object"),
            "{p}"
        );
        assert!(p.ends_with("and 1 more"), "{p}");
    }

    #[test]
    fn without_a_mapping_every_key_is_a_field_stamped_with_the_receive_time() {
        let r = decode(
            &JsonMapping::default(),
            "src",
            42,
            br#"{"t": 21.5, "on": true, "n": 3, "name": "x", "gone": null}"#,
        );
        assert_eq!(r.problem, None);
        let s = &r.samples[0];
        assert_eq!((s.measurement.as_str(), s.timestamp_ns), ("src", 42));
        let names: Vec<&str> = s.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["t", "on", "n", "name"]);
        assert_eq!(s.fields[2].1, FieldValue::Float(3.0), "numbers are floats unless typed");
        for (body, want) in [
            (&br#"{"a": {"b": 1}}"#[..], "key \"a\": an object is not read"),
            (br#"{"time": 1}"#, "reserved"),
            (br#"{}"#, "no fields"),
            (b"{not json", "not JSON"),
        ] {
            let r = decode(&JsonMapping::default(), "src", 0, body);
            assert!(
                r.problem.as_deref().unwrap_or("").contains(want),
                "{:?}: {:?}",
                String::from_utf8_lossy(body),
                r.problem
            );
            assert!(r.samples.is_empty());
        }
    }

    #[test]
    fn unix_times_in_every_unit_and_typed_integers() {
        let m = |format: &str| {
            mapping(
                json!({"time": {"key": "ts", "format": format}, "fields": {"n": "integer", "u": "unsigned", "b": "boolean"}}),
            )
        };
        let cases = [
            ("unix", json!(1_700_000_000.5), 1_700_000_000_500_000_000i64),
            ("unix", json!("1700000000"), 1_700_000_000_000_000_000),
            ("unix_ms", json!(1_700_000_000_123i64), 1_700_000_000_123_000_000),
            ("unix_us", json!(1_700_000_000_123_456i64), 1_700_000_000_123_456_000),
            (
                "unix_ns",
                json!(1_700_000_000_123_456_789i64),
                1_700_000_000_123_456_789,
            ),
        ];
        for (format, ts, want) in cases {
            let body = json!({"ts": ts, "n": -3, "u": 4.0, "b": false}).to_string();
            let r = decode(&m(format), "s", 0, body.as_bytes());
            assert_eq!(r.problem, None, "{format}");
            assert_eq!(r.samples[0].timestamp_ns, want, "{format} {ts}");
            assert_eq!(r.samples[0].fields[0].1, FieldValue::Int(-3));
            assert_eq!(r.samples[0].fields[1].1, FieldValue::Uint(4));
        }
        for (body, want) in [
            (json!({"ts": 1, "n": 1.5}), "not an integer"),
            (json!({"ts": 1, "u": -1}), "unsigned"),
            (json!({"ts": 1e30, "n": 1}), "outside the range"),
            (json!({"n": 1}), "has no \"ts\""),
        ] {
            let r = decode(&m("unix"), "s", 0, body.to_string().as_bytes());
            assert!(
                r.problem.as_deref().unwrap_or("").contains(want),
                "{body}: {:?}",
                r.problem
            );
        }
    }

    #[test]
    fn wall_times_around_the_clock_changes() {
        let berlin = Zone::Named(chrono_tz::Europe::Berlin);
        // 2026-10-25 02:30 happens twice in Berlin: the first (summer time, +02:00).
        assert_eq!(
            crate::sample::rfc3339_ns(iso8601("2026-10-25T02:30:00", berlin).unwrap()),
            "2026-10-25T00:30:00Z"
        );
        // 2026-03-29 02:30 never happens there.
        assert!(iso8601("2026-03-29T02:30:00", berlin)
            .unwrap_err()
            .contains("does not exist"));
        // An offset wins over the zone; a space instead of the T is read too.
        assert_eq!(
            iso8601("2026-11-22T10:15:00+01:00", Zone::Named(chrono_tz::UTC)),
            iso8601("2026-11-22 10:15:00", berlin)
        );
    }

    #[test]
    fn mapping_problems_say_the_fix() {
        let cases = [
            (
                json!({"time": {"key": "t", "format": "unix", "zone": "Europe/Berlin"}}),
                "only for",
            ),
            (json!({"time": {"key": "t", "zone": "Mars/Base"}}), "not a time zone"),
            (json!({"tags": ["time"]}), "cannot be a tag key"),
            (json!({"tags": ["a", "a"]}), "listed twice"),
            (json!({"fields": {}}), "is empty"),
            (json!({"tags": ["a"], "fields": {"a": "float"}}), "a key is one of them"),
            (json!({"fields": {"_field": "float"}}), "cannot be a field name"),
        ];
        for (v, want) in cases {
            let m: JsonMapping = serde_json::from_value(v.clone()).unwrap();
            assert!(m.problems().iter().any(|p| p.contains(want)), "{v}: {:?}", m.problems());
        }
        let e = serde_json::from_value::<JsonMapping>(json!({"fields": {"a": "double"}})).unwrap_err();
        assert!(e.to_string().contains("one of \"float\""), "{e}");
        let e = serde_json::from_value::<JsonMapping>(json!({"time": {"key": "t", "format": "epoch"}})).unwrap_err();
        assert!(e.to_string().contains("unix_ms"), "{e}");
    }
}
