//! `nextminor`: a test fixture for WIT versioning, built twice from one source
//! against copies of the WIT that `scripts/build-plugins` generates.
//!
//! | build               | WIT                                             | imports                 |
//! |---------------------|-------------------------------------------------|-------------------------|
//! | default features    | `target/wit-next/same`: the WIT as `@0.1.99`    | `host.now-ns`           |
//! | `--features extra`  | `target/wit-next/extra`: plus `host.uptime-ns`  | `host.uptime-ns` too    |
//!
//! One key, `nextminor.x`: measurement `nextminor`, one float field `x`. The
//! first build must load in a `0.1.0` host (semver-compatible names); the
//! second must be refused, because the host has no `uptime-ns`. Never shipped.

#[cfg(not(feature = "extra"))]
wit_bindgen::generate!({
    path: "../../target/wit-next/same",
    world: "collector",
});

#[cfg(feature = "extra")]
wit_bindgen::generate!({
    path: "../../target/wit-next/extra",
    world: "collector",
});

use datalogger::plugin::host;
use datalogger::plugin::types::{Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

/// The value of `nextminor.x`: the host's clock, in seconds.
#[cfg(not(feature = "extra"))]
fn x() -> f64 {
    host::now_ns() as f64 / 1e9
}

/// The value of `nextminor.x`: the host's uptime, in seconds (a function
/// only the `extra` WIT has).
#[cfg(feature = "extra")]
fn x() -> f64 {
    host::uptime_ns() as f64 / 1e9
}

struct NextMinor;

impl Guest for NextMinor {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "nextminor".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Versioning test fixture, built against datalogger:plugin@0.1.99".into(),
            keys: vec![KeyInfo {
                name: "nextminor.x".into(),
                description: "Returns x, a float (seconds)".into(),
                arg: None,
                unit: "s".into(),
            }],
        }
    }

    fn sample(key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        if key != "nextminor.x" {
            return Err(SampleError::BadArgument(format!(
                "nextminor does not serve key {key:?}"
            )));
        }
        Ok(vec![Point {
            measurement: "nextminor".into(),
            tags: Vec::new(),
            fields: vec![Field {
                name: "x".into(),
                value: FieldValue::Float(x()),
            }],
            timestamp_ns: None,
        }])
    }
}

export!(NextMinor);
