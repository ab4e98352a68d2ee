//! Component glue: the [`Plugin`] on top of the pure parsers.

use crate::parse::{count_cpus, parse_loadavg, LoadAvg};
use datalogger_sdk::{host, Context, Info, Key, Plugin, Point, SampleError};

const LOADAVG: &str = "/proc/loadavg";
const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";

/// (key, primary field, description) of the single-value keys.
const SINGLE: [(&str, &str, &str); 3] = [
    ("system.loadavg1", "load1", "Load average over the last minute"),
    ("system.loadavg5", "load5", "Load average over the last 5 minutes"),
    ("system.loadavg15", "load15", "Load average over the last 15 minutes"),
];
const LOAD: &str = "system.load";

struct System;

impl Plugin for System {
    fn info() -> Info {
        Info::new(
            "system",
            env!("CARGO_PKG_VERSION"),
            "System load averages, read from /proc/loadavg",
        )
        .keys(
            SINGLE
                .iter()
                .map(|(name, _, description)| Key::new(*name, *description)),
        )
        .key(Key::new(
            LOAD,
            "Load averages over 1, 5 and 15 minutes (load1, load5, load15) and the number of online CPUs (n_cpus)",
        ))
    }

    /// `arg` is ignored: no key of this plugin takes one. The host stamps the
    /// point with the tick time.
    fn sample(key: &str, _arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
        let point = Point::new("system");
        let point = if let Some((_, field, _)) = SINGLE.iter().find(|(k, _, _)| *k == key) {
            let load = loadavg()?;
            let value = match *field {
                "load1" => load.load1,
                "load5" => load.load5,
                _ => load.load15,
            };
            point.float(*field, value)
        } else if key == LOAD {
            let load = loadavg()?;
            let cpus = count_cpus(&read(CPU_ONLINE)?).map_err(SampleError::Failed)?;
            point
                .float("load1", load.load1)
                .float("load5", load.load5)
                .float("load15", load.load15)
                .int("n_cpus", cpus.into())
        } else {
            return Err(Self::unknown_key(key));
        };
        Ok(vec![point])
    }
}

fn loadavg() -> Result<LoadAvg, SampleError> {
    parse_loadavg(&read(LOADAVG)?).map_err(SampleError::Failed)
}

/// Reads a file through the host; a missing grant is `unavailable` with the
/// host's message (which names the plugin and the file) after the path.
fn read(path: &str) -> Result<String, SampleError> {
    host::read_file(path).with_context(|| format!("cannot read {path}"))
}

datalogger_sdk::plugin!(System);
