//! Decoder plugins (WIT `decoding`, since 0.1.1) and `POST /ingest/{source}`
//! (issue 14): a plugin built against the released 0.1.0 WIT still loads and
//! samples; the decoder-only fixture reads payloads and its hostile decoders
//! (trap, endless loop, memory hog, flood) are contained while polling goes
//! on; `isems.csvlog` stores the same samples `isems.node` makes of the same
//! lines; unreadable payloads are kept aside with their reason.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::http_fake::{HttpFake, Response, Routes};
use crate::common::servers::agent;
use crate::common::*;
use serde_json::{json, Value};

/// POSTs `body` to `/ingest/{source}`: (status, JSON body or null, Retry-After).
fn ingest(port: u16, source: &str, body: &[u8]) -> (u16, Value, Option<String>) {
    let mut resp = agent()
        .post(&format!("http://127.0.0.1:{port}/ingest/{source}"))
        .header("Content-Type", "text/plain")
        .send(body)
        .unwrap_or_else(|e| panic!("POST /ingest/{source}: {e}"));
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (resp.status().as_u16(), json, retry)
}

fn source(name: &str, decoder: &str) -> Value {
    json!({"name": name, "ingest": {}, "decoder": decoder})
}

#[test]
fn a_0_1_0_plugin_and_a_decoder_only_plugin_load_beside_each_other() {
    let dir = TestDir::new(&[fixture("legacy"), fixture("decoders")]);
    dir.write_config(json!({
        "items": [{"name": "old", "key": "legacy.x", "interval": 1}],
        "sources": [source("kv", "decoders.kv")],
    }));
    let mut logger = dir.start();
    // The 0.1.0 collector samples unchanged.
    let old = logger.wait_item_field("old", "last_value");
    assert!(
        old["last_value"].as_f64().unwrap() > 1.7e9,
        "legacy.x is the host clock in s: {old}"
    );

    let plugins = logger.api.get("/plugins").json();
    let by_name = |n: &str| {
        plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("plugin {n} not loaded: {plugins}"))
    };
    let legacy = by_name("legacy");
    assert_eq!(legacy["keys"][0]["name"], "legacy.x");
    assert_eq!(legacy["decoders"], json!([]));
    let decoders = by_name("decoders");
    assert_eq!(decoders["keys"], json!([]), "a decoder-only plugin has no keys");
    let names: Vec<&str> = decoders["decoders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "decoders.kv",
            "decoders.trap",
            "decoders.spin",
            "decoders.hog",
            "decoders.flood"
        ]
    );
    // A decoder-only plugin serves no key: an item for it is refused.
    let refused = logger.api.post(
        "/items/",
        &json!({"name": "nokey", "key": "decoders.kv", "interval": 1}),
    );
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("only provides decoders"), "{}", refused.text);
}

#[test]
fn ingested_payloads_are_decoded_committed_and_bad_ones_kept_aside() {
    let dir = TestDir::new(&[fixture("decoders"), system_wasm()]);
    dir.write_config(json!({
        "items": [{"name": "load", "key": "system.loadavg1", "interval": 1}],
        "sources": [
            {"name": "kv", "ingest": {"max_body_bytes": 4096}, "decoder": "decoders.kv", "tags": {"site": "lab"}},
            {"name": "lp", "ingest": {}, "decoder": "line-protocol", "topic_tag": "path"},
            source("trap", "decoders.trap"),
            source("spin", "decoders.spin"),
            source("hog", "decoders.hog"),
            source("flood", "decoders.flood"),
            source("absent", "nosuch.json"),
        ],
        "sandbox": {"call_timeout_ms": 300, "memory_mib": 32},
    }));
    let mut logger = dir.start();
    let port = dir.port;
    logger.wait_until("the decoders plugin to load", SLOW, |api| {
        let plugins = api.get("/plugins").json();
        plugins
            .as_array()?
            .iter()
            .any(|p| p["name"] == "decoders")
            .then_some(())
    });
    let db = dir.db_path();

    // Good payloads: 204 after commit, the receive time as timestamp, the
    // decoder's own tag plus the source's.
    let before = now_ns();
    let (status, body, _) = ingest(port, "kv", b"temp=21.5\nhum=40\n");
    assert_eq!(status, 204, "{body}");
    let rows = store_rows(&db, "kv");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].measurement, "kv");
    assert_eq!(rows[0].fields, json!({"temp": 21.5, "hum": 40.0}));
    assert_eq!(rows[0].tags, json!({"topic": "/ingest/kv", "site": "lab"}));
    assert!(
        rows[0].ts_ns >= before && rows[0].ts_ns <= now_ns(),
        "stamped on receipt: {rows:?}"
    );

    // Line protocol through /ingest, with the path as a tag.
    let t = now_ns() - 3_600_000_000_000;
    let (status, body, _) = ingest(port, "lp", format!("m,a=b v=1 {t}\nm v=2i {}", t + 1).as_bytes());
    assert_eq!(status, 204, "{body}");
    let lp = store_rows(&db, "lp");
    assert_eq!(lp.len(), 2);
    assert_eq!(lp[0].tags, json!({"a": "b", "path": "/ingest/lp"}));
    // Older than the store keeps: dropped, and the answer says so.
    let (status, body, _) = ingest(port, "lp", b"m v=3 1000000000000000000");
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("retention"), "{body}");
    assert_eq!(store_rows(&db, "lp").len(), 2);

    // A malformed payload: 400 naming the problem, nothing stored, kept aside.
    let (status, body, _) = ingest(port, "kv", b"temp=21.5\nthis is no pair\n");
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("line 2") && error.contains("kept aside"), "{error}");
    assert_eq!(store_rows(&db, "kv").len(), 1, "nothing of a refused payload is stored");
    let kept = logger.api.get("/sources/kv/rejected").json();
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept[0]["payload"], "temp=21.5\nthis is no pair\n");
    assert_eq!(kept[0]["encoding"], "text");
    assert_eq!(kept[0]["topic"], "/ingest/kv");
    assert!(kept[0]["reason"].as_str().unwrap().contains("not name=value"), "{kept}");
    let binary = ingest(port, "kv", &[0xff, 0x00, 0xfe]);
    assert_eq!(binary.0, 400);
    let kept = logger.api.get("/sources/kv/rejected?limit=1").json();
    assert_eq!(
        (kept[0]["encoding"].as_str(), kept[0]["payload"].as_str()),
        (Some("base64"), Some("/wD+"))
    );
    let stats = logger.api.get("/sources/kv").json();
    assert_eq!(stats["transport"], "ingest");
    assert_eq!(stats["decoder"], "decoders.kv");
    assert_eq!(stats["endpoints"], json!(["POST /ingest/kv"]));
    assert_eq!(stats["stats"]["requests"], 3, "{stats}");
    assert_eq!(stats["stats"]["stored"], 1, "{stats}");
    assert_eq!(stats["stats"]["set_aside"], 2, "{stats}");
    assert_eq!(stats["stats"]["rejected"], 2, "{stats}");

    // Over the source's limit: 413. Unknown source: 404 listing the known ones.
    let (status, body, _) = ingest(port, "kv", &vec![b'x'; 5000]);
    assert_eq!(status, 413, "{body}");
    let (status, body, _) = ingest(port, "nope", b"x=1");
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("kv"), "{body}");

    // Hostile decoders: each call is cut off and answered 400 with the
    // reason; the host and the polled item carry on.
    for (name, expect) in [
        ("trap", "crashed"),
        ("spin", "CPU deadline"),
        ("hog", "memory cap"),
        ("flood", "too large"),
    ] {
        let (status, body, _) = ingest(port, name, b"anything");
        assert_eq!(status, 400, "{name}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(expect), "{name}: expected {expect:?} in {error}");
        assert!(store_rows(&db, name).is_empty(), "{name} stored something");
        assert_eq!(
            logger
                .api
                .get(&format!("/sources/{name}/rejected"))
                .json()
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    logger.wait_polls("load", 2);
    assert!(logger.is_running());

    // A decoder whose plugin is not loaded: 503 with Retry-After, nothing taken.
    let (status, body, retry) = ingest(port, "absent", b"x");
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("10"));
    assert!(
        body["error"].as_str().unwrap().contains("no plugin named \"nosuch\""),
        "{body}"
    );
    assert!(logger
        .api
        .get("/sources/absent/rejected")
        .json()
        .as_array()
        .unwrap()
        .is_empty());
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// An ISEMS log line (the 19-field format) of `node` at `ts` (s).
fn isems_line(node: &str, ts: i64, battery: f64) -> String {
    format!("{node};1;{ts};ATmega8_A_1;711;0;18.614;18.5;{battery};100;95;28;11.67;14.086;7;20;52.507309;13.458635;300")
}

#[test]
fn isems_csvlog_stores_what_isems_node_stores_for_the_same_lines() {
    let base = (now_ns() / 1_000_000_000 - 86_400) / 60 * 60;
    let lines: Vec<String> = (0..5)
        .map(|i| {
            isems_line(
                if i % 2 == 0 { "node-a" } else { "node b" },
                base + 60 * i,
                12.0 + i as f64,
            )
        })
        .collect();
    let log = lines.join("\n") + "\n";
    let routes = Routes::default();
    routes.set("/ISEMS/ffopenmppt.log", Response::new(200, "text/plain", log.as_str()));
    let table = routes.clone();
    let node = HttpFake::start(move |r| table.answer(&r.path));

    let dir = TestDir::new(&[dist_wasm("isems")]);
    dir.write_config(json!({
        "items": [{"name": "polled", "key": "isems.node", "arg": node.address(), "interval": 1}],
        "plugins": {"isems": {"http": ["127.0.0.1"]}},
        "sources": [source("pushed", "isems.csvlog")],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let isems_rows = |item: &str| -> Vec<Row> {
        store_rows(&db, item)
            .into_iter()
            .filter(|r| r.measurement == "isems")
            .collect()
    };
    logger.wait_until("the polled lines", SLOW, |_| {
        (isems_rows("polled").len() == 5).then_some(())
    });

    // The same lines as the nodes publish them: a payload of up to five lines,
    // with garbage lines skipped; one payload twice (a redelivery).
    let first = format!("{}\n{}\ngarbage;1;2\n", lines[0], lines[1]);
    let second = lines[2..].join("\n");
    for payload in [&first, &second, &first] {
        let (status, body, _) = ingest(dir.port, "pushed", payload.as_bytes());
        assert_eq!(status, 204, "{body}");
    }
    let (polled, pushed) = (isems_rows("polled"), isems_rows("pushed"));
    assert_eq!(pushed.len(), 5, "each line once: {pushed:?}");
    for (p, q) in polled.iter().zip(&pushed) {
        assert_eq!(
            (p.ts_ns, &p.tags, &p.fields, &p.type_letters),
            (q.ts_ns, &q.tags, &q.fields, &q.type_letters)
        );
    }
    // A payload with no ISEMS line at all (the nodes' data.json variant).
    let (status, body, _) = ingest(dir.port, "pushed", br#"{"v": 1}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("18 or 19"), "{body}");
}

/// `isems.json` over `POST /ingest/{source}`: the node id comes from the MQTT
/// topic `/isems/<nodeId>/data.json`, which an HTTP payload has not (its topic is
/// the path), so an object without a `nodeId` key is refused saying so; one
/// with it is stored, stamped with the receive time.
#[test]
fn isems_json_over_ingest_needs_a_node_id_key() {
    let dir = TestDir::new(&[dist_wasm("isems")]);
    dir.write_config(json!({"sources": [source("pushed", "isems.json")]}));
    let mut logger = dir.start();
    logger.wait_until("the isems plugin", SLOW, |api| {
        let plugins = api.try_get("/plugins")?.json();
        plugins.as_array()?.iter().any(|p| p["name"] == "isems").then_some(())
    });
    let mut object = json!({
        "isemsRevision": 1, "openMPPTFirmwareVersion": "ATmega8_A_1", "timeToShutdown": 711,
        "isPowerSaveMode": 0, "openCircuitVoltage": 18.614, "mppVoltage": 18.5,
        "batteryVoltage": 12.5, "batteryChargeEstimate": 100, "batteryHealthEstimate": 95,
        "batteryTemperature": 28, "lowVoltageDisconnectVoltage": 11.67,
        "temperatureCorrectedVoltage": 14.086, "rateBatteryCapacity": 7,
        "ratedSolarModuleCapacity": 20, "latitude": 52.507309, "longitude": 13.458635,
        "status": "300"
    });
    let (status, body, _) = ingest(dir.port, "pushed", object.to_string().as_bytes());
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("/ingest/pushed")
            && error.contains("/isems/<nodeId>/data.json")
            && error.contains("\"nodeId\" key"),
        "{body}"
    );

    object["nodeId"] = json!("node b");
    let before = now_ns();
    let (status, body, _) = ingest(dir.port, "pushed", object.to_string().as_bytes());
    let after = now_ns();
    assert_eq!(status, 204, "{body}");
    let rows = store_rows(&dir.db_path(), "pushed");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (r.measurement.as_str(), &r.tags),
        ("isems", &json!({"nodeId": "node b"}))
    );
    assert!(
        (before..=after).contains(&r.ts_ns),
        "{} not in {before}..={after}",
        r.ts_ns
    );
    assert_eq!(r.fields["batteryVoltage"], 12.5);
    assert_eq!(r.fields["status"], 768);
    assert_eq!(r.type_letters, format!("fisii{}i{}", "f".repeat(11), "b".repeat(11)));
}

/// The IoT collector's devices (its `device_simulator.py`: `requests.post(url,
/// json=reading)`, naive local timestamps from `datetime.now().isoformat()`)
/// post to `/ingest/iot`, read by the built-in `json` decoder; the readings
/// come back from the store and through `/query` as sent.
#[test]
fn iot_device_posts_are_read_by_the_json_decoder() {
    let dir = TestDir::new(&[]);
    dir.write_config(json!({
        "sources": [{
            "name": "iot", "ingest": {}, "decoder": "json",
            "json": {
                "measurement": "devicedata",
                "time": {"key": "timestamp", "format": "iso8601", "zone": "Europe/Berlin"},
                "tags": ["deviceId"],
                "fields": {"pressure": "float", "temperature": "float", "status": "string"}
            }
        }],
    }));
    let _logger = dir.start();
    let script = format!(
        r#"
import json, random, requests
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
random.seed(7)
url = "http://127.0.0.1:{port}/ingest/iot"
start = datetime.now(ZoneInfo("Europe/Berlin")).replace(tzinfo=None, microsecond=123456) - timedelta(minutes=30)
sent = []
for i in range(12):
    reading = {{"deviceId": "device_%d" % (i % 3), "timestamp": (start + timedelta(seconds=i)).isoformat(),
               "status": random.choice(["ON", "OFF", "ACTIVE", "INACTIVE"]),
               "pressure": round(random.uniform(0, 25), 2), "temperature": round(random.uniform(0, 200), 2)}}
    r = requests.post(url, json=reading)
    assert r.status_code == 204, (r.status_code, r.text)
    sent.append(reading)
bad = requests.post(url, json={{"deviceId": "device_9", "timestamp": "soon", "pressure": 1.0}})
print(json.dumps({{"sent": sent, "bad": [bad.status_code, bad.json()],
                   "first_utc": (start.replace(tzinfo=ZoneInfo("Europe/Berlin"))).timestamp()}}))
"#,
        port = dir.port
    );
    let out = std::process::Command::new(client_python())
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent = result["sent"].as_array().unwrap();

    let (status, body) = (&result["bad"][0], &result["bad"][1]);
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("\"timestamp\": \"soon\" is not an ISO 8601 time") && error.contains("kept aside"),
        "{error}"
    );

    let rows = store_rows(&dir.db_path(), "iot");
    assert_eq!(rows.len(), sent.len(), "{rows:?}");
    // The naive Berlin wall time, placed in UTC (microseconds kept).
    let first_ns = (result["first_utc"].as_f64().unwrap() * 1e6).round() as i64 * 1000;
    for (i, (row, reading)) in rows.iter().zip(sent).enumerate() {
        assert_eq!(row.measurement, "devicedata");
        assert_eq!(row.ts_ns, first_ns + i as i64 * 1_000_000_000, "reading {i}");
        assert_eq!(row.tags, json!({"deviceId": reading["deviceId"]}));
        assert_eq!(
            row.fields,
            json!({"pressure": reading["pressure"], "temperature": reading["temperature"], "status": reading["status"]})
        );
        assert_eq!(row.type_letters, "ffs", "in the mapping's order");
    }

    // Read back as InfluxDB would answer: the highest pressure per device.
    let q = "SELECT max(pressure) FROM devicedata GROUP BY deviceId";
    let mut resp = agent()
        .get(&format!("http://127.0.0.1:{}/query", dir.port))
        .query("db", "iot")
        .query("q", q)
        .call()
        .unwrap();
    let answer: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let series = answer["results"][0]["series"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(series.len(), 3, "{answer}");
    for s in series {
        let device = s["tags"]["deviceId"].as_str().unwrap();
        let want = sent
            .iter()
            .filter(|r| r["deviceId"] == device)
            .map(|r| r["pressure"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(s["values"][0][1].as_f64(), Some(want), "{device}: {s}");
    }
}
