//! `datalogger plugin test`: one plugin file, one `sample` (or `decode`) call,
//! no config or server — the quickest loop for a plugin author. The plugin runs in the same
//! sandbox, with the same capabilities, as under `datalogger run`; it gets only
//! the grants given on the command line.

use super::cache::Origin;
use super::sandbox::SandboxSettings;
use super::sandbox::{DecodeCall, Poll, Sandbox};
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

/// What to call: `sample(key, arg)`, or `decode(decoder, payload)` as if the
/// payload had arrived on `topic` (MQTT) now.
pub enum Call<'a> {
    Sample {
        key: &'a str,
        arg: Option<&'a str>,
    },
    Decode {
        decoder: &'a str,
        topic: &'a str,
        payload: &'a [u8],
    },
}

/// Loads `file` (through the compiled-code cache in `cache_dir`, if given) and
/// makes the call once. `Err` when the file cannot be used at all.
pub fn run(
    file: &Path,
    call: Call<'_>,
    grants_for: impl Fn(&str) -> Grants,
    caps: Capabilities,
    settings: SandboxSettings,
    cache_dir: Option<&Path>,
) -> anyhow::Result<Trial> {
    let sandbox = Sandbox::new(settings, Arc::new(caps))?;
    let started = Instant::now();
    let super::Opened {
        info,
        decoders,
        linked,
        origin,
        ..
    } = super::open_file(&sandbox, file, cache_dir)?;
    let load_time = started.elapsed();
    let name: Arc<str> = Arc::from(info.name.as_str());
    let grants = Arc::new(grants_for(&info.name));
    let started = Instant::now();
    let result = match call {
        Call::Sample { key, arg } => {
            let Some(key_info) = info.keys.iter().find(|k| k.name == key) else {
                let keys: Vec<&str> = info.keys.iter().map(|k| k.name.as_str()).collect();
                let also = match decoders.iter().any(|d| d.name == key) {
                    true => " (it is a decoder: give the payload with --payload FILE)",
                    false => "",
                };
                anyhow::bail!(
                    "plugin {} has no key {key:?}{also}; its keys: {}",
                    info.name,
                    keys.join(", ")
                );
            };
            if let (Some(a), None) = (&key_info.arg, arg) {
                if a.required {
                    anyhow::bail!("key {key} needs an arg: {}", a.description);
                }
            }
            let item: Arc<str> = Arc::from("plugin-test");
            let poll = Poll {
                item: &item,
                key,
                arg,
                tick_ns: crate::sample::now_ns(),
            };
            sandbox.sample(&name, &grants, &linked, poll)
        }
        Call::Decode {
            decoder,
            topic,
            payload,
        } => {
            if !decoders.iter().any(|d| d.name == decoder) {
                let names: Vec<&str> = decoders.iter().map(|d| d.name.as_str()).collect();
                anyhow::bail!(
                    "plugin {} has no decoder {decoder:?}; its decoders: {}",
                    info.name,
                    match names.is_empty() {
                        true => "none".to_string(),
                        false => names.join(", "),
                    }
                );
            }
            let source: Arc<str> = Arc::from("plugin-test");
            let call = DecodeCall {
                decoder,
                source: &source,
                transport: "mqtt",
                topic,
                received_ns: crate::sample::now_ns(),
                payload,
            };
            sandbox.decode(&name, &grants, &linked, call)
        }
    }
    .map_err(|e| e.to_string());
    Ok(Trial {
        info,
        origin,
        load_time,
        call_time: started.elapsed(),
        result,
    })
}
