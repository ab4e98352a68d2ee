//! `http`: outgoing HTTP requests. Not implemented yet (a later issue); until
//! then no grant exists for it, so every call answers `not-granted`.

use super::CallState;
use crate::plugins::bindings::datalogger::plugin::http::{Host, Request, Response};
use crate::plugins::bindings::types::CapError;

impl Host for CallState {
    fn send(&mut self, req: Request) -> Result<Response, CapError> {
        Err(self.not_granted(format!("http {} {}", req.method, req.url)))
    }
}
