//! The JSON config file, loaded with errors that name the file, the place and
//! the fix. This module only composes: each section's type and checks belong
//! to the part it configures (`capabilities::Settings`, `plugins::SandboxSettings`,
//! `store::StoreSettings`, `sinks::OutputSpec`, `sources::items`); `file.rs`
//! rewrites the file when items change over REST.
//!
//! Every relative path is resolved against the current directory, so the defaults
//! work when the logger is started from the repository root.

mod file;
mod isems_env;

pub use file::ConfigFile;

use crate::access::{self, RouteGroup};
use crate::capabilities::{self, GrantTable, Grants};
use crate::influxql::QuerySettings;
use crate::plugins::SandboxSettings;
use crate::secret::Secret;
use crate::sinks::OutputSpec;
use crate::sources::items::{parse_item, ItemSpec};
use crate::sources::push::SourceSpec;
use crate::store::StoreSettings;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "config/datalogger.json";
pub const DEFAULT_PLUGINS_DIR: &str = "plugins/dist";
pub const DEFAULT_CACHE_DIR: &str = "data/cache";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
/// Overrides `api.listen`, e.g. to run a legacy config beside another service on :5000.
pub const LISTEN_ENV: &str = "DATALOGGER_LISTEN";

/// The `"api"` section. Who may do what is enforced by `api::auth`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    pub listen: String,
    /// The API token; unset, the API asks for none.
    pub token: Option<Secret>,
    /// Route groups anyone may use without the token (never `manage`).
    pub without_token: Vec<RouteGroup>,
    /// Listen beyond loopback with no token: only when the operator says so.
    pub allow_unauthenticated: bool,
    /// Origins (`http://host:port`) whose web pages may use the API.
    pub cors_origins: Vec<String>,
    /// Names clients use for this logger besides IP addresses and `localhost`
    /// (checked against `Host` where no token protects a request).
    pub hostnames: Vec<String>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            listen: DEFAULT_LISTEN.into(),
            token: None,
            without_token: Vec::new(),
            allow_unauthenticated: false,
            cors_origins: Vec::new(),
            hostnames: Vec::new(),
        }
    }
}

impl ApiSettings {
    /// Problems no type can express, and the normalised origins and names.
    /// `listen_from_env`: the listen address came from `DATALOGGER_LISTEN`.
    fn check(&mut self, listen_from_env: bool, warnings: &mut Vec<String>) -> Vec<String> {
        let mut problems = Vec::new();
        if self.token.as_ref().is_some_and(|t| t.expose().trim().is_empty()) {
            problems.push(
                "\"api\": \"token\" is empty; give it a long random value, e.g. from `openssl rand -hex 32`".into(),
            );
        }
        if self.without_token.contains(&RouteGroup::Manage) {
            problems.push(
                "\"api\": \"without_token\" may list \"read\" and \"write\"; \"manage\" (changing items and plugins) always needs the token".into(),
            );
        }
        let mut normalized = |list: &mut Vec<String>, key: &str, f: fn(&str) -> Result<String, String>| {
            for entry in list.iter_mut() {
                match f(entry) {
                    Ok(n) => *entry = n,
                    Err(e) => problems.push(format!("\"api\": \"{key}\": {e}")),
                }
            }
        };
        normalized(&mut self.cors_origins, "cors_origins", access::normalize_origin);
        normalized(&mut self.hostnames, "hostnames", access::normalize_hostname);
        let Ok(addr) = self.listen.parse::<std::net::SocketAddr>() else {
            return problems;
        };
        if addr.ip().is_loopback() || self.token.is_some() {
            return problems;
        }
        let from = match listen_from_env {
            true => format!("{LISTEN_ENV}={}", self.listen),
            false => format!("\"api\": \"listen\" is {:?}", self.listen),
        };
        if self.allow_unauthenticated {
            warnings.push(format!(
                "{from} and no \"token\" is set: anyone who reaches this address may change items (\"allow_unauthenticated\": true)"
            ));
        } else {
            problems.push(format!(
                "{from}, which other machines can reach, and no \"token\" is set, so anyone on the network could change items; \
                 set \"api\": {{\"token\": {{\"env\": \"DATALOGGER_TOKEN\"}}}} (see README.md, \"Security\"), \
                 listen on 127.0.0.1, or add \"allow_unauthenticated\": true to \"api\" if that is what you mean"
            ));
        }
        problems
    }
}

/// The whole, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub log_level: Option<String>,
    pub plugins_dir: PathBuf,
    /// Reload plugins when their files change (hot reload).
    pub plugins_watch: bool,
    /// Also rescan the folder this often (0: never), where file events are unreliable.
    pub plugins_rescan_s: u64,
    pub cache_dir: PathBuf,
    pub api: ApiSettings,
    pub store: StoreSettings,
    /// How `/query` answers (`"query"`).
    pub query: QuerySettings,
    /// Which old tools' read APIs are served (`"compat"`).
    pub compat: crate::compat::CompatSettings,
    /// Items made from the ISEMS collector's environment variables
    /// (`isems_env`): never written to the config file.
    pub from_environment: Vec<String>,
    pub sandbox: SandboxSettings,
    /// What each plugin is granted (`"plugins"`).
    pub plugins: GrantTable,
    /// Every capability's section (`"i2c"`, `"http"`, `"discovery"`).
    pub capabilities: capabilities::Settings,
    pub items: Vec<ItemSpec>,
    /// rpdemo's InfluxDB database name, kept for the InfluxDB output.
    pub database: Option<String>,
    /// Where samples are forwarded besides the embedded store.
    pub outputs: Vec<OutputSpec>,
    /// Push sources: streams that arrive instead of being polled (`"sources"`).
    pub sources: Vec<SourceSpec>,
    /// Notes about accepted-but-ignored settings, logged once logging is up.
    pub notes: Vec<String>,
    /// Likely mistakes that do not stop the logger (unknown settings).
    pub warnings: Vec<String>,
}

/// A config problem, always naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", file.display(), problems.join("\n  "))]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(file: &Path, problem: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            problems: vec![problem.into()],
        }
    }
}

/// Reads and checks a config file; all problems are collected, not just the first.
pub fn load(path: &Path) -> Result<(Config, Value), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::one(
            path,
            format!("cannot read the config file: {e}; pass an existing file with --config"),
        )
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        ConfigError::one(
            path,
            format!("line {}, column {}: invalid JSON: {e}", e.line(), e.column()),
        )
    })?;
    let config = from_document(path, &doc)?;
    Ok((config, doc))
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    doc: &Map<String, Value>,
    name: &str,
    problems: &mut Vec<String>,
) -> T {
    match doc.get(name) {
        None | Some(Value::Null) => T::default(),
        Some(v) => T::deserialize(v).unwrap_or_else(|e| {
            problems.push(format!("\"{name}\": {e}"));
            T::default()
        }),
    }
}

/// The capabilities' sections, each checked on its own so that an error
/// names its section; absent or `null` sections take their defaults.
fn capability_sections(doc: &Map<String, Value>, problems: &mut Vec<String>) -> capabilities::Settings {
    let mut present = Map::new();
    for name in capabilities::Settings::SECTIONS {
        let Some(v) = doc.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let alone = Value::Object(Map::from_iter([(name.to_string(), v.clone())]));
        match capabilities::Settings::deserialize(alone) {
            Ok(_) => {
                present.insert(name.to_string(), v.clone());
            }
            Err(e) => problems.push(format!("\"{name}\": {e}")),
        }
    }
    // Each section parsed alone above, so together they parse too.
    capabilities::Settings::deserialize(Value::Object(present)).unwrap_or_else(|e| {
        problems.push(format!("capability settings: {e}"));
        capabilities::Settings::default()
    })
}

fn path_setting(doc: &Map<String, Value>, name: &str, default: &str, problems: &mut Vec<String>) -> PathBuf {
    match doc.get(name) {
        None | Some(Value::Null) => PathBuf::from(default),
        Some(Value::String(s)) if !s.is_empty() => PathBuf::from(s),
        Some(_) => {
            problems.push(format!(
                "\"{name}\" must be a non-empty path string, e.g. \"{default}\""
            ));
            PathBuf::from(default)
        }
    }
}

fn valid_log_level(s: &str) -> bool {
    const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];
    s.contains('=')
        || s.split(',')
            .all(|part| LEVELS.contains(&part.trim().to_ascii_lowercase().as_str()))
}

/// Levenshtein distance, for "did you mean" hints on misspelt settings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Checks an already-parsed JSON document.
pub fn from_document(path: &Path, doc: &Value) -> Result<Config, ConfigError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| ConfigError::one(path, "the top level must be a JSON object { ... }"))?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    let log_level = match obj.get("log_level") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if valid_log_level(s) => Some(s.clone()),
        Some(v) => {
            problems.push(format!(
                "\"log_level\" must be error, warn, info, debug or trace, or a filter such as \"datalogger=debug\"; got {v}"
            ));
            None
        }
    };
    let plugins_dir = path_setting(obj, "plugins_dir", DEFAULT_PLUGINS_DIR, &mut problems);
    let cache_dir = path_setting(obj, "cache_dir", DEFAULT_CACHE_DIR, &mut problems);
    let plugins_watch = match obj.get("plugins_watch") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push("\"plugins_watch\" must be true or false".into());
            true
        }
    };
    let plugins_rescan_s = match obj.get("plugins_rescan_s") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().unwrap_or_else(|| {
            problems.push("\"plugins_rescan_s\" must be a whole number of seconds (0 turns it off)".into());
            0
        }),
    };
    let mut api: ApiSettings = section(obj, "api", &mut problems);
    let listen_env = std::env::var(LISTEN_ENV).ok();
    if let Some(listen) = &listen_env {
        api.listen = listen.clone();
    }
    problems.extend(api.check(listen_env.is_some(), &mut warnings));
    if api.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "\"api\": \"listen\" must be an address such as \"127.0.0.1:5000\", got {:?}",
            api.listen
        ));
    }
    let store: StoreSettings = section(obj, "store", &mut problems);
    let query: QuerySettings = section(obj, "query", &mut problems);
    let compat: crate::compat::CompatSettings = section(obj, "compat", &mut problems);
    problems.extend(compat.problems());
    let sandbox: SandboxSettings = section(obj, "sandbox", &mut problems);
    problems.extend(sandbox.check());

    let mut plugins = GrantTable::default();
    match obj.get("plugins") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, v) in m {
                match Grants::deserialize(v) {
                    Ok(g) => {
                        plugins.configured.insert(name.clone(), g);
                    }
                    Err(e) => problems.push(format!("\"plugins\": grants of plugin \"{name}\": {e}")),
                }
            }
        }
        Some(_) => problems.push(
            "\"plugins\" must map plugin names to grants, e.g. {\"system\": {\"files\": [\"/proc/loadavg\"]}}".into(),
        ),
    }

    let capabilities = capability_sections(obj, &mut problems);
    problems.extend(capabilities.check());

    let mut items: Vec<ItemSpec> = Vec::new();
    match obj.get("items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, v) in list.iter().enumerate() {
                let label = match v.get("name").and_then(Value::as_str) {
                    // An overlong name is not repeated: its own problem says so.
                    Some(n) if n.chars().count() <= crate::sources::items::limits::NAME => {
                        format!("item \"{n}\" (items[{i}])")
                    }
                    _ => format!("items[{i}]"),
                };
                match parse_item(v) {
                    Ok(p) => {
                        if items.iter().any(|it| it.name == p.spec.name) {
                            problems.push(format!("{label}: the name is used twice; give each item its own name"));
                        }
                        if !p.unknown.is_empty() {
                            notes.push(format!("{label}: ignoring unknown field(s) {}", p.unknown.join(", ")));
                        }
                        items.push(p.spec);
                    }
                    Err(e) => problems.push(format!("{label}: {e}")),
                }
            }
        }
        Some(_) => problems.push("\"items\" must be a list of items".into()),
    }

    let database = obj.get("database").and_then(Value::as_str).map(String::from);
    let outputs = match obj.get("outputs") {
        None | Some(Value::Null) => match &database {
            // An rpdemo config: keep writing where the Python logger wrote.
            Some(db) => {
                notes.push(format!("\"database\": {db:?} without \"outputs\": forwarding to InfluxDB at http://localhost:8086 in the rpdemo schema"));
                vec![OutputSpec::rpdemo(db)]
            }
            None => Vec::new(),
        },
        Some(v) => crate::sinks::parse_outputs(v, &mut problems, &mut warnings),
    };
    let item_names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    let mut sources = match obj.get("sources") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => crate::sources::push::parse_sources(v, &item_names, &mut problems),
    };
    let mut compat = compat;
    let from_environment = match compat.isems.as_mut() {
        Some(isems) => isems_env::apply(
            |k| std::env::var(k).ok(),
            isems,
            &mut items,
            &mut sources,
            &mut problems,
            &mut notes,
        ),
        None => Vec::new(),
    };
    if let Some(iot) = &compat.iot {
        // The IoT compat's readings arrive through a source of its own.
        if sources.iter().any(|s| s.name == iot.source) {
            problems.push(format!(
                "\"compat\": \"iot\" stores readings under the source {:?}, and \"sources\" has one of that name; rename it or set \"source\" in \"compat\": \"iot\"",
                iot.source
            ));
        } else {
            let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
            let mut found = Vec::new();
            let made = crate::sources::push::parse_sources(&serde_json::json!([iot.source_spec()]), &names, &mut found);
            problems.extend(found.into_iter().map(|p| format!("\"compat\": \"iot\": {p}")));
            sources.extend(made);
        }
    }
    /// Settings of the Python rpdemo logger that have no meaning here.
    const LEGACY: [&str; 1] = ["polling_threads"];
    const OWN: [&str; 15] = [
        "log_level",
        "plugins_dir",
        "plugins_watch",
        "plugins_rescan_s",
        "cache_dir",
        "api",
        "store",
        "sandbox",
        "plugins",
        "items",
        "database",
        "outputs",
        "query",
        "sources",
        "compat",
    ];
    // The capabilities' sections after "plugins", where they always stood (the
    // first close match wins a "did you mean").
    let (before, after) = OWN.split_at(9);
    let known: Vec<&str> = [before, &capabilities::Settings::SECTIONS, after].concat();
    for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
        if LEGACY.contains(&key.as_str()) {
            notes.push(format!("ignoring legacy setting \"{key}\" (not needed by datalogger)"));
        } else {
            let hint = known
                .iter()
                .find(|k| edit_distance(k, key) <= 2)
                .map(|k| format!("; did you mean \"{k}\"?"))
                .unwrap_or_default();
            warnings.push(format!("ignoring unknown setting \"{key}\"{hint}"));
        }
    }

    if !problems.is_empty() {
        return Err(ConfigError {
            file: path.to_path_buf(),
            problems,
        });
    }
    Ok(Config {
        path: path.to_path_buf(),
        log_level,
        plugins_dir,
        plugins_watch,
        plugins_rescan_s,
        cache_dir,
        api,
        store,
        query,
        compat,
        from_environment,
        sandbox,
        plugins,
        capabilities,
        items,
        database,
        outputs,
        sources,
        notes,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::NetRule;
    use serde_json::json;

    fn check(doc: Value) -> Result<Config, ConfigError> {
        from_document(Path::new("test.json"), &doc)
    }

    #[test]
    fn rpdemo_file_loads_with_legacy_keys_noted() {
        let c = check(json!({
            "database": "rpdemo", "polling_threads": 4,
            "items": [{"name": "load", "key": "system.loadavg1", "arg": "", "interval": 2}]
        }))
        .unwrap();
        assert_eq!(c.database.as_deref(), Some("rpdemo"));
        assert_eq!(c.outputs, vec![OutputSpec::rpdemo("rpdemo")]);
        assert_eq!(c.items[0].arg, None);
        assert_eq!(c.items[0].interval, 2);
        assert!(c.notes.iter().any(|n| n.contains("polling_threads")));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let system = Path::new("plugins/dist/system.wasm");
        assert_eq!(
            c.plugins.grants_for("system", system).files.0.len(),
            2,
            "standard plugin gets default grants"
        );
        assert!(
            c.plugins
                .grants_for("system", Path::new("x/impostor.wasm"))
                .files
                .0
                .is_empty(),
            "defaults only for the file named after the plugin"
        );
        assert!(
            c.plugins
                .grants_for("other", Path::new("other.wasm"))
                .files
                .0
                .is_empty(),
            "deny by default"
        );
    }

    #[test]
    fn misspelt_settings_warn_with_a_hint_and_bad_log_levels_fail() {
        let c = check(json!({"stor": {}, "itemz": []})).unwrap();
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("\"stor\"; did you mean \"store\"")),
            "{:?}",
            c.warnings
        );
        assert!(
            c.warnings.iter().any(|w| w.contains("did you mean \"items\"")),
            "{:?}",
            c.warnings
        );
        assert!(check(json!({"log_level": "debug"})).is_ok());
        assert!(check(json!({"log_level": "datalogger=debug,info"})).is_ok());
        let text = check(json!({"log_level": "verbose"})).unwrap_err().to_string();
        assert!(text.contains("\"log_level\" must be error, warn"), "{text}");
    }

    #[test]
    fn explicit_grants_replace_defaults() {
        let c = check(json!({"plugins": {"system": {}}})).unwrap();
        assert!(c
            .plugins
            .grants_for("system", Path::new("system.wasm"))
            .files
            .0
            .is_empty());
    }

    #[test]
    fn bad_items_are_named_with_the_fix() {
        let err = check(json!({"items": [
            {"name": "a", "key": "system.loadavg1", "interval": 0},
            {"name": "b", "key": "nodot", "interval": 1},
            {"name": "c", "key": "x.y", "interval": 1.5},
            {"key": "x.y", "interval": 1},
        ]}))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("test.json: "), "{text}");
        assert!(
            text.contains("item \"a\" (items[0]): \"interval\" must be a whole number"),
            "{text}"
        );
        assert!(text.contains("item \"b\""), "{text}");
        assert!(text.contains("item \"c\""), "{text}");
        assert!(text.contains("items[3]: missing required field \"name\""), "{text}");
        assert_eq!(err.problems.len(), 4);
    }

    #[test]
    fn duplicate_names_and_bad_sections_are_errors() {
        let err = check(json!({
            "items": [{"name": "a", "key": "s.x", "interval": 1}, {"name": "a", "key": "s.y", "interval": 1}],
            "sandbox": {"memory": 3},
            "plugins": {"p": {"sockets": true}},
        }))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("used twice"), "{text}");
        assert!(text.contains("\"sandbox\": unknown field `memory`"), "{text}");
        assert!(text.contains("plugin \"p\""), "{text}");
    }

    #[test]
    fn capability_grants_and_sections_parse_with_clear_errors() {
        let c = check(json!({
            "plugins": {"wemo": {"http": ["192.168.1.0/24", "node.lan:80"], "discovery": true},
                        "sensehat": {"i2c": [{"bus": 1, "addresses": ["0x5c", 95]}]}},
            "i2c": {"buses": [{"bus": 1, "simulated": [{"chip": "hts221"}, {"chip": "lps25h", "address": "0x5d"}]}]},
            "discovery": {"ssdp_target": "127.0.0.1:1900"},
        }))
        .unwrap();
        let g = c.plugins.grants_for("sensehat", Path::new("x.wasm"));
        assert_eq!(g.i2c.0[0].addresses, Some(vec![0x5C, 0x5F]));
        assert!(c
            .plugins
            .grants_for("wemo", Path::new("x.wasm"))
            .summary()
            .contains("http to 192.168.1.0/24, node.lan:80"));

        let err = check(json!({
            "plugins": {"wemo": {"http": ["http://x"]}, "sensehat": {"i2c": [{"bus": 1, "addresses": ["0x80"]}]}},
            "i2c": {"buses": [{"bus": 1, "simulated": [{"chip": "bmp999"}]}]},
            "discovery": {"ssdp_target": "nowhere"},
        }))
        .unwrap_err()
        .to_string();
        for expected in [
            "test.json:",
            "grants of plugin \"wemo\"",
            "\"192.168.1.0/24\"",
            "grants of plugin \"sensehat\"",
            "I2C address must be 0..=127",
            "simulated bus 1: \"simulated\"[0] (\"bmp999\"): unknown chip \"bmp999\"; the simulated bus emulates hts221, lps25h",
            "\"ssdp_target\" must be an address",
        ] {
            assert!(err.contains(expected), "{expected} missing from: {err}");
        }
    }

    #[test]
    fn shipped_plugins_get_default_grants_only_under_their_own_file_name() {
        let c = check(json!({})).unwrap();
        assert_eq!(
            c.plugins.grants_for("net", Path::new("plugins/net.wasm")).ping.0,
            vec![NetRule::Any]
        );
        assert!(c
            .plugins
            .grants_for("net", Path::new("plugins/evil.wasm"))
            .ping
            .0
            .is_empty());
        assert!(c.plugins.grants_for("wemo", Path::new("wemo.wasm")).discovery.0);
        // A config entry replaces the default entirely.
        let c = check(json!({"plugins": {"net": {"ping": ["10.0.0.0/8"]}}})).unwrap();
        assert_eq!(c.plugins.grants_for("net", Path::new("net.wasm")).ping.0.len(), 1);
    }

    #[test]
    fn api_access_settings_are_checked_and_normalised() {
        let c = check(json!({"api": {"listen": "127.0.0.1:5000"}})).unwrap();
        assert_eq!(c.api.token, None, "the rpdemo default needs no token");
        let c = check(json!({"api": {
            "listen": "0.0.0.0:5000", "token": "t0k", "without_token": ["read", "write"],
            "cors_origins": ["HTTP://Grafana.LAN:3000"], "hostnames": ["Pi.LAN"],
        }}))
        .unwrap();
        assert_eq!(c.api.cors_origins, ["http://grafana.lan:3000"]);
        assert_eq!(c.api.hostnames, ["pi.lan"]);
        assert!(!format!("{c:?}").contains("t0k"), "the token is never printed");

        let text = check(json!({"api": {"listen": "0.0.0.0:5000"}}))
            .unwrap_err()
            .to_string();
        for expected in [
            "test.json:",
            "\"0.0.0.0:5000\"",
            "no \"token\" is set",
            "allow_unauthenticated",
        ] {
            assert!(text.contains(expected), "{expected} missing from: {text}");
        }
        let c = check(json!({"api": {"listen": "[::]:5000", "allow_unauthenticated": true}})).unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("anyone who reaches")),
            "{:?}",
            c.warnings
        );

        let text = check(json!({"api": {
            "token": " ", "without_token": ["manage"], "cors_origins": ["grafana.lan"], "hostnames": ["a:1"],
        }}))
        .unwrap_err()
        .to_string();
        for expected in [
            "\"token\" is empty",
            "\"manage\" (changing items and plugins) always needs the token",
            "\"cors_origins\": \"grafana.lan\" is not an origin",
            "\"hostnames\": \"a:1\"",
        ] {
            assert!(text.contains(expected), "{expected} missing from: {text}");
        }
        let text = check(json!({"api": {"without_token": ["everything"]}}))
            .unwrap_err()
            .to_string();
        assert!(text.contains("manage, read") || text.contains("`manage`"), "{text}");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, "{\n  \"items\": [\n    {\"name\": 1,}\n]}").unwrap();
        let text = load(&p).unwrap_err().to_string();
        assert!(text.contains("c.json: line 3, column"), "{text}");
    }
}
