//! I2C register access through the host (capability `i2c`, granted per bus and
//! address: `"plugins": {"<name>": {"i2c": [{"bus": 1, "addresses": ["0x5c"]}]}}`).
//! Each call is one locked transaction on `/dev/i2c-<bus>` or a simulated bus.

use crate::CapError;

/// Writes `register`, then reads `len` bytes (repeated start). For
/// auto-increment on many sensors set bit 7 of `register` yourself. A chip that
/// does not answer is [`CapError::Unavailable`].
pub fn read(bus: u8, address: u8, register: u8, len: u32) -> Result<Vec<u8>, CapError> {
    crate::sys::i2c_read(bus, address, register, len)
}

/// Writes `data` starting at `register` (one write of `[register, data...]`).
pub fn write(bus: u8, address: u8, register: u8, data: &[u8]) -> Result<(), CapError> {
    crate::sys::i2c_write(bus, address, register, data)
}
