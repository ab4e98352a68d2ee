//! Capability grants: a plugin reaches http, ping, i2c and discovery only as
//! far as the operator granted it, the refusal names the plugin and what it
//! tried to reach, nothing leaves the host for a refused call, and the log
//! shows a refusal once per item rather than once per poll.

use crate::common::http_fake::{HttpFake, Response};
use crate::common::*;
use serde_json::{json, Value};
use std::net::UdpSocket;

fn item(name: &str, key: &str, arg: Option<&str>) -> Value {
    json!({"name": name, "key": key, "interval": 1, "arg": arg})
}

/// A simulated I2C bus 1 with the Sense HAT's two sensors.
fn simulated_i2c() -> Value {
    json!({"buses": [{"bus": 1, "simulated": [
        {"chip": "hts221", "address": "0x5f", "temperature_c": 21.5, "humidity_rh": 40.0},
        {"chip": "lps25h", "address": "0x5c", "pressure_hpa": 1013.25, "temperature_c": 22.4},
    ]}]})
}

/// A loopback HTTP server answering every request with 200 "ok"; counts the
/// connections it accepted (`HttpFake::connections`).
fn ok_server() -> HttpFake {
    HttpFake::start(|_| Response::bare(200, "ok"))
}

/// Asserts that `error` is a refused grant mentioning every one of `names`.
fn assert_refused(item: &str, error: &str, names: &[&str]) {
    assert!(error.contains("not granted"), "{item}: not a refused grant: {error}");
    for name in names {
        assert!(error.contains(name), "{item}: {name:?} missing from the error: {error}");
    }
}

#[test]
fn ungranted_capabilities_are_refused_naming_plugin_and_target() {
    let plugins = ["net", "sensehat", "wemo", "isems"].map(dist_wasm);
    let mut files = plugins.to_vec();
    files.push(fixture("misbehave"));
    let dir = TestDir::new(&files);
    let server = ok_server();
    // Where SSDP searches go in this config; a refused search must not arrive.
    let ssdp = UdpSocket::bind("127.0.0.1:0").unwrap();
    ssdp.set_nonblocking(true).unwrap();
    let port = server.address();
    dir.write_config(json!({
        "i2c": simulated_i2c(),
        "discovery": {"ssdp_target": ssdp.local_addr().unwrap().to_string()},
        // The shipped plugins get default grants when the config names none;
        // an empty entry takes them away.
        "plugins": {"net": {}, "sensehat": {}, "wemo": {}, "isems": {}},
        "items": [
            item("http", "misbehave.httpcall", Some(&server.url("/"))),
            item("ping", "misbehave.pingcall", Some("127.0.0.1")),
            item("i2c", "misbehave.i2ccall", Some("1:0x5c")),
            item("ssdp", "misbehave.ssdpcall", Some("urn:Belkin:service:basicevent:1")),
            item("net", "net.ping", Some("127.0.0.1")),
            item("sensehat", "sensehat.pressure", None),
            item("wemo_http", "wemo.state", Some(&format!("host:{port}"))),
            item("wemo_ssdp", "wemo.state", Some("name:switch1")),
            item("isems", "isems.node", Some(&port)),
        ],
    }));
    let mut logger = dir.start();
    let expected: [(&str, &[&str]); 9] = [
        ("http", &["plugin misbehave", &port]),
        ("ping", &["plugin misbehave", "127.0.0.1"]),
        ("i2c", &["plugin misbehave", "bus 1", "0x5c"]),
        ("ssdp", &["plugin misbehave"]),
        ("net", &["plugin net", "127.0.0.1"]),
        ("sensehat", &["plugin sensehat", "bus 1", "0x5c"]),
        ("wemo_http", &["plugin wemo", &port]),
        ("wemo_ssdp", &["plugin wemo"]),
        ("isems", &["plugin isems", &port]),
    ];
    for (name, names) in expected {
        let error = logger.wait_error(name);
        assert_refused(name, &error, names);
        // Whatever case the plugin reported, the host knows it refused the call.
        assert_eq!(logger.item(name)["last_error_kind"], json!("not_granted"), "{name}");
        if ["http", "ping", "i2c", "ssdp"].contains(&name) {
            // The fixture reports the capability error's case.
            assert!(
                error.starts_with("unavailable: not-granted: "),
                "{name}: not the not-granted case: {error}"
            );
        } else {
            // Shipped plugins map not-granted to `unavailable`.
            assert!(error.starts_with("unavailable: "), "{name}: {error}");
        }
        assert!(
            store_rows(&dir.db_path(), name).is_empty(),
            "{name}: a refused call stored samples"
        );
    }
    for name in ["ssdp", "wemo_ssdp"] {
        let error = logger.item(name)["last_error"].as_str().unwrap().to_lowercase();
        assert!(
            error.contains("ssdp") || error.contains("discovery"),
            "{name}: the refusal does not say what was refused: {error}"
        );
    }

    // Nothing went out for the refused calls.
    assert_eq!(server.connections(), 0, "a refused http call reached the server");
    let mut buf = [0u8; 2048];
    assert!(ssdp.recv_from(&mut buf).is_err(), "a refused SSDP search was sent");
}

#[test]
fn a_grant_for_one_target_does_not_cover_another() {
    let dir = TestDir::new(&[fixture("misbehave")]);
    let granted = ok_server();
    let other = ok_server();
    dir.write_config(json!({
        "i2c": simulated_i2c(),
        "plugins": {"misbehave": {
            "http": [granted.address()],
            "i2c": [{"bus": 1, "addresses": ["0x5f"]}],
        }},
        "items": [
            item("http_ok", "misbehave.httpcall", Some(&granted.url("/"))),
            item("http_other_port", "misbehave.httpcall", Some(&other.url("/"))),
            item("i2c_ok", "misbehave.i2ccall", Some("1:0x5f")),
            item("i2c_other_address", "misbehave.i2ccall", Some("1:0x5c")),
        ],
    }));
    let mut logger = dir.start();

    let ok = logger.wait_item_field("http_ok", "last_value");
    assert_eq!(ok["last_value"], json!(200), "{ok}");
    assert_eq!(ok["last_error"], json!(null), "{ok}");
    assert!(granted.connections() > 0);

    let error = logger.wait_error("http_other_port");
    assert_refused("http_other_port", &error, &["plugin misbehave", &other.address()]);
    assert_eq!(logger.item("http_other_port")["last_error_kind"], json!("not_granted"));
    assert_eq!(other.connections(), 0, "a refused http call reached the server");

    // WHO_AM_I of the simulated HTS221.
    let ok = logger.wait_item_field("i2c_ok", "last_value");
    assert_eq!(ok["last_value"], json!(0xBC), "{ok}");
    let error = logger.wait_error("i2c_other_address");
    assert_refused("i2c_other_address", &error, &["plugin misbehave", "bus 1", "0x5c"]);
}

#[test]
fn a_refusal_is_logged_once_per_item_not_once_per_poll() {
    let dir = TestDir::new(&[fixture("misbehave")]);
    let server = ok_server();
    dir.write_config(json!({
        "items": [item("grantless", "misbehave.httpcall", Some(&server.url("/")))],
    }));
    let mut logger = dir.start();
    let item = logger.wait_until("5 refused polls", SLOW, |api| {
        let item = api.try_get("/items/grantless")?.json();
        (item["stats"]["errors"].as_u64()? >= 5).then_some(item)
    });
    // Every poll fails and says why.
    assert_eq!(item["stats"]["errors"], item["stats"]["polls"], "{item}");
    assert_refused("grantless", item["last_error"].as_str().unwrap(), &["plugin misbehave"]);
    assert_eq!(server.connections(), 0, "a refused http call reached the server");

    // The capability logs the refusal once, and the scheduler logs the item's
    // error once (when it changes); neither repeats on later polls.
    let refusal_lines = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.contains("not granted") && l.contains("grantless"))
            .map(String::from)
            .collect()
    };
    let after_5 = refusal_lines(&logger.stderr());
    logger.wait_until("10 refused polls", SLOW, |api| {
        let item = api.try_get("/items/grantless")?.json();
        (item["stats"]["errors"].as_u64()? >= 10).then_some(())
    });
    let after_10 = refusal_lines(&logger.stderr());
    assert!(
        (1..=2).contains(&after_5.len()),
        "expected the refusal logged once (plus the item's error once), got:\n{}",
        after_5.join("\n")
    );
    assert_eq!(
        after_5, after_10,
        "the refusal was logged again on later polls (after 5 polls, then after 10)"
    );
    assert!(
        after_5
            .iter()
            .any(|l| l.contains("capability not granted to plugin misbehave")),
        "no line names the plugin and the refused capability:\n{}",
        after_5.join("\n")
    );
}
