//! The contract, host side: Rust types and traits generated from `wit/`, and
//! the limit on text that crosses it. A leaf: it imports nothing of ours, so
//! `capabilities` (which implements the imports) and `plugins` (which calls
//! the exports) can both depend on it without depending on each other.

// The world with both exports: its imports are every world's imports, and
// its per-interface export bindings let a plugin export either or both
// (`plugins::sandbox::Linked` looks each one up on its own).
wasmtime::component::bindgen!({
    path: "../wit",
    world: "collector-decoder",
});

pub use self::datalogger::plugin::types;
pub use self::exports::datalogger::plugin::{decoding, sampling};
pub use self::CollectorDecoder as Imports;

/// The WIT package this host implements.
pub const WIT_PACKAGE: &str = "datalogger:plugin@0.1.1";

/// Longest plugin-supplied message kept (errors, log lines): a plugin must not
/// be able to flood the log or the API with one string.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// A plugin's text, cut to `MAX_MESSAGE_CHARS`.
pub fn bounded(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}… (cut)", &message[..i]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_plugin_messages_are_cut() {
        let cut = bounded("x".repeat(5000));
        assert!(cut.chars().count() < MAX_MESSAGE_CHARS + 10);
        assert_eq!(bounded("short".into()), "short");
    }
}
