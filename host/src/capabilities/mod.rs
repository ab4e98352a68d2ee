//! What a plugin may import, one file per capability. Each file holds the grant
//! check and the `Host` implementation for that WIT interface; this module holds
//! the per-call state they share and the one place they are added to the linker.
//!
//! Every call gets a fresh `CallState`: a plugin's grants, a WASI context with no
//! preopens, no environment and no network, the memory limiter, and the call's
//! clock. Time spent waiting on a capability (a device, the network) does not
//! count against the plugin's CPU deadline, but every wait is bounded by what is
//! left of the call's wall-clock budget.

mod discovery;
mod host;
mod http;
mod i2c;
mod net_rule;
mod ping;

pub use discovery::DiscoverySettings;
pub use http::HttpSettings;
pub use i2c::{I2cGrant, I2cSettings};
pub use net_rule::NetRule;

use crate::config::Grants;
use crate::plugins::bindings::{types, Collector};
use crate::plugins::MemoryCap;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of stdout/stderr kept per call; plugins should log through `host.log`.
const STDIO_CAPTURE_BYTES: usize = 16 * 1024;
/// Log lines one call may write; the rest are counted and dropped.
const LOG_LINES_PER_CALL: u32 = 100;

/// What the capabilities share across calls: the I2C buses (opened once, one
/// lock each), network settings, and which refusals were already logged.
pub struct Capabilities {
    pub i2c: i2c::Buses,
    pub http: HttpSettings,
    pub discovery: DiscoverySettings,
    pub pingers: ping::Pingers,
    /// What plugins keep across calls (`host.cache-set`).
    pub caches: host::PluginCaches,
    /// (plugin, item, what) refusals already logged: once each, not every poll.
    refusals_logged: Mutex<HashSet<(String, String, String)>>,
}

impl Capabilities {
    pub fn new(i2c: I2cSettings, http: HttpSettings, discovery: DiscoverySettings) -> Self {
        Capabilities {
            i2c: i2c::Buses::new(i2c),
            http,
            discovery,
            pingers: ping::Pingers::default(),
            caches: host::PluginCaches::default(),
            refusals_logged: Mutex::new(HashSet::new()),
        }
    }

    /// For unit tests and `plugin inspect`: nothing simulated, defaults.
    pub fn defaults() -> Self {
        Self::new(
            I2cSettings::default(),
            HttpSettings::default(),
            DiscoverySettings::default(),
        )
    }

    /// Lines for the startup log, e.g. the simulated buses.
    pub fn describe(&self) -> Vec<String> {
        self.i2c.describe()
    }
}

/// The call's time budget: CPU (wasm) time is limited by the deadline, the
/// whole call including capability waits by `wall`.
pub struct CallClock {
    pub started: Instant,
    pub wall: Duration,
    /// Time spent inside capability calls so far.
    pub waited: Duration,
}

impl CallClock {
    pub fn new(wall: Duration) -> Self {
        CallClock {
            started: Instant::now(),
            wall,
            waited: Duration::ZERO,
        }
    }

    /// Wall time left for this call.
    pub fn remaining(&self) -> Duration {
        self.wall.saturating_sub(self.started.elapsed())
    }

    /// Time the plugin's own code has run (wall time minus capability waits).
    pub fn running(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.waited)
    }
}

/// The data of one plugin call's `Store`.
pub struct CallState {
    pub plugin: Arc<str>,
    /// The item being sampled (`None` for `describe`).
    pub item: Option<Arc<str>>,
    pub grants: Arc<Grants>,
    pub caps: Arc<Capabilities>,
    pub limits: MemoryCap,
    pub clock: CallClock,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    log_lines_left: u32,
    log_lines_dropped: u32,
}

impl CallState {
    pub fn new(
        plugin: Arc<str>,
        item: Option<Arc<str>>,
        grants: Arc<Grants>,
        caps: Arc<Capabilities>,
        limits: MemoryCap,
        wall: Duration,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        // No preopens, no env, no args, no sockets: nothing ambient.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stdout.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            plugin,
            item,
            grants,
            caps,
            limits,
            clock: CallClock::new(wall),
            wasi,
            table: ResourceTable::new(),
            stdout,
            log_lines_left: LOG_LINES_PER_CALL,
            log_lines_dropped: 0,
        }
    }

    /// Logs what the plugin printed to stdout/stderr (at debug: a plugin that
    /// prints on every call would flood the log) and returns it, so a crash
    /// can be reported with the plugin's last words (e.g. a panic message).
    pub fn take_stdio(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.stdout.contents()).into_owned();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!(plugin = %self.plugin, "stdout: {line}");
        }
        if self.log_lines_dropped > 0 {
            tracing::warn!(plugin = %self.plugin, "dropped {} log lines over the per-call limit of {LOG_LINES_PER_CALL}", self.log_lines_dropped);
        }
        text
    }

    /// The error every capability returns for something not granted. The
    /// refusal is logged once per plugin, item and target; the item's
    /// `last_error` shows it on every poll.
    fn not_granted(&self, what: impl std::fmt::Display) -> types::CapError {
        let what = what.to_string();
        let message = format!(
            "capability not granted to plugin {}: {what}; grant it under \"plugins\": {{\"{}\": {{...}}}} in the config",
            self.plugin, self.plugin
        );
        if let Some(item) = &self.item {
            let key = (self.plugin.to_string(), item.to_string(), what);
            if self.caps.refusals_logged.lock().unwrap().insert(key) {
                tracing::warn!(plugin = %self.plugin, item = %item, "{message} (logged once per item)");
            }
        }
        types::CapError::NotGranted(message)
    }

    /// Runs a blocking capability operation (a lookup, a transfer, a
    /// request), counting its time as waiting, not against the CPU deadline.
    /// Operations bound themselves by `remaining_for`.
    fn waiting<T>(&mut self, op: impl FnOnce(&mut Self) -> T) -> T {
        let start = Instant::now();
        let out = op(self);
        self.clock.waited += start.elapsed();
        out
    }

    /// The timeout for one capability operation: what the plugin asked for
    /// (or `default`), cut to what is left of the call's wall-clock budget.
    /// `Err` when nothing is left.
    fn remaining_for(&self, asked_ms: Option<u32>, default: Duration) -> Result<Duration, types::CapError> {
        let asked = asked_ms.map_or(default, |ms| Duration::from_millis(ms.into()));
        let left = self.clock.remaining();
        if left.is_zero() {
            return Err(types::CapError::Timeout(format!(
                "plugin {} used up its call's wall-clock budget of {} ms",
                self.plugin,
                self.clock.wall.as_millis()
            )));
        }
        Ok(asked.min(left))
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for CallState {}

/// Adds WASI (locked down by `CallState::new`) and our capability interfaces.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> anyhow::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    Collector::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)?;
    Ok(())
}
