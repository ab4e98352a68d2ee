//! The plugin author's commands: `datalogger plugin test FILE KEY [ARG]` runs
//! one sample with the grants given on the command line and prints the points;
//! with `--payload FILE` it runs one decode instead.

use crate::common::*;
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

#[test]
fn plugin_test_with_a_payload_runs_the_decoder_once() {
    let dir = tempfile::tempdir().unwrap();
    let isems = dist_wasm("isems");
    let file = isems.to_str().unwrap();
    let line = "Elektra-Dach;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635\nnot a line\n";
    let payload = dir.path().join("payload.csv");
    std::fs::write(&payload, line).unwrap();
    let payload = payload.to_str().unwrap();
    let base = ["plugin", "test", file, "--no-cache"];
    let with = |extra: &[&str]| {
        let mut all = base.to_vec();
        all.extend(extra);
        run_cli(&all, dir.path())
    };

    let out = with(&["isems.csvlog", "--payload", payload, "--topic", "/isems/x/csvlog"]);
    assert!(out.status.success(), "{}", out.all());
    let p = points(&out.stdout);
    assert_eq!(p.len(), 1, "the good line only: {}", out.all());
    assert_eq!(p[0]["tags"]["nodeId"], "Elektra-Dach");
    assert_eq!(p[0]["timestamp"], "2018-06-30T13:16:15Z");
    assert_eq!(p[0]["fields"]["batteryVoltage"], 14.073);
    assert!(out.stderr.contains("decode(\"isems.csvlog\", "), "{}", out.stderr);

    // A payload the decoder refuses: exit 1 with its reason.
    std::fs::write(dir.path().join("bad"), "nope").unwrap();
    let out = with(&["isems.csvlog", "--payload", "bad"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.all());
    assert!(out.stderr.contains("is an ISEMS log line"), "{}", out.stderr);

    // Wrong calls: exit 2 saying what to change.
    for (args, expected) in [
        (
            vec!["isems.csvlog"],
            "it is a decoder: give the payload with --payload FILE",
        ),
        (
            vec!["isems.nope", "--payload", payload],
            "no decoder \"isems.nope\"; its decoders: isems.csvlog",
        ),
        (
            vec!["isems.csvlog", "x", "--payload", payload],
            "a decoder takes no ARG",
        ),
        (vec!["isems.csvlog", "--payload", "missing"], "--payload missing"),
    ] {
        let out = with(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.all());
        assert!(
            out.stderr.contains(expected),
            "{args:?}: expected {expected:?} in:\n{}",
            out.stderr
        );
    }
}

/// `plugin new` for every language: the project builds with its own
/// build.sh, passes `plugin inspect`, and `plugin test` gets its hello point.
#[test]
fn plugin_new_projects_build_inspect_and_sample() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    for lang in ["rust", "python", "js", "c"] {
        let name = format!("hello_{lang}");
        let project = dir.path().join(&name);
        let out = run_cli(
            &[
                "plugin",
                "new",
                &name,
                "--lang",
                lang,
                "--dir",
                project.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{lang}: {}", out.all());
        assert!(
            out.stdout.contains("./build.sh"),
            "{lang}: no next steps: {}",
            out.stdout
        );

        let build = std::process::Command::new(project.join("build.sh"))
            .current_dir(&project)
            .output()
            .expect("run build.sh");
        assert!(
            build.status.success(),
            "{lang}: build.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&build.stdout),
            String::from_utf8_lossy(&build.stderr)
        );
        let wasm = project.join(format!("{name}.wasm"));
        let wasm = wasm.to_str().unwrap();
        let cache = cache.to_str().unwrap();

        let out = run_cli(&["plugin", "inspect", wasm, "--cache-dir", cache], dir.path());
        assert!(out.status.success(), "{lang}: inspect: {}", out.all());
        assert!(
            out.stdout.contains(&format!("plugin {name} 0.1.0")),
            "{lang}: {}",
            out.stdout
        );
        assert!(out.stdout.contains(&format!("{name}.hello")), "{lang}: {}", out.stdout);

        let key = format!("{name}.hello");
        let out = run_cli(&["plugin", "test", wasm, &key, "--cache-dir", cache], dir.path());
        assert!(out.status.success(), "{lang}: test: {}", out.all());
        let p = points(&out.stdout);
        assert_eq!(p.len(), 1, "{lang}: {}", out.all());
        assert_eq!(p[0]["measurement"], name.as_str(), "{lang}: {}", out.stdout);
        assert_eq!(p[0]["fields"]["value"], 1.0, "{lang}: {}", out.stdout);
        assert!(
            out.stderr.contains(&format!("hello from {name}")),
            "{lang}: the log line is missing: {}",
            out.stderr
        );
    }
}
