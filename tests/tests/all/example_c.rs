//! The C example plugin (`plugins/examples/c`, clang + wit-bindgen into
//! `bme280.wasm`) against BME280s on the host's simulated I2C bus: the
//! datasheet's worked example through raw register values, physical values
//! round-tripping through the chip's calibration, a BMP280 (no humidity), a
//! missing chip, another chip at the address, a bad arg and no grant. Every
//! sample goes through chip id → calibration → forced measurement → wait for
//! the status → data → integer compensation.

use std::path::Path;

use crate::common::*;
use serde_json::{json, Value};

fn item(name: &str, key: &str, arg: Option<&str>) -> Value {
    json!({"name": name, "key": key, "interval": 1, "arg": arg})
}

/// The BMP280 datasheet's worked example as raw data registers 0xF7..0xFC:
/// adc_P = 415148 (0x655AC), adc_T = 519888 (0x7EED0). With the emulation's
/// default calibration (the same example's) the integer formulas give
/// 25.08 °C and 25767233 / 256 Pa = 1006.5325390625 hPa; the datasheet
/// prints 100653.27 Pa, from its floating-point formula.
const WORKED_EXAMPLE: &str = "65 5A C0 7E ED 00";
const WORKED_PRESSURE_HPA: f64 = 25_767_233.0 / 256.0 / 100.0;

/// Asserts every stored sample of `name` is a `bme280` point without tags
/// whose fields are exactly `expected` (name, value, tolerance), in this order
/// of importance; returns the number of samples.
fn assert_fields(db: &Path, name: &str, expected: &[(&str, f64, f64)]) -> usize {
    let rows = store_rows(db, name);
    assert!(!rows.is_empty(), "{name}: no samples stored");
    for row in &rows {
        assert_eq!(row.measurement, "bme280", "{name}: {row:?}");
        assert_eq!(row.tags, json!({}), "{name}: {row:?}");
        let fields = row.fields.as_object().unwrap();
        assert_eq!(fields.len(), expected.len(), "{name}: {row:?}");
        for (field, value, tolerance) in expected {
            let got = fields
                .get(*field)
                .and_then(Value::as_f64)
                .unwrap_or_else(|| panic!("{name}: no float field {field}: {row:?}"));
            assert!(
                (got - value).abs() <= *tolerance,
                "{name}: {field} = {got}, expected {value} ± {tolerance}"
            );
        }
    }
    rows.len()
}

#[test]
fn readings_come_out_as_the_datasheet_says() {
    let dir = TestDir::new(&[example_wasm("bme280", "c")]);
    let (t, p, rh) = (23.03, 1001.5, 55.007);
    dir.write_config(json!({
        "plugins": {"bme280": {"i2c": [
            {"bus": 1, "addresses": ["0x76"]},
            {"bus": 2, "addresses": ["0x77"]},
            {"bus": 3, "addresses": ["0x76"]},
        ]}},
        "i2c": {"buses": [
            // The worked example: raw data registers set, humidity measured (40 %RH).
            {"bus": 1, "simulated": [
                {"chip": "bme280", "humidity_rh": 40.0, "registers": {"0xF7": WORKED_EXAMPLE}},
            ]},
            // Physical values, the chip at its other address.
            {"bus": 2, "simulated": [
                {"chip": "bme280", "address": "0x77", "temperature_c": t, "pressure_hpa": p, "humidity_rh": rh},
            ]},
            // A BMP280: chip id 0x58, no humidity.
            {"bus": 3, "simulated": [
                {"chip": "bme280", "temperature_c": t, "pressure_hpa": p, "registers": {"0xD0": "58"}},
            ]},
        ]},
        "items": [
            item("t_example", "bme280.temperature", None),
            item("p_example", "bme280.pressure", Some("")),
            item("env_example", "bme280.environment", Some("bus=1,addr=0x76")),
            item("t", "bme280.temperature", Some("bus=2,addr=0x77")),
            item("p", "bme280.pressure", Some("addr=0x77, bus=2")),
            item("h", "bme280.humidity", Some("bus=2,addr=0x77")),
            item("env", "bme280.environment", Some("bus=2,addr=0x77")),
            item("env_bmp", "bme280.environment", Some("bus=3")),
            item("h_bmp", "bme280.humidity", Some("bus=3")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let names = ["t_example", "p_example", "env_example", "t", "p", "h", "env", "env_bmp"];
    logger.wait_for_rows(&db, &names);

    // The worked example, exactly (one ulp of slack for the float division).
    assert_fields(&db, "t_example", &[("temperature", 25.08, 1e-12)]);
    assert_fields(&db, "p_example", &[("pressure", WORKED_PRESSURE_HPA, 1e-12)]);
    assert!((WORKED_PRESSURE_HPA - 1006.5327).abs() < 2e-4);
    // Humidity: one ADC step of the default calibration is about 0.0055 %RH.
    let env_example = [
        ("temperature", 25.08, 1e-12),
        ("pressure", WORKED_PRESSURE_HPA, 1e-12),
        ("humidity", 40.0, 0.008),
    ];
    assert_fields(&db, "env_example", &env_example);

    // Physical values within one LSB: temperature 0.01 °C (the integer
    // formula's step), pressure 0.0016 hPa (0.16 Pa, the x16 ADC step),
    // humidity 0.008 %RH (the datasheet's humidity resolution).
    assert_fields(&db, "t", &[("temperature", t, 0.01)]);
    assert_fields(&db, "p", &[("pressure", p, 0.0016)]);
    assert_fields(&db, "h", &[("humidity", rh, 0.008)]);
    let env = [
        ("temperature", t, 0.01),
        ("pressure", p, 0.0016),
        ("humidity", rh, 0.008),
    ];
    assert_fields(&db, "env", &env);
    // The BMP280: temperature and pressure only.
    assert_fields(&db, "env_bmp", &[("temperature", t, 0.01), ("pressure", p, 0.0016)]);
    let error = logger.wait_error("h_bmp");
    assert!(error.starts_with("unavailable: "), "h_bmp: {error}");
    assert!(
        error.contains("BMP280") && error.contains("no humidity"),
        "h_bmp: {error}"
    );
    assert!(store_rows(&db, "h_bmp").is_empty());

    // The primary value (first field) is last_value; environment's is the temperature.
    for (name, field) in [
        ("t", "temperature"),
        ("p", "pressure"),
        ("h", "humidity"),
        ("env", "temperature"),
    ] {
        let item = logger.item(name);
        assert_eq!(item["last_error"], json!(null), "{name}: {item}");
        assert_eq!(
            item["last_value"], item["last_sample"]["fields"][field],
            "{name}: {item}"
        );
    }

    // Every tick is a new forced measurement that keeps working.
    logger.wait_until("3 samples of env", SLOW, |_| {
        (store_rows(&db, "env").len() >= 3).then_some(())
    });
    assert_fields(&db, "env", &env);
    assert_eq!(logger.item("env")["last_error"], json!(null));
}

#[test]
fn problems_are_reported_per_item() {
    let dir = TestDir::new(&[example_wasm("bme280", "c")]);
    dir.write_config(json!({
        "plugins": {"bme280": {"i2c": [{"bus": 1}, {"bus": 2}]}},
        "i2c": {"buses": [
            // Nothing at 0x76 on bus 1; a BME280 at 0x77.
            {"bus": 1, "simulated": [{"chip": "bme280", "address": "0x77"}]},
            // Another chip (an HTS221, chip id register reads 0x00) at 0x76.
            {"bus": 2, "simulated": [{"chip": "hts221", "address": "0x76"}]},
        ]},
        "items": [
            item("missing", "bme280.temperature", None),
            item("present", "bme280.temperature", Some("addr=0x77")),
            item("impostor", "bme280.environment", Some("bus=2")),
            item("bad_bus", "bme280.temperature", Some("bus=one")),
            item("bad_addr", "bme280.temperature", Some("addr=0x5c")),
            item("bad_part", "bme280.temperature", Some("bus=1;addr=0x77")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();

    let error = logger.wait_error("missing");
    assert!(
        error.starts_with("unavailable: no device answered at address 0x76 on I2C bus 1"),
        "missing: the host's message should come through as it is: {error}"
    );

    logger.wait_for_rows(&db, &["present"]);
    assert_fields(&db, "present", &[("temperature", 21.5, 0.01)]);

    let error = logger.wait_error("impostor");
    assert!(error.starts_with("unavailable: "), "impostor: {error}");
    assert!(
        error.contains("0x76") && error.contains("bus 2") && error.contains("0x00") && error.contains("0x60"),
        "impostor: {error}"
    );

    for (name, part) in [
        ("bad_bus", "bus=one"),
        ("bad_addr", "addr=0x5c"),
        ("bad_part", "bus=1;addr=0x77"),
    ] {
        let error = logger.wait_error(name);
        assert!(error.starts_with("bad argument: "), "{name}: {error}");
        assert!(error.contains(part) && error.contains("bus=N"), "{name}: {error}");
    }
    for name in ["missing", "impostor", "bad_bus", "bad_addr", "bad_part"] {
        assert!(
            store_rows(&db, name).is_empty(),
            "{name}: stored a sample despite the error"
        );
    }
}

#[test]
fn without_an_i2c_grant_the_error_says_so() {
    let dir = TestDir::new(&[example_wasm("bme280", "c")]);
    dir.write_config(json!({
        // Only bus 2 is granted.
        "plugins": {"bme280": {"i2c": [{"bus": 2, "addresses": ["0x76"]}]}},
        "i2c": {"buses": [
            {"bus": 1, "simulated": [{"chip": "bme280"}]},
            {"bus": 2, "simulated": [{"chip": "bme280"}]},
        ]},
        "items": [
            item("refused", "bme280.temperature", None),
            item("granted", "bme280.temperature", Some("bus=2")),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    let error = logger.wait_error("refused");
    assert!(
        error.starts_with("unavailable: capability not granted to plugin bme280"),
        "refused: the host's message should come through as it is: {error}"
    );
    assert!(error.contains("bus 1") && error.contains("0x76"), "refused: {error}");
    assert!(store_rows(&db, "refused").is_empty());
    logger.wait_for_rows(&db, &["granted"]);
    assert_fields(&db, "granted", &[("temperature", 21.5, 0.01)]);
}

#[test]
fn inspect_and_test_from_the_command_line() {
    let dir = TestDir::new(&[]);
    let wasm = example_wasm("bme280", "c");
    let wasm = wasm.to_str().unwrap();
    let out = dir.cli(&["plugin", "inspect", wasm]);
    assert!(out.status.success(), "plugin inspect failed:\n{}", out.all());
    assert!(out.stdout.contains("plugin bme280 "), "{}", out.all());
    for key in [
        "bme280.temperature",
        "bme280.pressure",
        "bme280.humidity",
        "bme280.environment",
    ] {
        assert!(out.stdout.contains(key), "{key} missing:\n{}", out.all());
    }
    // Only the host's interfaces, no WASI: the core module was built without libc I/O.
    assert!(out.stdout.contains("datalogger:plugin/i2c@0.1.1"), "{}", out.all());
    assert!(!out.stdout.contains("wasi:"), "imports WASI:\n{}", out.all());

    let i2c = json!({"buses": [{"bus": 1, "simulated": [{"chip": "bme280", "registers": {"0xF7": WORKED_EXAMPLE}}]}]});
    let out = dir.cli(&[
        "plugin",
        "test",
        wasm,
        "bme280.environment",
        "--grant",
        r#"{"i2c": [{"bus": 1, "addresses": ["0x76"]}]}"#,
        "--i2c",
        &i2c.to_string(),
        "--cache-dir",
        dir.cache_dir().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "plugin test failed:\n{}", out.all());
    assert!(
        out.stdout.contains(r#""temperature":25.08"#) && out.stdout.contains(r#""pressure":1006.5325390625"#),
        "{}",
        out.all()
    );
}
