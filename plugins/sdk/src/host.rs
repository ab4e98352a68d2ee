//! Small services every plugin may use: granted files and the clock. See also
//! [`crate::log`] and [`crate::cache`].

use crate::CapError;

/// Reads a whole text file the operator granted to this plugin
/// (`"plugins": {"<name>": {"files": ["/proc/loadavg"]}}`); the plugin has no
/// filesystem of its own.
pub fn read_file(path: &str) -> Result<String, CapError> {
    crate::sys::read_file(path)
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    crate::sys::now_ns()
}
