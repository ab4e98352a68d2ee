//! `datalogger plugin test`: one plugin file, one `sample` call, no config or
//! server — the quickest loop for a plugin author. The plugin runs in the same
//! sandbox, with the same capabilities, as under `datalogger run`; it gets only
//! the grants given on the command line.

use super::cache::Origin;
use super::sandbox::SandboxSettings;
use super::sandbox::{Poll, Sandbox};
use crate::capabilities::Capabilities;
use crate::capabilities::Grants;
use crate::sample::Sample;
use crate::wit::types::PluginInfo;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one trial produced.
pub struct Trial {
    pub info: PluginInfo,
    /// How the code was obtained and how long that took.
    pub origin: Origin,
    pub load_time: Duration,
    pub call_time: Duration,
    pub result: Result<Vec<Sample>, String>,
}

/// Loads `file` (through the compiled-code cache in `cache_dir`, if given) and
/// samples `key` once. `Err` when the file cannot be used at all.
pub fn run(
    file: &Path,
    key: &str,
    arg: Option<&str>,
    grants_for: impl Fn(&str) -> Grants,
    caps: Capabilities,
    settings: SandboxSettings,
    cache_dir: Option<&Path>,
) -> anyhow::Result<Trial> {
    let sandbox = Sandbox::new(settings, Arc::new(caps))?;
    let started = Instant::now();
    let super::Opened {
        info, linked, origin, ..
    } = super::open_file(&sandbox, file, cache_dir)?;
    let load_time = started.elapsed();

    let Some(key_info) = info.keys.iter().find(|k| k.name == key) else {
        let keys: Vec<&str> = info.keys.iter().map(|k| k.name.as_str()).collect();
        anyhow::bail!("plugin {} has no key {key:?}; its keys: {}", info.name, keys.join(", "));
    };
    if let (Some(a), None) = (&key_info.arg, arg) {
        if a.required {
            anyhow::bail!("key {key} needs an arg: {}", a.description);
        }
    }
    let name: Arc<str> = Arc::from(info.name.as_str());
    let item: Arc<str> = Arc::from("plugin-test");
    let started = Instant::now();
    let poll = Poll {
        item: &item,
        key,
        arg,
        tick_ns: crate::sample::now_ns(),
    };
    let result = sandbox
        .sample(&name, &Arc::new(grants_for(&info.name)), &linked, poll)
        .map_err(|e| e.to_string());
    Ok(Trial {
        info,
        origin,
        load_time,
        call_time: started.elapsed(),
        result,
    })
}
