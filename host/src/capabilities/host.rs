//! `host`: logging, wall clock, reading granted files (the `files` grant),
//! and the small per-plugin cache that outlives a call.

use super::{CallState, Grant};
use crate::wit::datalogger::plugin::host::{Host, Level};
use crate::wit::types::CapError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Log lines a plugin may write at once, and per second after that (a token
/// bucket per plugin, over all its calls): a plugin that logs on every call
/// cannot flood the log over time. The rest are counted and dropped.
const LOG_BURST: f64 = 100.0;
const LOG_LINES_PER_S: f64 = 5.0;

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
/// value, and its log rate limit. Kept by plugin name, so a reloaded plugin
/// finds what its previous version remembered.
#[derive(Default)]
pub struct Shared {
    by_plugin: Mutex<HashMap<String, HashMap<String, String>>>,
    pub(super) logs: LogLimits,
}

/// Every plugin's log token bucket.
#[derive(Default)]
pub(super) struct LogLimits(Mutex<HashMap<String, LogBucket>>);

struct LogBucket {
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    /// Dropping since the bucket was last full: the warning is logged once
    /// per flood, not once per dropped line.
    dropping: bool,
}

impl LogLimits {
    /// Whether the plugin may write one more log line at `now`.
    fn admit(&self, plugin: &str, now: Instant) -> bool {
        let mut all = self.0.lock().unwrap();
        let bucket = all.entry(plugin.to_string()).or_insert(LogBucket {
            tokens: LOG_BURST,
            refilled: now,
            dropped: 0,
            dropping: false,
        });
        let refill = now.saturating_duration_since(bucket.refilled).as_secs_f64() * LOG_LINES_PER_S;
        bucket.tokens = (bucket.tokens + refill).min(LOG_BURST);
        bucket.refilled = now;
        if bucket.tokens >= LOG_BURST {
            bucket.dropping = false;
        }
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return true;
        }
        bucket.dropped += 1;
        if !bucket.dropping {
            bucket.dropping = true;
            tracing::warn!(
                plugin,
                "plugin {plugin} logs more than {LOG_BURST} lines at once or {LOG_LINES_PER_S} a second; \
                 dropping its lines over that until it logs less (GET /plugins counts them: log_lines_dropped)"
            );
        }
        false
    }

    /// Lines dropped from this plugin since the logger started.
    pub(super) fn dropped(&self, plugin: &str) -> u64 {
        self.0.lock().unwrap().get(plugin).map_or(0, |b| b.dropped)
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
        let level_enabled = match level {
            Level::Trace => tracing::enabled!(tracing::Level::TRACE),
            Level::Debug => tracing::enabled!(tracing::Level::DEBUG),
            Level::Info => tracing::enabled!(tracing::Level::INFO),
            Level::Warn => tracing::enabled!(tracing::Level::WARN),
            Level::Error => tracing::enabled!(tracing::Level::ERROR),
        };
        // Lines the log level hides cost nothing.
        if !level_enabled || !self.caps.host.logs.admit(&self.plugin, Instant::now()) {
            return;
        }
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
    use std::time::Duration;

    #[test]
    fn log_lines_are_limited_per_plugin_over_time() {
        let logs = LogLimits::default();
        let t0 = Instant::now();
        let burst = LOG_BURST as u64;
        let admitted = (0..burst + 50).filter(|_| logs.admit("chatty", t0)).count() as u64;
        assert_eq!(admitted, burst, "the burst");
        assert_eq!(logs.dropped("chatty"), 50);
        assert!(logs.admit("quiet", t0), "another plugin has its own bucket");
        // Ten seconds later: refilled at the steady rate, not to a full burst.
        let later = t0 + Duration::from_secs(10);
        let admitted = (0..burst).filter(|_| logs.admit("chatty", later)).count() as u64;
        assert_eq!(admitted, (10.0 * LOG_LINES_PER_S) as u64);
        assert_eq!(logs.dropped("chatty"), 50 + burst - admitted);
    }

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
