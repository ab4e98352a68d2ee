//! The `isems` collector: ISEMS solar nodes (routers and ESP32 firmware).
//!
//! One key, `isems.node`, fetches the node's log over the host's `http`
//! capability and returns one point per good log line, stamped with the
//! node's own time, so re-polling the same log is idempotent. One decoder,
//! `isems.csvlog`, reads the same lines pushed over MQTT.

// Only the component uses these outside of tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod csvlog;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod node;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod parse;

// The bindings only link inside a component; leaving them out on native
// targets lets the unit tests run on the build machine.
#[cfg(target_arch = "wasm32")]
mod component;
