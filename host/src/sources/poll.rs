//! The poll source (the scheduler): one lightweight task per enabled item that wakes on wall-clock
//! multiples of the item's interval, takes a sample on a blocking thread, and
//! hands the result to the store.
//!
//! - An item never overlaps itself: ticks that pass while a call is still
//!   running are skipped and counted.
//! - Items never wait for each other: each has its own task, and calls run on
//!   the blocking pool, bounded by `max_concurrent_calls`.
//! - Timestamps: a sample without its own timestamp gets the scheduled tick
//!   time (`Sandbox::sample`), so series line up across items and restarts.

use super::items::ItemSpec;
use crate::plugins::{plugin_of_key, CallError, CallErrorKind, Registry};
use crate::sample::{now_ns, rfc3339_ns, Sample};
use crate::store::{SampleFilter, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

const NS_PER_S: i64 = 1_000_000_000;

/// What kind of failure an item's last poll was (`last_error_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ItemErrorKind {
    /// The plugin call failed: how.
    Call(CallErrorKind),
    Other(OtherKind),
}

/// Failures before or after the plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherKind {
    /// No loaded plugin serves the key (not loaded yet, removed, or the key dropped).
    UnknownKey,
    /// The samples could not be stored.
    Store,
    /// The host itself failed (a task or semaphore).
    Host,
}

/// Why an item's last poll produced nothing: a kind to match on and the
/// operator's message (`last_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub kind: ItemErrorKind,
    pub message: String,
}

impl ItemError {
    fn other(kind: OtherKind, message: String) -> Self {
        ItemError {
            kind: ItemErrorKind::Other(kind),
            message,
        }
    }
}

impl From<CallError> for ItemError {
    fn from(e: CallError) -> Self {
        ItemError {
            kind: ItemErrorKind::Call(e.kind()),
            message: e.to_string(),
        }
    }
}

/// What the API shows about an item beyond its spec.
#[derive(Debug, Clone, Default)]
pub struct ItemStatus {
    /// The newest sample the store holds from this item's polls (see `newest_was_duplicate`).
    pub last_sample: Option<Sample>,
    /// The newest sample of the last poll repeated a stored series and
    /// timestamp, so the store kept the first one and ignored it; `last_sample`
    /// is the stored one, not the re-sent value.
    pub newest_was_duplicate: bool,
    pub last_error: Option<ItemError>,
    pub next_poll_ns: Option<i64>,
    pub polls: u64,
    pub errors: u64,
    pub skipped_ticks: u64,
    /// Samples the store already had (same series and timestamp): not stored again.
    pub duplicates: u64,
    /// Samples older than the store keeps (`store.retention_days`): not stored.
    pub refused_too_old: u64,
    /// Whether this item's first too-old sample was logged (once per item, not per tick).
    warned_too_old: bool,
}

/// A scheduled item: its spec, its live status and its running task.
pub struct ItemHandle {
    pub spec: ItemSpec,
    /// Insertion order, so listings and the config file keep the user's order.
    order: u64,
    status: Mutex<ItemStatus>,
    /// False once the item is deleted or replaced. Held while a result is
    /// stored, so that after `stop` returns the item writes nothing more.
    alive: tokio::sync::Mutex<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ItemHandle {
    pub fn status(&self) -> ItemStatus {
        self.status.lock().unwrap().clone()
    }
}

/// Shared by every item task.
struct Context {
    registry: Arc<Registry>,
    store: Store,
    permits: Arc<Semaphore>,
}

pub struct Scheduler {
    ctx: Arc<Context>,
    items: RwLock<BTreeMap<String, Arc<ItemHandle>>>,
    next_order: AtomicU64,
}

impl Scheduler {
    pub fn new(registry: Arc<Registry>, store: Store) -> Self {
        let permits = Arc::new(Semaphore::new(
            registry.sandbox().settings.max_concurrent_calls as usize,
        ));
        Scheduler {
            ctx: Arc::new(Context {
                registry,
                store,
                permits,
            }),
            items: RwLock::default(),
            next_order: AtomicU64::new(0),
        }
    }

    /// Adds and starts an item; `Err` when the name is taken.
    pub fn add(&self, spec: ItemSpec) -> Result<Arc<ItemHandle>, String> {
        let mut items = self.items.write().unwrap();
        if items.contains_key(&spec.name) {
            return Err(format!(
                "an item named \"{}\" already exists; choose another name or PUT /items/{} to change it",
                spec.name, spec.name
            ));
        }
        let order = self.next_order.fetch_add(1, Ordering::Relaxed);
        let handle = self.start(spec, order, ItemStatus::default());
        items.insert(handle.spec.name.clone(), handle.clone());
        Ok(handle)
    }

    /// Replaces an item's spec, keeping its place, counters and last sample.
    /// Returns `None` when there is no such item.
    pub async fn replace(&self, spec: ItemSpec) -> Option<Arc<ItemHandle>> {
        let old = self.get(&spec.name)?;
        stop_handle(&old).await;
        let mut status = old.status();
        status.next_poll_ns = None;
        let handle = self.start(spec, old.order, status);
        self.items
            .write()
            .unwrap()
            .insert(handle.spec.name.clone(), handle.clone());
        Some(handle)
    }

    /// Stops and forgets an item. When this returns, the item stores nothing more.
    pub async fn remove(&self, name: &str) -> bool {
        let Some(handle) = self.items.write().unwrap().remove(name) else {
            return false;
        };
        stop_handle(&handle).await;
        true
    }

    pub fn get(&self, name: &str) -> Option<Arc<ItemHandle>> {
        self.items.read().unwrap().get(name).cloned()
    }

    /// Every item in the order they were added.
    pub fn list(&self) -> Vec<Arc<ItemHandle>> {
        let mut all: Vec<_> = self.items.read().unwrap().values().cloned().collect();
        all.sort_by_key(|h| h.order);
        all
    }

    pub fn specs(&self) -> Vec<ItemSpec> {
        self.list().iter().map(|h| h.spec.clone()).collect()
    }

    /// Stops every item, waiting for results being stored.
    pub async fn shutdown(&self) {
        for handle in self.list() {
            stop_handle(&handle).await;
        }
    }

    fn start(&self, spec: ItemSpec, order: u64, status: ItemStatus) -> Arc<ItemHandle> {
        let handle = Arc::new(ItemHandle {
            spec,
            order,
            status: Mutex::new(status),
            alive: tokio::sync::Mutex::new(true),
            task: Mutex::new(None),
        });
        if handle.spec.enabled {
            let interval = handle.spec.interval as i64 * NS_PER_S;
            handle.status.lock().unwrap().next_poll_ns = Some(next_tick(now_ns(), interval));
            let task = tokio::spawn(run_item(handle.clone(), self.ctx.clone()));
            *handle.task.lock().unwrap() = Some(task);
        }
        handle
    }
}

async fn stop_handle(handle: &ItemHandle) {
    // Taking the lock waits for a result being stored right now.
    *handle.alive.lock().await = false;
    if let Some(task) = handle.task.lock().unwrap().take() {
        task.abort();
    }
}

/// The first multiple of `interval_ns` at or after `t`.
pub fn next_tick(t: i64, interval_ns: i64) -> i64 {
    t.div_euclid(interval_ns) * interval_ns + if t.rem_euclid(interval_ns) == 0 { 0 } else { interval_ns }
}

/// Sleeps until the wall clock reaches tick `t` and returns the tick reached.
/// Wakes at least once a second to notice clock steps: if the clock went back
/// (a Pi without RTC getting NTP at boot), the item moves to the next tick of
/// the new time instead of pausing for as long as the step.
async fn sleep_until_tick(mut t: i64, interval: i64) -> i64 {
    loop {
        let now = now_ns();
        if t - now > interval {
            t = next_tick(now, interval);
        }
        let left = t - now;
        if left <= 0 {
            return t;
        }
        tokio::time::sleep(Duration::from_nanos(left.min(NS_PER_S) as u64)).await;
    }
}

async fn run_item(handle: Arc<ItemHandle>, ctx: Arc<Context>) {
    let spec = &handle.spec;
    let interval = spec.interval as i64 * NS_PER_S;
    let mut tick = next_tick(now_ns(), interval);
    loop {
        handle.status.lock().unwrap().next_poll_ns = Some(tick);
        tick = sleep_until_tick(tick, interval).await;
        if !plugin_ready(&ctx.registry, &spec.key, tick + interval).await {
            // Its plugin is still loading: not a failed poll, nor a skipped
            // tick; the item starts (again) once its plugin is there.
            tick = next_tick(now_ns(), interval);
            continue;
        }

        let has_sampled = handle.status.lock().unwrap().last_sample.is_some();
        let result = take_sample(&ctx, spec, tick, has_sampled).await;
        {
            let alive = handle.alive.lock().await;
            if !*alive {
                return;
            }
            record(&handle, &ctx.store, result).await;
        }

        // Skip (and count) the ticks that passed while this one ran.
        let now = now_ns();
        tick += interval;
        if tick <= now {
            let missed = (now - tick) / interval + 1;
            handle.status.lock().unwrap().skipped_ticks += missed as u64;
            tick += missed * interval;
        }
    }
}

async fn take_sample(
    ctx: &Arc<Context>,
    spec: &ItemSpec,
    tick: i64,
    has_sampled: bool,
) -> Result<Vec<Sample>, ItemError> {
    let plugin = match has_sampled {
        true => ctx.registry.plugin_for_running_item(&spec.key),
        false => ctx.registry.plugin_for_key(&spec.key),
    }
    .map_err(|e| ItemError::other(OtherKind::UnknownKey, e))?;
    let host_error = |e: tokio::sync::AcquireError| ItemError::other(OtherKind::Host, e.to_string());
    let _plugin_share = plugin.permits.clone().acquire_owned().await.map_err(host_error)?;
    let _permit = ctx.permits.acquire().await.map_err(host_error)?;
    let registry = ctx.registry.clone();
    let plugin_name = plugin.name.to_string();
    let (item, key, arg) = (Arc::<str>::from(spec.name.as_str()), spec.key.clone(), spec.arg.clone());
    let mut samples = tokio::task::spawn_blocking(move || registry.sample(&plugin, &item, &key, arg.as_deref(), tick))
        .await
        .map_err(|e| ItemError::other(OtherKind::Host, format!("host error: sampling task failed: {e}")))??;
    check_forwardable(&plugin_name, &samples)?;
    // The item's own tags are added to every sample (the operator's word wins).
    for s in &mut samples {
        s.tags.extend(spec.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(samples)
}

/// Whether the item's plugin can be asked before `deadline`: while a file that
/// may provide it is still loading (start-up, hot reload), waits for it.
/// `false` when it is still loading at the deadline.
async fn plugin_ready(registry: &Registry, key: &str, deadline: i64) -> bool {
    loop {
        let loaded = registry.loaded();
        if registry.plugin_for_key(key).is_ok() || !registry.is_loading(plugin_of_key(key)) {
            return true;
        }
        let left = deadline - now_ns();
        if left <= 0 {
            return false;
        }
        let _ = tokio::time::timeout(Duration::from_nanos(left as u64), loaded).await;
    }
}

/// The samples of a result older than the store keeps: not stored, counted.
#[derive(Debug, Default)]
struct TooOld {
    count: usize,
    /// The newest of them (what a user looks for in a device's log).
    newest: Option<Sample>,
    /// The cut-off they fell before.
    cutoff_ns: i64,
}

/// Splits a result at the store's retention cut-off: the samples it keeps, and
/// those it would drop at insert (`Store::oldest_kept_ns`). A device log with
/// 15 old lines and one new one stores the new one instead of nothing.
fn split_too_old(samples: Vec<Sample>, cutoff_ns: Option<i64>) -> (Vec<Sample>, TooOld) {
    let Some(cutoff_ns) = cutoff_ns else {
        return (samples, TooOld::default());
    };
    let mut too_old = TooOld {
        cutoff_ns,
        ..TooOld::default()
    };
    let mut kept = Vec::with_capacity(samples.len());
    for s in samples {
        if s.timestamp_ns >= cutoff_ns {
            kept.push(s);
            continue;
        }
        too_old.count += 1;
        if too_old.newest.as_ref().is_none_or(|n| n.timestamp_ns < s.timestamp_ns) {
            too_old.newest = Some(s);
        }
    }
    (kept, too_old)
}

/// The whole number of days a cut-off lies before now (the `retention_days`
/// that made it; `Store` computes it as now minus whole days).
fn retention_days(cutoff_ns: i64) -> i64 {
    ((now_ns() - cutoff_ns) as f64 / (86_400.0 * NS_PER_S as f64)).round() as i64
}

/// The item's error when every sample of a result was too old. Worded without
/// the moving cut-off, so a device that keeps sending the same old samples
/// logs it once, not once a tick.
fn all_too_old(plugin: &str, too_old: &TooOld) -> ItemError {
    let newest = too_old.newest.as_ref();
    CallError::InvalidResult {
        plugin: plugin.to_string(),
        reason: format!(
            "all {} samples are older than the {} days the store keeps; the newest, of measurement {:?}, is stamped {}; none was stored (raise \"retention_days\" under \"store\", or set it to 0 to keep everything)",
            too_old.count,
            retention_days(too_old.cutoff_ns),
            newest.map_or("", |s| s.measurement.as_str()),
            newest.map_or_else(String::new, |s| rfc3339_ns(s.timestamp_ns)),
        ),
    }
    .into()
}

/// Refuses a result that line protocol cannot carry exactly (a name ending
/// in a backslash, a line break in a name, ...): the sinks would set it aside,
/// so the item shows why now instead of storing what cannot be forwarded.
fn check_forwardable(plugin: &str, samples: &[Sample]) -> Result<(), ItemError> {
    for sample in samples {
        crate::sinks::line_protocol::check_sample(sample).map_err(|reason| {
            ItemError::from(CallError::InvalidResult {
                plugin: plugin.to_string(),
                reason,
            })
        })?;
    }
    Ok(())
}

/// What storing one poll's samples did.
struct Stored {
    /// The sample the item shows now: the newest of the poll if it was
    /// stored, else the one the store already holds for its series and time.
    shown: Option<Sample>,
    newest_was_duplicate: bool,
    duplicates: usize,
    /// Dropped by the store at insert after all: the cut-off moved on
    /// between `split_too_old` and the commit.
    too_old: usize,
}

/// Appends the samples within retention and works out what the item shows.
async fn store_samples(store: &Store, item: &str, samples: Vec<Sample>) -> Result<Stored, ItemError> {
    let appended = store
        .append(item, samples.clone())
        .await
        .map_err(|e| ItemError::other(OtherKind::Store, format!("store: {e:#}")))?;
    let newest = samples.last().cloned();
    if appended.stored.len() != samples.len() {
        // Held in memory while the store cannot be written (`write_health`):
        // stored once it can be, so the item shows them as today.
        return Ok(Stored {
            shown: newest,
            newest_was_duplicate: false,
            duplicates: 0,
            too_old: 0,
        });
    }
    let cutoff = store.oldest_kept_ns();
    let (mut duplicates, mut too_old) = (0, 0);
    for (s, stored) in samples.iter().zip(&appended.stored) {
        match (*stored, cutoff) {
            (true, _) => {}
            (false, Some(c)) if s.timestamp_ns < c => too_old += 1,
            (false, _) => duplicates += 1,
        }
    }
    let newest_was_duplicate = appended.stored.last() == Some(&false)
        && newest
            .as_ref()
            .is_some_and(|n| cutoff.is_none_or(|c| n.timestamp_ns >= c));
    let shown = match newest {
        Some(newest) if newest_was_duplicate => stored_twin(store, item, &newest).await,
        Some(newest) if appended.stored.last() == Some(&true) => Some(newest),
        _ => None,
    };
    Ok(Stored {
        shown,
        newest_was_duplicate,
        duplicates,
        too_old,
    })
}

/// The stored sample of the same series and timestamp as `sample` (which the
/// store ignored as a duplicate): what the item shows instead of the re-sent value.
async fn stored_twin(store: &Store, item: &str, sample: &Sample) -> Option<Sample> {
    let filter = SampleFilter {
        from_ns: Some(sample.timestamp_ns),
        to_ns: Some(sample.timestamp_ns),
        measurement: Some(sample.measurement.clone()),
        tags: sample.tags.clone(),
    };
    // The filter matches supersets of the tags too; the series has exactly these.
    let found = store.recent(item, &filter, 16).await.ok()?;
    found.into_iter().find(|s| s.tags == sample.tags)
}

/// Stores samples and updates the status; logs an error only when it changes,
/// so a failing item logs once, not once a tick.
async fn record(handle: &ItemHandle, store: &Store, result: Result<Vec<Sample>, ItemError>) {
    let name = &handle.spec.name;
    let mut too_old = TooOld::default();
    let result = match result {
        Ok(samples) => {
            let (kept, old) = split_too_old(samples, store.oldest_kept_ns());
            too_old = old;
            if kept.is_empty() && too_old.count > 0 {
                Err(all_too_old(handle.spec.plugin_name(), &too_old))
            } else {
                store_samples(store, name, kept).await
            }
        }
        Err(e) => Err(e),
    };
    let mut status = handle.status.lock().unwrap();
    status.polls += 1;
    let refused = too_old.count + result.as_ref().map_or(0, |s| s.too_old);
    status.refused_too_old += refused as u64;
    if refused > 0 && !status.warned_too_old {
        status.warned_too_old = true;
        let cutoff = too_old.cutoff_ns;
        tracing::warn!(
            item = %name,
            "{refused} samples of this poll are stamped before {}, the oldest the store keeps (\"retention_days\": {} under \"store\"), and were not stored; raise \"retention_days\", or set it to 0 to keep everything. Further ones are counted in the item's stats.refused_too_old, not logged",
            rfc3339_ns(cutoff),
            retention_days(cutoff),
        );
    }
    match result {
        Ok(stored) => {
            if status.last_error.take().is_some() {
                tracing::info!(item = %name, "item recovered");
            }
            status.duplicates += stored.duplicates as u64;
            status.newest_was_duplicate = stored.newest_was_duplicate;
            if let Some(shown) = stored.shown {
                status.last_sample = Some(shown);
            }
        }
        Err(e) => {
            status.errors += 1;
            // Logged when the message changes, not on every failing tick.
            if status.last_error.as_ref().map(|last| &last.message) != Some(&e.message) {
                tracing::warn!(item = %name, key = %handle.spec.key, "{}", e.message);
            }
            status.last_error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_wall_clock_multiples() {
        assert_eq!(next_tick(0, 5), 0);
        assert_eq!(next_tick(1, 5), 5);
        assert_eq!(next_tick(5, 5), 5);
        assert_eq!(next_tick(6, 5), 10);
        let s = NS_PER_S;
        assert_eq!(next_tick(1_700_000_000 * s + 1, 60 * s), 1_700_000_040 * s);
    }

    fn at(ts: i64) -> Sample {
        Sample {
            measurement: "m".into(),
            tags: BTreeMap::new(),
            fields: vec![("v".into(), crate::sample::FieldValue::Int(ts))],
            timestamp_ns: ts,
        }
    }

    #[test]
    fn samples_before_the_cutoff_are_split_off_and_counted() {
        let (kept, too_old) = split_too_old(vec![at(1), at(5), at(3), at(10), at(4)], Some(5));
        assert_eq!(kept, vec![at(5), at(10)], "the cut-off itself is kept, the order too");
        assert_eq!(too_old.count, 3);
        assert_eq!(too_old.newest, Some(at(4)));
        assert_eq!(too_old.cutoff_ns, 5);
        let (kept, too_old) = split_too_old(vec![at(1)], None);
        assert_eq!((kept.len(), too_old.count), (1, 0), "retention 0 keeps everything");
    }

    #[test]
    fn the_retention_days_are_read_back_from_the_cutoff() {
        let day = 86_400 * NS_PER_S;
        assert_eq!(retention_days(now_ns() - 30 * day), 30);
        assert_eq!(retention_days(now_ns() - day), 1);
    }
}
