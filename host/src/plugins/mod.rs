//! Plugins: finding `*.wasm` files, compiling them (through the cache), checking
//! they are collectors, asking them to `describe()` themselves, and keeping the
//! loaded set that the scheduler and the API look keys up in.
//!
//! A file that fails at any step is recorded with its reason and skipped; it
//! never stops the host.

pub mod bindings;
mod cache;
mod sandbox;

pub use cache::{CodeCache, Origin};
pub use sandbox::{bounded, CallError, MemoryCap, Sandbox};

use crate::capabilities::CallState;
use crate::config::Grants;
use crate::sample::Sample;
use bindings::{types, CollectorPre};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// A plugin that loaded and described itself.
pub struct Plugin {
    pub name: Arc<str>,
    pub info: types::PluginInfo,
    pub file: PathBuf,
    pub sha256: String,
    pub loaded_at: SystemTime,
    pub grants: Arc<Grants>,
    /// This plugin's share of the concurrent calls: a plugin whose calls hang
    /// until their deadline can hold at most half the pool, never all of it.
    pub permits: Arc<tokio::sync::Semaphore>,
    pre: CollectorPre<CallState>,
}

impl Plugin {
    pub fn serves(&self, key: &str) -> bool {
        self.info.keys.iter().any(|k| k.name == key)
    }

    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.info.keys.iter().map(|k| k.name.as_str())
    }
}

/// A file that did not load, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    pub file: PathBuf,
    pub sha256: Option<String>,
    pub reason: String,
}

/// The loaded plugins, by name, plus the files that failed.
pub struct Registry {
    sandbox: Sandbox,
    cache: CodeCache,
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
    failures: RwLock<Vec<LoadFailure>>,
}

impl Registry {
    pub fn new(sandbox: Sandbox, cache_dir: &Path) -> Self {
        let cache = CodeCache::new(cache_dir, sandbox.engine());
        Registry {
            sandbox,
            cache,
            plugins: RwLock::default(),
            failures: RwLock::default(),
        }
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Loads every `*.wasm` in `dir` (sorted by file name, so the first file to
    /// claim a plugin name wins and later claimants are refused).
    pub fn load_dir(&self, dir: &Path, grants_for: impl Fn(&str, &Path) -> Grants) {
        let files = match wasm_files(dir) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("cannot read plugins folder {}: {e}; build the plugins with scripts/build-plugins or set \"plugins_dir\"", dir.display());
                return;
            }
        };
        if files.is_empty() {
            tracing::warn!(
                "no *.wasm plugins in {}; build them with scripts/build-plugins",
                dir.display()
            );
        }
        for file in files {
            self.load_file(&file, &grants_for);
        }
    }

    fn load_file(&self, file: &Path, grants_for: &impl Fn(&str, &Path) -> Grants) {
        let started = std::time::Instant::now();
        let result = self.build(file, grants_for);
        let mut plugins = self.plugins.write().unwrap();
        let mut failures = self.failures.write().unwrap();
        failures.retain(|f| f.file != file);
        match result {
            Ok((plugin, origin)) => {
                if let Some(other) = plugins.get(&*plugin.name).filter(|p| p.file != file) {
                    let reason = format!(
                        "plugin name \"{}\" is already provided by {}; rename one of them",
                        plugin.name,
                        other.file.display()
                    );
                    tracing::error!("skipping plugin file {}: {reason}", file.display());
                    failures.push(LoadFailure {
                        file: file.into(),
                        sha256: Some(plugin.sha256.clone()),
                        reason,
                    });
                    return;
                }
                tracing::info!(
                    "loaded plugin {} {} from {} ({} keys, {} in {:.1?})",
                    plugin.name,
                    plugin.info.version,
                    file.display(),
                    plugin.info.keys.len(),
                    match origin {
                        Origin::Cache => "from compiled-code cache",
                        Origin::Compiled => "compiled",
                    },
                    started.elapsed()
                );
                plugins.insert(plugin.name.to_string(), Arc::new(plugin));
            }
            Err(failure) => {
                tracing::error!("skipping plugin file {}: {}", file.display(), failure.reason);
                failures.push(failure);
            }
        }
    }

    fn build(&self, file: &Path, grants_for: &impl Fn(&str, &Path) -> Grants) -> Result<(Plugin, Origin), LoadFailure> {
        let fail = |sha: Option<&str>, reason: String| LoadFailure {
            file: file.to_path_buf(),
            sha256: sha.map(String::from),
            reason,
        };
        let bytes = std::fs::read(file).map_err(|e| fail(None, format!("cannot read file: {e}")))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let sha = Some(sha256.as_str());
        let (component, origin) = self
            .cache
            .load_or_compile(self.sandbox.engine(), &bytes, &sha256)
            .map_err(|e| {
                fail(
                    sha,
                    format!(
                        "not a valid WebAssembly component: {}",
                        sandbox::one_line(&format!("{e:#}"))
                    ),
                )
            })?;
        let pre = self.sandbox.prepare(&component).map_err(|e| {
            fail(
                sha,
                format!("not a datalogger collector (world datalogger:plugin/collector@0.1.0): {e:#}"),
            )
        })?;
        let label = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin");
        let info = self
            .sandbox
            .describe(label, &pre)
            .map_err(|e| fail(sha, format!("describe() failed: {e}")))?;
        check_info(&info).map_err(|e| fail(sha, e))?;
        let grants = Arc::new(grants_for(&info.name, file));
        let share = (self.sandbox.settings.max_concurrent_calls as usize / 2).max(1);
        let plugin = Plugin {
            permits: Arc::new(tokio::sync::Semaphore::new(share)),
            name: Arc::from(info.name.as_str()),
            info,
            file: file.to_path_buf(),
            sha256,
            loaded_at: SystemTime::now(),
            grants,
            pre,
        };
        Ok((plugin, origin))
    }

    /// The plugin named by the key's prefix, if it is loaded and serves the key.
    pub fn plugin_for_key(&self, key: &str) -> Result<Arc<Plugin>, String> {
        let name = crate::config::plugin_of_key(key);
        let plugins = self.plugins.read().unwrap();
        match plugins.get(name) {
            Some(p) if p.serves(key) => Ok(p.clone()),
            Some(p) => Err(format!(
                "plugin {} version {} does not serve key {key}; it serves {}",
                p.name,
                p.info.version,
                p.key_names().collect::<Vec<_>>().join(", ")
            )),
            None => Err(format!(
                "no loaded plugin serves key {key} (no plugin named \"{name}\" is loaded)"
            )),
        }
    }

    /// Whether an item with this key and arg can be sampled: a loaded plugin
    /// serves the key, and the arg is there when the key requires one.
    pub fn check_item(&self, key: &str, arg: Option<&str>) -> Result<(), String> {
        let plugin = self.plugin_for_key(key)?;
        let required = plugin
            .info
            .keys
            .iter()
            .find(|k| k.name == key)
            .and_then(|k| k.arg.as_ref());
        match (required, arg) {
            (Some(a), None) if a.required => Err(format!("key {key} needs an \"arg\": {}", a.description)),
            _ => Ok(()),
        }
    }

    /// Every key of every loaded plugin, sorted.
    pub fn all_keys(&self) -> Vec<String> {
        let plugins = self.plugins.read().unwrap();
        plugins.values().flat_map(|p| p.key_names().map(String::from)).collect()
    }

    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.plugins.read().unwrap().values().cloned().collect()
    }

    pub fn failures(&self) -> Vec<LoadFailure> {
        self.failures.read().unwrap().clone()
    }

    /// Takes one sample; blocking (run it off the async runtime).
    pub fn sample(
        &self,
        plugin: &Plugin,
        key: &str,
        arg: Option<&str>,
        tick_ns: i64,
    ) -> Result<Vec<Sample>, CallError> {
        self.sandbox
            .sample(&plugin.name, &plugin.grants, &plugin.pre, key, arg, tick_ns)
    }
}

/// `*.wasm` files in a folder, sorted by name.
fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Longest name, version, description or unit `describe()` may give.
const MAX_DESCRIBE_TEXT: usize = 4096;

/// What `describe()` must satisfy: a usable name and keys under it.
fn check_info(info: &types::PluginInfo) -> Result<(), String> {
    let name = &info.name;
    let texts = [&info.name, &info.version, &info.description]
        .into_iter()
        .chain(info.keys.iter().flat_map(|k| [&k.name, &k.description, &k.unit]));
    if let Some(long) = texts.into_iter().find(|t| t.len() > MAX_DESCRIBE_TEXT) {
        return Err(format!(
            "describe() gave a text of {} bytes; the limit is {MAX_DESCRIBE_TEXT}",
            long.len()
        ));
    }
    if name.is_empty() || name.contains('.') || name.contains('/') {
        return Err(format!(
            "describe() gave an unusable plugin name {name:?} (non-empty, no '.' or '/')"
        ));
    }
    if info.keys.is_empty() {
        return Err(format!("plugin {name} describes no keys"));
    }
    let prefix = format!("{name}.");
    for key in &info.keys {
        if !key.name.starts_with(&prefix) || key.name.len() == prefix.len() {
            return Err(format!(
                "plugin {name} describes key {:?}, which does not start with \"{prefix}\"",
                key.name
            ));
        }
    }
    Ok(())
}

/// Compiles one file without a cache and describes it, for `plugin inspect`.
pub fn inspect(file: &Path) -> anyhow::Result<(types::PluginInfo, Vec<String>)> {
    let sandbox = Sandbox::new(crate::config::SandboxSettings::default())?;
    let bytes = std::fs::read(file)?;
    let component = wasmtime::component::Component::new(sandbox.engine(), &bytes)?;
    let imports = component
        .component_type()
        .imports(sandbox.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let pre = sandbox
        .prepare(&component)
        .map_err(|e| anyhow::anyhow!("not a datalogger collector: {e:#}"))?;
    let label = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin");
    let info = sandbox.describe(label, &pre)?;
    check_info(&info).map_err(anyhow::Error::msg)?;
    Ok((info, imports))
}
