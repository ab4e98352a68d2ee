//! What a plugin may import, one file per capability. Each file holds the grant
//! check and the `Host` implementation for that WIT interface; this module holds
//! the per-call state they share and the one place they are added to the linker.
//!
//! Every call gets a fresh `CallState`: a plugin's grants, a WASI context with no
//! preopens, no environment and no network, and the memory limiter.

mod discovery;
mod host;
mod http;
mod i2c;
mod ping;

use crate::config::Grants;
use crate::plugins::bindings::{types, Collector};
use crate::plugins::MemoryCap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of stdout/stderr kept per call; plugins should log through `host.log`.
const STDIO_CAPTURE_BYTES: usize = 16 * 1024;
/// Log lines one call may write; the rest are counted and dropped.
const LOG_LINES_PER_CALL: u32 = 100;

/// The data of one plugin call's `Store`.
pub struct CallState {
    pub plugin: Arc<str>,
    pub grants: Arc<Grants>,
    pub limits: MemoryCap,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    log_lines_left: u32,
    log_lines_dropped: u32,
}

impl CallState {
    pub fn new(plugin: Arc<str>, grants: Arc<Grants>, limits: MemoryCap) -> Self {
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
            grants,
            limits,
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

    /// The error every capability returns for something not granted.
    fn not_granted(&self, what: impl std::fmt::Display) -> types::CapError {
        types::CapError::NotGranted(format!(
            "capability not granted to plugin {}: {what}; grant it under \"plugins\": {{\"{}\": {{...}}}} in the config",
            self.plugin, self.plugin
        ))
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
