//! Decoders: what turns a pushed payload (an MQTT message, an `/ingest` body)
//! into samples. Two are built in: `line-protocol` (the host reads it, as for
//! `/write`) and `json` (flat objects through the source's `"json"` mapping,
//! json.rs); every other decoder is a plugin's (`<plugin>.<decoder>`, the WIT
//! `decoding` export), run in the sandbox like a `sample` call. The transports
//! (mqtt.rs, api/ingest.rs) own delivery and acknowledgement; this module
//! only says what a payload holds.

use super::json::{self, JsonMapping};
use super::line_protocol::{self, Precision};
use super::push::SourceSpec;
use crate::plugins::{DecodeCall, Registry};
use crate::sample::Sample;
use std::sync::Arc;

/// The built-in decoder: InfluxDB line protocol, nanosecond timestamps.
pub const LINE_PROTOCOL: &str = "line-protocol";

/// Whether `name` can name a decoder: a built-in one, or `<plugin>.<decoder>`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name == LINE_PROTOCOL || name == json::NAME {
        return Ok(());
    }
    match name.split_once('.') {
        Some((plugin, decoder)) if !plugin.is_empty() && !decoder.is_empty() => Ok(()),
        _ => Err(format!(
            "\"decoder\": {name:?} names no decoder; use \"{LINE_PROTOCOL}\", \"{}\" or a plugin's decoder \"<plugin>.<decoder>\" such as \"isems.csvlog\" (GET /plugins lists them)",
            json::NAME
        )),
    }
}

/// A source's decoder, as its config names it.
#[derive(Debug, Clone)]
pub enum Decoder {
    LineProtocol,
    Json(Arc<JsonMapping>),
    /// `<plugin>.<decoder>`.
    Plugin(String),
}

impl Decoder {
    /// The decoder of an `mqtt` or `ingest` source (`None` for `write`).
    pub fn of(spec: &SourceSpec) -> Option<Decoder> {
        Some(match spec.decoder.as_deref()? {
            LINE_PROTOCOL => Decoder::LineProtocol,
            json::NAME => Decoder::Json(Arc::new(spec.json.clone().unwrap_or_default())),
            plugin => Decoder::Plugin(plugin.to_string()),
        })
    }
}

/// One pushed payload and where it came from (what the decoder is told).
pub struct Payload<'a> {
    /// The source's name in the config.
    pub source: &'a str,
    /// `mqtt` or `http`.
    pub transport: &'a str,
    /// The MQTT topic, or the HTTP path.
    pub topic: &'a str,
    /// When the host received it (ns since the epoch): the timestamp of
    /// points that carry none.
    pub received_ns: i64,
    pub bytes: &'a [u8],
}

/// What a payload held.
#[derive(Debug, Default)]
pub struct Decoded {
    pub samples: Vec<Sample>,
    /// Why (part of) the payload could not be read; the payload is then
    /// kept aside with this reason. The samples read are still stored.
    pub problem: Option<String>,
    /// Lines (line protocol) or payloads (a plugin) that could not be read.
    pub rejected: usize,
}

impl Decoded {
    fn bad(problem: String) -> Decoded {
        Decoded {
            samples: Vec::new(),
            problem: Some(problem),
            rejected: 1,
        }
    }
}

/// The decoder cannot run now (its plugin is not loaded, or no longer has
/// it): the payload is neither read nor refused; try again later.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

/// Reads a payload with the named decoder. Blocking: a plugin decoder runs
/// in the sandbox (run this off the async runtime).
pub fn decode(registry: &Registry, decoder: &Decoder, payload: &Payload<'_>) -> Result<Decoded, NotReady> {
    let decoder = match decoder {
        Decoder::LineProtocol => return Ok(decode_line_protocol(payload)),
        Decoder::Json(mapping) => {
            let read = json::decode(mapping, payload.source, payload.received_ns, payload.bytes);
            return Ok(Decoded {
                samples: read.samples,
                problem: read.problem,
                rejected: read.rejected,
            });
        }
        Decoder::Plugin(name) => name.as_str(),
    };
    let plugin = registry.plugin_for_decoder(decoder).map_err(NotReady)?;
    let source: Arc<str> = Arc::from(payload.source);
    let call = DecodeCall {
        decoder,
        source: &source,
        transport: payload.transport,
        topic: payload.topic,
        received_ns: payload.received_ns,
        payload: payload.bytes,
    };
    Ok(match registry.decode(&plugin, call) {
        Ok(samples) => Decoded {
            samples,
            problem: None,
            rejected: 0,
        },
        Err(e) => Decoded::bad(format!("decoder {decoder}: {e}")),
    })
}

fn decode_line_protocol(payload: &Payload<'_>) -> Decoded {
    let parsed = line_protocol::parse(payload.bytes, Precision::Ns, payload.received_ns);
    Decoded {
        samples: parsed.samples,
        problem: parsed.errors.first().map(|e| e.to_string()),
        rejected: parsed.error_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_names_are_the_built_in_one_or_plugin_dot_decoder() {
        for ok in [LINE_PROTOCOL, "json", "isems.csvlog", "my-plugin.json"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "isems", ".csvlog", "isems.", "influx"] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains("isems.csvlog"), "{e}");
        }
    }

    #[test]
    fn line_protocol_payloads_keep_good_lines_and_name_the_bad_one() {
        let payload = Payload {
            source: "s",
            transport: "mqtt",
            topic: "t",
            received_ns: 42,
            bytes: b"m v=1 5\nm v=\nm,a=b v=2i",
        };
        let d = decode_line_protocol(&payload);
        assert_eq!(d.samples.len(), 2);
        assert_eq!(d.samples[0].timestamp_ns, 5);
        assert_eq!(d.samples[1].timestamp_ns, 42, "no timestamp: the receive time");
        assert_eq!(d.rejected, 1);
        assert!(d.problem.unwrap().contains("unable to parse 'm v='"));
        let binary = Payload {
            bytes: &[0xff, 0xfe],
            ..payload
        };
        let d = decode_line_protocol(&binary);
        assert_eq!((d.samples.len(), d.rejected), (0, 1), "{:?}", d.problem);
    }
}
