//! The `{{name}}` collector plugin for datalogger.
//!
//! Build:  ./build.sh   (or cargo build --release)
//! Try:    datalogger plugin test target/wasm32-wasip2/release/{{name}}.wasm {{name}}.hello
//! Test:   cargo test --target x86_64-unknown-linux-gnu
//! Ship:   copy target/wasm32-wasip2/release/{{name}}.wasm into the logger's plugins folder.
//!
//! The SDK's documentation: `cargo doc --open -p datalogger-sdk`.

use datalogger_sdk::{log, Info, Key, Plugin, Point, SampleError};

struct Collector;

impl Plugin for Collector {
    fn info() -> Info {
        Info::new("{{name}}", env!("CARGO_PKG_VERSION"), "A new datalogger collector")
            .key(Key::new("{{name}}.hello", "Always 1.0 (field value)"))
    }

    fn sample(key: &str, _arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
        match key {
            "{{name}}.hello" => {
                // Goes to the logger's log, tagged with the plugin's name. This
                // runs on every poll: log sparingly.
                log::info("hello from {{name}}");
                Ok(vec![Point::new("{{name}}").float("value", 1.0)])
            }
            _ => Err(Self::unknown_key(key)),
        }
    }
}

datalogger_sdk::plugin!(Collector);

#[cfg(test)]
mod tests {
    use super::*;
    use datalogger_sdk::Value;

    #[test]
    fn hello_is_one() {
        let points = Collector::sample("{{name}}.hello", None).unwrap();
        assert_eq!(points[0].primary(), Some(("value", &Value::Float(1.0))));
    }

    #[test]
    fn unknown_keys_are_bad_arguments() {
        assert!(matches!(Collector::sample("{{name}}.nope", None), Err(SampleError::BadArgument(_))));
    }
}
