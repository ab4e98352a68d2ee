//! Config files: clear errors for bad ones, and the legacy rpdemo format.

use std::fs;

use crate::common::*;
use serde_json::json;

/// Runs both `check` and `run` on the dir's config; both must fail.
/// Returns their combined output.
fn both_fail(dir: &TestDir) -> String {
    let config = dir.config_path();
    let config = config.to_str().unwrap();
    let mut all = String::new();
    for command in ["check", "run"] {
        let out = dir.cli(&[command, "--config", config]);
        assert!(
            !out.status.success(),
            "`{command}` accepted a bad config:\n{}",
            out.all()
        );
        assert!(
            out.all().contains(config),
            "`{command}` does not name {config}:\n{}",
            out.all()
        );
        all += &out.all();
    }
    all
}

#[test]
fn a_valid_config_passes_check() {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let out = dir.check();
    assert!(out.status.success(), "check rejected a good config:\n{}", out.all());
}

#[test]
fn a_json_syntax_error_names_file_and_line() {
    let dir = TestDir::new(&[system_wasm()]);
    // Line 3 has a doubled comma.
    let text = "{\n  \"items\": [\n    {\"name\": \"x\",, \"key\": \"system.loadavg1\", \"interval\": 1}\n  ]\n}\n";
    fs::write(dir.config_path(), text).unwrap();
    let out = both_fail(&dir);
    assert!(out.contains("line 3"), "no \"line 3\" in:\n{out}");
    assert!(out.contains("column"), "no column in:\n{out}");
}

#[test]
fn bad_items_are_all_named() {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [
        {"name": "good", "key": "system.loadavg1", "interval": 1},
        {"name": "zero", "key": "system.loadavg1", "interval": 0},
        {"name": "fraction", "key": "system.loadavg5", "interval": 1.5},
    ]}));
    let out = both_fail(&dir);
    for name in ["zero", "fraction"] {
        assert!(
            out.contains(&format!("item \"{name}\"")),
            "item {name} not named in:\n{out}"
        );
    }
    assert!(out.contains("interval"), "the problem is not named in:\n{out}");
    assert!(
        !out.contains("item \"good\""),
        "the good item is reported as bad:\n{out}"
    );
}

/// An rpdemo-era file with default paths, all relative to the working dir.
/// The API's default listen address (127.0.0.1:5000) may be taken on a test
/// machine, so the test overrides it with the DATALOGGER_LISTEN variable.
#[test]
fn a_legacy_rpdemo_config_runs() {
    let dir = TestDir::new(&[]);
    let cwd = dir.path();
    fs::create_dir_all(cwd.join("plugins/dist")).unwrap();
    fs::copy(system_wasm(), cwd.join("plugins/dist/system.wasm")).unwrap();
    let legacy = json!({
        "database": "rpdemo",
        "polling_threads": 4,
        "items": [{"name": "l1", "key": "system.loadavg1", "arg": "", "interval": 1}],
    });
    fs::write(cwd.join("rpdemo.json"), legacy.to_string()).unwrap();

    let listen = format!("127.0.0.1:{}", dir.port);
    let args = ["run", "--config", "rpdemo.json"];
    let mut logger = Logger::start(&args, cwd, dir.port, &[("DATALOGGER_LISTEN", &listen)], "run");

    let item = logger.item("l1");
    assert_eq!(item["key"], "system.loadavg1");
    assert_eq!(item["interval"], 1);
    let item = logger.wait_item_field("l1", "last_value");
    assert!(item["last_value"].as_f64().is_some_and(|v| v >= 0.0), "{item}");
    assert_eq!(item["last_error"], json!(null));

    // Default store and cache under ./data; the system plugin got its default grants.
    let db = cwd.join("data/datalogger.db");
    logger.wait_until("rows for l1 in data/datalogger.db", SLOW, |_| {
        (!store_rows(&db, "l1").is_empty()).then_some(())
    });
    assert!(cwd.join("data/cache").is_dir(), "no data/cache");
    assert!(
        logger.stderr().contains("polling_threads"),
        "ignored legacy key not logged:\n{}",
        logger.stderr()
    );
    // rpdemo's clients follow the item's absolute URL.
    assert_eq!(item["url"], format!("http://{listen}/items/l1"));

    // Items changed over REST: the rewritten file still loads in rpdemo's
    // own loader, which reads database and items[].name/key/arg/interval.
    let api = logger.api.clone();
    let created = api.post(
        "/items/",
        &json!({"name": "l5", "key": "system.loadavg5", "interval": 2}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["url"], format!("http://{listen}/items/l5"));
    let changed = api.put("/items/l1", &json!({"interval": 3}));
    assert_eq!(changed.status, 200, "{}", changed.text);
    let added = api.post(
        "/items/",
        &json!({"name": "gone", "key": "system.loadavg15", "interval": 1}),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(api.delete("/items/gone").status, 200);
    let rpdemo_loader = r#"
import json, sys
with open(sys.argv[1]) as f:
    config = json.load(f)
database = config['database']
for item in config['items']:
    print(database, item['name'], item['key'], item['arg'], int(item['interval']))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", rpdemo_loader])
        .arg(cwd.join("rpdemo.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpdemo's loader fails on the rewritten file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rpdemo l1 system.loadavg1 None 3\nrpdemo l5 system.loadavg5 None 2\n"
    );
}

/// A REST change rewrites the config: a 0600 file (it may hold passwords)
/// stays 0600 and keeps its owner; a temporary file left by a logger killed
/// in the middle of a rewrite is removed at the next start.
#[test]
fn a_rewritten_config_keeps_its_mode_and_owner_and_stale_temps_go() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = TestDir::new(&[system_wasm()]);
    let config = dir.write_config(json!({"items": [{"name": "seed", "key": "system.loadavg1", "interval": 1}]}));
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
    // Owned by someone else (the tests run as root; others keep their own uid).
    let owner = (65534, 65534);
    let root = std::os::unix::fs::chown(&config, Some(owner.0), Some(owner.1)).is_ok();
    let before = fs::metadata(&config).unwrap();
    let stale = dir.path().join(".config.json.tmp-999999999");
    fs::write(&stale, "").unwrap();
    let unrelated = dir.path().join(".config.json.tmp-notapid");
    fs::write(&unrelated, "").unwrap();

    let logger = dir.start_in_process();
    assert!(!stale.exists(), "the stale temporary file was not removed at start-up");
    assert!(unrelated.exists(), "a file that is not ours was removed");

    let changed = json!({"name": "seed", "key": "system.loadavg1", "interval": 2});
    let resp = logger.api.put("/items/seed", &changed);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        dir.read_config()["items"][0]["interval"],
        2,
        "the change was not written"
    );
    let after = fs::metadata(&config).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o600, "the rewrite changed the config's mode");
    assert_eq!(
        (after.uid(), after.gid()),
        (before.uid(), before.gid()),
        "the rewrite changed the owner"
    );
    if root {
        assert_eq!((after.uid(), after.gid()), owner);
    }
}

#[test]
fn oversized_item_strings_are_refused_naming_file_place_and_limit() {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [
        {"name": "n".repeat(129), "key": "system.loadavg1", "interval": 1},
        {"name": "bigtag", "key": "system.loadavg1", "interval": 1, "tags": {"room": "v".repeat(257)}},
        {"name": "bigarg", "key": "system.loadavg1", "interval": 1, "arg": "a".repeat(1025)},
    ]}));
    let out = both_fail(&dir);
    let file = dir.config_path().display().to_string();
    assert!(out.contains(&file), "the file is not named in:\n{out}");
    for (place, limit) in [
        ("items[0]", "at most 128"),
        ("item \"bigtag\"", "at most 256"),
        ("item \"bigarg\"", "at most 1024"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(place))
            .unwrap_or_else(|| panic!("{place} not named in:\n{out}"));
        assert!(
            line.contains(limit) && line.contains("shorten it"),
            "{place}: no limit or fix in {line:?}"
        );
    }
    assert!(!out.contains(&"n".repeat(129)), "the oversized name is echoed:\n{out}");
}

/// Every config shipped in `config/` passes `check` as it is, run from a
/// checkout's layout (plugins in plugins/dist, data under ./data).
#[test]
fn every_shipped_config_passes_check() {
    let shipped: Vec<_> = fs::read_dir(repo_root().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert!(shipped.len() >= 3, "{shipped:?}");
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("plugins")).unwrap();
    fs::create_dir_all(dir.path().join("config")).unwrap();
    let dist = dir.path().join("plugins/dist");
    fs::create_dir_all(&dist).unwrap();
    for name in ["system", "net", "sensehat", "wemo", "isems"] {
        fs::copy(dist_wasm(name), dist.join(format!("{name}.wasm"))).unwrap();
    }
    for path in shipped {
        let target = dir.path().join("config").join(path.file_name().unwrap());
        fs::copy(&path, &target).unwrap();
        let out = run_cli(&["check", "--config", target.to_str().unwrap()], dir.path());
        assert!(out.status.success(), "{}: {}", path.display(), out.all());
        assert!(out.stdout.contains(": OK"), "{}", out.all());
    }
}
