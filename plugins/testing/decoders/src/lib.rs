//! `decoders`: a test fixture for push sources, a decoder-only plugin (world
//! `decoder`: no `sampling` export, built with plain wit-bindgen). Its
//! decoders, each given a payload:
//!
//! - `decoders.kv`: lines `name=value` (float) → one point, measurement
//!   `kv`, field per line, tag `topic` = the source's topic, no timestamp
//!   (the host stamps the receive time); a line without `=` is `malformed`.
//! - `decoders.trap`: panics (a trap).
//! - `decoders.spin`: loops forever (the CPU deadline must end it).
//! - `decoders.hog`: allocates until the memory cap stops it.
//! - `decoders.flood`: returns 100,000 points (over the result cap).
//!
//! Never shipped.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "decoder",
});

use datalogger::plugin::types::{Field, FieldValue, Point, Tag};
use exports::datalogger::plugin::decoding::{DecodeError, DecoderInfo, DecodingInfo, Guest, SourceInfo};

struct Decoders;

fn decoder(name: &str, description: &str) -> DecoderInfo {
    DecoderInfo {
        name: format!("decoders.{name}"),
        description: description.into(),
    }
}

impl Guest for Decoders {
    fn describe_decoding() -> DecodingInfo {
        DecodingInfo {
            name: "decoders".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Push-source test fixture: decoders that work and decoders that misbehave".into(),
            decoders: vec![
                decoder("kv", "lines name=value (float) into one point of measurement kv"),
                decoder("trap", "panics"),
                decoder("spin", "loops forever"),
                decoder("hog", "allocates without end"),
                decoder("flood", "returns 100,000 points"),
            ],
        }
    }

    fn decode(decoder: String, source: SourceInfo, payload: Vec<u8>) -> Result<Vec<Point>, DecodeError> {
        match decoder.as_str() {
            "decoders.kv" => kv(&source, &payload),
            "decoders.trap" => panic!("decoders.trap was asked to decode {} bytes", payload.len()),
            "decoders.spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "decoders.hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "decoders.flood" => Ok((0..100_000)
                .map(|i| Point {
                    measurement: "flood".into(),
                    tags: Vec::new(),
                    fields: vec![Field {
                        name: "v".into(),
                        value: FieldValue::Int(i),
                    }],
                    timestamp_ns: Some(i),
                })
                .collect()),
            other => Err(DecodeError::Failed(format!("decoders has no decoder {other:?}"))),
        }
    }
}

fn kv(source: &SourceInfo, payload: &[u8]) -> Result<Vec<Point>, DecodeError> {
    let text = std::str::from_utf8(payload).map_err(|e| DecodeError::Malformed(format!("not UTF-8: {e}")))?;
    let mut fields = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| DecodeError::Malformed(format!("line {}: {line:?} is not name=value", n + 1)))?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| DecodeError::Malformed(format!("line {}: {value:?} is not a number", n + 1)))?;
        fields.push(Field {
            name: name.trim().into(),
            value: FieldValue::Float(value),
        });
    }
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Point {
        measurement: "kv".into(),
        tags: vec![Tag {
            key: "topic".into(),
            value: source.topic.clone(),
        }],
        fields,
        timestamp_ns: None,
    }])
}

export!(Decoders);
