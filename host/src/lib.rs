//! datalogger: samples poll items through sandboxed WebAssembly collector
//! plugins, keeps every sample in an embedded store and serves a REST API.
//!
//! Reading order: `config` → `plugins` (with `capabilities` beside it) →
//! `scheduler` → `store` → `outputs`, and `api` on the side. `app` wires them together.

pub mod api;
pub mod app;
pub mod capabilities;
pub mod config;
pub mod outputs;
pub mod plugins;
pub mod sample;
pub mod scaffold;
pub mod scheduler;
pub mod store;
