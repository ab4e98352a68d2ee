//! A full disk under the store: the logger reports `degraded`, logs the
//! change once, holds samples in memory and writes them when space returns.
//! Needs root to mount a small tmpfs (CI runs as root); skips otherwise.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use serde_json::{json, Value};

/// A tmpfs mounted on a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = fs::File::create(path).unwrap();
    let chunk = vec![0u8; 16 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

fn store_health(api: &Api) -> Option<(Value, Value)> {
    let health = api.try_get("/health")?.json();
    Some((health["status"].clone(), health["store"].clone()))
}

#[test]
fn a_full_disk_degrades_holds_samples_and_recovers() {
    let dir = TestDir::new(&[system_wasm()]);
    let Some(mount) = Tmpfs::mount(&dir.path().join("store"), "8m") else {
        eprintln!("SKIPPED a_full_disk_degrades_holds_samples_and_recovers: cannot mount a tmpfs (not root?)");
        return;
    };
    let db = mount.0.join("datalogger.db");
    dir.write_config(json!({
        "store": {"path": db, "retention_days": 30},
        "items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}],
    }));
    let mut logger = dir.start();
    logger.wait_rows(&db, "load1", 2);

    let filler = mount.0.join("filler");
    fill(&filler);
    let store = logger.wait_until("/health to say degraded with samples held", SLOW, |api| {
        let (status, store) = store_health(api)?;
        (status == "degraded" && store["held_samples"].as_u64()? >= 3).then_some(store)
    });
    assert!(store["write_error"].is_string(), "{store}");
    assert_eq!(store["dropped_samples"], 0, "{store}");
    let item = logger.item("load1");
    assert_eq!(
        item["last_error"],
        json!(null),
        "held samples are not an item error: {item}"
    );

    fs::remove_file(&filler).unwrap();
    logger.wait_until("/health to say ok with nothing held", SLOW, |api| {
        let (status, store) = store_health(api)?;
        (status == "ok" && store["held_samples"] == 0).then_some(())
    });
    // Everything sampled meanwhile is in the store: no tick is missing.
    let rows = logger.wait_rows(&db, "load1", 1);
    let mut ts: Vec<i64> = rows.iter().map(|r| r.ts_ns).collect();
    ts.sort();
    let gaps: Vec<_> = ts.windows(2).filter(|w| w[1] - w[0] > NS).collect();
    let skipped = logger.item("load1")["stats"]["skipped_ticks"].as_u64().unwrap_or(0);
    assert!(
        gaps.len() as u64 <= skipped,
        "samples missing between {gaps:?} ({skipped} ticks skipped):\n{}",
        logger.stderr()
    );
    assert!(ts.len() >= 6, "{} samples", ts.len());

    let stderr = logger.stderr();
    assert_eq!(stderr.matches("cannot write the store").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("the store can be written again").count(), 1, "{stderr}");
    assert_eq!(stderr.matches(" ERROR ").count(), 1, "one error line only:\n{stderr}");
}
