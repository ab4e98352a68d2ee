//! The executor over a store whose data is compacted: aggregates from the
//! per-minute rollups must equal the same aggregates from raw points (a
//! condition on a field forces the raw path), and the limits answer errors.
//! What InfluxDB itself answers is checked by the e2e differential test.

use super::response::{StatementResult, TimeFormat};
use super::{parse, run, QuerySettings, Request};
use crate::sample::{FieldValue, Sample};
use crate::store::{Store, StoreSettings};
use serde_json::Value;
use std::collections::BTreeMap;

const S: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * S;

/// Two series of one measurement, 3 hours at 1 s ending 20 minutes ago,
/// compacted into blocks and rollups; values that make float sums inexact.
async fn compacted_store(dir: &std::path::Path) -> (Store, i64, i64) {
    let settings = StoreSettings {
        path: dir.join("s.db"),
        ..Default::default()
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let end = (crate::sample::now_ns() / S - 20 * 60) * S;
    let start = end - 3 * 3600 * S;
    for (item, room) in [("a", "kitchen"), ("b", "hall")] {
        let samples: Vec<Sample> = (0..3 * 3600)
            .map(|i| Sample {
                measurement: "env".into(),
                tags: BTreeMap::from([("room".into(), room.into())]),
                fields: vec![
                    (
                        "temp".into(),
                        FieldValue::Float(20.0 + ((i * 7919) % 1000) as f64 / 137.0),
                    ),
                    ("n".into(), FieldValue::Int((i * 31) % 97 - 40)),
                ],
                timestamp_ns: start + i * S,
            })
            .collect();
        for chunk in samples.chunks(5000) {
            store.append(item, chunk.to_vec()).await.unwrap();
        }
    }
    store.compact_as_of(crate::sample::now_ns(), 10 * MINUTE).await.unwrap();
    let stats = store.stats().await.unwrap();
    assert!(stats.compacted_samples > 20_000, "the data is compacted: {stats:?}");
    (store, start, end)
}

async fn query(store: &Store, settings: &QuerySettings, q: &str) -> Vec<StatementResult> {
    let statements = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let request = Request {
        statements,
        db: None,
        time_format: TimeFormat::Epoch(1_000_000),
    };
    run(store, settings, request).await.results
}

type Answer = Vec<(BTreeMap<String, String>, Vec<Vec<Value>>)>;

fn rows(results: &[StatementResult]) -> Answer {
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].error, None, "{results:?}");
    results[0]
        .series
        .iter()
        .map(|s| (s.tags.clone(), s.values.clone()))
        .collect()
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

#[tokio::test]
async fn aggregates_from_rollups_equal_those_from_raw_points() {
    let dir = tempfile::tempdir().unwrap();
    let (store, start, end) = compacted_store(dir.path()).await;
    let settings = QuerySettings::default();
    // Edges inside minutes, so both paths also read partial minutes.
    let (from, to) = (
        (start + 90 * MINUTE + 17 * S) / 1_000_000,
        (end - 7 * MINUTE - 3 * S) / 1_000_000,
    );
    let range = format!("time >= {from}ms AND time <= {to}ms");
    let functions =
        "count(temp), sum(n), mean(temp), min(temp), max(n), first(temp), last(n), spread(temp), stddev(temp)";
    for group in [
        "GROUP BY time(1m)",
        "GROUP BY time(5m, 2m), room",
        "GROUP BY time(1h) tz('Asia/Kolkata')",
        "GROUP BY room",
        "",
    ] {
        let rollups = query(
            &store,
            &settings,
            &format!("SELECT {functions} FROM env WHERE {range} {group}"),
        )
        .await;
        let raw = query(
            &store,
            &settings,
            &format!("SELECT {functions} FROM env WHERE {range} AND temp > -1000 {group}"),
        )
        .await;
        let (rollups, raw) = (rows(&rollups), rows(&raw));
        assert!(!rollups.is_empty(), "{group}: some series");
        assert_eq!(rollups.len(), raw.len(), "{group}: the same series");
        for ((tags_a, rows_a), (tags_b, rows_b)) in rollups.iter().zip(&raw) {
            assert_eq!(tags_a, tags_b);
            assert_eq!(rows_a.len(), rows_b.len(), "{group}: the same windows");
            for (a, b) in rows_a.iter().zip(rows_b) {
                assert!(
                    a.iter().zip(b).all(|(x, y)| close(x, y)),
                    "{group}:\n rollups {a:?}\n raw     {b:?}"
                );
            }
        }
    }
    // Counts add up to the points in range: 2 series × every second.
    let counted = rows(&query(&store, &settings, &format!("SELECT count(temp) FROM env WHERE {range}")).await);
    let expected = 2 * ((to - from) / 1000 + 1);
    assert_eq!(counted[0].1[0][1], Value::from(expected));
}

#[tokio::test]
async fn limits_and_expired_raw_data_answer_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (store, start, _) = compacted_store(dir.path()).await;
    let small = QuerySettings {
        max_points: 100,
        max_series: 1,
        ..Default::default()
    };
    let too_many_rows = query(
        &store,
        &small,
        "SELECT mean(temp) FROM env WHERE time > now() - 2h GROUP BY time(1s)",
    )
    .await;
    let error = too_many_rows[0].error.clone().unwrap_or_default();
    assert!(error.contains("query.max_points"), "{error}");
    let raw_rows = query(&store, &small, "SELECT temp FROM env").await;
    assert!(raw_rows[0]
        .error
        .clone()
        .unwrap_or_default()
        .contains("query.max_points"));
    let too_many_series = query(&store, &small, "SELECT last(temp) FROM env GROUP BY room").await;
    assert!(too_many_series[0]
        .error
        .clone()
        .unwrap_or_default()
        .contains("query.max_series"));
    // The first failing statement ends the request.
    let two = query(
        &store,
        &small,
        "SELECT last(temp) FROM env GROUP BY room; SHOW MEASUREMENTS",
    )
    .await;
    assert_eq!(two.len(), 1);

    // With one day of raw retention, median over the range before it cannot be answered
    // from raw points, while mean comes from the rollups.
    drop(store);
    let settings = StoreSettings {
        path: dir.path().join("s.db"),
        retention_days: 1,
        ..Default::default()
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let from = (start - 86_400 * S * 2) / 1_000_000;
    let median = query(
        &store,
        &QuerySettings::default(),
        &format!("SELECT median(temp) FROM env WHERE time > {from}ms"),
    )
    .await;
    let error = median[0].error.clone().unwrap_or_default();
    assert!(error.contains("expired") && error.contains("retention_days"), "{error}");
    let mean = query(
        &store,
        &QuerySettings::default(),
        &format!("SELECT mean(temp) FROM env WHERE time > {from}ms GROUP BY time(1h)"),
    )
    .await;
    assert_eq!(mean[0].error, None);
    assert!(!mean[0].series.is_empty());
}

/// first()/last() over series with points at the same time keep InfluxDB's
/// pick: the larger value (booleans: first() false, last() true), from raw
/// points and from rollups alike.
#[tokio::test]
async fn first_and_last_break_ties_across_series_as_influxdb_does() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        path: dir.path().join("s.db"),
        ..Default::default()
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let end = (crate::sample::now_ns() / MINUTE - 30) * MINUTE;
    let start = end - 10 * MINUTE;
    // Both series sample at the same seconds; "b" is larger at the first
    // point and "a" at the last; the flags differ at both ends.
    for (item, sign) in [("a", 1.0), ("b", -1.0)] {
        let samples: Vec<Sample> = (0..600)
            .map(|i| {
                let x = sign * (i as f64 - 300.0);
                Sample {
                    measurement: "env".into(),
                    tags: BTreeMap::from([("room".into(), item.into())]),
                    fields: vec![
                        ("temp".into(), FieldValue::Float(x)),
                        ("open".into(), FieldValue::Boolean(x > 0.0)),
                        ("state".into(), FieldValue::Text(if x > 0.0 { "z" } else { "a" }.into())),
                    ],
                    timestamp_ns: start + i * S,
                }
            })
            .collect();
        store.append(item, samples).await.unwrap();
    }
    let q = QuerySettings::default();
    let range = format!("time >= {}ms AND time < {}ms", start / 1_000_000, end / 1_000_000);
    let ask = |select: String| {
        let store = &store;
        let q = &q;
        async move { rows(&query(store, q, &select).await)[0].1[0].clone() }
    };
    for pass in ["hot", "compacted"] {
        let floats = ask(format!("SELECT first(temp), last(temp) FROM env WHERE {range}")).await;
        let raw = ask(format!(
            "SELECT first(temp), last(temp) FROM env WHERE {range} AND temp > -1000"
        ))
        .await;
        // b's 300 beats a's -300 at the first second, a's 299 beats b's -299 at the last.
        assert_eq!(
            floats[1..],
            [Value::from(300.0), Value::from(299.0)],
            "{pass}: {floats:?}"
        );
        assert_eq!(
            raw[1..],
            [Value::from(300.0), Value::from(299.0)],
            "{pass}, raw: {raw:?}"
        );
        let flags = ask(format!("SELECT first(open), last(open) FROM env WHERE {range}")).await;
        assert_eq!(flags[1..], [Value::from(false), Value::from(true)], "{pass}: {flags:?}");
        let text = ask(format!("SELECT first(state), last(state) FROM env WHERE {range}")).await;
        assert_eq!(text[1..], [Value::from("z"), Value::from("z")], "{pass}: {text:?}");
        store.compact_as_of(crate::sample::now_ns(), 10 * MINUTE).await.unwrap();
    }
    assert!(
        store.stats().await.unwrap().compacted_samples >= 1200,
        "the second pass read blocks"
    );
}
