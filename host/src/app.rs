//! Wiring: builds the parts from a config and runs them (`datalogger run`), or
//! checks them without running (`datalogger check`).

use crate::api::{self, AppState};
use crate::capabilities::Capabilities;
use crate::config::{self, Config, ConfigFile};
use crate::outputs::{self, influxdb_v1::InfluxV1, influxdb_v2::InfluxV2, OutputHandle, Target};
use crate::plugins::{Registry, Sandbox};
use crate::scheduler::Scheduler;
use crate::store::Store;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

/// How often samples older than the retention period are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Loads plugins from the configured folder with the configured grants: all
/// but big files not yet compiled, which `Registry::deferred` lists for a
/// `rescan` (run by `run` in the background, by `check` at once).
pub fn load_plugins(config: &Config) -> anyhow::Result<Arc<Registry>> {
    let caps = Arc::new(Capabilities::new(
        config.i2c.clone(),
        config.http.clone(),
        config.discovery.clone(),
    ));
    for line in caps.describe() {
        tracing::info!("{line}");
    }
    let sandbox = Sandbox::new(config.sandbox.clone(), caps).context("cannot start the WebAssembly engine")?;
    let grants = config.clone();
    let grants_for = Box::new(move |name: &str, file: &std::path::Path| grants.grants_for(name, file));
    let registry = Registry::new(sandbox, &config.cache_dir, &config.plugins_dir, grants_for);
    if wasm_dir_is_empty(&config.plugins_dir) {
        tracing::warn!(
            "no *.wasm plugins in {}; build them with scripts/build-plugins",
            config.plugins_dir.display()
        );
    }
    registry.rescan_quick();
    Ok(Arc::new(registry))
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

pub async fn run(config: Config, doc: serde_json::Value) -> anyhow::Result<()> {
    for note in &config.notes {
        tracing::info!("config {}: {note}", config.path.display());
    }
    for warning in &config.warnings {
        tracing::warn!("config {}: {warning}", config.path.display());
    }
    let registry = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || load_plugins(&config)).await??
    };
    let deferred = registry.deferred();
    if deferred.is_empty() {
        warn_item_problems(&config, &registry);
    } else {
        // Big components compile while the other plugins' items already sample.
        let names: Vec<String> = deferred.iter().map(|f| f.display().to_string()).collect();
        tracing::info!(
            "compiling {} in the background: their items start when they are loaded",
            names.join(", ")
        );
        let (config, registry) = (config.clone(), registry.clone());
        tokio::task::spawn_blocking(move || {
            registry.rescan();
            warn_item_problems(&config, &registry);
        });
    }

    let store = Store::open(&config.store.path, config.store.retention_days)
        .with_context(|| format!("cannot open the store {}", config.store.path.display()))?;
    tracing::info!("storing samples in {}", config.store.path.display());
    if config.store.retention_days > 0 {
        let store = store.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PRUNE_EVERY);
            loop {
                every.tick().await;
                match store.prune().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("pruned {n} samples older than the retention period"),
                    Err(e) => tracing::error!("pruning the store failed: {e:#}"),
                }
            }
        });
    }

    let outputs = Arc::new(start_outputs(&config, &store)?);

    // Hot reload: the guard keeps the watcher alive until the logger stops.
    let _watcher = if config.plugins_watch {
        match crate::plugins::watch::watch(registry.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!(
                    "cannot watch {}: {e:#}; use POST /plugins/reload or plugins_rescan_s",
                    config.plugins_dir.display()
                );
                None
            }
        }
    } else {
        None
    };
    if config.plugins_rescan_s > 0 {
        crate::plugins::watch::rescan_periodically(registry.clone(), Duration::from_secs(config.plugins_rescan_s));
    }

    let scheduler = Arc::new(Scheduler::new(registry.clone(), store.clone()));
    for item in &config.items {
        scheduler.add(item.clone()).map_err(anyhow::Error::msg)?;
    }
    tracing::info!("sampling {} items", config.items.len());

    let listener = tokio::net::TcpListener::bind(&config.api.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; set \"api\": {{\"listen\": ...}} in {} or {}",
                config.api.listen,
                config.path.display(),
                config::LISTEN_ENV
            )
        })?;
    tracing::info!("REST API on http://{}", listener.local_addr()?);
    let state = AppState {
        scheduler: scheduler.clone(),
        registry,
        store,
        outputs,
        config_file: Arc::new(tokio::sync::Mutex::new(ConfigFile::new(config.path.clone(), doc))),
        started: std::time::Instant::now(),
    };
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopping: finishing samples in flight");
    scheduler.shutdown().await;
    Ok(())
}

/// Starts one forwarding task per configured output.
fn start_outputs(config: &Config, store: &Store) -> anyhow::Result<Vec<Arc<OutputHandle>>> {
    let mut handles = Vec::new();
    for spec in &config.outputs {
        let store = &store.with_own_reader()?;
        let timeout = Duration::from_millis(spec.timeout_ms);
        let handle = match &spec.target {
            Target::Influxdb {
                url,
                database,
                username,
                password,
                retention_policy,
            } => {
                let auth = username.clone().map(|u| (u, password.clone()));
                let sink = InfluxV1::new(url, database, retention_policy.as_deref(), auth, spec.gzip, timeout)?;
                outputs::spawn(spec.clone(), sink, store.clone())
            }
            Target::InfluxdbV2 {
                url,
                org,
                bucket,
                token,
            } => {
                let sink = InfluxV2::new(url, org, bucket, token, spec.gzip, timeout)?;
                outputs::spawn(spec.clone(), sink, store.clone())
            }
        };
        tracing::info!("forwarding to output {} ({} at {})", spec.name, spec.kind(), spec.url());
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
