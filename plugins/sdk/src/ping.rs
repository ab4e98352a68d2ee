//! ICMP echo through the host (capability `ping`, granted per target host or
//! network: `"plugins": {"<name>": {"ping": ["any"]}}`).

use crate::CapError;

/// Round-trip statistics in milliseconds; the timing fields are `None` when no
/// reply came back.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub transmitted: u32,
    pub received: u32,
    pub min_ms: Option<f64>,
    pub avg_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub stddev_ms: Option<f64>,
}

/// Sends `count` (at least 1) echo requests to `target` (host name or IP),
/// `interval_ms` apart, waiting up to `timeout_ms` for each reply. No reply is
/// not an error (`received` is 0); an unknown host or an ICMP socket the host
/// may not open is.
pub fn echo(target: &str, count: u32, timeout_ms: u32, interval_ms: u32) -> Result<Stats, CapError> {
    crate::sys::ping_echo(target, count, timeout_ms, interval_ms)
}
