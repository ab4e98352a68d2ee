//! The sandbox: misbehaving plugin calls are contained, and plugins get no
//! authority beyond their grants.

use crate::common::http_fake::{HttpFake, Response};
use crate::common::*;
use serde_json::{json, Value};

fn item(name: &str, key: &str, arg: Option<&str>) -> Value {
    json!({"name": name, "key": key, "interval": 1, "arg": arg})
}

/// last_error of item `name` as lowercase text, waiting until it is set.
fn wait_error(logger: &mut Logger, name: &str) -> String {
    let item = logger.wait_item_field(name, "last_error");
    let error = item["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: last_error is not a string: {item}"));
    assert!(!error.is_empty(), "{name}: empty last_error");
    error.to_lowercase()
}

#[test]
fn misbehaving_calls_are_contained() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    dir.write_config(json!({
        "sandbox": {"memory_mib": 32, "call_timeout_ms": 1000, "max_result_bytes": 1048576},
        "items": [
            item("load1", "system.loadavg1", None),
            item("ok", "misbehave.ok", None),
            item("trap", "misbehave.trap", None),
            item("loop", "misbehave.loop", None),
            item("hog", "misbehave.hog", None),
            item("big", "misbehave.big", None),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();

    assert!(
        wait_error(&mut logger, "loop").contains("timeout"),
        "loop: {}",
        logger.item("loop")["last_error"]
    );
    assert!(
        wait_error(&mut logger, "hog").contains("memory"),
        "hog: {}",
        logger.item("hog")["last_error"]
    );
    assert!(wait_error(&mut logger, "trap").starts_with("trap:"));
    assert!(wait_error(&mut logger, "big").starts_with("result too large"));
    for (name, kind) in [
        ("loop", "deadline"),
        ("hog", "out_of_memory"),
        ("trap", "trap"),
        ("big", "result_too_large"),
    ] {
        let item = logger.item(name);
        assert_eq!(item["last_error_kind"], json!(kind), "{name}: {item}");
    }
    assert_eq!(logger.item("ok")["last_error_kind"], json!(null));

    // After the traps (the trap item fails every second), the same plugin still
    // serves "ok", and neither it nor the system plugin is slowed down by the
    // loop that runs into its deadline every tick.
    let ok_before = store_rows(&db, "ok").len();
    logger.wait_until("6 more samples of ok and load1", SLOW, |api| {
        let trap = api.try_get("/items/trap")?.json();
        let enough = store_rows(&db, "ok").len() >= ok_before + 6 && store_rows(&db, "load1").len() >= 6;
        (enough && trap["stats"]["errors"].as_u64()? >= 3).then_some(())
    });
    for name in ["ok", "load1"] {
        let rows = store_rows(&db, name);
        assert_on_ticks(&rows[rows.len() - 6..], 1, name);
    }
    for row in store_rows(&db, "ok") {
        assert_eq!(row.fields["value"], 42.0, "ok: {row:?}");
    }
    assert_eq!(logger.item("ok")["last_value"], 42.0);
    for name in ["ok", "load1"] {
        let item = logger.item(name);
        assert_eq!(
            item["stats"]["skipped_ticks"], 0,
            "{name} was delayed by its neighbours: {item}"
        );
        assert_eq!(item["stats"]["errors"], 0, "{name}: {item}");
    }
    assert_eq!(logger.item("ok")["last_error"], json!(null));

    for name in ["trap", "loop", "hog", "big"] {
        assert!(store_rows(&db, name).is_empty(), "{name}: a failed call stored samples");
        let item = logger.item(name);
        assert!(
            item["stats"]["errors"].as_u64().unwrap() >= 1,
            "{name}: no errors counted: {item}"
        );
    }
    assert!(logger.is_running(), "the host died");
    assert_eq!(logger.api.get("/health").status, 200);
}

#[test]
fn plugins_get_only_what_is_granted() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    // A listener the plugin would reach if it had network access.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let reachable = listener.local_addr().unwrap().to_string();
    dir.write_config(json!({
        "plugins": {"misbehave": {"files": ["/proc/uptime"]}},
        "items": [
            item("ambient", "misbehave.ambient", Some(&reachable)),
            item("granted", "misbehave.readfile", Some("/proc/uptime")),
            // Granted to the system plugin by default, but not to misbehave.
            item("denied", "misbehave.readfile", Some("/proc/loadavg")),
            // Loopback only: the request must be refused before it is sent.
            item("http", "misbehave.httpcall", Some(&format!("http://127.0.0.1:{}/", free_port()))),
        ],
    }));
    // Give the host an environment a leaky sandbox would expose.
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let mut logger = Logger::start(&args, dir.path(), dir.port, &[("E2E_SECRET", "leak")], "run");

    let ambient = logger.wait_item_field("ambient", "last_sample");
    let fields = &ambient["last_sample"]["fields"];
    assert_eq!(fields["fs_ok"], false, "ambient file access: {ambient}");
    assert_eq!(fields["env_count"], 0, "ambient environment: {ambient}");
    assert_eq!(fields["tcp_ok"], false, "ambient network: {ambient}");

    let granted = logger.wait_item_field("granted", "last_value");
    assert!(
        granted["last_value"].as_f64().unwrap() > 0.0,
        "granted file read as empty: {granted}"
    );
    assert_eq!(granted["last_error"], json!(null));

    for name in ["denied", "http"] {
        let error = wait_error(&mut logger, name);
        assert!(error.contains("not granted"), "{name}: {error}");
        assert!(
            store_rows(&dir.db_path(), name).is_empty(),
            "{name}: a refused call stored samples"
        );
    }
}

/// A loopback HTTP server that answers every request with 200 after `delay`.
fn slow_server(delay: std::time::Duration) -> HttpFake {
    HttpFake::start(move |_| Response::bare(200, "ok").with_delay(delay))
}

#[test]
fn waiting_on_a_capability_does_not_count_as_cpu_but_the_wall_budget_holds() {
    let slow = slow_server(std::time::Duration::from_millis(600));
    let very_slow = slow_server(std::time::Duration::from_secs(5));
    let dir = TestDir::new(&[fixture("misbehave")]);
    dir.write_config(json!({
        // 100 ms of CPU, 2 s in all.
        "sandbox": {"call_timeout_ms": 100, "call_wall_timeout_ms": 2000},
        "plugins": {"misbehave": {"http": ["127.0.0.1"]}},
        "items": [
            {"name": "slow", "key": "misbehave.httpcall", "arg": slow.url("/"), "interval": 2},
            {"name": "too_slow", "key": "misbehave.httpcall", "arg": very_slow.url("/"), "interval": 3},
        ],
    }));
    let mut logger = dir.start();
    // 600 ms of waiting is far past the 100 ms CPU deadline, yet the call succeeds.
    let slow = logger.wait_item_field("slow", "last_value");
    assert_eq!(slow["last_value"], 200, "{slow}");
    assert_eq!(slow["last_error"], json!(null), "{slow}");
    // The 5 s answer is cut off by what is left of the 2 s wall budget.
    let error = wait_error(&mut logger, "too_slow");
    assert!(
        error.contains("timeout") && error.contains("no complete answer"),
        "{error}"
    );
    assert!(store_rows(&dir.db_path(), "too_slow").is_empty());
}

/// Samples InfluxDB could not store as given are refused at sample time with
/// an `invalid result` error, instead of being stored and then rejected (or
/// silently dropped) by the output: reserved tag and field names, timestamps
/// outside InfluxDB's range, and timestamps the store's retention would drop.
#[test]
fn unstorable_names_and_timestamps_are_refused() {
    let dir = TestDir::new(&[fixture("misbehave")]);
    let recent = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 3600)
        * NS;
    let cases = [
        ("tag_item", "misbehave.tagged", "item".to_string(), "tag \"item\""),
        ("tag_time", "misbehave.tagged", "time".into(), "tag \"time\""),
        (
            "tag_measurement",
            "misbehave.tagged",
            "_measurement".into(),
            "tag \"_measurement\"",
        ),
        ("field_time", "misbehave.named", "time".into(), "field \"time\""),
        ("field_field", "misbehave.named", "_field".into(), "field \"_field\""),
        // Line protocol cannot write a name ending in a backslash (issue 11, item 2).
        (
            "tag_backslash",
            "misbehave.tagged",
            "x\\".into(),
            "ends with a backslash",
        ),
        (
            "field_backslash",
            "misbehave.named",
            "f\\".into(),
            "ends with a backslash",
        ),
        ("at_max", "misbehave.at", i64::MAX.to_string(), "outside the range"),
        ("at_min", "misbehave.at", i64::MIN.to_string(), "outside the range"),
        // 1938-01-01: in InfluxDB's range, but older than the 30 days the store keeps.
        (
            "at_1938",
            "misbehave.at",
            "-1009843200000000000".into(),
            "retention_days",
        ),
    ];
    let mut items: Vec<Value> = cases
        .iter()
        .map(|(name, key, arg, _)| item(name, key, Some(arg)))
        .collect();
    items.push(item("at_recent", "misbehave.at", Some(&recent.to_string())));
    dir.write_config(json!({"items": items}));
    let mut logger = dir.start();

    for (name, _, _, expected) in cases {
        let error = logger.wait_error(name);
        assert!(error.starts_with("invalid result: plugin misbehave"), "{name}: {error}");
        assert!(error.contains(expected), "{name}: error lacks {expected:?}: {error}");
        let item = logger.item(name);
        assert_eq!(item["last_error_kind"], "invalid_result", "{name}: {item}");
        assert_eq!(item["last_value"], json!(null), "{name}: {item}");
        assert!(store_rows(&dir.db_path(), name).is_empty(), "{name}: stored");
    }
    let error = logger.item("at_max")["last_error"].as_str().unwrap().to_owned();
    assert!(error.contains("2262-04-11T23:47:16.854775806Z"), "{error}");
    // A timestamp of its own within the range and retention is stored as given.
    let rows = logger.wait_rows(&dir.db_path(), "at_recent", 1);
    assert_eq!(rows[0].ts_ns, recent, "{rows:?}");
    assert_eq!(logger.item("at_recent")["last_error"], json!(null));
}

/// A plugin that logs 100 lines (the burst) on every call is rate-limited over
/// time, per plugin: its lines beyond the steady rate are dropped and counted
/// in `GET /plugins`, with one warning that lines are being dropped.
#[test]
fn a_plugin_that_logs_on_every_call_is_rate_limited() {
    let dir = TestDir::new(&[fixture("misbehave")]);
    dir.write_config(json!({"items": [item("chatty", "misbehave.chatty", None)]}));
    let started = std::time::Instant::now();
    let mut logger = dir.start();
    let db = dir.db_path();
    logger.wait_rows(&db, "chatty", 6);
    let plugins = logger.api.get("/plugins").json();
    let elapsed_s = started.elapsed().as_secs_f64();

    let entry = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "misbehave")
        .unwrap_or_else(|| panic!("{plugins}"));
    let dropped = entry["log_lines_dropped"].as_u64().unwrap_or_else(|| panic!("{entry}"));
    // Six calls logged 600 lines; the limit lets through 100 plus 5 a second.
    assert!(dropped >= 100, "only {dropped} dropped: {entry}");
    let stderr = logger.stderr();
    let written = stderr.lines().filter(|l| l.contains("misbehave.chatty: line")).count() as f64;
    assert!(
        written <= 100.0 + 5.0 * elapsed_s + 5.0,
        "{written} lines written in {elapsed_s:.1} s"
    );
    let warnings = stderr.lines().filter(|l| l.contains("dropping its lines")).count();
    assert_eq!(warnings, 1, "the drop warning is not logged once:\n{stderr}");
    assert_eq!(logger.item("chatty")["last_error"], json!(null));
}
