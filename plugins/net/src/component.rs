//! WIT glue: `describe` and `sample` on top of the pure logic in `ping`.

use crate::ping::{self, Stats, Value};

wit_bindgen::generate!({
    path: "../../wit",
    world: "collector",
});

use datalogger::plugin::host::{log, Level};
use datalogger::plugin::ping::{echo, EchoRequest};
use datalogger::plugin::types::{ArgInfo, CapError, Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError, Tag};
use exports::datalogger::plugin::sampling::Guest;

const PING: &str = "net.ping";
const MEASUREMENT: &str = "ping";
/// Telegraf's tag for the target, so existing dashboards keep working.
const TARGET_TAG: &str = "url";

struct Net;

impl Guest for Net {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "net".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Network reachability: ICMP echo (ping) through the host".into(),
            keys: vec![KeyInfo {
                name: PING.into(),
                description: format!(
                    "Sends {} ICMP echo requests ({} ms apart, {} ms timeout each); average round trip in ms, \
                     plus minimum_response_ms, maximum_response_ms, standard_deviation_ms, packets_transmitted, \
                     packets_received, percent_packet_loss and result_code (0 ok, 1 no reply or unknown host, \
                     2 nothing sent). With no reply the primary value is percent_packet_loss (100).",
                    ping::COUNT,
                    ping::INTERVAL_MS,
                    ping::TIMEOUT_MS
                ),
                arg: Some(ArgInfo {
                    description: "host name or IP address to ping".into(),
                    required: true,
                }),
                unit: "ms".into(),
            }],
        }
    }

    fn sample(key: String, arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        if key != PING {
            return Err(SampleError::BadArgument(format!(
                "unknown key {key:?}; the net plugin serves {PING}"
            )));
        }
        let target = ping::target(arg.as_deref()).map_err(SampleError::BadArgument)?;
        let request = EchoRequest {
            target: target.into(),
            count: ping::COUNT,
            timeout_ms: ping::TIMEOUT_MS,
            interval_ms: ping::INTERVAL_MS,
        };
        let fields = match echo(&request) {
            Ok(s) => ping::fields(&Stats {
                transmitted: s.transmitted,
                received: s.received,
                min_ms: s.min_ms,
                avg_ms: s.avg_ms,
                max_ms: s.max_ms,
                stddev_ms: s.stddev_ms,
            }),
            Err(CapError::Unavailable(m) | CapError::Invalid(m)) if ping::is_unresolved_name(target, &m) => {
                // Telegraf's answer for an unknown host is a sample with
                // result_code 1, not an error: like "no reply" it is a reading,
                // stored every poll, so the reason goes to the debug log only
                // (a warning every poll would flood the log).
                log(Level::Debug, &format!("ping {target}: {m}"));
                ping::unknown_host_fields()
            }
            Err(e) => return Err(sample_error(target, e)),
        };
        Ok(vec![Point {
            measurement: MEASUREMENT.into(),
            tags: vec![Tag {
                key: TARGET_TAG.into(),
                value: target.into(),
            }],
            fields: fields
                .into_iter()
                .map(|(name, value)| Field {
                    name: name.into(),
                    value: match value {
                        Value::Int(v) => FieldValue::Int(v),
                        Value::Float(v) => FieldValue::Float(v),
                    },
                })
                .collect(),
            // The host stamps it with the tick time.
            timestamp_ns: None,
        }])
    }
}

/// Maps a capability error to the item's error, keeping the host's message
/// (which names the plugin and target for a missing grant) verbatim.
fn sample_error(target: &str, e: CapError) -> SampleError {
    let text = |m: String| {
        let mut text = format!("cannot ping {target}: {m}");
        if let Some(hint) = ping::permission_hint(&m) {
            text.push_str("; ");
            text.push_str(hint);
        }
        text
    };
    match e {
        CapError::NotGranted(m) | CapError::Unavailable(m) => SampleError::Unavailable(text(m)),
        CapError::Invalid(m) => SampleError::BadArgument(text(m)),
        CapError::Timeout(m) => SampleError::Timeout(text(m)),
        CapError::Failed(m) => SampleError::Failed(text(m)),
    }
}

export!(Net);
