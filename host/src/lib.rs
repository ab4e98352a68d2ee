//! datalogger: samples come from sources (the poll scheduler, which calls
//! sandboxed WebAssembly collector plugins), go into the embedded store, and
//! sinks forward them to time-series databases; a REST API sits beside.
//!
//! Reading order: `wit` (the contract) → `app` (wiring) → `config` →
//! `sources` → `plugins` with `capabilities` (the sandbox and what it grants)
//! → `store` → `sinks`, with `api` beside. Below `config`, no module imports
//! `config`; each part defines its own settings and `config` composes them.

pub mod api;
pub mod app;
pub mod atomic_file;
pub mod capabilities;
pub mod config;
pub mod plugins;
pub mod sample;
pub mod scaffold;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod wit;
