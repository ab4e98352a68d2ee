//! Plugins: finding `*.wasm` files, compiling them (through the cache), checking
//! they are collectors, asking them to `describe()` themselves, and keeping the
//! loaded set that the scheduler and the API look keys up in.
//!
//! A file that fails at any step is recorded with its reason and skipped; it
//! never stops the host. A file may only provide the plugin its name starts
//! with (`file_may_provide`), so no file can take over another's name.

mod cache;
mod sandbox;
pub mod trial;
pub mod watch;

pub use cache::{CodeCache, Origin};
pub use sandbox::{Call, CallError, CallErrorKind, DecodeCall, Linked, MemoryCap, Poll, Sandbox, SandboxSettings};

use crate::capabilities::Grants;
use crate::sample::Sample;
use crate::wit::{decoding, types, WIT_PACKAGE};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
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
    /// The decoders it provides (`decoding` export); empty for a collector only.
    pub decoders: Vec<decoding::DecoderInfo>,
    linked: Linked,
}

impl Plugin {
    pub fn samples(&self) -> bool {
        self.linked.samples()
    }

    /// Its decoders' names, for messages: `isems.csvlog, isems.json`.
    pub fn decoder_names(&self) -> String {
        let names: Vec<&str> = self.decoders.iter().map(|d| d.name.as_str()).collect();
        names.join(", ")
    }

    pub fn provides_decoder(&self, name: &str) -> bool {
        self.decoders.iter().any(|d| d.name == name)
    }

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
    /// The file's name does not start with the plugin name `describe()` gave
    /// (`file_may_provide`), so it may not provide that plugin.
    FileName,
    /// Another file provides this plugin name and takes precedence. Not
    /// final: retried on every rescan, since the other file may go away.
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
    /// One rescan at a time (start-up, watcher, timer and API may all ask).
    rescanning: std::sync::Mutex<()>,
    /// Files being compiled and described right now (`plugins_compiling`).
    loading: RwLock<BTreeSet<PathBuf>>,
    /// Woken whenever a file has finished loading, for items waiting on it.
    loaded: tokio::sync::Notify,
    /// (file, content, kind) of refusals already logged: a file is
    /// re-examined on every rescan, but its refusal is logged once (again
    /// only after the file has loaded or changed).
    logged: std::sync::Mutex<HashSet<(PathBuf, String, LoadFailureKind)>>,
}

/// Files compiled and described at once; describe loops are cut off by
/// `describe_timeout_ms`, so a few hostile files delay the others by at most that.
const LOAD_WORKERS: usize = 8;

/// Files at least this big with no compiled code in the cache load after the
/// others (a Python or JS component compiles for seconds).
const BIG_COMPILE_BYTES: usize = 2 << 20;

/// Separators that may follow the plugin name in a file name: `wemo-1.2.wasm`,
/// `versioned_v2.wasm`, `system.old.wasm`.
const NAME_SEPARATORS: [char; 3] = ['-', '_', '.'];

/// Whether a file may provide the plugin `name`: its name (without `.wasm`) is
/// the plugin name, or the plugin name followed by `-`, `_` or `.`. So which
/// file serves a name never depends on the order files are loaded in, and a
/// file cannot take over another plugin's name by sorting first.
pub fn file_may_provide(file: &Path, name: &str) -> bool {
    let Some(stem) = file.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    match stem.strip_prefix(name) {
        Some("") => true,
        Some(rest) => rest.starts_with(NAME_SEPARATORS),
        None => false,
    }
}

/// When two files may provide the same name, the lower of these wins: the file
/// named exactly `<name>.wasm`, then the first by file name.
fn precedence<'a>(file: &'a Path, name: &str) -> (bool, &'a Path) {
    let exact = file.file_stem().is_some_and(|s| s == name);
    (!exact, file)
}

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
            loading: RwLock::default(),
            loaded: tokio::sync::Notify::new(),
            logged: std::sync::Mutex::default(),
        }
    }

    /// The plugins folder this registry mirrors.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Plugin files being compiled and described right now: at start-up and
    /// after a change in the folder.
    pub fn loading(&self) -> Vec<PathBuf> {
        self.loading.read().unwrap().iter().cloned().collect()
    }

    /// Marks every plugin file in the folder as loading, before a first
    /// `rescan` runs in the background: until it has looked at them, each
    /// file may be one an item waits for.
    pub fn expect_all(&self) {
        *self.loading.write().unwrap() = wasm_files(&self.dir).unwrap_or_default().into_iter().collect();
    }

    /// Whether a file that may provide plugin `name` is loading right now.
    pub fn is_loading(&self, name: &str) -> bool {
        self.loading.read().unwrap().iter().any(|f| file_may_provide(f, name))
    }

    /// Resolves once a file has finished loading. Create it before checking
    /// `is_loading`, so a load that ends in between is not missed.
    pub fn loaded(&self) -> tokio::sync::futures::Notified<'_> {
        self.loaded.notified()
    }

    /// Brings the loaded set in line with the plugins folder: loads new and
    /// changed files (validated before they replace the running version),
    /// unloads removed ones. Unchanged files (same SHA-256) are not touched.
    /// Files load concurrently, those with compiled code in the cache and small
    /// ones first; blocking until all are done.
    pub fn rescan(&self) {
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
        let mut to_load = Vec::new();
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
            } else if !failed_before {
                let cached = self.cache.has(&sha256);
                to_load.push((!cached, bytes.len(), file, bytes, sha256));
            }
        }
        to_load.sort_by_key(|(uncached, size, ..)| (*uncached, *size));
        // Replaces what `expect_all` marked: only these files load now.
        *self.loading.write().unwrap() = to_load.iter().map(|(_, _, file, ..)| file.clone()).collect();
        // Big files to compile go after the others: their compile would take
        // every core (wasmtime compiles functions in parallel) for seconds.
        let (big, quick): (Vec<_>, Vec<_>) = to_load
            .into_iter()
            .partition(|(uncached, size, ..)| *uncached && *size >= BIG_COMPILE_BYTES);
        for wave in [quick, big] {
            let queue = std::sync::Mutex::new(wave.into_iter());
            std::thread::scope(|scope| {
                for _ in 0..LOAD_WORKERS {
                    scope.spawn(|| loop {
                        let next = queue.lock().unwrap().next();
                        let Some((_, _, file, bytes, sha256)) = next else {
                            return;
                        };
                        self.load_file(&file, bytes, sha256);
                        self.loading.write().unwrap().remove(&file);
                        self.loaded.notify_waiters();
                    });
                }
            });
        }
    }

    /// Unloads what a removed file provided; its items wait for it to return.
    fn remove_file(&self, file: &Path) {
        self.failures.write().unwrap().retain(|f| f.file != file);
        self.logged.lock().unwrap().retain(|(f, ..)| f != file);
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

    /// Logs a refusal once per file content and kind.
    fn log_refusal_once(&self, file: &Path, sha256: &str, kind: LoadFailureKind, line: String) {
        let first = self
            .logged
            .lock()
            .unwrap()
            .insert((file.to_path_buf(), sha256.to_string(), kind));
        if first {
            tracing::error!("{line}");
        }
    }

    fn load_file(&self, file: &Path, bytes: Vec<u8>, sha256: String) {
        let started = std::time::Instant::now();
        let result = self.build(file, &bytes, sha256);
        let mut plugins = self.plugins.write().unwrap();
        let mut failures = self.failures.write().unwrap();
        failures.retain(|f| f.file != file);
        let refuse = |failures: &mut Vec<LoadFailure>, failure: LoadFailure| {
            let line = match plugins.values().find(|p| p.file == file) {
                Some(old) => format!(
                    "keeping plugin {} {}: the new {} failed: {}",
                    old.name,
                    old.info.version,
                    file.display(),
                    failure.reason
                ),
                None => format!("skipping plugin file {}: {}", file.display(), failure.reason),
            };
            self.log_refusal_once(file, failure.sha256.as_deref().unwrap_or_default(), failure.kind, line);
            failures.push(failure);
        };
        let (plugin, origin) = match result {
            Ok(built) => built,
            Err(failure) => return refuse(&mut failures, failure),
        };
        let name = plugin.name.clone();
        let fail = |kind, reason| LoadFailure {
            file: file.into(),
            sha256: Some(plugin.sha256.clone()),
            kind,
            reason,
            failed_at: SystemTime::now(),
        };
        if !file_may_provide(file, &name) {
            let reason = format!(
                "describe() gives the plugin name \"{name}\", but a plugin file's name must start with its plugin's name: \
                 {name}.wasm, or \"{name}\" followed by '-', '_' or '.' (e.g. {name}-1.2.wasm); \
                 rename the file if it is the {name} plugin, remove it if it is not"
            );
            return refuse(&mut failures, fail(LoadFailureKind::FileName, reason));
        }
        let holder = plugins.get(&*name).filter(|p| p.file != file).cloned();
        if let Some(holder) = &holder {
            if precedence(&holder.file, &name) < precedence(file, &name) {
                let reason = format!(
                    "plugin name \"{name}\" is already provided by {}, which takes precedence (a file named exactly {name}.wasm, \
                     else the first by name); remove one of them",
                    holder.file.display()
                );
                return refuse(&mut failures, fail(LoadFailureKind::NameTaken, reason));
            }
        }
        let how = match origin {
            Origin::Cache => "from compiled-code cache",
            Origin::Compiled => "compiled",
        };
        // A file that used to provide another name no longer does.
        plugins.retain(|n, p| p.file != file || *n == *name);
        // Serving: a later refusal of this file is news again.
        self.logged.lock().unwrap().retain(|(f, ..)| f != file);
        match plugins.get(&*name) {
            Some(old) if old.file == file => tracing::info!(
                "reloaded plugin {name} {} -> {} from {} ({} keys, {how}); {:.0?} from the file's last write to serving",
                old.info.version,
                plugin.info.version,
                file.display(),
                plugin.info.keys.len(),
                since_modified(file).unwrap_or(started.elapsed()),
            ),
            _ => tracing::info!(
                "loaded plugin {name} {} from {} ({} keys, {how} in {:.1?}); granted: {}",
                plugin.info.version,
                file.display(),
                plugin.info.keys.len(),
                started.elapsed(),
                plugin.grants.summary()
            ),
        }
        if let Some(holder) = holder {
            // This file takes precedence over the one that served the name.
            let reason = format!(
                "plugin name \"{name}\" is provided by {}, which takes precedence (a file named exactly {name}.wasm, \
                 else the first by name); remove one of them",
                file.display()
            );
            let line = format!(
                "plugin {name} now served from {} instead of {}: {reason}",
                file.display(),
                holder.file.display()
            );
            self.log_refusal_once(&holder.file, &holder.sha256, LoadFailureKind::NameTaken, line);
            failures.push(LoadFailure {
                file: holder.file.clone(),
                sha256: Some(holder.sha256.clone()),
                kind: LoadFailureKind::NameTaken,
                reason,
                failed_at: SystemTime::now(),
            });
        }
        plugins.insert(name.to_string(), Arc::new(plugin));
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
        let linked = self.sandbox.prepare(&component).map_err(|e| {
            let (kind, reason) = link_error(&e);
            fail(kind, reason)
        })?;
        let label = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin");
        let (info, decoders) = describe_all(&self.sandbox, label, &linked).map_err(|(kind, e)| fail(kind, e))?;
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
            decoders,
            linked,
        };
        Ok((plugin, origin))
    }

    /// The loaded plugin that provides decoder `name` (`<plugin>.<decoder>`).
    pub fn plugin_for_decoder(&self, name: &str) -> Result<Arc<Plugin>, String> {
        let plugin_name = plugin_of_key(name);
        match self.plugins.read().unwrap().get(plugin_name) {
            Some(p) if p.provides_decoder(name) => Ok(p.clone()),
            Some(p) if p.decoders.is_empty() => Err(format!(
                "plugin {} version {} provides no decoders (decoder {name} is wanted)",
                p.name, p.info.version
            )),
            Some(p) => Err(format!(
                "plugin {} version {} has no decoder {name}; it provides {}",
                p.name,
                p.info.version,
                p.decoder_names()
            )),
            None => {
                let compiling = match self.is_loading(plugin_name) {
                    true => "; it is still compiling",
                    false => "",
                };
                Err(format!(
                    "no loaded plugin provides decoder {name} (no plugin named \"{plugin_name}\" is loaded{compiling})"
                ))
            }
        }
    }

    /// Reads one pushed payload with a plugin's decoder; blocking (run it off
    /// the async runtime).
    pub fn decode(&self, plugin: &Plugin, call: DecodeCall<'_>) -> Result<Vec<Sample>, CallError> {
        self.sandbox.decode(&plugin.name, &plugin.grants, &plugin.linked, call)
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
        if let Some(p) = plugins.get(name) {
            // A file that takes precedence decides first: until it has loaded,
            // the file that sorts lower does not serve the name even briefly.
            let loading = self.loading.read().unwrap();
            let better = loading
                .iter()
                .find(|f| file_may_provide(f, name) && precedence(f, name) < precedence(&p.file, name));
            if let Some(better) = better {
                return Err(format!(
                    "plugin {name} is waiting for {}, which takes precedence over {} and is still compiling",
                    better.display(),
                    p.file.display()
                ));
            }
        }
        match plugins.get(name) {
            Some(p) if p.serves(key) => Ok(p.clone()),
            Some(p) if p.info.keys.is_empty() => Err(format!(
                "plugin {} version {} serves no keys: it only provides decoders for push sources ({}); \
                 name one in a source's \"decoder\" instead",
                p.name,
                p.info.version,
                p.decoder_names()
            )),
            Some(p) => Err(format!(
                "plugin {} version {} {verb} key {key}; it serves {}",
                p.name,
                p.info.version,
                p.key_names().collect::<Vec<_>>().join(", ")
            )),
            None => {
                let loading = self.loading.read().unwrap();
                let candidates: Vec<String> = loading
                    .iter()
                    .filter(|f| file_may_provide(f, name))
                    .map(|f| f.display().to_string())
                    .collect();
                let compiling = match candidates.is_empty() {
                    true => String::new(),
                    false => format!("; still compiling: {}", candidates.join(", ")),
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
        self.sandbox.sample(&plugin.name, &plugin.grants, &plugin.linked, poll)
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
        let reason =
            format!("not a datalogger plugin (world {WIT_PACKAGE}/collector, /decoder or /collector-decoder): {text}");
        (LoadFailureKind::NotCollector, reason)
    }
}

/// Asks a linked plugin to describe what it exports: `describe()` for
/// `sampling`, `describe-decoding()` for `decoding`, and checks that the two
/// agree. A decoder-only plugin gets a `PluginInfo` without keys.
fn describe_all(
    sandbox: &Sandbox,
    label: &str,
    linked: &Linked,
) -> Result<(types::PluginInfo, Vec<decoding::DecoderInfo>), (LoadFailureKind, String)> {
    let sampled = match linked.samples() {
        true => Some(
            sandbox
                .describe(label, linked)
                .map_err(|e| (LoadFailureKind::Describe, format!("describe() failed: {e}")))?,
        ),
        false => None,
    };
    let decoding = match linked.decodes() {
        true => Some(
            sandbox
                .describe_decoding(label, linked)
                .map_err(|e| (LoadFailureKind::Describe, format!("describe-decoding() failed: {e}")))?,
        ),
        false => None,
    };
    let bad = |e| (LoadFailureKind::BadDescription, e);
    let (info, decoders) = match (sampled, decoding) {
        (Some(info), None) => (info, Vec::new()),
        (None, Some(d)) => (
            types::PluginInfo {
                name: d.name,
                version: d.version,
                description: d.description,
                keys: Vec::new(),
            },
            d.decoders,
        ),
        (Some(info), Some(d)) => {
            if (d.name.as_str(), d.version.as_str()) != (info.name.as_str(), info.version.as_str()) {
                return Err(bad(format!(
                    "describe() gives {} {} but describe-decoding() gives {} {}; both must name the same plugin and version",
                    info.name, info.version, d.name, d.version
                )));
            }
            (info, d.decoders)
        }
        (None, None) => unreachable!("prepare() refuses a component with neither export"),
    };
    check_info(&info, !decoders.is_empty()).map_err(bad)?;
    check_decoders(&info.name, &decoders).map_err(bad)?;
    Ok((info, decoders))
}

/// What `describe-decoding()` must satisfy: decoders named `<plugin>.<decoder>`, once each.
fn check_decoders(name: &str, decoders: &[decoding::DecoderInfo]) -> Result<(), String> {
    let prefix = format!("{name}.");
    for (i, d) in decoders.iter().enumerate() {
        if d.name.len() > MAX_DESCRIBE_TEXT || d.description.len() > MAX_DESCRIBE_TEXT {
            return Err(format!(
                "describe-decoding() gave a text over {MAX_DESCRIBE_TEXT} bytes"
            ));
        }
        if !d.name.starts_with(&prefix) || d.name.len() == prefix.len() {
            return Err(format!(
                "plugin {name} describes decoder {:?}, which does not start with \"{prefix}\"",
                d.name
            ));
        }
        if decoders[..i].iter().any(|o| o.name == d.name) {
            return Err(format!("plugin {name} describes decoder {:?} twice", d.name));
        }
    }
    Ok(())
}

/// Longest name, version, description or unit `describe()` may give.
const MAX_DESCRIBE_TEXT: usize = 4096;

/// What `describe()` must satisfy: a usable name and keys under it.
/// `decodes`: the plugin also provides decoders, so it may have no keys.
fn check_info(info: &types::PluginInfo, decodes: bool) -> Result<(), String> {
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
    if info.keys.is_empty() && !decodes {
        return Err(format!("plugin {name} describes no keys and no decoders"));
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
    pub decoders: Vec<decoding::DecoderInfo>,
    pub linked: Linked,
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
    let linked = sandbox
        .prepare(&component)
        .map_err(|e| anyhow::anyhow!("{}\nimports:\n  {}", link_error(&e).1, imports.join("\n  ")))?;
    let label = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin");
    let (info, decoders) = describe_all(sandbox, label, &linked).map_err(|(_, e)| anyhow::Error::msg(e))?;
    Ok(Opened {
        info,
        decoders,
        linked,
        origin,
        imports,
    })
}

/// `plugin inspect`: the plugin's description and imports, with no grants.
pub fn inspect(file: &Path, cache_dir: Option<&Path>) -> anyhow::Result<Opened> {
    let caps = Arc::new(crate::capabilities::Capabilities::new(Default::default()));
    let sandbox = Sandbox::new(SandboxSettings::default(), caps)?;
    open_file(&sandbox, file, cache_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_provides_only_the_plugin_its_name_starts_with() {
        for ok in [
            "system.wasm",
            "system-v2.wasm",
            "system_1.wasm",
            "system.old.wasm",
            "d/system-1.2.wasm",
        ] {
            assert!(file_may_provide(Path::new(ok), "system"), "{ok}");
        }
        for bad in [
            "aaa-fakesys.wasm",
            "systemd.wasm",
            "sys.wasm",
            "my-system.wasm",
            "System.wasm",
        ] {
            assert!(!file_may_provide(Path::new(bad), "system"), "{bad}");
        }
        assert!(file_may_provide(Path::new("wemo-1.2.wasm"), "wemo"));
        assert!(
            file_may_provide(Path::new("wemo-1.2.wasm"), "wemo-1"),
            "a name may contain '-'"
        );
    }

    #[test]
    fn decoders_are_named_under_their_plugin_once_each() {
        let d = |name: &str| decoding::DecoderInfo {
            name: name.into(),
            description: String::new(),
        };
        assert!(check_decoders("isems", &[d("isems.csvlog"), d("isems.json")]).is_ok());
        for (bad, why) in [
            (vec![d("other.csvlog")], "does not start with \"isems.\""),
            (vec![d("isems.")], "does not start"),
            (vec![d("isems.a"), d("isems.a")], "twice"),
        ] {
            let e = check_decoders("isems", &bad).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        let no_keys = types::PluginInfo {
            name: "d".into(),
            version: "1".into(),
            description: String::new(),
            keys: Vec::new(),
        };
        assert!(check_info(&no_keys, true).is_ok(), "a decoder plugin needs no keys");
        assert!(check_info(&no_keys, false)
            .unwrap_err()
            .contains("no keys and no decoders"));
    }

    #[test]
    fn the_exact_file_name_takes_precedence_then_the_first_by_name() {
        let (exact, a, b) = (
            Path::new("system.wasm"),
            Path::new("system-a.wasm"),
            Path::new("system-b.wasm"),
        );
        assert!(precedence(exact, "system") < precedence(a, "system"));
        assert!(precedence(a, "system") < precedence(b, "system"));
    }
}
