//! `discovery`: SSDP M-SEARCH. Not implemented yet (a later issue); until then
//! no grant exists for it, so every call answers `not-granted`.

use super::CallState;
use crate::plugins::bindings::datalogger::plugin::discovery::{Host, SsdpResponse};
use crate::plugins::bindings::types::CapError;

impl Host for CallState {
    fn ssdp_search(&mut self, search_target: String, _timeout_ms: u32) -> Result<Vec<SsdpResponse>, CapError> {
        Err(self.not_granted(format!("SSDP search for {search_target}")))
    }
}
