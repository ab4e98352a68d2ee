//! Query benchmark (scripts/bench-query): the same data in the logger's store
//! and in a real InfluxDB 1.6, the same InfluxQL queries over HTTP against
//! both, side by side. Prints a Markdown table; asserts nothing.
//!
//! The store is built through the library (appended, then compacted as the
//! logger's compactor would, so old data sits in blocks and rollups and only
//! the last minutes are hot) and served by the release binary; InfluxDB gets
//! the same points as line protocol in the `default` schema the sinks write.
//!
//! usage: cargo run --release -p datalogger --example bench_query --
//!        --work DIR --binary target/release/datalogger [--series 100] [--days 7] [--runs 10]
//! A DIR that already holds a built data set (`built.json`) is reused.

use datalogger::sample::{FieldValue, Sample};
use datalogger::store::{Store, StoreSettings};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const S: i64 = 1_000_000_000;
const DB: &str = "bench";
const MEASUREMENT: &str = "sensor";
/// Uncompacted, as in a running logger (its default `compact_after_minutes`).
const HOT_MINUTES: i64 = 10;

struct Args {
    series: u32,
    days: i64,
    runs: usize,
    work: PathBuf,
    binary: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        series: 100,
        days: 7,
        runs: 10,
        work: PathBuf::new(),
        binary: PathBuf::from("target/release/datalogger"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--series" => a.series = value.parse().expect("--series N"),
            "--days" => a.days = value.parse().expect("--days N"),
            "--runs" => a.runs = value.parse().expect("--runs N"),
            "--work" => a.work = value.into(),
            "--binary" => a.binary = value.into(),
            _ => panic!("unknown option {flag}"),
        }
    }
    assert!(!a.work.as_os_str().is_empty(), "--work DIR is required");
    a
}

fn item(series: u32) -> String {
    format!("s{series}")
}

fn room(series: u32) -> String {
    format!("r{}", series % 10)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

/// Uniform in [-1, 1), fixed by (series, n).
fn noise(series: u32, n: i64) -> f64 {
    let h = splitmix((u64::from(series) << 40) ^ n as u64);
    (h >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// A sensor-like reading of `series` at second `t`, a pure function so both
/// sides get the same points in any order: a daily cycle, a slow drift
/// (noise interpolated over 10 minutes), a little jitter, and the sensor's
/// resolution (0.01 or 0.1).
fn value(series: u32, t: i64) -> f64 {
    let (base, daily, drift, jitter, step) = match series % 4 {
        0 => (21.0, 3.0, 1.5, 0.05, 0.01),    // temperature, °C
        1 => (45.0, 10.0, 5.0, 0.3, 0.1),     // relative humidity, %
        2 => (1013.0, 1.5, 4.0, 0.05, 0.01),  // pressure, hPa
        _ => (350.0, 200.0, 80.0, 15.0, 0.1), // power, W
    };
    let phase = f64::from(series) * 0.7;
    let day = (t.rem_euclid(86_400) as f64 / 86_400.0) * std::f64::consts::TAU;
    let (slot, within) = (t.div_euclid(600), t.rem_euclid(600) as f64 / 600.0);
    let slow = noise(series, slot) * (1.0 - within) + noise(series, slot + 1) * within;
    let v = base + daily * (day + phase).sin() + drift * slow + jitter * noise(series, t + (1 << 36));
    (v / step).round() * step
}

/// Prints a progress line to stderr at once.
macro_rules! say {
    ($($t:tt)*) => {{ eprintln!($($t)*); let _ = std::io::stderr().flush(); }};
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Bytes a folder's or file's blocks take on disk.
fn disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| disk_bytes(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.blocks() * 512
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
/// Its pid goes into `<work>/pids` so the script's trap can stop it too.
struct Server {
    child: Child,
    name: &'static str,
}

impl Server {
    fn start(name: &'static str, work: &Path, command: &mut Command) -> Server {
        let log = std::fs::File::create(work.join(format!("{name}.log"))).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut pids = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work.join("pids"))
            .unwrap();
        writeln!(pids, "{}", child.id()).unwrap();
        Server { child, name }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds it has used.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        say!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_http(client: &reqwest::Client, url: &str, name: &str) {
    for _ in 0..600 {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} did not answer {url} within 60 s");
}

fn influx_config(dir: &Path, http_port: u16) -> PathBuf {
    let rpc_port = std::iter::repeat_with(free_port).find(|p| *p != http_port).unwrap();
    let d = dir.display();
    // InfluxDB's defaults, except that a shard with no writes for 30 s is
    // snapshotted and fully compacted (the defaults wait 10 min and 4 h):
    // queried after that, it shows its steady state for old data.
    let config = format!(
        r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "30s"
  compact-full-write-cold-duration = "30s"
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
[monitor]
  store-enabled = false
"#
    );
    let path = dir.join("influxdb.conf");
    std::fs::write(&path, config).unwrap();
    path
}

fn start_influx(args: &Args, port: u16) -> Server {
    let dir = args.work.join("influxdb");
    std::fs::create_dir_all(&dir).unwrap();
    let config = influx_config(&dir, port);
    Server::start(
        "influxd",
        &args.work,
        Command::new("influxd").arg("-config").arg(config),
    )
}

/// The logger on the built store; `hot_minutes` keeps the hot tail as built
/// when the data set is older than a run (a reused `--work`).
fn start_logger(args: &Args, port: u16, hot_minutes: i64) -> Server {
    let plugins = args.work.join("no-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let config = json!({
        "log_level": "warn",
        "plugins_dir": plugins,
        "cache_dir": args.work.join("cache"),
        "api": {"listen": format!("127.0.0.1:{port}")},
        "store": {"path": args.work.join("store.db"), "compact_after_minutes": hot_minutes},
        "items": [],
    });
    let path = args.work.join("logger.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    Server::start(
        "datalogger",
        &args.work,
        Command::new(&args.binary).arg("run").arg("--config").arg(path),
    )
}

/// Bytes of a SQLite database's pages in use (its file less free pages).
fn used_bytes(path: &Path) -> u64 {
    let c = rusqlite::Connection::open(path).unwrap();
    let get = |p: &str| -> u64 { c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0)).unwrap() as u64 };
    (get("page_count") - get("freelist_count")) * get("page_size")
}

/// The store: `series` items of one float field at 1 s over [start, end),
/// appended a day at a time and compacted after each day as the logger's
/// compactor would (it runs every minute; the blocks and rollups it leaves
/// are the same), the last `HOT_MINUTES` left hot. The file keeps the free
/// pages of a day's hot rows, so the pages in use are reported too.
async fn build_store(args: &Args, start: i64, end: i64) -> Value {
    let path = args.work.join("store.db");
    let settings = StoreSettings {
        path: path.clone(),
        retention_days: 0,
        rollup_retention_days: 0,
        // The store's own compactor stays out of it: compaction runs below.
        compact_after_minutes: 60 * 24 * 365,
        ..StoreSettings::default()
    };
    let store = Store::open_with(&settings, &[]).unwrap();
    let (mut append_time, mut compact_time) = (Duration::ZERO, Duration::ZERO);
    let mut from = start;
    while from < end {
        let to = (from + 86_400).min(end);
        let t = Instant::now();
        // Batches of up to 10,000 samples of one item, four appends in flight.
        let store_ref = &store;
        let batches =
            (0..args.series).flat_map(|s| (from..to).step_by(10_000).map(move |b| (s, b, (b + 10_000).min(to))));
        futures::stream::iter(batches)
            .map(|(s, b, e)| async move {
                let tags = BTreeMap::from([("room".to_string(), room(s))]);
                let samples = (b..e)
                    .map(|t| Sample {
                        measurement: MEASUREMENT.into(),
                        tags: tags.clone(),
                        fields: vec![("value".into(), FieldValue::Float(value(s, t)))],
                        timestamp_ns: t * S,
                    })
                    .collect();
                store_ref.append(&item(s), samples).await.unwrap();
            })
            .buffer_unordered(4)
            .collect::<()>()
            .await;
        append_time += t.elapsed();
        let t = Instant::now();
        let (now, hot) = if to == end {
            (end * S, HOT_MINUTES * 60 * S)
        } else {
            (to * S, 0)
        };
        store.compact_as_of(now, hot).await.unwrap();
        compact_time += t.elapsed();
        say!(
            "store: {:.0} of {} days appended and compacted ({} + {})",
            (to - start) as f64 / 86_400.0,
            args.days,
            secs(append_time),
            secs(compact_time)
        );
        from = to;
    }
    let stats = store.stats().await.unwrap();
    drop(store);
    json!({
        "append_s": append_time.as_secs_f64(),
        "compact_s": compact_time.as_secs_f64(),
        "hot": stats.hot_samples,
        "compacted": stats.compacted_samples,
        "blocks": stats.blocks,
        "rollup_blocks": stats.rollup_blocks,
        "disk_bytes": disk_bytes(&path) + disk_bytes(&path.with_extension("db-wal")),
        "used_bytes": used_bytes(&path),
    })
}

/// InfluxDB: the same points as line protocol (precision s), in time order
/// across series as a logger forwards them, 5,000 lines a request, four
/// requests in flight; then until its compactions are done.
async fn build_influx(
    args: &Args,
    client: &reqwest::Client,
    influx: &Server,
    url: &str,
    start: i64,
    end: i64,
) -> Value {
    let form = [("q", format!("CREATE DATABASE {DB}"))];
    let r = client.post(format!("{url}/query")).form(&form).send().await.unwrap();
    assert!(r.status().is_success(), "CREATE DATABASE: {}", r.status());
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(16);
    let series = args.series;
    let producer = std::thread::spawn(move || {
        let keys: Vec<String> = (0..series)
            .map(|s| format!("{MEASUREMENT},item={},room={}", item(s), room(s)))
            .collect();
        let mut body = String::with_capacity(300_000);
        let mut lines = 0;
        for t in start..end {
            if t > start && (t - start) % 86_400 == 0 {
                say!(
                    "influxdb: {} of {} days sent",
                    (t - start) / 86_400,
                    (end - start) / 86_400
                );
            }
            for (s, key) in keys.iter().enumerate() {
                use std::fmt::Write as _;
                writeln!(body, "{key} value={} {}", value(s as u32, t), t).unwrap();
                lines += 1;
            }
            if lines >= 5_000 {
                tx.blocking_send(std::mem::take(&mut body)).unwrap();
                lines = 0;
            }
        }
        if lines > 0 {
            tx.blocking_send(body).unwrap();
        }
    });
    let write_url = format!("{url}/write?db={DB}&precision=s");
    let t = Instant::now();
    let cpu_before = influx.cpu_seconds();
    tokio_stream_of(rx)
        .map(|body| {
            let (client, write_url) = (client.clone(), write_url.clone());
            async move {
                // A busy InfluxDB may answer 500 (cache full, timeout): retried.
                for attempt in 1.. {
                    match client.post(&write_url).body(body.clone()).send().await {
                        Ok(r) if r.status().as_u16() == 204 => return,
                        Ok(r) if attempt < 120 => {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            say!("influxdb write: {status} {text}; retrying");
                        }
                        Err(e) if attempt < 120 => say!("influxdb write: {e}; retrying"),
                        other => panic!("influxdb write failed 120 times: {other:?}"),
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
        .buffer_unordered(4)
        .collect::<()>()
        .await;
    producer.join().unwrap();
    let load = t.elapsed();
    let load_cpu = influx.cpu_seconds() - cpu_before;
    say!(
        "influxdb: {} points written in {}",
        (end - start) * i64::from(args.series),
        secs(load)
    );
    // Settled: 45 s without writes (its cold durations are 30 s), then until
    // it uses under 2 % of a core for 5 s in a row (at most 10 minutes).
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(45)).await;
    let mut quiet = 0;
    let mut last = influx.cpu_seconds();
    while quiet < 5 && t.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = influx.cpu_seconds();
        quiet = if now - last < 0.02 { quiet + 1 } else { 0 };
        last = now;
    }
    let settle = t.elapsed();
    say!("influxdb: settled (compactions done) after {}", secs(settle));
    json!({
        "load_s": load.as_secs_f64(),
        "load_cpu_s": load_cpu,
        "settle_s": settle.as_secs_f64(),
        "disk_bytes": disk_bytes(&args.work.join("influxdb")),
    })
}

fn tokio_stream_of<T>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// One query: its answer's row count, or its error.
async fn query(client: &reqwest::Client, base: &str, q: &str) -> Result<usize, String> {
    let url = url::Url::parse_with_params(&format!("{base}/query"), &[("db", DB), ("epoch", "ms"), ("q", q)]).unwrap();
    let r = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_slice(&body).map_err(|_| format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))?;
    if let Some(e) = v.get("error") {
        return Err(format!("HTTP {status}: {e}"));
    }
    let mut rows = 0;
    for result in v["results"].as_array().into_iter().flatten() {
        if let Some(e) = result.get("error") {
            return Err(e.as_str().unwrap_or_default().to_string());
        }
        for series in result["series"].as_array().into_iter().flatten() {
            rows += series["values"].as_array().map_or(0, Vec::len);
        }
    }
    Ok(rows)
}

struct Timing {
    median_ms: f64,
    p90_ms: f64,
    rows: Result<usize, String>,
}

fn summarize(mut times: Vec<f64>, rows: Result<usize, String>) -> Timing {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    Timing {
        median_ms: if times.len() % 2 == 1 {
            times[times.len() / 2]
        } else {
            (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
        },
        p90_ms: at(0.9),
        rows,
    }
}

fn cell(t: &Timing) -> String {
    match &t.rows {
        Ok(_) => format!("{:.1} / {:.1}", t.median_ms, t.p90_ms),
        Err(e) => format!("error: {}", e.chars().take(80).collect::<String>()),
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(String::new(), |kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, {mem}, Linux {}, load average {} at the start",
        kernel.trim(),
        load.join(" ")
    )
}

fn influx_version() -> String {
    Command::new("influxd")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let args = args();
    let machine = machine();
    std::fs::create_dir_all(&args.work).unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();

    let (influx_port, logger_port) = (free_port(), free_port());
    let influx_url = format!("http://127.0.0.1:{influx_port}");
    let logger_url = format!("http://127.0.0.1:{logger_port}");
    let influx = start_influx(&args, influx_port);
    wait_http(&client, &format!("{influx_url}/ping"), "influxd").await;

    // 1. Both data sets (or the ones a previous run left in --work).
    let built_path = args.work.join("built.json");
    let built: Value = match std::fs::read(&built_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(b) => {
            let b: Value = b;
            assert!(
                b["series"] == args.series && b["days"] == args.days,
                "{} was built with other --series/--days",
                args.work.display()
            );
            say!("reusing the data sets built {} in {}", b["date"], args.work.display());
            b
        }
        None => {
            // Samples at every second of [start, end); the newest is a second old.
            let end = datalogger::sample::now_ns() / S;
            let start = end - args.days * 86_400;
            say!(
                "building the store: {} series x {} days at 1 s = {} samples",
                args.series,
                args.days,
                (end - start) * i64::from(args.series)
            );
            // Both at once: on a shared 2-core machine one after the other
            // was on course for over an hour at full scale. Each side's time is its own,
            // with the other building beside it.
            let timed = |f| async move {
                let t = Instant::now();
                let v = f.await;
                (v, t.elapsed().as_secs_f64())
            };
            let ((store, store_total), (influx_built, influx_total)) = tokio::join!(
                timed(Box::pin(build_store(&args, start, end))
                    as std::pin::Pin<Box<dyn std::future::Future<Output = Value>>>),
                timed(Box::pin(build_influx(&args, &client, &influx, &influx_url, start, end))),
            );
            let b = json!({
                "series": args.series, "days": args.days, "start_s": start, "end_s": end,
                "date": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
                "machine": machine,
                "store": store, "store_total_s": store_total,
                "influx": influx_built, "influx_total_s": influx_total,
            });
            std::fs::write(&built_path, serde_json::to_string_pretty(&b).unwrap()).unwrap();
            b
        }
    };
    let end = built["end_s"].as_i64().unwrap();

    let age_minutes = (datalogger::sample::now_ns() / S - end) / 60;
    let logger = start_logger(&args, logger_port, HOT_MINUTES + age_minutes + 1);
    wait_http(&client, &format!("{logger_url}/health"), "datalogger").await;

    // 2. The queries, with absolute times as Grafana sends them; "now" is the
    // second after the newest sample.
    let now_ms = end * 1000;
    let ago = |secs: i64| now_ms - secs * 1000;
    let x = item(args.series / 2);
    let window = |secs: i64| format!("time >= {}ms AND time <= {now_ms}ms", ago(secs));
    let days = args.days;
    let queries: Vec<(String, String)> = vec![
        (
            "mean, 1 series, 24 h, GROUP BY time(1m)".into(),
            format!(
                "SELECT mean(\"value\") FROM \"{MEASUREMENT}\" WHERE \"item\" = '{x}' AND {} GROUP BY time(1m)",
                window(86_400)
            ),
        ),
        (
            format!("mean, 1 series, {days} d, GROUP BY time(1m)"),
            format!(
                "SELECT mean(\"value\") FROM \"{MEASUREMENT}\" WHERE \"item\" = '{x}' AND {} GROUP BY time(1m)",
                window(days * 86_400)
            ),
        ),
        ("SHOW TAG VALUES WITH KEY = \"item\"".into(), "SHOW TAG VALUES WITH KEY = \"item\"".into()),
        ("SHOW MEASUREMENTS (Grafana's health check)".into(), "SHOW measurements".into()),
        (
            format!("mean, all {} series, 1 h, GROUP BY time(1m), \"item\"", args.series),
            format!(
                "SELECT mean(\"value\") FROM \"{MEASUREMENT}\" WHERE {} GROUP BY time(1m), \"item\" fill(null)",
                window(3_600)
            ),
        ),
        (
            "last, 1 series, 24 h".into(),
            format!(
                "SELECT last(\"value\") FROM \"{MEASUREMENT}\" WHERE \"item\" = '{x}' AND {}",
                window(86_400)
            ),
        ),
        (
            "raw, 1 series, 1 h".into(),
            format!(
                "SELECT \"value\" FROM \"{MEASUREMENT}\" WHERE \"item\" = '{x}' AND {}",
                window(3_600)
            ),
        ),
        (
            "max, 1 series, 24 h, GROUP BY time(1m) (newest 10 min hot)".into(),
            format!(
                "SELECT max(\"value\") FROM \"{MEASUREMENT}\" WHERE \"item\" = '{x}' AND {} GROUP BY time(1m) fill(none)",
                window(86_400)
            ),
        ),
    ];

    let mut rows_out = Vec::new();
    for (name, q) in &queries {
        say!("query: {name}");
        let mut times = (Vec::new(), Vec::new());
        // One warm-up each, then alternating so a burst of load on the
        // shared machine hits both sides alike.
        let mut rows = (
            query(&client, &logger_url, q).await,
            query(&client, &influx_url, q).await,
        );
        for _ in 0..args.runs {
            for (side, url) in [(0, &logger_url), (1, &influx_url)] {
                let t = Instant::now();
                let r = query(&client, url, q).await;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if side == 0 {
                    times.0.push(ms);
                    rows.0 = r;
                } else {
                    times.1.push(ms);
                    rows.1 = r;
                }
            }
        }
        rows_out.push((name, q, summarize(times.0, rows.0), summarize(times.1, rows.1)));
    }
    drop(logger);
    drop(influx);

    // 3. The report.
    let store = &built["store"];
    let ix = &built["influx"];
    let points = (built["end_s"].as_i64().unwrap() - built["start_s"].as_i64().unwrap()) * i64::from(args.series);
    println!(
        "\n# scripts/bench-query --series {} --days {} --runs {}",
        args.series, args.days, args.runs
    );
    println!(
        "data built {}; queried {}",
        built["date"].as_str().unwrap_or("?"),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("machine: {}", built["machine"].as_str().unwrap_or(&machine));
    println!("InfluxDB: {}", influx_version());
    println!();
    println!("| | logger (store) | InfluxDB 1.6 |");
    println!("|---|---|---|");
    println!("| points | {points} | {points} |");
    println!(
        "| building (both at once) | {} (append {}, compaction {}) | {} (writes {}, using {:.0} s of CPU; then {} until its compactions finished) |",
        secs(Duration::from_secs_f64(built["store_total_s"].as_f64().unwrap_or(0.0))),
        secs(Duration::from_secs_f64(store["append_s"].as_f64().unwrap_or(0.0))),
        secs(Duration::from_secs_f64(store["compact_s"].as_f64().unwrap_or(0.0))),
        secs(Duration::from_secs_f64(built["influx_total_s"].as_f64().unwrap_or(0.0))),
        secs(Duration::from_secs_f64(ix["load_s"].as_f64().unwrap_or(0.0))),
        ix["load_cpu_s"].as_f64().unwrap_or(0.0),
        secs(Duration::from_secs_f64(ix["settle_s"].as_f64().unwrap_or(0.0))),
    );
    let (sb, ib) = (
        store["disk_bytes"].as_u64().unwrap_or(0),
        ix["disk_bytes"].as_u64().unwrap_or(0),
    );
    let used = store["used_bytes"].as_u64().unwrap_or(0);
    println!(
        "| on disk | {} file ({:.2} B/point), {} of pages in use ({:.2} B/point); {} hot, {} compacted in {} blocks + {} rollup blocks | {} ({:.2} B/point) |",
        mib(sb),
        sb as f64 / points as f64,
        mib(used),
        used as f64 / points as f64,
        store["hot"],
        store["compacted"],
        store["blocks"],
        store["rollup_blocks"],
        mib(ib),
        ib as f64 / points as f64
    );
    println!();
    println!("| query | logger median / p90 (ms) | InfluxDB median / p90 (ms) | logger / InfluxDB (median) | rows |");
    println!("|---|---|---|---|---|");
    for (name, _, l, i) in &rows_out {
        let rows = match (&l.rows, &i.rows) {
            (Ok(a), Ok(b)) if a == b => a.to_string(),
            (Ok(a), Ok(b)) => format!("**{a} ≠ {b}**"),
            (Ok(a), Err(_)) => format!("{a} / –"),
            (Err(_), Ok(b)) => format!("– / {b}"),
            _ => "–".into(),
        };
        let ratio = if l.rows.is_ok() && i.rows.is_ok() {
            format!("{:.2}", l.median_ms / i.median_ms)
        } else {
            "–".into()
        };
        println!("| {name} | {} | {} | {ratio} | {rows} |", cell(l), cell(i));
    }
    println!("\nThe queries (x = {x}, now = {now_ms} ms, a second after the newest sample):");
    for (name, q, _, _) in &rows_out {
        println!("- {name}: `{q}`");
    }
}
