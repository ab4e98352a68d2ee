//! The `isems` collector: ISEMS solar nodes (routers and ESP32 firmware).
//!
//! One key, `isems.node`, fetches the node's log over the host's `http`
//! capability and returns one point per good log line, stamped with the
//! node's own time, so re-polling the same log is idempotent. Two decoders
//! read what nodes push over MQTT into the same points: `isems.csvlog` the
//! same lines, `isems.json` the JSON variant (one reading, no node id or time).

// Only the component uses these outside of tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod csvlog;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod json;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod node;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod parse;

// The bindings only link inside a component; leaving them out on native
// targets lets the unit tests run on the build machine.
#[cfg(target_arch = "wasm32")]
mod component;
