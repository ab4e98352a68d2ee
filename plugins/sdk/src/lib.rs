//! The Rust authors' kit for datalogger collector plugins.
//!
//! A collector is a WebAssembly component of the world `collector` in
//! `wit/datalogger.wit`. This crate hides the bindings: implement [`Plugin`]
//! with plain Rust types, call the host's capabilities through small modules,
//! and export the plugin with [`plugin!`]. A complete collector:
//!
//! ```no_run
//! use datalogger_sdk::{http, log, required_arg, Context, Info, Key, Plugin, Point, SampleError};
//!
//! struct Web;
//!
//! impl Plugin for Web {
//!     fn info() -> Info {
//!         Info::new("web", env!("CARGO_PKG_VERSION"), "Checks web servers over HTTP").key(
//!             Key::new("web.status", "GET a URL: status, bytes, elapsed_ms (tag url)")
//!                 .required_arg("absolute http:// URL, e.g. http://10.0.0.5/"),
//!         )
//!     }
//!
//!     fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
//!         if key != "web.status" {
//!             return Err(Self::unknown_key(key));
//!         }
//!         let url = required_arg(arg, "an absolute http:// URL")?;
//!         let started = datalogger_sdk::now_ns();
//!         // A missing grant becomes `unavailable` with the host's own message.
//!         let resp = http::Request::get(url).timeout_ms(3000).send().with_context(|| format!("GET {url}"))?;
//!         let elapsed_ms = (datalogger_sdk::now_ns() - started) as f64 / 1e6;
//!         if !resp.is_success() {
//!             log::debug(format!("{url} answered {}", resp.status));
//!         }
//!         Ok(vec![Point::new("web")
//!             .tag("url", url)
//!             .int("status", resp.status.into()) // the first field is the primary value
//!             .uint("bytes", resp.body.len() as u64)
//!             .float("elapsed_ms", elapsed_ms)
//!             .optional("server", resp.header("Server"))])
//!     }
//! }
//!
//! datalogger_sdk::plugin!(Web);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (a `cdylib`
//! crate), try it with `datalogger plugin test web.wasm web.status
//! http://127.0.0.1:8080/ --grant '{"http": ["127.0.0.1"]}'`, and ship it by
//! copying the `.wasm` into the plugins folder.
//!
//! # At a glance
//!
//! - [`Plugin`] has `info()` (name, version, keys) and `sample(key, arg)`;
//!   [`plugin!`] exports it.
//! - [`Info`] and [`Key`] describe the plugin:
//!   `Key::new(name, description).required_arg(..)` (or `.optional_arg(..)`) `.unit(..)`.
//! - [`Point`] is a sample: `Point::new(measurement).tag(..).float(..).int(..).uint(..)
//!   .boolean(..).text(..).optional(..).at_ns(..)`; field order is kept and the
//!   first field is the primary value.
//! - [`SampleError`] is what `sample` returns, [`CapError`] what a capability
//!   returns; `From<CapError> for SampleError` makes `?` work, and
//!   [`Context::context`] prefixes what was being done.
//! - Capabilities: [`http`] (`get`, `Request`), [`i2c`] (`read`, `write`),
//!   [`ping`] (`echo`), [`discovery`] (`ssdp_search`), [`host`] (`read_file`,
//!   `now_ns`), [`log`] (`info`, `warn`, ...), [`cache`] (`get`, `set`,
//!   `remove`). Each needs the operator's grant, except `log`, `now_ns` and
//!   `cache`.
//!
//! # Rules of the sandbox
//!
//! - Every `sample` call runs in a fresh instance: nothing in memory survives
//!   between calls. Keep hints (where a device was found) in [`cache`].
//! - No filesystem, environment or sockets of its own: `std::fs`, `std::env`
//!   and `std::net` fail; use the capabilities.
//! - Never panic on bad device data: return an error or skip the reading.
//!   A trap is reported as a failed sample.
//! - `info()` is called once at load and must not call capabilities other
//!   than [`log`].
//!
//! # Testing natively
//!
//! Everything here also compiles for the build machine, so a plugin's logic
//! can return [`Point`]s and [`SampleError`]s and be unit-tested with
//! `cargo test --target x86_64-unknown-linux-gnu` (or your machine's triple).
//! There the capabilities return [`CapError::Unavailable`] (the cache is a
//! per-thread map and `now_ns` the system clock); put device I/O behind a small
//! trait of your own to test it against a fake.

mod error;
mod info;
mod point;
mod sys;

pub mod cache;
pub mod discovery;
pub mod host;
pub mod http;
pub mod i2c;
pub mod log;
pub mod ping;

pub use error::{CapError, Context, DecodeError, SampleError};
pub use host::now_ns;
pub use info::{required_arg, Arg, Decoder, Info, Key};
pub use point::{Point, Value};

/// The raw types and functions generated from the WIT (component builds
/// only). The SDK's own API covers everything; this is the escape hatch.
#[cfg(target_arch = "wasm32")]
pub mod bindings {
    // `wit` is resolved against this crate's directory (CARGO_MANIFEST_DIR); in
    // the datalogger repository it is a symlink to the repository's `wit/`.
    wit_bindgen::generate!({
        path: "wit",
        // Both exports: a plugin without decoders lists none.
        world: "collector-decoder",
        pub_export_macro: true,
        default_bindings_module: "datalogger_sdk::bindings",
    });
}

#[doc(hidden)]
pub mod __private {
    pub use crate::export::*;
}
mod export;

/// A collector plugin. Implement it on a unit struct and export it with
/// [`plugin!`].
pub trait Plugin {
    /// The plugin's name, version, description and keys. Called once when the
    /// host loads the plugin.
    fn info() -> Info;

    /// One reading of `key` (one of the keys from [`Plugin::info`]) with the
    /// item's `arg`. Return at least one point, or an error telling the
    /// operator what is wrong and what to do.
    fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError>;

    /// Reads one pushed payload with `decoder` (one of the decoders in
    /// [`Plugin::info`]) into points. Points without a timestamp get the
    /// time the host received the payload. Only for plugins that list
    /// decoders; the default refuses every decoder.
    fn decode(decoder: &str, source: &Source, payload: &[u8]) -> Result<Vec<Point>, DecodeError> {
        let _ = (source, payload);
        Err(Self::info().unknown_decoder(decoder))
    }

    /// The `bad-argument` error for a key this plugin does not serve
    /// (see [`Info::unknown_key`]).
    fn unknown_key(key: &str) -> SampleError {
        Self::info().unknown_key(key)
    }
}

/// Where a pushed payload came from (what [`Plugin::decode`] is told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The source's name in the logger's config.
    pub name: String,
    /// `mqtt` or `http`.
    pub transport: String,
    /// The MQTT topic (e.g. `/isems/node-3/csvlog`) or the HTTP path.
    pub topic: String,
    /// When the host received the payload, ns since the Unix epoch.
    pub received_ns: i64,
}

/// Exports a [`Plugin`] as the component's `sampling` and `decoding` interfaces:
/// `datalogger_sdk::plugin!(MyPlugin);` once, at the crate's top level or in
/// any module. `MyPlugin` is a type name (not a path) in scope there. On
/// native targets it only checks that the type implements [`Plugin`].
#[macro_export]
macro_rules! plugin {
    ($ty:ident) => {
        const _: fn() = $crate::__private::assert_plugin::<$ty>;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            impl $crate::bindings::exports::datalogger::plugin::sampling::Guest for $ty {
                fn describe() -> $crate::__private::PluginInfo {
                    $crate::__private::describe::<$ty>()
                }

                fn sample(
                    key: $crate::__private::String,
                    arg: $crate::__private::Arg,
                ) -> $crate::__private::SampleResult {
                    $crate::__private::sample::<$ty>(key, arg)
                }
            }

            impl $crate::bindings::exports::datalogger::plugin::decoding::Guest for $ty {
                fn describe_decoding() -> $crate::__private::DecodingInfo {
                    $crate::__private::describe_decoding::<$ty>()
                }

                fn decode(
                    decoder: $crate::__private::String,
                    source: $crate::__private::SourceInfo,
                    payload: $crate::__private::Bytes,
                ) -> $crate::__private::DecodeResult {
                    $crate::__private::decode::<$ty>(decoder, source, payload)
                }
            }

    $crate::bindings::export!($ty with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Demo;

    impl Plugin for Demo {
        fn info() -> Info {
            Info::new("demo", "1.0.0", "d").key(Key::new("demo.one", "one").unit("V"))
        }

        fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
            match key {
                "demo.one" => Ok(vec![Point::new("demo").optional("arg", arg).float("v", 1.0)]),
                _ => Err(Self::unknown_key(key)),
            }
        }
    }

    // Natively the macro only checks that `Demo` is a `Plugin`.
    plugin!(Demo);

    #[test]
    fn a_plugin_is_plain_rust_natively() {
        let points = Demo::sample("demo.one", None).unwrap();
        assert_eq!(points[0].primary(), Some(("v", &Value::Float(1.0))));
        assert_eq!(
            Demo::sample("demo.two", None),
            Err(SampleError::BadArgument(
                "unknown key \"demo.two\"; the demo plugin serves demo.one".into()
            ))
        );
    }
}
