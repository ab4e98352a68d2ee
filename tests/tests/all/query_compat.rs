//! The differential test of `/query` (issue 13): a fake ISEMS node serves two
//! nodes' logs (floats, integers, a string, booleans; tags nodeId, item, site),
//! the logger stores them and forwards them with the `default` schema to a
//! real InfluxDB 1.6, then every query of tests/fixtures/influxql/corpus.txt
//! runs against both `/query` endpoints — hot, then after compaction (rollups)
//! — and the answers must match (floats within 1e-9 relative).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::http_fake::{HttpFake, Response, Routes};
use crate::common::servers::{agent, Influx};
use crate::common::*;
use serde_json::{json, Value};

const LOG_PATH: &str = "/ISEMS/ffopenmppt.log";
const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A 19-field log line whose values vary with `i`.
fn line(node: &str, ts_s: i64, i: i64) -> String {
    let firmware = if i % 50 < 25 { "ATmega8_A" } else { "ATmega8_B" };
    let battery = (1100 + (i * 37) % 200) as f64 / 100.0;
    let temp = (200 + (i * 13) % 90) as f64 / 10.0;
    let status = [0x900, 0x500, 0x300, 0x180][(i % 4) as usize];
    format!(
        "{node};1;{ts_s};{firmware};{};{};18.614;18.5;{battery};100;95;{temp};11.67;14.086;7;20;52.507309;13.458635;{status:x}",
        (i * 7) % 1000,
        i % 2
    )
}

/// The query sent with `db` and `epoch` (RFC 3339 strings without one); the
/// parsed answer and its HTTP status.
fn ask(agent: &ureq::Agent, base: &str, db: &str, epoch: Option<&str>, q: &str) -> (u16, Value) {
    let mut req = agent.get(&format!("{base}/query")).query("db", db).query("q", q);
    if let Some(epoch) = epoch {
        req = req.query("epoch", epoch);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("{base}: {q}: {e}"));
    let text = resp.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{base}: {q}: not JSON: {text}"));
    (resp.status().as_u16(), body)
}

/// Equal as data: numbers within 1e-9 relative (InfluxDB prints 1.0 as 1).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

struct Case {
    kind: char,
    epoch: Option<&'static str>,
    query: String,
}

fn corpus(from: i64, to: i64) -> Vec<Case> {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/influxql/corpus.txt")).unwrap();
    let from_rfc = chrono::DateTime::from_timestamp_millis(from).unwrap().to_rfc3339();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            // `kind`: '=' same answer, '!' both refuse, '~' not supported here.
            let (kind, epoch, rest) = match l.split_once(' ') {
                Some(("!", r)) => ('!', Some("ms"), r),
                Some(("~", r)) => ('~', Some("ms"), r),
                Some(("@rfc", r)) => ('=', None, r),
                Some(("@s", r)) => ('=', Some("s"), r),
                _ => ('=', Some("ms"), l),
            };
            let query = rest
                .replace("{from_rfc}", &from_rfc)
                .replace("{from_ns}", &(from * 1_000_000).to_string())
                .replace("{from_s}", &(from / 1000).to_string())
                .replace("{from}", &from.to_string())
                .replace("{to}", &to.to_string())
                .replace("{mid}", &((from + to) / 2).to_string());
            Case { kind, epoch, query }
        })
        .collect()
}

/// Every case of the corpus against both servers; the mismatches.
fn compare(logger: &str, influx: &str, cases: &[Case]) -> Vec<String> {
    let agent = agent();
    let mut wrong = Vec::new();
    for case in cases {
        let (status, ours) = ask(&agent, logger, "dl", case.epoch, &case.query);
        let mismatch = match case.kind {
            '~' => {
                let error = ours["results"][0]["error"].as_str().unwrap_or("");
                (status != 200 || !error.starts_with("not supported")).then(|| format!("{status} {ours}"))
            }
            '!' => {
                let (their_status, theirs) = ask(&agent, influx, "dl", case.epoch, &case.query);
                let refused =
                    |s: u16, v: &Value| s == 400 || !v["error"].is_null() || !v["results"][0]["error"].is_null();
                (status != their_status || !refused(status, &ours) || !refused(their_status, &theirs))
                    .then(|| format!("logger {status} {ours}\n  influx {their_status} {theirs}"))
            }
            _ => {
                let (their_status, theirs) = ask(&agent, influx, "dl", case.epoch, &case.query);
                (status != their_status || !same(&ours, &theirs))
                    .then(|| format!("logger {status} {ours}\n  influx {their_status} {theirs}"))
            }
        };
        if let Some(m) = mismatch {
            wrong.push(format!("{}\n  {m}", case.query));
        }
    }
    wrong
}

#[test]
fn query_answers_as_influxdb_does_over_the_same_samples() {
    let routes = Routes::default();
    let table = routes.clone();
    let node = HttpFake::start(move |request| table.answer(&request.path));
    // Three whole hours ending an hour ago: compactable at once. Roof every
    // 20 s, cellar every 90 s shifted by 7 s.
    let from = (now_ms() - 4 * HOUR_MS).div_euclid(HOUR_MS) * HOUR_MS;
    let to = from + 3 * HOUR_MS - 1;
    let from_s = from / 1000;
    let mut lines: Vec<String> = (0..540).map(|i| line("roof", from_s + 20 * i, i)).collect();
    lines.extend((0..120).map(|i| line("cellar", from_s + 7 + 90 * i, i)));
    // The attic shares the roof's times every 5 minutes with other values:
    // first() and last() across nodes meet ties there.
    lines.extend((0..36).map(|i| line("attic", from_s + 300 * i, i + 1)));
    let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
    routes.set(LOG_PATH, Response::new(200, "application/octet-stream", log));

    let dir = TestDir::new(&[dist_wasm("isems")]);
    let influx = Influx::launch(dir.path());
    dir.write_config(json!({
        "store": {"path": dir.db_path(), "retention_days": 0},
        "items": [
            {"name": "node", "key": "isems.node", "arg": node.address(), "interval": 1, "tags": {"site": "lab"}},
        ],
        "plugins": {"isems": {"http": ["127.0.0.1"]}},
        "outputs": [{"name": "influx", "type": "influxdb", "url": influx.url(), "database": "dl", "flush_interval_ms": 300}],
    }));
    let mut logger = dir.start();
    let count = "SELECT count(batteryVoltage) FROM isems";
    let logger_url = format!("http://127.0.0.1:{}", dir.port);
    let client = agent();
    for (what, url) in [("the logger", &logger_url), ("InfluxDB", &influx.url())] {
        logger.wait_until(&format!("{what} to hold every line"), SLOW, |_| {
            let (_, answer) = ask(&client, url, "dl", Some("ms"), count);
            (answer["results"][0]["series"][0]["values"][0][1].as_i64()? == lines.len() as i64).then_some(())
        });
    }
    let cases = corpus(from, to);
    let hot = compare(&logger_url, &influx.url(), &cases);
    let report = logger.api.send("POST", "/store/compact", Some(""));
    assert_eq!(report.status, 200, "{}", report.text);
    let stats = logger.api.get("/store").json();
    assert!(
        stats["compacted_samples"].as_u64().unwrap() >= lines.len() as u64,
        "the lines were compacted: {stats}"
    );
    let compacted = compare(&logger_url, &influx.url(), &cases);
    assert!(
        hot.is_empty() && compacted.is_empty(),
        "{} of {} queries differ hot, {} compacted:\n{}\n--- compacted:\n{}",
        hot.len(),
        cases.len(),
        compacted.len(),
        hot.join("\n"),
        compacted.join("\n")
    );
}
