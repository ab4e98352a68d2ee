//! What [`crate::plugin!`] expands to calls: the SDK's types converted to and
//! from the generated WIT types. Not part of the API.

pub use std::string::String;

/// Makes `plugin!(X)` fail with "the trait `Plugin` is not implemented for `X`"
/// rather than with errors from the generated code.
pub fn assert_plugin<P: crate::Plugin>() {}

#[cfg(target_arch = "wasm32")]
pub use wasm::*;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use crate::bindings::datalogger::plugin::types as wit;
    use crate::bindings::exports::datalogger::plugin::decoding as dec;
    use crate::{DecodeError, Plugin, Point, SampleError, Source, Value};

    pub type Arg = Option<String>;
    pub type PluginInfo = wit::PluginInfo;
    pub type SampleResult = Result<Vec<wit::Point>, wit::SampleError>;
    pub type DecodingInfo = dec::DecodingInfo;
    pub type SourceInfo = dec::SourceInfo;
    pub type Bytes = Vec<u8>;
    pub type DecodeResult = Result<Vec<wit::Point>, dec::DecodeError>;

    pub fn describe_decoding<P: Plugin>() -> dec::DecodingInfo {
        let info = P::info();
        dec::DecodingInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            decoders: info
                .decoders
                .into_iter()
                .map(|d| dec::DecoderInfo {
                    name: d.name,
                    description: d.description,
                })
                .collect(),
        }
    }

    pub fn decode<P: Plugin>(decoder: String, source: dec::SourceInfo, payload: Vec<u8>) -> DecodeResult {
        let source = Source {
            name: source.source,
            transport: source.transport,
            topic: source.topic,
            received_ns: source.received_ns,
        };
        match P::decode(&decoder, &source, &payload) {
            Ok(points) => Ok(points.into_iter().map(point).collect()),
            Err(DecodeError::Malformed(m)) => Err(dec::DecodeError::Malformed(m)),
            Err(DecodeError::Failed(m)) => Err(dec::DecodeError::Failed(m)),
        }
    }

    pub fn describe<P: Plugin>() -> wit::PluginInfo {
        let info = P::info();
        wit::PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            keys: info
                .keys
                .into_iter()
                .map(|k| wit::KeyInfo {
                    name: k.name,
                    description: k.description,
                    arg: k.arg.map(|a| wit::ArgInfo {
                        description: a.description,
                        required: a.required,
                    }),
                    unit: k.unit,
                })
                .collect(),
        }
    }

    pub fn sample<P: Plugin>(key: String, arg: Option<String>) -> SampleResult {
        match P::sample(&key, arg.as_deref()) {
            Ok(points) => Ok(points.into_iter().map(point).collect()),
            Err(e) => Err(match e {
                SampleError::BadArgument(m) => wit::SampleError::BadArgument(m),
                SampleError::Unavailable(m) => wit::SampleError::Unavailable(m),
                SampleError::Timeout(m) => wit::SampleError::Timeout(m),
                SampleError::Failed(m) => wit::SampleError::Failed(m),
            }),
        }
    }

    fn point(p: Point) -> wit::Point {
        wit::Point {
            measurement: p.measurement,
            tags: p.tags.into_iter().map(|(key, value)| wit::Tag { key, value }).collect(),
            fields: p
                .fields
                .into_iter()
                .map(|(name, value)| wit::Field {
                    name,
                    value: match value {
                        Value::Float(v) => wit::FieldValue::Float(v),
                        Value::Int(v) => wit::FieldValue::Int(v),
                        Value::Uint(v) => wit::FieldValue::Uint(v),
                        Value::Bool(v) => wit::FieldValue::Boolean(v),
                        Value::Text(v) => wit::FieldValue::Text(v),
                    },
                })
                .collect(),
            timestamp_ns: p.timestamp_ns,
        }
    }
}
