//! `versioned`: a test fixture for hot reload, built twice from one source.
//!
//! | build            | version | keys                                               |
//! |------------------|---------|----------------------------------------------------|
//! | default features | 1.0.0   | `versioned.value` = 1.0 (float), `versioned.old` = 1 (int) |
//! | `--features v2`  | 2.0.0   | `versioned.value` = 2.0 (float), `versioned.new` = 2 (int) |
//!
//! Every sample is measurement `versioned` with one field `value`, so a test
//! can tell which version took a sample from the stored value alone. Never
//! shipped.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "collector",
});

use datalogger::plugin::types::{Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

#[cfg(not(feature = "v2"))]
mod build {
    pub const VERSION: &str = "1.0.0";
    pub const VALUE: f64 = 1.0;
    /// The key only this version serves, and its value.
    pub const OWN_KEY: &str = "versioned.old";
    pub const OWN_VALUE: i64 = 1;
}

#[cfg(feature = "v2")]
mod build {
    pub const VERSION: &str = "2.0.0";
    pub const VALUE: f64 = 2.0;
    pub const OWN_KEY: &str = "versioned.new";
    pub const OWN_VALUE: i64 = 2;
}

struct Versioned;

impl Guest for Versioned {
    fn describe() -> PluginInfo {
        let key = |name: &str, description: String| KeyInfo {
            name: name.into(),
            description,
            arg: None,
            unit: String::new(),
        };
        PluginInfo {
            name: "versioned".into(),
            version: build::VERSION.into(),
            description: format!("Hot-reload test fixture, version {}", build::VERSION),
            keys: vec![
                key("versioned.value", format!("Returns value={:.1} (float)", build::VALUE)),
                key(build::OWN_KEY, format!("Returns value={} (int)", build::OWN_VALUE)),
            ],
        }
    }

    fn sample(key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        let value = match key.as_str() {
            "versioned.value" => FieldValue::Float(build::VALUE),
            k if k == build::OWN_KEY => FieldValue::Int(build::OWN_VALUE),
            other => {
                return Err(SampleError::BadArgument(format!(
                    "versioned {} does not serve key {other:?}",
                    build::VERSION
                )))
            }
        };
        Ok(vec![Point {
            measurement: "versioned".into(),
            tags: Vec::new(),
            fields: vec![Field {
                name: "value".into(),
                value,
            }],
            timestamp_ns: None,
        }])
    }
}

export!(Versioned);
