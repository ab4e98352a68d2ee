//! The `sensehat` collector: the Raspberry Pi Sense HAT's environmental
//! sensors, the HTS221 (humidity, temperature; I2C address 0x5F) and the
//! LPS25H (pressure, temperature; 0x5C), read through the host's `i2c`
//! capability on bus 1 (or `bus=N`).
//!
//! Every call starts from nothing (a fresh instance): it checks WHO_AM_I,
//! starts a chip that is not running (a kernel driver may power it down
//! between calls), waits for data-ready, and reads the calibration anew.

// Only the component uses these outside of tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod convert;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod sensor;

// The bindings only link inside a component; leaving them out on native
// targets lets the unit tests run on the build machine.
#[cfg(target_arch = "wasm32")]
mod component;
