//! `ping`: ICMP echo. Not implemented yet (a later issue); until then no grant
//! exists for it, so every call answers `not-granted`.

use super::CallState;
use crate::plugins::bindings::datalogger::plugin::ping::{EchoRequest, EchoStats, Host};
use crate::plugins::bindings::types::CapError;

impl Host for CallState {
    fn echo(&mut self, req: EchoRequest) -> Result<EchoStats, CapError> {
        Err(self.not_granted(format!("ping {}", req.target)))
    }
}
