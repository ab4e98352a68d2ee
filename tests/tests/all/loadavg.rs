//! The standard system plugin, sampled on wall-clock ticks into the store.

use crate::common::*;
use serde_json::json;

/// Min and max of each of the first three columns of /proc/loadavg seen so far.
struct LoadRange([(f64, f64); 3]);

impl LoadRange {
    fn new() -> Self {
        LoadRange([(f64::MAX, f64::MIN); 3])
    }
    fn observe(&mut self) {
        let text = std::fs::read_to_string("/proc/loadavg").unwrap();
        for (range, value) in self.0.iter_mut().zip(text.split_whitespace()) {
            let value: f64 = value.parse().unwrap();
            *range = (range.0.min(value), range.1.max(value));
        }
    }
    /// Asserts `value` is what /proc/loadavg column `column` showed during the test (±0.5).
    fn assert_plausible(&self, column: usize, value: f64, what: &str) {
        let (lo, hi) = self.0[column];
        assert!(value >= 0.0, "{what}: negative load {value}");
        assert!(
            value >= lo - 0.5 && value <= hi + 0.5,
            "{what}: {value} is not near /proc/loadavg, which showed {lo}..{hi}"
        );
    }
}

/// Number of CPUs listed in /sys/devices/system/cpu/online, e.g. "0-3,6".
fn online_cpus() -> i64 {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    text.trim()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<i64>().unwrap() - a.parse::<i64>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

#[test]
fn load_items_are_sampled_on_aligned_ticks() {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [
        {"name": "load1", "key": "system.loadavg1", "interval": 1, "arg": null, "tags": {"room": "lab"}, "enabled": true},
        {"name": "load5", "key": "system.loadavg5", "interval": 2},
        {"name": "load", "key": "system.load", "interval": 1},
    ]}));
    let mut loads = LoadRange::new();
    loads.observe();
    let mut logger = dir.start();
    let db = dir.db_path();
    logger.wait_until("5 samples of load1 and load, 3 of load5", SLOW, |_| {
        loads.observe();
        let enough = store_rows(&db, "load1").len() >= 5
            && store_rows(&db, "load").len() >= 5
            && store_rows(&db, "load5").len() >= 3;
        enough.then_some(())
    });
    loads.observe();

    for (item, field, column, interval) in [("load1", "load1", 0, 1), ("load5", "load5", 1, 2)] {
        let rows = store_rows(&db, item);
        assert_on_ticks(&rows, interval, item);
        for row in &rows {
            assert_eq!(row.measurement, "system", "{item}: {row:?}");
            if item == "load1" {
                assert_eq!(
                    row.tags["room"], "lab",
                    "the item's tags are not on its samples: {row:?}"
                );
            }
            let fields = row.fields.as_object().unwrap();
            assert_eq!(fields.len(), 1, "{item}: expected one field: {row:?}");
            let value = fields[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{item}: no float {field}: {row:?}"));
            loads.assert_plausible(column, value, item);
        }
    }

    let rows = store_rows(&db, "load");
    assert_on_ticks(&rows, 1, "load");
    for row in &rows {
        assert_eq!(row.measurement, "system", "load: {row:?}");
        for (column, field) in ["load1", "load5", "load15"].iter().enumerate() {
            let value = row.fields[field]
                .as_f64()
                .unwrap_or_else(|| panic!("load: no float {field}: {row:?}"));
            loads.assert_plausible(column, value, &format!("load.{field}"));
        }
        assert!(row.fields["n_cpus"].is_i64(), "load: n_cpus is not an integer: {row:?}");
        assert_eq!(row.fields["n_cpus"], online_cpus(), "load: {row:?}");
    }

    // The REST view agrees with the store.
    let item = logger.item("load1");
    assert_eq!(item["key"], "system.loadavg1");
    assert_eq!(item["interval"], 1);
    assert_eq!(item["tags"], json!({"room": "lab"}));
    assert_eq!(item["last_error"], json!(null));
    assert!(item["last_value"].is_f64(), "last_value is not a float: {item}");
    let last = &item["last_sample"];
    assert_eq!(last["measurement"], "system");
    assert_eq!(
        last["fields"]["load1"], item["last_value"],
        "last_value is not the first field: {item}"
    );
    let last_ts = rfc3339_ns(&last["timestamp"]);
    assert!(
        store_rows(&db, "load1").iter().any(|r| r.ts_ns == last_ts),
        "last_sample timestamp {} is not in the store",
        last["timestamp"]
    );
    assert_eq!(
        rfc3339_ns(&item["next_poll_time"]) % NS,
        0,
        "next_poll_time not on a tick: {item}"
    );
    assert!(item["stats"]["polls"].as_u64().unwrap() >= 5, "stats.polls: {item}");
    assert_eq!(rfc3339_ns(&logger.item("load5")["next_poll_time"]) % (2 * NS), 0);

    // Recent samples, newest first, as stored.
    let recent = logger.api.get("/items/load1/samples?limit=3");
    assert_eq!(recent.status, 200, "{}", recent.text);
    let recent = recent.json();
    let recent = recent.as_array().unwrap_or_else(|| panic!("not an array: {recent}"));
    assert_eq!(recent.len(), 3, "limit=3 ignored: {recent:?}");
    let stamps: Vec<i64> = recent.iter().map(|s| rfc3339_ns(&s["timestamp"])).collect();
    assert!(stamps.windows(2).all(|w| w[0] > w[1]), "not newest first: {recent:?}");
    let stored: Vec<i64> = store_rows(&db, "load1").iter().map(|r| r.ts_ns).collect();
    for sample in recent {
        assert_eq!(sample["measurement"], "system", "{sample}");
        assert_eq!(sample["tags"]["room"], "lab", "{sample}");
        assert!(sample["fields"]["load1"].is_f64(), "{sample}");
        assert!(
            stored.contains(&rfc3339_ns(&sample["timestamp"])),
            "{sample} not in the store"
        );
    }
}
