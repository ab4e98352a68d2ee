//! The IoT Data Collector's API (issue 15): 15 devices that speak exactly like
//! its `device_simulator.py` (a thread each, `requests.post(url, json=reading)`,
//! naive local timestamps) post readings; `/dashboard` is checked against a
//! brute-force ranking of what was sent for every feature and interval
//! (distinct devices, order, ties), the histograms against the statuses
//! sent, and bad input gets 4xx JSON errors. The Python side computes the
//! expectations and reports every mismatch.

use crate::common::*;
use serde_json::{json, Value};

const CLIENT: &str = r#"
import json, random, sys, threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
import requests

base = sys.argv[1]
now = datetime.now(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
random.seed(15)
STATUSES = ["ON", "OFF", "ACTIVE", "INACTIVE"]
sent, lock, problems = [], threading.Lock(), []

def device(i, plan):
    session = requests.Session()
    for age in plan:
        reading = {"deviceId": "device_%d" % i, "timestamp": (now - timedelta(seconds=age)).isoformat(),
                   "status": random.choice(STATUSES),
                   "pressure": round(random.uniform(0, 25), 2), "temperature": round(random.uniform(0, 200), 2)}
        r = session.post(base + "/devicedata", json=reading)
        if r.status_code != 200 or r.json() != reading:
            problems.append(("post", r.status_code, r.text, reading))
        with lock:
            sent.append((age, reading))

# Ages away from the windows' edges: the past minute, the past hour, older.
plans = [[random.choice([random.uniform(5, 40), random.uniform(120, 3000), random.uniform(4000, 8000)])
          for _ in range(20)] for _ in range(15)]
threads = [threading.Thread(target=device, args=(i, plan)) for i, plan in enumerate(plans)]
for t in threads: t.start()
for t in threads: t.join()
# Ties on purpose: two devices at the same peak (listed by id), one of them twice (its earliest reading).
for device_id, age in [("tie_b", 20), ("tie_a", 25), ("tie_a", 30)]:
    reading = {"deviceId": device_id, "timestamp": (now - timedelta(seconds=age)).isoformat(), "status": "ON",
               "pressure": 30.0, "temperature": 1.5}
    if requests.post(base + "/devicedata", json=reading).status_code != 200:
        problems.append(("tie post", reading))
    sent.append((age, reading))

def expected(feature, max_age):
    best = {}
    for age, r in sent:
        if max_age is not None and age > max_age:
            continue
        have = best.get(r["deviceId"])
        if have is None or r[feature] > have[feature] or (r[feature] == have[feature] and r["timestamp"] < have["timestamp"]):
            best[r["deviceId"]] = r
    return sorted(best.values(), key=lambda r: (-r[feature], r["deviceId"]))[:10]

ties = 0
for interval, max_age in [("all_time", None), ("past_hour", 3600), ("past_minute", 60)]:
    got = requests.get(base + "/dashboard", params={"interval": interval}).json()
    for feature in ["pressure", "temperature"]:
        want = expected(feature, max_age)
        ties += len(want) - len({r[feature] for r in want})
        if got.get(feature) != want:
            problems.append(("dashboard", interval, feature, got.get(feature), want))
one = requests.get(base + "/dashboard", params={"features": "temperature", "interval": "past_hour"}).json()
if list(one) != ["temperature"] or one["temperature"] != expected("temperature", 3600):
    problems.append(("features=temperature", one))
top = requests.get(base + "/top", params={"measurement": "devicedata", "field": "pressure", "by": "deviceId"}).json()
if [t["group"] for t in top] != [r["deviceId"] for r in expected("pressure", None)]:
    problems.append(("top", top))

for d in ["device_%d" % i for i in range(15)] + ["tie_a", "tie_b"]:
    want = dict(Counter(r["status"] for _, r in sent if r["deviceId"] == d))
    got = requests.get(base + "/devices/%s/histogram" % d).json()
    if got != {d: want}:
        problems.append(("histogram", d, got, want))

# A reading sent again: answered the same, stored once.
again = requests.post(base + "/devicedata", json=sent[0][1])
after = requests.get(base + "/devices/%s/histogram" % sent[0][1]["deviceId"]).json()
counted = sum(after[sent[0][1]["deviceId"]].values())
if again.status_code != 200 or counted != sum(1 for _, r in sent if r["deviceId"] == sent[0][1]["deviceId"]):
    problems.append(("duplicate", again.status_code, after))

bad = {}
good = dict(sent[0][1], timestamp=now.isoformat())
for name, kwargs in [("status", {"json": dict(good, status="BROKEN")}), ("missing", {"json": {"deviceId": "x"}}),
                     ("not json", {"data": "pressure=3", "headers": {"Content-Type": "application/json"}}),
                     ("timestamp", {"json": dict(good, timestamp="yesterday")})]:
    r = requests.post(base + "/devicedata", **kwargs)
    bad[name] = [r.status_code, r.json()]
for name, params in [("feature", {"features": "humidity"}), ("interval", {"interval": "past_day"})]:
    r = requests.get(base + "/dashboard", params=params)
    bad[name] = [r.status_code, r.json()]
print(json.dumps({"problems": problems, "sent": len(sent), "ties": ties, "bad": bad}, default=str))
"#;

#[test]
fn fifteen_simulated_devices_get_the_dashboard_a_brute_force_ranking_gives() {
    let dir = TestDir::new(&[]);
    dir.write_config(json!({"compat": {"iot": {"zone": "Europe/Berlin"}}}));
    let _logger = dir.start();
    let out = std::process::Command::new(client_python())
        .args(["-c", CLIENT, &format!("http://127.0.0.1:{}", dir.port)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["sent"], 303);
    assert!(
        result["ties"].as_u64().unwrap() >= 3,
        "the ranking saw ties: {}",
        result["ties"]
    );
    assert_eq!(result["problems"], json!([]), "mismatches: {:#}", result["problems"]);
    let bad = &result["bad"];
    for (name, status, says) in [
        ("status", 400, "\"BROKEN\"; it must be one of ON, OFF, ACTIVE, INACTIVE"),
        ("missing", 400, "\"timestamp\" must be a non-empty string"),
        ("not json", 400, "not JSON"),
        ("timestamp", 400, "\"yesterday\" is not an ISO 8601 time"),
        ("feature", 400, "use a comma-separated list of pressure, temperature"),
        ("interval", 400, "use one of all_time, past_minute, past_hour"),
    ] {
        assert_eq!(bad[name][0], status, "{name}: {}", bad[name]);
        let error = bad[name][1]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {}", bad[name]));
        assert!(error.contains(says), "{name}: expected {says:?} in {error}");
    }
}

#[test]
fn the_iot_routes_are_off_by_default_and_a_source_name_clash_is_a_config_error() {
    let dir = TestDir::new(&[]);
    dir.write_config(json!({}));
    let logger = dir.start();
    let r = logger.api.get("/dashboard");
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(r.text.contains(r#"\"compat\": {\"iot\": {}}"#), "{}", r.text);
    drop(logger);

    dir.write_config(json!({"compat": {"iot": {}}, "sources": [{"name": "iot", "write": {}}]}));
    let out = dir.check();
    assert!(!out.status.success());
    assert!(
        out.all().contains("stores readings under the source \"iot\""),
        "{}",
        out.all()
    );
}
