//! The state of one plugin call, which every capability's `Host` impl sees:
//! the plugin's grants, a WASI context with no preopens, no environment and no
//! network, the call's clock, and what the call asked for and was refused.
//!
//! Time spent in a capability (waiting on a device or the network, and the
//! host's own work there) does not count against the plugin's CPU deadline, but every wait is bounded by what is
//! left of the call's wall-clock budget.

use super::{Capabilities, Grants};
use crate::wit::types;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of stdout/stderr kept per call; plugins should log through `host.log`.
const STDIO_CAPTURE_BYTES: usize = 16 * 1024;

/// (plugin, item, what) refusals already logged: once each, not every poll.
/// Bounded: a plugin asking for a new target every call would otherwise grow
/// it without end (measured: 0.19 MiB/s, docs/BENCHMARKS.md).
#[derive(Default)]
pub(super) struct Refusals(Mutex<HashSet<(String, String, String)>>);

/// Distinct refusals logged; past this they are still refused and shown in
/// `last_error`, only no longer logged.
const MAX_LOGGED_REFUSALS: usize = 4096;
/// Characters of a refused target kept in the refusal's text.
const MAX_REFUSAL_TARGET_CHARS: usize = 200;

impl Refusals {
    /// Whether this refusal is new and should be logged.
    fn first_time(&self, key: (String, String, String)) -> bool {
        let mut seen = self.0.lock().unwrap();
        if seen.len() >= MAX_LOGGED_REFUSALS {
            return false;
        }
        let new = seen.insert(key);
        if new && seen.len() == MAX_LOGGED_REFUSALS {
            tracing::warn!("{MAX_LOGGED_REFUSALS} distinct refusals logged; further ones are not logged");
        }
        new
    }
}

/// The call's time budget: the plugin's own running time is limited by the
/// CPU deadline, the whole call including capability waits by `wall`.
///
/// Running time is this thread's CPU time, not wall time: on a loaded machine
/// (2 cores, a busy store, another plugin compiling) a plugin that is merely
/// descheduled must not be interrupted as if it had spun (seen in CI: a
/// memory hog interrupted at "1000 ms" before reaching its memory cap). A call
/// runs start to end on one blocking thread, so the thread clock is the call's.
pub struct CallClock {
    pub started: Instant,
    pub wall: Duration,
    cpu_at_start: Duration,
    /// CPU time the host spent inside capability calls (parsing a reply,
    /// driving a device), not charged to the plugin.
    cpu_in_capabilities: Duration,
}

/// CPU time the calling thread has used since it started.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl CallClock {
    pub fn new(wall: Duration) -> Self {
        CallClock {
            started: Instant::now(),
            wall,
            cpu_at_start: thread_cpu(),
            cpu_in_capabilities: Duration::ZERO,
        }
    }

    /// Wall time left for this call.
    pub fn remaining(&self) -> Duration {
        self.wall.saturating_sub(self.started.elapsed())
    }

    /// CPU time the plugin's own code (and instantiation) has used.
    pub fn running(&self) -> Duration {
        thread_cpu()
            .saturating_sub(self.cpu_at_start)
            .saturating_sub(self.cpu_in_capabilities)
    }
}

/// The capability side of one plugin call's `Store`.
pub struct CallState {
    pub plugin: Arc<str>,
    /// The item being sampled (`None` for `describe`).
    pub item: Option<Arc<str>>,
    pub grants: Arc<Grants>,
    pub caps: Arc<Capabilities>,
    pub clock: CallClock,
    /// What capabilities refused this call (`"capability not granted to
    /// plugin P: what"`), so the caller can tell a failure caused by a refusal
    /// from any other.
    refusals: std::cell::RefCell<Vec<String>>,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
}

impl CallState {
    pub fn new(
        plugin: Arc<str>,
        item: Option<Arc<str>>,
        grants: Arc<Grants>,
        caps: Arc<Capabilities>,
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
            clock: CallClock::new(wall),
            refusals: std::cell::RefCell::new(Vec::new()),
            wasi,
            table: ResourceTable::new(),
            stdout,
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
        text
    }

    /// Whether `text` (the plugin's error, or what it printed before it
    /// crashed) reports one of this call's refusals. A refusal the plugin
    /// coped with does not make a later, unrelated failure "not granted".
    pub fn reports_refusal(&self, text: &str) -> bool {
        self.refusals.borrow().iter().any(|r| text.contains(r.as_str()))
    }

    /// The error every capability returns for something not granted. The
    /// refusal is logged once per plugin, item and target; the item's
    /// `last_error` shows it on every poll.
    pub(super) fn not_granted(&self, what: impl std::fmt::Display) -> types::CapError {
        let what = cut(what.to_string(), MAX_REFUSAL_TARGET_CHARS);
        let refusal = format!("capability not granted to plugin {}: {what}", self.plugin);
        let message = format!(
            "{refusal}; grant it under \"plugins\": {{\"{}\": {{...}}}} in the config",
            self.plugin
        );
        self.refusals.borrow_mut().push(refusal);
        if let Some(item) = &self.item {
            let key = (self.plugin.to_string(), item.to_string(), what);
            if self.caps.refusals.first_time(key) {
                tracing::warn!(plugin = %self.plugin, item = %item, "{message} (logged once per item)");
            }
        }
        types::CapError::NotGranted(message)
    }

    /// Runs a blocking capability operation (a lookup, a transfer, a
    /// request), counting its time as waiting, not against the CPU deadline.
    /// Operations bound themselves by `remaining_for`.
    pub(super) fn waiting<T>(&mut self, op: impl FnOnce(&mut Self) -> T) -> T {
        let start = thread_cpu();
        let out = op(self);
        self.clock.cpu_in_capabilities += thread_cpu().saturating_sub(start);
        out
    }

    /// The timeout for one capability operation: what the plugin asked for
    /// (or `default`), cut to what is left of the call's wall-clock budget.
    /// `Err` when nothing is left.
    pub(super) fn remaining_for(&self, asked_ms: Option<u32>, default: Duration) -> Result<Duration, types::CapError> {
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

/// `s` cut to `max` characters, marked when cut.
fn cut(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
        s.push_str("… (cut)");
    }
    s
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failure_that_reports_a_refusal_counts_as_one() {
        let caps = Arc::new(Capabilities::new(Default::default()));
        let call = CallState::new(
            Arc::from("wemo"),
            None,
            Arc::new(Grants::default()),
            caps,
            Duration::from_secs(1),
        );
        assert!(!call.reports_refusal("unavailable: capability not granted to plugin wemo: http to 10.0.0.9:80"));
        let types::CapError::NotGranted(message) = call.not_granted("http to 10.0.0.9:80") else {
            panic!("not a not-granted error")
        };
        assert!(message.contains("grant it under \"plugins\""), "{message}");
        assert!(call.reports_refusal(&format!("unavailable: switch1: {message}")));
        assert!(!call.reports_refusal("unavailable: switch1 did not answer"));
        // A huge target is cut, so the refusal still fits in a bounded error.
        let types::CapError::NotGranted(message) = call.not_granted(format!("ping {}", "p".repeat(70_000))) else {
            panic!("not a not-granted error")
        };
        assert!(message.len() < 1000, "{} bytes", message.len());
        assert!(!call.reports_refusal("capability not granted to plugin wemo: http to 10.0.0.7:80"));
    }

    #[test]
    fn logged_refusals_are_bounded() {
        let caps = Arc::new(Capabilities::new(Default::default()));
        let call = CallState::new(
            Arc::from("probe"),
            Some(Arc::from("item")),
            Arc::new(Grants::default()),
            caps.clone(),
            Duration::from_secs(1),
        );
        for n in 0..MAX_LOGGED_REFUSALS + 100 {
            call.not_granted(format!("ping 10.0.{n}"));
        }
        assert_eq!(caps.refusals.0.lock().unwrap().len(), MAX_LOGGED_REFUSALS);
    }

    #[test]
    fn the_running_clock_counts_cpu_not_time_descheduled() {
        let clock = CallClock::new(Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        assert!(clock.running() < Duration::from_millis(150), "{:?}", clock.running());
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(spin.elapsed());
        }
        assert!(clock.running() > Duration::ZERO);
    }
}
