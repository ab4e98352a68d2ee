//! What an item stores and shows (issue 12): `GET /items/{name}/samples`
//! filtered by time, measurement and tags, refusing parameters it does not
//! know; samples older than the store keeps dropped one by one, counted and
//! logged once; and a re-sent sample the store ignored not shown as stored.
//! The devices are the misbehave fixture and fake ISEMS nodes on loopback.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::http_fake::{HttpFake, Response, Routes};
use crate::common::*;
use serde_json::{json, Value};

const LOG_PATH: &str = "/ISEMS/ffopenmppt.log";
/// misbehave.stamped's two samples (2023): value 1, then value 2.
const STAMPED: [i64; 2] = [1_700_000_000 * NS, 1_700_000_001 * NS];
const DAY_S: i64 = 86_400;

/// An ISEMS node serving a log the test changes while the logger runs.
struct FakeNode {
    http: HttpFake,
    routes: Routes,
}

impl FakeNode {
    fn start() -> FakeNode {
        let routes = Routes::default();
        let table = routes.clone();
        let http = HttpFake::start(move |request| table.answer(&request.path));
        FakeNode { http, routes }
    }

    /// Serves `lines` as the node's whole log.
    fn serve(&self, lines: &[String]) {
        let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
        self.routes
            .set(LOG_PATH, Response::new(200, "application/octet-stream", log));
    }
}

/// One good log line of `node` at `ts` (s since the epoch) with its battery voltage.
fn line(node: &str, ts: i64, battery: f64) -> String {
    format!("{node};1;{ts};ATmega8_A_1;711;0;18.614;18.5;{battery};100;95;28;11.67;14.086;7;20;52.507309;13.458635")
}

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn isems_item(name: &str, node: &FakeNode) -> Value {
    json!({"name": name, "key": "isems.node", "arg": node.http.address(), "interval": 1})
}

fn isems_grant() -> Value {
    json!({"isems": {"http": ["127.0.0.1"]}})
}

/// GET `path`, which must answer 200 with a list of samples.
fn samples(logger: &Logger, path: &str) -> Vec<Value> {
    let resp = logger.api.get(path);
    assert_eq!(resp.status, 200, "GET {path}: {}", resp.text);
    resp.json().as_array().unwrap().clone()
}

/// (measurement, timestamp in ns) of each sample, in the answer's order.
fn series_times(samples: &[Value]) -> Vec<(String, i64)> {
    samples
        .iter()
        .map(|s| {
            (
                s["measurement"].as_str().unwrap().to_string(),
                rfc3339_ns(&s["timestamp"]),
            )
        })
        .collect()
}

fn stamped(ts: &[i64]) -> Vec<(String, i64)> {
    ts.iter().map(|t| ("stamped".to_string(), *t)).collect()
}

#[test]
fn samples_are_filtered_by_time_measurement_and_tags() {
    let node = FakeNode::start();
    let base = (now_s() - 2 * DAY_S) / 60 * 60;
    node.serve(&[line("roof", base, 12.5), line("cellar", base + 60, 13.0)]);
    let dir = TestDir::new(&[fixture("misbehave"), dist_wasm("isems")]);
    dir.write_config(json!({
        // misbehave.stamped's timestamps are from 2023: keep everything.
        "store": {"path": dir.db_path(), "retention_days": 0},
        "items": [
            {"name": "stamped", "key": "misbehave.stamped", "interval": 1, "tags": {"room": "lab"}},
            isems_item("node", &node),
        ],
        "plugins": isems_grant(),
    }));
    let mut logger = dir.start();
    // Without a filter: both measurements of the node, both samples of `stamped`.
    logger.wait_until("both lines and a poll summary of the node", SLOW, |api| {
        let all = api.try_get("/items/node/samples")?.json();
        let all = all.as_array()?;
        let lines = all.iter().filter(|s| s["measurement"] == "isems").count();
        (lines == 2 && all.len() > 2).then_some(())
    });
    logger.wait_until("both samples of stamped", SLOW, |api| {
        let all = api.try_get("/items/stamped/samples")?.json();
        (all.as_array()?.len() == 2).then_some(())
    });

    // Time bounds, inclusive, as ns or RFC 3339; newest first.
    let [t1, t2] = STAMPED;
    let cases: [(String, Vec<i64>); 8] = [
        (String::new(), vec![t2, t1]),
        (format!("from={t2}"), vec![t2]),
        (format!("to={t1}"), vec![t1]),
        (format!("from={t1}&to={t2}"), vec![t2, t1]),
        (format!("from={}&to={}", t1 + 1, t2 - 1), vec![]),
        (format!("from={t2}&to={t2}"), vec![t2]),
        ("from=2023-11-14T22:13:21Z".into(), vec![t2]),
        // Another offset: 23:13:20+01:00 is t1.
        ("to=2023-11-14T23:13:20%2B01:00".into(), vec![t1]),
    ];
    for (query, expected) in cases {
        let got = samples(&logger, &format!("/items/stamped/samples?{query}"));
        assert_eq!(series_times(&got), stamped(&expected), "?{query}");
    }
    let newest = samples(&logger, "/items/stamped/samples?limit=1");
    assert_eq!(newest[0]["fields"]["value"], 2, "{newest:?}");
    assert_eq!(series_times(&newest), stamped(&[t2]));

    // Tags: every one given must match exactly (the plugin's and the item's).
    for (query, expected) in [
        ("tag.room=lab", vec![t2, t1]),
        ("tag.room=lab&tag.src=fixture", vec![t2, t1]),
        ("tag.room=kitchen", vec![]),
        ("tag.room=lab&tag.src=other", vec![]),
        ("tag.floor=lab", vec![]),
        ("measurement=stamped&tag.src=fixture&from=1700000000500000000", vec![t2]),
    ] {
        let got = samples(&logger, &format!("/items/stamped/samples?{query}"));
        assert_eq!(series_times(&got), stamped(&expected), "?{query}");
    }

    // An ISEMS item mixes its lines (`isems`) with a summary per poll (`isems_poll`).
    let lines = samples(&logger, "/items/node/samples?measurement=isems");
    assert_eq!(
        series_times(&lines),
        vec![
            ("isems".to_string(), (base + 60) * NS),
            ("isems".to_string(), base * NS)
        ]
    );
    let polls = samples(&logger, "/items/node/samples?measurement=isems_poll&limit=1000");
    assert!(!polls.is_empty());
    assert!(polls.iter().all(|s| s["measurement"] == "isems_poll"), "{polls:?}");
    let all = samples(&logger, "/items/node/samples?limit=1000");
    assert!(
        all.len() >= polls.len() + 2,
        "{} samples, {} summaries",
        all.len(),
        polls.len()
    );
    let roof = samples(&logger, "/items/node/samples?tag.nodeId=roof");
    assert_eq!(series_times(&roof), vec![("isems".to_string(), base * NS)]);
    assert_eq!(roof[0]["fields"]["batteryVoltage"], 12.5);
    assert!(samples(&logger, "/items/node/samples?tag.nodeId=roof&measurement=isems_poll").is_empty());

    // Unknown, repeated and bad parameters: a 400 saying what to send.
    let refused = [
        ("form=1700000000000000000".into(), "unknown query parameter \"form\""),
        (
            "nodeId=roof".into(),
            "takes limit, from, to, measurement and tag.<name>",
        ),
        ("limit=2&limit=3".into(), "given twice"),
        ("limit=0".into(), "from 1 to 10000"),
        ("from=yesterday".into(), "RFC 3339"),
        ("to=1.5".into(), "nanoseconds since the Unix epoch"),
        (format!("from={t2}&to={t1}"), "is after to"),
        ("measurement=".into(), "1 to 256"),
        (format!("measurement={}", "m".repeat(257)), "1 to 256"),
        ("tag.=x".into(), "a name of 1 to 128"),
        (format!("tag.{}=x", "k".repeat(129)), "a name of 1 to 128"),
        (format!("tag.room={}", "v".repeat(257)), "at most 256"),
    ];
    for (query, expected) in refused {
        let error = logger
            .api
            .get(&format!("/items/stamped/samples?{query}"))
            .expect_error(400, &query);
        assert!(error.contains(expected), "?{query}: {error}");
    }
    // An unknown item is still a 404, whatever the query.
    logger
        .api
        .get("/items/nope/samples?measurement=x")
        .expect_error(404, "unknown item");
}

#[test]
fn samples_older_than_retention_are_dropped_counted_and_logged_once() {
    // 15 lines from 40 days ago and one from an hour ago; the store keeps 30 days.
    let old_base = (now_s() - 40 * DAY_S) / 60 * 60;
    let mut log: Vec<String> = (0..15).map(|i| line("old-node", old_base + 60 * i, 12.0)).collect();
    let recent = (now_s() - 3600) / 60 * 60;
    log.push(line("new-node", recent, 13.25));
    let mixed = FakeNode::start();
    mixed.serve(&log);
    let stale = FakeNode::start();
    stale.serve(&log[..15]);

    let dir = TestDir::new(&[dist_wasm("isems"), fixture("misbehave")]);
    dir.write_config(json!({
        "items": [
            isems_item("mixed", &mixed),
            isems_item("stale", &stale),
            {"name": "stamped", "key": "misbehave.stamped", "interval": 1},
        ],
        "plugins": isems_grant(),
    }));
    let mut logger = dir.start();
    let lines = |logger: &Logger, item: &str| {
        let lines = samples(logger, &format!("/items/{item}/samples?measurement=isems&limit=100"));
        series_times(&lines).into_iter().map(|(_, t)| t).collect::<Vec<i64>>()
    };
    logger.wait_until("the recent line to be stored", SLOW, |api| {
        let lines = api.try_get("/items/mixed/samples?measurement=isems")?.json();
        (!lines.as_array()?.is_empty()).then_some(())
    });
    logger.wait_polls("mixed", 3);
    logger.wait_polls("stale", 3);
    logger.wait_polls("stamped", 3);

    // The recent line is stored, the old ones are not; the item is not failing.
    assert_eq!(lines(&logger, "mixed"), vec![recent * NS]);
    let item = logger.item("mixed");
    assert_eq!(item["last_error"], json!(null), "{item}");
    assert_eq!(item["last_value"], 13.25, "{item}");
    let stats = &item["stats"];
    let polls = stats["polls"].as_u64().unwrap();
    assert_eq!(stats["errors"], 0, "{item}");
    assert_eq!(stats["refused_too_old"], 15 * polls, "15 a poll: {item}");

    // Every line too old: the node's poll summary is still stored, so the
    // item is not failing; the lines are counted.
    let item = logger.item("stale");
    assert_eq!(item["last_error"], json!(null), "{item}");
    let polls = item["stats"]["polls"].as_u64().unwrap();
    assert_eq!(item["stats"]["refused_too_old"], 15 * polls, "{item}");
    assert_eq!(lines(&logger, "stale"), Vec::<i64>::new());

    // All of a result too old (misbehave.stamped's two 2023 samples): the
    // item says why, and counts them too.
    let item = logger.item("stamped");
    let error = item["last_error"].as_str().unwrap_or_else(|| panic!("{item}"));
    assert!(
        error.starts_with("invalid result: plugin misbehave")
            && error.contains("all 2 samples are older than the 30 days the store keeps")
            && error.contains("2023-11-14T22:13:21Z")
            && error.contains("\"retention_days\" under \"store\""),
        "{error}"
    );
    assert_eq!(item["last_error_kind"], "invalid_result", "{item}");
    assert_eq!(item["last_value"], json!(null), "{item}");
    let polls = item["stats"]["polls"].as_u64().unwrap();
    assert_eq!(item["stats"]["refused_too_old"], 2 * polls, "{item}");
    assert!(samples(&logger, "/items/stamped/samples").is_empty());

    // One warning per item with the cut-off and the fix, not one per poll;
    // the stale item's error is logged once too.
    let stderr = logger.stderr();
    for (name, n) in [("mixed", 15), ("stale", 15), ("stamped", 2)] {
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(&format!("item={name}")) && l.contains("the oldest the store keeps"))
            .collect();
        assert_eq!(warnings.len(), 1, "{name}: {warnings:#?}\n{stderr}");
        let warning = warnings[0];
        assert!(
            warning.contains(&format!("{n} samples of this poll are stamped before 20"))
                && warning.contains("\"retention_days\": 30 under \"store\"")
                && warning.contains("set it to 0 to keep everything"),
            "{warning}"
        );
    }
    let errors = stderr.lines().filter(|l| l.contains("all 2 samples are older")).count();
    assert_eq!(errors, 1, "the error is logged every poll, not once:\n{stderr}");
}

#[test]
fn a_resent_sample_the_store_ignored_is_not_shown_as_stored() {
    let ts = (now_s() - 3600) / 60 * 60;
    let node = FakeNode::start();
    node.serve(&[line("roof", ts, 12.5)]);
    let dir = TestDir::new(&[dist_wasm("isems")]);
    dir.write_config(json!({"items": [isems_item("node", &node)], "plugins": isems_grant()}));
    let mut logger = dir.start();
    let item = logger.wait_item_field("node", "last_sample");
    assert_eq!(item["last_value"], 12.5, "{item}");

    // The node re-sends its reading with a new value and the same timestamp:
    // the store keeps the first, and so does the item.
    node.serve(&[line("roof", ts, 99.0)]);
    logger.wait_polls("node", 3);
    let item = logger.item("node");
    assert_eq!(item["last_value"], 12.5, "the ignored value is shown: {item}");
    assert_eq!(item["last_sample"]["fields"]["batteryVoltage"], 12.5, "{item}");
    assert_eq!(rfc3339_ns(&item["last_sample"]["timestamp"]), ts * NS, "{item}");
    assert_eq!(item["last_sample"]["tags"], json!({"nodeId": "roof"}), "{item}");
    assert_eq!(item["newest_was_duplicate"], true, "{item}");
    assert_eq!(item["last_error"], json!(null), "{item}");
    // Every poll after the first re-sent the one line.
    let stats = &item["stats"];
    assert_eq!(stats["duplicates"], stats["polls"].as_u64().unwrap() - 1, "{item}");
    let stored = samples(&logger, "/items/node/samples?measurement=isems");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["fields"]["batteryVoltage"], 12.5);

    // A new reading is stored and shown.
    node.serve(&[line("roof", ts, 99.0), line("roof", ts + 60, 13.75)]);
    let item = logger.wait_until("the new reading to show", SLOW, |api| {
        let item = api.try_get("/items/node")?.json();
        (item["last_value"] == 13.75).then_some(item)
    });
    assert_eq!(rfc3339_ns(&item["last_sample"]["timestamp"]), (ts + 60) * NS, "{item}");
}
