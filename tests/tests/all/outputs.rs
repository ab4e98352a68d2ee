//! Outputs: samples forwarded from the store to real InfluxDB 1.6 and
//! VictoriaMetrics servers, each started by the test on loopback ports.
//! Every sample in the store must arrive exactly once, with its tags, field
//! types and timestamp, across server outages and logger restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::common::servers::{Influx, Victoria, VmSeries};
use crate::common::*;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

/// Bound for delivery after a server came back (the output's retry backoff
/// may have grown during the outage).
const DELIVERY: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------- helpers

fn item(name: &str, key: &str, tags: Value) -> Value {
    json!({"name": name, "key": key, "interval": 1, "tags": tags})
}

/// A v1 output to `url`, database "dl", flushing quickly.
fn influx_output(name: &str, url: &str) -> Value {
    json!({"name": name, "type": "influxdb", "url": url, "database": "dl", "flush_interval_ms": 300})
}

/// GET /outputs, entry `name`; `None` while the API does not answer.
fn try_output(api: &Api, name: &str) -> Option<Value> {
    let resp = api.try_get("/outputs")?;
    assert_eq!(resp.status, 200, "GET /outputs: {}", resp.text);
    let list = resp.json();
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("GET /outputs is not a list: {list}"));
    let found = list.iter().find(|o| o["name"] == name).cloned();
    Some(found.unwrap_or_else(|| panic!("no output {name:?} in GET /outputs: {}", resp.text)))
}

fn output(api: &Api, name: &str) -> Value {
    try_output(api, name).expect("GET /outputs: no response")
}

fn num(output: &Value, key: &str) -> i64 {
    output[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not an integer in {output}"))
}

fn open_store(db: &Path) -> Connection {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

fn inspector(db: &Path) -> datalogger::store::inspect::Inspector {
    datalogger::store::inspect::Inspector::open(db)
        .unwrap()
        .expect("the store exists")
}

/// The highest sequence number in the store (0 when empty).
fn max_seq(db: &Path) -> i64 {
    inspector(db).max_seq().unwrap()
}

/// An output's durable position as the store keeps it (0 when it has none).
fn stored_position(db: &Path, output: &str) -> i64 {
    inspector(db).position(output).unwrap()
}

#[derive(Debug)]
struct Rejected {
    output: String,
    first_seq: i64,
    last_seq: i64,
    status: i64,
    message: String,
    body: String,
}

fn rejected_batches(db: &Path) -> Vec<Rejected> {
    let conn = open_store(db);
    let mut stmt = conn
        .prepare("SELECT output, first_seq, last_seq, status, message, body FROM rejected_batches ORDER BY id")
        .unwrap();
    let rows = stmt.query_map([], |r| {
        Ok(Rejected {
            output: r.get(0)?,
            first_seq: r.get(1)?,
            last_seq: r.get(2)?,
            status: r.get(3)?,
            message: r.get(4)?,
            body: r.get(5)?,
        })
    });
    rows.unwrap().collect::<Result<_, _>>().unwrap()
}

/// Waits until every item in `items` has at least `n` rows in the store;
/// returns the rows by item (a consistent snapshot: read after the fact).
fn wait_rows(logger: &mut Logger, db: &Path, items: &[&str], n: usize) -> BTreeMap<String, Vec<Row>> {
    logger.wait_until(&format!("{n} stored samples of each of {items:?}"), SLOW, |_| {
        let rows: BTreeMap<String, Vec<Row>> = items.iter().map(|i| (i.to_string(), store_rows(db, i))).collect();
        rows.values().all(|r| r.len() >= n).then_some(rows)
    })
}

fn last_seq(rows: &BTreeMap<String, Vec<Row>>) -> i64 {
    rows.values().flatten().map(|r| r.seq).max().unwrap()
}

/// Waits until output `name` has acknowledged everything up to `seq`; returns its status.
fn wait_delivered(logger: &mut Logger, name: &str, seq: i64) -> Value {
    logger.wait_until(&format!("output {name} to deliver up to seq {seq}"), DELIVERY, |api| {
        let out = try_output(api, name)?;
        (num(&out, "position") >= seq).then_some(out)
    })
}

/// JSON values equal as data: numbers by value (InfluxDB answers 1.0 as 1).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

/// What InfluxDB must hold for a stored row in the default schema: the row's
/// tags (which include the item's), `item=<name>`, and its fields.
fn expected_point(item: &str, row: &Row) -> BTreeMap<String, Value> {
    let mut expected: BTreeMap<String, Value> = row.tags.as_object().unwrap().clone().into_iter().collect();
    expected.insert("item".into(), json!(item));
    for (k, v) in row.fields.as_object().unwrap() {
        expected.insert(k.clone(), v.clone());
    }
    expected
}

/// Asserts that InfluxDB database "dl" holds every one of `rows` (all of
/// `item`'s stored rows, oldest first) exactly once in measurement
/// `measurement`: same timestamp, tags and field values, nothing else up to
/// the last row's timestamp.
fn assert_in_influx(influx: &Influx, measurement: &str, item: &str, rows: &[Row]) {
    assert!(!rows.is_empty(), "{item}: no rows to compare");
    let last_ts = rows.last().unwrap().ts_ns;
    let points = influx.select(
        "dl",
        &format!("SELECT * FROM \"{measurement}\" WHERE \"item\" = '{item}' AND time <= {last_ts}"),
    );
    let stored: Vec<i64> = rows.iter().map(|r| r.ts_ns).collect();
    let got: Vec<i64> = points.iter().map(|p| p["time"].as_i64().unwrap()).collect();
    if got != stored {
        let missing: Vec<&i64> = stored.iter().filter(|t| !got.contains(t)).collect();
        let extra: Vec<&i64> = got.iter().filter(|t| !stored.contains(t)).collect();
        panic!(
            "{item}: InfluxDB has {} points up to {last_ts}, the store {} rows; missing from InfluxDB: {missing:?}; \
             not in the store: {extra:?}; all InfluxDB timestamps: {got:?}",
            got.len(),
            stored.len()
        );
    }
    for (row, point) in rows.iter().zip(&points) {
        let expected = expected_point(item, row);
        let actual: BTreeMap<&String, &Value> = point
            .iter()
            .filter(|(k, v)| !v.is_null() && *k != "time" && *k != "_measurement")
            .collect();
        let keys_expected: BTreeSet<&String> = expected.keys().collect();
        let keys_actual: BTreeSet<&String> = actual.keys().copied().collect();
        assert_eq!(
            keys_actual, keys_expected,
            "{item}: the point at {} has other tags/fields than the stored row {row:?}: {point:?}",
            row.ts_ns
        );
        for (key, value) in &expected {
            assert!(
                same_value(actual[key], value),
                "{item}: {key} at {} is {} in InfluxDB but {value} in the store",
                row.ts_ns,
                actual[key]
            );
        }
    }
}

/// Asserts the common shape of a GET /outputs entry.
fn assert_output_shape(out: &Value, name: &str, kind: &str, url: &str, schema: &str) {
    for key in [
        "name",
        "type",
        "url",
        "schema",
        "state",
        "last_error",
        "last_rejection",
        "backlog_points",
        "backlog_age_s",
        "points_written",
        "batches_rejected",
        "points_dropped",
        "position",
    ] {
        assert!(out.get(key).is_some(), "GET /outputs entry lacks {key:?}: {out}");
    }
    assert_eq!(out["name"], name, "{out}");
    assert_eq!(out["type"], kind, "{out}");
    assert_eq!(out["url"], url, "{out}");
    assert_eq!(out["schema"], schema, "{out}");
}

/// A value that is surely nowhere else in the logs.
fn distinctive(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:09}-Zq7", std::process::id())
}

// ---------------------------------------------------------------- InfluxDB 1.x

#[test]
fn influx_v1_receives_every_sample() {
    let dir = TestDir::new(&[system_wasm()]);
    let influx = Influx::launch(dir.path());
    assert!(
        !influx.databases().contains(&"dl".to_string()),
        "database dl exists before the logger ran"
    );
    dir.write_config(json!({
        "items": [
            item("l1", "system.loadavg1", json!({"room": "lab"})),
            item("load", "system.load", json!({"room": "lab"})),
        ],
        "outputs": [influx_output("influx", &influx.url())],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1", "load"], 5);
    let status = wait_delivered(&mut logger, "influx", last_seq(&rows));

    assert!(
        influx.databases().contains(&"dl".to_string()),
        "the logger did not create database dl: {:?}",
        influx.databases()
    );
    assert_output_shape(&status, "influx", "influxdb", &influx.url(), "default");
    assert_eq!(status["database"], "dl", "{status}");
    assert_eq!(status["state"], "connected", "{status}");
    assert_eq!(status["last_error"], Value::Null, "{status}");
    assert_eq!(num(&status, "batches_rejected"), 0, "{status}");
    assert_eq!(num(&status, "points_dropped"), 0, "{status}");
    let total = rows.values().map(Vec::len).sum::<usize>() as i64;
    assert!(
        num(&status, "points_written") >= total,
        "points_written is below the {total} samples delivered: {status}"
    );

    for (name, rows) in &rows {
        for row in rows {
            assert_eq!(row.tags["room"], "lab", "{row:?}");
        }
        assert_in_influx(&influx, "system", name, rows);
    }
    assert_eq!(
        influx.first_column("dl", "SHOW MEASUREMENTS"),
        vec!["system".to_string()]
    );
    // Field types: floats stay floats, the integer n_cpus is an integer.
    let load_row = &rows["load"][0];
    let stored_types = &load_row.types;
    assert_eq!(stored_types.get("n_cpus"), Some(&'i'), "{stored_types:?}");
    assert_eq!(stored_types.get("load1"), Some(&'f'), "{stored_types:?}");
    assert_eq!(
        influx.field_types("dl", "system"),
        BTreeMap::from([
            ("load1".to_string(), "float".to_string()),
            ("load5".to_string(), "float".to_string()),
            ("load15".to_string(), "float".to_string()),
            ("n_cpus".to_string(), "integer".to_string()),
        ])
    );
    assert_eq!(
        influx.first_column("dl", "SHOW TAG KEYS FROM \"system\""),
        vec!["item".to_string(), "room".to_string()]
    );

    // Between ticks the backlog drains to nothing.
    logger.wait_until("backlog_points to reach 0", SLOW, |api| {
        let out = try_output(api, "influx")?;
        (out["backlog_points"] == 0).then_some(())
    });
}

#[test]
fn oversized_batches_are_split() {
    // InfluxDB answers 413 to bodies over max-body-size; the logger must halve
    // its batches until they fit, and still deliver every sample exactly once.
    let dir = TestDir::new(&[system_wasm()]);
    let influx = Influx::launch_with(dir.path(), "max-body-size = 400");
    let mut out = influx_output("small", &influx.url());
    out["gzip"] = json!(false);
    out["flush_interval_ms"] = json!(3000);
    dir.write_config(json!({
        // Enough items that a 3 s flush is well over 400 bytes whatever the
        // load average's digits (two items on an idle machine stayed under it).
        "items": [
            item("l1", "system.loadavg1", json!({})),
            item("l5", "system.loadavg5", json!({})),
            item("l15", "system.loadavg15", json!({})),
            item("load", "system.load", json!({"room": "lab"})),
        ],
        "outputs": [out],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1", "l5", "l15", "load"], 6);
    wait_delivered(&mut logger, "small", last_seq(&rows));
    assert!(
        logger.stderr().contains("too large"),
        "no batch was ever split (the test did not exercise 413):\n{}",
        logger.stderr()
    );
    for name in ["l1", "l5", "l15", "load"] {
        assert_in_influx(&influx, "system", name, &rows[name]);
    }
}

#[test]
fn rpdemo_schema() {
    let dir = TestDir::new(&[system_wasm()]);
    let influx = Influx::launch(dir.path());
    let mut out = influx_output("legacy", &influx.url());
    out["schema"] = json!("rpdemo");
    dir.write_config(json!({
        "items": [
            item("l1", "system.loadavg1", json!({"room": "lab"})),
            item("load", "system.load", json!({})),
        ],
        "outputs": [out],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1", "load"], 5);
    let status = wait_delivered(&mut logger, "legacy", last_seq(&rows));
    assert_output_shape(&status, "legacy", "influxdb", &influx.url(), "rpdemo");
    assert_eq!(status["state"], "connected", "{status}");

    assert_eq!(
        influx.first_column("dl", "SHOW MEASUREMENTS"),
        vec!["rpdemo".to_string()]
    );
    assert_eq!(
        influx.first_column("dl", "SHOW TAG KEYS"),
        Vec::<String>::new(),
        "the rpdemo schema has no tags"
    );
    assert_eq!(
        influx.field_types("dl", "rpdemo"),
        BTreeMap::from([
            ("l1".to_string(), "float".to_string()),
            ("load".to_string(), "float".to_string()),
        ])
    );
    // Both items' samples of one tick share a point: field key = item name,
    // value = the primary (first) field.
    let bound = rows.values().map(|r| r.last().unwrap().ts_ns).min().unwrap();
    let points = influx.select("dl", &format!("SELECT * FROM rpdemo WHERE time <= {bound}"));
    let by_time: BTreeMap<i64, &BTreeMap<String, Value>> =
        points.iter().map(|p| (p["time"].as_i64().unwrap(), p)).collect();
    assert_eq!(by_time.len(), points.len(), "two points at one time: {points:?}");
    for (name, primary) in [("l1", "load1"), ("load", "load1")] {
        let stored: Vec<&Row> = rows[name].iter().filter(|r| r.ts_ns <= bound).collect();
        for row in &stored {
            let point = by_time
                .get(&row.ts_ns)
                .unwrap_or_else(|| panic!("{name}: no rpdemo point at {}: {points:?}", row.ts_ns));
            assert!(
                same_value(&point[name], &row.fields[primary]),
                "{name} at {}: InfluxDB {} but the store {}",
                row.ts_ns,
                point[name],
                row.fields[primary]
            );
        }
        let in_influx = points.iter().filter(|p| !p[name].is_null()).count();
        assert_eq!(
            in_influx,
            stored.len(),
            "{name}: points in InfluxDB vs rows in the store"
        );
    }
}

#[test]
fn type_conflict_is_set_aside() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    let influx = Influx::launch(dir.path());
    influx.admin("CREATE DATABASE dl");
    // "value" is a string in this measurement. InfluxDB 1.x keeps field types
    // per shard (a week), so the conflicting point must be recent: one now and
    // one an hour ahead in case a shard boundary falls in the next minutes.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let lines = format!(
        "misbehave,item=ok value=\"text\" {now}\nmisbehave,item=ok value=\"text\" {}\n",
        now + 3600 * NS
    );
    let resp = influx.write("dl", &lines);
    assert_eq!(resp.status, 204, "writing the string point: {}", resp.text);

    let mut out = influx_output("influx", &influx.url());
    out["batch_size"] = json!(1);
    dir.write_config(json!({
        "items": [item("ok", "misbehave.ok", json!({}))],
        "outputs": [out],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();

    // Phase 1: only conflicting points. Each is refused, set aside, counted.
    let status = logger.wait_until("2 rejected batches", SLOW, |api| {
        let out = try_output(api, "influx")?;
        (num(&out, "batches_rejected") >= 2).then_some(out)
    });
    let error = status["last_rejection"]
        .as_str()
        .unwrap_or_else(|| panic!("no last_rejection after a rejection: {status}"));
    assert!(error.contains("field type conflict"), "last_rejection: {error}");
    assert_ne!(
        status["state"], "failing",
        "a rejected batch is not an outage: {status}"
    );
    assert!(
        logger.stderr().contains("field type conflict"),
        "the rejection is not logged with InfluxDB's message:\n{}",
        logger.stderr()
    );

    // Phase 2: a good item joins; its samples land although "ok" keeps failing.
    let created = logger.api.post("/items/", &item("l1", "system.loadavg1", json!({})));
    assert_eq!(created.status, 201, "{}", created.text);
    let rows = wait_rows(&mut logger, &db, &["ok", "l1"], 5);
    let upto = last_seq(&rows);
    wait_delivered(&mut logger, "influx", upto);
    assert_in_influx(&influx, "system", "l1", &rows["l1"]);

    // Every "ok" sample was refused once and set aside once, nothing else was.
    let status = logger.wait_until("batches_rejected to match the rejected_batches table", SLOW, |api| {
        let out = try_output(api, "influx")?;
        (num(&out, "batches_rejected") == rejected_batches(&db).len() as i64).then_some(out)
    });
    assert_eq!(status["state"], "connected", "{status}");
    assert!(
        status["last_rejection"]
            .as_str()
            .is_some_and(|e| e.contains("field type conflict")),
        "the last rejection is kept after later successes: {status}"
    );
    let rejected = rejected_batches(&db);
    for r in &rejected {
        assert_eq!(r.output, "influx", "{r:?}");
        assert_eq!(r.status, 400, "{r:?}");
        assert!(r.message.contains("field type conflict"), "{r:?}");
        assert_eq!(r.first_seq, r.last_seq, "batch_size 1 gives one-sample batches: {r:?}");
        assert!(r.body.starts_with("misbehave,item=ok value=42"), "{r:?}");
        assert_eq!(r.body.trim_end().lines().count(), 1, "{r:?}");
    }
    let rejected_seqs: Vec<i64> = rejected.iter().map(|r| r.first_seq).filter(|s| *s <= upto).collect();
    let ok_seqs: Vec<i64> = rows["ok"].iter().map(|r| r.seq).collect();
    assert_eq!(
        rejected_seqs, ok_seqs,
        "rejected batches vs the conflicting samples (each must be set aside exactly once)"
    );
    // InfluxDB still holds only the two string points.
    let points = influx.select("dl", "SELECT * FROM misbehave");
    assert_eq!(points.len(), 2, "{points:?}");
    assert!(points.iter().all(|p| p["value"] == "text"), "{points:?}");
}

// ---------------------------------------------------------------- VictoriaMetrics (v2 API)

/// Points of `series` up to `bound_ms`, as (ms, value).
fn vm_points(series: &VmSeries, bound_ms: i64) -> Vec<(i64, f64)> {
    series
        .timestamps
        .iter()
        .zip(&series.values)
        .filter(|(t, _)| **t <= bound_ms)
        .map(|(t, v)| (*t, *v))
        .collect()
}

#[test]
fn victoria_metrics_v2_gzip_on_and_off() {
    let dir = TestDir::new(&[system_wasm()]);
    let vm = Victoria::launch(dir.path());
    let v2 = |name: &str, gzip: bool, only: &str| {
        json!({"name": name, "type": "influxdb_v2", "url": vm.url(), "org": "o", "bucket": "b", "token": "t",
               "gzip": gzip, "items": [only], "flush_interval_ms": 300})
    };
    dir.write_config(json!({
        "items": [
            item("l1", "system.loadavg1", json!({"room": "lab"})),
            item("load", "system.load", json!({})),
        ],
        "outputs": [v2("vm_gzip", true, "l1"), v2("vm_plain", false, "load")],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1", "load"], 5);
    let upto = last_seq(&rows);
    for (name, only) in [("vm_gzip", "l1"), ("vm_plain", "load")] {
        let status = wait_delivered(&mut logger, name, upto);
        assert_output_shape(&status, name, "influxdb_v2", &vm.url(), "default");
        assert_eq!(
            (&status["org"], &status["bucket"]),
            (&json!("o"), &json!("b")),
            "{status}"
        );
        assert!(status.get("token").is_none(), "the token is shown: {status}");
        assert_eq!(status["state"], "connected", "{status}");
        assert_eq!(status["last_error"], Value::Null, "{status}");
        // The item filter: this output wrote its item's samples and no others.
        let written = num(&status, "points_written");
        let stored_now = store_rows(&db, only).len() as i64;
        assert!(
            written >= rows[only].len() as i64 && written <= stored_now,
            "{name} wrote {written} points; {only} has {} delivered and {stored_now} stored samples",
            rows[only].len()
        );
    }

    let series = vm.export(r#"{__name__=~"system.*"}"#);
    let find = |name: &str, item: &str| -> &VmSeries {
        let matching: Vec<&VmSeries> = series
            .iter()
            .filter(|s| s.name() == name && s.labels.get("item").map(String::as_str) == Some(item))
            .collect();
        assert_eq!(matching.len(), 1, "series {name}{{item={item}}}: {series:?}");
        matching[0]
    };
    let checks = [
        ("l1", "system_load1", "load1"),
        ("load", "system_load1", "load1"),
        ("load", "system_load5", "load5"),
        ("load", "system_load15", "load15"),
        ("load", "system_n_cpus", "n_cpus"),
    ];
    assert_eq!(series.len(), checks.len(), "unexpected series: {series:?}");
    for (item, metric, field) in checks {
        let s = find(metric, item);
        let mut labels = BTreeMap::from([
            ("__name__".to_string(), metric.to_string()),
            ("item".to_string(), item.to_string()),
        ]);
        if item == "l1" {
            labels.insert("room".into(), "lab".into());
        }
        assert_eq!(s.labels, labels, "{s:?}");
        let stored = &rows[item];
        let bound_ms = stored.last().unwrap().ts_ns / 1_000_000;
        let expected: Vec<(i64, f64)> = stored
            .iter()
            .map(|r| (r.ts_ns / 1_000_000, r.fields[field].as_f64().unwrap()))
            .collect();
        assert_eq!(vm_points(s, bound_ms), expected, "{metric}{{item={item}}} vs the store");
    }
}

// ---------------------------------------------------------------- outages

/// Config for the outage tests: two items @1 s to one InfluxDB.
fn outage_config(dir: &TestDir, influx: &Influx) {
    dir.write_config(json!({
        "items": [
            item("l1", "system.loadavg1", json!({"room": "lab"})),
            item("load", "system.load", json!({})),
        ],
        "outputs": [influx_output("influx", &influx.url())],
    }));
}

/// Waits until the output reports the outage and `n` more samples of each
/// item were stored since `since_seq`; returns the status then.
fn wait_failing_while_sampling(logger: &mut Logger, db: &Path, since_seq: i64, n: usize) -> Value {
    let status = logger.wait_until("the output to report the outage", SLOW, |api| {
        let out = try_output(api, "influx")?;
        (out["state"] == "failing").then_some(out)
    });
    assert!(
        status["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "failing without last_error: {status}"
    );
    logger.wait_until(&format!("{n} samples of each item during the outage"), SLOW, |_| {
        let new = |item| store_rows(db, item).iter().filter(|r| r.seq > since_seq).count();
        (new("l1") >= n && new("load") >= n).then_some(())
    });
    let undelivered = open_store(db)
        .query_row("SELECT COUNT(*) FROM hot WHERE seq > ?1", [since_seq], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    let status = output(&logger.api, "influx");
    assert_eq!(status["state"], "failing", "{status}");
    assert!(
        num(&status, "backlog_points") >= undelivered,
        "{undelivered} samples were taken during the outage but the backlog is {}",
        status["backlog_points"]
    );
    assert!(
        num(&status, "backlog_age_s") >= 2,
        "the oldest undelivered sample is several seconds old: {status}"
    );
    status
}

/// Asserts that every stored sample of both items is in InfluxDB exactly once.
fn assert_all_delivered(logger: &mut Logger, db: &Path, influx: &Influx) {
    let rows = wait_rows(logger, db, &["l1", "load"], 1);
    let status = wait_delivered(logger, "influx", last_seq(&rows));
    assert_eq!(status["state"], "connected", "{status}");
    assert_eq!(status["last_error"], Value::Null, "{status}");
    assert_eq!(num(&status, "points_dropped"), 0, "{status}");
    assert_eq!(num(&status, "batches_rejected"), 0, "{status}");
    for (name, rows) in &rows {
        assert_in_influx(influx, "system", name, rows);
    }
}

#[test]
fn outage_loses_nothing() {
    let dir = TestDir::new(&[system_wasm()]);
    let mut influx = Influx::launch(dir.path());
    outage_config(&dir, &influx);
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1", "load"], 3);
    wait_delivered(&mut logger, "influx", last_seq(&rows));

    influx.stop();
    let at_stop = max_seq(&db);
    let during = wait_failing_while_sampling(&mut logger, &db, at_stop, 5);
    assert!(
        num(&during, "position") <= at_stop,
        "the position moved past samples InfluxDB never acknowledged: {during}"
    );

    influx.start();
    assert_all_delivered(&mut logger, &db, &influx);
    // The recovery is logged once, at INFO, with the outage's length and backlog.
    let stderr = dir.path().join("run1.stderr");
    let recovered: Vec<String> = wait_until("the recovery to be logged", SLOW, || {
        let text = std::fs::read_to_string(&stderr).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains("recovered:"))
            .map(String::from)
            .collect();
        (!lines.is_empty()).then_some(lines)
    });
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    let line = &recovered[0];
    assert!(line.contains("INFO") && names_output(line, "influx"), "{line}");
    assert!(line.contains("was failing for "), "{line}");
    let delivered: i64 = line
        .split("delivered ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no point count in {line}"));
    assert!(
        delivered >= max_seq(&db).min(num(&during, "backlog_points")) && delivered > 0,
        "{line}: the backlog was {} points",
        during["backlog_points"]
    );
}

#[test]
fn logger_restart_during_outage() {
    let dir = TestDir::new(&[system_wasm()]);
    let mut influx = Influx::launch(dir.path());
    outage_config(&dir, &influx);
    let db = dir.db_path();
    let mut first = dir.start();
    let rows = wait_rows(&mut first, &db, &["l1", "load"], 3);
    wait_delivered(&mut first, "influx", last_seq(&rows));

    influx.stop();
    let at_stop = max_seq(&db);
    wait_failing_while_sampling(&mut first, &db, at_stop, 3);
    let position_before = num(&output(&first.api, "influx"), "position");
    drop(first); // killed during the outage
    let rows_of_first_run = max_seq(&db);
    assert!(rows_of_first_run > at_stop);
    let durable = stored_position(&db, "influx");
    assert!(
        durable >= position_before && durable > 0,
        "the output's position is not in the store: {durable} there, {position_before} shown before the kill"
    );
    assert!(
        durable <= at_stop,
        "the position ({durable}) moved past samples InfluxDB never acknowledged (after seq {at_stop})"
    );

    // The restarted logger resumes at the stored position, not at 0 and not at the end.
    let mut second = dir.start();
    second.wait_until(&format!("output influx to resume at position {durable}"), SLOW, |api| {
        let out = try_output(api, "influx")?;
        (num(&out, "position") == durable).then_some(())
    });
    wait_failing_while_sampling(&mut second, &db, rows_of_first_run, 3);

    influx.start();
    assert_all_delivered(&mut second, &db, &influx);
}

// ---------------------------------------------------------------- secrets

#[test]
fn secrets_never_shown() {
    let dir = TestDir::new(&[system_wasm()]);
    let vm = Victoria::launch(dir.path());
    let influx = Influx::launch(dir.path());
    let token = distinctive("dl-e2e-token");
    let password = distinctive("dl-e2e-password");
    let password_file = dir.path().join("influx-password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let mut v1 = influx_output("influx", &influx.url());
    v1["username"] = json!("dl");
    v1["password"] = json!({"file": password_file});
    dir.write_config(json!({
        "items": [item("l1", "system.loadavg1", json!({}))],
        "outputs": [
            {"name": "vm", "type": "influxdb_v2", "url": vm.url(), "org": "o", "bucket": "b",
             "token": {"env": "DL_E2E_TOKEN"}, "flush_interval_ms": 300},
            v1,
        ],
    }));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    // Verbose logs, including the HTTP clients', must not show secrets either.
    let env = [
        ("DL_E2E_TOKEN", token.as_str()),
        (
            "RUST_LOG",
            "debug,wasmtime_internal_cranelift=info,cranelift_codegen=info",
        ),
    ];
    let mut logger = Logger::start(&args, dir.path(), dir.port, &env, "run1");
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1"], 3);
    for name in ["vm", "influx"] {
        let status = wait_delivered(&mut logger, name, last_seq(&rows));
        assert_eq!(status["state"], "connected", "{status}");
    }
    let in_vm = vm.export(r#"{__name__="system_load1"}"#);
    assert_eq!(in_vm.len(), 1, "{in_vm:?}");
    assert_in_influx(&influx, "system", "l1", &rows["l1"]);

    // A REST change rewrites the config file: the secrets stay references.
    let created = logger.api.post("/items/", &item("l5", "system.loadavg5", json!({})));
    assert_eq!(created.status, 201, "{}", created.text);
    let on_disk = dir.read_config();
    assert_eq!(
        on_disk["outputs"][0]["token"],
        json!({"env": "DL_E2E_TOKEN"}),
        "{on_disk}"
    );
    assert_eq!(
        on_disk["outputs"][1]["password"],
        json!({"file": password_file}),
        "{on_disk}"
    );

    let mut shown = String::new();
    for path in ["/outputs", "/items", "/plugins", "/health"] {
        shown += &logger.api.get(path).text;
    }
    shown += &logger.stderr();
    shown += &std::fs::read_to_string(dir.path().join("run1.stdout")).unwrap_or_default();
    shown += &std::fs::read_to_string(dir.config_path()).unwrap();
    for secret in [&token, &password] {
        assert!(
            !shown.contains(secret.as_str()),
            "the secret {secret} was shown:\n{shown}"
        );
    }
    drop(logger);

    // A secret from an unset variable: the config is refused, naming both.
    let unset = "DL_E2E_SURELY_UNSET_VAR";
    assert!(std::env::var_os(unset).is_none());
    let mut config = dir.read_config();
    config["outputs"][0]["token"] = json!({"env": unset});
    std::fs::write(dir.config_path(), config.to_string()).unwrap();
    let out = dir.check();
    assert!(!out.status.success(), "check accepted an unset secret:\n{}", out.all());
    assert!(
        out.all().contains("output \"vm\"") && out.all().contains(unset),
        "check does not name the output and the variable:\n{}",
        out.all()
    );
    assert!(!out.all().contains(&password), "{}", out.all());
}

// ---------------------------------------------------------------- isolation

#[test]
fn unreachable_output_does_not_slow_sampling() {
    let dir = TestDir::new(&[system_wasm()]);
    let influx = Influx::launch(dir.path());
    let closed = free_port();
    // Accepts connections (the kernel does) but never answers.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let blackhole_url = format!("http://127.0.0.1:{}", blackhole.local_addr().unwrap().port());
    let closed_url = format!("http://127.0.0.1:{closed}");
    dir.write_config(json!({
        "items": [item("l1", "system.loadavg1", json!({})), item("load", "system.load", json!({}))],
        "outputs": [
            influx_output("closed", &closed_url),
            {"name": "blackhole", "type": "influxdb_v2", "url": blackhole_url, "org": "o", "bucket": "b",
             "token": "t", "timeout_ms": 1000, "flush_interval_ms": 300},
            influx_output("good", &influx.url()),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    for name in ["closed", "blackhole"] {
        let status = logger.wait_until(&format!("output {name} to fail"), SLOW, |api| {
            let out = try_output(api, name)?;
            (out["state"] == "failing").then_some(out)
        });
        assert!(
            status["last_error"].as_str().is_some_and(|e| !e.is_empty()),
            "failing without last_error: {status}"
        );
    }
    let rows = wait_rows(&mut logger, &db, &["l1", "load"], 8);
    for (name, rows) in &rows {
        assert_on_ticks(rows, 1, name);
        let stats = &logger.item(name)["stats"];
        assert_eq!(stats["skipped_ticks"], 0, "{name}: {stats}");
        assert_eq!(stats["errors"], 0, "{name}: {stats}");
    }
    // The healthy output is not held up by the others.
    let good = wait_delivered(&mut logger, "good", last_seq(&rows));
    assert_eq!(good["state"], "connected", "{good}");
    for (name, rows) in &rows {
        assert_in_influx(&influx, "system", name, rows);
    }
    let stored = rows.values().map(Vec::len).sum::<usize>() as i64;
    for name in ["closed", "blackhole"] {
        let status = output(&logger.api, name);
        assert_eq!(status["state"], "failing", "{status}");
        assert!(status["last_error"].is_string(), "{status}");
        assert_eq!(num(&status, "points_written"), 0, "{status}");
        assert_eq!(num(&status, "position"), 0, "{status}");
        assert!(
            num(&status, "backlog_points") >= stored,
            "{name}: backlog {} but {stored} samples were never delivered",
            status["backlog_points"]
        );
    }
    drop(blackhole);
}

// ---------------------------------------------------------------- backlog bounds

#[test]
fn old_samples_and_backlog_limits() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    let influx = Influx::launch(dir.path());
    let mut keep = influx_output("keep", &influx.url());
    keep["max_backlog_age_days"] = json!(36500);
    let mut aged = influx_output("aged", &influx.url());
    aged["database"] = json!("dl_aged");
    aged["items"] = json!(["st"]);
    // Two outputs to closed ports: "capped" keeps at most 3 points of l1;
    // "down" takes everything, so the two 2023 samples are too old for it.
    let mut capped = influx_output("capped", &format!("http://127.0.0.1:{}", free_port()));
    capped["max_backlog_points"] = json!(3);
    capped["items"] = json!(["l1"]);
    let down = influx_output("down", &format!("http://127.0.0.1:{}", free_port()));
    dir.write_config(json!({
        "store": {"path": dir.db_path(), "retention_days": 36500},
        "items": [item("st", "misbehave.stamped", json!({})), item("l1", "system.loadavg1", json!({}))],
        "outputs": [keep, aged, capped, down],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["st", "l1"], 2);
    assert_eq!(
        rows["st"].iter().map(|r| r.ts_ns).collect::<Vec<_>>(),
        vec![1_700_000_000 * NS, 1_700_000_001 * NS]
    );
    let upto = last_seq(&rows);

    // Old samples with their own timestamps arrive exactly, as integers.
    wait_delivered(&mut logger, "keep", upto);
    let points = influx.select("dl", "SELECT * FROM stamped");
    let got: Vec<(i64, Value, Value, Value)> = points
        .iter()
        .map(|p| {
            (
                p["time"].as_i64().unwrap(),
                p["value"].clone(),
                p["item"].clone(),
                p["src"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1_700_000_000 * NS, json!(1), json!("st"), json!("fixture")),
            (1_700_000_001 * NS, json!(2), json!("st"), json!("fixture")),
        ]
    );
    assert_eq!(influx.field_types("dl", "stamped")["value"], "integer");
    assert_in_influx(&influx, "system", "l1", &rows["l1"]);

    // Older than max_backlog_age_days (30 by default): dropped, counted, logged.
    let aged = wait_delivered(&mut logger, "aged", upto);
    assert_eq!(num(&aged, "points_dropped"), 2, "{aged}");
    assert_eq!(num(&aged, "points_written"), 0, "{aged}");
    assert!(
        influx.databases().contains(&"dl_aged".to_string()),
        "{:?}",
        influx.databases()
    );
    assert_eq!(
        influx.first_column("dl_aged", "SHOW MEASUREMENTS"),
        Vec::<String>::new()
    );
    let stderr = logger.stderr();
    assert!(
        stderr.lines().any(|l| names_output(l, "aged") && l.contains("dropped")),
        "the dropped old samples are not logged:\n{stderr}"
    );

    // Beyond max_backlog_points the oldest undelivered samples are dropped,
    // round after round while the server stays away.
    let mut positions = BTreeSet::new();
    let capped = logger.wait_until("output capped to drop samples in 4 retry rounds", DELIVERY, |api| {
        let out = try_output(api, "capped")?;
        positions.insert(num(&out, "position"));
        (positions.len() >= 4 && num(&out, "position") > 0).then_some(out)
    });
    // Meanwhile "down" retried its first batch several times: its two too-old
    // samples are dropped (and counted, and logged) once, not once per retry.
    let down = output(&logger.api, "down");
    assert_eq!(down["state"], "failing", "{down}");
    assert_eq!(num(&down, "points_written"), 0, "{down}");
    assert_eq!(
        num(&down, "points_dropped"),
        2,
        "only the two 2023 samples are too old for output down: {down}"
    );
    let stderr = logger.stderr();
    let logged = stderr
        .lines()
        .filter(|l| names_output(l, "down") && l.contains("dropped"))
        .count();
    assert_eq!(logged, 1, "the drop is logged {logged} times:\n{stderr}");

    assert_eq!(capped["state"], "failing", "{capped}");
    assert_eq!(num(&capped, "points_written"), 0, "{capped}");
    // Counts are of samples: never more than this output's item has stored,
    // and the backlog never more than the whole store holds. (The store's
    // sequence numbers have gaps: "st" samples are re-sent every second and
    // ignored as duplicates.)
    let l1_rows = store_rows(&db, "l1").len() as i64;
    let all_rows = l1_rows + store_rows(&db, "st").len() as i64;
    let dropped = num(&capped, "points_dropped");
    assert!(
        dropped > 0 && dropped <= l1_rows,
        "output capped claims {dropped} dropped samples; l1 has {l1_rows} in the store: {capped}"
    );
    assert!(
        num(&capped, "backlog_points") <= all_rows,
        "output capped claims a backlog of {} samples; the store holds {all_rows}: {capped}",
        capped["backlog_points"]
    );
    let stderr = logger.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| names_output(l, "capped") && l.contains("dropped")),
        "the dropped samples are not logged:\n{stderr}"
    );
}

/// Whether a log line carries the field `output=<name>`.
fn names_output(line: &str, name: &str) -> bool {
    line.split_whitespace().any(|token| {
        token == format!("output={name}") || token == format!("output=\"{name}\"") || token == format!("output={name}:")
    })
}

// ---------------------------------------------------------------- line protocol

mod line_protocol {
    use super::*;
    use datalogger::sample::{FieldValue, Sample};
    use datalogger::sinks::line_protocol::{encode_rows, refusal, Schema, Unsigned};
    use datalogger::store::Row as StoredRow;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::cell::Cell;

    /// Characters line protocol treats specially, and some that are not.
    const ALPHABET: &[char] = &[
        'a', 'b', 'Z', '0', '_', '-', ',', ' ', '=', '"', '\'', '\\', '\\', '\n', '\r', '\t', '#', '\0', 'é', '日',
        '🙂',
    ];

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(ALPHABET), 0..=max).prop_map(|c| c.into_iter().collect())
    }

    /// A name: mostly one of the special characters among plain ones, often
    /// anything at all (which is then mostly refused).
    fn name() -> impl Strategy<Value = String> {
        let plain = || proptest::collection::vec(proptest::sample::select(&ALPHABET[..5]), 0..3);
        prop_oneof![
            3 => (plain(), proptest::sample::select(ALPHABET), plain()).prop_map(|(a, c, b)| {
                let mut s: String = a.into_iter().collect();
                s.push(c);
                s.extend(b);
                if s.starts_with(['#', '\t', '\0']) || s.ends_with('\\') { format!("x{s}y") } else { s }
            }),
            1 => text(5),
        ]
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<f64>().prop_map(FieldValue::Float),
            prop_oneof![Just(0.0), Just(-0.0), Just(1e300), Just(5e-324), Just(0.1)].prop_map(FieldValue::Float),
            any::<i64>().prop_map(FieldValue::Int),
            any::<u64>().prop_map(FieldValue::Uint),
            any::<bool>().prop_map(FieldValue::Boolean),
            text(8).prop_map(FieldValue::Text),
        ]
    }

    fn sample() -> impl Strategy<Value = Sample> {
        (
            name(),
            proptest::collection::vec((name(), name()), 0..3),
            proptest::collection::vec((name(), value()), 1..4),
            Just(0i64),
        )
            .prop_map(|(measurement, tags, fields, timestamp_ns)| Sample {
                measurement,
                tags: tags.into_iter().collect(),
                fields,
                timestamp_ns,
            })
            .prop_filter("names must be distinct and not the host's", |s| {
                let mut names: Vec<&str> = s.tags.keys().map(String::as_str).collect();
                names.extend(s.fields.iter().map(|(k, _)| k.as_str()));
                let n = names.len();
                names.sort_unstable();
                names.dedup();
                names.len() == n && !names.iter().any(|k| ["item", "time"].contains(k))
            })
    }

    /// What InfluxDB's CSV shows for a stored value.
    fn shown(value: &FieldValue) -> String {
        match value {
            FieldValue::Float(f) => format!("{f}"),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::Uint(u) => u.to_string(),
            FieldValue::Boolean(b) => b.to_string(),
            FieldValue::Text(t) => t.clone(),
        }
    }

    fn influx_type(value: &FieldValue) -> &'static str {
        match value {
            FieldValue::Float(_) => "float",
            FieldValue::Int(_) | FieldValue::Uint(_) => "integer",
            FieldValue::Boolean(_) => "boolean",
            FieldValue::Text(_) => "string",
        }
    }

    /// What became of one sample written on its own.
    enum Trip {
        Same,
        /// An earlier case gave the field another type (a case's artefact, not a finding).
        TypeConflict,
    }

    /// Writes `sample` as the v1 sink encodes it into database "pt" and
    /// reads it back by its timestamp (unique per case); `Err` describes
    /// the first difference.
    fn round_trip(influx: &Influx, sample: &Sample) -> Result<Trip, String> {
        let row = StoredRow {
            seq: 1,
            item: "pt".into(),
            sample: sample.clone(),
        };
        let body = encode_rows(&[&row], Schema::Default, Unsigned::AsInteger);
        let resp = influx.write("pt", &body);
        if resp.status == 400 && resp.text.contains("field type conflict") {
            return Ok(Trip::TypeConflict);
        }
        if resp.status != 204 {
            return Err(format!(
                "InfluxDB refused {body:?}: HTTP {}: {}",
                resp.status, resp.text
            ));
        }
        let ts = sample.timestamp_ns;
        // One measurement (across several InfluxDB casts a field's integers
        // to floats), by an anchored regex: a quoted name cannot hold \r or NUL.
        let mut from = String::from("/^");
        for c in sample.measurement.chars() {
            if c.is_ascii_alphanumeric() {
                from.push(c);
            } else {
                from.push_str(&format!("\\x{{{:x}}}", c as u32));
            }
        }
        from.push_str("$/");
        let csv_text = influx.query_csv("pt", &format!("SELECT * FROM {from} WHERE time = {ts}"));
        let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        if records.len() != 1 {
            return Err(format!("{body:?} reads back as {} points: {csv_text:?}", records.len()));
        }
        let record = &records[0];
        let mut expected: BTreeMap<String, String> = sample
            .tags
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        expected.insert("item".into(), "pt".into());
        for (k, v) in &sample.fields {
            expected.insert(k.clone(), shown(v));
        }
        let check = |what: &str, got: &str, want: &str| {
            if got == want {
                Ok(())
            } else {
                Err(format!(
                    "{body:?}: {what} reads back as {got:?}, not {want:?}; answer {csv_text:?}"
                ))
            }
        };
        check("the measurement", &record[0], &sample.measurement)?;
        check("the time", &record[2], &ts.to_string())?;
        // Columns of the measurement's other points are empty in this one.
        let got: BTreeMap<&String, &str> = header.iter().zip(record.iter()).skip(3).collect();
        for (column, value) in &got {
            if !value.is_empty() && !expected.contains_key(*column) {
                return Err(format!(
                    "{body:?}: an extra column {column:?} = {value:?}; answer {csv_text:?}"
                ));
            }
        }
        for (k, want) in &expected {
            let Some(got) = got.get(k) else {
                return Err(format!("{body:?}: no column {k:?}; answer {csv_text:?}"));
            };
            match sample.fields.iter().find(|(f, _)| f == k) {
                // Floats by value: InfluxDB prints them its own way.
                Some((_, FieldValue::Float(f))) => {
                    let back: f64 = got.parse().map_err(|e| format!("{body:?}: {k:?} = {got:?}: {e}"))?;
                    if back.to_bits() != f.to_bits() {
                        return Err(format!("{body:?}: {k:?} reads back as {back:e}, not {f:e}"));
                    }
                }
                _ => check(&format!("{k:?}"), got, want)?,
            }
        }
        let types = influx.all_field_types("pt");
        let types = types.get(&sample.measurement).cloned().unwrap_or_default();
        for (k, v) in &sample.fields {
            check(
                &format!("the type of {k:?}"),
                types.get(k).map_or("", String::as_str),
                influx_type(v),
            )?;
        }
        Ok(Trip::Same)
    }

    /// Property: whatever names and values a sample has, the v1 sink either
    /// refuses it (and says why) or InfluxDB 1.6 reads back exactly that sample.
    /// Fixed seed and number of cases: the same cases every run.
    #[test]
    fn line_protocol_round_trips_through_influxdb() {
        let dir = TestDir::new(&[]);
        let influx = Influx::launch(dir.path());
        influx.admin("CREATE DATABASE pt");
        let config = Config {
            cases: 400,
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let (sent, refused, conflicts, next_ts) = (Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0));
        let result = runner.run(&sample(), |mut sample| {
            // One shard, a timestamp of its own per case (shrinking reruns cases).
            next_ts.set(next_ts.get() + 1);
            sample.timestamp_ns = 1_700_000_000_000_000_000 + next_ts.get();
            let row = StoredRow {
                seq: 1,
                item: "pt".into(),
                sample: sample.clone(),
            };
            match refusal(&row, Schema::Default, Unsigned::AsInteger) {
                Some(reason) => {
                    prop_assert!(!reason.is_empty());
                    refused.set(refused.get() + 1);
                }
                None => match round_trip(&influx, &sample).map_err(TestCaseError::fail)? {
                    Trip::Same => sent.set(sent.get() + 1),
                    Trip::TypeConflict => conflicts.set(conflicts.get() + 1),
                },
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        eprintln!(
            "line protocol round trip: {} read back identically, {} refused, {} skipped (type conflict with an earlier case)",
            sent.get(),
            refused.get(),
            conflicts.get()
        );
        assert!(
            sent.get() >= 150,
            "too few samples were written ({} sent, {} refused): the property says little",
            sent.get(),
            refused.get()
        );
    }

    /// The cases hostile plugins found: refused with a reason, not mangled.
    #[test]
    fn trailing_backslashes_are_refused_and_inner_ones_kept() {
        let dir = TestDir::new(&[]);
        let influx = Influx::launch(dir.path());
        let sample = |measurement: &str, tag: &str, field: &str| Sample {
            measurement: measurement.into(),
            tags: [("case".to_string(), tag.to_string())].into(),
            fields: vec![(field.into(), FieldValue::Int(2))],
            timestamp_ns: 1_700_000_000_000_000_000,
        };
        for (s, words) in [
            (
                sample("inj\\", "bs_meas", "f"),
                "measurement \"inj\\\\\" ends with a backslash",
            ),
            (
                sample("m", "x\\", "f"),
                "tag \"case\": the value \"x\\\\\" ends with a backslash",
            ),
            (sample("m", "x", "f\\"), "field key \"f\\\\\" ends with a backslash"),
        ] {
            let row = StoredRow {
                seq: 1,
                item: "pt".into(),
                sample: s,
            };
            let reason = refusal(&row, Schema::Default, Unsigned::AsInteger).expect("refused");
            assert!(reason.contains(words), "{reason:?} lacks {words:?}");
        }
        influx.admin("CREATE DATABASE pt");
        assert!(matches!(
            round_trip(&influx, &sample("C:\\inj\\x", "a\\b", "f\\g")),
            Ok(Trip::Same)
        ));
    }
}

// ---------------------------------------------------------------- refusals

/// Fills the store with `samples` of item `item` before any logger runs
/// (through the store's own API, as sampling would).
fn prefill_store(db: &Path, item: &str, samples: Vec<datalogger::sample::Sample>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = datalogger::store::Store::open(db, 30).unwrap();
        let n = samples.len();
        assert_eq!(store.append(item, samples).await.unwrap().count(), n);
    });
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Sequence numbers the rejected_batches table covers for `output`.
fn set_aside_seqs(db: &Path, output: &str) -> Vec<i64> {
    let mut seqs: Vec<i64> = rejected_batches(db)
        .iter()
        .filter(|r| r.output == output)
        .flat_map(|r| r.first_seq..=r.last_seq)
        .collect();
    seqs.sort_unstable();
    seqs
}

#[test]
fn partial_writes_set_aside_only_the_bad_points() {
    use datalogger::sample::{FieldValue, Sample};
    let dir = TestDir::new(&[]);
    let influx = Influx::launch(dir.path());
    influx.admin("CREATE DATABASE dl");
    let now = now_ns();
    // "v" is a float in this measurement: the 6 string points conflict.
    // A first write into a new shard may time out on a loaded machine: retry it.
    wait_until("InfluxDB to take the seed point", SLOW, || {
        let resp = influx.write("dl", &format!("pw,item=seed v=1.5 {now}\n"));
        assert!(resp.status == 204 || resp.status == 500, "{}", resp.text);
        (resp.status == 204).then_some(())
    });
    let bad = [3usize, 10, 11, 30, 54, 55];
    let samples: Vec<Sample> = (0..56)
        .map(|i| Sample {
            measurement: "pw".into(),
            tags: BTreeMap::new(),
            fields: vec![(
                "v".into(),
                if bad.contains(&i) {
                    FieldValue::Text("not a float".into())
                } else {
                    FieldValue::Float(i as f64)
                },
            )],
            timestamp_ns: now - (56 - i as i64) * 1_000_000_000,
        })
        .collect();
    let db = dir.db_path();
    prefill_store(&db, "p", samples);
    let seqs: Vec<i64> = open_store(&db)
        .prepare("SELECT seq FROM hot ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seqs.len(), 56);
    let bad_seqs: Vec<i64> = bad.iter().map(|i| seqs[*i]).collect();

    // One batch of all 56: InfluxDB answers "partial write" and keeps 50.
    dir.write_config(json!({"outputs": [influx_output("influx", &influx.url())]}));
    let mut logger = dir.start();
    let status = wait_delivered(&mut logger, "influx", seqs[55]);
    assert_eq!(num(&status, "points_written"), 50, "{status}");
    assert_eq!(num(&status, "points_rejected"), 6, "{status}");
    assert_eq!(status["state"], "connected", "{status}");
    assert!(
        status["last_rejection"]
            .as_str()
            .is_some_and(|e| e.contains("field type conflict")),
        "{status}"
    );
    assert_eq!(
        set_aside_seqs(&db, "influx"),
        bad_seqs,
        "exactly the bad points are set aside"
    );
    for r in rejected_batches(&db) {
        assert_eq!(r.status, 400, "{r:?}");
        assert!(r.body.lines().all(|l| l.contains("v=\"not a float\"")), "{r:?}");
        assert_eq!(r.body.lines().count() as i64, r.last_seq - r.first_seq + 1, "{r:?}");
    }
    assert_eq!(
        num(&status, "batches_rejected"),
        rejected_batches(&db).len() as i64,
        "{status}"
    );
    let points = influx.select("dl", "SELECT * FROM pw WHERE \"item\" = 'p'");
    assert_eq!(points.len(), 50, "{points:?}");
    assert!(points.iter().all(|p| p["v"].is_number()), "{points:?}");
    assert!(
        logger.stderr().contains("refused 6 of 56 samples"),
        "{}",
        logger.stderr()
    );
}

#[test]
fn unwritable_samples_are_set_aside_not_mangled() {
    let dir = TestDir::new(&[system_wasm()]);
    let influx = Influx::launch(dir.path());
    dir.write_config(json!({
        "items": [
            item("bs", "system.loadavg1", json!({"case": "x\\"})),
            item("ok", "system.loadavg5", json!({"case": "a\\b"})),
        ],
        "outputs": [influx_output("influx", &influx.url())],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["bs", "ok"], 3);
    let status = wait_delivered(&mut logger, "influx", last_seq(&rows));
    // Every "bs" sample is set aside with the reason, none is sent.
    let bs: Vec<i64> = store_rows(&db, "bs")
        .iter()
        .map(|r| r.seq)
        .filter(|s| *s <= last_seq(&rows))
        .collect();
    let aside: Vec<i64> = set_aside_seqs(&db, "influx")
        .into_iter()
        .filter(|s| *s <= last_seq(&rows))
        .collect();
    assert_eq!(aside, bs, "{status}");
    let rejected = rejected_batches(&db);
    let first = &rejected[0];
    assert_eq!(first.status, 0, "{first:?}");
    assert!(first.message.contains("ends with a backslash"), "{first:?}");
    assert!(first.body.contains("\"item\":\"bs\""), "{first:?}");
    assert!(
        status["last_rejection"]
            .as_str()
            .is_some_and(|e| e.contains("ends with a backslash")),
        "{status}"
    );
    assert!(logger.stderr().contains("ends with a backslash"), "{}", logger.stderr());
    // The good item arrives with its backslash; nothing else reached InfluxDB.
    assert_in_influx(&influx, "system", "ok", &rows["ok"]);
    assert_eq!(influx.first_column("dl", "SHOW MEASUREMENTS"), vec!["system"]);
    assert!(influx
        .select("dl", "SELECT * FROM system WHERE \"item\" = 'bs'")
        .is_empty());
}

#[test]
fn credentials_in_the_url_are_sent_but_never_shown() {
    let dir = TestDir::new(&[system_wasm()]);
    let influx = Influx::launch_with(dir.path(), "auth-enabled = true");
    let password = distinctive("dl-e2e-urlpw");
    influx.admin(&format!(
        "CREATE USER admin WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
    ));
    let with_credentials = influx.url().replace("http://", &format!("http://admin:{password}@"));
    let closed = format!("http://admin:{password}@127.0.0.1:{}", free_port());
    dir.write_config(json!({
        "items": [item("l1", "system.loadavg1", json!({}))],
        "outputs": [influx_output("influx", &with_credentials), influx_output("down", &closed)],
    }));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let env = [(
        "RUST_LOG",
        "debug,wasmtime_internal_cranelift=info,cranelift_codegen=info",
    )];
    let mut logger = Logger::start(&args, dir.path(), dir.port, &env, "run1");
    let db = dir.db_path();
    let rows = wait_rows(&mut logger, &db, &["l1"], 3);
    // InfluxDB requires authentication: delivery proves the credentials were sent.
    let status = wait_delivered(&mut logger, "influx", last_seq(&rows));
    assert_eq!(status["state"], "connected", "{status}");
    assert!(num(&status, "points_written") >= 3, "{status}");
    assert_eq!(
        status["url"],
        influx.url().replace("http://", "http://***@"),
        "{status}"
    );
    logger.wait_until("the unreachable output to fail", SLOW, |api| {
        let out = try_output(api, "down")?;
        (out["state"] == "failing").then_some(())
    });
    let shown = logger.api.get("/outputs").text + &logger.stderr();
    assert!(!shown.contains(&password), "the password was shown:\n{shown}");
    assert!(shown.contains("***@127.0.0.1"), "{shown}");
}
