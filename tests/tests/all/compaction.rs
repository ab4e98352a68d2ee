//! The compact store on the real binary: a `kill -9` in the middle of a
//! compaction loses nothing committed, and an output that is behind still
//! delivers every sample once, to a real InfluxDB 1.6.

use crate::common::servers::Influx;
use crate::common::*;
use datalogger::sample::{FieldValue, Sample};
use serde_json::{json, Value};
use std::path::Path;

const S: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    datalogger::sample::now_ns()
}

/// Writes `series` items of `per_series` samples at 1 s ending an hour ago,
/// through the store's own API, before any logger runs.
fn prefill(db: &Path, series: usize, per_series: i64) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = (now_ns() / S - 3600 - per_series) * S;
    runtime.block_on(async {
        let store = datalogger::store::Store::open(db, 0).unwrap();
        for item in 0..series {
            let samples: Vec<Sample> = (0..per_series)
                .map(|i| Sample {
                    measurement: "m".into(),
                    tags: [("n".to_string(), (item % 7).to_string())].into(),
                    fields: vec![
                        ("v".into(), FieldValue::Float(((i + item as i64) % 100) as f64 / 4.0)),
                        ("k".into(), FieldValue::Int(i)),
                    ],
                    timestamp_ns: start + i * S,
                })
                .collect();
            let n = samples.len();
            assert_eq!(store.append(&format!("p{item}"), samples).await.unwrap().count(), n);
        }
    });
    start
}

fn store_view(logger: &Logger) -> Value {
    logger.api.get("/store").json()
}

#[test]
fn kill_9_during_a_compaction_loses_nothing_committed() {
    let dir = TestDir::new(&[]);
    let db = dir.db_path();
    let (series, per_series) = (100, 8000);
    let start = prefill(&db, series, per_series);
    let total = series as u64 * per_series as u64;
    dir.write_config(json!({
        "store": {"path": db, "retention_days": 0, "compact_after_minutes": 0},
        "items": [],
    }));
    let logger = dir.start();
    assert_eq!(store_view(&logger)["hot_samples"], total);
    // The compaction request runs on; the logger is killed in the middle of it.
    let port = dir.port;
    let request = std::thread::spawn(move || Api::new(port).try_send("POST", "/store/compact", Some("{}")));
    let mut logger = logger;
    logger.wait_until("the compaction to be under way", SLOW, |api| {
        let v = api.try_get("/store")?.json();
        (v["compacted_samples"].as_u64()? > 0).then_some(())
    });
    drop(logger); // SIGKILL
    let _ = request.join();

    let inspector = datalogger::store::inspect::Inspector::open(&db).unwrap().unwrap();
    let (hot, cold) = inspector.counts().unwrap();
    assert_eq!(hot + cold, total, "hot {hot} + compacted {cold}");
    assert!(hot > 0 && cold > 0, "killed mid-way: hot {hot}, compacted {cold}");
    let check: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    // Restarted, it finishes the job; every sample is there once, exactly.
    let logger = dir.start();
    let report = logger.api.post("/store/compact", &json!({})).json();
    assert_eq!(report["compacted"], hot, "{report}");
    let view = store_view(&logger);
    assert_eq!(
        (view["hot_samples"].as_u64(), view["compacted_samples"].as_u64()),
        (Some(0), Some(total))
    );
    for item in [0, 37, series - 1] {
        let rows = store_rows(&db, &format!("p{item}"));
        assert_eq!(rows.len() as i64, per_series, "p{item}");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.ts_ns, start + i as i64 * S);
            assert_eq!(row.fields["k"], i);
            assert_eq!(row.fields["v"], ((i + item) % 100) as f64 / 4.0);
            assert_eq!(row.types["k"], 'i');
        }
    }
}

#[test]
fn an_output_that_is_behind_delivers_every_sample_once_and_only_then_it_is_compacted() {
    let dir = TestDir::new(&[]);
    let db = dir.db_path();
    let (series, per_series) = (10, 2000);
    prefill(&db, series, per_series);
    let total = (series as i64 * per_series) as u64;
    let mut influx = Influx::launch(dir.path());
    influx.stop();
    dir.write_config(json!({
        "store": {"path": db, "compact_after_minutes": 0},
        "outputs": [{"name": "influx", "type": "influxdb", "url": influx.url(), "database": "dl"}],
        "items": [],
    }));
    let mut logger = dir.start();
    let report = logger.api.post("/store/compact", &json!({})).json();
    assert_eq!(report["compacted"], 0, "nothing is delivered yet: {report}");

    influx.start();
    logger.wait_until("the backlog to be delivered", SLOW, |api| {
        let outputs = api.try_get("/outputs")?.json();
        (outputs[0]["backlog_points"].as_u64()? == 0 && outputs[0]["points_written"].as_u64()? == total).then_some(())
    });
    let report = logger.api.post("/store/compact", &json!({})).json();
    assert_eq!(report["compacted"], total, "{report}");
    let counted = influx.query("dl", "SELECT COUNT(v) FROM m");
    assert_eq!(counted["series"][0]["values"][0][1], total, "{counted}");
    let outputs = logger.api.get("/outputs").json();
    assert_eq!(
        outputs[0]["points_written"], total,
        "each sample delivered once: {outputs}"
    );
    assert_eq!(outputs[0]["points_dropped"], 0, "{outputs}");
}
