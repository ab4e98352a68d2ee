//! The sensehat plugin against the host's simulated I2C bus: the chips start
//! powered down, so every first sample goes through the plugin's
//! identify → start → wait-for-data-ready → calibrate → convert path.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;

fn item(name: &str, key: &str, arg: Option<&str>) -> Value {
    json!({"name": name, "key": key, "interval": 1, "arg": arg})
}

/// The grant the plugin needs on each of `buses`.
fn grants(buses: &[u8]) -> Value {
    let rules: Vec<Value> = buses
        .iter()
        .map(|b| json!({"bus": b, "addresses": ["0x5c", "0x5f"]}))
        .collect();
    json!({"sensehat": {"i2c": rules}})
}

/// Worked example B's calibration (0x30..0x3F) with register 0x35 = `r35`.
fn calibration_b(r35: &str) -> String {
    format!("35 84 9A 2C 00 {r35} 09 00 00 00 D4 D6 FB FF B1 02")
}

/// Asserts every stored sample of `name` has measurement `sensehat` and the
/// float `field` within `tolerance` of `expected`; returns how many there are.
fn assert_field(db: &Path, name: &str, field: &str, expected: f64, tolerance: f64) -> usize {
    let rows = store_rows(db, name);
    assert!(!rows.is_empty(), "{name}: no samples stored");
    for row in &rows {
        assert_eq!(row.measurement, "sensehat", "{name}: {row:?}");
        let value = row.fields[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no float field {field}: {row:?}"));
        assert!(
            (value - expected).abs() <= tolerance,
            "{name}: {field} = {value}, expected {expected} ± {tolerance}: {row:?}"
        );
    }
    rows.len()
}

#[test]
fn worked_examples_come_out_as_published() {
    let dir = TestDir::new(&[dist_wasm("sensehat")]);
    dir.write_config(json!({
        "plugins": grants(&[1, 2, 3]),
        "i2c": {"buses": [
            // Example A (HTS221) and C (LPS25H).
            {"bus": 1, "simulated": [
                {"chip": "hts221", "address": "0x5f", "registers": {
                    "0x30": "28 50 50 A0 00 00 A0 0F 00 00 70 17 2C 01 F4 01",
                    "0x28": "88 13 90 01"}},
                {"chip": "lps25h", "address": "0x5c", "registers": {"0x28": "00 54 3F 50 DA"}},
            ]},
            // Example B, and B with the reserved bits of 0x35 set.
            {"bus": 2, "simulated": [
                {"chip": "hts221", "registers": {"0x30": calibration_b("04"), "0x28": "78 EC FA 00"}},
            ]},
            {"bus": 3, "simulated": [
                {"chip": "hts221", "registers": {"0x30": calibration_b("F4"), "0x28": "78 EC FA 00"}},
            ]},
        ]},
        "items": [
            item("t_a", "sensehat.temperature", None),
            item("h_a", "sensehat.humidity", None),
            item("p_c", "sensehat.pressure", None),
            item("env", "sensehat.environment", None),
            item("t_b", "sensehat.temperature", Some("bus=2")),
            item("h_b", "sensehat.humidity", Some("bus=2")),
            item("t_b_reserved", "sensehat.temperature", Some("bus=3")),
            item("h_b_reserved", "sensehat.humidity", Some("bus=3")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let names = ["t_a", "h_a", "p_c", "env", "t_b", "h_b", "t_b_reserved", "h_b_reserved"];
    logger.wait_for_rows(&db, &names);

    const TOL: f64 = 1e-3;
    assert_field(&db, "t_a", "temperature", 15.0, TOL);
    assert_field(&db, "h_a", "humidity", 30.0, TOL);
    assert_field(&db, "p_c", "pressure", 1013.25, TOL);
    for name in ["t_b", "t_b_reserved"] {
        assert_field(&db, name, "temperature", 25.955692, TOL);
    }
    for name in ["h_b", "h_b_reserved"] {
        assert_field(&db, name, "humidity", 45.255854, TOL);
    }
    assert_field(&db, "env", "temperature", 15.0, TOL);
    assert_field(&db, "env", "humidity", 30.0, TOL);
    assert_field(&db, "env", "pressure", 1013.25, TOL);
    assert_field(&db, "env", "temperature_from_pressure", 22.4, TOL);

    // Single-value keys carry one field; the REST view shows it as last_value.
    for (name, field) in [("t_a", "temperature"), ("h_a", "humidity"), ("p_c", "pressure")] {
        for row in store_rows(&db, name) {
            assert_eq!(row.fields.as_object().unwrap().len(), 1, "{name}: {row:?}");
        }
        let item = logger.item(name);
        assert_eq!(item["last_error"], json!(null), "{name}: {item}");
        assert_eq!(
            item["last_value"], item["last_sample"]["fields"][field],
            "{name}: {item}"
        );
    }
    // environment's primary value is the HTS221 temperature.
    let env = logger.item("env");
    assert!((env["last_value"].as_f64().unwrap() - 15.0).abs() <= TOL, "{env}");
    let fields = store_rows(&db, "env")[0].fields.clone();
    let mut names: Vec<&String> = fields.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["humidity", "pressure", "temperature", "temperature_from_pressure"],
        "{fields}"
    );
}

#[test]
fn physical_values_come_back_within_a_quantisation_step() {
    let dir = TestDir::new(&[dist_wasm("sensehat")]);
    let (t, rh, p, t_p) = (23.03, 55.007, 1001.5, 24.26);
    dir.write_config(json!({
        "plugins": grants(&[1, 2]),
        "i2c": {"buses": [
            {"bus": 1, "simulated": [
                {"chip": "hts221", "address": "0x5f", "temperature_c": t, "humidity_rh": rh},
                {"chip": "lps25h", "address": "0x5c", "pressure_hpa": p, "temperature_c": t_p},
            ]},
            // Example B's calibration: signed, decreasing humidity output.
            {"bus": 2, "simulated": [
                {"chip": "hts221", "temperature_c": t, "humidity_rh": rh,
                 "registers": {"0x30": calibration_b("F4")}},
            ]},
        ]},
        "items": [
            item("t", "sensehat.temperature", None),
            item("h", "sensehat.humidity", Some("")),
            item("p", "sensehat.pressure", Some("bus=1")),
            item("env", "sensehat.environment", None),
            item("t_b", "sensehat.temperature", Some("bus=2")),
            item("h_b", "sensehat.humidity", Some("bus=2")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    logger.wait_for_rows(&db, &["t", "h", "p", "env", "t_b", "h_b"]);

    // One output step of each chip: calibration A is 0.05 °C and 0.01 %RH per
    // count, B about 0.026 °C and 0.0037 %RH; the LPS25H 1/4096 hPa and 1/480 °C.
    assert_field(&db, "t", "temperature", t, 0.05);
    assert_field(&db, "h", "humidity", rh, 0.01);
    assert_field(&db, "p", "pressure", p, 1.0 / 4096.0);
    assert_field(&db, "env", "temperature", t, 0.05);
    assert_field(&db, "env", "humidity", rh, 0.01);
    assert_field(&db, "env", "pressure", p, 1.0 / 4096.0);
    assert_field(&db, "env", "temperature_from_pressure", t_p, 1.0 / 480.0);
    assert_field(&db, "t_b", "temperature", t, 0.027);
    assert_field(&db, "h_b", "humidity", rh, 0.004);

    // Sampling keeps working tick after tick (the chips are re-read each time).
    logger.wait_until("3 samples of env", SLOW, |_| {
        (store_rows(&db, "env").len() >= 3).then_some(())
    });
    assert_field(&db, "env", "pressure", p, 1.0 / 4096.0);
    assert_eq!(logger.item("env")["last_error"], json!(null));
}

#[test]
fn missing_or_wrong_chip_is_reported_per_key() {
    let dir = TestDir::new(&[dist_wasm("sensehat")]);
    dir.write_config(json!({
        "plugins": grants(&[1, 2]),
        "i2c": {"buses": [
            // No LPS25H on bus 1.
            {"bus": 1, "simulated": [{"chip": "hts221", "address": "0x5f"}]},
            // Something else answers at 0x5f on bus 2.
            {"bus": 2, "simulated": [{"chip": "hts221", "registers": {"0x0F": "6A"}}]},
        ]},
        "items": [
            item("temperature", "sensehat.temperature", None),
            item("pressure", "sensehat.pressure", None),
            item("env", "sensehat.environment", None),
            item("impostor", "sensehat.temperature", Some("bus=2")),
            item("badarg", "sensehat.temperature", Some("bus=one")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();

    let error = logger.wait_error("pressure");
    assert!(error.starts_with("unavailable: "), "pressure: {error}");
    assert!(error.contains("0x5c"), "pressure: missing address not named: {error}");
    assert!(error.contains("bus 1"), "pressure: bus not named: {error}");
    let error = logger.wait_error("env");
    assert!(error.contains("0x5c"), "env: {error}");

    // The HTS221 on the same bus still samples (default 21.5 °C).
    logger.wait_for_rows(&db, &["temperature"]);
    assert_field(&db, "temperature", "temperature", 21.5, 0.05);
    assert_eq!(logger.item("temperature")["last_error"], json!(null));

    let error = logger.wait_error("impostor");
    assert!(error.starts_with("unavailable: "), "impostor: {error}");
    assert!(
        error.contains("WHO_AM_I") && error.contains("0x6a") && error.contains("0xbc"),
        "impostor: {error}"
    );

    let error = logger.wait_error("badarg");
    assert!(error.starts_with("bad argument: "), "badarg: {error}");
    assert!(error.contains("bus=N"), "badarg: {error}");

    for name in ["pressure", "env", "impostor", "badarg"] {
        assert!(
            store_rows(&db, name).is_empty(),
            "{name}: stored a sample despite the error"
        );
    }
}

#[test]
fn without_an_i2c_grant_the_error_says_so() {
    let dir = TestDir::new(&[dist_wasm("sensehat")]);
    dir.write_config(json!({
        // Explicit grants replace the shipped default (bus 1 at 0x5c, 0x5f):
        // here the plugin may touch nothing, except the LPS25H on bus 2.
        "plugins": {"sensehat": {"i2c": [{"bus": 2, "addresses": ["0x5c"]}]}},
        "i2c": {"buses": [
            {"bus": 1, "simulated": [{"chip": "hts221"}, {"chip": "lps25h"}]},
            {"bus": 2, "simulated": [{"chip": "hts221"}, {"chip": "lps25h"}]},
        ]},
        "items": [
            item("temperature", "sensehat.temperature", None),
            item("pressure", "sensehat.pressure", None),
            item("humidity2", "sensehat.humidity", Some("bus=2")),
            item("pressure2", "sensehat.pressure", Some("bus=2")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    for (name, address, bus) in [
        ("temperature", "0x5f", "bus 1"),
        ("pressure", "0x5c", "bus 1"),
        ("humidity2", "0x5f", "bus 2"),
    ] {
        let error = logger.wait_error(name);
        assert!(error.starts_with("unavailable: "), "{name}: {error}");
        assert!(error.contains("not granted"), "{name}: {error}");
        assert!(error.contains("plugin sensehat"), "{name}: {error}");
        assert!(error.contains(address) && error.contains(bus), "{name}: {error}");
        assert!(store_rows(&db, name).is_empty(), "{name}: stored a sample");
    }
    // The one granted chip works.
    logger.wait_for_rows(&db, &["pressure2"]);
    assert_field(&db, "pressure2", "pressure", 1013.25, 1.0 / 4096.0);
}

/// With no simulated bus declared, bus 1 is the Linux `/dev/i2c-1`; on a
/// machine without one (like CI) the error says how to enable it or simulate it.
#[test]
fn a_bus_that_is_not_simulated_is_the_linux_device() {
    if Path::new("/dev/i2c-1").exists() {
        eprintln!("skipping: this machine has a real /dev/i2c-1");
        return;
    }
    let dir = TestDir::new(&[dist_wasm("sensehat")]);
    dir.write_config(json!({"items": [item("t", "sensehat.temperature", None)]}));
    let mut logger = dir.start();
    let error = logger.wait_error("t");
    assert!(error.contains("/dev/i2c-1 does not exist"), "{error}");
    assert!(
        error.contains("simulated"),
        "the fix should mention the simulated bus: {error}"
    );
}
