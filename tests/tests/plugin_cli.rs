//! The plugin author's commands: `datalogger plugin test FILE KEY [ARG]` runs
//! one sample with the grants given on the command line and prints the points.

mod common;

use common::*;
use serde_json::Value;

fn points(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON point ({e}): {l}")))
        .collect()
}

#[test]
fn plugin_test_samples_once_with_the_given_grants() {
    let dir = tempfile::tempdir().unwrap();
    let sensehat = dist_wasm("sensehat");
    let cache = dir.path().join("cache");
    let file = sensehat.to_str().unwrap();
    let cache_arg = cache.to_str().unwrap();

    // The simulated Sense HAT, with its defaults (21.5 °C, 40 %RH, 1013.25 hPa).
    let out = run_cli(
        &[
            "plugin",
            "test",
            file,
            "sensehat.environment",
            "--sensehat",
            "--cache-dir",
            cache_arg,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", out.all());
    let p = points(&out.stdout);
    assert_eq!(p.len(), 1, "{}", out.all());
    assert_eq!(p[0]["measurement"], "sensehat");
    let f = &p[0]["fields"];
    assert!((f["temperature"].as_f64().unwrap() - 21.5).abs() < 0.05, "{f}");
    assert!((f["humidity"].as_f64().unwrap() - 40.0).abs() < 0.1, "{f}");
    assert!((f["pressure"].as_f64().unwrap() - 1013.25).abs() < 0.001, "{f}");
    assert!(out.stderr.contains("(compiled)"), "{}", out.stderr);

    // A custom bus given as the config's "i2c" section, and the cache used.
    let i2c = r#"{"buses": [{"bus": 1, "simulated": [{"chip": "lps25h", "pressure_hpa": 990.5}]}]}"#;
    let out = run_cli(
        &[
            "plugin",
            "test",
            file,
            "sensehat.pressure",
            "--i2c",
            i2c,
            "--grant",
            r#"{"i2c": [{"bus": 1}]}"#,
            "--cache-dir",
            cache_arg,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", out.all());
    assert!((points(&out.stdout)[0]["fields"]["pressure"].as_f64().unwrap() - 990.5).abs() < 0.001);
    assert!(out.stderr.contains("(from the cache)"), "{}", out.stderr);

    // Without a grant: the sample's error, exit status 1, nothing on stdout.
    let out = run_cli(
        &["plugin", "test", file, "sensehat.pressure", "--i2c", i2c, "--no-cache"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.all());
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("error: unavailable:") && out.stderr.contains("not granted"),
        "{}",
        out.stderr
    );
}

#[test]
fn plugin_test_says_what_is_wrong_with_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let net = dist_wasm("net");
    let file = net.to_str().unwrap();
    for (args, expected) in [
        (vec!["net.pong"], "no key \"net.pong\"; its keys: net.ping"),
        (vec!["net.ping"], "needs an arg"),
        (
            vec!["net.ping", "127.0.0.1", "--grant", r#"{"ping": "any"}"#],
            "--grant: invalid type",
        ),
        (
            vec![
                "net.ping",
                "127.0.0.1",
                "--i2c",
                r#"{"buses": [{"bus": 1, "simulated": [{"chip": "x"}]}]}"#,
            ],
            "unknown chip",
        ),
    ] {
        let mut all = vec!["plugin", "test", file, "--no-cache"];
        all.extend(args);
        let out = run_cli(&all, dir.path());
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", out.all());
        assert!(
            out.stderr.contains(expected),
            "{all:?}: expected {expected:?} in:\n{}",
            out.stderr
        );
    }
}
