//! `host`: logging, wall clock, reading granted files (the `files` grant),
//! and the small per-plugin cache that outlives a call.

use super::{CallState, Grant};
use crate::wit::datalogger::plugin::host::{Host, Level};
use crate::wit::types::CapError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// Log lines one call may write; the rest are counted and dropped.
const LOG_LINES_PER_CALL: u32 = 100;

/// Largest file `read-file` returns; `/proc` files are tiny.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Bytes of keys and values one plugin may keep in its cache.
pub const CACHE_BYTES_PER_PLUGIN: usize = 64 * 1024;

/// The grant `"files": ["/proc/loadavg"]`: exact paths `read-file` may read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct FilesGrant(pub Vec<String>);

impl Grant for FilesGrant {
    fn summary(&self) -> Vec<String> {
        match self.0.is_empty() {
            true => Vec::new(),
            false => vec![format!("files {}", self.0.join(", "))],
        }
    }
}

/// What `host` shares across calls: every plugin's cache, plugin name → key →
/// value. Kept by plugin name, so a reloaded plugin finds what its previous
/// version remembered.
#[derive(Default)]
pub struct Shared {
    by_plugin: Mutex<HashMap<String, HashMap<String, String>>>,
}

/// How many more lines this call may log, and how many it lost.
pub struct LogBudget {
    left: u32,
    dropped: u32,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            left: LOG_LINES_PER_CALL,
            dropped: 0,
        }
    }
}

impl LogBudget {
    pub fn report_dropped(&self, plugin: &str) {
        if self.dropped > 0 {
            tracing::warn!(
                plugin,
                "dropped {} log lines over the per-call limit of {LOG_LINES_PER_CALL}",
                self.dropped
            );
        }
    }
}

impl Shared {
    fn get(&self, plugin: &str, key: &str) -> Option<String> {
        self.by_plugin.lock().unwrap().get(plugin)?.get(key).cloned()
    }

    fn set(&self, plugin: &str, key: String, value: Option<String>) -> Result<(), CapError> {
        let mut all = self.by_plugin.lock().unwrap();
        let cache = all.entry(plugin.to_string()).or_default();
        let Some(value) = value else {
            cache.remove(&key);
            return Ok(());
        };
        let others: usize = cache
            .iter()
            .filter(|(k, _)| **k != key)
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if others + key.len() + value.len() > CACHE_BYTES_PER_PLUGIN {
            return Err(CapError::Invalid(format!(
                "cache of plugin {plugin} would exceed {CACHE_BYTES_PER_PLUGIN} bytes; remove entries with cache-set(key, none)"
            )));
        }
        cache.insert(key, value);
        Ok(())
    }
}

impl Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        if self.log.left == 0 {
            self.log.dropped += 1;
            return;
        }
        self.log.left -= 1;
        let message = crate::wit::bounded(message);
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
        if !self.grants.files.0.contains(&path) {
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

    fn cache_get(&mut self, key: String) -> Option<String> {
        self.caps.host.get(&self.plugin, &key)
    }

    fn cache_set(&mut self, key: String, value: Option<String>) -> Result<(), CapError> {
        self.caps.host.set(&self.plugin, key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_are_per_plugin_and_bounded() {
        let c = Shared::default();
        c.set("wemo", "switch1".into(), Some("http://10.0.0.5:49153".into()))
            .unwrap();
        assert_eq!(c.get("wemo", "switch1").as_deref(), Some("http://10.0.0.5:49153"));
        assert_eq!(c.get("isems", "switch1"), None, "another plugin's cache is not visible");
        // Replacing a value counts only the new one.
        let big = "x".repeat(CACHE_BYTES_PER_PLUGIN - 10);
        c.set("wemo", "switch1".into(), Some(big.clone())).unwrap();
        assert!(matches!(
            c.set("wemo", "other".into(), Some(big)),
            Err(CapError::Invalid(_))
        ));
        c.set("wemo", "switch1".into(), None).unwrap();
        assert_eq!(c.get("wemo", "switch1"), None);
    }
}
