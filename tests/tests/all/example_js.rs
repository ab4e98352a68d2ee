//! The JavaScript example plugin (`plugins/examples/js`, `webstats`), built from
//! source by componentize-js, against a fake web server on loopback: page
//! checks (any status is a sample), statistics of a JSON array, typed errors,
//! the host's refusal without a grant, and the compiled-code cache on restart.

use crate::common::http_fake::{HttpFake, Response};
use crate::common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

// ---------------------------------------------------------------- fake web server

/// An HTTP/1.1 server on 127.0.0.1 answering one request per connection from
/// a fixed table of pages (404 for any other path); stops when dropped.
fn fake_web(pages: HashMap<&'static str, Response>) -> HttpFake {
    HttpFake::start(move |request| {
        let page = pages.get(request.path.as_str()).cloned();
        page.unwrap_or_else(|| Response::new(404, "text/plain", "no such page\n"))
    })
}

// ---------------------------------------------------------------- expected values

/// CRC-32 (IEEE), bit by bit.
fn crc32(data: &[u8]) -> String {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    format!("{:08x}", !crc)
}

/// `\n` bytes plus one for a last line without one.
fn lines(data: &[u8]) -> i64 {
    let newlines = data.iter().filter(|b| **b == b'\n').count() as i64;
    newlines + i64::from(data.last().is_some_and(|b| *b != b'\n'))
}

fn words(data: &[u8]) -> i64 {
    String::from_utf8_lossy(data).split_whitespace().count() as i64
}

/// Asserts a stored `webstats.check` sample describes `page`, served at `url`.
fn assert_check(row: &Row, url: &str, page: &Response, what: &str) {
    assert_eq!(row.measurement, "webstats", "{what}: {row:?}");
    assert_eq!(row.tags, json!({"url": url}), "{what}: {row:?}");
    let fields = row.fields.as_object().unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    let mut expected_names = vec![
        "status",
        "ok",
        "elapsed_ms",
        "bytes",
        "lines",
        "words",
        "crc32",
        "content_type",
    ];
    expected_names.sort_unstable();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected_names, "{what}: fields {row:?}");
    let body = &page.body;
    assert_eq!(fields["status"], json!(page.status), "{what}: {row:?}");
    assert!(fields["status"].is_i64(), "{what}: status is not an integer: {row:?}");
    assert_eq!(
        fields["ok"],
        json!((200..300).contains(&page.status)),
        "{what}: {row:?}"
    );
    assert_eq!(fields["bytes"], json!(body.len()), "{what}: {row:?}");
    assert_eq!(fields["lines"], json!(lines(body)), "{what}: {row:?}");
    assert_eq!(fields["words"], json!(words(body)), "{what}: {row:?}");
    assert_eq!(fields["crc32"], json!(crc32(body)), "{what}: {row:?}");
    assert_eq!(
        fields["content_type"],
        json!(page.header("content-type").unwrap_or("")),
        "{what}: {row:?}"
    );
    let elapsed = fields["elapsed_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: elapsed_ms is not a number: {row:?}"));
    assert!(elapsed >= 0.0, "{what}: negative elapsed_ms: {row:?}");
}

/// The "(N keys, <how> in <time>)" part of the logger's "loaded plugin webstats" line.
fn load_line(logger: &Logger) -> String {
    let stderr = logger.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("loaded plugin webstats"))
        .unwrap_or_else(|| panic!("no \"loaded plugin webstats\" line in:\n{stderr}"));
    let start = line.find("keys, ").map(|i| i + "keys, ".len()).unwrap_or(0);
    let end = line.find("); granted").unwrap_or(line.len());
    line[start..end].to_owned()
}

/// Compiling the 12 MB component takes several seconds of both cores; the two
/// tests take turns so that neither start-up races the other's compile.
static COMPILING: Mutex<()> = Mutex::new(());

fn compiling() -> std::sync::MutexGuard<'static, ()> {
    COMPILING.lock().unwrap_or_else(|e| e.into_inner())
}

fn item(name: &str, key: &str, arg: &str) -> Value {
    json!({"name": name, "key": key, "arg": arg, "interval": 1})
}

// ---------------------------------------------------------------- tests

#[test]
fn webstats_checks_pages_computes_json_stats_and_needs_a_grant() {
    let status_page = Response::new(
        200,
        "text/plain; charset=utf-8",
        "service: ok\nuptime: 12345 s\ntempérature: 21.5 °C\n\nqueue:\t0",
    );
    let missing_page = Response::new(404, "text/html", "<html><body><h1>Not Found</h1></body></html>\n");
    // sensor.temp of each element; `None`: the element has no numeric temp.
    let temps = [Some(21.5), Some(19.25), None, Some(23.0), None, Some(22.75)];
    let readings: Vec<Value> = temps
        .iter()
        .enumerate()
        .map(|(i, t)| match (i, t) {
            (_, Some(t)) => json!({"id": i, "sensor": {"temp": t}}),
            (2, None) => json!({"id": i, "sensor": {"temp": "n/a"}}),
            _ => json!({"id": i}),
        })
        .collect();
    let slow_page = Response::new(200, "application/json", "[{\"v\": 1}]").with_delay(Duration::from_secs(3));
    let bare_page = Response::bare(200, "");
    let pages = HashMap::from([
        ("/status", status_page.clone()),
        ("/missing", missing_page.clone()),
        ("/bare", bare_page.clone()),
        (
            "/readings.json",
            Response::new(200, "application/json", Value::from(readings).to_string()),
        ),
        ("/empty.json", Response::new(200, "application/json", "[]")),
        ("/slow.json", slow_page),
    ]);
    let web = fake_web(pages);
    let closed = format!("http://127.0.0.1:{}/", free_port());

    let dir = TestDir::new(&[example_wasm("webstats", "js")]);
    let items = vec![
        item("page", "webstats.check", &web.url("/status")),
        item("missing", "webstats.check", &web.url("/missing")),
        item("bare", "webstats.check", &web.url("/bare")),
        item(
            "temps",
            "webstats.json_stats",
            &format!("{} sensor.temp", web.url("/readings.json")),
        ),
        item(
            "empty",
            "webstats.json_stats",
            &format!("{} sensor.temp", web.url("/empty.json")),
        ),
        item(
            "notjson",
            "webstats.json_stats",
            &format!("{} temp", web.url("/status")),
        ),
        item("gone", "webstats.json_stats", &format!("{} temp", web.url("/missing"))),
        item("slow", "webstats.json_stats", &format!("{} v", web.url("/slow.json"))),
        item("badarg", "webstats.check", "ftp://127.0.0.1/status"),
        item("noprop", "webstats.json_stats", &web.url("/readings.json")),
        item("refused", "webstats.check", &closed),
    ];
    dir.write_config(json!({
        "items": items,
        "plugins": {"webstats": {"http": ["127.0.0.1"]}},
        "http": {"timeout_ms": 1000},
    }));

    // First start: the plugin is compiled.
    let guard = compiling();
    let mut logger = dir.start();
    drop(guard);
    let first_load = load_line(&logger);
    assert!(first_load.contains("compiled in"), "first load: {first_load}");

    // Any status is a sample, with the page's own numbers.
    let rows = logger.wait_rows(&dir.db_path(), "page", 2);
    for row in &rows {
        assert_check(row, &web.url("/status"), &status_page, "page");
    }
    let rows = logger.wait_rows(&dir.db_path(), "missing", 1);
    assert_check(&rows[0], &web.url("/missing"), &missing_page, "missing");
    let rows = logger.wait_rows(&dir.db_path(), "bare", 1);
    assert_check(&rows[0], &web.url("/bare"), &bare_page, "bare");
    let missing = logger.item("missing");
    assert_eq!(
        missing["last_value"],
        json!(404),
        "the primary field is the status: {missing}"
    );
    assert_eq!(
        missing["last_error"],
        Value::Null,
        "a 404 is a sample, not an error: {missing}"
    );
    assert_eq!(logger.item("page")["last_value"], json!(200));

    // Statistics of sensor.temp over the elements that have a number there.
    let numbers: Vec<f64> = temps.iter().flatten().copied().collect();
    let sum: f64 = numbers.iter().sum();
    let rows = logger.wait_rows(&dir.db_path(), "temps", 1);
    let row = &rows[0];
    assert_eq!(row.measurement, "webstats", "temps: {row:?}");
    assert_eq!(
        row.tags,
        json!({"url": web.url("/readings.json"), "property": "sensor.temp"}),
        "temps: {row:?}"
    );
    let expected = json!({
        "mean": sum / numbers.len() as f64,
        "min": numbers.iter().copied().fold(f64::MAX, f64::min),
        "max": numbers.iter().copied().fold(f64::MIN, f64::max),
        "sum": sum,
        "count": numbers.len(),
        "skipped": temps.len() - numbers.len(),
    });
    assert_eq!(row.fields, expected, "temps: {row:?}");
    for name in ["mean", "min", "max", "sum"] {
        assert!(row.fields[name].is_f64(), "temps: {name} is not a float: {row:?}");
    }
    assert_eq!(logger.item("temps")["last_value"], expected["mean"]);

    // Typed errors, the host's words kept.
    let error = logger.wait_error("empty");
    assert!(
        error.starts_with("unavailable: ") && error.contains("empty array"),
        "empty: {error}"
    );
    let error = logger.wait_error("notjson");
    assert!(
        error.starts_with("failed: ") && error.contains("did not answer JSON"),
        "notjson: {error}"
    );
    let error = logger.wait_error("gone");
    assert!(
        error.starts_with("unavailable: ") && error.contains("answered HTTP 404"),
        "gone: {error}"
    );
    let error = logger.wait_error("slow");
    assert!(
        error.starts_with("timeout: ") && error.contains(&web.url("/slow.json")),
        "slow: {error}"
    );
    let error = logger.wait_error("badarg");
    assert!(
        error.starts_with("bad argument: ") && error.contains("not an http:// URL"),
        "badarg: {error}"
    );
    let error = logger.wait_error("noprop");
    assert!(
        error.starts_with("bad argument: ") && error.contains("<url> <property>"),
        "noprop: {error}"
    );
    let error = logger.wait_error("refused");
    assert!(
        error.starts_with("unavailable: ") && error.contains("connection refused") && error.contains(&closed),
        "refused: {error}"
    );

    // What went over the wire: plain GETs with the plugin's headers.
    let requests = web.requests();
    // (only the check item `bare` fetches /bare)
    let page_request = requests
        .iter()
        .find(|r| r.path == "/bare")
        .expect("no request for /bare");
    assert_eq!(page_request.method, "GET");
    assert_eq!(page_request.header("accept"), Some("*/*"), "{page_request:?}");
    assert!(
        page_request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("datalogger-webstats/")),
        "{page_request:?}"
    );
    let json_request = requests
        .iter()
        .find(|r| r.path == "/readings.json")
        .expect("no request for /readings.json");
    assert_eq!(
        json_request.header("accept"),
        Some("application/json"),
        "{json_request:?}"
    );
    drop(logger);

    // Second start, the grant revoked: the compiled code comes from the cache,
    // and the host refuses the request before it leaves the machine.
    let mut config = dir.read_config();
    config.as_object_mut().unwrap().remove("plugins");
    config["items"] = json!([item("page", "webstats.check", &web.url("/status"))]);
    dir.write_config(config);
    let stored_before = store_rows(&dir.db_path(), "page").len();
    let requests_before = web.requests().len();
    let mut logger = dir.start();
    let second_load = load_line(&logger);
    assert!(
        second_load.contains("from compiled-code cache"),
        "second load: {second_load}"
    );
    eprintln!(
        "webstats.wasm: {} bytes; first load: {first_load}; second load: {second_load}",
        std::fs::metadata(example_wasm("webstats", "js")).unwrap().len()
    );
    let error = logger.wait_error("page");
    assert!(
        error.starts_with("unavailable: capability not granted to plugin webstats")
            && error.contains(&format!("127.0.0.1:{}", web.port())),
        "not granted: {error}"
    );
    let polled = logger.wait_until("two polls of page", SLOW, |api| {
        let item = api.try_get("/items/page")?.json();
        (item["stats"]["polls"].as_u64()? >= 2).then_some(item)
    });
    assert_eq!(polled["stats"]["errors"], polled["stats"]["polls"], "{polled}");
    assert_eq!(
        store_rows(&dir.db_path(), "page").len(),
        stored_before,
        "a sample was stored without a grant"
    );
    assert_eq!(
        web.requests().len(),
        requests_before,
        "a request reached the server without a grant"
    );
}

#[test]
fn webstats_inspect_lists_its_keys() {
    let _guard = compiling();
    let out = run_cli(
        &["plugin", "inspect", example_wasm("webstats", "js").to_str().unwrap()],
        &repo_root(),
    );
    assert!(out.status.success(), "plugin inspect failed:\n{}", out.all());
    for expected in [
        "plugin webstats 0.1.0",
        "webstats.check (arg required",
        "webstats.json_stats (arg required",
        "datalogger:plugin/http@0.1.1",
    ] {
        assert!(out.stdout.contains(expected), "no {expected:?} in:\n{}", out.all());
    }
    assert!(
        !out.stdout.contains("wasi:http"),
        "the component imports wasi:http; build it with --disable http fetch-event:\n{}",
        out.stdout
    );
}
