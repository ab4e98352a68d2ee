//! End-to-end tests for the datalogger binary. The tests live in one test binary,
//! `tests/all/main.rs` (a module per area), their shared helpers in
//! `tests/all/common/mod.rs`; this library is intentionally empty.
//!
//! Run: `cargo build --release -p datalogger && cargo test --release -p datalogger-e2e`
//! (set `DATALOGGER_BIN` to test another binary).
