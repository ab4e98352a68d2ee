//! Who may use the API (issue 11): the token in every form clients send, the
//! route-group policy, the refusal to listen beyond loopback without a token,
//! JSON-only bodies, cross-origin writes, the `Host` check against DNS
//! rebinding, CORS for listed origins, the token never shown, and plugins
//! that cannot reach the logger's own API.
//!
//! Requests go out as raw HTTP/1.1 text, so each header (`Host`, `Origin`,
//! `Content-Type`, `Authorization`) is exactly what the test wrote.

use crate::common::http_fake::{HttpFake, Response};
use crate::common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;

const TOKEN: &str = "s3cret-token-0123456789abcdef";

/// An answer: status, headers (names lower case) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {:?}", self.status, self.body))
    }

    /// Asserts the status and a `{"error": ...}` body; returns the message.
    fn error(&self, status: u16, context: &str) -> String {
        assert_eq!(self.status, status, "{context}: {} {:?}", self.status, self.body);
        let message = self.json()["error"].as_str().map(String::from);
        message.unwrap_or_else(|| panic!("{context}: no error message in {:?}", self.body))
    }
}

/// Sends `method path` with `headers` (a `Host` is added unless given) and
/// `body`, on a connection of its own.
fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head += &format!("Host: 127.0.0.1:{port}\r\n");
    }
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    if !body.is_empty() {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    head += "Connection: close\r\n\r\n";
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(SLOW)).unwrap();
    stream.write_all(format!("{head}{body}").as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)?.parse().ok()).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn new_item(name: &str) -> String {
    json!({"name": name, "key": "system.loadavg1", "interval": 60}).to_string()
}

const JSON_BODY: (&str, &str) = ("Content-Type", "application/json");

/// Request headers, name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn basic(user: &str, password: &str) -> String {
    // Base64 by hand: the test must not share the logger's decoder.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    format!("Basic {out}")
}

/// Asserts a 401 with the challenges and a message naming the accepted forms.
fn assert_unauthorized(answer: &Answer, context: &str) {
    let message = answer.error(401, context);
    assert!(
        message.contains("Bearer") && message.contains("p=<token>"),
        "{context}: {message}"
    );
    let challenges = answer.all("www-authenticate");
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer realm=\"datalogger\""))
            && challenges.iter().any(|c| c.starts_with("Basic")),
        "{context}: WWW-Authenticate {challenges:?}"
    );
}

#[test]
fn every_token_form_is_accepted_and_anything_else_gets_401() {
    let dir = TestDir::new(&[system_wasm()]);
    let credentials = dir.path().join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(credentials.join("api-token"), format!("{TOKEN}\n")).unwrap();
    dir.write_config(json!({
        "api": {"listen": format!("127.0.0.1:{}", dir.port), "token": {"credential": "api-token"}},
        "outputs": [{"name": "db", "type": "influxdb", "url": "http://127.0.0.1:9", "database": "d",
                     "username": "u", "password": TOKEN}],
    }));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let credentials = credentials.to_str().unwrap();
    let port = dir.port;
    let env = [("CREDENTIALS_DIRECTORY", credentials)];
    let logger = Logger::start_with_token(&args, dir.path(), port, &env, "run", TOKEN);

    let bearer = format!("Bearer {TOKEN}");
    let token = format!("Token {TOKEN}");
    let basic_any_user = basic("grafana", TOKEN);
    let forms: [(&str, String, Headers); 4] = [
        ("bearer", "/items/".into(), vec![("Authorization", &bearer)]),
        ("influxdb2 token", "/items/".into(), vec![("Authorization", &token)]),
        (
            "basic, any user",
            "/items/".into(),
            vec![("Authorization", &basic_any_user)],
        ),
        ("u/p query", format!("/items/?u=anyone&p={TOKEN}"), vec![]),
    ];
    for (i, (form, path, headers)) in forms.iter().enumerate() {
        let mut headers = headers.clone();
        headers.push(JSON_BODY);
        let made = send(port, "POST", path, &headers, &new_item(&format!("item{i}")));
        assert_eq!(made.status, 201, "{form}: {}", made.body);
        let shown = send(
            port,
            "GET",
            &path.replace("/items/", &format!("/items/item{i}")),
            &headers,
            "",
        );
        assert_eq!(shown.status, 200, "{form}: {}", shown.body);
    }

    let wrong_bearer = "Bearer not-the-token".to_string();
    let wrong_basic = basic("admin", "not-the-token");
    let token_as_user = basic(TOKEN, "");
    let wrongs: [(&str, &str, Headers); 6] = [
        ("no token", "/items/", vec![]),
        ("wrong bearer", "/items/", vec![("Authorization", &wrong_bearer)]),
        ("wrong basic", "/items/", vec![("Authorization", &wrong_basic)]),
        (
            "token as the user name",
            "/items/",
            vec![("Authorization", &token_as_user)],
        ),
        ("wrong p", "/items/?u=x&p=nope", vec![]),
        ("unknown scheme", "/items/", vec![("Authorization", "Digest x")]),
    ];
    for (what, path, headers) in &wrongs {
        let mut headers = headers.clone();
        headers.push(JSON_BODY);
        assert_unauthorized(&send(port, "POST", path, &headers, &new_item("intruder")), what);
        assert_unauthorized(&send(port, "DELETE", "/items/item0", &headers, ""), what);
        assert_unauthorized(&send(port, "POST", "/plugins/reload", &headers, ""), what);
    }
    // Reads need the token by default when one is set.
    for path in [
        "/items/",
        "/items/item0",
        "/plugins",
        "/outputs",
        "/health",
        "/items/item0/samples",
    ] {
        assert_unauthorized(&send(port, "GET", path, &[], ""), path);
    }
    let items = send(port, "GET", "/items/", &[("Authorization", &bearer)], "").json();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["item0", "item1", "item2", "item3"],
        "nothing made without the token"
    );

    // The token is in no answer and no log line, whatever was asked.
    let mut answers = String::new();
    for path in ["/items/", "/plugins", "/outputs", "/health", "/nosuch?p=x"] {
        answers += &send(port, "GET", path, &[("Authorization", &bearer)], "").body;
    }
    answers += &send(port, "GET", &format!("/nosuch?u=x&p={TOKEN}"), &[], "").body;
    answers += &send(port, "GET", &format!("/items/item0/samples?limit=x&p={TOKEN}"), &[], "").body;
    assert!(
        answers.contains("\"outputs\"") || answers.contains("\"db\""),
        "{answers}"
    );
    assert!(!answers.contains(TOKEN), "an answer shows the token: {answers}");
    let stderr = logger.stderr();
    assert!(stderr.contains("REST API on"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the log shows the token:\n{stderr}");
}

#[test]
fn groups_listed_in_without_token_are_open_and_manage_never_is() {
    let dir = TestDir::new(&[system_wasm()]);
    let port = dir.port;
    dir.write_config(json!({
        "api": {"listen": format!("127.0.0.1:{port}"), "token": {"env": "DL_E2E_API_TOKEN"}, "without_token": ["read"]},
    }));
    let config = dir.config_path();
    let args = ["run", "--config", config.to_str().unwrap()];
    let _logger = Logger::start(&args, dir.path(), port, &[("DL_E2E_API_TOKEN", TOKEN)], "run");
    for path in ["/items/", "/plugins", "/outputs", "/health"] {
        assert_eq!(send(port, "GET", path, &[], "").status, 200, "{path}");
    }
    assert_unauthorized(&send(port, "POST", "/items/", &[JSON_BODY], &new_item("x")), "POST");
    let bearer = format!("Bearer {TOKEN}");
    let made = send(
        port,
        "POST",
        "/items/",
        &[JSON_BODY, ("Authorization", &bearer)],
        &new_item("x"),
    );
    assert_eq!(made.status, 201, "{}", made.body);

    // "manage" cannot be opened.
    dir.write_config(json!({"api": {"token": "t", "without_token": ["read", "manage"]}}));
    let out = dir.check();
    assert!(!out.status.success(), "{}", out.all());
    assert!(
        out.all()
            .contains("\"manage\" (changing items and plugins) always needs the token"),
        "{}",
        out.all()
    );
}

#[test]
fn a_listen_beyond_loopback_without_a_token_is_refused_with_the_fix() {
    let dir = TestDir::new(&[system_wasm()]);
    let config = dir.config_path();
    let config = config.to_str().unwrap();
    dir.write_config(json!({"api": {"listen": format!("0.0.0.0:{}", dir.port)}}));
    for command in ["check", "run"] {
        let out = dir.cli(&[command, "--config", config]);
        assert!(
            !out.status.success(),
            "`{command}` started without a token:\n{}",
            out.all()
        );
        for expected in [config, "0.0.0.0", "\"token\"", "allow_unauthenticated", "127.0.0.1"] {
            assert!(
                out.all().contains(expected),
                "`{command}`: {expected} missing:\n{}",
                out.all()
            );
        }
    }
    // The same when the address comes from DATALOGGER_LISTEN: the message says so.
    dir.write_config(json!({}));
    let out = run_cli_env(
        &dir,
        &["check", "--config", config],
        &[("DATALOGGER_LISTEN", "0.0.0.0:5999")],
    );
    assert!(!out.status.success(), "{}", out.all());
    assert!(out.all().contains("DATALOGGER_LISTEN=0.0.0.0:5999"), "{}", out.all());

    // A token, or saying so, makes it acceptable (checked, not started: no
    // test listens beyond loopback).
    for api in [
        json!({"listen": "0.0.0.0:5999", "token": "t0k"}),
        json!({"listen": "0.0.0.0:5999", "allow_unauthenticated": true}),
    ] {
        dir.write_config(json!({ "api": api }));
        let out = dir.check();
        assert!(out.status.success(), "{api}: {}", out.all());
    }
    // The rpdemo default: loopback, no token, no setting.
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({}));
    let mut logger = dir.start();
    assert!(logger.is_running());
    assert_eq!(logger.api.get("/items/").status, 200);
}

/// A command with extra environment variables.
fn run_cli_env(dir: &TestDir, args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let out = std::process::Command::new(binary())
        .args(args)
        .current_dir(dir.path())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn bodies_must_be_json_and_cross_origin_writes_are_refused() {
    let dir = TestDir::new(&[system_wasm()]);
    let port = dir.port;
    dir.write_config(json!({
        "api": {"listen": format!("127.0.0.1:{port}"), "cors_origins": ["http://grafana.lan:3000"]},
    }));
    let _logger = dir.start_in_process();
    let item = new_item("load");

    // What a web page can send without a preflight, and a missing type.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let answer = send(port, "POST", "/items/", &[("Content-Type", content_type)], &item);
        let message = answer.error(415, content_type);
        assert!(
            message.contains("application/json") && message.contains(content_type),
            "{message}"
        );
        let answer = send(
            port,
            "PUT",
            "/items/load",
            &[("Content-Type", content_type)],
            "{\"interval\": 5}",
        );
        answer.error(415, content_type);
    }
    send(port, "POST", "/items/", &[], &item).error(415, "no Content-Type");
    assert_eq!(
        send(port, "GET", "/items/", &[], "").json(),
        json!([]),
        "nothing was made"
    );
    let made = send(
        port,
        "POST",
        "/items/",
        &[("Content-Type", "application/json; charset=utf-8")],
        &item,
    );
    assert_eq!(made.status, 201, "{}", made.body);

    // A page elsewhere cannot write, even with a JSON body (no preflight
    // reaches it: the refusal is the server's own).
    let evil = [("Origin", "http://evil.example"), JSON_BODY];
    let message = send(port, "POST", "/items/", &evil, &new_item("evil")).error(403, "cross-origin POST");
    assert!(
        message.contains("http://evil.example") && message.contains("cors_origins"),
        "{message}"
    );
    send(port, "DELETE", "/items/load", &evil, "").error(403, "cross-origin DELETE");
    send(port, "POST", "/plugins/reload", &[("Origin", "null")], "").error(403, "opaque origin");
    // Same origin (a page served from the logger's own address) may.
    let own = format!("http://127.0.0.1:{port}");
    let answer = send(
        port,
        "POST",
        "/items/",
        &[("Origin", &own), JSON_BODY],
        &new_item("same"),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);

    // CORS for the listed origin: preflight, then the answers it may read.
    let grafana = "http://grafana.lan:3000";
    let preflight = [
        ("Origin", grafana),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "authorization, content-type"),
    ];
    let answer = send(port, "OPTIONS", "/items/", &preflight, "");
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(answer.header("access-control-allow-origin"), Some(grafana));
    assert!(answer.header("access-control-allow-methods").unwrap().contains("POST"));
    let allowed_headers = answer.header("access-control-allow-headers").unwrap().to_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));
    let answer = send(
        port,
        "POST",
        "/items/",
        &[("Origin", grafana), JSON_BODY],
        &new_item("grafana"),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.header("access-control-allow-origin"), Some(grafana));
    let answer = send(port, "GET", "/items/", &[("Origin", grafana)], "");
    assert_eq!(answer.header("access-control-allow-origin"), Some(grafana));
    // An unlisted origin gets no CORS headers, and its preflight is refused.
    let answer = send(port, "GET", "/items/", &[("Origin", "http://evil.example")], "");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), None);
    let mut evil_preflight = preflight;
    evil_preflight[0] = ("Origin", "http://evil.example");
    let answer = send(port, "OPTIONS", "/items/", &evil_preflight, "");
    answer.error(403, "unlisted preflight");
    assert_eq!(answer.header("access-control-allow-origin"), None);
    // An OPTIONS that is no preflight is still a wrong method.
    send(port, "OPTIONS", "/items/", &[], "").error(405, "plain OPTIONS");

    let names: Vec<String> = send(port, "GET", "/items/", &[], "")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["load", "same", "grafana"]);
}

#[test]
fn host_names_other_than_the_loggers_are_refused_against_dns_rebinding() {
    let dir = TestDir::new(&[system_wasm()]);
    let port = dir.port;
    dir.write_config(json!({"api": {"listen": format!("127.0.0.1:{port}"), "hostnames": ["datalogger.lan"]}}));
    let _logger = dir.start_in_process();
    // A page on rebind.example whose name now points at 127.0.0.1 sends its
    // own name as Host; it may neither read nor write.
    let rebound = format!("rebind.example:{port}");
    let message = send(port, "GET", "/items/", &[("Host", &rebound)], "").error(421, "rebound GET");
    assert!(
        message.contains("rebind.example") && message.contains("hostnames"),
        "{message}"
    );
    send(
        port,
        "POST",
        "/items/",
        &[("Host", &rebound), JSON_BODY],
        &new_item("x"),
    )
    .error(421, "rebound POST");
    send(port, "GET", "/health", &[("Host", "rebind.example")], "").error(421, "no port");
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("datalogger.lan:{port}"),
        "DataLogger.LAN".to_string(),
    ] {
        let answer = send(port, "GET", "/items/", &[("Host", &host)], "");
        assert_eq!(answer.status, 200, "{host}: {}", answer.body);
    }
}

#[test]
fn plugins_cannot_reach_the_loggers_own_api_but_other_loopback_ports() {
    let dir = TestDir::new(&[dist_wasm("isems"), dist_wasm("wemo"), fixture("misbehave")]);
    let port = dir.port;
    let other = HttpFake::start(|_| Response::bare(200, "ok"));
    let own = format!("127.0.0.1:{port}");
    let item = |name: &str, key: &str, arg: &str| json!({"name": name, "key": key, "interval": 1, "arg": arg});
    dir.write_config(json!({
        // isems and wemo keep their default grants (127.0.0.0/8 among them);
        // misbehave may connect anywhere.
        "plugins": {"misbehave": {"http": ["any"]}},
        "items": [
            item("isems_own", "isems.node", &own),
            item("wemo_own", "wemo.state", &format!("host:{own}")),
            item("any_own", "misbehave.httpcall", &format!("http://{own}/items/")),
            item("any_localhost", "misbehave.httpcall", &format!("http://localhost:{port}/health")),
            item("any_zero", "misbehave.httpcall", &format!("http://0.0.0.0:{port}/health")),
            item("any_other", "misbehave.httpcall", &other.url("/")),
        ],
    }));
    let mut logger = dir.start();
    for name in ["isems_own", "wemo_own", "any_own", "any_localhost", "any_zero"] {
        let error = logger.wait_error(name);
        assert!(
            error.contains("not granted") && error.contains("the logger's own API"),
            "{name}: {error}"
        );
        assert_eq!(logger.item(name)["last_error_kind"], json!("not_granted"), "{name}");
    }
    let ok = logger.wait_item_field("any_other", "last_value");
    assert_eq!(
        ok["last_value"],
        json!(200),
        "another loopback port stays reachable: {ok}"
    );
    assert!(other.connections() > 0);
}
