//! Sources: where samples come from. Each source stamps samples and appends
//! them to the store under the name of the item (or stream) they belong to.
//!
//! - `poll`: the scheduler; every configured item is sampled through its
//!   plugin at its own whole-second interval, aligned to the wall clock.
//! - `items`: the poll item model, shared by the config loader and the REST API.
//! - `push`: sources that receive samples (InfluxDB-style writes), their
//!   config and counters; `line_protocol` reads what InfluxDB clients write.
//! - `json`: the built-in decoder of flat JSON objects (a per-source mapping).
//! - `mqtt`: MQTT subscriptions; each message is decoded (`decode`),
//!   committed, then acknowledged, over a persistent session.
//!
//! To add a source: one module here that appends to `store::Store`, started
//! from `app.rs`.

pub mod decode;
pub mod items;
pub mod json;
pub mod line_protocol;
pub mod mqtt;
pub mod poll;
pub mod push;
