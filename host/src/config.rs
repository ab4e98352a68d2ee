//! The JSON config file: loading with errors that name the file, the place and the
//! fix; the item model shared with the REST API; and atomic rewrites of the file
//! when items change over REST.
//!
//! Every relative path is resolved against the current directory, so the defaults
//! work when the logger is started from the repository root.

use crate::capabilities::{DiscoverySettings, HttpSettings, I2cGrant, I2cSettings, NetRule};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "config/datalogger.json";
pub const DEFAULT_PLUGINS_DIR: &str = "plugins/dist";
pub const DEFAULT_CACHE_DIR: &str = "data/cache";
pub const DEFAULT_STORE_PATH: &str = "data/datalogger.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
/// Overrides `api.listen`, e.g. to run a legacy config beside another service on :5000.
pub const LISTEN_ENV: &str = "DATALOGGER_LISTEN";

/// One poll item: which key to sample, how often, with which argument.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSpec {
    pub name: String,
    pub key: String,
    pub arg: Option<String>,
    /// Whole seconds, at least 1.
    pub interval: u64,
    pub tags: BTreeMap<String, String>,
    pub enabled: bool,
}

impl ItemSpec {
    /// The plugin a key belongs to: the part before the first dot.
    pub fn plugin_name(&self) -> &str {
        plugin_of_key(&self.key)
    }

    /// The form written back to the config file.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        m.insert("key".into(), self.key.clone().into());
        if let Some(arg) = &self.arg {
            m.insert("arg".into(), arg.clone().into());
        }
        m.insert("interval".into(), self.interval.into());
        if !self.tags.is_empty() {
            m.insert("tags".into(), serde_json::to_value(&self.tags).unwrap_or_default());
        }
        if !self.enabled {
            m.insert("enabled".into(), false.into());
        }
        Value::Object(m)
    }
}

pub fn plugin_of_key(key: &str) -> &str {
    key.split('.').next().unwrap_or(key)
}

/// The fields an item may carry. Anything else is "unknown".
const ITEM_FIELDS: [&str; 6] = ["name", "key", "arg", "interval", "tags", "enabled"];

/// Reads and checks one field of an item; shared by the config loader and the
/// REST API so both give the same messages.
pub mod item_fields {
    use super::*;

    pub fn name(v: &Value) -> Result<String, String> {
        let s = v.as_str().ok_or("\"name\" must be a string")?;
        if s.is_empty() || s.len() > 128 {
            return Err("\"name\" must be 1 to 128 characters".into());
        }
        if s == "." || s == ".." || s.chars().any(|c| c == '/' || c.is_control()) {
            return Err(format!(
                "\"name\" {s:?} must not be \".\" or \"..\" or contain '/' or control characters"
            ));
        }
        Ok(s.to_string())
    }

    pub fn key(v: &Value) -> Result<String, String> {
        let s = v
            .as_str()
            .ok_or("\"key\" must be a string such as \"system.loadavg1\"")?;
        let (plugin, metric) = s.split_once('.').unwrap_or((s, ""));
        if plugin.is_empty() || metric.is_empty() {
            return Err(format!(
                "\"key\" {s:?} must look like \"plugin.metric\", e.g. \"system.loadavg1\""
            ));
        }
        Ok(s.to_string())
    }

    /// `null` and `""` both mean "no argument" (the Python logger wrote `""`).
    pub fn arg(v: &Value) -> Result<Option<String>, String> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err("\"arg\" must be a string or null".into()),
        }
    }

    pub fn interval(v: &Value) -> Result<u64, String> {
        const WHAT: &str = "\"interval\" must be a whole number of seconds >= 1";
        let n = v.as_f64().ok_or_else(|| format!("{WHAT}, got {v}"))?;
        if n < 1.0 || n.fract() != 0.0 || n > 31_536_000.0 {
            return Err(format!("{WHAT} (and at most one year), got {v}"));
        }
        Ok(n as u64)
    }

    pub fn tags(v: &Value) -> Result<BTreeMap<String, String>, String> {
        const WHAT: &str = "\"tags\" must be an object of strings, e.g. {\"room\": \"lab\"}";
        let obj = match v {
            Value::Null => return Ok(BTreeMap::new()),
            Value::Object(o) => o,
            _ => return Err(WHAT.into()),
        };
        let mut tags = BTreeMap::new();
        for (k, v) in obj {
            let v = v.as_str().ok_or_else(|| format!("{WHAT}; tag {k:?} is not a string"))?;
            if k.is_empty() || k == "item" {
                return Err(format!(
                    "tag name {k:?} is reserved or empty; outputs add item=<name> to every point"
                ));
            }
            tags.insert(k.clone(), v.to_string());
        }
        Ok(tags)
    }

    pub fn enabled(v: &Value) -> Result<bool, String> {
        v.as_bool().ok_or_else(|| "\"enabled\" must be true or false".into())
    }
}

/// A parsed item plus the keys it carried that an item does not have.
pub struct ParsedItem {
    pub spec: ItemSpec,
    pub unknown: Vec<String>,
}

/// Parses one item object. `name`, `key` and `interval` are required.
pub fn parse_item(v: &Value) -> Result<ParsedItem, String> {
    let obj = v.as_object().ok_or("an item must be a JSON object")?;
    let req = |f: &str| obj.get(f).ok_or_else(|| format!("missing required field \"{f}\""));
    let spec = ItemSpec {
        name: item_fields::name(req("name")?)?,
        key: item_fields::key(req("key")?)?,
        interval: item_fields::interval(req("interval")?)?,
        arg: obj.get("arg").map(item_fields::arg).transpose()?.flatten(),
        tags: obj.get("tags").map(item_fields::tags).transpose()?.unwrap_or_default(),
        enabled: obj
            .get("enabled")
            .map(item_fields::enabled)
            .transpose()?
            .unwrap_or(true),
    };
    let unknown = obj
        .keys()
        .filter(|k| !ITEM_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(ParsedItem { spec, unknown })
}

/// What a plugin is allowed to touch. Everything is denied unless listed; the
/// rules of each kind are checked in its file under `capabilities/`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Files the plugin may read whole through `host.read-file`.
    #[serde(default)]
    pub files: Vec<String>,
    /// Where `http.send` may connect: `"any"`, hosts, `host:port`, networks.
    #[serde(default)]
    pub http: Vec<NetRule>,
    /// Which targets `ping.echo` may ping (same rules as `http`).
    #[serde(default)]
    pub ping: Vec<NetRule>,
    /// I2C buses and device addresses.
    #[serde(default)]
    pub i2c: Vec<I2cGrant>,
    /// Whether the plugin may send SSDP searches.
    #[serde(default)]
    pub discovery: bool,
}

impl Grants {
    /// The grants as the config spells them (for `GET /plugins`).
    pub fn to_json(&self) -> Value {
        let i2c: Vec<Value> = self
            .i2c
            .iter()
            .map(|g| match &g.addresses {
                Some(a) => serde_json::json!({"bus": g.bus, "addresses": a.iter().map(|a| format!("{a:#04x}")).collect::<Vec<_>>()}),
                None => serde_json::json!({"bus": g.bus}),
            })
            .collect();
        serde_json::json!({
            "files": self.files,
            "http": self.http,
            "ping": self.ping,
            "i2c": i2c,
            "discovery": self.discovery,
        })
    }

    /// A short human summary, e.g. for the startup log.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.files.is_empty() {
            parts.push(format!("files {}", self.files.join(", ")));
        }
        let rules = |r: &[NetRule]| r.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
        if !self.http.is_empty() {
            parts.push(format!("http to {}", rules(&self.http)));
        }
        if !self.ping.is_empty() {
            parts.push(format!("ping to {}", rules(&self.ping)));
        }
        for g in &self.i2c {
            match &g.addresses {
                Some(a) => {
                    let a: Vec<String> = a.iter().map(|a| format!("{a:#04x}")).collect();
                    parts.push(format!("i2c bus {} at {}", g.bus, a.join(", ")))
                }
                None => parts.push(format!("i2c bus {} (all addresses)", g.bus)),
            }
        }
        if self.discovery {
            parts.push("ssdp discovery".into());
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// The private networks where the standard network collectors' devices live
/// (WeMo switches, ISEMS nodes): their default `http` grant.
const LOCAL_NETWORKS: [&str; 6] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
];

/// Grants the shipped plugins need, used when the config names none for them
/// (a legacy rpdemo config carries no grants at all).
pub fn default_grants(plugin: &str) -> Option<Grants> {
    let local = || {
        LOCAL_NETWORKS
            .iter()
            .map(|n| NetRule::parse(n).expect("valid"))
            .collect()
    };
    match plugin {
        "system" => Some(Grants {
            files: vec!["/proc/loadavg".into(), "/sys/devices/system/cpu/online".into()],
            ..Grants::default()
        }),
        // Whatever the operator asks to ping in an item's arg.
        "net" => Some(Grants {
            ping: vec![NetRule::Any],
            ..Grants::default()
        }),
        // The Sense HAT's HTS221 and LPS25H on the Pi's bus 1.
        "sensehat" => Some(Grants {
            i2c: vec![I2cGrant {
                bus: 1,
                addresses: Some(vec![0x5C, 0x5F]),
            }],
            ..Grants::default()
        }),
        "wemo" => Some(Grants {
            http: local(),
            discovery: true,
            ..Grants::default()
        }),
        "isems" => Some(Grants {
            http: local(),
            ..Grants::default()
        }),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    pub listen: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            listen: DEFAULT_LISTEN.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    pub path: PathBuf,
    /// Samples older than this are pruned (and not stored). 0 keeps everything.
    pub retention_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: DEFAULT_STORE_PATH.into(),
            retention_days: 30,
        }
    }
}

/// Limits every plugin call runs under.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// Linear-memory cap per instance. Python/JS plugins need at least ~16 MiB.
    pub memory_mib: u32,
    /// CPU deadline of one `sample` or `describe` call: the plugin's own
    /// running time, not counting waits on capabilities (network, I2C).
    pub call_timeout_ms: u64,
    /// Longest a call may wait on capabilities in all (network, I2C); a call
    /// lasts at most this plus `call_timeout_ms`.
    pub call_wall_timeout_ms: u64,
    /// Largest result a call may return (sum of names, tags and values).
    pub max_result_bytes: usize,
    /// Plugin calls running at once; also the size of the instance pool.
    pub max_concurrent_calls: u32,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            memory_mib: 64,
            call_timeout_ms: 5000,
            call_wall_timeout_ms: 30_000,
            max_result_bytes: 1 << 20,
            max_concurrent_calls: 64,
        }
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
    pub sandbox: SandboxSettings,
    pub plugins: BTreeMap<String, Grants>,
    /// I2C buses: which are simulated, with which chips.
    pub i2c: I2cSettings,
    pub http: HttpSettings,
    pub discovery: DiscoverySettings,
    pub items: Vec<ItemSpec>,
    /// rpdemo's InfluxDB database name, kept for the InfluxDB output.
    pub database: Option<String>,
    /// Where samples are forwarded besides the embedded store.
    pub outputs: Vec<crate::outputs::OutputSpec>,
    /// Notes about accepted-but-ignored settings, logged once logging is up.
    pub notes: Vec<String>,
    /// Likely mistakes that do not stop the logger (unknown settings).
    pub warnings: Vec<String>,
}

impl Config {
    /// The grants for a plugin: the config's, else the shipped default, else
    /// none. Shipped defaults go only to a file named after the plugin
    /// (`system.wasm`), so another file cannot claim a standard plugin's name
    /// to get its grants.
    pub fn grants_for(&self, plugin: &str, file: &Path) -> Grants {
        let named_after_plugin = file.file_stem().is_some_and(|s| s == plugin);
        self.plugins
            .get(plugin)
            .cloned()
            .or_else(|| default_grants(plugin).filter(|_| named_after_plugin))
            .unwrap_or_default()
    }
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
    if let Ok(listen) = std::env::var(LISTEN_ENV) {
        api.listen = listen;
    }
    if api.listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "\"api\": \"listen\" must be an address such as \"127.0.0.1:5000\", got {:?}",
            api.listen
        ));
    }
    let store: StoreSettings = section(obj, "store", &mut problems);
    let sandbox: SandboxSettings = section(obj, "sandbox", &mut problems);
    if sandbox.call_wall_timeout_ms < sandbox.call_timeout_ms {
        problems.push("\"sandbox\": call_wall_timeout_ms must be at least call_timeout_ms".into());
    }
    if sandbox.memory_mib < 1 || sandbox.call_timeout_ms < 10 || sandbox.max_concurrent_calls < 1 {
        problems
            .push("\"sandbox\": memory_mib must be >= 1, call_timeout_ms >= 10 and max_concurrent_calls >= 1".into());
    }

    let mut plugins = BTreeMap::new();
    match obj.get("plugins") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, v) in m {
                match Grants::deserialize(v) {
                    Ok(g) => {
                        plugins.insert(name.clone(), g);
                    }
                    Err(e) => problems.push(format!("\"plugins\": grants of plugin \"{name}\": {e}")),
                }
            }
        }
        Some(_) => problems.push(
            "\"plugins\" must map plugin names to grants, e.g. {\"system\": {\"files\": [\"/proc/loadavg\"]}}".into(),
        ),
    }

    let i2c: I2cSettings = section(obj, "i2c", &mut problems);
    problems.extend(i2c.check());
    let http: HttpSettings = section(obj, "http", &mut problems);
    problems.extend(http.check());
    let discovery: DiscoverySettings = section(obj, "discovery", &mut problems);
    problems.extend(discovery.check());

    let mut items: Vec<ItemSpec> = Vec::new();
    match obj.get("items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, v) in list.iter().enumerate() {
                let label = match v.get("name").and_then(Value::as_str) {
                    Some(n) => format!("item \"{n}\" (items[{i}])"),
                    None => format!("items[{i}]"),
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
                vec![crate::outputs::OutputSpec::rpdemo(db)]
            }
            None => Vec::new(),
        },
        Some(v) => crate::outputs::settings::parse(v, &mut problems),
    };
    /// Settings of the Python rpdemo logger that have no meaning here.
    const LEGACY: [&str; 1] = ["polling_threads"];
    const KNOWN: [&str; 15] = [
        "log_level",
        "plugins_dir",
        "plugins_watch",
        "plugins_rescan_s",
        "cache_dir",
        "api",
        "store",
        "sandbox",
        "plugins",
        "i2c",
        "http",
        "discovery",
        "items",
        "database",
        "outputs",
    ];
    for key in obj.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        if LEGACY.contains(&key.as_str()) {
            notes.push(format!("ignoring legacy setting \"{key}\" (not needed by datalogger)"));
        } else {
            let hint = KNOWN
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
        sandbox,
        plugins,
        i2c,
        http,
        discovery,
        items,
        database,
        outputs,
        notes,
        warnings,
    })
}

/// The config file as a JSON document, rewritten in place when items change.
/// Settings the logger does not know are kept as they were.
pub struct ConfigFile {
    path: PathBuf,
    doc: Value,
}

impl ConfigFile {
    pub fn new(path: PathBuf, doc: Value) -> Self {
        ConfigFile { path, doc }
    }

    /// Replaces the `items` list and writes the file atomically: a temporary file
    /// in the same folder, synced, then renamed over the old one.
    pub fn save_items(&mut self, items: &[ItemSpec]) -> std::io::Result<()> {
        if let Value::Object(m) = &mut self.doc {
            m.insert(
                "items".into(),
                Value::Array(items.iter().map(ItemSpec::to_json).collect()),
            );
        }
        let mut text = serde_json::to_string_pretty(&self.doc).map_err(std::io::Error::other)?;
        text.push('\n');
        write_atomically(&self.path, text.as_bytes())
    }
}

pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("config");
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(c.outputs, vec![crate::outputs::OutputSpec::rpdemo("rpdemo")]);
        assert_eq!(c.items[0].arg, None);
        assert_eq!(c.items[0].interval, 2);
        assert!(c.notes.iter().any(|n| n.contains("polling_threads")));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let system = Path::new("plugins/dist/system.wasm");
        assert_eq!(
            c.grants_for("system", system).files.len(),
            2,
            "standard plugin gets default grants"
        );
        assert!(
            c.grants_for("system", Path::new("x/impostor.wasm")).files.is_empty(),
            "defaults only for the file named after the plugin"
        );
        assert!(
            c.grants_for("other", Path::new("other.wasm")).files.is_empty(),
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
        assert!(c.grants_for("system", Path::new("system.wasm")).files.is_empty());
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
        let g = c.grants_for("sensehat", Path::new("x.wasm"));
        assert_eq!(g.i2c[0].addresses, Some(vec![0x5C, 0x5F]));
        assert!(c
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
            c.grants_for("net", Path::new("plugins/net.wasm")).ping,
            vec![NetRule::Any]
        );
        assert!(c.grants_for("net", Path::new("plugins/evil.wasm")).ping.is_empty());
        assert!(c.grants_for("wemo", Path::new("wemo.wasm")).discovery);
        // A config entry replaces the default entirely.
        let c = check(json!({"plugins": {"net": {"ping": ["10.0.0.0/8"]}}})).unwrap();
        assert_eq!(c.grants_for("net", Path::new("net.wasm")).ping.len(), 1);
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, "{\n  \"items\": [\n    {\"name\": 1,}\n]}").unwrap();
        let text = load(&p).unwrap_err().to_string();
        assert!(text.contains("c.json: line 3, column"), "{text}");
    }

    #[test]
    fn saving_items_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, r#"{"database": "rpdemo", "custom": 1, "items": []}"#).unwrap();
        let (_, doc) = load(&p).unwrap();
        let mut file = ConfigFile::new(p.clone(), doc);
        let item = ItemSpec {
            name: "n".into(),
            key: "system.load".into(),
            arg: None,
            interval: 5,
            tags: BTreeMap::new(),
            enabled: false,
        };
        file.save_items(std::slice::from_ref(&item)).unwrap();
        let (c, doc) = load(&p).unwrap();
        assert_eq!(c.items, vec![item]);
        assert_eq!(doc["custom"], json!(1));
    }
}
