//! `datalogger import isems FILE.sqlite` (issue 15): the ISEMS collector's
//! history, from a database made with the original's own DDL, becomes the
//! same points the live decoders make, served by `/measurements` like live
//! rows; the DST hours are reported, not guessed; a second run adds nothing;
//! a running logger's store is refused.

use crate::common::http_fake::{HttpFake, Response};
use crate::common::*;
use crate::isems_compat::{NEW, NEW_ROW, OLD, OLD_ROW};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::path::Path;

/// ISEMS/isems-data-collector's table, as its models.py made it (read-side.md §2).
const DDL: &str = r#"CREATE TABLE measurement (id INTEGER NOT NULL, "nodeId" VARCHAR, "isemsRevision" VARCHAR,
  timestamp DATETIME, "openMPPTFirmwareVersion" VARCHAR, "timeToShutdown" FLOAT, "isPowerSaveMode"
  BOOLEAN, "openCircuitVoltage" FLOAT, "mppVoltage" FLOAT, "batteryVoltage" FLOAT,
  "batteryChargeEstimate" FLOAT, "batteryHealthEstimate" FLOAT, "batteryTemperature" FLOAT,
  "lowVoltageDisconnectVoltage" FLOAT, "temperatureCorrectedVoltage" FLOAT, "rateBatteryCapacity"
  FLOAT, "ratedSolarModuleCapacity" FLOAT, latitude FLOAT, longitude FLOAT, status INTEGER,
  PRIMARY KEY (id), CONSTRAINT node_timestamp UNIQUE ("nodeId", timestamp));
CREATE INDEX ix_measurement_node_timestamp ON measurement ("nodeId", timestamp DESC);"#;

const INSERT: &str = r#"INSERT INTO measurement ("nodeId", "isemsRevision", timestamp, "openMPPTFirmwareVersion",
  "timeToShutdown", "isPowerSaveMode", "openCircuitVoltage", "mppVoltage", "batteryVoltage",
  "batteryChargeEstimate", "batteryHealthEstimate", "batteryTemperature", "lowVoltageDisconnectVoltage",
  "temperatureCorrectedVoltage", "rateBatteryCapacity", "ratedSolarModuleCapacity", latitude, longitude, status)
  VALUES (?1, '1', ?2, 'ATmega8_A_1', 711.0, ?3, 18.614, 18.614, ?4, 100.0, 100.0, 28.0, 11.67, 14.086, 7.0, 20.0,
  52.507309, 13.458635, ?5)"#;

/// Rows of "Many": one a minute from 2019-01-10 00:00 Berlin (winter, no DST change).
const MANY: i64 = 12_000;

/// What the original would have stored: OLD and NEW (devices.md's lines at
/// their Berlin wall times), MANY rows of one node, and three rows that cannot
/// be imported as they are.
fn original_database(path: &Path) {
    let mut c = Connection::open(path).unwrap();
    c.execute_batch(DDL).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut insert = tx.prepare(INSERT).unwrap();
        let battery = Value::from(14.073);
        let row = |node: &str, ts: &str, save: i64, battery: &Value, status: Option<i64>| {
            (node.to_string(), ts.to_string(), save, battery.to_string(), status)
        };
        let mut rows = vec![
            row("Elektra-Dach", "2018-06-30 15:16:15.000000", 0, &battery, None),
            row(
                "Elektra-Dach-Neu",
                "2018-06-30 15:17:20.000000",
                1,
                &battery,
                Some(0x300),
            ),
            // 2018-10-28 02:30 Berlin was 00:30Z and again 01:30Z.
            row("Elektra-Dach", "2018-10-28 02:30:00.000000", 0, &battery, None),
            // 2018-03-25 02:30 Berlin never was.
            row("Elektra-Dach", "2018-03-25 02:30:00.000000", 0, &battery, None),
            row(
                "Elektra-Dach",
                "2018-07-01 12:00:00.000000",
                0,
                &Value::from("abc"),
                None,
            ),
        ];
        let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 10)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        for m in 0..MANY {
            let ts = (start + chrono::Duration::minutes(m))
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string();
            rows.push(row(
                "Many",
                &ts,
                0,
                &Value::from(12.0 + (m % 100) as f64 / 100.0),
                Some(0x100),
            ));
        }
        for (node, ts, save, battery, status) in rows {
            // The battery voltage as the number (or text) Python would have bound.
            let battery: rusqlite::types::Value = match serde_json::from_str::<Value>(&battery).unwrap() {
                Value::Number(n) => rusqlite::types::Value::Real(n.as_f64().unwrap()),
                Value::String(s) => rusqlite::types::Value::Text(s),
                other => panic!("{other}"),
            };
            insert.execute(params![node, ts, save, battery, status]).unwrap();
        }
    }
    tx.commit().unwrap();
}

fn import(dir: &TestDir, file: &Path, extra: &[&str]) -> CliOutput {
    let config = dir.config_path();
    let mut args = vec![
        "import",
        "isems",
        file.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    dir.cli(&args)
}

fn measurements(logger: &Logger, path: &str) -> String {
    let r = logger.api.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.text
}

#[test]
fn the_original_collectors_history_is_imported_once_and_served_like_live_rows() {
    let dir = TestDir::new(&[dist_wasm("isems")]);
    let db = dir.path().join("isems-data-collector.sqlite");
    original_database(&db);
    // The same two lines also arrive live, polled from a node.
    let log = format!("{OLD}\n{NEW}\n");
    let node = HttpFake::start(move |_| Response::new(200, "text/plain", log.as_str()));
    dir.write_config(json!({
        "store": {"path": dir.db_path(), "retention_days": 0},
        "items": [{"name": "nodes", "key": "isems.node", "arg": node.address(), "interval": 1}],
        "plugins": {"isems": {"http": ["127.0.0.1"]}},
        "compat": {"isems": {}},
    }));

    let first = import(&dir, &db, &[]);
    assert!(first.status.success(), "{}", first.all());
    let rows = MANY + 5;
    let imported = MANY + 2;
    assert!(
        first.stdout.contains(&format!(
            "{rows} rows read, {imported} imported into {} as item \"isems-import\", 0 already in the store, 0 older than the store's retention, 3 skipped",
            dir.db_path().display()
        )),
        "{}",
        first.all()
    );
    // Each row left out is named, with why.
    assert!(first.stderr.contains("skipped row id 3 (node \"Elektra-Dach\", 2018-10-28 02:30:00.000000): 2018-10-28 02:30:00 happened twice in Europe/Berlin: at 00:30:00Z and at 01:30:00Z"), "{}", first.stderr);
    assert!(
        first.stderr.contains("skipped row id 4") && first.stderr.contains("never happened"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("skipped row id 5") && first.stderr.contains("batteryVoltage is \"abc\", not a number"),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stdout
            .contains("skipped 1: time in the hour the DST change repeats (choose with --ambiguous earlier|later)"),
        "{}",
        first.stdout
    );

    // Idempotent: nothing twice.
    let again = import(&dir, &db, &[]);
    assert!(again.status.success(), "{}", again.all());
    assert!(
        again.stdout.contains(&format!("{rows} rows read, 0 imported"))
            && again.stdout.contains(&format!("{imported} already in the store")),
        "{}",
        again.stdout
    );
    // Choosing an instant for the repeated hour imports that row only.
    let later = import(&dir, &db, &["--ambiguous", "later"]);
    assert!(
        later.stdout.contains(&format!("{rows} rows read, 1 imported")),
        "{}",
        later.all()
    );
    let stored = store_rows(&dir.db_path(), "isems-import");
    assert_eq!(stored.len() as i64, imported + 1);
    assert!(
        stored.iter().any(|r| r.ts_ns == 1_540_690_200_000_000_000),
        "02:30 CET = 01:30Z"
    );

    let mut logger = dir.start();
    let polled = logger.wait_until("the polled lines", SLOW, |_| {
        let rows: Vec<Row> = store_rows(&dir.db_path(), "nodes")
            .into_iter()
            .filter(|r| r.measurement == "isems")
            .collect();
        (rows.len() >= 2).then_some(rows)
    });
    // The imported rows are the points the decoder makes of the same lines:
    // same measurement, tags, field names, order and types, same instant.
    for live in &polled {
        let twin = stored
            .iter()
            .find(|r| r.ts_ns == live.ts_ns && r.tags == live.tags)
            .unwrap_or_else(|| panic!("no imported row for {:?} at {}", live.tags, live.ts_ns));
        assert_eq!(twin.measurement, live.measurement);
        assert_eq!(twin.fields, live.fields, "{:?}", live.tags);
        assert_eq!(twin.type_letters, live.type_letters, "{:?}", live.tags);
    }

    // Served byte for byte as the original did, one row per line whichever way it came.
    assert_eq!(
        measurements(&logger, "/measurements/Elektra-Dach-Neu/latest"),
        format!(r#"{{"measurements":[{NEW_ROW}]}}"#)
    );
    let old_node = measurements(&logger, "/measurements/Elektra-Dach/latest");
    assert!(old_node.ends_with(&format!(r#",{OLD_ROW}]}}"#)), "{old_node}");
    let many: Value = serde_json::from_str(&measurements(&logger, "/measurements/Many/latest")).unwrap();
    let many = many["measurements"].as_array().unwrap();
    assert_eq!(many.len(), 1440);
    assert_eq!(
        many[0]["timestamp"], "2019-01-18T07:59:00",
        "the newest first, in Berlin time"
    );
    assert_eq!(many[0]["status"], "0x100");

    // Beside a running logger the store is refused, not shared.
    let busy = import(&dir, &db, &[]);
    assert!(!busy.status.success(), "{}", busy.all());
    assert!(
        busy.stderr.contains("is in use by another datalogger process"),
        "{}",
        busy.stderr
    );
}

#[test]
fn what_is_not_the_collectors_database_is_refused_and_an_old_one_without_status_is_read() {
    let dir = TestDir::new(&[]);
    dir.write_config(json!({"store": {"path": dir.db_path(), "retention_days": 0}}));

    let missing = import(&dir, &dir.path().join("nope.sqlite"), &[]);
    assert_eq!(missing.status.code(), Some(2), "{}", missing.all());
    assert!(
        missing
            .stderr
            .contains("is not a file; give the ISEMS collector's database"),
        "{}",
        missing.stderr
    );

    let other = dir.path().join("other.sqlite");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE readings (x INTEGER)")
        .unwrap();
    let refused = import(&dir, &other, &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", refused.all());
    assert!(
        refused.stderr.contains("has no table `measurement`"),
        "{}",
        refused.stderr
    );

    let text = dir.path().join("notes.sqlite");
    std::fs::write(&text, "these are not the droids").unwrap();
    let garbage = import(&dir, &text, &[]);
    assert_eq!(garbage.status.code(), Some(2), "{}", garbage.all());
    assert!(
        garbage.stderr.contains("is not an SQLite database"),
        "{}",
        garbage.stderr
    );

    // Older collectors had no status column.
    let old = dir.path().join("old.sqlite");
    let c = Connection::open(&old).unwrap();
    c.execute_batch(&DDL.replace(", status INTEGER", "")).unwrap();
    c.execute(
        &INSERT.replace(", status)", ")").replace(", ?5)", ")"),
        params!["Elektra-Dach", "2018-06-30 15:16:15.000000", 0, 14.073],
    )
    .unwrap();
    drop(c);
    let read = import(&dir, &old, &[]);
    assert!(read.status.success(), "{}", read.all());
    assert!(read.stdout.contains("1 rows read, 1 imported"), "{}", read.stdout);
    let rows = store_rows(&dir.db_path(), "isems-import");
    assert_eq!(rows[0].fields["batteryVoltage"], 14.073);
    assert!(rows[0].fields.get("status").is_none(), "{:?}", rows[0].fields);
    assert_eq!(rows[0].ts_ns, 1_530_364_575_000_000_000);
}
