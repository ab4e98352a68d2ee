//! Store benchmark (scripts/bench-store): bytes on disk per sample hot and
//! compacted, bytes written per stored sample, read latencies, and ingest at
//! 10,000 items a second while compacting. Prints figures; asserts nothing.
//!
//! usage: cargo run --release -p datalogger --example bench_store [-- quick]

use datalogger::sample::{FieldValue, Sample};
use datalogger::store::{inspect::Inspector, SampleFilter, Store, StoreSettings};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const S: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * S;

/// A load-average-like value: the kernel's exponential average, updated
/// every 5 s, shown with two decimals.
struct LoadAvg {
    value: f64,
    seed: u64,
}

impl LoadAvg {
    fn new(seed: u64) -> Self {
        LoadAvg { value: 1.0, seed }
    }
    fn next(&mut self, i: i64) -> f64 {
        if i % 5 == 0 {
            self.seed = self
                .seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let runnable = ((self.seed >> 33) % 4) as f64;
            self.value = self.value * 0.92 + runnable * 0.08;
        }
        (self.value * 100.0).round() / 100.0
    }
}

fn sample(ts: i64, v: f64) -> Sample {
    Sample {
        measurement: "system".into(),
        tags: BTreeMap::new(),
        fields: vec![("load1".into(), FieldValue::Float(v))],
        timestamp_ns: ts,
    }
}

/// Bytes of the database's pages in use (the file less its free pages; a
/// checkpoint first, so the write-ahead log is in the file).
fn used_bytes(path: &Path) -> u64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(PASSIVE);").unwrap();
    let get = |p: &str| -> u64 { c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0)).unwrap() as u64 };
    (get("page_count") - get("freelist_count")) * get("page_size")
}

fn write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Median of `runs` timings of `f`.
async fn time<F, Fut, T>(runs: usize, mut f: F) -> (Duration, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f().await);
        times.push(t.elapsed());
    }
    times.sort();
    (times[runs / 2], last.unwrap())
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let dir = tempfile::tempdir().unwrap();
    let now = datalogger::sample::now_ns();
    println!("# scripts/bench-store{}", if quick { " quick" } else { "" });

    // 1. Size: 20 load-average series at 1 s over `days`, hot then compacted.
    let days = if quick { 1 } else { 7 };
    let path = dir.path().join("size.db");
    let settings = StoreSettings {
        path: path.clone(),
        retention_days: 0,
        // The store's own compactor stays out of it: compaction is timed below.
        compact_after_minutes: 60 * 24 * 365,
        ..StoreSettings::default()
    };
    let empty = {
        let s = Store::open_with(&settings, &[]).unwrap();
        drop(s);
        used_bytes(&path)
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let start = (now / DAY - days) * DAY;
    let per_series = days * 86_400;
    let series = 20;
    let t = Instant::now();
    for item in 0..series {
        let mut load = LoadAvg::new(item as u64);
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..per_series {
            batch.push(sample(start + i * S, load.next(i)));
            if batch.len() == 10_000 {
                store
                    .append(&format!("load{item}"), std::mem::take(&mut batch))
                    .await
                    .unwrap();
            }
        }
        store.append(&format!("load{item}"), batch).await.unwrap();
    }
    let n = (series * per_series) as f64;
    let wrote = t.elapsed();
    let hot = used_bytes(&path) - empty;
    println!(
        "size: {series} series x {days} d at 1 s = {n} samples, appended in {:.1} s ({:.0}/s)",
        wrote.as_secs_f64(),
        n / wrote.as_secs_f64()
    );
    println!("hot (not yet compacted): {:.1} bytes/sample", hot as f64 / n);
    let t = Instant::now();
    let report = store.compact_as_of(now, 0).await.unwrap();
    println!(
        "compaction: {} samples in {:.1} s, {} blocks written, {} merged",
        report.compacted,
        t.elapsed().as_secs_f64(),
        report.blocks_written,
        report.blocks_merged
    );
    let cold = used_bytes(&path) - empty;
    let (blocks, rollups): (i64, i64) = {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row(
            "SELECT (SELECT SUM(length(data)) FROM blocks), (SELECT SUM(length(data)) FROM rollups)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    println!(
        "compacted: {:.2} bytes/sample on disk in all (blocks' data {:.2}, per-minute rollups' data {:.2})",
        cold as f64 / n,
        blocks as f64 / n,
        rollups as f64 / n
    );

    // 2. Reads on the compacted store.
    let id = store.series(Some("load0"), &SampleFilter::default()).await.unwrap()[0].0;
    let day_from = start + (days - 1) * DAY;
    let (d, points) = time(5, || store.range(id, day_from, day_from + DAY - 1)).await;
    println!("one series, one day raw ({} points): {}", points.unwrap().len(), ms(d));
    // What GET /series/data reads for raw values: one field, up to its point cap.
    let hour = 3_600 * S;
    let (d, points) = time(5, || {
        store.field_range(id, "load1", day_from, day_from + hour - 1, 10_000)
    })
    .await;
    let points = points.unwrap().map_or(0, |p| p.len());
    println!("one field of one series, one hour raw ({points} points): {}", ms(d));
    let every = SampleFilter::default();
    let (d, series) = time(5, || store.series_fields(None, &every)).await;
    println!("every series with its fields ({}): {}", series.unwrap().len(), ms(d));
    let (d, buckets) = time(5, || store.buckets(id, "load1", start, start + days * DAY - 1, 60 * S)).await;
    println!(
        "one series, {days} d in 1-minute buckets ({} buckets): {}",
        buckets.unwrap().len(),
        ms(d)
    );
    let all = SampleFilter::default();
    let (d, recent) = time(5, || store.recent("load0", &all, 100)).await;
    println!(
        "newest 100 samples of an item (compacted): {} ({})",
        ms(d),
        recent.unwrap().len()
    );
    drop(store);

    // 3. 10,000 items at 1 s for `secs`, compacting every 10 s meanwhile.
    let items = 10_000;
    let secs = if quick { 20 } else { 60 };
    let path = dir.path().join("ingest.db");
    let settings = StoreSettings {
        path: path.clone(),
        retention_days: 0,
        ..StoreSettings::default()
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let names: Vec<String> = (0..items).map(|i| format!("i{i}")).collect();
    let written_before = write_bytes();
    let mut late = Vec::new();
    let mut stored = 0;
    let mut loads: Vec<LoadAvg> = (0..items).map(|i| LoadAvg::new(i as u64)).collect();
    let first_tick = (datalogger::sample::now_ns() / S + 1) * S;
    let compactor = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                // Everything older than 5 s counts as old enough here.
                let _ = store.compact_as_of(datalogger::sample::now_ns(), 5 * S).await;
            }
        })
    };
    for tick in 0..secs {
        let ts = first_tick + tick * S;
        let wait = ts - datalogger::sample::now_ns();
        if wait > 0 {
            tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
        }
        let appends: Vec<_> = names
            .iter()
            .zip(loads.iter_mut())
            .map(|(name, load)| {
                let store = store.clone();
                let s = sample(ts, load.next(tick));
                let name = name.clone();
                tokio::spawn(async move { store.append(&name, vec![s]).await.unwrap().count() })
            })
            .collect();
        for a in appends {
            stored += a.await.unwrap();
        }
        late.push(datalogger::sample::now_ns() - ts);
    }
    compactor.abort();
    let (d, latest) = time(5, || store.latest()).await;
    println!("latest sample of each of {} series: {}", latest.unwrap().len(), ms(d));
    let written = write_bytes() - written_before;
    let skipped = late.iter().filter(|l| **l > S).count();
    late.sort();
    println!(
        "ingest: {items} items at 1 s for {secs} s: {:.0} samples stored/s, ticks committed later than 1 s: {skipped}, median commit {:.0} ms after the tick, max {:.0} ms",
        stored as f64 / secs as f64,
        late[late.len() / 2] as f64 / 1e6,
        late[late.len() - 1] as f64 / 1e6
    );
    println!(
        "bytes written per stored sample (incl. WAL and compaction): {:.1}",
        written as f64 / stored as f64
    );
    if let Ok(Some(i)) = Inspector::open(&path) {
        let (hot, cold) = i.counts().unwrap();
        println!("  at the end: {hot} hot, {cold} compacted");
    }
    drop(store);

    // 4. 20 items at 1 s: bytes written per sample, per commit interval.
    for interval in [0u32, 1000, 5000] {
        let path = dir.path().join(format!("small-{interval}.db"));
        let settings = StoreSettings {
            path,
            retention_days: 0,
            commit_interval_ms: interval,
            ..StoreSettings::default()
        };
        let store = Store::open_with(&settings, &[]).unwrap();
        let secs = if quick { 10 } else { 30 };
        let before = write_bytes();
        let mut pending = Vec::new();
        let first_tick = (datalogger::sample::now_ns() / S + 1) * S;
        for tick in 0..secs {
            let ts = first_tick + tick * S;
            let wait = ts - datalogger::sample::now_ns();
            if wait > 0 {
                tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
            }
            // Acknowledgements wait for the commit; ticks do not wait for them.
            pending.extend((0..20).map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .append(&format!("i{i}"), vec![sample(ts, 1.0)])
                        .await
                        .unwrap()
                        .count()
                })
            }));
        }
        let mut stored = 0;
        for a in pending {
            stored += a.await.unwrap();
        }
        println!(
            "20 items at 1 s, commit_interval_ms {interval}: {:.0} bytes written per stored sample",
            (write_bytes() - before) as f64 / stored as f64
        );
    }
}
