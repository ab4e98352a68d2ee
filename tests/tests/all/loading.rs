//! Loading plugins: bad files are skipped with a reason, compiled code is
//! cached, `plugin inspect` works, and stamped samples are stored once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// 4 KiB of deterministic noise: not a WebAssembly module.
fn write_corrupt(path: &Path) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(path, bytes).unwrap();
}

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The GET /plugins entry whose "file" ends with `file_name`.
fn plugin_entry<'a>(plugins: &'a Value, file_name: &str) -> &'a Value {
    let plugins = plugins.as_array().unwrap_or_else(|| panic!("not an array: {plugins}"));
    let found = plugins
        .iter()
        .find(|p| p["file"].as_str().is_some_and(|f| f.ends_with(file_name)));
    found.unwrap_or_else(|| panic!("{file_name} missing from GET /plugins: {plugins:?}"))
}

/// Every file under `dir`, recursively, with its modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            let modified = fs::metadata(&path).unwrap().modified().unwrap();
            files.insert(path, modified);
        }
    }
    files
}

#[test]
fn bad_plugin_files_are_skipped_with_a_reason() {
    let dir = TestDir::new(&[system_wasm(), fixture("wrongworld"), fixture("badinit")]);
    write_corrupt(&dir.plugins_dir().join("corrupt.wasm"));
    dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let mut logger = dir.start();

    let plugins = logger.api.get("/plugins");
    assert_eq!(plugins.status, 200, "{}", plugins.text);
    let plugins = plugins.json();
    assert_eq!(plugins.as_array().unwrap().len(), 4, "{plugins}");

    let system = plugin_entry(&plugins, "system.wasm");
    assert_eq!(system["name"], "system", "{system}");
    assert_eq!(system["error"], json!(null), "{system}");
    assert!(system["version"].as_str().is_some_and(|v| !v.is_empty()), "{system}");
    assert_eq!(system["sha256"], sha256_hex(&system_wasm()), "{system}");
    let keys = system["keys"].as_array().unwrap();
    let loadavg1 = keys
        .iter()
        .find(|k| k["name"] == "system.loadavg1")
        .unwrap_or_else(|| panic!("{system}"));
    for field in ["description", "arg", "unit"] {
        assert!(loadavg1.get(field).is_some(), "key lacks {field:?}: {loadavg1}");
    }

    for (file, reason, kind) in [
        ("corrupt.wasm", "not a valid WebAssembly component", "invalid"),
        ("wrongworld.wasm", "not a datalogger plugin", "not_collector"),
        ("badinit.wasm", "describe() failed", "describe"),
    ] {
        let entry = plugin_entry(&plugins, file);
        assert_eq!(entry["name"], json!(null), "{entry}");
        assert_eq!(entry["error_kind"], json!(kind), "{entry}");
        assert!(
            entry["failed_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "no failure time: {entry}"
        );
        assert!(
            entry["error"].as_str().is_some_and(|e| e.contains(reason)),
            "reason is not {reason:?}: {entry}"
        );
        assert!(
            logger.stderr().contains(file),
            "stderr does not mention {file}:\n{}",
            logger.stderr()
        );
    }

    // The good plugin works despite its neighbours.
    let db = dir.db_path();
    logger.wait_until("samples of load1", SLOW, |_| {
        (!store_rows(&db, "load1").is_empty()).then_some(())
    });
    drop(logger);

    let check = dir.check();
    assert!(
        !check.status.success(),
        "check passed despite bad plugins:\n{}",
        check.all()
    );
    for file in ["corrupt.wasm", "wrongworld.wasm", "badinit.wasm"] {
        assert!(
            check.all().contains(file),
            "check does not list {file}:\n{}",
            check.all()
        );
    }
}

#[test]
fn compiled_code_is_cached() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    dir.write_config(json!({}));
    drop(dir.start());
    let cached = snapshot(&dir.cache_dir());
    assert!(
        !cached.is_empty(),
        "nothing in {} after the first start",
        dir.cache_dir().display()
    );

    // Unchanged plugin files: nothing is compiled or written again.
    drop(dir.start());
    assert_eq!(snapshot(&dir.cache_dir()), cached, "the second start rewrote the cache");
}

#[test]
fn plugin_inspect_shows_keys_and_imports() {
    let dir = TestDir::new(&[system_wasm()]);
    let wasm = dir.plugins_dir().join("system.wasm");
    let out = dir.cli(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "inspect failed:\n{}", out.all());
    for expected in ["system", "system.loadavg1", "system.load", "datalogger:plugin/host"] {
        assert!(
            out.stdout.contains(expected),
            "inspect output lacks {expected:?}:\n{}",
            out.stdout
        );
    }

    let corrupt = dir.path().join("corrupt.wasm");
    write_corrupt(&corrupt);
    let out = dir.cli(&["plugin", "inspect", corrupt.to_str().unwrap()]);
    assert!(!out.status.success(), "inspect accepted noise:\n{}", out.all());
}

#[test]
fn stamped_samples_are_stored_once() {
    let dir = TestDir::new(&[fixture("misbehave")]);
    dir.write_config(json!({
        // The fixture's timestamps are from 2023: keep them past any retention.
        "store": {"path": dir.db_path(), "retention_days": 36500},
        "items": [{"name": "stamped", "key": "misbehave.stamped", "interval": 1}],
    }));
    let mut logger = dir.start();
    logger.wait_until("3 polls of stamped", SLOW, |api| {
        let item = api.try_get("/items/stamped")?.json();
        (item["stats"]["polls"].as_u64()? >= 3).then_some(())
    });
    // Give the last poll's writes time to land before counting.
    std::thread::sleep(Duration::from_secs(1));

    let rows = store_rows(&dir.db_path(), "stamped");
    let stamps: Vec<i64> = rows.iter().map(|r| r.ts_ns).collect();
    assert_eq!(
        stamps,
        [1_700_000_000_000_000_000, 1_700_000_001_000_000_000],
        "rows: {rows:?}"
    );
    assert!(rows.iter().all(|r| r.measurement == "stamped"), "rows: {rows:?}");
}

/// With a cold cache, a big component (the 18 MB Python example) compiles in
/// the background: the API is up and the other plugins' items sample while
/// it compiles, and its own items start once it is loaded.
#[test]
fn big_plugins_compile_in_the_background_at_startup() {
    let dir = TestDir::new(&[system_wasm(), example_wasm("httpjson", "python")]);
    dir.write_config(json!({
        "plugins": {"httpjson": {"http": ["127.0.0.1"]}},
        "items": [
            {"name": "l1", "key": "system.loadavg1", "interval": 1},
            {"name": "doc", "key": "httpjson.value", "arg": format!("http://127.0.0.1:{}/#/x", free_port()), "interval": 1},
        ],
    }));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let mut logger = Logger::start_with(&args, dir.path(), dir.port, &[], "run", false);

    // Up at once (before any plugin is loaded), and says what it is still
    // compiling: httpjson.wasm, and system.wasm until it is loaded.
    let health = logger.api.get("/health").json();
    let compiling = health["plugins_compiling"].as_array().unwrap();
    assert!(
        compiling.iter().any(|f| f.as_str().unwrap().ends_with("httpjson.wasm")),
        "{health}"
    );
    let plugins = logger.api.get("/plugins").json();
    assert!(
        plugins.as_array().unwrap().iter().all(|p| p["name"] != "httpjson"),
        "loaded before the API was up: {plugins}"
    );
    let doc = logger.api.get("/items/doc").json();
    if let Some(error) = doc["last_error"].as_str() {
        assert!(error.contains("still compiling"), "{doc}");
    }

    // Then it is loaded, and its item polls (the server behind it is absent,
    // so the poll ends in an error from the plugin, not from the host).
    logger.wait_until("httpjson loaded", SLOW, |api| {
        let h = api.try_get("/health")?.json();
        (h["plugins_compiling"].as_array()?.is_empty()).then_some(())
    });
    let doc = logger.wait_until("a poll of doc by the plugin", SLOW, |api| {
        let item = api.try_get("/items/doc")?.json();
        let error = item["last_error"].as_str()?.to_owned();
        (!error.contains("no loaded plugin")).then_some(error)
    });
    assert!(doc.contains("refused") || doc.contains("unavailable"), "{doc}");
    // The system plugin's item sampled meanwhile: its first sample is older
    // than the moment httpjson was loaded.
    let plugins = logger.api.get("/plugins").json();
    let loaded_at = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "httpjson")
        .map(|p| rfc3339_ns(&p["loaded_at"]))
        .unwrap();
    let first = store_rows(&dir.db_path(), "l1")
        .first()
        .map(|r| r.ts_ns)
        .expect("no l1 sample");
    assert!(first < loaded_at, "l1 did not sample before httpjson was loaded");
}

/// A plugin built against a later `0.1.x` of the WIT (here `@0.1.99`, nothing
/// else changed) loads: wasmtime matches its imports and its `sampling`
/// export to this host's `0.1.0` by semver.
#[test]
fn plugin_built_against_a_later_minor_wit_loads() {
    let dir = TestDir::new(&[fixture("nextminor_same")]);
    let wasm = dir.plugins_dir().join("nextminor_same.wasm");
    let out = dir.cli(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "inspect failed:\n{}", out.all());
    for expected in [
        "nextminor.x",
        "datalogger:plugin/host@0.1.99",
        "datalogger:plugin/types@0.1.99",
    ] {
        assert!(
            out.stdout.contains(expected),
            "inspect output lacks {expected:?}:\n{}",
            out.stdout
        );
    }

    dir.write_config(json!({"items": [{"name": "x", "key": "nextminor.x", "interval": 1}]}));
    let mut logger = dir.start();
    let plugins = logger.api.get("/plugins").json();
    let entry = plugin_entry(&plugins, "nextminor_same.wasm");
    assert_eq!(entry["name"], "nextminor", "{entry}");
    assert_eq!(entry["error"], json!(null), "{entry}");

    let item = logger.wait_item_field("x", "last_value");
    assert!(item["last_value"].as_f64().is_some_and(|v| v > 0.0), "{item}");
    let rows = logger.wait_rows(&dir.db_path(), "x", 1);
    assert_eq!(rows[0].measurement, "nextminor", "rows: {rows:?}");
    drop(logger);

    let check = dir.check();
    assert!(check.status.success(), "check failed:\n{}", check.all());
}

/// A plugin built against a later `0.1.x` that imports a function this host
/// does not have (`host.uptime-ns`) is refused at load, and the error names
/// the missing import.
#[test]
fn plugin_importing_a_function_the_host_lacks_is_refused() {
    let dir = TestDir::new(&[system_wasm(), fixture("nextminor_extra")]);
    dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let mut logger = dir.start();

    let plugins = logger.api.get("/plugins").json();
    let entry = plugin_entry(&plugins, "nextminor_extra.wasm");
    assert_eq!(entry["name"], json!(null), "{entry}");
    assert_eq!(entry["error_kind"], json!("newer_wit"), "{entry}");
    let error = entry["error"].as_str().unwrap_or_else(|| panic!("no error: {entry}"));
    for expected in ["datalogger:plugin/host@0.1.99", "uptime-ns"] {
        assert!(error.contains(expected), "error lacks {expected:?}: {entry}");
    }
    assert!(
        plugins.as_array().unwrap().iter().all(|p| p["name"] != "nextminor"),
        "{plugins}"
    );
    // The other plugin is unaffected.
    logger.wait_item_field("load1", "last_value");
    drop(logger);

    let check = dir.check();
    assert!(
        !check.status.success(),
        "check passed despite the refused plugin:\n{}",
        check.all()
    );
    for expected in ["nextminor_extra.wasm", "uptime-ns"] {
        assert!(
            check.all().contains(expected),
            "check output lacks {expected:?}:\n{}",
            check.all()
        );
    }
}

/// A file whose name does not start with the plugin name it claims is
/// refused, whatever order the files load in: `aaa-fakesys.wasm` (the
/// `impostor` fixture, claiming `system` and serving 99.0) sorts before
/// `system.wasm` and used to win the name. The refusal is in `GET /plugins`
/// and logged once, not on every rescan.
#[test]
fn a_file_cannot_take_over_another_plugins_name() {
    let dir = TestDir::new(&[system_wasm()]);
    fs::copy(fixture("impostor"), dir.plugins_dir().join("aaa-fakesys.wasm")).unwrap();
    // Named after the plugin, but not exactly: system.wasm still takes precedence.
    fs::copy(fixture("impostor"), dir.plugins_dir().join("system-evil.wasm")).unwrap();
    dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let mut logger = dir.start();

    let plugins = logger.api.get("/plugins").json();
    let system = plugin_entry(&plugins, "/system.wasm");
    assert_eq!(system["name"], "system", "{plugins:#}");
    assert_eq!(system["sha256"], sha256_hex(&system_wasm()), "{system}");
    let fake = plugin_entry(&plugins, "aaa-fakesys.wasm");
    assert_eq!(fake["name"], json!(null), "{fake}");
    assert_eq!(fake["error_kind"], "file_name", "{fake}");
    let error = fake["error"].as_str().unwrap();
    for expected in [
        "\"system\"",
        "must start with its plugin's name",
        "system.wasm",
        "rename",
    ] {
        assert!(error.contains(expected), "error lacks {expected:?}: {error}");
    }
    let evil = plugin_entry(&plugins, "system-evil.wasm");
    assert_eq!(evil["error_kind"], "name_taken", "{evil}");
    assert!(evil["error"].as_str().unwrap().contains("takes precedence"), "{evil}");
    assert_eq!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "system")
            .count(),
        1,
        "{plugins:#}"
    );

    // The real plugin serves the item: no made-up 99.0.
    let rows = logger.wait_rows(&dir.db_path(), "load1", 2);
    for row in &rows {
        assert_ne!(row.fields["load1"], json!(99.0), "served by the impostor: {row:?}");
    }

    // Rescans look at the files again but log their refusal only once.
    for _ in 0..3 {
        assert_eq!(logger.api.send("POST", "/plugins/reload", Some("")).status, 200);
    }
    let stderr = logger.stderr();
    for file in ["aaa-fakesys.wasm", "system-evil.wasm"] {
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(file) && l.contains("ERROR"))
            .collect();
        assert_eq!(errors.len(), 1, "{file}: not one ERROR:\n{stderr}");
    }
}

/// Files whose `describe()` loops hold up neither the API nor the other
/// plugins' items: files load concurrently in the background, `describe()` has
/// a deadline of its own, and an item waits only for the files that may
/// provide its plugin. (A long describe deadline makes "while they are still
/// loading" certain, not a matter of timing.)
#[test]
fn describe_loops_hold_up_nothing() {
    let dir = TestDir::new(&[system_wasm()]);
    for i in 1..=3 {
        fs::copy(
            fixture("slowdescribe"),
            dir.plugins_dir().join(format!("slowdescribe-{i}.wasm")),
        )
        .unwrap();
    }
    dir.write_config(json!({
        "sandbox": {"describe_timeout_ms": 4000},
        "items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}],
    }));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let mut logger = Logger::start_with(&args, dir.path(), dir.port, &[], "run", false);

    // load1 samples while the three files are still being described.
    logger.wait_rows(&dir.db_path(), "load1", 1);
    let health = logger.api.get("/health").json();
    let compiling: Vec<&str> = health["plugins_compiling"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for i in 1..=3 {
        let file = format!("slowdescribe-{i}.wasm");
        assert!(
            compiling.iter().any(|f| f.ends_with(&file)),
            "{file} not loading: {health}"
        );
    }
    assert!(!compiling.iter().any(|f| f.ends_with("system.wasm")), "{health}");
    // It waited for system.wasm rather than failing while it loaded.
    let load1 = logger.item("load1");
    assert_eq!(load1["stats"]["errors"], 0, "{load1}");

    // Then each is given up on at its deadline.
    logger.wait_until("the slow files to be given up on", SLOW, |api| {
        let h = api.try_get("/health")?.json();
        h["plugins_compiling"].as_array()?.is_empty().then_some(())
    });
    let plugins = logger.api.get("/plugins").json();
    for i in 1..=3 {
        let entry = plugin_entry(&plugins, &format!("slowdescribe-{i}.wasm"));
        assert_eq!(entry["error_kind"], "describe", "{entry}");
        let error = entry["error"].as_str().unwrap();
        assert!(error.contains("deadline of 4000 ms"), "{error}");
    }
}

/// `plugins_compiling` also lists a file compiling after a hot reload (the
/// 18 MB Python example takes seconds), not only at start-up.
#[test]
fn plugins_compiling_lists_a_hot_reload() {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let mut logger = dir.start();
    assert_eq!(logger.api.get("/health").json()["plugins_compiling"], json!([]));

    let tmp = dir.path().join("httpjson.wasm.tmp");
    fs::copy(example_wasm("httpjson", "python"), &tmp).unwrap();
    fs::rename(&tmp, dir.plugins_dir().join("httpjson.wasm")).unwrap();
    logger.wait_until("httpjson.wasm in plugins_compiling", SLOW, |api| {
        let h = api.try_get("/health")?.json();
        let compiling = h["plugins_compiling"].as_array()?.clone();
        compiling
            .iter()
            .any(|f| f.as_str().is_some_and(|f| f.ends_with("httpjson.wasm")))
            .then_some(())
    });
    let plugins = logger.api.get("/plugins").json();
    assert!(
        plugins.as_array().unwrap().iter().all(|p| p["name"] != "httpjson"),
        "listed as compiling but already loaded: {plugins}"
    );
    logger.wait_until("httpjson loaded and nothing compiling", SLOW, |api| {
        let h = api.try_get("/health")?.json();
        let plugins = api.try_get("/plugins")?.json();
        let loaded = plugins.as_array()?.iter().any(|p| p["name"] == "httpjson");
        (loaded && h["plugins_compiling"].as_array()?.is_empty()).then_some(())
    });
}
