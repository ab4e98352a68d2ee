//! The sandbox every plugin call runs in: one shared wasmtime `Engine` with the
//! pooling instance allocator, a memory cap per instance, a CPU deadline per
//! call by epoch interruption, and a cap on result size.
//!
//! Instance strategy: a fresh instance per call, created from a pre-linked
//! `InstancePre` in a pooled slot (copy-on-write memory images make this a few
//! microseconds). Nothing survives between calls, so a trap, a leak or corrupted
//! state can never reach the next call, and memory stays bounded by
//! `max_concurrent_calls × memory cap` however many items there are.

use crate::capabilities::{self, CallState, Capabilities, Grants};
use crate::sample::{check_timestamp, FieldValue, Sample, RESERVED_FIELD_NAMES, RESERVED_TAG_KEYS};
use crate::wit::{bounded, decoding, sampling, types};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap,
    UpdateDeadline,
};

/// How often the epoch advances; the CPU deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Table elements a plugin may have (CPython and SpiderMonkey need large tables).
const MAX_TABLE_ELEMENTS: usize = 200_000;
/// Memory per pool slot reset in place rather than returned to the kernel.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// Host bytes one lift of plugin data (a result, or the arguments of one host
/// call) may allocate, per byte of `max_result_bytes`. wasmtime counts the
/// host's size of every list entry (a point 88 bytes, a field 56, a tag 48)
/// plus the text, so a result within the cap needs up to ~6× the cap in host
/// memory; beyond 8× it is refused before it is copied.
const LIFT_BYTES_PER_RESULT_BYTE: usize = 8;
/// The least a lift may allocate, whatever the result cap: host calls carry
/// up to 1 MiB (an HTTP request body) plus headers.
const MIN_LIFT_BYTES: usize = 4 << 20;
/// How wasmtime reports a lift that ran out of `hostcall_fuel`.
const LIFT_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Limits every plugin call runs under.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// Linear-memory cap per instance. Python/JS plugins need at least ~16 MiB.
    pub memory_mib: u32,
    /// CPU deadline of one `sample` call: the plugin's own running time, not
    /// counting waits on capabilities (network, I2C).
    pub call_timeout_ms: u64,
    /// CPU deadline of `describe()` at load (with instantiation: a Python
    /// component needed over 1 s on a loaded machine). Files load in the
    /// background, so a `describe()` that loops holds up only its own file.
    pub describe_timeout_ms: u64,
    /// Longest a call may wait on capabilities in all (network, I2C); with
    /// `call_timeout_ms` of CPU this bounds a call.
    pub call_wall_timeout_ms: u64,
    /// Largest result a call may return (sum of names, tags and values).
    pub max_result_bytes: usize,
    /// Plugin calls running at once; also the size of the instance pool.
    pub max_concurrent_calls: u32,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            memory_mib: 64,
            call_timeout_ms: 5000,
            describe_timeout_ms: 5000,
            call_wall_timeout_ms: 30_000,
            max_result_bytes: 1 << 20,
            max_concurrent_calls: 64,
        }
    }
}

impl SandboxSettings {
    /// Problems with the `"sandbox"` section.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.call_wall_timeout_ms < self.call_timeout_ms {
            problems.push("\"sandbox\": call_wall_timeout_ms must be at least call_timeout_ms".into());
        }
        if self.memory_mib < 1
            || self.call_timeout_ms < 10
            || self.describe_timeout_ms < 10
            || self.max_concurrent_calls < 1
        {
            problems.push(
                "\"sandbox\": memory_mib must be >= 1, call_timeout_ms and describe_timeout_ms >= 10, and max_concurrent_calls >= 1"
                    .into(),
            );
        }
        problems
    }
}

/// Why a plugin call produced no samples. The text is what `last_error` shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("bad argument: {0}")]
    BadArgument(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("failed: {0}")]
    Failed(String),
    #[error("timeout: plugin {plugin} exceeded its CPU deadline of {ms} ms and was interrupted")]
    Deadline { plugin: String, ms: u64 },
    #[error("out of memory: plugin {plugin} tried to grow past its memory cap of {mib} MiB")]
    OutOfMemory { plugin: String, mib: u32 },
    #[error("trap: plugin {plugin} crashed: {reason}")]
    Trap { plugin: String, reason: String },
    #[error("result too large: plugin {plugin} returned about {bytes} bytes, the cap is {cap} bytes")]
    ResultTooLarge { plugin: String, bytes: usize, cap: usize },
    /// Refused while being copied out of the plugin, before the host held it.
    #[error(
        "result too large: plugin {plugin} passed more than {limit} bytes to the host at once \
         (a result or a host call's arguments); results are capped at {cap} bytes"
    )]
    LiftTooLarge { plugin: String, limit: usize, cap: usize },
    #[error("invalid result: plugin {plugin}: {reason}")]
    InvalidResult { plugin: String, reason: String },
    #[error("host error: {0}")]
    Host(String),
    /// The plugin failed after a capability refused it something it was not
    /// granted; shown as the plugin reported it.
    #[error(transparent)]
    NotGranted(Box<CallError>),
}

/// What kind of failure a `CallError` is, as the API names it (`last_error_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallErrorKind {
    BadArgument,
    Unavailable,
    Timeout,
    Failed,
    Deadline,
    OutOfMemory,
    Trap,
    ResultTooLarge,
    InvalidResult,
    Host,
    NotGranted,
}

impl CallError {
    pub fn kind(&self) -> CallErrorKind {
        match self {
            CallError::BadArgument(_) => CallErrorKind::BadArgument,
            CallError::Unavailable(_) => CallErrorKind::Unavailable,
            CallError::Timeout(_) => CallErrorKind::Timeout,
            CallError::Failed(_) => CallErrorKind::Failed,
            CallError::Deadline { .. } => CallErrorKind::Deadline,
            CallError::OutOfMemory { .. } => CallErrorKind::OutOfMemory,
            CallError::Trap { .. } => CallErrorKind::Trap,
            CallError::ResultTooLarge { .. } | CallError::LiftTooLarge { .. } => CallErrorKind::ResultTooLarge,
            CallError::InvalidResult { .. } => CallErrorKind::InvalidResult,
            CallError::Host(_) => CallErrorKind::Host,
            CallError::NotGranted(_) => CallErrorKind::NotGranted,
        }
    }
}

/// Denies memory growth past the cap and remembers that it did, so a trap that
/// follows (Rust aborts on allocation failure) is reported as out-of-memory.
pub struct MemoryCap {
    max_bytes: usize,
    hit: Arc<AtomicBool>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_bytes;
        if !ok {
            self.hit.store(true, Ordering::Relaxed);
        }
        Ok(ok)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The data of one call's `Store`: the capabilities' call state and the
/// memory cap the sandbox enforces.
pub struct Call {
    pub state: CallState,
    limits: MemoryCap,
}

impl wasmtime_wasi::WasiView for Call {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        self.state.ctx()
    }
}

/// A component linked against the host, with the exports it has: `sampling`
/// (a collector), `decoding` (a decoder) or both.
pub struct Linked {
    pre: InstancePre<Call>,
    sampling: Option<sampling::GuestIndices>,
    decoding: Option<decoding::GuestIndices>,
}

impl Linked {
    pub fn samples(&self) -> bool {
        self.sampling.is_some()
    }

    pub fn decodes(&self) -> bool {
        self.decoding.is_some()
    }
}

/// One pushed payload for a plugin's decoder (`decode` in the WIT).
pub struct DecodeCall<'a> {
    pub decoder: &'a str,
    pub source: &'a Arc<str>,
    pub transport: &'a str,
    pub topic: &'a str,
    /// Stamped on points that carry no timestamp of their own.
    pub received_ns: i64,
    pub payload: &'a [u8],
}

/// One poll of an item: which item, its key and arg, and the tick it is for.
pub struct Poll<'a> {
    pub item: &'a Arc<str>,
    pub key: &'a str,
    pub arg: Option<&'a str>,
    /// Stamped on samples that carry no timestamp of their own.
    pub tick_ns: i64,
}

/// Pool slots kept for `decode` calls beyond `max_concurrent_calls`, so a
/// burst of pushed payloads never takes the slots polling needs (and the
/// other way round).
const DECODE_SLOTS: u32 = 8;

pub struct Sandbox {
    engine: Engine,
    linker: Linker<Call>,
    pub settings: SandboxSettings,
    caps: Arc<Capabilities>,
    /// `decode` calls running, at most `DECODE_SLOTS`; callers are blocking
    /// threads, so a plain condition variable gates them.
    decoding: (std::sync::Mutex<u32>, std::sync::Condvar),
}

/// Holds one of the `DECODE_SLOTS` until dropped.
struct DecodeSlot<'a>(&'a (std::sync::Mutex<u32>, std::sync::Condvar));

impl<'a> DecodeSlot<'a> {
    fn take(gate: &'a (std::sync::Mutex<u32>, std::sync::Condvar)) -> DecodeSlot<'a> {
        let mut running = gate.0.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= DECODE_SLOTS {
            running = gate.1.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        DecodeSlot(gate)
    }
}

impl Drop for DecodeSlot<'_> {
    fn drop(&mut self) {
        *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0 .1.notify_one();
    }
}

impl Sandbox {
    pub fn new(settings: SandboxSettings, caps: Arc<Capabilities>) -> anyhow::Result<Self> {
        let engine = match Engine::new(&engine_config(&settings, true)) {
            Ok(e) => e,
            Err(e) => {
                // Small address spaces (32-bit, some ARM kernels) cannot reserve the pool.
                tracing::warn!("instance pool unavailable ({e:#}); using on-demand allocation");
                Engine::new(&engine_config(&settings, false))?
            }
        };
        start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker, |call: &mut Call| &mut call.state)?;
        Ok(Sandbox {
            engine,
            linker,
            settings,
            caps,
            decoding: Default::default(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What the capabilities share, e.g. to tell them the API's address.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Links a compiled component against the host; fails when it imports
    /// what we do not provide, or exports neither `sampling` nor `decoding`.
    pub fn prepare(&self, component: &Component) -> wasmtime::Result<Linked> {
        let pre = self.linker.instantiate_pre(component)?;
        let sampling = sampling::GuestIndices::new(&pre);
        let decoding = decoding::GuestIndices::new(&pre);
        if let (Err(e), Err(_)) = (&sampling, &decoding) {
            return Err(wasmtime::format_err!(
                "it exports neither datalogger:plugin/sampling nor datalogger:plugin/decoding: {e:#}"
            ));
        }
        Ok(Linked {
            pre,
            sampling: sampling.ok(),
            decoding: decoding.ok(),
        })
    }

    /// Log lines of this plugin dropped over its rate limit since start.
    pub fn log_lines_dropped(&self, plugin: &str) -> u64 {
        self.caps.log_lines_dropped(plugin)
    }

    fn new_store(
        &self,
        plugin: &Arc<str>,
        item: Option<Arc<str>>,
        grants: &Arc<Grants>,
        cpu: Duration,
    ) -> (Store<Call>, Arc<AtomicBool>) {
        let hit = Arc::new(AtomicBool::new(false));
        let limits = MemoryCap {
            max_bytes: self.memory_cap_bytes(),
            hit: hit.clone(),
        };
        let wall = Duration::from_millis(self.settings.call_wall_timeout_ms);
        let state = CallState::new(plugin.clone(), item, grants.clone(), self.caps.clone(), wall);
        let mut store = Store::new(&self.engine, Call { state, limits });
        store.limiter(|s| &mut s.limits);
        // Bounds what the host allocates copying a result (or a host call's
        // arguments) out of the plugin: without it a plugin can hand over
        // ~100 MiB built from 1 MiB of memory (many strings sharing one
        // buffer), allocated in full before `accept` could measure it.
        store.set_hostcall_fuel(self.lift_limit_bytes());
        store.set_epoch_deadline(ticks(cpu));
        // The epoch counts wall time; at each expiry the deadline is moved
        // to what is left of the plugin's CPU budget (thread CPU time, not
        // counting capability calls), so a descheduled plugin is not charged.
        // Waits are cut to `call_wall_timeout_ms` by the capabilities.
        store.epoch_deadline_callback(move |ctx| {
            let left = cpu.saturating_sub(ctx.data().state.clock.running());
            if left.is_zero() {
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Continue(ticks(left)))
            }
        });
        (store, hit)
    }

    fn lift_limit_bytes(&self) -> usize {
        let per_result = self
            .settings
            .max_result_bytes
            .saturating_mul(LIFT_BYTES_PER_RESULT_BYTE);
        per_result.max(MIN_LIFT_BYTES)
    }

    fn memory_cap_bytes(&self) -> usize {
        self.settings.memory_mib as usize * 1024 * 1024
    }

    /// Runs `describe()` in a fresh instance, with no grants, under its own
    /// (short) deadline.
    pub fn describe(&self, file_label: &str, linked: &Linked) -> Result<types::PluginInfo, CallError> {
        let Some(indices) = &linked.sampling else {
            return Err(CallError::Host("the plugin exports no sampling interface".into()));
        };
        self.describe_with(file_label, linked, |store, instance| {
            indices.load(&mut *store, instance)?.call_describe(store)
        })
    }

    /// Runs `describe-decoding()` like `describe`.
    pub fn describe_decoding(&self, file_label: &str, linked: &Linked) -> Result<decoding::DecodingInfo, CallError> {
        let Some(indices) = &linked.decoding else {
            return Err(CallError::Host("the plugin exports no decoding interface".into()));
        };
        self.describe_with(file_label, linked, |store, instance| {
            indices.load(&mut *store, instance)?.call_describe_decoding(store)
        })
    }

    fn describe_with<T>(
        &self,
        file_label: &str,
        linked: &Linked,
        call: impl FnOnce(&mut Store<Call>, &wasmtime::component::Instance) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let label: Arc<str> = Arc::from(file_label);
        let cpu = Duration::from_millis(self.settings.describe_timeout_ms);
        let (mut store, hit) = self.new_store(&label, None, &Arc::new(Grants::default()), cpu);
        let result = linked
            .pre
            .instantiate(&mut store)
            .and_then(|instance| call(&mut store, &instance));
        let printed = store.data_mut().state.take_stdio();
        result.map_err(|e| match self.classify(file_label, e, &hit, &printed) {
            CallError::Deadline { plugin, .. } => CallError::Deadline {
                plugin,
                ms: self.settings.describe_timeout_ms,
            },
            other => other,
        })
    }

    /// Runs `sample(key, arg)` in a fresh instance and converts the result,
    /// stamping samples without a timestamp with `tick_ns`.
    pub fn sample(
        &self,
        plugin: &Arc<str>,
        grants: &Arc<Grants>,
        linked: &Linked,
        poll: Poll<'_>,
    ) -> Result<Vec<Sample>, CallError> {
        let Poll {
            item,
            key,
            arg,
            tick_ns,
        } = poll;
        let Some(indices) = &linked.sampling else {
            return Err(CallError::Host(format!(
                "plugin {plugin} exports no sampling interface"
            )));
        };
        let cpu = Duration::from_millis(self.settings.call_timeout_ms);
        let (mut store, hit) = self.new_store(plugin, Some(item.clone()), grants, cpu);
        let result = linked
            .pre
            .instantiate(&mut store)
            .and_then(|instance| indices.load(&mut store, &instance)?.call_sample(&mut store, key, arg));
        let printed = store.data_mut().state.take_stdio();
        let failure = match result {
            Err(e) => self.classify(plugin, e, &hit, &printed),
            Ok(Err(e)) => plugin_error(e),
            Ok(Ok(samples)) => return self.accept(plugin, samples, tick_ns),
        };
        Err(self.refusal_or(&store, failure, &printed))
    }

    /// Runs `decode(decoder, source, payload)` in a fresh instance, under the
    /// same deadline, memory cap and result cap as `sample`; points without a
    /// timestamp get the receive time.
    pub fn decode(
        &self,
        plugin: &Arc<str>,
        grants: &Arc<Grants>,
        linked: &Linked,
        call: DecodeCall<'_>,
    ) -> Result<Vec<Sample>, CallError> {
        let Some(indices) = &linked.decoding else {
            return Err(CallError::Host(format!(
                "plugin {plugin} exports no decoding interface"
            )));
        };
        let _slot = DecodeSlot::take(&self.decoding);
        let cpu = Duration::from_millis(self.settings.call_timeout_ms);
        let (mut store, hit) = self.new_store(plugin, Some(call.source.clone()), grants, cpu);
        let info = decoding::SourceInfo {
            source: call.source.to_string(),
            transport: call.transport.to_string(),
            topic: call.topic.to_string(),
            received_ns: call.received_ns,
        };
        let result = linked.pre.instantiate(&mut store).and_then(|instance| {
            indices
                .load(&mut store, &instance)?
                .call_decode(&mut store, call.decoder, &info, call.payload)
        });
        let printed = store.data_mut().state.take_stdio();
        let failure = match result {
            Err(e) => self.classify(plugin, e, &hit, &printed),
            Ok(Err(decoding::DecodeError::Malformed(m))) => CallError::BadArgument(bounded(m)),
            Ok(Err(decoding::DecodeError::Failed(m))) => CallError::Failed(bounded(m)),
            Ok(Ok(points)) => return self.accept(plugin, points, call.received_ns),
        };
        Err(self.refusal_or(&store, failure, &printed))
    }

    /// A failure that reports a refusal (in its message or, for a crash, in
    /// what the plugin printed) was caused by a missing grant.
    fn refusal_or(&self, store: &Store<Call>, failure: CallError, printed: &str) -> CallError {
        let state = &store.data().state;
        let crashed = matches!(failure, CallError::Trap { .. });
        match state.reports_refusal(&failure.to_string()) || (crashed && state.reports_refusal(printed)) {
            true => CallError::NotGranted(Box::new(failure)),
            false => failure,
        }
    }

    /// Checks and converts what a successful `sample` returned.
    fn accept(&self, plugin: &Arc<str>, samples: Vec<types::Point>, tick_ns: i64) -> Result<Vec<Sample>, CallError> {
        let bytes: usize = samples.iter().map(wit_sample_size).sum();
        if bytes > self.settings.max_result_bytes {
            return Err(CallError::ResultTooLarge {
                plugin: plugin.to_string(),
                bytes,
                cap: self.settings.max_result_bytes,
            });
        }
        samples
            .into_iter()
            .map(|s| convert_sample(s, tick_ns))
            .collect::<Result<_, _>>()
            .map_err(|reason| CallError::InvalidResult {
                plugin: plugin.to_string(),
                reason,
            })
    }

    /// Names what ended a failed call: the deadline, the memory cap, or a crash
    /// (with the last lines the plugin printed, where a panic message lands).
    fn classify(&self, plugin: &str, err: wasmtime::Error, memory_hit: &AtomicBool, printed: &str) -> CallError {
        let plugin = plugin.to_string();
        if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Deadline {
                plugin,
                ms: self.settings.call_timeout_ms,
            };
        }
        if memory_hit.load(Ordering::Relaxed) {
            return CallError::OutOfMemory {
                plugin,
                mib: self.settings.memory_mib,
            };
        }
        if format!("{err:#}").contains(LIFT_EXHAUSTED) {
            return CallError::LiftTooLarge {
                plugin,
                limit: self.lift_limit_bytes(),
                cap: self.settings.max_result_bytes,
            };
        }
        let mut reason = match err.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => one_line(&format!("{err:#}")),
        };
        let last_words: Vec<&str> = printed.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if !last_words.is_empty() {
            let tail = last_words[last_words.len().saturating_sub(2)..].join(" / ");
            reason = format!("{reason}; it printed: {}", truncate(&tail, 300));
        }
        CallError::Trap { plugin, reason }
    }
}

/// Error chains from wasmparser span lines; `last_error` and logs want one.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn engine_config(settings: &SandboxSettings, pooling: bool) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let cap = settings.memory_mib as u64 * 1024 * 1024;
    if pooling {
        let slots = settings.max_concurrent_calls + DECODE_SLOTS;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 16)
            .total_memories(slots * 4)
            .total_tables(slots * 8)
            .max_core_instances_per_component(32)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_memory_size(cap as usize)
            .table_elements(MAX_TABLE_ELEMENTS)
            // Reset a slot's dirty pages with memset instead of madvise: madvise
            // costs a TLB shootdown on every core per call, which dominated CPU
            // at 10,000 calls/s (docs/BENCHMARKS.md). PAGEMAP_SCAN (Linux >= 6.7)
            // finds the dirty pages; older kernels memset the low addresses.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES / 8);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // Reserve only the cap per slot (with explicit bounds checks) instead of
        // 4 GiB, so the pool fits in a Raspberry Pi's 39-bit address space.
        config.memory_reservation(cap);
        config.memory_reservation_for_growth(0);
        config.memory_guard_size(64 * 1024);
    }
    config
}

/// Epoch ticks in a duration, at least one.
fn ticks(d: Duration) -> u64 {
    (d.as_millis() as u64).div_ceil(EPOCH_TICK.as_millis() as u64).max(1)
}

/// Advances the engine's epoch every `EPOCH_TICK` until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })
        .expect("spawn epoch ticker thread");
}

fn plugin_error(e: types::SampleError) -> CallError {
    match e {
        types::SampleError::BadArgument(m) => CallError::BadArgument(bounded(m)),
        types::SampleError::Unavailable(m) => CallError::Unavailable(bounded(m)),
        types::SampleError::Timeout(m) => CallError::Timeout(bounded(m)),
        types::SampleError::Failed(m) => CallError::Failed(bounded(m)),
    }
}

fn wit_sample_size(s: &types::Point) -> usize {
    let tags: usize = s.tags.iter().map(|t| t.key.len() + t.value.len()).sum();
    let fields: usize = s
        .fields
        .iter()
        .map(|f| {
            f.name.len()
                + match &f.value {
                    types::FieldValue::Text(t) => t.len(),
                    _ => 8,
                }
        })
        .sum();
    s.measurement.len() + tags + fields + 16
}

/// Checks a plugin's point and turns it into a stored sample. Rejects what no
/// time-series database can hold: no fields, non-finite floats, repeated or
/// reserved names, timestamps outside InfluxDB's range.
fn convert_sample(s: types::Point, tick_ns: i64) -> Result<Sample, String> {
    let m = &s.measurement;
    if m.is_empty() {
        return Err("a sample has an empty measurement name".into());
    }
    if s.fields.is_empty() {
        return Err(format!("a sample of measurement {m:?} has no fields"));
    }
    let mut fields: Vec<(String, FieldValue)> = Vec::with_capacity(s.fields.len());
    for f in s.fields {
        if f.name.is_empty() || fields.iter().any(|(n, _)| *n == f.name) {
            return Err(format!(
                "a sample of measurement {m:?} has an empty or repeated field name {:?}",
                f.name
            ));
        }
        if RESERVED_FIELD_NAMES.contains(&f.name.as_str()) {
            return Err(format!(
                "a sample of measurement {m:?} has a field {:?}; field names {} are reserved by InfluxDB; rename the field",
                f.name,
                RESERVED_FIELD_NAMES.join(", ")
            ));
        }
        let value = match f.value {
            types::FieldValue::Float(x) if !x.is_finite() => {
                return Err(format!(
                    "field {:?} of measurement {m:?} is {x}; only finite floats can be stored",
                    f.name
                ))
            }
            types::FieldValue::Float(x) => FieldValue::Float(x),
            types::FieldValue::Int(x) => FieldValue::Int(x),
            types::FieldValue::Uint(x) => FieldValue::Uint(x),
            types::FieldValue::Boolean(x) => FieldValue::Boolean(x),
            types::FieldValue::Text(x) => FieldValue::Text(x),
        };
        fields.push((f.name, value));
    }
    let mut tags = std::collections::BTreeMap::new();
    for t in s.tags {
        if t.key.is_empty() || tags.insert(t.key.clone(), t.value).is_some() {
            return Err(format!(
                "a sample of measurement {m:?} has an empty or repeated tag {:?}",
                t.key
            ));
        }
        if RESERVED_TAG_KEYS.contains(&t.key.as_str()) {
            return Err(format!(
                "a sample of measurement {m:?} has a tag {:?}; tag keys {} are reserved (the outputs add \"item\", InfluxDB refuses the others); rename the tag",
                t.key,
                RESERVED_TAG_KEYS.join(", ")
            ));
        }
    }
    let timestamp_ns = s.timestamp_ns.unwrap_or(tick_ns);
    check_timestamp(timestamp_ns).map_err(|e| format!("a sample of measurement {m:?} has {e}"))?;
    Ok(Sample {
        measurement: s.measurement,
        tags,
        fields,
        timestamp_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(fields: Vec<(&str, types::FieldValue)>, tags: Vec<(&str, &str)>) -> types::Point {
        types::Point {
            measurement: "m".into(),
            tags: tags
                .into_iter()
                .map(|(k, v)| types::Tag {
                    key: k.into(),
                    value: v.into(),
                })
                .collect(),
            fields: fields
                .into_iter()
                .map(|(n, value)| types::Field { name: n.into(), value })
                .collect(),
            timestamp_ns: None,
        }
    }

    #[test]
    fn points_without_timestamp_get_the_tick() {
        let s = convert_sample(point(vec![("v", types::FieldValue::Int(1))], vec![("a", "b")]), 7).unwrap();
        assert_eq!(s.timestamp_ns, 7);
        assert_eq!(s.tags["a"], "b");
    }

    #[test]
    fn a_result_within_the_cap_fits_the_lift_limit() {
        // The smallest point (what costs most host memory per counted byte):
        // wasmtime charges the host size of each list entry plus the text.
        let tiny = point(vec![("v", types::FieldValue::Int(1))], vec![]);
        let lifted = std::mem::size_of::<types::Point>() + 1 + std::mem::size_of::<types::Field>() + 1;
        assert!(
            lifted <= wit_sample_size(&tiny) * LIFT_BYTES_PER_RESULT_BYTE,
            "{lifted} host bytes for {} counted",
            wit_sample_size(&tiny)
        );
    }

    #[test]
    fn unstorable_points_are_rejected() {
        use types::FieldValue::*;
        let cases = [
            point(vec![], vec![]),
            point(vec![("v", Float(f64::NAN))], vec![]),
            point(vec![("v", Float(f64::INFINITY))], vec![]),
            point(vec![("v", Int(1)), ("v", Int(2))], vec![]),
            point(vec![("", Int(1))], vec![]),
            point(vec![("v", Int(1))], vec![("a", "1"), ("a", "2")]),
            point(vec![("v", Int(1))], vec![("item", "x")]),
            point(vec![("v", Int(1))], vec![("time", "x")]),
            point(vec![("v", Int(1))], vec![("_measurement", "x")]),
            point(vec![("time", Int(1))], vec![]),
            point(vec![("_field", Int(1))], vec![]),
            types::Point {
                timestamp_ns: Some(i64::MIN),
                ..point(vec![("v", Int(1))], vec![])
            },
            types::Point {
                timestamp_ns: Some(i64::MAX),
                ..point(vec![("v", Int(1))], vec![])
            },
        ];
        for case in cases {
            assert!(convert_sample(case.clone(), 0).is_err(), "{case:?} was accepted");
        }
    }
}
