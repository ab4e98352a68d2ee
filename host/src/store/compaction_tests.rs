//! The store across its forms: hot rows, compacted blocks, merged days,
//! rollups, retention, and the migration from the first release's file.

use super::*;
use crate::sample::FieldValue;
use std::collections::BTreeMap;

const S: i64 = 1_000_000_000;
/// Midnight UTC 30 days ago: a past day (so its blocks are merged), within
/// the rollups' retention.
fn t0() -> i64 {
    let day = 86_400 * S;
    (crate::sample::now_ns() / day - 30) * day
}

fn sample(ts: i64, i: i64) -> Sample {
    Sample {
        measurement: "m".into(),
        tags: BTreeMap::from([("room".into(), "kök ✓".into())]),
        fields: vec![
            (
                "v".into(),
                FieldValue::Float(if i % 5 == 0 { -0.0 } else { (i % 13) as f64 * 0.25 }),
            ),
            (
                "i".into(),
                FieldValue::Int(if i % 2 == 0 { i64::MIN } else { i64::MAX - i }),
            ),
            ("u".into(), FieldValue::Uint(u64::MAX - i as u64)),
            ("b".into(), FieldValue::Boolean(i % 3 == 0)),
            (
                "s".into(),
                FieldValue::Text(if i % 4 == 0 {
                    String::new()
                } else {
                    format!("état {}", i % 3)
                }),
            ),
        ],
        timestamp_ns: ts,
    }
}

fn bits(samples: &[Sample]) -> Vec<String> {
    // Floats by their bits, so -0.0 and 0.0 differ.
    samples
        .iter()
        .map(|s| {
            let fields: Vec<String> = s
                .fields
                .iter()
                .map(|(k, v)| match v {
                    FieldValue::Float(f) => format!("{k}=f{:x}", f.to_bits()),
                    other => format!("{k}={other:?}"),
                })
                .collect();
            format!("{} {} {:?} {}", s.timestamp_ns, s.measurement, s.tags, fields.join(","))
        })
        .collect()
}

fn store_in(dir: &tempfile::TempDir, outputs: &[&str]) -> Store {
    let settings = StoreSettings {
        path: dir.path().join("s.db"),
        retention_days: 0,
        ..StoreSettings::default()
    };
    Store::open_with(&settings, &outputs.iter().map(|o| o.to_string()).collect::<Vec<_>>()).unwrap()
}

fn counts(dir: &tempfile::TempDir) -> (u64, u64) {
    inspect::Inspector::open(&dir.path().join("s.db"))
        .unwrap()
        .unwrap()
        .counts()
        .unwrap()
}

#[tokio::test]
async fn every_type_survives_compaction_and_merging_exactly_and_duplicates_stay_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir, &[]);
    let first: Vec<Sample> = (0..300).map(|i| sample(t0() + i * S, i)).collect();
    assert_eq!(store.append("it", first.clone()).await.unwrap().count(), 300);
    let hot = store.recent("it", &SampleFilter::default(), 1000).await.unwrap();

    let report = store.compact().await.unwrap();
    assert_eq!((report.compacted, report.blocks_written), (300, 1));
    assert_eq!(counts(&dir), (0, 300));
    let cold = store.recent("it", &SampleFilter::default(), 1000).await.unwrap();
    assert_eq!(bits(&cold), bits(&hot), "hot and compacted read the same");
    let mut oldest_first = first.clone();
    oldest_first.reverse();
    assert_eq!(bits(&cold), bits(&oldest_first));

    // Re-sent after compaction, with other values: still kept once.
    let resent: Vec<Sample> = (0..300).step_by(7).map(|i| sample(t0() + i * S, i + 1)).collect();
    assert!(store.append("it", resent).await.unwrap().stored.iter().all(|s| !s));

    // A second block of the same (past) day, then merged into one.
    let second: Vec<Sample> = (300..400).map(|i| sample(t0() + i * S, i)).collect();
    store.append("it", second.clone()).await.unwrap();
    let report = store.compact().await.unwrap();
    assert_eq!((report.compacted, report.blocks_merged), (100, 2));
    assert_eq!(counts(&dir), (0, 400));
    let series = store.series(Some("it"), &SampleFilter::default()).await.unwrap();
    assert_eq!(series.len(), 1);
    let all = store.range(series[0].0, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!(bits(&all), bits(&[first, second].concat()));
    assert!(
        store
            .append("it", vec![sample(t0() + 350 * S, 1)])
            .await
            .unwrap()
            .stored
            == [false]
    );

    // The filter's time range and limit apply to compacted data too.
    let filter = SampleFilter {
        from_ns: Some(t0() + 10 * S),
        to_ns: Some(t0() + 19 * S),
        ..SampleFilter::default()
    };
    let some = store.recent("it", &filter, 5).await.unwrap();
    let ts: Vec<i64> = some.iter().map(|s| (s.timestamp_ns - t0()) / S).collect();
    assert_eq!(ts, [19, 18, 17, 16, 15]);
    let other_room = SampleFilter {
        tags: BTreeMap::from([("room".into(), "hall".into())]),
        ..SampleFilter::default()
    };
    assert!(store.recent("it", &other_room, 5).await.unwrap().is_empty());
}

#[tokio::test]
async fn rows_an_output_has_not_delivered_stay_hot_and_readable_by_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir, &["influx"]);
    store
        .append("it", (0..10).map(|i| sample(t0() + i * S, i)).collect())
        .await
        .unwrap();
    assert_eq!(
        store.compact().await.unwrap().compacted,
        0,
        "the output has delivered nothing"
    );
    let rows = store.read_after(0, 100).await.unwrap();
    store.set_position("influx", rows[3].seq).await.unwrap();
    assert_eq!(store.compact().await.unwrap().compacted, 4);
    let rest = store.read_after(rows[3].seq, 100).await.unwrap();
    assert_eq!(rest, rows[4..].to_vec(), "undelivered rows are read exactly as before");
    assert_eq!(store.backlog(rows[3].seq).await.unwrap().0, 6);
    assert_eq!(
        store.recent("it", &SampleFilter::default(), 100).await.unwrap().len(),
        10
    );
}

#[tokio::test]
async fn minute_buckets_come_from_rollups_and_equal_the_raw_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir, &[]);
    // Two hours at 1 s, with a sample at a minute's last second too.
    let samples: Vec<Sample> = (0..7200).map(|i| sample(t0() + i * S, i)).collect();
    store.append("it", samples.clone()).await.unwrap();
    let id = store.series(Some("it"), &SampleFilter::default()).await.unwrap()[0].0;
    let ten_min = 600 * S;
    let before = store.buckets(id, "u", t0(), t0() + 7199 * S, ten_min).await.unwrap();
    let raw_30s = store.buckets(id, "v", t0(), t0() + 7199 * S, 30 * S).await.unwrap();
    store.compact().await.unwrap();
    assert_eq!(counts(&dir), (0, 7200));
    let after = store.buckets(id, "u", t0(), t0() + 7199 * S, ten_min).await.unwrap();
    assert_eq!(after.len(), 12);
    for ((b1, a1), (b2, a2)) in before.iter().zip(&after) {
        assert_eq!(b1, b2);
        assert_eq!(
            (a1.count, a1.min, a1.max, a1.first, a1.last),
            (a2.count, a2.min, a2.max, a2.first, a2.last)
        );
        assert!((a1.sum - a2.sum).abs() <= a1.sum.abs() * 1e-12);
    }
    assert_eq!(after[0].1.count, 600);
    assert_eq!(after[0].1.first, (u64::MAX) as f64);
    // Not whole minutes: from the raw blocks, the same as from hot rows.
    let raw_after = store.buckets(id, "v", t0(), t0() + 7199 * S, 30 * S).await.unwrap();
    assert_eq!(raw_after, raw_30s);
    assert_eq!(raw_after.len(), 240);
    let expected_mean = samples[..30]
        .iter()
        .map(|s| match s.fields[0].1 {
            FieldValue::Float(f) => f,
            _ => unreachable!(),
        })
        .sum::<f64>()
        / 30.0;
    assert!((raw_after[0].1.mean() - expected_mean).abs() < 1e-12);
}

#[tokio::test]
async fn retention_prunes_raw_blocks_but_keeps_rollups_until_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        path: dir.path().join("s.db"),
        retention_days: 1,
        rollup_retention_days: 3,
        ..StoreSettings::default()
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let now = crate::sample::now_ns();
    let t = rollup::minute_of(now) - 3600 * S;
    store
        .append("it", (0..120).map(|i| sample(t + i * S, i)).collect())
        .await
        .unwrap();
    store.append("other", vec![sample(now, 1)]).await.unwrap();
    let id = store.series(Some("it"), &SampleFilter::default()).await.unwrap()[0].0;
    let day = 86_400 * S;
    let r = store.compact_as_of(now, 0).await.unwrap();
    assert_eq!(r.compacted, 120, "the other item's sample is not a minute old");
    // Two days on: the raw block is past retention, the rollups are not.
    let r = store.compact_as_of(now + 2 * day, 0).await.unwrap();
    assert_eq!((r.pruned_blocks, r.pruned_rollups), (2, 0), "{r:?}");
    assert!(store.range(id, i64::MIN, i64::MAX).await.unwrap().is_empty());
    let minutes = store.buckets(id, "v", t, t + 119 * S, 60 * S).await.unwrap();
    assert_eq!(minutes.iter().map(|(_, a)| a.count).collect::<Vec<_>>(), [60, 60]);
    let r = store.compact_as_of(now + 5 * day, 0).await.unwrap();
    assert!(r.pruned_rollups >= 5, "{r:?}");
    assert!(store.buckets(id, "v", t, t + 119 * S, 60 * S).await.unwrap().is_empty());
}

/// `tests/fixtures/store-v1.db` was written by the release before the compact
/// store (four items; output "vm" delivered 25 of 37, "never" nothing).
#[tokio::test]
async fn a_first_release_store_is_migrated_with_every_sample_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/store-v1.db"),
        &path,
    )
    .unwrap();
    let old: Vec<(i64, String, String, String, String, String, i64)> = {
        let c = Connection::open(&path).unwrap();
        let mut stmt = c
            .prepare("SELECT seq, item, measurement, tags, fields, field_types, ts_ns FROM samples ORDER BY seq")
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(old.len(), 37);
    let settings = StoreSettings {
        path: path.clone(),
        retention_days: 0,
        ..StoreSettings::default()
    };
    let store = Store::open_with(&settings, &["vm".into(), "never".into()]).unwrap();
    let rows = store.read_after(0, 1000).await.unwrap();
    assert_eq!(rows.len(), old.len());
    for (row, (seq, item, measurement, tags, fields, types, ts)) in rows.iter().zip(&old) {
        assert_eq!(
            (row.seq, &row.item, &row.sample.measurement, row.sample.timestamp_ns),
            (*seq, item, measurement, *ts)
        );
        assert_eq!(serde_json::to_string(&row.sample.tags).unwrap(), *tags);
        let json: serde_json::Value = serde_json::from_str(fields).unwrap();
        let letters: String = row
            .sample
            .fields
            .iter()
            .map(|(_, v)| match v {
                FieldValue::Float(_) => 'f',
                FieldValue::Int(_) => 'i',
                FieldValue::Uint(_) => 'u',
                FieldValue::Boolean(_) => 'b',
                FieldValue::Text(_) => 's',
            })
            .collect();
        assert_eq!(&letters, types, "seq {seq}");
        for (name, value) in &row.sample.fields {
            assert_eq!(json[name], value.to_json(), "seq {seq} field {name}");
        }
    }
    assert_eq!(store.position("vm").await.unwrap(), 25);
    assert_eq!(store.position("never").await.unwrap(), 0);
    // New samples carry on after the old numbers.
    store.append("load1", vec![sample(t0(), 1)]).await.unwrap();
    let next = store.read_after(37, 10).await.unwrap();
    assert_eq!(next.iter().map(|r| r.seq).collect::<Vec<_>>(), [38]);
    drop(store);
    // Opening again is a no-op: nothing left to migrate, nothing lost.
    let store = Store::open_with(&settings, &[]).unwrap();
    assert_eq!(store.read_after(0, 1000).await.unwrap().len(), 38);
}
