//! `host`: logging, wall clock and reading granted files.

use super::CallState;
use crate::plugins::bindings::datalogger::plugin::host::{Host, Level};
use crate::plugins::bindings::types::CapError;

/// Largest file `read-file` returns; `/proc` files are tiny.
const MAX_FILE_BYTES: u64 = 1 << 20;

impl Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_lines_left == 0 {
            self.log_lines_dropped += 1;
            return;
        }
        self.log_lines_left -= 1;
        let message = crate::plugins::bounded(message);
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn now_ns(&mut self) -> i64 {
        crate::sample::now_ns()
    }

    fn read_file(&mut self, path: String) -> Result<String, CapError> {
        if !self.grants.files.contains(&path) {
            return Err(self.not_granted(format!("reading file {path}")));
        }
        use std::io::Read;
        let file = std::fs::File::open(&path).map_err(|e| CapError::Unavailable(format!("{path}: {e}")))?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| CapError::Failed(format!("{path}: {e}")))?;
        Ok(text)
    }
}
