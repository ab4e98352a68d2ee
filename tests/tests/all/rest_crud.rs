//! The REST API: item CRUD, validation, persistence to the config file.
//!
//! CRUD and validation run the host library in-process (`App::build` /
//! `App::serve`); the tests that kill the logger and restart it spawn the binary.

use std::collections::BTreeSet;
use std::thread::sleep;
use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};

const ITEM_FIELDS: [&str; 13] = [
    "name",
    "key",
    "arg",
    "interval",
    "enabled",
    "tags",
    "last_value",
    "last_sample",
    "last_error",
    "last_error_kind",
    "next_poll_time",
    "url",
    "stats",
];

/// A dir whose config has one item, "seed" (system.loadavg1 every second).
fn seeded_dir() -> TestDir {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [{"name": "seed", "key": "system.loadavg1", "interval": 1}]}));
    dir
}

fn names(items: &Value) -> BTreeSet<String> {
    let items = items.as_array().unwrap_or_else(|| panic!("not an array: {items}"));
    items.iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

fn config_names(dir: &TestDir) -> BTreeSet<String> {
    names(&dir.read_config()["items"])
}

/// Item `name` as stored in the config file.
fn config_item(dir: &TestDir, name: &str) -> Value {
    let items = dir.read_config()["items"].as_array().unwrap().clone();
    items
        .into_iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the config file"))
}

#[test]
fn items_can_be_listed_created_updated_and_deleted() {
    let dir = seeded_dir();
    let mut logger = dir.start_in_process();
    let api = logger.api.clone();
    let db = dir.db_path();

    // List and read.
    let list = api.get("/items/");
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(names(&list.json()), BTreeSet::from(["seed".to_owned()]));
    let seed = logger.item("seed");
    for field in ITEM_FIELDS {
        assert!(seed.get(field).is_some(), "item JSON lacks {field:?}: {seed}");
    }
    for stat in ["polls", "errors", "skipped_ticks"] {
        assert!(seed["stats"][stat].is_u64(), "stats.{stat} missing: {seed}");
    }
    let missing = api.get("/items/nope").expect_error(404, "GET missing item");
    assert_eq!(missing, "item not found: nope");

    // Create: sampling starts at once.
    let created = api.post(
        "/items/",
        &json!({"name": "added", "key": "system.loadavg5", "interval": 1, "tags": {"k": "v"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    assert_eq!(created["name"], "added");
    assert_eq!(created["key"], "system.loadavg5");
    assert_eq!(created["interval"], 1);
    assert_eq!(created["tags"], json!({"k": "v"}));
    assert_eq!(created["enabled"], true);
    assert!(config_names(&dir).contains("added"), "POST not persisted");
    let added = logger.wait_item_field("added", "last_value");
    assert!(added["last_value"].is_f64(), "last_value is not a float: {added}");
    logger.wait_until("rows for added", SLOW, |_| {
        (!store_rows(&db, "added").is_empty()).then_some(())
    });

    // Update the interval: new samples fall on 2-second ticks.
    let updated = api.put("/items/added", &json!({"interval": 2}));
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json()["interval"], 2);
    assert_eq!(
        updated.json()["tags"],
        json!({"k": "v"}),
        "partial update lost the tags"
    );
    assert_eq!(config_item(&dir, "added")["interval"], 2, "PUT not persisted");
    let seq_at_put = store_rows(&db, "added").iter().map(|r| r.seq).max().unwrap();
    let after_put = logger.wait_until("3 rows after the PUT", SLOW, |_| {
        let rows: Vec<Row> = store_rows(&db, "added")
            .into_iter()
            .filter(|r| r.seq > seq_at_put)
            .collect();
        (rows.len() >= 3).then_some(rows)
    });
    // The first may have been in flight at the old interval.
    for row in &after_put[1..] {
        assert_eq!(
            row.ts_ns % (2 * NS),
            0,
            "sample off the 2 s tick after PUT: {after_put:?}"
        );
    }

    // Disable: sampling stops (one poll may have been in flight).
    let disabled = api.put("/items/added", &json!({"enabled": false}));
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.json()["enabled"], false);
    assert_eq!(disabled.json()["interval"], 2);
    let count = store_rows(&db, "added").len();
    sleep(Duration::from_secs(5));
    assert!(
        store_rows(&db, "added").len() <= count + 1,
        "a disabled item kept sampling"
    );

    // Bad updates.
    api.put("/items/nope", &json!({"interval": 5}))
        .expect_error(404, "PUT missing item");
    api.put("/items/added", &json!({"colour": "red"}))
        .expect_error(400, "PUT unknown field");
    api.put("/items/added", &json!({"interval": 0}))
        .expect_error(400, "PUT interval 0");
    api.put("/items/added", &json!({"interval": "5"}))
        .expect_error(400, "PUT interval as string");
    api.send("PUT", "/items/added", Some("{nope"))
        .expect_error(400, "PUT non-JSON");
    assert_eq!(logger.item("added")["interval"], 2, "a rejected PUT changed the item");

    // Delete: gone from the API, the config and the store's future.
    api.put("/items/added", &json!({"enabled": true}));
    logger.wait_until("added to sample again", SLOW, |_| {
        (store_rows(&db, "added").len() > count + 1).then_some(())
    });
    let deleted = api.delete("/items/added");
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.json(), json!({"result": true}));
    let count = store_rows(&db, "added").len();
    api.get("/items/added").expect_error(404, "GET deleted item");
    api.delete("/items/added").expect_error(404, "DELETE deleted item");
    assert_eq!(
        config_names(&dir),
        BTreeSet::from(["seed".to_owned()]),
        "DELETE not persisted"
    );
    let seed_count = store_rows(&db, "seed").len();
    sleep(Duration::from_secs(4));
    assert_eq!(store_rows(&db, "added").len(), count, "a deleted item produced samples");
    assert!(
        store_rows(&db, "seed").len() > seed_count,
        "the other item stopped sampling"
    );
}

#[test]
fn bad_requests_are_rejected_with_an_error() {
    let dir = seeded_dir();
    let logger = dir.start_in_process();
    let api = &logger.api;
    let post = |body: Value| api.post("/items/", &body);

    api.send("POST", "/items/", Some("this is not json"))
        .expect_error(400, "non-JSON body");
    api.send("POST", "/items/", Some("[1, 2]"))
        .expect_error(400, "JSON array body");
    post(json!({"key": "system.loadavg1", "interval": 1})).expect_error(400, "missing name");
    post(json!({"name": "a", "interval": 1})).expect_error(400, "missing key");
    post(json!({"name": "a", "key": "system.loadavg1"})).expect_error(400, "missing interval");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": "5"})).expect_error(400, "interval as string");
    post(json!({"name": 7, "key": "system.loadavg1", "interval": 1})).expect_error(400, "name as number");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": 1, "tags": "x"}))
        .expect_error(400, "tags as string");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": 1, "enabled": "yes"}))
        .expect_error(400, "enabled as string");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": 0})).expect_error(400, "interval 0");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": -1})).expect_error(400, "interval -1");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": 1.5})).expect_error(400, "interval 1.5");
    post(json!({"name": "a", "key": "system.loadavg1", "interval": 1, "colour": "red"}))
        .expect_error(400, "unknown field");

    post(json!({"name": "seed", "key": "system.loadavg5", "interval": 1})).expect_error(409, "duplicate name");
    let unknown = post(json!({"name": "a", "key": "nosuch.metric", "interval": 1})).expect_error(422, "unknown key");
    assert!(
        unknown.contains("system.loadavg1"),
        "unknown-key error does not list the keys: {unknown}"
    );

    post(json!({"name": "..", "key": "system.loadavg1", "interval": 1})).expect_error(400, "name ..");
    post(json!({"name": "a/b", "key": "system.loadavg1", "interval": 1})).expect_error(400, "name with /");

    // PUT: same validation, only updatable fields, no renames.
    api.put("/items/seed", &json!({"interval": 0}))
        .expect_error(400, "PUT interval 0");
    api.put("/items/seed", &json!({"colour": "red"}))
        .expect_error(400, "PUT unknown field");
    api.put("/items/seed", &json!({"name": "other"}))
        .expect_error(400, "PUT rename");
    api.put("/items/seed", &json!({"key": "nosuch.metric"}))
        .expect_error(422, "PUT unknown key");
    api.send("PUT", "/items/seed", Some("{"))
        .expect_error(400, "PUT non-JSON");
    api.put("/items/nosuch", &json!({"interval": 2}))
        .expect_error(404, "PUT missing item");

    // Errors axum raises before a handler runs are JSON too.
    let method = api.send("PATCH", "/items/seed", Some("{}")).expect_error(405, "PATCH");
    assert!(
        method.contains("PATCH") && method.contains("PUT"),
        "405 does not say what to use: {method}"
    );
    api.send("GET", "/items/seed/samples?limit=abc", None)
        .expect_error(400, "limit=abc");
    api.send("GET", "/items/seed/samples?limit=0", None)
        .expect_error(400, "limit=0");
    api.send("GET", "/items/%FF", None).expect_error(400, "non-UTF-8 path");
    api.send("GET", "/nowhere", None).expect_error(404, "unknown path");
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(3 << 20));
    api.send("POST", "/items/", Some(&huge)).expect_error(413, "3 MiB body");

    // Nothing was created or changed along the way.
    assert_eq!(api.get("/items/seed").json()["interval"], 1);
    assert_eq!(names(&api.get("/items/").json()), BTreeSet::from(["seed".to_owned()]));
    assert_eq!(config_names(&dir), BTreeSet::from(["seed".to_owned()]));
}

#[test]
fn keys_that_need_an_arg_are_refused_without_one() {
    let dir = TestDir::new(&[system_wasm(), fixture("misbehave")]);
    dir.write_config(json!({"items": []}));
    let logger = dir.start_in_process();
    let api = &logger.api;
    let error = api
        .post(
            "/items/",
            &json!({"name": "rf", "key": "misbehave.readfile", "interval": 1}),
        )
        .expect_error(422, "missing required arg");
    assert!(
        error.contains("arg") && error.contains("path"),
        "does not say which arg: {error}"
    );
    let created = api.post(
        "/items/",
        &json!({"name": "rf", "key": "misbehave.readfile", "arg": "/proc/uptime", "interval": 1}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.json()["next_poll_time"].is_string(), "{}", created.text);
    api.put("/items/rf", &json!({"arg": null}))
        .expect_error(422, "PUT removing a required arg");
    assert_eq!(logger.item("rf")["arg"], "/proc/uptime");
}

#[test]
fn changes_survive_a_restart() {
    let dir = seeded_dir();
    let logger = dir.start();
    let api = logger.api.clone();
    assert_eq!(
        api.post(
            "/items/",
            &json!({"name": "extra", "key": "system.load", "interval": 5})
        )
        .status,
        201
    );
    assert_eq!(
        api.post(
            "/items/",
            &json!({"name": "gone", "key": "system.loadavg1", "interval": 1})
        )
        .status,
        201
    );
    assert_eq!(
        api.put("/items/seed", &json!({"interval": 3, "tags": {"a": "b"}}))
            .status,
        200
    );
    assert_eq!(api.delete("/items/gone").status, 200);
    drop(logger); // SIGKILL: every change must already be on disk

    let logger = dir.start();
    let items = logger.api.get("/items/").json();
    assert_eq!(names(&items), BTreeSet::from(["seed".to_owned(), "extra".to_owned()]));
    let seed = logger.item("seed");
    assert_eq!(seed["interval"], 3);
    assert_eq!(seed["tags"], json!({"a": "b"}));
    assert_eq!(seed["key"], "system.loadavg1");
    let extra = logger.item("extra");
    assert_eq!(extra["key"], "system.load");
    assert_eq!(extra["interval"], 5);
}

#[test]
fn concurrent_posts_all_persist() {
    let dir = seeded_dir();
    let logger = dir.start();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let posts: Vec<_> = (0..20)
            .map(|i| {
                let api = logger.api.clone();
                s.spawn(move || {
                    let item = json!({"name": format!("c{i:02}"), "key": "system.loadavg15", "interval": 60});
                    api.post("/items/", &item).status
                })
            })
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "statuses: {statuses:?}");

    let mut expected: BTreeSet<String> = (0..20).map(|i| format!("c{i:02}")).collect();
    expected.insert("seed".to_owned());
    assert_eq!(names(&logger.api.get("/items/").json()), expected);
    assert_eq!(config_names(&dir), expected, "config file lost items");

    drop(logger);
    let logger = dir.start();
    assert_eq!(
        names(&logger.api.get("/items/").json()),
        expected,
        "items lost across restart"
    );
}
