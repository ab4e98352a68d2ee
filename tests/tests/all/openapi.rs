//! The OpenAPI document (`GET /openapi.json`) against the router that serves
//! it: every path the API's source names answers exactly the methods the
//! document gives it, with a status the document lists; limits the document
//! states are the ones the API enforces. `scripts/fuzz-api` fuzzes the rest.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};

/// Every method a client may send; DELETE is probed last (it removes the item).
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS", "TRACE", "DELETE"];

struct Answer {
    status: u16,
    allow: Option<String>,
    body: String,
}

/// One HTTP/1.1 request with any method, read to the end (the client in
/// `common` speaks only the methods the API has).
fn request(port: u16, method: &str, path: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok());
    let allow = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("allow"))
        .map(|(_, v)| v.trim().to_string());
    Answer {
        status: status.unwrap_or_else(|| panic!("{method} {path}: no status line in {text:?}")),
        allow,
        body: body.to_string(),
    }
}

/// Every string literal in host/src/api that looks like a URL path: where a
/// route added beside the `routes!` list would have to be named.
fn paths_named_in_the_api_source() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let dir = repo_root().join("host/src/api");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for literal in text.split('"').skip(1).step_by(2) {
            let is_path = literal.len() > 1
                && literal.starts_with('/')
                && literal
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-.{}".contains(c));
            if is_path {
                found.insert(literal.to_string());
            }
        }
    }
    found
}

/// A concrete path for a template: every `{param}` becomes `value`.
fn concrete(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push_str(value);
        rest = &rest[open + rest[open..].find('}').map_or(rest.len() - open, |i| i + 1)..];
    }
    out + rest
}

fn seeded() -> TestDir {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({"items": [{"name": "seed", "key": "system.loadavg1", "interval": 1}]}));
    dir
}

#[test]
fn every_route_the_router_answers_is_in_the_document() {
    let dir = seeded();
    let logger = dir.start_in_process();
    let doc = logger.api.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0", "{doc}");
    let documented = doc["paths"].as_object().expect("the document has paths");

    let named = paths_named_in_the_api_source();
    assert!(
        named.contains("/items/{name}/samples"),
        "the source scan found too little: {named:?}"
    );
    let mut probed: BTreeSet<String> = named.clone();
    probed.extend(documented.keys().cloned());
    // Near misses of real paths, which must fall through to the 404.
    probed.extend(["/item", "/items/seed/nope", "/plugins/", "/health/", "/openapi"].map(String::from));

    let mut undocumented = Vec::new();
    for method in METHODS {
        for template in &probed {
            let path = concrete(template, "seed");
            let body = if matches!(method, "POST" | "PUT" | "PATCH") {
                "{}"
            } else {
                ""
            };
            let answer = request(dir.port, method, &path, body);
            // HEAD answers and 204 No Content (`/ping`) have no body.
            // The dashboard's page and files (`/`, `/ui/...`) are HTML, CSS and
            // JavaScript, documented so; their errors are JSON like any other.
            let dashboard_file = (path == "/" || path.starts_with("/ui/")) && answer.status < 400;
            if method != "HEAD" && answer.status != 204 && !dashboard_file {
                let json: Value = serde_json::from_str(&answer.body).unwrap_or_else(|e| {
                    panic!(
                        "{method} {path}: {} answer is not JSON ({e}): {:?}",
                        answer.status, answer.body
                    )
                });
                if answer.status >= 400 {
                    assert!(
                        json["error"].is_string(),
                        "{method} {path}: error without \"error\": {json}"
                    );
                }
            }
            // A literal such as "/items/{}" (a format string) is the documented "/items/{name}".
            let item = documented
                .iter()
                .find(|(t, _)| concrete(t, "seed") == path)
                .map(|(_, item)| item);
            let Some(item) = item else {
                // Not in the document: the router must not know it either.
                if answer.status != 404 {
                    undocumented.push(format!("{method} {path} answered {}", answer.status));
                }
                continue;
            };
            let documented_method = |m: &str| item.get(m.to_ascii_lowercase()).filter(|op| op.is_object());
            // HEAD is GET without the body (axum answers it wherever GET is).
            let operation =
                documented_method(method).or_else(|| (method == "HEAD").then(|| documented_method("GET")).flatten());
            match operation {
                Some(op) => {
                    let statuses = op["responses"].as_object().unwrap();
                    assert!(
                        statuses.contains_key(&answer.status.to_string()),
                        "{method} {path} answered {}, which the document does not list ({:?}): {}",
                        answer.status,
                        statuses.keys().collect::<Vec<_>>(),
                        answer.body
                    );
                }
                None => {
                    assert_eq!(
                        answer.status, 405,
                        "{method} {path}: not documented, answered {}",
                        answer.status
                    );
                    let mut expected: Vec<&str> = METHODS
                        .iter()
                        .copied()
                        .filter(|m| documented_method(m).is_some())
                        .collect();
                    if expected.contains(&"GET") && !expected.contains(&"HEAD") {
                        expected.push("HEAD");
                    }
                    let allow = answer.allow.unwrap_or_default();
                    let mut allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
                    allowed.sort();
                    expected.sort();
                    assert_eq!(allowed, expected, "{method} {path}: Allow does not match the document");
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "routes the document lacks: {undocumented:#?}");
}

#[test]
fn the_limits_in_the_document_are_the_limits_the_api_enforces() {
    let dir = seeded();
    let logger = dir.start_in_process();
    let api = &logger.api;
    // Plugins load in the background; the document lists keys once they are loaded.
    wait_until("system.wasm loaded", Duration::from_secs(120), || {
        let health = api.get("/health").json();
        (health["plugins"] == 1 && health["plugins_compiling"] == json!([])).then_some(())
    });
    let doc = api.get("/openapi.json").json();
    let item = &doc["components"]["schemas"]["NewItem"]["properties"];
    let limit = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("not a limit: {v}")) as usize;
    let name_max = limit(&item["name"]["maxLength"]);
    let arg_max = limit(&item["arg"]["maxLength"]);
    let tag_key_max = limit(&item["tags"]["propertyNames"]["maxLength"]);
    let tag_value_max = limit(&item["tags"]["additionalProperties"]["maxLength"]);
    let tags_max = limit(&item["tags"]["maxProperties"]);
    // The keys the document offers are the loaded plugin's.
    assert!(
        item["key"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("system.loadavg1")),
        "{}",
        item["key"]
    );

    let post = |extra: Value| {
        let mut body = json!({"name": "x", "key": "system.loadavg15", "interval": 60});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        api.post("/items/", &body)
    };
    let tags = |n: usize, key_len: usize, value_len: usize| -> Value {
        Value::Object(
            (0..n)
                .map(|i| (format!("{i:0>key_len$}"), Value::from("v".repeat(value_len))))
                .collect(),
        )
    };
    let over = [
        ("name", json!({"name": "n".repeat(name_max + 1)}), name_max),
        ("arg", json!({"arg": "a".repeat(arg_max + 1)}), arg_max),
        ("tag name", json!({"tags": tags(1, tag_key_max + 1, 1)}), tag_key_max),
        (
            "tag value",
            json!({"tags": tags(1, 3, tag_value_max + 1)}),
            tag_value_max,
        ),
        ("tag count", json!({"tags": tags(tags_max + 1, 3, 1)}), tags_max),
    ];
    for (what, extra, max) in over {
        let error = post(extra).expect_error(400, what);
        assert!(
            error.contains(&format!("at most {max}")),
            "{what}: the error does not say the limit: {error}"
        );
    }
    // At the limits (in characters, not bytes) everything is accepted.
    let at = post(json!({
        "name": "é".repeat(name_max),
        "arg": "a".repeat(arg_max),
        "tags": tags(tags_max, tag_key_max, tag_value_max),
    }));
    assert_eq!(at.status, 201, "{}", at.text);
    // PUT checks the same limits.
    let error = api
        .put("/items/seed", &json!({"tags": {"room": "v".repeat(tag_value_max + 1)}}))
        .expect_error(400, "PUT tag value");
    assert!(error.contains(&format!("at most {tag_value_max}")), "{error}");
}
