//! The `wemo` collector: Belkin WeMo Switch and Insight over local UPnP.
//!
//! Keys `wemo.state`, `wemo.power` and `wemo.insight`; the item's `arg` is the
//! device's friendly name (found by SSDP) or its `host[:port]`. All network
//! access goes through the host's `http` and `discovery` capabilities; where a
//! device was found is remembered in the host's per-plugin cache, so a poll of
//! a known device is a single control request.
//!
//! - [`xml`]: a tolerant scan for elements by local name;
//! - [`protocol`]: the arg, setup.xml, SOAP requests and answers (no I/O);
//! - [`cache`]: what is remembered between polls, and its stored form;
//! - [`collect`]: one sample end to end, over the [`collect::Net`] seam;
//! - `component`: the [`datalogger_sdk::Plugin`] and [`collect::Net`] over the host (wasm32 only).

// Only the component uses these outside of tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod cache;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod collect;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod protocol;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod xml;

// The bindings only link inside a component; leaving them out on native
// targets lets the unit tests run on the build machine.
#[cfg(target_arch = "wasm32")]
mod component;
