//! The shipped Grafana setup (`grafana/`), without Grafana: every query of
//! every dashboard — each panel target and each template variable — is
//! interpolated as Grafana interpolates it and sent, the way Grafana's
//! InfluxDB datasource sends it, to the logger's `/query` and to a real
//! InfluxDB 1.6 the logger forwards the same samples to. Each must answer
//! data, and the same series from both.
//!
//! The samples come from the standard plugins at work: `system` (the real
//! /proc/loadavg), `net` (ping on loopback only), `sensehat` (the simulated
//! I2C bus), `wemo` (a fake Insight plug on loopback, read by address, so no
//! SSDP search leaves the machine) and `isems` (a fake node on loopback whose
//! log covers 40 minutes up to 5 minutes ago). Once every item has been polled a few
//! times the items are disabled and the output has delivered everything, so
//! both servers hold the same, unchanging data.
//!
//! Interpolation (what Grafana does before a query leaves it):
//! - template variables: multi-value with "All": all values regex-escaped as
//!   `(a|b)`, one value regex-escaped; the values come from the variable's
//!   own query (`SHOW TAG VALUES ...`), asked of both servers;
//! - `$timeFilter`: `time >= now() - 1h and time <= now()` (the browser-side
//!   datasource up to Grafana 9, for a relative range) or
//!   `time >= <ms>ms and time <= <ms>ms` (Grafana's backend, every range);
//! - `$__interval` / `$interval` (and `$__interval_ms`): the interval text
//!   Grafana computes (`5s`, `1s`, `1m`).
//!
//! Requests: the browser-side datasource joined a panel's targets with `;`
//! into one GET; the backend sends one request per target, GET or POST with
//! `q` in a form body (`httpMode`), `db` and `epoch=ms` in the URL.
//!
//! Comparison: for an absolute range the answers must be equal (floats within
//! 1e-9 relative). For `now()`-relative ranges each server has its own
//! `now()`, so only the rows holding values are compared (and without their
//! time where the statement has no `GROUP BY time`, as an aggregate's time
//! is then the range's start). The absolute passes run again after
//! `POST /store/compact`, which moves every minute before the current one
//! into blocks and per-minute rollups (the ISEMS log; the live samples of
//! the current minute stay hot), so answers mix both forms.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::common::http_fake::{HttpFake, Request, Response};
use crate::common::servers::{agent, Influx};
use crate::common::*;
use serde_json::{json, Value};

/// The database name the shipped datasources use (any name reaches the logger).
const DB: &str = "datalogger";
/// The datasource every panel and variable names.
const UID: &str = "datalogger";
const HOUR_MS: i64 = 3_600_000;
/// Polls of each item before the data is frozen.
const POLLS: u64 = 8;

// ---------------------------------------------------------------- the files

/// One dashboard file: its template variables and its panels' queries.
#[derive(Debug)]
struct Dashboard {
    file: String,
    /// (name, query), in the dashboard's order.
    variables: Vec<(String, String)>,
    panels: Vec<Panel>,
}

#[derive(Debug)]
struct Panel {
    title: String,
    /// The raw query of each shown target, in refId order.
    queries: Vec<String>,
}

fn grafana_dir() -> std::path::PathBuf {
    repo_root().join("grafana")
}

/// Asserts `value` names the shipped datasource the way file provisioning
/// needs it: by uid, no `${DS_...}` input.
fn assert_datasource(value: &Value, what: &str) {
    assert_eq!(
        value,
        &json!({"type": "influxdb", "uid": UID}),
        "{what}: the datasource must be {{\"type\": \"influxdb\", \"uid\": \"{UID}\"}}"
    );
}

/// Every panel of `panels`, rows' panels included.
fn collect_panels<'a>(panels: &'a [Value], out: &mut Vec<&'a Value>) {
    for panel in panels {
        if let Some(nested) = panel["panels"].as_array() {
            collect_panels(nested, out);
        }
        if panel["type"] != "row" {
            out.push(panel);
        }
    }
}

fn load_dashboards() -> Vec<Dashboard> {
    let dir = grafana_dir().join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut uids = Vec::new();
    let boards: Vec<Dashboard> = files.iter().map(|path| load_dashboard(path, &mut uids)).collect();
    let names: Vec<&str> = boards.iter().map(|b| b.file.as_str()).collect();
    for expected in ["isems.json", "ping.json", "sensehat.json", "system.json", "wemo.json"] {
        assert!(names.contains(&expected), "no grafana/dashboards/{expected}: {names:?}");
    }
    boards
}

fn load_dashboard(path: &Path, uids: &mut Vec<String>) -> Dashboard {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        !text.contains("${DS_") && !text.contains("__inputs"),
        "{file}: file provisioning does not fill ${{DS_...}} inputs; name the datasource by uid"
    );
    let board: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
    let uid = board["uid"].as_str().unwrap_or_else(|| panic!("{file}: no uid"));
    assert!(!uids.contains(&uid.to_string()), "{file}: uid {uid} is used twice");
    uids.push(uid.to_string());
    assert!(board["title"].is_string(), "{file}: no title");

    let mut variables = Vec::new();
    for var in board["templating"]["list"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_string();
        assert_eq!(var["type"], "query", "{file}: variable {name} is not a query variable");
        assert_datasource(&var["datasource"], &format!("{file}: variable {name}"));
        let query = match &var["query"] {
            Value::String(q) => q.clone(),
            // Newer Grafana saves {"query": "...", "refId": ...}.
            other => other["query"].as_str().unwrap().to_string(),
        };
        variables.push((name, query));
    }

    let mut all = Vec::new();
    collect_panels(board["panels"].as_array().unwrap(), &mut all);
    let mut ids: Vec<&Value> = all.iter().map(|p| &p["id"]).collect();
    ids.sort_by_key(|id| id.as_u64());
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "{file}: panel ids are not unique");
    let mut panels = Vec::new();
    for panel in all {
        let title = panel["title"].as_str().unwrap_or("").to_string();
        let what = format!("{file}: panel {title:?}");
        assert!(
            panel["id"].is_u64() && panel["gridPos"]["w"].is_u64(),
            "{what}: no id or gridPos"
        );
        assert_datasource(&panel["datasource"], &what);
        let targets = panel["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no targets"));
        let mut queries = Vec::new();
        for target in targets.iter().filter(|t| t["hide"] != true) {
            assert_datasource(&target["datasource"], &what);
            assert_eq!(target["rawQuery"], true, "{what}: a target is not a raw InfluxQL query");
            let query = target["query"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: a target has no query"));
            queries.push(query.to_string());
        }
        assert!(!queries.is_empty(), "{what}: no query");
        panels.push(Panel { title, queries });
    }
    assert!(!panels.is_empty(), "{file}: no panels");
    Dashboard {
        file,
        variables,
        panels,
    }
}

/// The `key: value` lines of a small YAML file (list dashes dropped,
/// comments skipped), as (key, value without quotes).
fn yaml_pairs(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| l.trim().trim_start_matches("- ").trim())
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.trim().trim_matches('"').trim_matches('\'').to_string(),
            )
        })
        .collect()
}

fn value_of<'a>(pairs: &'a [(String, String)], key: &str, what: &str) -> &'a str {
    let found: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{what}: expected one {key:?}, found {found:?}");
    found[0]
}

/// The provisioning files: a datasource with the fixed uid at the logger's
/// default address, its InfluxDB twin under the same uid, a file provider.
fn check_provisioning() {
    let dir = grafana_dir().join("provisioning");
    let port = datalogger::config::DEFAULT_LISTEN.rsplit(':').next().unwrap();
    let logger = dir.join("datasources/datalogger.yaml");
    let influx = dir.join("datasources/influxdb.yaml.example");
    for (path, url_port) in [(&logger, port), (&influx, "8086")] {
        let what = path.display().to_string();
        let pairs = yaml_pairs(path);
        assert_eq!(value_of(&pairs, "apiVersion", &what), "1");
        assert_eq!(value_of(&pairs, "type", &what), "influxdb");
        assert_eq!(value_of(&pairs, "access", &what), "proxy");
        assert_eq!(value_of(&pairs, "uid", &what), UID);
        assert_eq!(value_of(&pairs, "version", &what), "InfluxQL");
        assert_eq!(value_of(&pairs, "dbName", &what), DB);
        let url = value_of(&pairs, "url", &what);
        assert!(
            url.starts_with("http://") && url.ends_with(&format!(":{url_port}")),
            "{what}: url {url:?} should be the base URL on port {url_port} (Grafana appends /query)"
        );
    }
    let provider = dir.join("dashboards/datalogger.yaml");
    let what = provider.display().to_string();
    let pairs = yaml_pairs(&provider);
    assert_eq!(value_of(&pairs, "apiVersion", &what), "1");
    assert_eq!(value_of(&pairs, "type", &what), "file");
    assert!(
        value_of(&pairs, "path", &what).starts_with('/'),
        "{what}: path must be absolute"
    );
}

/// Queries as Grafana's visual query editor builds them (not raw): `::tag`
/// and `::field` casts, a retention policy picked in the editor, `GROUP BY
/// *`, `tz()`; run like a dashboard's panels.
fn editor_queries() -> Dashboard {
    let queries = [
        r#"SELECT mean("load1") FROM "system" WHERE ("item"::tag =~ /^$item$/) AND $timeFilter GROUP BY time($__interval), "item"::tag fill(null)"#,
        r#"SELECT mean("average_response_ms") FROM "autogen"."ping" WHERE ("url"::tag = '127.0.0.1') AND $timeFilter GROUP BY time($__interval) fill(null)"#,
        r#"SELECT mean("average_response_ms") FROM "ping" WHERE ("result_code"::field = 0) AND $timeFilter GROUP BY time($__interval), "url" fill(null)"#,
        r#"SELECT last("state") FROM "wemo" WHERE $timeFilter GROUP BY time($__interval), * fill(previous)"#,
        r#"SELECT mean("batteryVoltage") FROM "isems" WHERE ("nodeId" =~ /^$node$/) AND $timeFilter GROUP BY time($__interval), "nodeId" fill(linear) tz('Europe/Berlin')"#,
        r#"SELECT "power_w" FROM "wemo" WHERE $timeFilter"#,
    ];
    Dashboard {
        file: "(the visual query editor)".into(),
        variables: vec![
            (
                "item".into(),
                r#"SHOW TAG VALUES FROM "system" WITH KEY = "item""#.into(),
            ),
            (
                "node".into(),
                r#"SHOW TAG VALUES FROM "isems" WITH KEY = "nodeId""#.into(),
            ),
        ],
        panels: queries
            .iter()
            .enumerate()
            .map(|(i, q)| Panel {
                title: format!("query {}", i + 1),
                queries: vec![q.to_string()],
            })
            .collect(),
    }
}

// ---------------------------------------------------------------- interpolation

/// Grafana's `regexEscape` (kbn / `escapeRegex`).
fn regex_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if "\\^$*+?.()|[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which values of each (multi-value, include-All) variable are selected.
#[derive(Clone, Copy, Debug)]
enum Selection {
    /// "All": every value, as `(a|b|...)`.
    All,
    /// The first value only, escaped.
    First,
}

fn selected(values: &[String], selection: Selection) -> String {
    match selection {
        Selection::All => format!(
            "({})",
            values.iter().map(|v| regex_escape(v)).collect::<Vec<_>>().join("|")
        ),
        Selection::First => regex_escape(&values[0]),
    }
}

/// The macros Grafana fills in.
struct Macros {
    time_filter: String,
    /// As Grafana formats it (`gtime.FormatInterval`): `1s`, `5s`, `1m`.
    interval: &'static str,
    interval_ms: i64,
}

/// Replaces `$name` and `${name}` as Grafana's template service does
/// (`\$(\w+)`, greedy); a `$` not followed by a name (`/^$node$/`) stays.
/// A name that is neither a macro nor a variable of the dashboard fails.
fn interpolate(query: &str, vars: &BTreeMap<String, String>, macros: &Macros, what: &str) -> String {
    let mut out = String::new();
    let mut rest = query;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced
                    .find('}')
                    .unwrap_or_else(|| panic!("{what}: unclosed ${{ in {query}"));
                (&braced[..end], end + 2)
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let value = match name {
            "" => "$".to_string(),
            "timeFilter" => macros.time_filter.clone(),
            "__interval" | "interval" => macros.interval.to_string(),
            "__interval_ms" => macros.interval_ms.to_string(),
            n => vars.get(n).cloned().unwrap_or_else(|| {
                panic!("{what}: ${n} is neither a Grafana macro nor a variable of the dashboard: {query}")
            }),
        };
        out.push_str(&value);
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------- requests

/// How a request goes out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    Get,
    /// `q` in an `application/x-www-form-urlencoded` body (`httpMode: POST`).
    Post,
}

/// The two servers' base URLs.
struct Servers {
    logger: String,
    influx: String,
    agent: ureq::Agent,
}

impl Servers {
    /// Sends `q` as Grafana does; the JSON answer (status 200 required).
    fn ask(&self, base: &str, q: &str, method: Method) -> Value {
        let url = format!("{base}/query");
        let request = |r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| {
            let mut resp = r.unwrap_or_else(|e| panic!("{base}: {q}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.body_mut().read_to_string().unwrap();
            assert_eq!(status, 200, "{base}: {method:?} {q}\n  answered {status}: {text}");
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{base}: {q}: not JSON ({e}): {text}"))
        };
        match method {
            Method::Get => request(
                self.agent
                    .get(&url)
                    .query("db", DB)
                    .query("epoch", "ms")
                    .query("q", q)
                    .call(),
            ),
            Method::Post => request(
                self.agent
                    .post(&url)
                    .query("db", DB)
                    .query("epoch", "ms")
                    .send_form([("q", q)]),
            ),
        }
    }

    /// `q` against both; each answer's statement results (as many as `statements`).
    fn ask_both(&self, q: &str, method: Method, statements: usize) -> (Vec<Value>, Vec<Value>) {
        let ours = results(&self.ask(&self.logger, q, method), statements, "the logger", q);
        let theirs = results(&self.ask(&self.influx, q, method), statements, "InfluxDB", q);
        (ours, theirs)
    }
}

/// The `results` of an answer: `statements` of them, in order, none an error.
fn results(body: &Value, statements: usize, server: &str, q: &str) -> Vec<Value> {
    let results = body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{server}: {q}\n  no results: {body}"));
    assert_eq!(results.len(), statements, "{server}: {q}\n  answered {body}");
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["statement_id"], i, "{server}: {q}\n  answered {body}");
        assert!(
            result["error"].is_null(),
            "{server}: statement {i} of {q}\n  failed: {}",
            result["error"]
        );
    }
    results.clone()
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

fn series(result: &Value) -> &[Value] {
    result["series"].as_array().map_or(&[], Vec::as_slice)
}

/// Each series' name, tags and columns.
fn identities(result: &Value) -> Vec<Value> {
    series(result)
        .iter()
        .map(|s| json!({"name": s["name"], "tags": s["tags"], "columns": s["columns"]}))
        .collect()
}

/// The rows of a series that hold a value besides the time; without the
/// time column when `keep_time` is false.
fn rows_with_values(series: &Value, keep_time: bool) -> Vec<Value> {
    let time_first = series["columns"][0] == "time";
    series["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let row = row.as_array().unwrap();
            let skip = usize::from(time_first);
            row[skip..].iter().any(|v| !v.is_null()).then(|| {
                let kept = if keep_time || !time_first { &row[..] } else { &row[1..] };
                Value::from(kept.to_vec())
            })
        })
        .collect()
}

/// Whether a statement returned data: a series with a row holding a value.
/// (Other series may hold only nulls, as InfluxDB answers them: `mean("load1")
/// / mean("n_cpus")` for an item without `n_cpus`.)
fn has_data(result: &Value) -> bool {
    series(result).iter().any(|s| !rows_with_values(s, true).is_empty())
}

/// How two answers to one statement must agree.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Agreement {
    /// Equal as data (an absolute range, or a SHOW statement).
    Exact,
    /// A `now()`-relative range: the same series and the same rows with values.
    Relative { grouped_by_time: bool },
}

fn disagreement(ours: &Value, theirs: &Value, agreement: Agreement) -> Option<String> {
    let show = || format!("\n    logger:   {ours}\n    InfluxDB: {theirs}");
    if identities(ours) != identities(theirs) {
        return Some(format!(
            "different series: logger {:?}, InfluxDB {:?}{}",
            identities(ours),
            identities(theirs),
            show()
        ));
    }
    match agreement {
        Agreement::Exact => (!same(ours, theirs)).then(|| format!("different values{}", show())),
        Agreement::Relative { grouped_by_time } => {
            for (a, b) in series(ours).iter().zip(series(theirs)) {
                let (a_rows, b_rows) = (
                    rows_with_values(a, grouped_by_time),
                    rows_with_values(b, grouped_by_time),
                );
                if !same(&Value::from(a_rows.clone()), &Value::from(b_rows.clone())) {
                    return Some(format!(
                        "different rows with values in series {}: logger {a_rows:?}, InfluxDB {b_rows:?}",
                        json!({"name": a["name"], "tags": a["tags"]})
                    ));
                }
            }
            None
        }
    }
}

/// Whether a statement has `GROUP BY time(...)` (case-insensitively).
fn groups_by_time(statement: &str) -> bool {
    let s = statement.to_ascii_lowercase().replace(' ', "");
    s.contains("groupbytime(")
}

// ---------------------------------------------------------------- fake devices

/// An ISEMS log line (19 fields) of node `node` at `ts_s`, values varying with `i`.
fn isems_line(node: &str, ts_s: i64, i: i64) -> String {
    let battery = 12.0 + (i % 17) as f64 * 0.05;
    let charge = 60 + i % 40;
    let temp = 18.0 + (i % 11) as f64 * 0.5;
    let power_save = i % 3;
    let status = [0x900, 0x500, 0x300, 0x980][(i % 4) as usize];
    let firmware = if i % 20 < 10 { "ATmega8_A_1" } else { "ATmega8_A_2" };
    format!(
        "{node};1;{ts_s};{firmware};711;{power_save};18.614;18.5;{battery};{charge};95;{temp};11.67;14.086;7;20;52.507309;13.458635;{status:x}"
    )
}

/// A WeMo Insight on loopback, read by address (no SSDP): setup.xml and the
/// two control actions, its power changing with every reading.
fn fake_wemo(name: &'static str) -> HttpFake {
    let readings = Arc::new(AtomicU64::new(0));
    HttpFake::start(move |request: &Request| {
        let body = match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/setup.xml") => format!(
                "<?xml version=\"1.0\"?>\n<root xmlns=\"urn:Belkin:device-1-0\"><device>\
                 <deviceType>urn:Belkin:device:insight:1</deviceType><friendlyName>{name}</friendlyName>\
                 <modelName>Insight</modelName><serialNumber>221517K0101769</serialNumber>\
                 <UDN>uuid:Insight-1_0-221517K0101769</UDN><serviceList>\
                 <service><serviceType>urn:Belkin:service:basicevent:1</serviceType>\
                 <controlURL>/upnp/control/basicevent1</controlURL></service>\
                 <service><serviceType>urn:Belkin:service:insight:1</serviceType>\
                 <controlURL>/upnp/control/insight1</controlURL></service>\
                 </serviceList></device></root>\n"
            ),
            ("POST", "/upnp/control/basicevent1") => soap(
                "<u:GetBinaryStateResponse xmlns:u=\"urn:Belkin:service:basicevent:1\">\
                 <BinaryState>1</BinaryState></u:GetBinaryStateResponse>",
            ),
            ("POST", "/upnp/control/insight1") => {
                let n = readings.fetch_add(1, Ordering::SeqCst);
                let milliwatts = 40_000 + 1_250 * (n % 8);
                soap(&format!(
                    "<u:GetInsightParamsResponse xmlns:u=\"urn:Belkin:service:metainfo:1\"><InsightParams>\
                     1|1611530424|{}|300|183183|1209600|8|{milliwatts}|{}|99830512.000000|8000\
                     </InsightParams></u:GetInsightParamsResponse>",
                    231 + n,
                    1_164_707 + n * 700
                ))
            }
            _ => return Response::new(404, "text/html", "<html><body>404 Not Found</body></html>"),
        };
        Response::new(200, "text/xml; charset=\"utf-8\"", body)
    })
}

fn soap(inner: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>{inner}</s:Body></s:Envelope>"
    )
}

/// `text` cut to about `max` bytes (answers of thousands of rows).
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

// ---------------------------------------------------------------- the passes

/// One way Grafana sends a dashboard's queries.
struct Pass {
    name: String,
    macros: Macros,
    selection: Selection,
    /// A panel's targets joined with `;` into one request (the browser-side
    /// datasource), else one request per target (the backend).
    joined: bool,
    method: Method,
    agreement_relative: bool,
}

/// Runs every panel of every dashboard in `pass`; the failures.
fn run_pass(
    servers: &Servers,
    boards: &[Dashboard],
    values: &BTreeMap<String, Vec<String>>,
    pass: &Pass,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut statements_run = 0;
    for board in boards {
        let vars: BTreeMap<String, String> = board
            .variables
            .iter()
            .map(|(name, query)| (name.clone(), selected(&values[query], pass.selection)))
            .collect();
        for panel in &board.panels {
            let what = format!("{} / {:?}", board.file, panel.title);
            let statements: Vec<String> = panel
                .queries
                .iter()
                .map(|q| interpolate(q, &vars, &pass.macros, &what))
                .collect();
            let requests: Vec<Vec<String>> = if pass.joined {
                vec![statements]
            } else {
                statements.into_iter().map(|s| vec![s]).collect()
            };
            for request in requests {
                let q = request.join(";");
                let (ours, theirs) = servers.ask_both(&q, pass.method, request.len());
                for ((statement, ours), theirs) in request.iter().zip(&ours).zip(&theirs) {
                    statements_run += 1;
                    let agreement = if pass.agreement_relative {
                        Agreement::Relative {
                            grouped_by_time: groups_by_time(statement),
                        }
                    } else {
                        Agreement::Exact
                    };
                    if !has_data(ours) || !has_data(theirs) {
                        failures.push(format!(
                            "[{}] {what}: {statement}\n  no data: logger {ours}\n  InfluxDB {theirs}",
                            pass.name
                        ));
                    } else if let Some(d) = disagreement(ours, theirs, agreement) {
                        failures.push(format!("[{}] {what}: {statement}\n  {d}", pass.name));
                    }
                }
            }
        }
    }
    eprintln!("grafana: pass {:?}: {statements_run} statements", pass.name);
    failures
}

/// What Grafana asks besides the panels: the health check ("Save & test"),
/// the query editor's and the dashboards' metadata queries, and every
/// variable's query. Returns each variable query's values; pushes failures.
fn metadata(servers: &Servers, boards: &[Dashboard], failures: &mut Vec<String>) -> BTreeMap<String, Vec<String>> {
    // The measurements the dashboards read.
    let mut measurements: Vec<String> = boards
        .iter()
        .flat_map(|b| b.panels.iter().flat_map(|p| p.queries.iter()))
        .filter_map(|q| Some(q.split("FROM \"").nth(1)?.split('"').next()?.to_string()))
        .collect();
    measurements.sort();
    measurements.dedup();
    let mut exact = vec![
        "SHOW measurements".to_string(),
        "SHOW MEASUREMENTS LIMIT 1".to_string(),
        "SHOW MEASUREMENTS LIMIT 100".to_string(),
        "SHOW TAG KEYS".to_string(),
        "SHOW MEASUREMENTS WITH MEASUREMENT =~ /isems/ LIMIT 100".to_string(),
        "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)IS/ LIMIT 100".to_string(),
        "SHOW FIELD KEYS".to_string(),
        r#"SHOW TAG VALUES WITH KEY = "item""#.to_string(),
        r#"SHOW TAG KEYS FROM "system" WHERE time > now() - 1h"#.to_string(),
        r#"SHOW TAG KEYS FROM "ping" WHERE "item" = 'lo' AND time > now() - 1h"#.to_string(),
        r#"SHOW TAG VALUES FROM "ping" WITH KEY = "url" WHERE "item" = 'lo'"#.to_string(),
    ];
    for m in &measurements {
        exact.push(format!("SHOW TAG KEYS FROM \"{m}\""));
        exact.push(format!("SHOW FIELD KEYS FROM \"{m}\""));
    }
    let variable_queries: Vec<&String> = boards.iter().flat_map(|b| b.variables.iter().map(|(_, q)| q)).collect();
    exact.extend(variable_queries.iter().map(|q| q.to_string()));
    for q in &exact {
        for method in [Method::Get, Method::Post] {
            let (ours, theirs) = servers.ask_both(q, method, 1);
            if !has_data(&ours[0]) {
                failures.push(format!("[metadata] {q}: no data from the logger: {}", ours[0]));
            } else if let Some(d) = disagreement(&ours[0], &theirs[0], Agreement::Exact) {
                failures.push(format!("[metadata] {method:?} {q}\n  {d}"));
            }
        }
    }
    // Retention policies differ on purpose (the logger shows its store's
    // retention), but Grafana reads their names before every panel query.
    let q = format!("SHOW RETENTION POLICIES on \"{DB}\"");
    let (ours, theirs) = servers.ask_both(&q, Method::Get, 1);
    for (server, result) in [("logger", &ours[0]), ("InfluxDB", &theirs[0])] {
        let first = &series(result).first().cloned().unwrap_or(Value::Null);
        if first["columns"][0] != "name" || first["values"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("[metadata] {q}: no policy names from the {server}: {result}"));
        }
    }

    let mut values = BTreeMap::new();
    for q in variable_queries {
        let (ours, _) = servers.ask_both(q, Method::Get, 1);
        // Grafana takes the `value` column of SHOW TAG VALUES.
        // Grafana sorts them (the variables' `sort: 1`) and drops repeats.
        let mut found: Vec<String> = series(&ours[0])
            .iter()
            .flat_map(|s| s["values"].as_array().unwrap().iter())
            .map(|row| row[1].as_str().unwrap().to_string())
            .collect();
        found.sort();
        found.dedup();
        values.insert(q.clone(), found);
    }
    values
}

// ---------------------------------------------------------------- the test

#[test]
fn grafana_dashboards_answer_the_same_from_the_logger_and_from_influxdb() {
    let started = Instant::now();
    check_provisioning();
    let mut boards = load_dashboards();

    // Two ISEMS nodes (one with a space in its id) logging once a minute for
    // 40 minutes up to about 5 minutes ago: inside a one-hour view, none of
    // it near its start, all of it in minutes the compactor may take.
    let now_s = now_ms() / 1000;
    let first_s = (now_s - 45 * 60) / 60 * 60;
    let mut lines = Vec::new();
    for i in 0..40 {
        lines.push(isems_line("roof", first_s + 60 * i, i));
        lines.push(isems_line("cellar node", first_s + 60 * i + 17, i + 5));
    }
    let lines_stored = lines.len() as u64;
    let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let node = HttpFake::start(move |request: &Request| match request.path.as_str() {
        "/ISEMS/ffopenmppt.log" => Response::new(200, "text/plain", log.clone()),
        _ => Response::new(404, "text/plain", "404 Not Found"),
    });
    let wemo = fake_wemo("Kitchen Insight");
    // Nothing listens here: a search, should one be made, stays on loopback.
    let ssdp_sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();

    let dir = TestDir::new(&["system", "net", "sensehat", "wemo", "isems"].map(dist_wasm));
    let influx = Influx::launch(dir.path());
    let item =
        |name: &str, key: &str, arg: Option<String>| json!({"name": name, "key": key, "interval": 1, "arg": arg});
    let items = vec![
        item("load", "system.load", None),
        item("load1", "system.loadavg1", None),
        item("lo", "net.ping", Some("127.0.0.1".into())),
        item("lo2", "net.ping", Some("127.0.0.2".into())),
        item("env", "sensehat.environment", None),
        item("temp", "sensehat.temperature", None),
        item("plug_state", "wemo.state", Some(wemo.address())),
        item("plug_power", "wemo.power", Some(wemo.address())),
        item("plug", "wemo.insight", Some(wemo.address())),
        item("node", "isems.node", Some(node.address())),
    ];
    let names: Vec<String> = items.iter().map(|i| i["name"].as_str().unwrap().to_string()).collect();
    dir.write_config(json!({
        "store": {"path": dir.db_path(), "retention_days": 30, "compact_after_minutes": 0},
        "items": items,
        "plugins": {
            "system": {"files": ["/proc/loadavg", "/sys/devices/system/cpu/online"]},
            "net": {"ping": ["127.0.0.0/8"]},
            "sensehat": {"i2c": [{"bus": 1, "addresses": ["0x5c", "0x5f"]}]},
            "wemo": {"http": ["127.0.0.1"]},
            "isems": {"http": ["127.0.0.1"]},
        },
        "discovery": {"ssdp_target": ssdp_sink.local_addr().unwrap().to_string()},
        "i2c": {"buses": [{"bus": 1, "simulated": [
            {"chip": "hts221", "address": "0x5f", "temperature_c": 21.5, "humidity_rh": 40.0},
            {"chip": "lps25h", "address": "0x5c", "pressure_hpa": 1013.25, "temperature_c": 21.0},
        ]}]},
        "outputs": [{"name": "influx", "type": "influxdb", "url": influx.url(), "database": DB, "flush_interval_ms": 200}],
    }));
    let mut logger = dir.start();

    // Every item polled a few times, without errors; then the data is frozen.
    logger.wait_until(&format!("{POLLS} polls of every item"), SLOW, |api| {
        names
            .iter()
            .all(|n| {
                api.try_get(&format!("/items/{n}"))
                    .and_then(|r| r.json()["stats"]["polls"].as_u64())
                    .is_some_and(|p| p >= POLLS)
            })
            .then_some(())
    });
    for name in &names {
        let item = logger.item(name);
        assert_eq!(item["last_error"], Value::Null, "{name}: {item}");
        let resp = logger.api.put(&format!("/items/{name}"), &json!({"enabled": false}));
        assert_eq!(resp.status, 200, "disabling {name}: {}", resp.text);
    }
    // Delivered, and nothing stored since: the same count on two polls in a row.
    let stored = |api: &Api| {
        let store = api.try_get("/store")?.json();
        Some(store["hot_samples"].as_u64()? + store["compacted_samples"].as_u64()?)
    };
    let mut last = None;
    logger.wait_until("the output to deliver everything", SLOW, |api| {
        let count = stored(api)?;
        let outputs = api.try_get("/outputs")?.json();
        let delivered = outputs[0]["backlog_points"] == 0 && outputs[0]["state"] == "connected";
        let settled = delivered && last == Some(count);
        last = Some(count);
        settled.then_some(())
    });
    let frozen_ms = now_ms();
    eprintln!("grafana: data frozen after {:?}", started.elapsed());

    let servers = Servers {
        logger: format!("http://127.0.0.1:{}", dir.port),
        influx: influx.url(),
        agent: agent(),
    };
    let mut failures = Vec::new();
    let values = metadata(&servers, &boards, &mut failures);
    boards.push(editor_queries());
    for (q, found) in &values {
        assert!(!found.is_empty(), "the variable query {q} found no values");
    }
    eprintln!("grafana: variable values {values:?}");
    assert_eq!(
        values[r#"SHOW TAG VALUES FROM "isems" WITH KEY = "nodeId""#],
        ["cellar node", "roof"]
    );
    assert_eq!(
        values[r#"SHOW TAG VALUES FROM "ping" WITH KEY = "url""#],
        ["127.0.0.1", "127.0.0.2"]
    );

    // A fixed range: the hour up to a moment after the last sample.
    let (from, to) = (frozen_ms + 1000 - HOUR_MS, frozen_ms + 1000);
    let absolute = |interval: &'static str, interval_ms: i64| Macros {
        time_filter: format!("time >= {from}ms and time <= {to}ms"),
        interval,
        interval_ms,
    };
    let absolute_passes = |stage: &str| {
        [
            Pass {
                name: format!("{stage}backend, absolute range, 1s, first value, POST"),
                macros: absolute("1s", 1000),
                selection: Selection::First,
                joined: false,
                method: Method::Post,
                agreement_relative: false,
            },
            Pass {
                name: format!("{stage}backend, absolute range, 1m, All, GET"),
                macros: absolute("1m", 60_000),
                selection: Selection::All,
                joined: false,
                method: Method::Get,
                agreement_relative: false,
            },
            Pass {
                name: format!("{stage}browser, absolute range, 5s, All, joined GET"),
                macros: absolute("5s", 5000),
                selection: Selection::All,
                joined: true,
                method: Method::Get,
                agreement_relative: false,
            },
        ]
    };
    let relative = Pass {
        name: "browser, last hour, 5s, All, joined GET".into(),
        macros: Macros {
            time_filter: "time >= now() - 1h and time <= now()".into(),
            interval: "5s",
            interval_ms: 5000,
        },
        selection: Selection::All,
        joined: true,
        method: Method::Get,
        agreement_relative: true,
    };
    failures.extend(run_pass(&servers, &boards, &values, &relative));
    for pass in absolute_passes("") {
        failures.extend(run_pass(&servers, &boards, &values, &pass));
    }

    // Again from compacted blocks and per-minute rollups.
    let report = logger.api.send("POST", "/store/compact", Some(""));
    assert_eq!(report.status, 200, "{}", report.text);
    let store = logger.api.get("/store").json();
    assert!(
        store["compacted_samples"].as_u64().unwrap() >= lines_stored && store["rollup_blocks"].as_u64().unwrap() > 0,
        "the log lines were compacted: {store}"
    );
    for pass in absolute_passes("compacted: ") {
        failures.extend(run_pass(&servers, &boards, &values, &pass));
    }
    eprintln!("grafana: done in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} Grafana queries failed or differ:\n{}",
        failures.len(),
        failures.iter().map(|f| clip(f, 3000)).collect::<Vec<_>>().join("\n")
    );
    drop(ssdp_sink);
}
