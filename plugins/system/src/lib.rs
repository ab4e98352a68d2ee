//! The `system` collector: load averages and CPU count.
//!
//! All file access goes through the host's `read-file` capability; the plugin
//! has no filesystem of its own, so the operator must grant `/proc/loadavg`
//! (and `/sys/devices/system/cpu/online` for `system.load`).

// Only the component uses the parsers outside of tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod parse;

// The bindings only link inside a component; leaving them out on native
// targets lets the parser unit tests run on the build machine.
#[cfg(target_arch = "wasm32")]
mod component;
