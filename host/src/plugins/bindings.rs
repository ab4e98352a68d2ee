//! Rust types and traits generated from `wit/` for the host side of the contract.
//! Capability implementations live in `crate::capabilities`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "collector",
});

pub use self::datalogger::plugin::types;
pub use self::exports::datalogger::plugin::sampling;
