//! Shared helpers: locating the binary and plugins, temp dirs with a config,
//! a `Logger` (a process killed on drop, or the host library served
//! in-process), a small HTTP client and a read-only view of the SQLite store.

pub mod http_fake;
pub mod servers;
use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a fresh logger may take to answer /health (it compiles plugins first).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Generous bound for anything that should happen within a few ticks.
pub const SLOW: Duration = Duration::from_secs(60);
pub const NS: i64 = 1_000_000_000;

// ---------------------------------------------------------------- locations

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/client-venv/bin/python`, made by `scripts/client-venv`.
pub fn client_python() -> std::path::PathBuf {
    let python = repo_root().join("target/client-venv/bin/python");
    assert!(
        python.is_file(),
        "{} not found: run scripts/client-venv (scripts/test does) to install the pinned client libraries",
        python.display()
    );
    python
}

/// The binary under test: `$DATALOGGER_BIN`, else the release build.
pub fn binary() -> PathBuf {
    let bin = std::env::var_os("DATALOGGER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/datalogger"));
    assert!(
        bin.is_file(),
        "{} not found; build it first: cargo build --release -p datalogger (scripts/test does this)",
        bin.display()
    );
    bin
}

fn plugin_file(rel: &str) -> PathBuf {
    let path = repo_root().join(rel);
    assert!(
        path.is_file(),
        "{} not found; run scripts/build-plugins first",
        path.display()
    );
    path
}

/// The standard plugin.
pub fn system_wasm() -> PathBuf {
    plugin_file("plugins/dist/system.wasm")
}

/// A shipped plugin by its name, e.g. `dist_wasm("wemo")`.
pub fn dist_wasm(name: &str) -> PathBuf {
    plugin_file(&format!("plugins/dist/{name}.wasm"))
}

/// An example plugin as `scripts/build-examples <lang>` builds it, e.g.
/// `example_wasm("webstats", "js")`.
pub fn example_wasm(name: &str, lang: &str) -> PathBuf {
    let path = repo_root().join(format!("plugins/target/examples/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} not found; build it first: scripts/build-examples {lang}",
        path.display()
    );
    path
}

/// A test fixture component, e.g. `fixture("misbehave")`.
pub fn fixture(name: &str) -> PathBuf {
    plugin_file(&format!("plugins/target/fixtures/{name}.wasm"))
}

/// A port that was free a moment ago.
///
/// Chosen below the kernel's ephemeral range (`ip_local_port_range`), so a
/// socket another test binds to port 0 meanwhile cannot be given the same
/// port before the logger binds it; a counter per process plus the process id
/// spread parallel tests and test binaries apart.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000usize, ephemeral_low.max(12_000));
    let span = high - low;
    let start = std::process::id() as usize * 97;
    for _ in 0..span {
        let port = (low + (start + NEXT.fetch_add(1, Ordering::SeqCst)) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {low}..{high}");
}

// ---------------------------------------------------------------- waiting

/// Calls `poll` every 200 ms until it returns `Some`, or panics after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut poll: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = poll() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------- test dir

/// A temp dir holding a plugins dir, a config file, the store and the cache.
pub struct TestDir {
    pub tmp: tempfile::TempDir,
    pub port: u16,
    runs: AtomicUsize,
}

impl TestDir {
    /// Creates the dir and copies `plugins` into its plugins dir.
    pub fn new(plugins: &[PathBuf]) -> Self {
        let dir = Self {
            tmp: tempfile::Builder::new().prefix("datalogger-e2e-").tempdir().unwrap(),
            port: free_port(),
            runs: AtomicUsize::new(0),
        };
        fs::create_dir_all(dir.plugins_dir()).unwrap();
        for plugin in plugins {
            fs::copy(plugin, dir.plugins_dir().join(plugin.file_name().unwrap())).unwrap();
        }
        dir
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn plugins_dir(&self) -> PathBuf {
        self.path().join("plugins")
    }
    pub fn cache_dir(&self) -> PathBuf {
        self.path().join("cache")
    }
    pub fn db_path(&self) -> PathBuf {
        self.path().join("datalogger.db")
    }
    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    /// Writes a config with absolute paths into this dir; top-level keys of
    /// `overrides` (typically "items", "plugins", "sandbox") replace the defaults.
    pub fn write_config(&self, overrides: Value) -> PathBuf {
        let mut config = json!({
            "log_level": "info",
            "plugins_dir": self.plugins_dir(),
            "cache_dir": self.cache_dir(),
            "api": {"listen": format!("127.0.0.1:{}", self.port)},
            "store": {"path": self.db_path(), "retention_days": 30},
            "items": [],
        });
        for (key, value) in overrides.as_object().expect("overrides must be an object") {
            config[key] = value.clone();
        }
        fs::write(self.config_path(), serde_json::to_string_pretty(&config).unwrap()).unwrap();
        self.config_path()
    }

    /// The config file as it is now on disk (the host rewrites it on REST changes).
    pub fn read_config(&self) -> Value {
        let text = fs::read_to_string(self.config_path()).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("config is not valid JSON ({e}):\n{text}"))
    }

    /// `datalogger run --config <config.json>`, waiting until /health answers.
    pub fn start(&self) -> Logger {
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        let config = self.config_path();
        let args = ["run", "--config", config.to_str().unwrap()];
        Logger::start(&args, self.path(), self.port, &[], &format!("run{n}"))
    }

    /// The logger of the current config built and served in this test
    /// process (`App::build` + `App::serve`), stopped when dropped. For tests
    /// that only talk to the API and the store: it has no stderr to read and
    /// cannot be killed like a process.
    pub fn start_in_process(&self) -> Logger {
        Logger::in_process(&self.config_path(), self.port)
    }

    /// Runs a one-shot command (`check`, `plugin inspect`) in this dir.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        run_cli(args, self.path())
    }

    /// Runs `check` on the current config.
    pub fn check(&self) -> CliOutput {
        self.cli(&["check", "--config", self.config_path().to_str().unwrap()])
    }
}

// ---------------------------------------------------------------- processes

/// Exit status and combined stdout + stderr of a finished command.
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with `args` in `cwd` and waits (at most 60 s) for it to exit.
pub fn run_cli(args: &[&str], cwd: &Path) -> CliOutput {
    let out = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = command(args, cwd)
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`datalogger {}` did not exit within 60 s", args.join(" "));
        }
        sleep(Duration::from_millis(100));
    };
    CliOutput {
        status,
        stdout: fs::read_to_string(out_path).unwrap_or_default(),
        stderr: fs::read_to_string(err_path).unwrap_or_default(),
    }
}

fn command(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(binary());
    // Pin the log filter so an inherited RUST_LOG cannot hide the lines we check.
    cmd.args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// A running logger: `datalogger run` in a process of its own, killed when
/// dropped (its stdout and stderr go to `<tag>.stdout` / `<tag>.stderr` in
/// the working dir), or the host library served on a thread of this process.
pub struct Logger {
    runner: Runner,
    pub api: Api,
}

enum Runner {
    Process { child: Child, stderr_path: PathBuf },
    InProcess(InProcessApp),
}

/// An `App` served on its own runtime thread until `stop` fires.
struct InProcessApp {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl InProcessApp {
    /// Whether `serve` has returned, and with what.
    fn ended(&mut self) -> Option<String> {
        if !self.thread.as_ref()?.is_finished() {
            return None;
        }
        let result = self.thread.take()?.join();
        Some(match result {
            Ok(Ok(())) => "stopped".into(),
            Ok(Err(e)) => format!("failed: {e}"),
            Err(_) => "panicked".into(),
        })
    }
}

impl Logger {
    /// Builds the app from `config` and serves it on 127.0.0.1:`port` from a
    /// thread with its own Tokio runtime; waits until GET /health answers.
    pub fn in_process(config: &Path, port: u16) -> Logger {
        let (config, doc) = datalogger::config::load(config).unwrap_or_else(|e| panic!("config: {e}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let app = datalogger::app::App::build(config, doc)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .map_err(|e| e.to_string())?;
                let shutdown = async {
                    let _ = stopped.await;
                };
                app.serve(listener, shutdown).await.map_err(|e| format!("{e:#}"))
            })
        });
        let mut logger = Logger {
            runner: Runner::InProcess(InProcessApp {
                stop: Some(stop),
                thread: Some(thread),
            }),
            api: Api::new(port),
        };
        logger.wait_until("GET /health to return 200", START_TIMEOUT, |api| {
            (api.try_get("/health")?.status == 200).then_some(())
        });
        logger
    }

    /// Spawns the binary and waits until GET /health returns 200.
    pub fn start(args: &[&str], cwd: &Path, port: u16, env: &[(&str, &str)], tag: &str) -> Logger {
        Self::start_with(args, cwd, port, env, tag, true)
    }

    /// Like `start`; `wait_compiled: false` returns as soon as the API answers,
    /// while big plugins may still be compiling in the background.
    pub fn start_with(
        args: &[&str],
        cwd: &Path,
        port: u16,
        env: &[(&str, &str)],
        tag: &str,
        wait_compiled: bool,
    ) -> Logger {
        Self::start_api(args, cwd, env, tag, wait_compiled, Api::new(port))
    }

    /// Like `start`, for a logger whose API needs `token` (`api.token`):
    /// `logger.api` sends it with every request.
    pub fn start_with_token(
        args: &[&str],
        cwd: &Path,
        port: u16,
        env: &[(&str, &str)],
        tag: &str,
        token: &str,
    ) -> Logger {
        Self::start_api(args, cwd, env, tag, true, Api::new(port).with_token(token))
    }

    fn start_api(args: &[&str], cwd: &Path, env: &[(&str, &str)], tag: &str, wait_compiled: bool, api: Api) -> Logger {
        let stderr_path = cwd.join(format!("{tag}.stderr"));
        let mut cmd = command(args, cwd);
        cmd.envs(env.iter().copied())
            .stdout(fs::File::create(cwd.join(format!("{tag}.stdout"))).unwrap())
            .stderr(fs::File::create(&stderr_path).unwrap());
        let mut logger = Logger {
            runner: Runner::Process {
                child: cmd.spawn().unwrap(),
                stderr_path,
            },
            api,
        };
        // Up, and done compiling big plugins (which happens after the API is up).
        logger.wait_until(
            "GET /health to return 200 with no plugin compiling",
            START_TIMEOUT,
            |api| {
                let health = api.try_get("/health")?;
                let compiling = health.json()["plugins_compiling"].as_array().map_or(0, Vec::len);
                (health.status == 200 && (compiling == 0 || !wait_compiled)).then_some(())
            },
        );
        let health = logger.api.get("/health");
        assert_eq!(
            health.json()["status"],
            "ok",
            "unexpected /health body: {}",
            health.text
        );
        logger
    }

    /// Everything the logger has written to stderr so far.
    pub fn stderr(&self) -> String {
        match &self.runner {
            Runner::Process { stderr_path, .. } => fs::read_to_string(stderr_path).unwrap_or_default(),
            Runner::InProcess(_) => panic!("an in-process logger has no stderr; start it with TestDir::start"),
        }
    }

    /// The logger's process id (to read its /proc entries).
    pub fn pid(&self) -> u32 {
        match &self.runner {
            Runner::Process { child, .. } => child.id(),
            Runner::InProcess(_) => panic!("an in-process logger has no process of its own"),
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.exited().is_none()
    }

    /// How the logger ended, if it has.
    fn exited(&mut self) -> Option<String> {
        match &mut self.runner {
            Runner::Process { child, .. } => child.try_wait().unwrap().map(|status| status.to_string()),
            Runner::InProcess(app) => app.ended(),
        }
    }

    /// Like [`wait_until`], but fails at once if the logger died, and shows
    /// the end of its stderr on failure.
    pub fn wait_until<T>(&mut self, what: &str, timeout: Duration, mut poll: impl FnMut(&Api) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "datalogger exited ({status}) while waiting for {what}; stderr:\n{}",
                    self.stderr_tail()
                );
            }
            if let Some(value) = poll(&self.api) {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; stderr:\n{}",
                    self.stderr_tail()
                );
            }
            sleep(Duration::from_millis(200));
        }
    }

    fn stderr_tail(&self) -> String {
        if let Runner::InProcess(_) = self.runner {
            return "(in-process: no stderr)".into();
        }
        let text = self.stderr();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// GET /items/{name}, which must exist.
    pub fn item(&self, name: &str) -> Value {
        let resp = self.api.get(&format!("/items/{name}"));
        assert_eq!(resp.status, 200, "GET /items/{name}: {}", resp.text);
        resp.json()
    }

    /// Waits until item `name` has a non-null value in `field` and returns the item.
    pub fn wait_item_field(&mut self, name: &str, field: &str) -> Value {
        let path = format!("/items/{name}");
        self.wait_until(&format!("item {name} to have {field}"), SLOW, |api| {
            let item = api.try_get(&path)?.json();
            (!item[field].is_null()).then_some(item)
        })
    }

    /// last_error of item `name`, waiting until it is set.
    pub fn wait_error(&mut self, name: &str) -> String {
        let item = self.wait_item_field(name, "last_error");
        let error = item["last_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: last_error is not a string: {item}"))
            .to_owned();
        eprintln!("{name}: last_error {error:?}");
        error
    }

    /// Waits until each of `names` has a sample in the store `db`.
    pub fn wait_for_rows(&mut self, db: &Path, names: &[&str]) {
        self.wait_until(&format!("a stored sample of each of {names:?}"), SLOW, |_| {
            names.iter().all(|n| !store_rows(db, n).is_empty()).then_some(())
        });
    }

    /// Waits until `item` has at least `n` samples in the store `db`; returns them.
    pub fn wait_rows(&mut self, db: &Path, item: &str, n: usize) -> Vec<Row> {
        self.wait_until(&format!("{n} samples of {item}"), SLOW, |_| {
            let rows = store_rows(db, item);
            (rows.len() >= n).then_some(rows)
        })
    }

    /// Waits until `item` has been polled `n` more times than now.
    pub fn wait_polls(&mut self, item: &str, n: u64) {
        let path = format!("/items/{item}");
        let polls = |api: &Api| api.try_get(&path)?.json()["stats"]["polls"].as_u64();
        let target = polls(&self.api).unwrap_or(0) + n;
        self.wait_until(&format!("{n} more polls of {item}"), SLOW, |api| {
            (polls(api)? >= target).then_some(())
        });
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        match &mut self.runner {
            Runner::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            // Graceful: serve returns, the items stop, the runtime ends with it.
            Runner::InProcess(app) => {
                if let Some(stop) = app.stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = app.thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

// ---------------------------------------------------------------- HTTP

/// A response: status and raw body (4xx and 5xx are not errors here).
pub struct Resp {
    pub status: u16,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}), status {}: {:?}", self.status, self.text))
    }

    /// Asserts the status and that the body is `{"error": "<non-empty text>"}`;
    /// returns the error text.
    pub fn expect_error(&self, status: u16, context: &str) -> String {
        assert_eq!(self.status, status, "{context}: wrong status, body {:?}", self.text);
        let error = self.json()["error"].as_str().map(str::to_owned);
        let error = error.unwrap_or_else(|| panic!("{context}: no \"error\" string in {:?}", self.text));
        assert!(!error.is_empty(), "{context}: empty error");
        error
    }
}

/// Client for the REST API on 127.0.0.1:port.
#[derive(Clone)]
pub struct Api {
    agent: ureq::Agent,
    base: String,
    /// Sent as `Authorization: Bearer` when set.
    token: Option<String>,
}

impl Api {
    pub fn new(port: u16) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Api {
            agent: config.into(),
            base: format!("http://127.0.0.1:{port}"),
            token: None,
        }
    }

    /// The same client, sending `Authorization: Bearer <token>`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// Sends a request; `None` if no HTTP response came back (e.g. not listening yet).
    pub fn try_send(&self, method: &str, path: &str, body: Option<&str>) -> Option<Resp> {
        let url = format!("{}{}", self.base, path);
        fn authorized<B>(r: ureq::RequestBuilder<B>, token: Option<&str>) -> ureq::RequestBuilder<B> {
            match token {
                Some(t) => r.header("authorization", &format!("Bearer {t}")),
                None => r,
            }
        }
        let result = match (method, body) {
            ("GET", _) => authorized(self.agent.get(&url), self.token.as_deref()).call(),
            ("DELETE", _) => authorized(self.agent.delete(&url), self.token.as_deref()).call(),
            ("POST", Some(b)) => authorized(self.agent.post(&url), self.token.as_deref())
                .header("content-type", "application/json")
                .send(b),
            ("PUT", Some(b)) => authorized(self.agent.put(&url), self.token.as_deref())
                .header("content-type", "application/json")
                .send(b),
            ("PATCH", Some(b)) => authorized(self.agent.patch(&url), self.token.as_deref())
                .header("content-type", "application/json")
                .send(b),
            _ => panic!("unsupported request {method} {path}"),
        };
        let mut resp = result.ok()?;
        let text = resp.body_mut().read_to_string().ok()?;
        Some(Resp {
            status: resp.status().as_u16(),
            text,
        })
    }

    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        self.try_send(method, path, body)
            .unwrap_or_else(|| panic!("{method} {path}: no response"))
    }

    pub fn try_get(&self, path: &str) -> Option<Resp> {
        self.try_send("GET", path, None)
    }
    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None)
    }
    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, Some(&body.to_string()))
    }
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.send("PUT", path, Some(&body.to_string()))
    }
    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None)
    }
}

// ---------------------------------------------------------------- store

/// One stored sample, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its sequence number in the log; 0 once compacted.
    pub seq: i64,
    pub measurement: String,
    pub tags: Value,
    pub fields: Value,
    /// The stored type of each field: f float, i int, u uint, b bool, s string.
    pub types: BTreeMap<String, char>,
    /// The same letters in the plugin's field order, e.g. "ffib".
    pub type_letters: String,
    pub ts_ns: i64,
}

/// The samples stored for `item`, oldest first (by timestamp). Empty while the
/// store does not exist yet. Opens the file read-only, so it is safe while the
/// logger writes.
pub fn store_rows(db: &Path, item: &str) -> Vec<Row> {
    let Some(store) =
        datalogger::store::inspect::Inspector::open(db).unwrap_or_else(|e| panic!("reading {}: {e:#}", db.display()))
    else {
        return Vec::new();
    };
    let samples = store
        .item_samples(item)
        .unwrap_or_else(|e| panic!("reading {}: {e:#}", db.display()));
    samples
        .into_iter()
        .map(|stored| {
            let s = stored.sample;
            let json = s.to_json();
            Row {
                seq: stored.seq.unwrap_or(0),
                measurement: s.measurement.clone(),
                tags: json["tags"].clone(),
                fields: json["fields"].clone(),
                types: s.fields.iter().map(|(k, v)| (k.clone(), type_letter(v))).collect(),
                type_letters: s.fields.iter().map(|(_, v)| type_letter(v)).collect(),
                ts_ns: s.timestamp_ns,
            }
        })
        .collect()
}

fn type_letter(v: &datalogger::sample::FieldValue) -> char {
    use datalogger::sample::FieldValue::*;
    match v {
        Float(_) => 'f',
        Int(_) => 'i',
        Uint(_) => 'u',
        Boolean(_) => 'b',
        Text(_) => 's',
    }
}

/// Asserts that `rows` (oldest first) sit on wall-clock ticks of `interval_s`:
/// every timestamp a multiple of the interval, no tick twice, and most
/// consecutive pairs exactly one interval apart (a rare missed tick under CI
/// load is tolerated).
pub fn assert_on_ticks(rows: &[Row], interval_s: i64, what: &str) {
    let step = interval_s * NS;
    let ts: Vec<i64> = rows.iter().map(|r| r.ts_ns).collect();
    for t in &ts {
        assert_eq!(
            t % step,
            0,
            "{what}: timestamp {t} is not a multiple of {interval_s} s: {ts:?}"
        );
    }
    let gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g > 0), "{what}: a tick was stored twice: {ts:?}");
    let exact = gaps.iter().filter(|g| **g == step).count();
    assert!(
        exact * 3 >= gaps.len() * 2,
        "{what}: fewer than 2/3 of consecutive samples are {interval_s} s apart: {gaps:?}"
    );
}

/// Parses an RFC 3339 UTC timestamp ("...Z") into nanoseconds since the epoch.
pub fn rfc3339_ns(text: &Value) -> i64 {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {text}"));
    assert!(text.ends_with('Z'), "timestamp {text:?} is not UTC (\"Z\")");
    let time = chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("bad RFC 3339 {text:?}: {e}"));
    time.timestamp_nanos_opt().unwrap()
}
