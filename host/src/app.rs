//! Wiring: `App::build` makes the parts from a config — plugins (with their
//! capabilities), the store, the sinks, the poll source — and starts them;
//! `App::serve` answers the REST API on a listener until `shutdown` resolves,
//! then stops the items. `datalogger run` is `run` below; tests build and
//! serve an `App` in-process on a listener of their own.

use crate::api::{self, AppState};
use crate::capabilities::Capabilities;
use crate::config::{self, Config, ConfigFile};
use crate::plugins::{watch, Registry, Sandbox};
use crate::server;
use crate::sinks::OutputHandle;
use crate::sources::mqtt::MqttSources;
use crate::sources::poll::Scheduler;
use crate::store::Store;
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A built, running logger, waiting to serve its API.
pub struct App {
    state: AppState,
    /// Hot reload: the watcher lives as long as the app.
    _watcher: Option<watch::Watcher>,
    /// Pruning and periodic rescans, stopped when the app is dropped.
    background: Vec<JoinHandle<()>>,
    /// The MQTT sources' connections, stopped cleanly by `serve`.
    mqtt: MqttSources,
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl App {
    /// Loads the plugins, opens the store, starts the sinks and every item.
    pub async fn build(config: Config, doc: serde_json::Value) -> anyhow::Result<App> {
        for note in &config.notes {
            tracing::info!("config {}: {note}", config.path.display());
        }
        for warning in &config.warnings {
            tracing::warn!("config {}: {warning}", config.path.display());
        }
        let config_file = ConfigFile::new(config.path.clone(), doc).keeping_out(&config.from_environment);
        for stale in config_file.remove_stale_temps() {
            tracing::info!(
                "removed {}, left by an interrupted rewrite of the config",
                stale.display()
            );
        }
        let registry = plugin_registry(&config)?;
        load_plugins_in_background(&config, &registry);

        let output_names: Vec<String> = config.outputs.iter().map(|o| o.name.clone()).collect();
        let store = Store::open_with(&config.store, &output_names)
            .with_context(|| format!("cannot open the store {}", config.store.path.display()))?;
        tracing::info!("storing samples in {}", config.store.path.display());
        let mut background = Vec::new();

        let outputs = Arc::new(start_sinks(&config, &store)?);

        let watcher = match config.plugins_watch {
            true => watch::watch(registry.clone())
                .map_err(|e| {
                    tracing::error!(
                        "cannot watch {}: {e:#}; use POST /plugins/reload or plugins_rescan_s",
                        config.plugins_dir.display()
                    )
                })
                .ok(),
            false => None,
        };
        if config.plugins_rescan_s > 0 {
            let every = Duration::from_secs(config.plugins_rescan_s);
            background.push(watch::rescan_periodically(registry.clone(), every));
        }

        let scheduler = Arc::new(Scheduler::new(registry.clone(), store.clone()));
        for item in &config.items {
            scheduler.add(item.clone()).map_err(anyhow::Error::msg)?;
        }
        tracing::info!("sampling {} items", config.items.len());

        let state = AppState {
            scheduler,
            registry,
            store,
            outputs,
            config_file: Arc::new(tokio::sync::Mutex::new(config_file)),
            started: std::time::Instant::now(),
            guard: Arc::new(api::auth::Guard::new(&config.api)),
            query: Arc::new(config.query.clone()),
            sources: Arc::new(crate::sources::push::PushSources::new(&config.sources)),
            compat: Arc::new(config.compat.clone()),
        };
        if !config.sources.is_empty() {
            tracing::info!("receiving pushed samples for {} sources", config.sources.len());
        }
        let mqtt = MqttSources::start(&state.sources, &state.store, &state.registry);
        Ok(App {
            state,
            _watcher: watcher,
            background,
            mqtt,
        })
    }

    /// Serves the REST API on `listener` until `shutdown` resolves, then lets
    /// samples in flight finish and stops every item.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = listener.local_addr()?;
        let limit = server::connection_limit();
        tracing::info!(
            "REST API on http://{address} (at most {limit} connections; idle and slow ones closed after {} s)",
            server::HEADER_TIMEOUT.as_secs()
        );
        // Plugins must never reach this API (its own access rules aside).
        self.state.registry.sandbox().capabilities().set_own_api(address);
        let scheduler = self.state.scheduler.clone();
        server::serve(listener, api::router(self.state.clone()), limit, shutdown).await;
        tracing::info!("stopping: finishing samples in flight");
        // MQTT: the batch being committed is acknowledged, the rest is left to the broker.
        self.mqtt.stop().await;
        scheduler.shutdown().await;
        Ok(())
    }
}

/// `datalogger run`: build, listen where the config says, serve until
/// SIGINT or SIGTERM.
pub async fn run(config: Config, doc: serde_json::Value) -> anyhow::Result<()> {
    // Before anything opens files: the API's connection limit is a share of it.
    let open_files = server::raise_open_files_limit();
    tracing::debug!("open files limit: {open_files}");
    let (listen, path) = (config.api.listen.clone(), config.path.clone());
    let app = App::build(config, doc).await?;
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| {
        format!(
            "cannot listen on {listen}; set \"api\": {{\"listen\": ...}} in {} or {}",
            path.display(),
            config::LISTEN_ENV
        )
    })?;
    app.serve(listener, shutdown_signal()).await
}

/// The plugin registry for the configured folder and grants, with nothing
/// loaded yet: `Registry::rescan` loads the files.
pub fn plugin_registry(config: &Config) -> anyhow::Result<Arc<Registry>> {
    let caps = Arc::new(Capabilities::new(config.capabilities.clone()));
    for line in caps.describe() {
        tracing::info!("{line}");
    }
    let sandbox = Sandbox::new(config.sandbox.clone(), caps).context("cannot start the WebAssembly engine")?;
    let grants = config.plugins.clone();
    let grants_for = Box::new(move |name: &str, file: &std::path::Path| grants.grants_for(name, file));
    let registry = Registry::new(sandbox, &config.cache_dir, &config.plugins_dir, grants_for);
    if wasm_dir_is_empty(&config.plugins_dir) {
        tracing::warn!(
            "no *.wasm plugins in {}; build them with scripts/build-plugins",
            config.plugins_dir.display()
        );
    }
    Ok(Arc::new(registry))
}

/// Loads the plugins while the API answers and items sample: an item waits
/// only for the files that may provide its plugin (`GET /health` lists them
/// under `plugins_compiling`), so a slow or hostile file holds up nothing else.
fn load_plugins_in_background(config: &Config, registry: &Arc<Registry>) {
    registry.expect_all();
    let (config, registry) = (config.clone(), registry.clone());
    tokio::task::spawn_blocking(move || {
        registry.rescan();
        warn_item_problems(&config, &registry);
    });
}

fn wasm_dir_is_empty(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |entries| {
        !entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "wasm"))
    })
}

/// Problems with items that would make them fail at once: unknown keys and
/// missing required arguments.
pub fn item_problems(config: &Config, registry: &Registry) -> Vec<String> {
    config
        .items
        .iter()
        .filter_map(|item| {
            let problem = registry.check_item(&item.key, item.arg.as_deref()).err()?;
            Some(format!("item \"{}\": {problem}", item.name))
        })
        .collect()
}

fn warn_item_problems(config: &Config, registry: &Registry) {
    for problem in item_problems(config, registry) {
        tracing::warn!("{problem} (the item keeps trying each tick)");
    }
}

/// Starts forwarding to every configured output, each with its own store
/// connection.
fn start_sinks(config: &Config, store: &Store) -> anyhow::Result<Vec<Arc<OutputHandle>>> {
    let mut handles = Vec::new();
    for spec in &config.outputs {
        let sink = spec.sink.config();
        let handle = sink.start(spec, store.with_own_connection()?)?;
        tracing::info!("forwarding to output {} ({} at {})", spec.name, sink.kind(), sink.url());
        handles.push(handle);
    }
    Ok(handles)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
