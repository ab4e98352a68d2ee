//! `legacy`: a test fixture for WIT versioning. It is built against
//! `wit/datalogger.wit` here, a frozen copy of the released
//! `datalogger:plugin@0.1.0` (before `decoding`), so the host's tests prove
//! that a plugin built for 0.1.0 still loads and samples in a later 0.1.x
//! host. Never change the WIT copy: it is what 0.1.0 plugins were built with.
//!
//! One key, `legacy.x`: measurement `legacy`, one float field `x`, the
//! host's clock in seconds. Never shipped.

wit_bindgen::generate!({
    path: "wit",
    world: "collector",
});

use datalogger::plugin::host;
use datalogger::plugin::types::{Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

struct Legacy;

impl Guest for Legacy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "legacy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Versioning test fixture, built against datalogger:plugin@0.1.0".into(),
            keys: vec![KeyInfo {
                name: "legacy.x".into(),
                description: "Returns x, the host's clock (seconds)".into(),
                arg: None,
                unit: "s".into(),
            }],
        }
    }

    fn sample(key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        if key != "legacy.x" {
            return Err(SampleError::BadArgument(format!("legacy does not serve key {key:?}")));
        }
        Ok(vec![Point {
            measurement: "legacy".into(),
            tags: Vec::new(),
            fields: vec![Field {
                name: "x".into(),
                value: FieldValue::Float(host::now_ns() as f64 / 1e9),
            }],
            timestamp_ns: None,
        }])
    }
}

export!(Legacy);
