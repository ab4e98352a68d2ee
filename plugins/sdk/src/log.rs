//! Lines in the host's log, tagged with the plugin's name. What a plugin
//! prints to stdout/stderr goes there too, without a level.
//!
//! Log what the operator should act on; a warning on every poll floods the log,
//! so prefer `debug` for things that repeat.

/// A log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes `message` at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    crate::sys::log(level, message.as_ref())
}

pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message)
}

pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message)
}

pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message)
}

pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message)
}

pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message)
}
