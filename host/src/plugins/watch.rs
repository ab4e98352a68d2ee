//! Hot reload: watches the plugins folder and rescans it when `.wasm` files
//! appear, change, are renamed into place or disappear. Events are debounced,
//! so a file written in pieces is looked at once it has been quiet for a
//! moment; a half-written file fails validation, keeps the old version
//! serving, and is tried again on its next write (the rescan compares hashes).

use super::Registry;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Quiet time after the last event before the folder is rescanned.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Watching stops when this is dropped.
pub struct Watcher(#[allow(dead_code)] Debouncer<RecommendedWatcher>);

/// Starts watching; the watcher lives as long as the returned guard.
pub fn watch(registry: Arc<Registry>) -> anyhow::Result<Watcher> {
    let dir = registry.dir().to_path_buf();
    let handle = tokio::runtime::Handle::current();
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        let relevant = match result {
            Ok(events) => events.iter().any(|e| e.path.extension().is_some_and(|x| x == "wasm")),
            Err(e) => {
                tracing::warn!("watching the plugins folder: {e}; rescanning");
                true
            }
        };
        if relevant {
            let registry = registry.clone();
            handle.spawn_blocking(move || registry.rescan());
        }
    })?;
    debouncer.watcher().watch(&dir, RecursiveMode::NonRecursive)?;
    tracing::info!("watching {} for plugin changes", dir.display());
    Ok(Watcher(debouncer))
}

/// Rescans every `every` (for folders whose events are unreliable, e.g. NFS).
pub fn rescan_periodically(registry: Arc<Registry>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let registry = registry.clone();
            let _ = tokio::task::spawn_blocking(move || registry.rescan()).await;
        }
    })
}
