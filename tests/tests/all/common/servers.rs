//! Real servers for the output and intake tests: InfluxDB 1.6 (`influxd`),
//! VictoriaMetrics (`victoria-metrics`) and the MQTT broker mosquitto, the
//! Debian packages (messages are published with `mosquitto_pub`). Each instance
//! runs in its own folder on free loopback ports and is killed on drop; an
//! instance can be stopped and started again on the same folder and ports.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{free_port, Resp};

const INSTALL_HINT: &str =
    "install it: apt-get install -y influxdb victoria-metrics mosquitto mosquitto-clients (scripts/test does this)";
/// How long a server may take to answer its health check.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// `program` on the PATH (or in /usr/bin, /usr/sbin), else a panic saying how to install it.
fn server_binary(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{program}` not found; {INSTALL_HINT}"))
}

/// A client that hands back 4xx/5xx answers instead of erring on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Reads a ureq result into a [`Resp`]; `None` when no HTTP answer came.
fn into_resp(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Option<Resp> {
    let mut resp = result.ok()?;
    let text = resp.body_mut().read_to_string().ok()?;
    Some(Resp {
        status: resp.status().as_u16(),
        text,
    })
}

/// One server process with a fixed command line; start and stop at will.
struct Process {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.label);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", self.program.display()));
        self.child = Some(child);
    }

    /// Polls `ready` every 100 ms until it is true; panics with the log if the
    /// server exits or does not become ready in time.
    fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{} exited ({status}) at startup; log:\n{}", self.label, self.log_tail());
            }
            if ready() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not become ready within {SERVER_START_TIMEOUT:?}; log:\n{}",
                    self.label,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the process (SIGKILL: an abrupt outage) and waits for it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits: the server shuts down as it would be stopped.
    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------- InfluxDB 1.x

/// An `influxd` (InfluxDB 1.6) with its data in `<parent>/influxdb`.
pub struct Influx {
    process: Process,
    pub http_port: u16,
    agent: ureq::Agent,
}

impl Influx {
    /// Creates the folder and config, starts the server and waits for /ping.
    pub fn launch(parent: &Path) -> Influx {
        Self::launch_with(parent, "")
    }

    /// Like `launch`, with extra lines for the `[http]` section
    /// (e.g. `max-body-size = 300`).
    pub fn launch_with(parent: &Path, extra_http: &str) -> Influx {
        let program = server_binary("influxd");
        let dir = parent.join("influxdb");
        fs::create_dir_all(&dir).unwrap();
        let rpc_port = free_port();
        let http_port = std::iter::repeat_with(free_port).find(|p| *p != rpc_port).unwrap();
        let config = format!(
            r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  {extra_http}
[monitor]
  store-enabled = false
"#,
            dir = dir.display()
        );
        let config_path = dir.join("influxdb.conf");
        fs::write(&config_path, config).unwrap();
        let mut influx = Influx {
            process: Process {
                label: "influxd",
                program,
                args: vec!["-config".into(), config_path.to_str().unwrap().into()],
                log: dir.join("influxd.log"),
                child: None,
            },
            http_port,
            agent: agent(),
        };
        influx.start();
        influx
    }

    /// Starts the server (again, on the same folder and ports) and waits for /ping.
    pub fn start(&mut self) {
        self.process.spawn();
        let ping = format!("{}/ping", self.url());
        let agent = self.agent.clone();
        self.process
            .wait_ready(|| into_resp(agent.get(&ping).call()).is_some_and(|r| r.status == 204));
    }

    /// Kills the server: writes fail until [`Influx::start`].
    pub fn stop(&mut self) {
        self.process.kill();
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// POST /write?db=... with line protocol; the raw answer.
    pub fn write(&self, db: &str, body: &str) -> Resp {
        let url = format!("{}/write", self.url());
        into_resp(self.agent.post(&url).query("db", db).send(body))
            .unwrap_or_else(|| panic!("InfluxDB: no answer to POST /write"))
    }

    /// POST /query for statements that change things (CREATE DATABASE ...);
    /// panics on an error.
    pub fn admin(&self, q: &str) {
        let url = format!("{}/query", self.url());
        let resp = into_resp(self.agent.post(&url).send_form([("q", q)]))
            .unwrap_or_else(|| panic!("InfluxDB: no answer to {q}"));
        assert!(
            resp.status == 200 && !resp.text.contains("\"error\""),
            "InfluxDB refused {q}: HTTP {}: {}",
            resp.status,
            resp.text
        );
    }

    /// GET /query with `epoch=ns`: the result of the single statement `q`
    /// (`{"statement_id": 0, "series": [...]}`); panics on an error.
    pub fn query(&self, db: &str, q: &str) -> Value {
        let resp = self.query_answer(db, q, "application/json");
        let body: Value = serde_json::from_str(&resp.text).unwrap();
        let result = body["results"][0].clone();
        assert!(result["error"].is_null(), "InfluxDB: {q}: {}", resp.text);
        result
    }

    /// GET /query with `epoch=ns`, answered as CSV (numbers as InfluxDB
    /// prints them, not through a JSON float parser); panics on an error.
    pub fn query_csv(&self, db: &str, q: &str) -> String {
        self.query_answer(db, q, "application/csv").text
    }

    /// GET /query with `epoch=ns` in the `accept` format; panics unless 200.
    fn query_answer(&self, db: &str, q: &str, accept: &str) -> Resp {
        let url = format!("{}/query", self.url());
        let resp = into_resp(
            self.agent
                .get(&url)
                .header("Accept", accept)
                .query("db", db)
                .query("epoch", "ns")
                .query("q", q)
                .call(),
        )
        .unwrap_or_else(|| panic!("InfluxDB: no answer to {q}"));
        assert_eq!(resp.status, 200, "InfluxDB: {q}: {}", resp.text);
        resp
    }

    /// The rows `q` returns, each as column → value (tags are columns in
    /// `SELECT *`), with the series name under "_measurement".
    pub fn select(&self, db: &str, q: &str) -> Vec<BTreeMap<String, Value>> {
        let result = self.query(db, q);
        let mut rows = Vec::new();
        for series in result["series"].as_array().into_iter().flatten() {
            let columns: Vec<&str> = series["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            // A series without rows has no "values".
            for values in series["values"].as_array().into_iter().flatten() {
                let mut row: BTreeMap<String, Value> = columns
                    .iter()
                    .zip(values.as_array().unwrap())
                    .map(|(c, v)| (c.to_string(), v.clone()))
                    .collect();
                row.insert("_measurement".into(), series["name"].clone());
                rows.push(row);
            }
        }
        rows
    }

    /// The first column of every row of `q`, as text (SHOW DATABASES, SHOW MEASUREMENTS, ...).
    pub fn first_column(&self, db: &str, q: &str) -> Vec<String> {
        let result = self.query(db, q);
        let mut out = Vec::new();
        for series in result["series"].as_array().into_iter().flatten() {
            for values in series["values"].as_array().into_iter().flatten() {
                out.push(values[0].as_str().unwrap().to_string());
            }
        }
        out
    }

    pub fn databases(&self) -> Vec<String> {
        self.first_column("", "SHOW DATABASES")
    }

    /// Measurement → field key → type, for every measurement of `db`.
    pub fn all_field_types(&self, db: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let result = self.query(db, "SHOW FIELD KEYS");
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for series in result["series"].as_array().into_iter().flatten() {
            let types = out.entry(series["name"].as_str().unwrap().to_string()).or_default();
            for values in series["values"].as_array().into_iter().flatten() {
                types.insert(
                    values[0].as_str().unwrap().to_string(),
                    values[1].as_str().unwrap().to_string(),
                );
            }
        }
        out
    }

    /// Field key → type ("float", "integer", "string", ...) of a measurement.
    pub fn field_types(&self, db: &str, measurement: &str) -> BTreeMap<String, String> {
        let result = self.query(db, &format!("SHOW FIELD KEYS FROM \"{measurement}\""));
        let mut out = BTreeMap::new();
        for series in result["series"].as_array().into_iter().flatten() {
            for values in series["values"].as_array().into_iter().flatten() {
                out.insert(
                    values[0].as_str().unwrap().to_string(),
                    values[1].as_str().unwrap().to_string(),
                );
            }
        }
        out
    }
}

// ---------------------------------------------------------------- VictoriaMetrics

/// One series from VictoriaMetrics' export API.
#[derive(Debug, Clone)]
pub struct VmSeries {
    /// Labels, including `__name__` (`<measurement>_<field>`).
    pub labels: BTreeMap<String, String>,
    pub values: Vec<f64>,
    /// Milliseconds since the epoch.
    pub timestamps: Vec<i64>,
}

impl VmSeries {
    pub fn name(&self) -> &str {
        &self.labels["__name__"]
    }
}

/// A `victoria-metrics` with its data in `<parent>/victoria-metrics`.
pub struct Victoria {
    process: Process,
    pub port: u16,
    agent: ureq::Agent,
}

impl Victoria {
    /// Starts the server and waits for /health.
    pub fn launch(parent: &Path) -> Victoria {
        let program = server_binary("victoria-metrics");
        let dir = parent.join("victoria-metrics");
        fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut vm = Victoria {
            process: Process {
                label: "victoria-metrics",
                program,
                args: vec![
                    format!("-storageDataPath={}", dir.join("data").display()),
                    format!("-httpListenAddr=127.0.0.1:{port}"),
                    "-loggerLevel=ERROR".into(),
                    "-dedup.minScrapeInterval=1ms".into(),
                ],
                log: dir.join("victoria-metrics.log"),
                child: None,
            },
            port,
            agent: agent(),
        };
        vm.start();
        vm
    }

    pub fn start(&mut self) {
        self.process.spawn();
        let health = format!("{}/health", self.url());
        let agent = self.agent.clone();
        self.process
            .wait_ready(|| into_resp(agent.get(&health).call()).is_some_and(|r| r.status == 200));
    }

    #[allow(dead_code)] // no test stops VictoriaMetrics yet; kept to match `Influx::stop`
    pub fn stop(&mut self) {
        self.process.kill();
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every series matching `selector` (e.g. `{__name__=~"system.*"}`), after
    /// flushing what was ingested so far.
    pub fn export(&self, selector: &str) -> Vec<VmSeries> {
        let flush = into_resp(
            self.agent
                .post(&format!("{}/internal/force_flush", self.url()))
                .send_empty(),
        )
        .expect("VictoriaMetrics: no answer to force_flush");
        assert_eq!(flush.status, 200, "force_flush: {}", flush.text);
        let resp = into_resp(
            self.agent
                .post(&format!("{}/api/v1/export", self.url()))
                .send_form([("match[]", selector)]),
        )
        .expect("VictoriaMetrics: no answer to /api/v1/export");
        assert_eq!(resp.status, 200, "export {selector}: {}", resp.text);
        resp.text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("export line ({e}): {line}"));
                VmSeries {
                    labels: v["metric"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect(),
                    values: v["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect(),
                    timestamps: v["timestamps"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_i64().unwrap())
                        .collect(),
                }
            })
            .collect()
    }
}

// ---------------------------------------------------------------- mosquitto

/// A `mosquitto` broker on a loopback port, persisting sessions in
/// `<parent>/mosquitto` (its own config; the Debian service on 1883 is not used).
pub struct Mosquitto {
    process: Process,
    pub port: u16,
}

impl Mosquitto {
    /// Creates the folder and config, starts the broker and waits until it
    /// accepts connections.
    pub fn launch(parent: &Path) -> Mosquitto {
        let program = server_binary("mosquitto");
        let dir = parent.join("mosquitto");
        fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        // Run as root, mosquitto drops to user `mosquitto`, which cannot write
        // this folder: stay root. Queues hold more than the tests send (a
        // burst can queue most of itself while the logger commits).
        let user = if is_root() { "user root\n" } else { "" };
        let config = format!(
            "per_listener_settings false\nlistener {port} 127.0.0.1\nallow_anonymous true\n\
             persistence true\npersistence_location {}/\nlog_dest stderr\n\
             max_queued_messages 200000\n{user}",
            dir.display()
        );
        let config_path = dir.join("mosquitto.conf");
        fs::write(&config_path, config).unwrap();
        let mut broker = Mosquitto {
            process: Process {
                label: "mosquitto",
                program,
                args: vec!["-c".into(), config_path.to_str().unwrap().into()],
                log: dir.join("mosquitto.log"),
                child: None,
            },
            port,
        };
        broker.start();
        broker
    }

    /// Starts the broker (again, on the same port and persistence folder).
    pub fn start(&mut self) {
        self.process.spawn();
        let port = self.port;
        self.process
            .wait_ready(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    /// SIGTERM: the broker saves its sessions and queued messages.
    #[allow(dead_code)] // the tests use the harder `kill`; kept for manual runs
    pub fn stop(&mut self) {
        self.process.terminate();
    }

    /// SIGKILL: the broker loses what it did not save (sessions, queues).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Publishes each of `messages` (no newlines) to `topic` at `qos` with
    /// `mosquitto_pub -l` under `client_id`, in runs of at most
    /// `PUB_LINES_PER_RUN`; returns once the last has exited (at QoS 1 after
    /// the broker acknowledged every message).
    pub fn publish(&self, client_id: &str, topic: &str, qos: u8, messages: &[String]) {
        for run in messages.chunks(PUB_LINES_PER_RUN) {
            self.mosquitto_pub(
                &["-i", client_id, "-t", topic, "-q", &qos.to_string(), "-l"],
                pub_lines(run).as_bytes(),
            );
        }
    }

    /// Publishes one message with `payload` (any bytes, newlines included).
    pub fn publish_payload(&self, client_id: &str, topic: &str, qos: u8, payload: &[u8]) {
        self.mosquitto_pub(&["-i", client_id, "-t", topic, "-q", &qos.to_string(), "-s"], payload);
    }

    fn mosquitto_pub(&self, args: &[&str], stdin: &[u8]) {
        use std::io::Write as _;
        let program = server_binary("mosquitto_pub");
        let mut child = Command::new(&program)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", program.display()));
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "mosquitto_pub {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The most lines one `mosquitto_pub -l` is given. Given more than 65,535 at
/// QoS 1, mosquitto_pub 2.0.11 publishes only about `n - 65,535` of them and
/// exits 0: its packet ids wrap, the PUBACK of the first message that had the
/// last line's id passes for the last one's, and it disconnects with the rest
/// still queued.
pub const PUB_LINES_PER_RUN: usize = 60_000;

/// `mosquitto_pub -l`'s input: one line per message (no newlines inside).
pub fn pub_lines(messages: &[String]) -> String {
    let mut input = String::new();
    for m in messages {
        assert!(
            !m.contains('\n') && !m.is_empty(),
            "one non-empty line per message: {m:?}"
        );
        input.push_str(m);
        input.push('\n');
    }
    input
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
