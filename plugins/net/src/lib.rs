//! The `net` collector: `net.ping`, ICMP echo through the host's `ping`
//! capability, reported with Telegraf's field names.
//!
//! The plugin opens no socket itself: the host sends the echo requests and
//! checks every target against the operator's grant
//! (`"plugins": {"net": {"ping": ["any"]}}`).

// Only the component uses the logic outside of tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod ping;

// The bindings only link inside a component; leaving them out on native
// targets lets the unit tests run on the build machine.
#[cfg(target_arch = "wasm32")]
mod component;
