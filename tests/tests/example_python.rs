//! The Python example plugin (`plugins/examples/python`, built by componentize-py
//! into `httpjson.wasm`) against a fake JSON device on loopback: typed values
//! selected by JSON pointers, a missing path, an HTTP 500, a body that is not
//! JSON, a bad arg, and no http grant. The second run of the logger loads the
//! plugin from the compiled-code cache.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

/// The plugin, as `scripts/build-examples python` builds it.
fn httpjson_wasm() -> PathBuf {
    let path = repo_root().join("plugins/target/examples/httpjson.wasm");
    assert!(
        path.is_file(),
        "{} not found; build it first: scripts/build-examples python",
        path.display()
    );
    path
}

// ---------------------------------------------------------------- fake device

struct Route {
    status: u16,
    content_type: &'static str,
    body: String,
}

#[derive(Default)]
struct DeviceState {
    routes: HashMap<String, Route>,
    /// Request target and Accept header of every request.
    requests: Vec<(String, Option<String>)>,
}

/// A minimal HTTP/1.1 server on 127.0.0.1: one request per connection.
struct FakeDevice {
    port: u16,
    state: Arc<Mutex<DeviceState>>,
}

impl FakeDevice {
    fn start() -> FakeDevice {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(DeviceState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeDevice { port, state }
    }

    fn url(&self, path_and_fragment: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_fragment}", self.port)
    }

    fn set(&self, path: &str, status: u16, content_type: &'static str, body: &str) {
        let route = Route {
            status,
            content_type,
            body: body.to_string(),
        };
        self.state.lock().unwrap().routes.insert(path.to_string(), route);
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<DeviceState>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("").to_string();
    let accept = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.trim().to_string());

    let (status, content_type, body) = {
        let mut state = state.lock().unwrap();
        state.requests.push((target.clone(), accept));
        match state.routes.get(&target) {
            Some(r) => (r.status, r.content_type, r.body.clone()),
            None => (404, "text/plain", "404 Not Found".to_string()),
        }
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// The device's status document; `uptime` changes between polls in the test.
fn status_doc(uptime: u64) -> String {
    json!({
        "sensors": [{"id": "t1", "temp": 21.5}, {"id": "t2", "temp": 20.0}],
        "uptime": uptime,
        "ok": true,
        "fw": "1.2.3",
        "energy_wh": 18446744073709551615u64,
        "offset": -7,
        "a/b": {"c~d": 0.25},
    })
    .to_string()
}

// ---------------------------------------------------------------- helpers

/// The stored field-type letters (f, i, u, b, s) of item `name`'s rows, oldest first.
fn field_types(db: &Path, item: &str) -> Vec<String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut stmt = conn
        .prepare("SELECT field_types FROM samples WHERE item = ?1 ORDER BY ts_ns, seq")
        .unwrap();
    let rows = stmt.query_map([item], |r| r.get::<_, String>(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// last_error of item `name`, waiting until it is set.
fn wait_error(logger: &mut Logger, name: &str) -> String {
    let item = logger.wait_item_field(name, "last_error");
    item["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: last_error is not a string: {item}"))
        .to_string()
}

/// The "loaded plugin httpjson ..." line of a logger's stderr.
/// (Plugins are loaded before /health answers.)
fn load_line(logger: &Logger) -> String {
    let stderr = logger.stderr();
    stderr
        .lines()
        .find(|l| l.contains("loaded plugin httpjson"))
        .unwrap_or_else(|| panic!("no \"loaded plugin httpjson\" line in the log:\n{stderr}"))
        .to_string()
}

fn item(name: &str, arg: &str) -> Value {
    json!({"name": name, "key": "httpjson.value", "interval": 1, "arg": arg})
}

// ---------------------------------------------------------------- tests

#[test]
fn python_plugin_returns_typed_json_values_and_clear_errors() {
    let wasm = httpjson_wasm();
    let device = FakeDevice::start();
    device.set("/status.json", 200, "application/json", &status_doc(86_400));
    device.set("/broken", 500, "application/json", "{\"error\": \"sensor bus fault\"}");
    device.set("/index.html", 200, "text/html", "<html><body>hello</body></html>");

    let dir = TestDir::new(std::slice::from_ref(&wasm));

    // The plugin describes itself.
    let out = dir.cli(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "plugin inspect failed:\n{}", out.all());
    assert!(out.stdout.contains("plugin httpjson 0.1.0"), "{}", out.all());
    assert!(out.stdout.contains("httpjson.value (arg required"), "{}", out.all());
    assert!(out.stdout.contains("datalogger:plugin/http@0.1.0"), "{}", out.all());

    let values_arg = device.url(
        "/status.json#/sensors/0/temp=temperature,/sensors/1/temp=temp2,/uptime,/ok,/fw,/energy_wh,/offset,/a~1b/c~0d",
    );
    let mut values = item("values", &values_arg);
    values["tags"] = json!({"room": "lab"});
    dir.write_config(json!({
        "items": [
            values,
            item("whole", &device.url("/status.json#/sensors/1")),
            item("missing", &device.url("/status.json#/sensors/2/temp")),
            item("broken", &device.url("/broken#/value")),
            item("html", &device.url("/index.html#/value")),
            item("bad_arg", &device.url("/status.json#sensors/0").replace("http://", "https://")),
        ],
        "plugins": {"httpjson": {"http": ["127.0.0.1"]}},
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let status_url = device.url("/status.json");

    // Typed values, in the arg's order, tagged with the URL (without the fragment).
    logger.wait_until("2 samples of item values", SLOW, |_| {
        (store_rows(&db, "values").len() >= 2).then_some(())
    });
    let rows = store_rows(&db, "values");
    for row in &rows {
        assert_eq!(row.measurement, "httpjson", "{row:?}");
        assert_eq!(row.tags, json!({"url": status_url, "room": "lab"}), "{row:?}");
        assert_eq!(
            row.fields,
            json!({
                "temperature": 21.5, "temp2": 20.0, "uptime": 86_400, "ok": true, "fw": "1.2.3",
                "energy_wh": 18446744073709551615u64, "offset": -7, "c~d": 0.25,
            }),
            "{row:?}"
        );
    }
    // 20.0 stays a float and 86400 an int: the JSON text decides the type. The
    // letters are in the plugin's field order, which is the arg's.
    for types in field_types(&db, "values") {
        assert_eq!(types, "ffibsuif", "stored field types of item values");
    }

    // Each poll reads the device anew.
    device.set("/status.json", 200, "application/json", &status_doc(86_401));
    logger.wait_until("the new uptime to be stored", SLOW, |_| {
        let rows = store_rows(&db, "values");
        rows.iter().any(|r| r.fields["uptime"] == 86_401).then_some(())
    });
    let values = logger.item("values");
    assert_eq!(values["last_error"], json!(null), "{values}");
    assert_eq!(
        values["last_value"],
        json!(21.5),
        "last_value is not the first field: {values}"
    );

    // The fragment is not sent; the plugin asks for JSON.
    let requests = device.requests();
    assert!(
        requests
            .iter()
            .any(|(target, accept)| target == "/status.json" && accept.as_deref() == Some("application/json")),
        "no GET /status.json with Accept: application/json: {requests:?}"
    );
    assert!(
        requests.iter().all(|(target, _)| !target.contains('#')),
        "a fragment went out: {requests:?}"
    );

    // An object where a value is expected: failed, saying how to point into it.
    let error = wait_error(&mut logger, "whole");
    assert!(
        error.starts_with("failed:") && error.contains("/sensors/1") && error.contains("is an object"),
        "whole: {error}"
    );
    assert!(error.contains("/sensors/1/<member>"), "whole: no hint: {error}");

    // A missing path: failed, naming the path and what is there instead.
    let error = wait_error(&mut logger, "missing");
    assert!(error.starts_with("failed:"), "missing: {error}");
    assert!(
        error.contains("/sensors/2/temp is not in the response of GET") && error.contains(&status_url),
        "missing: does not name the path and URL: {error}"
    );
    assert!(error.contains("array of 2"), "missing: {error}");

    // HTTP 500: failed with the status and the start of the body.
    let error = wait_error(&mut logger, "broken");
    assert!(
        error.starts_with("failed:") && error.contains("HTTP 500") && error.contains("sensor bus fault"),
        "broken: {error}"
    );

    // A 200 that is not JSON: failed, quoting it.
    let error = wait_error(&mut logger, "html");
    assert!(
        error.starts_with("failed:") && error.contains("is not JSON") && error.contains("<html>"),
        "html: {error}"
    );

    // A bad arg: bad-argument, before any request.
    let error = wait_error(&mut logger, "bad_arg");
    assert!(
        error.starts_with("bad argument:") && error.contains("https is not supported"),
        "bad_arg: {error}"
    );

    for name in ["whole", "missing", "broken", "html", "bad_arg"] {
        assert!(store_rows(&db, name).is_empty(), "{name}: an error item stored samples");
    }
    let first_load = load_line(&logger);
    assert!(first_load.contains("compiled in"), "first load: {first_load}");
    eprintln!("first run: {first_load}");
    drop(logger);

    // The same plugin without an http grant: unavailable, with the host's refusal
    // verbatim. The second run loads the compiled code from the cache.
    let stored = store_rows(&db, "values").len();
    dir.write_config(json!({
        "items": [item("values", &values_arg)],
        "plugins": {},
    }));
    let mut logger = dir.start();
    let error = wait_error(&mut logger, "values");
    assert!(
        error.starts_with("unavailable: capability not granted to plugin httpjson: http to 127.0.0.1:"),
        "no grant: {error}"
    );
    assert!(
        error.contains(r#""plugins": {"httpjson": {"http": ["127.0.0.1"]}}"#),
        "no grant: no hint for the grant: {error}"
    );
    wait_polls(&mut logger, "values", 2);
    assert_eq!(
        store_rows(&db, "values").len(),
        stored,
        "samples were stored without a grant"
    );
    let second_load = load_line(&logger);
    assert!(
        second_load.contains("from compiled-code cache"),
        "second load: {second_load}"
    );
    eprintln!("second run: {second_load}");

    // `plugin test` samples once with the grants given on the command line.
    let arg = device.url("/status.json#/uptime,/ok");
    let out = dir.cli(&[
        "plugin",
        "test",
        "--cache-dir",
        dir.cache_dir().to_str().unwrap(),
        wasm.to_str().unwrap(),
        "httpjson.value",
        &arg,
        "--grant",
        r#"{"http": ["127.0.0.1"]}"#,
    ]);
    assert!(out.status.success(), "plugin test failed:\n{}", out.all());
    let point: Value = out
        .stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("plugin test printed no point:\n{}", out.all()));
    assert_eq!(point["fields"], json!({"uptime": 86_401, "ok": true}), "{point}");
    assert_eq!(point["tags"], json!({"url": status_url}), "{point}");
}

/// Waits until item `name` has been polled `n` more times.
fn wait_polls(logger: &mut Logger, name: &str, n: u64) {
    let polls = |api: &Api| api.try_get(&format!("/items/{name}"))?.json()["stats"]["polls"].as_u64();
    let start = polls(&logger.api).unwrap_or(0);
    logger.wait_until(&format!("{n} more polls of {name}"), SLOW, |api| {
        (polls(api)? >= start + n).then_some(())
    });
}
