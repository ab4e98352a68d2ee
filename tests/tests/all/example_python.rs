//! The Python example plugin (`plugins/examples/python`, built by componentize-py
//! into `httpjson.wasm`) against a fake JSON device on loopback: typed values
//! selected by JSON pointers, a missing path, an HTTP 500, a body that is not
//! JSON, a bad arg, and no http grant. The second run of the logger loads the
//! plugin from the compiled-code cache.

use std::path::Path;

use crate::common::http_fake::{HttpFake, Response, Routes};
use crate::common::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------- fake device

/// A JSON device: a table of pages by path (404 for any other), changed by
/// the test while it runs.
struct FakeDevice {
    http: HttpFake,
    routes: Routes,
}

impl FakeDevice {
    fn start() -> FakeDevice {
        let routes = Routes::default();
        let table = routes.clone();
        let http = HttpFake::start(move |request| table.answer(&request.path));
        FakeDevice { http, routes }
    }

    fn url(&self, path_and_fragment: &str) -> String {
        self.http.url(path_and_fragment)
    }

    fn set(&self, path: &str, status: u16, content_type: &str, body: &str) {
        self.routes.set(path, Response::new(status, content_type, body));
    }

    /// Request target and Accept header of every request.
    fn requests(&self) -> Vec<(String, Option<String>)> {
        let requests = self.http.requests().into_iter();
        requests
            .map(|r| (r.path.clone(), r.header("accept").map(str::to_owned)))
            .collect()
    }
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
    store_rows(db, item).into_iter().map(|r| r.type_letters).collect()
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
    let wasm = example_wasm("httpjson", "python");
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
    assert!(out.stdout.contains("datalogger:plugin/http@0.1.1"), "{}", out.all());

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
    let error = logger.wait_error("whole");
    assert!(
        error.starts_with("failed:") && error.contains("/sensors/1") && error.contains("is an object"),
        "whole: {error}"
    );
    assert!(error.contains("/sensors/1/<member>"), "whole: no hint: {error}");

    // A missing path: failed, naming the path and what is there instead.
    let error = logger.wait_error("missing");
    assert!(error.starts_with("failed:"), "missing: {error}");
    assert!(
        error.contains("/sensors/2/temp is not in the response of GET") && error.contains(&status_url),
        "missing: does not name the path and URL: {error}"
    );
    assert!(error.contains("array of 2"), "missing: {error}");

    // HTTP 500: failed with the status and the start of the body.
    let error = logger.wait_error("broken");
    assert!(
        error.starts_with("failed:") && error.contains("HTTP 500") && error.contains("sensor bus fault"),
        "broken: {error}"
    );

    // A 200 that is not JSON: failed, quoting it.
    let error = logger.wait_error("html");
    assert!(
        error.starts_with("failed:") && error.contains("is not JSON") && error.contains("<html>"),
        "html: {error}"
    );

    // A bad arg: bad-argument, before any request.
    let error = logger.wait_error("bad_arg");
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
    let error = logger.wait_error("values");
    assert!(
        error.starts_with("unavailable: capability not granted to plugin httpjson: http to 127.0.0.1:"),
        "no grant: {error}"
    );
    assert!(
        error.contains(r#""plugins": {"httpjson": {"http": ["127.0.0.1"]}}"#),
        "no grant: no hint for the grant: {error}"
    );
    logger.wait_polls("values", 2);
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
