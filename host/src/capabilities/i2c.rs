//! `i2c`: register access on an I2C bus. Not implemented yet (a later issue
//! brings the Linux and simulated buses); until then no grant exists for it, so
//! every call answers `not-granted`.

use super::CallState;
use crate::plugins::bindings::datalogger::plugin::i2c::Host;
use crate::plugins::bindings::types::CapError;

impl Host for CallState {
    fn read_registers(&mut self, bus: u8, address: u8, register: u8, _len: u32) -> Result<Vec<u8>, CapError> {
        Err(self.not_granted(format!(
            "i2c read of bus {bus} address {address:#04x} register {register:#04x}"
        )))
    }

    fn write_registers(&mut self, bus: u8, address: u8, register: u8, _data: Vec<u8>) -> Result<(), CapError> {
        Err(self.not_granted(format!(
            "i2c write to bus {bus} address {address:#04x} register {register:#04x}"
        )))
    }
}
