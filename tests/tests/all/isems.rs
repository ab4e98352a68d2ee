//! The isems plugin against fake ISEMS nodes on loopback: a router serving a
//! growing log, an ESP32 v2 node that answers the log path with an HTML page
//! and serves its lines at /csv.log, a node that refuses connections, and a
//! router with a log too long to take whole.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::http_fake::{HttpFake, Response, Routes};
use crate::common::*;
use serde_json::{json, Value};

const LOG_PATH: &str = "/ISEMS/ffopenmppt.log";
const CSV_PATH: &str = "/csv.log";
/// Newest lines the plugin parses per poll (documented in docs/plugins.md).
const MAX_LINES: usize = 720;

// ---------------------------------------------------------------- fake node

/// An ISEMS node: a table of files by path (404 for any other), changed by
/// the test while it runs.
struct FakeNode {
    http: HttpFake,
    routes: Routes,
}

impl FakeNode {
    /// With `honor_range`, a 200 answer to `Range: bytes=-N` becomes a 206 of
    /// the last N bytes, as lighttpd would.
    fn start(honor_range: bool) -> FakeNode {
        let routes = Routes::default();
        let table = routes.clone();
        let http = HttpFake::start(move |request| {
            let response = table.answer(&request.path);
            match request.header("range").and_then(|r| r.strip_prefix("bytes=-")) {
                Some(n) if honor_range => tail(response, n),
                _ => response,
            }
        });
        FakeNode { http, routes }
    }

    fn arg(&self) -> String {
        self.http.address()
    }

    fn set(&self, path: &str, status: u16, content_type: &str, body: &str) {
        self.routes.set(path, Response::new(status, content_type, body));
    }

    /// Appends to the body served at `path` (the node writing new lines).
    fn append(&self, path: &str, text: &str) {
        self.routes
            .update(path, |r| r.set_body([&r.body[..], text.as_bytes()].concat()));
    }

    /// (path, Range header) of every request.
    fn requests(&self) -> Vec<(String, Option<String>)> {
        let requests = self.http.requests().into_iter();
        requests
            .map(|r| (r.path.clone(), r.header("range").map(str::to_owned)))
            .collect()
    }
}

/// A 200 `response` cut to its last `n` bytes (a decimal), as a 206 with a
/// Content-Range; anything else as it is.
fn tail(mut response: Response, n: &str) -> Response {
    let total = response.body.len();
    match n.parse::<usize>() {
        Ok(n) if response.status == 200 && n < total => {
            response.set_body(response.body[total - n..].to_vec());
            response.status = 206;
            let range = format!("bytes {}-{}/{total}", total - n, total - 1);
            response.with_header("Content-Range", &range)
        }
        _ => response,
    }
}

// ---------------------------------------------------------------- log lines

/// What a good line holds, to check the stored sample against.
#[derive(Clone, Debug)]
struct Line {
    node_id: &'static str,
    ts: i64,
    battery: f64,
    power_save: i64,
    /// Field 19 as sent (hex), absent in 18-field lines.
    status: Option<&'static str>,
}

impl Line {
    fn text(&self) -> String {
        let mut s = format!(
            "{};1;{};ATmega8_A_1;711;{};18.614;18.5;{};100;95;28;11.67;14.086;7;20;52.507309;13.458635",
            self.node_id, self.ts, self.power_save, self.battery
        );
        if let Some(status) = self.status {
            s.push(';');
            s.push_str(status);
        }
        s
    }
}

/// A minute-aligned time two days ago: inside the store's 30-day retention.
fn base_ts() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    (now - 2 * 86_400) / 60 * 60
}

const FLAGS: [(u16, &str); 11] = [
    (0x800, "charging"),
    (0x400, "discharging"),
    (0x200, "fullyCharged"),
    (0x100, "healthy"),
    (0x080, "batteryLevelLow"),
    (0x040, "energyStorageTooSmall"),
    (0x020, "temperatureSensorNotConnected"),
    (0x010, "noCommunicationWithSolarController"),
    (0x008, "batteryOverheating"),
    (0x004, "lowBatteryTemperature"),
    (0x002, "firmwareUpgradeNotAllowed"),
];

/// Asserts that `row` is exactly the sample for `line`.
fn assert_row(row: &Row, line: &Line, what: &str) {
    assert_eq!(row.measurement, "isems", "{what}: {row:?}");
    assert_eq!(row.ts_ns, line.ts * NS, "{what}: not the node's timestamp: {row:?}");
    assert_eq!(row.tags, json!({"nodeId": line.node_id}), "{what}: {row:?}");
    let mut expected = json!({
        "batteryVoltage": line.battery,
        "isemsRevision": 1,
        "openMPPTFirmwareVersion": "ATmega8_A_1",
        "timeToShutdown": 711,
        "isPowerSaveMode": line.power_save,
        "openCircuitVoltage": 18.614,
        "mppVoltage": 18.5,
        "batteryChargeEstimate": 100.0,
        "batteryHealthEstimate": 95.0,
        "batteryTemperature": 28.0,
        "lowVoltageDisconnectVoltage": 11.67,
        "temperatureCorrectedVoltage": 14.086,
        "rateBatteryCapacity": 7.0,
        "ratedSolarModuleCapacity": 20.0,
        "latitude": 52.507309,
        "longitude": 13.458635,
    });
    if let Some(hex) = line.status {
        let status = u16::from_str_radix(hex, 16).unwrap();
        expected["status"] = json!(status);
        for (bit, name) in FLAGS {
            expected[name] = json!(status & bit != 0);
        }
    }
    assert_eq!(row.fields, expected, "{what}: wrong fields for {}", line.text());
    // Integers stay integers, floats floats (InfluxDB field types must not change).
    assert!(row.fields["isPowerSaveMode"].is_i64(), "{what}: {row:?}");
    assert!(row.fields["batteryChargeEstimate"].is_f64(), "{what}: {row:?}");
}

fn isems_rows(db: &std::path::Path, item: &str) -> Vec<Row> {
    store_rows(db, item)
        .into_iter()
        .filter(|r| r.measurement == "isems")
        .collect()
}

fn poll_rows(db: &std::path::Path, item: &str) -> Vec<Row> {
    store_rows(db, item)
        .into_iter()
        .filter(|r| r.measurement == "isems_poll")
        .collect()
}

/// Asserts the stored `isems` samples of `item` are exactly `lines` (by time).
fn assert_exactly(db: &std::path::Path, item: &str, lines: &[Line]) {
    let rows = isems_rows(db, item);
    let got: Vec<i64> = rows.iter().map(|r| r.ts_ns / NS).collect();
    let mut want: Vec<i64> = lines.iter().map(|l| l.ts).collect();
    want.sort();
    assert_eq!(got, want, "{item}: stored timestamps differ from the good lines");
    for (row, line) in rows.iter().zip(lines) {
        assert_row(row, line, item);
    }
}

/// How often `item` has been polled.
fn polls(logger: &Logger, item: &str) -> u64 {
    logger.item(item)["stats"]["polls"].as_u64().unwrap()
}

fn item(name: &str, arg: &str) -> Value {
    json!({"name": name, "key": "isems.node", "arg": arg, "interval": 1})
}

// ---------------------------------------------------------------- tests

#[test]
fn nodes_are_polled_idempotently_skipping_garbage() {
    let base = base_ts();
    let at = |minute: i64| base + 60 * minute;

    // A router with a growing log: 18- and 19-field lines, CRLF, garbage.
    let router = FakeNode::start(false);
    let mut router_lines = vec![
        Line {
            node_id: "Elektra-Dach",
            ts: at(0),
            battery: 14.073,
            power_save: 0,
            status: None,
        },
        Line {
            node_id: "Elektra Dach Neu",
            ts: at(1),
            battery: 13.9,
            power_save: 3,
            status: Some("300"),
        },
        Line {
            node_id: "Elektra Dach Neu",
            ts: at(2),
            battery: 12.25,
            power_save: 6,
            status: Some("890"),
        },
    ];
    let garbage = [
        "garbage;1;2".to_string(),
        String::new(),
        "<html><body>oops</body></html>".to_string(),
        Line {
            ts: 0,
            ..router_lines[1].clone()
        }
        .text(),
        router_lines[1].text().replace("13.9", "n/a"),
        format!("{};1", router_lines[2].text()),
    ];
    let log = format!(
        "{}\n{}\n{}\r\n{}\n{}\n{}\r\n{}\n{}\n{}\n",
        garbage[0],
        router_lines[0].text(),
        garbage[1],
        garbage[2],
        router_lines[1].text(),
        garbage[3],
        garbage[4],
        router_lines[2].text(),
        garbage[5],
    );
    router.set(LOG_PATH, 200, "application/octet-stream", &log);

    // An ESP32 v2 node: HTML everywhere but /csv.log.
    let esp = FakeNode::start(false);
    esp.set(
        LOG_PATH,
        200,
        "text/html",
        "<!DOCTYPE html>\n<html><head><title>ISEMS</title></head><body>node</body></html>\n",
    );
    let esp_lines: Vec<Line> = (0..5)
        .map(|i| Line {
            node_id: "esp-node-7",
            ts: at(10 + i),
            battery: 12.5 + i as f64 / 10.0,
            power_save: 1,
            status: Some("a04"),
        })
        .collect();
    let csv: String = esp_lines.iter().map(|l| l.text() + "\r\n").collect();
    esp.set(CSV_PATH, 200, "text/plain", &csv);

    // A node that refuses connections: a port that was bound, then closed.
    let refused = format!("127.0.0.1:{}", free_port());

    let dir = TestDir::new(&[dist_wasm("isems")]);
    dir.write_config(json!({
        "items": [
            item("router", &router.arg()),
            item("esp", &esp.arg()),
            item("refused", &refused),
            item("not_granted", &format!("127.0.0.2:{}", router.http.port())),
            item("bad_arg", &format!("http://{}/ISEMS", router.arg())),
        ],
        "plugins": {"isems": {"http": ["127.0.0.1"]}},
    }));
    let mut logger = dir.start();
    let db = dir.db_path();

    logger.wait_until("the good lines of both nodes to be stored", SLOW, |_| {
        (isems_rows(&db, "router").len() >= 3 && isems_rows(&db, "esp").len() >= 5).then_some(())
    });
    assert_exactly(&db, "router", &router_lines);
    assert_exactly(&db, "esp", &esp_lines);

    // Several more polls of the same logs store nothing new.
    logger.wait_polls("router", 3);
    logger.wait_polls("esp", 3);
    assert_exactly(&db, "router", &router_lines);
    assert_exactly(&db, "esp", &esp_lines);

    // The node writes more lines (and more garbage): exactly those are added.
    let new_lines = [
        Line {
            node_id: "Elektra Dach Neu",
            ts: at(3),
            battery: 12.0,
            power_save: 2,
            status: Some("c80"),
        },
        Line {
            node_id: "Elektra-Dach",
            ts: at(4),
            battery: 14.5,
            power_save: 0,
            status: None,
        },
    ];
    router.append(
        LOG_PATH,
        &format!("{}\r\nxx;yy\n{}\n", new_lines[0].text(), new_lines[1].text()),
    );
    router_lines.extend(new_lines.iter().cloned());
    logger.wait_until("the appended lines to be stored", SLOW, |_| {
        (isems_rows(&db, "router").len() >= 5).then_some(())
    });
    logger.wait_polls("router", 3);
    assert_exactly(&db, "router", &router_lines);

    // The REST view: last_value is the newest line's batteryVoltage at its own time.
    let router_item = logger.item("router");
    assert_eq!(router_item["last_error"], json!(null), "{router_item}");
    assert_eq!(router_item["last_value"], json!(14.5), "{router_item}");
    let last = &router_item["last_sample"];
    assert_eq!(last["measurement"], "isems", "{router_item}");
    assert_eq!(last["tags"]["nodeId"], "Elektra-Dach", "{router_item}");
    assert_eq!(rfc3339_ns(&last["timestamp"]), at(4) * NS, "{router_item}");
    let recent = logger.api.get("/items/router/samples?limit=50");
    assert_eq!(recent.status, 200, "{}", recent.text);
    let recent = recent.json();
    let recent: Vec<&Value> = recent
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["measurement"] == "isems")
        .collect();
    assert_eq!(recent.len(), 5, "REST samples: {recent:?}");
    let flagged = recent
        .iter()
        .find(|s| rfc3339_ns(&s["timestamp"]) == at(2) * NS)
        .unwrap();
    // "890": charging + battery level low + no communication with the controller.
    assert_eq!(flagged["fields"]["status"], 0x890, "{flagged}");
    assert_eq!(flagged["fields"]["charging"], true, "{flagged}");
    assert_eq!(flagged["fields"]["batteryLevelLow"], true, "{flagged}");
    assert_eq!(
        flagged["fields"]["noCommunicationWithSolarController"], true,
        "{flagged}"
    );
    assert_eq!(flagged["fields"]["healthy"], false, "{flagged}");
    assert_eq!(flagged["tags"]["nodeId"], "Elektra Dach Neu", "{flagged}");

    // The per-poll summary counts the skipped lines; the host log says so.
    let summary = poll_rows(&db, "router");
    let newest = summary.last().expect("no isems_poll rows");
    assert_eq!(newest.tags, json!({"node": router.arg()}), "{newest:?}");
    assert_eq!(
        newest.fields,
        json!({"samples": 5, "skipped": 7, "lines": 12, "truncated": 0}),
        "{newest:?}"
    );
    assert!(
        summary.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns),
        "one summary per tick"
    );
    let esp_summary = poll_rows(&db, "esp");
    assert_eq!(
        esp_summary.last().unwrap().fields,
        json!({"samples": 5, "skipped": 0, "lines": 5, "truncated": 0})
    );
    let stderr = logger.stderr();
    assert!(
        stderr.contains(&format!("ISEMS node {}: skipped 7 of 12 lines", router.arg())),
        "no skip summary in the host log:\n{stderr}"
    );

    // The ESP node was asked for the log, got HTML, then read /csv.log.
    let esp_paths: Vec<String> = esp.requests().into_iter().map(|(p, _)| p).collect();
    assert!(
        esp_paths.starts_with(&[LOG_PATH.to_string(), CSV_PATH.to_string()]),
        "{esp_paths:?}"
    );
    assert_eq!(logger.item("esp")["last_value"], json!(esp_lines[4].battery));
    assert_eq!(logger.item("esp")["last_error"], json!(null));

    // The refusing node: an unavailable error naming it, while the others keep sampling.
    let refused_item = logger.wait_item_field("refused", "last_error");
    let error = refused_item["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("unavailable:") && error.contains(&refused),
        "refused: {error}"
    );
    assert!(store_rows(&db, "refused").is_empty());
    let before = polls(&logger, "router");
    logger.wait_polls("refused", 2);
    assert!(polls(&logger, "router") > before, "the router item stopped sampling");
    assert_eq!(logger.item("router")["last_error"], json!(null));
    assert_exactly(&db, "router", &router_lines);

    // Not granted: unavailable with the host's message kept.
    let error = logger.wait_item_field("not_granted", "last_error")["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("unavailable:") && error.contains("not granted") && error.contains("isems"),
        "not_granted: {error}"
    );
    // A bad arg: bad-argument showing the expected form.
    let error = logger.wait_item_field("bad_arg", "last_error")["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("bad argument:") && error.contains("host[:port]"),
        "bad_arg: {error}"
    );

    // The rotating log: 404 → unavailable saying so; stored samples stay.
    router.set(LOG_PATH, 404, "text/plain", "Not Found");
    let error = logger.wait_until("the router's 404 to show", SLOW, |api| {
        let item = api.try_get("/items/router")?.json();
        item["last_error"].as_str().map(str::to_owned)
    });
    assert!(
        error.starts_with("unavailable:") && error.contains("404") && error.contains("rotat"),
        "router: {error}"
    );
    assert_exactly(&db, "router", &router_lines);
}

#[test]
fn a_long_log_is_read_from_its_tail_and_capped() {
    let base = base_ts() - 86_400;
    let lines: Vec<Line> = (0..3000)
        .map(|i| Line {
            node_id: "Big Router",
            ts: base + 60 * i,
            battery: 12.0 + (i % 20) as f64 / 10.0,
            power_save: i % 7,
            status: Some(if i % 2 == 0 { "300" } else { "a00" }),
        })
        .collect();
    let log: String = lines.iter().map(|l| l.text() + "\n").collect();
    assert!(
        log.len() > 256 * 1024,
        "the log must be longer than the range asked for"
    );
    let router = FakeNode::start(true);
    router.set(LOG_PATH, 200, "text/plain", &log);

    let dir = TestDir::new(&[dist_wasm("isems")]);
    dir.write_config(json!({
        "items": [item("big", &router.arg())],
        "plugins": {"isems": {"http": ["127.0.0.1"]}},
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    logger.wait_until("the newest lines to be stored", SLOW, |_| {
        (!isems_rows(&db, "big").is_empty()).then_some(())
    });
    logger.wait_polls("big", 2);

    // Exactly the newest MAX_LINES lines, each once.
    let newest = &lines[lines.len() - MAX_LINES..];
    assert_exactly(&db, "big", newest);
    let item = logger.item("big");
    assert_eq!(item["last_error"], json!(null), "{item}");
    assert_eq!(rfc3339_ns(&item["last_sample"]["timestamp"]), lines[2999].ts * NS);

    // Only the tail was asked for; the cut first line of the 206 is not "skipped".
    let requests = router.requests();
    assert!(!requests.is_empty());
    for (path, range) in &requests {
        assert_eq!(path, LOG_PATH);
        assert_eq!(range.as_deref(), Some("bytes=-262144"), "{requests:?}");
    }
    let summary = poll_rows(&db, "big");
    let fields = &summary.last().unwrap().fields;
    assert_eq!(fields["samples"], MAX_LINES, "{fields}");
    assert_eq!(fields["skipped"], 0, "{fields}");
    let tail_lines = fields["lines"].as_u64().unwrap() as usize;
    assert!(tail_lines > MAX_LINES && tail_lines < lines.len(), "{fields}");
    assert_eq!(fields["truncated"], tail_lines - MAX_LINES, "{fields}");
}
