//! SSDP discovery (UPnP M-SEARCH) through the host (capability `discovery`:
//! `"plugins": {"<name>": {"discovery": true}}`).

use crate::CapError;

/// One answer to an M-SEARCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsdpResponse {
    /// The `LOCATION` header: URL of the device's description.
    pub location: String,
    pub usn: String,
    pub st: String,
}

/// Sends one M-SEARCH for `search_target` (e.g. `urn:Belkin:service:basicevent:1`
/// or `ssdp:all`) and returns the distinct answers that arrive within `timeout_ms`.
pub fn ssdp_search(search_target: &str, timeout_ms: u32) -> Result<Vec<SsdpResponse>, CapError> {
    crate::sys::ssdp_search(search_target, timeout_ms)
}
