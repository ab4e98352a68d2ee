//! The end-to-end suite: one test binary that drives the real datalogger
//! binary, one module per area, shared helpers in `common`.
//!
//! Run: `cargo build --release -p datalogger && cargo test --release -p datalogger-e2e`
//! (plugins built first by `scripts/build-plugins`; set `DATALOGGER_BIN` to test
//! another binary). One area: `cargo test --release -p datalogger-e2e -- outputs::`.

mod common;

mod auth;
mod compaction;
mod config;
mod connections;
mod decoding;
mod disk_full;
mod example_c;
mod example_js;
mod example_python;
mod grafana;
mod grants;
mod hot_reload;
mod iot_compat;
mod isems;
mod isems_compat;
mod isems_import;
mod item_samples;
mod loadavg;
mod loading;
mod mqtt;
mod openapi;
mod outputs;
mod ping;
mod plugin_cli;
mod query_compat;
mod rest_crud;
mod sandbox;
mod sensehat;
mod series_api;
mod soak;
mod wemo;
mod write;
