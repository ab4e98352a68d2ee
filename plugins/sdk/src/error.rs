//! Errors: why a sample failed ([`SampleError`]), why a capability call failed
//! ([`CapError`]), and [`Context`] to say what was being done.

use std::fmt;

/// Why a payload gave no points. The host keeps the payload aside with the
/// message and acknowledges it (it is never delivered again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is not in the decoder's format; say where and how.
    Malformed(String),
    /// Anything else.
    Failed(String),
}

/// Why a `sample` call produced no samples; the host shows it as the item's
/// `last_error`. Say what is wrong and what the operator can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleError {
    /// The item's `arg` is missing or malformed; the text says what is expected.
    BadArgument(String),
    /// The device or data source is not there or not ready (also: a capability
    /// the operator did not grant).
    Unavailable(String),
    /// The device did not answer in time.
    Timeout(String),
    /// Anything else.
    Failed(String),
}

impl SampleError {
    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            SampleError::BadArgument(m)
            | SampleError::Unavailable(m)
            | SampleError::Timeout(m)
            | SampleError::Failed(m) => m,
        }
    }

    /// The same kind of error with its message rewritten by `f`.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            SampleError::BadArgument(m) => SampleError::BadArgument(f(m)),
            SampleError::Unavailable(m) => SampleError::Unavailable(f(m)),
            SampleError::Timeout(m) => SampleError::Timeout(f(m)),
            SampleError::Failed(m) => SampleError::Failed(f(m)),
        }
    }

    /// The same kind of error, its message prefixed with `what: `.
    pub fn context(self, what: impl fmt::Display) -> Self {
        self.map_message(|m| format!("{what}: {m}"))
    }
}

impl fmt::Display for SampleError {
    /// `bad argument: ...`, `unavailable: ...`, `timeout: ...`, `failed: ...`
    /// (as the host shows it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            SampleError::BadArgument(_) => "bad argument",
            SampleError::Unavailable(_) => "unavailable",
            SampleError::Timeout(_) => "timeout",
            SampleError::Failed(_) => "failed",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for SampleError {}

/// Why a capability call failed, as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapError {
    /// The operator did not grant this capability (or this target) to the
    /// plugin. The host's text names the plugin, what was refused and how to
    /// grant it.
    NotGranted(String),
    /// The request itself is malformed (bad URL, bad length, ...).
    Invalid(String),
    /// The target is absent, refused the connection or is not ready.
    Unavailable(String),
    Timeout(String),
    Failed(String),
}

impl CapError {
    /// The host's message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            CapError::NotGranted(m)
            | CapError::Invalid(m)
            | CapError::Unavailable(m)
            | CapError::Timeout(m)
            | CapError::Failed(m) => m,
        }
    }
}

impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            CapError::NotGranted(_) => "not granted",
            CapError::Invalid(_) => "invalid",
            CapError::Unavailable(_) => "unavailable",
            CapError::Timeout(_) => "timeout",
            CapError::Failed(_) => "failed",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for CapError {}

/// The usual mapping, keeping the host's message verbatim: a refused grant is
/// `unavailable` (the host's text already says "not granted", which plugin and
/// how to grant it), `unavailable` and `timeout` stay what they are, `invalid`
/// and `failed` are `failed`. Match on the [`CapError`] yourself where a plugin
/// knows better (e.g. `invalid` meaning a bad `arg`).
impl From<CapError> for SampleError {
    fn from(e: CapError) -> Self {
        match e {
            CapError::NotGranted(m) | CapError::Unavailable(m) => SampleError::Unavailable(m),
            CapError::Timeout(m) => SampleError::Timeout(m),
            CapError::Invalid(m) | CapError::Failed(m) => SampleError::Failed(m),
        }
    }
}

/// Says what was being done when an error happened, keeping its kind:
///
/// ```
/// use datalogger_sdk::{CapError, Context, SampleError};
///
/// let read: Result<Vec<u8>, CapError> = Err(CapError::Timeout("no ACK".into()));
/// assert_eq!(
///     read.context("reading the HTS221"),
///     Err(SampleError::Timeout("reading the HTS221: no ACK".into()))
/// );
/// ```
pub trait Context<T> {
    /// Converts the error into a [`SampleError`] and prefixes its message with `what: `.
    fn context(self, what: impl fmt::Display) -> Result<T, SampleError>;

    /// As [`Context::context`], building the text only when there is an error.
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, SampleError>;
}

impl<T, E: Into<SampleError>> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, SampleError> {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, SampleError> {
        self.map_err(|e| e.into().context(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_errors_map_to_sample_errors_keeping_the_message() {
        let m = || "capability not granted to plugin x: http to 10.1.2.3:80".to_string();
        assert_eq!(
            SampleError::from(CapError::NotGranted(m())),
            SampleError::Unavailable(m())
        );
        assert_eq!(
            SampleError::from(CapError::Unavailable(m())),
            SampleError::Unavailable(m())
        );
        assert_eq!(SampleError::from(CapError::Timeout(m())), SampleError::Timeout(m()));
        assert_eq!(SampleError::from(CapError::Invalid(m())), SampleError::Failed(m()));
        assert_eq!(SampleError::from(CapError::Failed(m())), SampleError::Failed(m()));
    }

    #[test]
    fn context_prefixes_and_keeps_the_kind() {
        let r: Result<(), CapError> = Err(CapError::NotGranted("refused".into()));
        assert_eq!(
            r.context("reading /proc/loadavg"),
            Err(SampleError::Unavailable("reading /proc/loadavg: refused".into()))
        );
        let r: Result<(), SampleError> = Err(SampleError::BadArgument("no".into()));
        assert_eq!(
            r.with_context(|| format!("arg {}", 1)),
            Err(SampleError::BadArgument("arg 1: no".into()))
        );
        let ok: Result<u8, CapError> = Ok(1);
        assert_eq!(ok.context("x"), Ok(1));
        assert_eq!(
            SampleError::Failed("b".into()).context("a").context("top"),
            SampleError::Failed("top: a: b".into())
        );
    }

    #[test]
    fn display_names_the_kind() {
        assert_eq!(SampleError::BadArgument("x".into()).to_string(), "bad argument: x");
        assert_eq!(SampleError::Unavailable("x".into()).to_string(), "unavailable: x");
        assert_eq!(SampleError::Timeout("x".into()).to_string(), "timeout: x");
        assert_eq!(SampleError::Failed("x".into()).to_string(), "failed: x");
        assert_eq!(CapError::NotGranted("x".into()).to_string(), "not granted: x");
        assert_eq!(CapError::Invalid("x".into()).message(), "x");
    }
}
