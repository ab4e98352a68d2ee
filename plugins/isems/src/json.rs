//! The `isems.json` decoder: the JSON variant ISEMS nodes publish over MQTT on
//! `/isems/<nodeId>/data.json` — one flat object whose keys are the log line's
//! field names, without the node id and without a timestamp. It becomes the
//! point `isems.node` makes of the equivalent log line: measurement `isems`,
//! tag `nodeId` (the topic's second level), the same field names and types,
//! stamped with the time the host received the payload.
//!
//! What it accepts, and why:
//! - The 16 fields of [`FIELDS`] are required and `status` is optional, as a
//!   log line has 18 fields or 19 with the status. A field's value is a JSON
//!   value of its kind, or a string holding what the log line would hold
//!   (`"14.073"`, `"1"`), read by the same rules. `isPowerSaveMode` may also be
//!   a JSON bool (stored as 0/1: the field is an int, a router's level 0–6).
//!   `status` is a string of three hex digits (`"300"` or `"0x300"`); a JSON
//!   number is refused, as `300` could mean 0x300 or 300.
//! - A missing field or a value of the wrong kind refuses the payload, as
//!   `isems.node` skips a log line with a bad field: the object is the
//!   message's only reading, so there is nothing left to store.
//! - `null` counts as absent. Other keys are ignored, and named in a warning;
//!   the status flags (`charging`, ...) are ignored silently where `status`
//!   is present, because they are always derived from it.
//! - `nodeId` and `timestamp` keys, which the nodes do not send, are used
//!   when present: `nodeId` before the topic's node level (as `isems.csvlog`
//!   takes the line's node id over the topic's), so a payload POSTed to
//!   `/ingest/{source}` (whose topic is that path) can name its node;
//!   `timestamp` (whole unix seconds from 2001 on, as field 3) instead of the
//!   receive time. Without a timestamp a redelivered message is stored again,
//!   at its new receive time.

use crate::node::{Point, MEASUREMENT};
use crate::parse::{parse_status, quote, status_fields, Kind, Value, FIELDS, MIN_TIMESTAMP_S, STATUS_FLAGS};
use serde_json::{Map, Value as Json};

/// The topic the node id comes from.
pub const TOPIC: &str = "/isems/<nodeId>/data.json";

/// Unknown keys named in a warning, at most.
const MAX_NAMED: usize = 5;

/// What a payload held: its point, and the keys that were ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub point: Point,
    /// The ignored keys (for the host log), if any.
    pub warning: Option<String>,
}

/// Reads one payload that arrived on `topic` over `transport` (`mqtt` or
/// `http`) at `received_ns`; an error says why it is not an ISEMS reading.
pub fn decode(transport: &str, topic: &str, received_ns: i64, payload: &[u8]) -> Result<Decoded, String> {
    let object = match serde_json::from_slice::<Json>(payload) {
        Ok(Json::Object(object)) => object,
        Ok(other) => {
            return Err(format!(
                "the payload on {topic} is JSON {}, not an object of ISEMS fields",
                kind_of(&other)
            ))
        }
        Err(e) => {
            return Err(format!(
                "the payload on {topic} is not JSON ({e}): {}",
                quote(&String::from_utf8_lossy(payload))
            ))
        }
    };
    let node_id = node_id(transport, topic, &object)?;
    let timestamp_ns = match present(&object, "timestamp") {
        None => received_ns,
        Some(value) => timestamp_ns(value)?,
    };

    let mut fields = Vec::with_capacity(FIELDS.len() + 1 + STATUS_FLAGS.len());
    let mut missing = Vec::new();
    for &(_, name, kind) in &FIELDS {
        match present(&object, name) {
            None => missing.push(name),
            Some(value) => fields.push((name, field(name, kind, value)?)),
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "the object on {topic} lacks {} of the {} ISEMS fields every reading has: {}",
            missing.len(),
            FIELDS.len(),
            missing.join(", ")
        ));
    }
    let status = present(&object, "status").map(status).transpose()?;
    if let Some(status) = status {
        fields.extend(status_fields(status));
    }

    let ignored: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|key| {
            let known = FIELDS.iter().any(|(_, name, _)| name == key)
                || ["nodeId", "timestamp", "status"].contains(key)
                || (status.is_some() && STATUS_FLAGS.iter().any(|(_, flag)| flag == key));
            !known
        })
        .collect();
    let warning = (!ignored.is_empty()).then(|| {
        let mut named: Vec<String> = ignored.iter().take(MAX_NAMED).map(|k| quote(k)).collect();
        if ignored.len() > MAX_NAMED {
            named.push(format!("and {} more", ignored.len() - MAX_NAMED));
        }
        format!(
            "ignored {} unknown key{} of the object on {topic} (isems.json reads the ISEMS field names): {}",
            ignored.len(),
            if ignored.len() == 1 { "" } else { "s" },
            named.join(", ")
        )
    });
    Ok(Decoded {
        point: Point {
            measurement: MEASUREMENT,
            tags: vec![("nodeId", node_id)],
            fields,
            timestamp_ns: Some(timestamp_ns),
        },
        warning,
    })
}

/// The value of `key`, unless it is absent or `null`.
fn present<'a>(object: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    object.get(key).filter(|v| !v.is_null())
}

/// The second level of `/isems/<nodeId>/data.json`.
pub fn topic_node_id(topic: &str) -> Option<&str> {
    let id = topic.strip_prefix("/isems/")?.strip_suffix("/data.json")?.trim();
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

fn node_id(transport: &str, topic: &str, object: &Map<String, Json>) -> Result<String, String> {
    if let Some(value) = present(object, "nodeId") {
        return match value.as_str().map(str::trim) {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err(format!(
                "nodeId in the object on {topic} is not a node id (non-empty text): {}",
                quote(&value.to_string())
            )),
        };
    }
    if let Some(id) = topic_node_id(topic) {
        return Ok(id.to_string());
    }
    Err(if transport == "mqtt" {
        format!(
            "no node id for the object on MQTT topic {topic}: isems.json takes it from the topic \
             {TOPIC} (or from a \"nodeId\" key in the object)"
        )
    } else {
        format!(
            "no node id for the object sent to {topic} over {transport}: isems.json takes it from the \
             MQTT topic {TOPIC}; a payload sent any other way needs a \"nodeId\" key in the object"
        )
    })
}

fn timestamp_ns(value: &Json) -> Result<i64, String> {
    let seconds = match value {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(seconds) = seconds else {
        return Err(format!(
            "timestamp is not whole unix seconds: {}",
            quote(&value.to_string())
        ));
    };
    if seconds < MIN_TIMESTAMP_S {
        return Err(format!(
            "timestamp {seconds} is before 2001: the node's clock is not set yet"
        ));
    }
    seconds
        .checked_mul(1_000_000_000)
        .ok_or_else(|| format!("timestamp {seconds} is out of range"))
}

/// One field: a JSON value of its kind, or the log line's text for it.
fn field(name: &str, kind: Kind, value: &Json) -> Result<Value, String> {
    let parsed = match (kind, value) {
        (_, Json::String(s)) => kind.parse(s.trim()),
        (Kind::Float, Json::Number(n)) => n.as_f64().filter(|v| v.is_finite()).map(Value::Float),
        (Kind::Int, Json::Number(n)) => n.as_i64().map(Value::Int),
        (Kind::Int, Json::Bool(b)) if name == "isPowerSaveMode" => Some(Value::Int((*b).into())),
        (Kind::Text, Json::Number(n)) => Some(Value::Text(n.to_string())),
        _ => None,
    };
    parsed.ok_or_else(|| format!("{name} is not {}: {}", kind.expected(), quote(&value.to_string())))
}

fn status(value: &Json) -> Result<u16, String> {
    match value {
        Json::String(s) => parse_status(s.trim()).map_err(|_| format!("status is not three hex digits: {}", quote(s))),
        Json::Number(n) => Err(format!(
            "status is the number {n}; ISEMS status is three hex digits, so give it as text \
             (\"300\" or \"0x300\"): a number could be either base"
        )),
        _ => Err(format!("status is not three hex digits: {}", quote(&value.to_string()))),
    }
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_line;
    use serde_json::json;

    const TOPIC_A: &str = "/isems/Elektra-Dach-Neu/data.json";
    const AT: i64 = 1_700_000_000_123_456_789;
    const LINE: &str = "Elektra-Dach-Neu;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635;300";

    /// The object a node publishes for [`LINE`].
    fn object() -> Json {
        json!({
            "isemsRevision": 1, "openMPPTFirmwareVersion": "ATmega8_A_1", "timeToShutdown": 711,
            "isPowerSaveMode": 0, "openCircuitVoltage": 18.614, "mppVoltage": 18.614,
            "batteryVoltage": 14.073, "batteryChargeEstimate": 100, "batteryHealthEstimate": 100,
            "batteryTemperature": 28, "lowVoltageDisconnectVoltage": 11.67,
            "temperatureCorrectedVoltage": 14.086, "rateBatteryCapacity": 7,
            "ratedSolarModuleCapacity": 20, "latitude": 52.507309, "longitude": 13.458635,
            "status": "300"
        })
    }

    fn run(topic: &str, payload: &Json) -> Result<Decoded, String> {
        decode("mqtt", topic, AT, payload.to_string().as_bytes())
    }

    fn with(changes: Json) -> Json {
        let mut o = object();
        for (k, v) in changes.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    }

    #[test]
    fn an_object_is_the_point_isems_node_makes_of_the_same_line_at_the_receive_time() {
        let d = run(TOPIC_A, &object()).unwrap();
        assert_eq!(d.warning, None);
        let line = parse_line(LINE).unwrap();
        assert_eq!(d.point.measurement, "isems");
        assert_eq!(d.point.tags, vec![("nodeId", line.node_id.clone())]);
        assert_eq!(d.point.fields, line.fields, "same names, order and types");
        assert_eq!(d.point.timestamp_ns, Some(AT));
        // Without status: the 18-field line's fields.
        let mut o = object();
        o.as_object_mut().unwrap().remove("status");
        let old = LINE.rsplit_once(';').unwrap().0;
        assert_eq!(run(TOPIC_A, &o).unwrap().point.fields, parse_line(old).unwrap().fields);
        assert_eq!(
            run(TOPIC_A, &with(json!({"status": null}))).unwrap().point.fields.len(),
            16
        );
    }

    #[test]
    fn values_may_be_the_log_lines_text_and_are_read_by_its_rules() {
        // Every value as a string, as the line has it.
        let parts: Vec<&str> = LINE.split(';').collect();
        let mut o = serde_json::Map::new();
        for &(i, name, _) in &FIELDS {
            o.insert(name.into(), json!(format!(" {} ", parts[i])));
        }
        o.insert("status".into(), json!("0x300"));
        let d = run(TOPIC_A, &Json::Object(o)).unwrap();
        assert_eq!(d.point.fields, parse_line(LINE).unwrap().fields);
        // A bool power-save flag is the int 0/1; a numeric firmware version is its text.
        let d = run(
            TOPIC_A,
            &with(json!({"isPowerSaveMode": true, "openMPPTFirmwareVersion": 3})),
        )
        .unwrap();
        let get = |n: &str| d.point.fields.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(get("isPowerSaveMode"), Value::Int(1));
        assert_eq!(get("openMPPTFirmwareVersion"), Value::Text("3".into()));
        assert_eq!(get("latitude"), Value::Float(52.507309));
        assert_eq!(
            get("batteryChargeEstimate"),
            Value::Float(100.0),
            "an integer is a float field's value"
        );
    }

    #[test]
    fn a_bad_or_missing_field_refuses_the_payload() {
        let cases = [
            (
                json!({"batteryVoltage": "abc"}),
                "batteryVoltage is not a number: \"\\\"abc\\\"\"",
            ),
            (json!({"batteryVoltage": "NaN"}), "batteryVoltage is not a number"),
            (json!({"batteryVoltage": true}), "batteryVoltage is not a number"),
            (json!({"batteryVoltage": [1]}), "batteryVoltage is not a number"),
            (json!({"timeToShutdown": 7.5}), "timeToShutdown is not an integer"),
            (json!({"isemsRevision": 1.0}), "isemsRevision is not an integer"),
            (json!({"isemsRevision": true}), "isemsRevision is not an integer"),
            (json!({"timeToShutdown": u64::MAX}), "timeToShutdown is not an integer"),
            (
                json!({"openMPPTFirmwareVersion": {"v": 1}}),
                "openMPPTFirmwareVersion is not text",
            ),
            (json!({"status": 300}), "status is the number 300"),
            (json!({"status": "zz"}), "status is not three hex digits: \"zz\""),
            (json!({"status": false}), "status is not three hex digits"),
            (json!({"timestamp": 0}), "before 2001"),
            (
                json!({"timestamp": 1530364575.5}),
                "timestamp is not whole unix seconds",
            ),
            (json!({"timestamp": 99999999999999999i64}), "out of range"),
            (json!({"nodeId": ""}), "nodeId in the object"),
            (json!({"nodeId": 7}), "nodeId in the object"),
        ];
        for (change, want) in cases {
            let err = run(TOPIC_A, &with(change.clone())).expect_err(&change.to_string());
            assert!(err.contains(want), "{change}: {err:?} does not contain {want:?}");
        }
        let mut o = object();
        o.as_object_mut().unwrap().remove("latitude");
        o["longitude"] = Json::Null;
        let err = run(TOPIC_A, &o).unwrap_err();
        assert!(
            err.ends_with("lacks 2 of the 16 ISEMS fields every reading has: latitude, longitude"),
            "{err}"
        );
        assert!(run(TOPIC_A, &json!({})).unwrap_err().contains("lacks 16 of the 16"));
    }

    #[test]
    fn payloads_that_are_not_an_object_are_refused() {
        for (payload, want) in [
            (&b"Elektra;1;2"[..], "is not JSON"),
            (b"", "is not JSON"),
            (b"{\"batteryVoltage\": 1,", "is not JSON"),
            (b"[1, 2]", "JSON an array, not an object"),
            (b"14.073", "JSON a number"),
            (b"null", "JSON null"),
            (&[0xff, 0xfe], "is not JSON"),
        ] {
            let err = decode("mqtt", TOPIC_A, AT, payload).unwrap_err();
            assert!(err.contains(want), "{payload:?}: {err}");
            assert!(err.contains(TOPIC_A), "{err}");
        }
        let long = format!("x{}", "y".repeat(10_000));
        assert!(decode("mqtt", TOPIC_A, AT, long.as_bytes()).unwrap_err().len() < 300);
    }

    #[test]
    fn unknown_keys_are_ignored_with_a_warning_status_flags_where_status_is_given() {
        let d = run(TOPIC_A, &with(json!({"rssi": -70, "uptime": 5}))).unwrap();
        assert_eq!(d.point.fields, parse_line(LINE).unwrap().fields);
        let w = d.warning.unwrap();
        assert!(
            w.starts_with("ignored 2 unknown keys of the object on /isems/Elektra-Dach-Neu/data.json"),
            "{w}"
        );
        assert!(w.contains("\"rssi\"") && w.contains("\"uptime\""), "{w}");
        // Flags beside status are derived from it, whatever they say.
        let d = run(TOPIC_A, &with(json!({"charging": true, "healthy": false}))).unwrap();
        assert_eq!((d.warning, d.point.fields), (None, parse_line(LINE).unwrap().fields));
        let mut o = with(json!({"charging": true}));
        o.as_object_mut().unwrap().remove("status");
        let d = run(TOPIC_A, &o).unwrap();
        assert_eq!(d.point.fields.len(), 16);
        assert!(d.warning.unwrap().contains("1 unknown key of"));
        // Many: five named, the rest counted.
        let many: serde_json::Map<String, Json> = (0..8).map(|i| (format!("k{i}"), json!(i))).collect();
        let w = run(TOPIC_A, &with(Json::Object(many))).unwrap().warning.unwrap();
        assert!(
            w.starts_with("ignored 8 unknown keys") && w.ends_with("and 3 more"),
            "{w}"
        );
    }

    #[test]
    fn the_node_id_comes_from_the_topic_or_a_node_id_key() {
        assert_eq!(
            topic_node_id("/isems/Elektra Dach Neu/data.json"),
            Some("Elektra Dach Neu")
        );
        for bad in [
            "isems/x/data.json",
            "/isems//data.json",
            "/isems/a/b/data.json",
            "/isems/x/csvlog",
            "/ingest/nodes",
            "/isems/x/data.json/",
        ] {
            assert_eq!(topic_node_id(bad), None, "{bad}");
        }
        let tag = |d: Decoded| d.point.tags[0].1.clone();
        assert_eq!(tag(run("/isems/Haus 7/data.json", &object()).unwrap()), "Haus 7");
        // A nodeId key names the node where the topic cannot, and before the topic.
        let named = with(json!({"nodeId": " Elektra-Dach "}));
        assert_eq!(tag(run("/isems/other/data.json", &named).unwrap()), "Elektra-Dach");
        let d = decode("http", "/ingest/nodes", AT, named.to_string().as_bytes()).unwrap();
        assert_eq!((tag(d.clone()), d.warning), ("Elektra-Dach".to_string(), None));
        // Neither: refused, saying where the id comes from.
        let err = decode("http", "/ingest/nodes", AT, object().to_string().as_bytes()).unwrap_err();
        assert!(
            err.contains("/ingest/nodes over http")
                && err.contains("MQTT topic /isems/<nodeId>/data.json")
                && err.contains("\"nodeId\" key"),
            "{err}"
        );
        let err = run("/isems/x/csvlog", &object()).unwrap_err();
        assert!(
            err.contains("MQTT topic /isems/x/csvlog") && err.contains(TOPIC),
            "{err}"
        );
    }

    #[test]
    fn a_timestamp_key_is_the_nodes_own_time() {
        for ts in [json!(1530364575), json!("1530364575")] {
            let d = run(TOPIC_A, &with(json!({"timestamp": ts}))).unwrap();
            assert_eq!(d.point.timestamp_ns, Some(1_530_364_575_000_000_000));
            assert_eq!(d.warning, None);
        }
        let d = run(TOPIC_A, &with(json!({"timestamp": null}))).unwrap();
        assert_eq!(d.point.timestamp_ns, Some(AT));
    }
}
