//! The REST API's HTTP layer: slow and idle clients are dropped after a
//! timeout and their number is bounded, so they can neither use up the
//! logger's file descriptors nor stop its items from sampling; oversized
//! request heads get JSON errors like every other answer.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::json;

/// Kills the spawned logger when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// 1,100 clients (as in the report) that connect and then send half a request or nothing, to a
/// logger whose open-files limit starts at 512 (as `ulimit -n 512` would):
/// the logger raises it, serves at most its share of connections, closes the
/// slow ones after the header timeout, its item keeps sampling, and a fresh
/// request is answered.
#[test]
fn slow_clients_neither_exhaust_file_descriptors_nor_stop_sampling() {
    let dir = TestDir::new(&[system_wasm()]);
    let config = dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let stderr_path = dir.path().join("run.stderr");
    // prlimit sets the limit of the process it runs (soft 512, hard 8192).
    let child = Command::new("prlimit")
        .arg("--nofile=512:8192")
        .arg(binary())
        .args(["run", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("prlimit (util-linux) runs the logger with a low open-files limit");
    let _logger = Killed(child);
    let api = Api::new(dir.port);
    wait_until("the item's first sample", SLOW, || {
        (!api.try_get("/items/load1")?.json()["last_sample"].is_null()).then_some(())
    });
    let errors_before = api.get("/items/load1").json()["stats"]["errors"].as_u64().unwrap();

    // This process needs 1,100 descriptors of its own.
    datalogger::server::raise_open_files_limit();
    let addr: SocketAddr = format!("127.0.0.1:{}", dir.port).parse().unwrap();
    let mut slow = Vec::new();
    for i in 0..1100 {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        if i % 2 == 0 {
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
        }
        slow.push(stream);
    }
    let rows_before = store_rows(&dir.db_path(), "load1").len();

    // The item goes on sampling meanwhile, without errors.
    wait_until(
        "3 more samples of load1 while 1,100 slow clients are connected",
        SLOW,
        || (store_rows(&dir.db_path(), "load1").len() >= rows_before + 3).then_some(()),
    );

    // The server closes the slow connections (EOF, or a reset), the first
    // accepted ones after the header timeout, those that waited after theirs.
    let deadline = Instant::now() + SLOW;
    for (i, stream) in slow.iter_mut().enumerate() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("slow connection {i} still open after {SLOW:?}: {e}"),
        }
    }
    drop(slow);

    let health = api.get("/health");
    assert_eq!(health.status, 200, "{}", health.text);
    let item = api.get("/items/load1").json();
    assert_eq!(item["last_error"], json!(null), "{item}");
    assert_eq!(item["stats"]["errors"].as_u64().unwrap(), errors_before, "{item}");
    let stderr = fs::read_to_string(&stderr_path).unwrap();
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    assert!(
        stderr.contains("at its limit of"),
        "the connection limit was not logged:\n{stderr}"
    );
    assert_eq!(
        stderr.matches("at its limit of").count(),
        1,
        "the limit is logged once per episode:\n{stderr}"
    );
}

/// SIGTERM stops the logger gracefully even with a client connected that
/// sends nothing: the idle connection does not hold up the shutdown.
#[test]
fn sigterm_stops_gracefully_with_an_idle_client_connected() {
    let dir = TestDir::new(&[system_wasm()]);
    let config = dir.write_config(json!({"items": [{"name": "load1", "key": "system.loadavg1", "interval": 1}]}));
    let stderr_path = dir.path().join("run.stderr");
    let child = Command::new(binary())
        .args(["run", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut logger = Killed(child);
    let api = Api::new(dir.port);
    wait_until("GET /health", SLOW, || {
        (api.try_get("/health")?.status == 200).then_some(())
    });
    let _idle = TcpStream::connect(("127.0.0.1", dir.port)).unwrap();
    let _partial = {
        let mut s = TcpStream::connect(("127.0.0.1", dir.port)).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
        s
    };
    let status = Command::new("kill")
        .args(["-TERM", &logger.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_until("the logger to exit after SIGTERM", SLOW, || {
        logger.0.try_wait().unwrap()
    });
    let stderr = fs::read_to_string(&stderr_path).unwrap();
    assert!(exit.success(), "exit {exit}:\n{stderr}");
    assert!(stderr.contains("stopping: finishing samples in flight"), "{stderr}");
}

/// A body that stops arriving is given up after the body timeout: the client
/// gets a 4xx JSON error, and the connection is closed.
#[test]
fn a_stalled_body_is_answered_and_closed() {
    let dir = TestDir::new(&[system_wasm()]);
    dir.write_config(json!({}));
    let _logger = dir.start_in_process();
    let mut s = TcpStream::connect(("127.0.0.1", dir.port)).unwrap();
    s.write_all(b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
        .unwrap();
    s.set_read_timeout(Some(SLOW)).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .expect("the server answers and closes the connection");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!((400..500).contains(&status), "{answer}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert!(body["error"].is_string(), "{answer}");
}

/// Sends `request` on a fresh connection and reads the answer until the
/// server closes it: (status, body).
fn raw_request(port: u16, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request).unwrap();
    s.set_read_timeout(Some(SLOW)).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

/// A URI too long (414) or too many or too large headers (431) get
/// `{"error": ...}` saying what the limit is.
#[test]
fn oversized_request_heads_get_json_errors() {
    let dir = TestDir::new(&[]);
    dir.write_config(json!({}));
    let logger = dir.start_in_process();
    let long_uri = format!(
        "GET /items/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "a".repeat(10_000)
    );
    let many: String = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}Connection: close\r\n\r\n");
    let large = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(70_000)
    );
    for (request, status, what) in [
        (long_uri, 414, "a 10 kB URI"),
        (many, 431, "70 headers"),
        (large, 431, "a 70 kB header"),
    ] {
        let (got, body) = raw_request(dir.port, request.as_bytes());
        assert_eq!(got, status, "{what}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
        let error = body["error"].as_str().unwrap_or_else(|| panic!("{what}: {body}"));
        assert!(
            error.contains("at most") || error.contains("more than"),
            "{what}: {error}"
        );
    }
    // Within the limits the same requests work.
    assert_eq!(logger.api.get(&format!("/items/{}", "a".repeat(100))).status, 404);
}
