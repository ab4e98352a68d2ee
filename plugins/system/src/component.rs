//! WIT glue: `describe` and `sample` on top of the pure parsers.

use crate::parse::{count_cpus, parse_loadavg};

wit_bindgen::generate!({
    path: "../../wit",
    world: "collector",
});

use datalogger::plugin::host::read_file;
use datalogger::plugin::types::{CapError, Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

const LOADAVG: &str = "/proc/loadavg";
const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";
const MEASUREMENT: &str = "system";

/// (key, primary field, description) of the single-value keys.
const SINGLE: [(&str, &str, &str); 3] = [
    ("system.loadavg1", "load1", "Load average over the last minute"),
    ("system.loadavg5", "load5", "Load average over the last 5 minutes"),
    ("system.loadavg15", "load15", "Load average over the last 15 minutes"),
];
const LOAD: &str = "system.load";

struct System;

impl Guest for System {
    fn describe() -> PluginInfo {
        let mut keys: Vec<KeyInfo> = SINGLE
            .iter()
            .map(|(name, _, description)| key(name, description))
            .collect();
        keys.push(key(
            LOAD,
            "Load averages over 1, 5 and 15 minutes (load1, load5, load15) and the number of online CPUs (n_cpus)",
        ));
        PluginInfo {
            name: "system".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "System load averages, read from /proc/loadavg".into(),
            keys,
        }
    }

    /// `arg` is ignored: no key of this plugin takes one.
    fn sample(key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        let fields = if let Some((_, field, _)) = SINGLE.iter().find(|(k, _, _)| *k == key) {
            let load = loadavg()?;
            let value = match *field {
                "load1" => load.load1,
                "load5" => load.load5,
                _ => load.load15,
            };
            vec![float(field, value)]
        } else if key == LOAD {
            let load = loadavg()?;
            let cpus = count_cpus(&read(CPU_ONLINE)?).map_err(SampleError::Failed)?;
            vec![
                float("load1", load.load1),
                float("load5", load.load5),
                float("load15", load.load15),
                Field {
                    name: "n_cpus".into(),
                    value: FieldValue::Int(cpus.into()),
                },
            ]
        } else {
            let served: Vec<&str> = SINGLE.iter().map(|(k, _, _)| *k).chain([LOAD]).collect();
            return Err(SampleError::BadArgument(format!(
                "unknown key {key:?}; the system plugin serves {}",
                served.join(", ")
            )));
        };
        Ok(vec![Point {
            measurement: MEASUREMENT.into(),
            tags: Vec::new(),
            fields,
            // The host stamps it with the tick time.
            timestamp_ns: None,
        }])
    }
}

fn key(name: &str, description: &str) -> KeyInfo {
    KeyInfo {
        name: name.into(),
        description: description.into(),
        arg: None,
        unit: String::new(),
    }
}

fn float(name: &str, value: f64) -> Field {
    Field {
        name: name.into(),
        value: FieldValue::Float(value),
    }
}

fn loadavg() -> Result<crate::parse::LoadAvg, SampleError> {
    parse_loadavg(&read(LOADAVG)?).map_err(SampleError::Failed)
}

/// Reads a file through the host, keeping the host's message in the error so
/// the operator sees e.g. which grant is missing.
fn read(path: &str) -> Result<String, SampleError> {
    read_file(path).map_err(|e| {
        let ctx = |msg: String| format!("cannot read {path}: {msg}");
        match e {
            CapError::NotGranted(m) => SampleError::Unavailable(ctx(format!("not granted: {m}"))),
            CapError::Unavailable(m) => SampleError::Unavailable(ctx(m)),
            CapError::Timeout(m) => SampleError::Timeout(ctx(m)),
            CapError::Invalid(m) | CapError::Failed(m) => SampleError::Failed(ctx(m)),
        }
    })
}

export!(System);
