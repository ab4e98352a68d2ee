//! Hot reload: plugin files dropped in, replaced, corrupted, deleted and
//! rewritten while the logger runs. The `versioned` fixture returns 1.0 in
//! version 1.0.0 and 2.0 in version 2.0.0, so every stored row tells which
//! version took it; an unrelated `system` item checks that nothing else
//! loses a tick.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The file name the tests give the fixture in the plugins folder.
const FILE: &str = "versioned.wasm";

// ---------------------------------------------------------------- fixture files

struct Versions {
    v1: Vec<u8>,
    v2: Vec<u8>,
}

impl Versions {
    fn load() -> Self {
        Versions {
            v1: fs::read(fixture("versioned_v1")).unwrap(),
            v2: fs::read(fixture("versioned_v2")).unwrap(),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// 4 KiB of deterministic noise: not a WebAssembly module.
fn noise() -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An editor's save: write a temp file in the same folder (a name the logger
/// ignores), then rename it over `name`.
fn replace_file(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{}.tmp", name.trim_end_matches(".wasm")));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
}

/// A test dir with system.wasm and version 1 of the fixture as `versioned.wasm`.
fn dir_with_v1(versions: &Versions) -> TestDir {
    let dir = TestDir::new(&[system_wasm()]);
    fs::write(dir.plugins_dir().join(FILE), &versions.v1).unwrap();
    dir
}

fn item(name: &str, key: &str) -> Value {
    json!({"name": name, "key": key, "interval": 1})
}

// ---------------------------------------------------------------- GET /plugins

fn plugins(api: &Api) -> Vec<Value> {
    let resp = api.get("/plugins");
    assert_eq!(resp.status, 200, "GET /plugins: {}", resp.text);
    resp.json()
        .as_array()
        .unwrap_or_else(|| panic!("GET /plugins is not an array: {}", resp.text))
        .clone()
}

fn file_name(entry: &Value) -> Option<String> {
    let file = entry["file"].as_str()?;
    Some(Path::new(file).file_name()?.to_string_lossy().into_owned())
}

/// The entry of the loaded plugin `name`, if it is loaded.
fn loaded<'a>(plugins: &'a [Value], name: &str) -> Option<&'a Value> {
    plugins.iter().find(|p| p["name"] == name && p["error"].is_null())
}

/// The error entry (no name, an error text) of `file`, if there is one.
fn failure<'a>(plugins: &'a [Value], file: &str) -> Option<&'a Value> {
    plugins
        .iter()
        .find(|p| file_name(p).as_deref() == Some(file) && p["name"].is_null() && p["error"].is_string())
}

/// Waits until `versioned` is loaded from versioned.wasm with exactly these
/// bytes and version, and versioned.wasm has no error entry; returns the entry.
fn wait_serving(logger: &mut Logger, bytes: &[u8], version: &str) -> Value {
    let sha = sha256_hex(bytes);
    logger.wait_until(
        &format!("versioned {version} ({sha}) to serve without error"),
        SLOW,
        |api| {
            let list = plugins(api);
            let entry = loaded(&list, "versioned")?;
            let ok = entry["version"] == version
                && entry["sha256"] == sha.as_str()
                && file_name(entry).as_deref() == Some(FILE)
                && failure(&list, FILE).is_none();
            ok.then(|| entry.clone())
        },
    )
}

// ---------------------------------------------------------------- stored rows

fn float_value(row: &Row) -> f64 {
    row.fields["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("row without a numeric \"value\": {row:?}"))
}

/// Rows as (seconds since the first row, first field's value), for messages.
fn show(rows: &[Row]) -> Vec<(i64, f64)> {
    let first = rows.first().map_or(0, |r| r.ts_ns);
    let value = |r: &Row| {
        let fields = r.fields.as_object();
        fields.and_then(|f| f.values().next()?.as_f64()).unwrap_or(f64::NAN)
    };
    rows.iter().map(|r| ((r.ts_ns - first) / NS, value(r))).collect()
}

/// Waits until `item` has at least `n` rows with `value` stamped after
/// `after_ns`; returns all its rows.
fn wait_rows(logger: &mut Logger, db: &Path, item: &str, value: f64, n: usize, after_ns: i64) -> Vec<Row> {
    logger.wait_until(&format!("{n} samples of {item} with value {value}"), SLOW, |_| {
        let rows = store_rows(db, item);
        let count = rows
            .iter()
            .filter(|r| r.ts_ns > after_ns && float_value(r) == value)
            .count();
        (count >= n).then_some(rows)
    })
}

fn last_ts(db: &Path, item: &str) -> i64 {
    store_rows(db, item).last().map_or(0, |r| r.ts_ns)
}

/// No tick missed, none stored twice: timestamps exactly 1 s apart.
fn assert_consecutive(rows: &[Row], what: &str) {
    assert!(rows.len() >= 2, "{what}: too few rows to judge: {:?}", show(rows));
    let first = rows[0].ts_ns;
    for w in rows.windows(2) {
        assert_eq!(
            w[1].ts_ns - w[0].ts_ns,
            NS,
            "{what}: ticks are not consecutive seconds at +{} s (0 = doubled, >1 s = missed); \
             (s since first, value): {:?}",
            (w[0].ts_ns - first) / NS,
            show(rows)
        );
    }
}

/// Values (oldest first) are all `from`, then all `to`, switching exactly once.
fn assert_switches_once(rows: &[Row], from: f64, to: f64, what: &str) {
    let values: Vec<f64> = rows.iter().map(float_value).collect();
    let first_to = values
        .iter()
        .position(|v| *v == to)
        .unwrap_or_else(|| panic!("{what}: no {to} at all: {:?}", show(rows)));
    assert!(
        values[..first_to].iter().all(|v| *v == from) && values[first_to..].iter().all(|v| *v == to),
        "{what}: values do not switch once from {from} to {to}: {:?}",
        show(rows)
    );
}

/// The rows from `before` rows ahead of the first `value` to the end.
fn around_first(rows: &[Row], value: f64, before: usize) -> &[Row] {
    let first = rows
        .iter()
        .position(|r| float_value(r) == value)
        .unwrap_or_else(|| panic!("no {value} in {:?}", show(rows)));
    &rows[first.saturating_sub(before)..]
}

/// A tick polled twice stores one row only (the store ignores a second sample
/// of the same series and time), so compare successful polls with rows. Reads
/// at a quiet moment: the item's stats did not change around the read and its
/// last sample is the newest row (no poll half-recorded).
fn assert_each_poll_one_row(logger: &mut Logger, db: &Path, item: &str) {
    let path = format!("/items/{item}");
    let (ok_polls, rows, stats) = logger.wait_until(&format!("a quiet moment to count {item}'s polls"), SLOW, |api| {
        let before = api.try_get(&path)?.json();
        let rows = store_rows(db, item);
        let after = api.try_get(&path)?.json();
        let last_sample_ns = rfc3339_ns(&before["last_sample"]["timestamp"]);
        let quiet = before["stats"] == after["stats"] && rows.last().map(|r| r.ts_ns) == Some(last_sample_ns);
        let stats = &before["stats"];
        let ok = stats["polls"].as_u64()? - stats["errors"].as_u64()?;
        quiet.then(|| (ok, rows, stats.clone()))
    });
    assert_eq!(
        rows.len() as u64,
        ok_polls,
        "{item}: {ok_polls} successful polls but {} rows (a tick was polled twice?); stats {stats}; rows {:?}",
        rows.len(),
        show(&rows)
    );
}

fn error_count(logger: &Logger, item: &str) -> u64 {
    logger.item(item)["stats"]["errors"].as_u64().unwrap()
}

fn polls(api: &Api, item: &str) -> Option<u64> {
    api.try_get(&format!("/items/{item}"))?.json()["stats"]["polls"].as_u64()
}

// ---------------------------------------------------------------- tests

#[test]
fn replace_swaps_values() {
    let versions = Versions::load();
    let dir = dir_with_v1(&versions);
    let db = dir.db_path();
    dir.write_config(json!({"items": [
        item("v", "versioned.value"),
        item("old", "versioned.old"),
        item("l1", "system.loadavg1"),
    ]}));
    let mut logger = dir.start();

    wait_rows(&mut logger, &db, "v", 1.0, 3, 0);
    let before = wait_serving(&mut logger, &versions.v1, "1.0.0");
    logger
        .api
        .post("/items/", &item("new", "versioned.new"))
        .expect_error(422, "versioned.new before version 2 is loaded");

    replace_file(&dir.plugins_dir(), FILE, &versions.v2);

    let rows = wait_rows(&mut logger, &db, "v", 2.0, 5, 0);
    let after = wait_serving(&mut logger, &versions.v2, "2.0.0");
    assert_ne!(
        after["loaded_at"], before["loaded_at"],
        "loaded_at did not change: before {before}, after {after}"
    );
    let window = around_first(&rows, 2.0, 5);
    assert!(
        float_value(&window[0]) == 1.0,
        "too few 1.0 rows before the swap: {:?}",
        show(&rows)
    );
    assert_consecutive(window, "v across the swap");
    assert_switches_once(&rows, 1.0, 2.0, "v");
    assert_each_poll_one_row(&mut logger, &db, "v");

    // The key only version 1 served: a clear error, and nothing stored.
    let error = logger.wait_until("item old to report the dropped key", SLOW, |api| {
        let error = api.try_get("/items/old")?.json()["last_error"].as_str()?.to_owned();
        error.contains("no longer serves key versioned.old").then_some(error)
    });
    assert!(
        error.contains("2.0.0"),
        "error does not name the new version: {error:?}"
    );
    let stored = store_rows(&db, "old");
    let polls_then = polls(&logger.api, "old").unwrap();
    logger.wait_until("3 more polls of old", SLOW, |api| {
        (polls(api, "old")? >= polls_then + 3).then_some(())
    });
    let stored_now = store_rows(&db, "old");
    assert_eq!(
        stored_now.len(),
        stored.len(),
        "old still stores samples: {stored_now:?}"
    );
    assert!(
        stored_now.iter().all(|r| r.fields["value"] == 1),
        "old stored something not from version 1: {stored_now:?}"
    );

    // The key only version 2 serves can be added at once.
    let created = logger.api.post("/items/", &item("new", "versioned.new"));
    assert_eq!(
        created.status, 201,
        "POST versioned.new after the swap: {}",
        created.text
    );
    logger.wait_until("a sample of new", SLOW, |_| {
        store_rows(&db, "new")
            .iter()
            .any(|r| r.fields["value"] == 2)
            .then_some(())
    });

    let reloads = wait_until("the reload's log line", SLOW, || {
        let stderr = logger.stderr();
        let lines: Vec<String> = stderr
            .lines()
            .filter(|l| l.contains("reloaded plugin versioned"))
            .map(String::from)
            .collect();
        (!lines.is_empty()).then_some(lines)
    });
    assert_eq!(reloads.len(), 1, "one swap, not one log line: {reloads:#?}");

    assert_consecutive(&store_rows(&db, "l1"), "l1 (unrelated) throughout");
    assert_each_poll_one_row(&mut logger, &db, "l1");
}

#[test]
fn new_plugin_dropped_in() {
    let versions = Versions::load();
    let dir = TestDir::new(&[system_wasm()]);
    let db = dir.db_path();
    dir.write_config(json!({"items": [item("l1", "system.loadavg1")]}));
    let mut logger = dir.start();
    wait_rows_any(&mut logger, &db, "l1", 2);

    logger
        .api
        .post("/items/", &item("v", "versioned.value"))
        .expect_error(422, "an item for a plugin that is not there yet");

    fs::copy(fixture("versioned_v1"), dir.plugins_dir().join(FILE)).unwrap();
    wait_serving(&mut logger, &versions.v1, "1.0.0");

    let created = logger.api.post("/items/", &item("v", "versioned.value"));
    assert_eq!(created.status, 201, "POST after the plugin arrived: {}", created.text);
    let rows = wait_rows(&mut logger, &db, "v", 1.0, 3, 0);
    assert!(rows.iter().all(|r| float_value(r) == 1.0), "{:?}", show(&rows));

    assert_consecutive(&store_rows(&db, "l1"), "l1 (unrelated) throughout");
}

/// Waits until `item` has at least `n` rows; returns them.
fn wait_rows_any(logger: &mut Logger, db: &Path, item: &str, n: usize) -> Vec<Row> {
    logger.wait_until(&format!("{n} samples of {item}"), SLOW, |_| {
        let rows = store_rows(db, item);
        (rows.len() >= n).then_some(rows)
    })
}

/// Version 1 in the folder, items `v` (versioned.value) and `l1` (an unrelated
/// system item) at 1 s, and the logger running until `v` has sampled 1.0 three times.
fn start_with_v_and_l1(versions: &Versions) -> (TestDir, Logger, PathBuf) {
    let dir = dir_with_v1(versions);
    let db = dir.db_path();
    dir.write_config(json!({"items": [item("v", "versioned.value"), item("l1", "system.loadavg1")]}));
    let mut logger = dir.start();
    wait_rows(&mut logger, &db, "v", 1.0, 3, 0);
    (dir, logger, db)
}

#[test]
fn slow_write_in_pieces() {
    let versions = Versions::load();
    let (dir, mut logger, db) = start_with_v_and_l1(&versions);
    wait_serving(&mut logger, &versions.v1, "1.0.0");
    let mark = store_rows(&db, "v").len().saturating_sub(3);

    // A slow copy over the running version: 4 pieces, each longer apart than
    // the debounce, so the logger sees the half-written file.
    let path = dir.plugins_dir().join(FILE);
    let mut file = fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    let piece = versions.v2.len().div_ceil(4);
    for (i, chunk) in versions.v2.chunks(piece).enumerate() {
        if i > 0 {
            sleep(Duration::from_millis(450));
        }
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
    }
    drop(file);

    // The old version served while the file was incomplete: no failed poll, no gap.
    assert_clean_switch_to_v2(&mut logger, &db, &versions, mark, "while the file was written");
    assert_each_poll_one_row(&mut logger, &db, "v");
}

#[test]
fn corrupt_and_wrong_world_keep_old() {
    let versions = Versions::load();
    let wrongworld = fs::read(fixture("wrongworld")).unwrap();
    let (dir, mut logger, db) = start_with_v_and_l1(&versions);
    wait_serving(&mut logger, &versions.v1, "1.0.0");
    let mark = store_rows(&db, "v").len() - 1;
    let v1_sha = sha256_hex(&versions.v1);

    for (what, bytes) in [("random bytes", noise()), ("a wrong-world component", wrongworld)] {
        let sha = sha256_hex(&bytes);
        fs::write(dir.plugins_dir().join(FILE), &bytes).unwrap();
        let list = logger.wait_until(&format!("an error entry for {what}"), SLOW, |api| {
            let list = plugins(api);
            let entry = failure(&list, FILE)?;
            // The entry is about this content (the hash, when the logger shows one).
            (entry["sha256"].is_null() || entry["sha256"] == sha.as_str()).then_some(list)
        });
        let kept = loaded(&list, "versioned").unwrap_or_else(|| panic!("{what}: versioned unloaded: {list:#?}"));
        assert_eq!(kept["version"], "1.0.0", "{what}: {kept}");
        assert_eq!(kept["sha256"], v1_sha.as_str(), "{what}: {kept}");
        assert!(
            !failure(&list, FILE).unwrap()["error"].as_str().unwrap().is_empty(),
            "{what}: empty error: {list:#?}"
        );

        let since = last_ts(&db, "v");
        wait_rows(&mut logger, &db, "v", 1.0, 3, since);
        let newer: Vec<Row> = store_rows(&db, "v").into_iter().filter(|r| r.ts_ns > since).collect();
        assert!(
            newer.iter().all(|r| float_value(r) == 1.0),
            "{what}: not the old version serving: {:?}",
            show(&newer)
        );
    }

    replace_file(&dir.plugins_dir(), FILE, &versions.v2);
    assert_clean_switch_to_v2(&mut logger, &db, &versions, mark, "through the bad files");
}

/// Version 2 ends up serving, and item `v` got there without a failed poll or
/// a missing tick since row `mark`, switching values exactly once; the
/// unrelated item `l1` kept every tick throughout.
fn assert_clean_switch_to_v2(logger: &mut Logger, db: &Path, versions: &Versions, mark: usize, during: &str) {
    wait_serving(logger, &versions.v2, "2.0.0");
    let rows = wait_rows(logger, db, "v", 2.0, 3, 0);
    assert_eq!(error_count(logger, "v"), 0, "v failed {during}: {}", logger.item("v"));
    assert_consecutive(&rows[mark..], &format!("v {during}"));
    assert_switches_once(&rows, 1.0, 2.0, "v");
    assert_consecutive(&store_rows(db, "l1"), "l1 (unrelated) throughout");
}

#[test]
fn delete_and_restore() {
    let versions = Versions::load();
    let (dir, mut logger, db) = start_with_v_and_l1(&versions);

    fs::remove_file(dir.plugins_dir().join(FILE)).unwrap();
    let error = logger.wait_until("v to report its plugin gone", SLOW, |api| {
        let error = api.try_get("/items/v")?.json()["last_error"].as_str()?.to_owned();
        error.contains("no loaded plugin serves key").then_some(error)
    });
    assert!(
        error.contains("versioned.value"),
        "error does not name the key: {error:?}"
    );
    assert_eq!(logger.item("v")["last_error_kind"], "unknown_key");
    let list = plugins(&logger.api);
    assert!(
        !list.iter().any(|p| p["name"] == "versioned"),
        "versioned still listed after its file was removed: {list:#?}"
    );

    let stored = store_rows(&db, "v").len();
    let polls_then = polls(&logger.api, "v").unwrap();
    logger.wait_until("3 more (failing) polls of v", SLOW, |api| {
        (polls(api, "v")? >= polls_then + 3).then_some(())
    });
    assert_eq!(
        store_rows(&db, "v").len(),
        stored,
        "v stored samples without its plugin"
    );

    // The item is stopped, not gone.
    let items = logger.api.get("/items/").json();
    assert!(
        items.as_array().unwrap().iter().any(|i| i["name"] == "v"),
        "v missing from GET /items/: {items}"
    );
    let config = dir.read_config();
    assert!(
        config["items"].as_array().unwrap().iter().any(|i| i["name"] == "v"),
        "v removed from the config: {config}"
    );

    let since = last_ts(&db, "v");
    fs::copy(fixture("versioned_v1"), dir.plugins_dir().join(FILE)).unwrap();
    wait_rows(&mut logger, &db, "v", 1.0, 2, since);
    logger.wait_until("v's error to clear", SLOW, |api| {
        api.try_get("/items/v")?.json()["last_error"].is_null().then_some(())
    });
    assert_consecutive(&store_rows(&db, "l1"), "l1 (unrelated) throughout");
}

#[test]
fn rapid_rewrites() {
    let versions = Versions::load();
    let (dir, mut logger, db) = start_with_v_and_l1(&versions);
    wait_serving(&mut logger, &versions.v1, "1.0.0");
    let mark = store_rows(&db, "v").len() - 1;

    for i in 0..50 {
        let bytes = if i % 2 == 0 { &versions.v1 } else { &versions.v2 };
        replace_file(&dir.plugins_dir(), FILE, bytes);
    }

    wait_serving(&mut logger, &versions.v2, "2.0.0");
    // Settled: the newest rows are all from version 2.
    let since = last_ts(&db, "v");
    let rows = wait_rows(&mut logger, &db, "v", 2.0, 3, since);
    let newer: Vec<Row> = rows.iter().filter(|r| r.ts_ns > since).cloned().collect();
    assert!(
        newer.iter().all(|r| float_value(r) == 2.0),
        "not version 2 serving after the last rewrite: {:?}",
        show(&newer)
    );

    let health = logger.api.get("/health");
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.json()["status"], "ok", "{}", health.text);
    assert!(logger.is_running(), "the logger died");

    // Every rewrite left a complete file in place: v never lost a tick either.
    assert_eq!(
        error_count(&logger, "v"),
        0,
        "v failed during the rewrites: {}",
        logger.item("v")
    );
    assert_consecutive(&store_rows(&db, "v")[mark..], "v through the rewrites");
    assert_each_poll_one_row(&mut logger, &db, "v");
    assert_consecutive(&store_rows(&db, "l1"), "l1 (unrelated) throughout");
    assert_each_poll_one_row(&mut logger, &db, "l1");
}

#[test]
fn duplicate_name_refused() {
    let versions = Versions::load();
    let dir = dir_with_v1(&versions);
    let db = dir.db_path();
    dir.write_config(json!({"items": [item("v", "versioned.value")]}));
    let mut logger = dir.start();
    wait_rows(&mut logger, &db, "v", 1.0, 3, 0);
    wait_serving(&mut logger, &versions.v1, "1.0.0");

    let copy: PathBuf = dir.plugins_dir().join("versioned_copy.wasm");
    fs::copy(fixture("versioned_v1"), &copy).unwrap();
    let list = logger.wait_until("an error entry for versioned_copy.wasm", SLOW, |api| {
        let list = plugins(api);
        failure(&list, "versioned_copy.wasm").is_some().then_some(list)
    });
    let error = failure(&list, "versioned_copy.wasm").unwrap()["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("already provided by"), "unclear error: {error:?}");
    assert_eq!(
        failure(&list, "versioned_copy.wasm").unwrap()["error_kind"],
        "name_taken"
    );

    let served = loaded(&list, "versioned").unwrap_or_else(|| panic!("versioned not loaded: {list:#?}"));
    assert_eq!(
        file_name(served).as_deref(),
        Some(FILE),
        "served from the wrong file: {served}"
    );
    assert!(failure(&list, FILE).is_none(), "versioned.wasm has an error: {list:#?}");
    assert_eq!(
        list.iter().filter(|p| p["name"] == "versioned").count(),
        1,
        "versioned listed twice: {list:#?}"
    );

    let since = last_ts(&db, "v");
    wait_rows(&mut logger, &db, "v", 1.0, 2, since);
    assert!(logger.item("v")["last_error"].is_null(), "{}", logger.item("v"));
}

#[test]
fn manual_reload() {
    let versions = Versions::load();
    let dir = dir_with_v1(&versions);
    let db = dir.db_path();
    dir.write_config(json!({
        "plugins_watch": false,
        "items": [item("v", "versioned.value")],
    }));
    let mut logger = dir.start();
    wait_rows(&mut logger, &db, "v", 1.0, 3, 0);
    wait_serving(&mut logger, &versions.v1, "1.0.0");

    replace_file(&dir.plugins_dir(), FILE, &versions.v2);
    let since = last_ts(&db, "v");
    sleep(Duration::from_secs(3));
    // Not watching: still version 1, and still serving.
    let rows = store_rows(&db, "v");
    assert!(
        rows.iter().all(|r| float_value(r) == 1.0),
        "switched without a reload although plugins_watch is false: {:?}",
        show(&rows)
    );
    wait_rows(&mut logger, &db, "v", 1.0, 2, since);
    let list = plugins(&logger.api);
    let entry = loaded(&list, "versioned").unwrap_or_else(|| panic!("{list:#?}"));
    assert_eq!(entry["version"], "1.0.0", "reloaded without being asked: {entry}");

    let reload = logger.api.send("POST", "/plugins/reload", Some(""));
    assert_eq!(reload.status, 200, "POST /plugins/reload: {}", reload.text);
    let answer = reload.json();
    let answer = answer
        .as_array()
        .unwrap_or_else(|| panic!("POST /plugins/reload is not an array: {}", reload.text));
    let entry = loaded(answer, "versioned").unwrap_or_else(|| panic!("{answer:#?}"));
    assert_eq!(
        entry["version"], "2.0.0",
        "the reload's answer is not the rescanned state: {entry}"
    );
    assert_eq!(
        *answer,
        plugins(&logger.api),
        "POST /plugins/reload and GET /plugins differ"
    );

    let rows = wait_rows(&mut logger, &db, "v", 2.0, 2, 0);
    assert_switches_once(&rows, 1.0, 2.0, "v");
}
