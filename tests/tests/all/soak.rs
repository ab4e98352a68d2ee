//! Soak: every attack of the `misbehave` fixture at 1 s together, for a
//! bounded time, must keep the host's memory under a ceiling while a
//! well-behaved item keeps sampling. Adds about 65 s to the suite.

use crate::common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long the attack mix runs.
const SOAK: Duration = Duration::from_secs(60);
/// Ceiling for the host's peak RSS (VmHWM) over the soak, in MiB. Measured on
/// 2026-12-01 with scripts/bench-attack-memory (docs/BENCHMARKS.md): before
/// the fix the peak was 615 MiB (371 MiB with MALLOC_ARENA_MAX=2), RSS
/// growing from 259 MiB to 456 MiB in 120 s (this test: peak 651 MiB); after it
/// the peak is 152-172 MiB (RSS 61-93 MiB between calls, plus a 64 MiB memory
/// bomb while it runs). 256 leaves ~85 MiB of margin and fails the old build.
const PEAK_RSS_CEILING_MIB: u64 = 256;

/// (item, key, the error kind it must end with; None: any or none)
const ATTACKS: &[(&str, &str, Option<&str>)] = &[
    ("loop", "misbehave.loop", Some("deadline")),
    ("hog", "misbehave.hog", Some("out_of_memory")),
    ("big", "misbehave.big", Some("result_too_large")),
    ("huge", "misbehave.huge", Some("result_too_large")),
    ("many", "misbehave.many", Some("result_too_large")),
    ("deep", "misbehave.deep", Some("trap")),
    ("trap", "misbehave.trap", Some("trap")),
    ("nan", "misbehave.nan", Some("invalid_result")),
    ("logflood", "misbehave.logflood", None),
    ("cacheflood", "misbehave.cacheflood", None),
    ("probe", "misbehave.probe", None),
    ("ambient", "misbehave.ambient", None),
    ("undeclared", "misbehave.undeclared", Some("unknown_key")),
];

/// A `kB` field of /proc/PID/status, in MiB.
fn status_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

#[test]
fn memory_stays_bounded_under_every_attack_at_once() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    let mut items: Vec<Value> = vec![json!({"name": "load1", "key": "system.loadavg1", "interval": 1})];
    items.extend(
        ATTACKS
            .iter()
            .map(|(name, key, _)| json!({"name": name, "key": key, "interval": 1})),
    );
    // The default sandbox (64 MiB memory cap, 1 MiB results) but a 500 ms
    // deadline, so the loop burns half a core rather than one.
    dir.write_config(json!({"log_level": "warn", "sandbox": {"call_timeout_ms": 500}, "items": items}));
    let mut logger = dir.start();
    let db = dir.db_path();
    let pid = logger.pid();

    let start = Instant::now();
    let mut rss = Vec::new();
    let mut load1_rows = store_rows(&db, "load1").len();
    while start.elapsed() < SOAK {
        // Bounded waits: load1 must store a sample in every 10 s window.
        let before = load1_rows;
        load1_rows = logger.wait_until("load1 to keep sampling under the attacks", SLOW, |_| {
            std::thread::sleep(Duration::from_secs(1));
            let n = store_rows(&db, "load1").len();
            (n > before).then_some(n)
        });
        std::thread::sleep(Duration::from_secs(9));
        rss.push(status_mib(pid, "VmRSS"));
    }
    let peak = status_mib(pid, "VmHWM");
    eprintln!("soak: VmRSS every ~10 s {rss:?} MiB, peak {peak} MiB, load1 rows {load1_rows}");
    assert!(
        peak <= PEAK_RSS_CEILING_MIB,
        "peak RSS {peak} MiB is over the ceiling of {PEAK_RSS_CEILING_MIB} MiB (samples {rss:?})"
    );

    // The attacks really ran, and were contained as before.
    for (name, _, kind) in ATTACKS {
        let item = logger.item(name);
        assert!(
            item["stats"]["polls"].as_u64().unwrap_or(0) >= 10,
            "{name} barely ran: {item}"
        );
        if let Some(kind) = kind {
            assert_eq!(item["last_error_kind"], json!(kind), "{name}: {item}");
        }
    }
    let load1 = logger.item("load1");
    assert_eq!(load1["stats"]["errors"], 0, "load1: {load1}");
    assert_eq!(load1["last_error"], json!(null), "load1: {load1}");
    assert!(logger.is_running(), "the host died");
}
