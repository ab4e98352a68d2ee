//! The ISEMS collector's read API for the isems-app (issue 15):
//! `/measurements/latest` and `/measurements/{nodeId}/latest`, also under
//! `/api/`, from lines polled from a node (`isems.node`) and published over
//! MQTT (`isems.csvlog`) — byte for byte the original's JSON, one row per line
//! whichever way it came, the inactivity cut-off, the 1440-row cap.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::http_fake::{HttpFake, Response};
use crate::common::servers::{agent, Mosquitto};
use crate::common::*;
use serde_json::{json, Value};

/// The example lines of devices.md: an 18-field line and a 19-field one.
pub const OLD: &str =
    "Elektra-Dach;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635";
pub const NEW: &str = "Elektra-Dach-Neu;1;1530364640;ATmega8_A_1;711;1;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635;300";

/// What the original collector answered for OLD and NEW (its columns, sorted,
/// compact; Europe/Berlin wall time; ids as this logger derives them).
pub const OLD_ROW: &str = r#"{"batteryChargeEstimate":100.0,"batteryHealthEstimate":100.0,"batteryTemperature":28.0,"batteryVoltage":14.073,"id":1604703565398560,"isPowerSaveMode":false,"isemsRevision":"1","latitude":52.507309,"longitude":13.458635,"lowVoltageDisconnectVoltage":11.67,"mppVoltage":18.614,"nodeId":"Elektra-Dach","openCircuitVoltage":18.614,"openMPPTFirmwareVersion":"ATmega8_A_1","rateBatteryCapacity":7.0,"ratedSolarModuleCapacity":20.0,"status":"0x000","temperatureCorrectedVoltage":14.086,"timeToShutdown":711.0,"timestamp":"2018-06-30T15:16:15"}"#;
pub const NEW_ROW: &str = r#"{"batteryChargeEstimate":100.0,"batteryHealthEstimate":100.0,"batteryTemperature":28.0,"batteryVoltage":14.073,"id":1604703633330109,"isPowerSaveMode":true,"isemsRevision":"1","latitude":52.507309,"longitude":13.458635,"lowVoltageDisconnectVoltage":11.67,"mppVoltage":18.614,"nodeId":"Elektra-Dach-Neu","openCircuitVoltage":18.614,"openMPPTFirmwareVersion":"ATmega8_A_1","rateBatteryCapacity":7.0,"ratedSolarModuleCapacity":20.0,"status":"0x300","temperatureCorrectedVoltage":14.086,"timeToShutdown":711.0,"timestamp":"2018-06-30T15:17:20"}"#;

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn line(node: &str, ts: i64, battery: f64) -> String {
    format!("{node};1;{ts};ATmega8_A_1;711;0;18.614;18.5;{battery};100;95;28;11.67;14.086;7;20;52.507309;13.458635")
}

/// GET `path`: (status, body, Access-Control-Allow-Origin, Content-Type).
fn get(port: u16, path: &str) -> (u16, String, Option<String>, Option<String>) {
    let mut resp = agent()
        .get(&format!("http://127.0.0.1:{port}{path}"))
        .header("Origin", "http://isems-app.example")
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (cors, ctype) = (header("access-control-allow-origin"), header("content-type"));
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
        cors,
        ctype,
    )
}

fn measurements(port: u16, path: &str) -> Vec<Value> {
    let (status, body, _, _) = get(port, path);
    assert_eq!(status, 200, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["measurements"].as_array().unwrap().clone()
}

#[test]
fn the_isems_app_reads_what_the_original_collector_answered() {
    let dir = TestDir::new(&[dist_wasm("isems")]);
    let broker = Mosquitto::launch(dir.path());
    // One recent node, its lines both polled and published; the 2018 examples polled.
    let recent: Vec<String> = (0..3)
        .map(|i| line("Recent", now_s() - 3600 + 60 * i, 13.0 + i as f64))
        .collect();
    let log = [OLD.to_string(), NEW.to_string()]
        .iter()
        .chain(&recent)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let node = HttpFake::start(move |_| Response::new(200, "text/plain", log.as_str()));
    dir.write_config(json!({
        "store": {"path": dir.db_path(), "retention_days": 0},
        "items": [{"name": "nodes", "key": "isems.node", "arg": node.address(), "interval": 1}],
        "plugins": {"isems": {"http": ["127.0.0.1"]}},
        "sources": [{"name": "isems-mqtt", "mqtt": {"url": broker.url(), "topics": ["/isems/+/csvlog"]},
                     "decoder": "isems.csvlog", "topic_tag": "topic"}],
        "compat": {"isems": {}},
    }));
    let mut logger = dir.start();
    broker.publish_payload("isems-Recent", "/isems/Recent/csvlog", 1, recent.join("\n").as_bytes());
    logger.wait_rows(&dir.db_path(), "isems-mqtt", 3);
    logger.wait_until("the polled lines", SLOW, |_| {
        let rows = store_rows(&dir.db_path(), "nodes");
        (rows.iter().filter(|r| r.measurement == "isems").count() >= 5).then_some(())
    });
    let port = dir.port;

    // The node active within 30 days only; ?all=true adds the 2018 ones.
    let active = measurements(port, "/measurements/latest");
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0]["nodeId"], "Recent");
    assert_eq!(active[0]["batteryVoltage"], 15.0, "the newest line");
    let (status, body, cors, ctype) = get(port, "/measurements/latest?all=true");
    assert_eq!(status, 200);
    assert_eq!(cors.as_deref(), Some("*"));
    assert_eq!(ctype.as_deref(), Some("application/json"));
    assert!(
        body.starts_with(&format!(r#"{{"measurements":[{OLD_ROW},{NEW_ROW},{{"#)),
        "byte for byte, nodes by id:\n{body}"
    );
    assert_eq!(
        measurements(port, "/measurements/latest?all=yes").len(),
        1,
        "only exactly `true`"
    );

    // A node's rows, newest first; its lines polled and published are one row each.
    let rows = measurements(port, "/measurements/Recent/latest");
    let times: Vec<&str> = rows.iter().map(|r| r["timestamp"].as_str().unwrap()).collect();
    assert_eq!(rows.len(), 3, "{times:?}");
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first: {times:?}");
    let ids: std::collections::BTreeSet<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    let (_, body, cors, _) = get(port, "/api/measurements/Elektra-Dach/latest");
    assert_eq!(body, format!(r#"{{"measurements":[{OLD_ROW}]}}"#));
    assert_eq!(cors.as_deref(), Some("*"), "the /api/ prefix too");
    assert_eq!(
        get(port, "/api/measurements/latest?all=true").1,
        get(port, "/measurements/latest?all=true").1
    );
    assert_eq!(get(port, "/measurements/nobody/latest").1, r#"{"measurements":[]}"#);

    // Only GET, as in the original.
    let mut resp = agent()
        .post(&format!("http://127.0.0.1:{port}/measurements/latest"))
        .send("")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let error: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert!(error["error"].as_str().unwrap().contains("use GET"), "{error}");
}

#[test]
fn a_nodes_latest_is_its_newest_1440_rows_and_the_routes_are_off_by_default() {
    let dir = TestDir::new(&[]);
    dir.write_config(json!({
        "sources": [{"name": "lan", "write": {}}],
        "compat": {"isems": {"zone": "UTC", "offset": true, "hide_inactive_after_days": 1}},
    }));
    let _logger = dir.start();
    let base = now_s() - 3 * 86_400;
    let body: String = (0..2000)
        .map(|i| {
            format!(
                "isems,nodeId=busy batteryVoltage={}.5,status=768i {}\n",
                i % 20,
                (base + 60 * i) * 1_000_000_000
            )
        })
        .collect();
    let mut resp = agent()
        .post(&format!("http://127.0.0.1:{}/write?db=lan", dir.port))
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        204,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );

    let rows = measurements(dir.port, "/measurements/busy/latest");
    assert_eq!(rows.len(), 1440);
    let newest = base + 60 * 1999;
    let stamp = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string()
    };
    assert_eq!(rows[0]["timestamp"], stamp(newest), "UTC with its offset");
    assert_eq!(rows[1439]["timestamp"], stamp(newest - 60 * 1439));
    assert_eq!(rows[0]["status"], "0x300");
    assert_eq!(rows[0]["latitude"], Value::Null, "a column the point lacks is null");
    // Its newest row is older than the one-day cut-off.
    assert!(measurements(dir.port, "/measurements/latest").is_empty());
    assert_eq!(measurements(dir.port, "/measurements/latest?all=true").len(), 1);

    let off = TestDir::new(&[]);
    off.write_config(json!({}));
    let _other = off.start();
    let (status, body, _, _) = get(off.port, "/measurements/latest");
    assert_eq!(status, 404);
    assert!(body.contains(r#"\"compat\": {\"isems\": {}}"#), "{body}");
}

/// The original's environment variables carry over: `ISEMS_ROUTER_IPS`
/// makes one poll item per node (every 900 s), kept out of the config file
/// when items change over REST; a bad `HIDE_INACTIVE_AFTER_DAYS` names the fix.
#[test]
fn the_original_collectors_environment_is_honoured() {
    let dir = TestDir::new(&[dist_wasm("isems"), system_wasm()]);
    dir.write_config(json!({"compat": {"isems": {}}, "plugins": {"isems": {"http": ["127.0.0.1"]}}}));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let env = [
        ("ISEMS_ROUTER_IPS", "127.0.0.1:9,127.0.0.2:9"),
        ("HIDE_INACTIVE_AFTER_DAYS", "7"),
    ];
    let logger = Logger::start(&args, dir.path(), dir.port, &env, "env");
    let node = logger.item("isems-127.0.0.1:9");
    assert_eq!(
        (node["key"].as_str(), node["arg"].as_str(), node["interval"].as_u64()),
        (Some("isems.node"), Some("127.0.0.1:9"), Some(900))
    );
    assert_eq!(logger.item("isems-127.0.0.2:9")["arg"], "127.0.0.2:9");
    let added = logger.api.post(
        "/items/",
        &json!({"name": "load", "key": "system.loadavg1", "interval": 1}),
    );
    assert_eq!(added.status, 201, "{}", added.text);
    let names: Vec<String> = dir.read_config()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["load"], "items made from ISEMS_ROUTER_IPS stay out of the file");
    drop(logger);

    let out = std::process::Command::new(binary())
        .args(["check", "--config", config.to_str().unwrap()])
        .env("HIDE_INACTIVE_AFTER_DAYS", "a month")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("HIDE_INACTIVE_AFTER_DAYS is \"a month\"; set it to a whole number"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
