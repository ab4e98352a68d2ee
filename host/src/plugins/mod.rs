//! Plugins: finding `*.wasm` files, compiling them (through the cache), checking
//! they are collectors, asking them to `describe()` themselves, and keeping the
//! loaded set that the scheduler and the API look keys up in.
//!
//! A file that fails at any step is recorded with its reason and skipped; it
//! never stops the host.

mod cache;
mod sandbox;
pub mod trial;
pub mod watch;

pub use cache::{CodeCache, Origin};
pub use sandbox::{Call, CallError, CallErrorKind, MemoryCap, Poll, Sandbox, SandboxSettings};

use crate::capabilities::Grants;
use crate::sample::Sample;
use crate::wit::{types, CollectorPre, WIT_PACKAGE};
use serde::Serialize;
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
    pre: CollectorPre<Call>,
}

impl Plugin {
    pub fn serves(&self, key: &str) -> bool {
        self.info.keys.iter().any(|k| k.name == key)
    }

    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.info.keys.iter().map(|k| k.name.as_str())
    }
}

/// The plugin a key belongs to: the part before the first dot.
pub fn plugin_of_key(key: &str) -> &str {
    key.split('.').next().unwrap_or(key)
}

/// A file that did not load, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    pub file: PathBuf,
    pub sha256: Option<String>,
    pub kind: LoadFailureKind,
    pub reason: String,
    pub failed_at: SystemTime,
}

/// Which step a plugin file failed at (`error_kind` in `GET /plugins`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadFailureKind {
    /// Not a WebAssembly component, or one that does not compile.
    Invalid,
    /// A component, but not of the `collector` world.
    NotCollector,
    /// A collector built against a newer WIT: it imports what this host lacks.
    NewerWit,
    /// `describe()` trapped, timed out or returned an error.
    Describe,
    /// `describe()` answered with an unusable name or keys.
    BadDescription,
    /// Another file already provides this plugin name. Not final: retried on
    /// every rescan, since the other file may go away.
    NameTaken,
}

/// Which grants a plugin gets, by its name and file.
pub type GrantsFor = Box<dyn Fn(&str, &Path) -> Grants + Send + Sync>;

/// The loaded plugins, by name, plus the files that failed.
///
/// Reloading swaps the `Arc<Plugin>` under a name: calls already running keep
/// the old version, every later lookup (each tick) gets the new one.
pub struct Registry {
    sandbox: Sandbox,
    cache: CodeCache,
    dir: PathBuf,
    grants_for: GrantsFor,
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
    failures: RwLock<Vec<LoadFailure>>,
    /// One rescan at a time (watcher, timer and API may all ask).
    rescanning: std::sync::Mutex<()>,
    /// Files left for a background rescan at startup (big and not yet compiled).
    deferred: RwLock<Vec<PathBuf>>,
}

/// At startup, files at least this big with no compiled code in the cache are
/// loaded after sampling has started (a Python or JS component compiles for
/// seconds); the others are loaded first.
const DEFER_COMPILE_BYTES: usize = 2 << 20;

impl Registry {
    pub fn new(sandbox: Sandbox, cache_dir: &Path, dir: &Path, grants_for: GrantsFor) -> Self {
        let cache = CodeCache::new(cache_dir, sandbox.engine());
        Registry {
            sandbox,
            cache,
            dir: dir.to_path_buf(),
            grants_for,
            plugins: RwLock::default(),
            failures: RwLock::default(),
            rescanning: std::sync::Mutex::new(()),
            deferred: RwLock::new(Vec::new()),
        }
    }

    /// The plugins folder this registry mirrors.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Brings the loaded set in line with the plugins folder: loads new and
    /// changed files (validated before they replace the running version),
    /// unloads removed ones. Unchanged files (same SHA-256) are not touched.
    /// The first file (by name) to claim a plugin name wins.
    pub fn rescan(&self) {
        self.rescan_deferring(|_, _| false);
        self.deferred.write().unwrap().clear();
    }

    /// Startup: like `rescan`, but leaves big files with no compiled code in
    /// the cache for a later `rescan`, so sampling of the others can start
    /// while they compile. Returns whether any file was left.
    pub fn rescan_quick(&self) -> bool {
        self.rescan_deferring(|bytes, sha256| bytes.len() >= DEFER_COMPILE_BYTES && !self.cache.has(sha256))
    }

    /// Plugin files still waiting for their first compile.
    pub fn deferred(&self) -> Vec<PathBuf> {
        self.deferred.read().unwrap().clone()
    }

    fn rescan_deferring(&self, defer: impl Fn(&[u8], &str) -> bool) -> bool {
        let _one_at_a_time = self.rescanning.lock().unwrap();
        let files = match wasm_files(&self.dir) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(
                    "cannot read plugins folder {}: {e}; build the plugins with scripts/build-plugins or set \"plugins_dir\"",
                    self.dir.display()
                );
                Vec::new()
            }
        };
        let gone: Vec<PathBuf> = {
            let plugins = self.plugins.read().unwrap();
            let failures = self.failures.read().unwrap();
            let known = plugins
                .values()
                .map(|p| p.file.clone())
                .chain(failures.iter().map(|f| f.file.clone()));
            known.filter(|f| !files.contains(f)).collect()
        };
        for file in gone {
            self.remove_file(&file);
        }
        for file in files {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let loaded = self
                .plugins
                .read()
                .unwrap()
                .values()
                .any(|p| p.file == file && p.sha256 == sha256);
            let failed_before = self.failures.read().unwrap().iter().any(|f| {
                f.file == file && f.sha256.as_deref() == Some(sha256.as_str()) && f.kind != LoadFailureKind::NameTaken
            });
            if loaded {
                // Back to the content that is serving: an error about a newer,
                // broken version of this file no longer applies.
                self.failures.write().unwrap().retain(|f| f.file != file);
            } else if defer(&bytes, &sha256) {
                self.deferred.write().unwrap().push(file);
            } else if !failed_before {
                self.load_file(&file, bytes, sha256);
            }
        }
        !self.deferred.read().unwrap().is_empty()
    }

    /// Unloads what a removed file provided; its items wait for it to return.
    fn remove_file(&self, file: &Path) {
        self.failures.write().unwrap().retain(|f| f.file != file);
        let mut plugins = self.plugins.write().unwrap();
        let names: Vec<String> = plugins
            .iter()
            .filter(|(_, p)| p.file == file)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            plugins.remove(&name);
            tracing::warn!(
                "plugin {name} unloaded: {} was removed; its items wait for it to return",
                file.display()
            );
        }
    }

    fn load_file(&self, file: &Path, bytes: Vec<u8>, sha256: String) {
        let started = std::time::Instant::now();
        let result = self.build(file, &bytes, sha256);
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
                        kind: LoadFailureKind::NameTaken,
                        reason,
                        failed_at: SystemTime::now(),
                    });
                    return;
                }
                let how = match origin {
                    Origin::Cache => "from compiled-code cache",
                    Origin::Compiled => "compiled",
                };
                // A file that used to provide another name no longer does.
                plugins.retain(|name, p| p.file != file || *name == *plugin.name);
                match plugins.get(&*plugin.name) {
                    Some(old) => tracing::info!(
                        "reloaded plugin {} {} -> {} from {} ({} keys, {how}); {:.0?} from the file's last write to serving",
                        plugin.name,
                        old.info.version,
                        plugin.info.version,
                        file.display(),
                        plugin.info.keys.len(),
                        since_modified(file).unwrap_or(started.elapsed()),
                    ),
                    None => tracing::info!(
                        "loaded plugin {} {} from {} ({} keys, {how} in {:.1?}); granted: {}",
                        plugin.name,
                        plugin.info.version,
                        file.display(),
                        plugin.info.keys.len(),
                        started.elapsed(),
                        plugin.grants.summary()
                    ),
                }
                plugins.insert(plugin.name.to_string(), Arc::new(plugin));
            }
            Err(failure) => {
                match plugins.values().find(|p| p.file == file) {
                    Some(old) => tracing::error!(
                        "keeping plugin {} {}: the new {} failed: {}",
                        old.name,
                        old.info.version,
                        file.display(),
                        failure.reason
                    ),
                    None => tracing::error!("skipping plugin file {}: {}", file.display(), failure.reason),
                }
                failures.push(failure);
            }
        }
    }

    fn build(&self, file: &Path, bytes: &[u8], sha256: String) -> Result<(Plugin, Origin), LoadFailure> {
        let fail = |kind: LoadFailureKind, reason: String| LoadFailure {
            file: file.to_path_buf(),
            sha256: Some(sha256.clone()),
            kind,
            reason,
            failed_at: SystemTime::now(),
        };
        let (component, origin) = self
            .cache
            .load_or_compile(self.sandbox.engine(), bytes, &sha256)
            .map_err(|e| {
                fail(
                    LoadFailureKind::Invalid,
                    format!(
                        "not a valid WebAssembly component: {}",
                        sandbox::one_line(&format!("{e:#}"))
                    ),
                )
            })?;
        let pre = self.sandbox.prepare(&component).map_err(|e| {
            let (kind, reason) = link_error(&e);
            fail(kind, reason)
        })?;
        let label = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin");
        let info = self
            .sandbox
            .describe(label, &pre)
            .map_err(|e| fail(LoadFailureKind::Describe, format!("describe() failed: {e}")))?;
        check_info(&info).map_err(|e| fail(LoadFailureKind::BadDescription, e))?;
        let grants = Arc::new((self.grants_for)(&info.name, file));
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
        self.lookup(key, "does not serve")
    }

    /// Like `plugin_for_key`, worded for an item that has sampled before: after
    /// a reload its plugin may have dropped the key.
    pub fn plugin_for_running_item(&self, key: &str) -> Result<Arc<Plugin>, String> {
        self.lookup(key, "no longer serves")
    }

    fn lookup(&self, key: &str, verb: &str) -> Result<Arc<Plugin>, String> {
        let name = plugin_of_key(key);
        let plugins = self.plugins.read().unwrap();
        match plugins.get(name) {
            Some(p) if p.serves(key) => Ok(p.clone()),
            Some(p) => Err(format!(
                "plugin {} version {} {verb} key {key}; it serves {}",
                p.name,
                p.info.version,
                p.key_names().collect::<Vec<_>>().join(", ")
            )),
            None => {
                let deferred = self.deferred.read().unwrap();
                let compiling = match deferred.is_empty() {
                    true => String::new(),
                    false => format!(
                        "; still compiling: {}",
                        deferred
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                Err(format!(
                    "no loaded plugin serves key {key} (no plugin named \"{name}\" is loaded{compiling})"
                ))
            }
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
        item: &Arc<str>,
        key: &str,
        arg: Option<&str>,
        tick_ns: i64,
    ) -> Result<Vec<Sample>, CallError> {
        let poll = Poll {
            item,
            key,
            arg,
            tick_ns,
        };
        self.sandbox.sample(&plugin.name, &plugin.grants, &plugin.pre, poll)
    }
}

/// How long ago the file was last written.
fn since_modified(file: &Path) -> Option<std::time::Duration> {
    std::fs::metadata(file).ok()?.modified().ok()?.elapsed().ok()
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

/// Why a compiled component cannot be linked, worded for its likely cause: a
/// plugin that imports a `datalogger:plugin` function this host lacks was
/// built against a newer WIT; anything else is not a collector at all.
/// (wasmtime reports both as text only.)
fn link_error(e: &wasmtime::Error) -> (LoadFailureKind, String) {
    let text = format!("{e:#}");
    if text.contains("datalogger:plugin/") && text.contains("implementation is missing") {
        let reason = format!(
            "built against a newer datalogger:plugin WIT than this host ({WIT_PACKAGE}): it imports something this host does not provide; \
             rebuild it against this host's wit/datalogger.wit or upgrade the logger ({text})"
        );
        (LoadFailureKind::NewerWit, reason)
    } else {
        let reason = format!("not a datalogger collector (world {WIT_PACKAGE}/collector): {text}");
        (LoadFailureKind::NotCollector, reason)
    }
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

/// One plugin file opened outside the registry, for the plugin commands.
pub struct Opened {
    pub info: types::PluginInfo,
    pub pre: CollectorPre<Call>,
    pub origin: Origin,
    /// What the component imports, e.g. `datalogger:plugin/http@0.1.0`.
    pub imports: Vec<String>,
}

/// Compiles one file (through the cache in `cache_dir`, if given), links it
/// and describes it: what `plugin inspect` shows and `plugin test` runs. A
/// file that does not link is reported with its imports.
pub fn open_file(sandbox: &Sandbox, file: &Path, cache_dir: Option<&Path>) -> anyhow::Result<Opened> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let (component, origin) = match cache_dir {
        Some(dir) => {
            let sha256 = hex::encode(Sha256::digest(&bytes));
            CodeCache::new(dir, sandbox.engine()).load_or_compile(sandbox.engine(), &bytes, &sha256)
        }
        None => wasmtime::component::Component::new(sandbox.engine(), &bytes)
            .map(|c| (c, Origin::Compiled))
            .map_err(anyhow::Error::from),
    }
    .map_err(|e| anyhow::anyhow!("not a valid WebAssembly component: {e:#}"))?;
    let imports: Vec<String> = component
        .component_type()
        .imports(sandbox.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let pre = sandbox
        .prepare(&component)
        .map_err(|e| anyhow::anyhow!("{}\nimports:\n  {}", link_error(&e).1, imports.join("\n  ")))?;
    let label = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin");
    let info = sandbox.describe(label, &pre)?;
    check_info(&info).map_err(anyhow::Error::msg)?;
    Ok(Opened {
        info,
        pre,
        origin,
        imports,
    })
}

/// `plugin inspect`: the plugin's description and imports, with no grants.
pub fn inspect(file: &Path, cache_dir: Option<&Path>) -> anyhow::Result<(types::PluginInfo, Vec<String>)> {
    let caps = Arc::new(crate::capabilities::Capabilities::new(Default::default()));
    let sandbox = Sandbox::new(SandboxSettings::default(), caps)?;
    let opened = open_file(&sandbox, file, cache_dir)?;
    Ok((opened.info, opened.imports))
}
