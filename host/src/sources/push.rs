//! Push sources: samples that arrive instead of being polled: InfluxDB-style
//! writes (`api/write.rs`), MQTT subscriptions (`mqtt.rs`) and payloads POSTed
//! to `/ingest/{source}` (`api/ingest.rs`); the last two are turned into
//! points by a decoder (`decode.rs`). Each source is named in the config's
//! `"sources"`; its name is the store's item for everything it receives, so
//! pushed samples are queried and forwarded like polled ones. A sample is
//! acknowledged only once the store has committed it.

use crate::sample::Sample;
use crate::secret::Secret;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;

/// InfluxDB's own default for `max-body-size`: the largest write body (after
/// gzip is undone) a write source accepts unless it says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25_000_000;

/// The largest MQTT payload (and `/ingest` body) a source accepts unless it
/// says otherwise: an ISEMS payload is under 1 KiB, a big JSON batch fits.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// One entry of `"sources"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The store's item for what this source receives (shares the item namespace).
    pub name: String,
    /// Added to every point that lacks a tag of the same key.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// InfluxDB line protocol over HTTP: `POST /write?db=…`, `POST /api/v2/write?bucket=…`.
    pub write: Option<WriteSettings>,
    /// Messages of an MQTT broker's topics, each payload read by `decoder`.
    pub mqtt: Option<MqttSettings>,
    /// Payloads POSTed to `/ingest/{name}`, read by `decoder`.
    pub ingest: Option<IngestSettings>,
    /// What reads an `mqtt` or `ingest` payload: `"line-protocol"` or
    /// `"json"` (built in) or a plugin's decoder, `"<plugin>.<decoder>"`
    /// (e.g. `"isems.csvlog"`).
    pub decoder: Option<String>,
    /// The `json` decoder's mapping: timestamp key and format, tags, fields.
    pub json: Option<super::json::JsonMapping>,
    /// Store the MQTT topic (or the ingest path) in this tag, e.g. `"topic"`.
    pub topic_tag: Option<String>,
}

impl SourceSpec {
    /// How samples arrive, as `GET /sources` names it.
    pub fn transport(&self) -> &'static str {
        match (&self.write, &self.mqtt) {
            (Some(_), _) => "write",
            (None, Some(_)) => "mqtt",
            (None, None) => "ingest",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriteSettings {
    /// The `db` (v1) or `bucket` (v2) clients write to; the source's name if unset.
    pub database: Option<String>,
    /// The largest body accepted, after gzip is undone (413 beyond it).
    pub max_body_bytes: u64,
}

impl Default for WriteSettings {
    fn default() -> Self {
        WriteSettings {
            database: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// An MQTT subscription. Clean session off with a fixed client id, so the
/// broker keeps QoS 1 messages while the logger is away; each message is
/// acknowledged only after its samples are committed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSettings {
    /// `mqtt://host[:port]` (port 1883 by default). TLS (`mqtts://`) is not supported yet.
    pub url: String,
    /// Topic filters, e.g. `["/isems/+/csvlog"]`.
    pub topics: Vec<String>,
    /// 0 (at most once) or 1 (at least once: acknowledged after commit).
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// The broker keeps the session under this id; `datalogger-<source name>` if unset.
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Larger payloads are refused by the client (the broker cannot know).
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: usize,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
}

fn default_qos() -> u8 {
    1
}

fn default_max_payload() -> usize {
    DEFAULT_MAX_PAYLOAD_BYTES
}

fn default_keep_alive() -> u64 {
    30
}

impl MqttSettings {
    /// The client id the broker keeps this source's session under.
    pub fn client_id_for(&self, source: &str) -> String {
        self.client_id.clone().unwrap_or_else(|| format!("datalogger-{source}"))
    }

    /// Host and port of `url`, or what is wrong with it.
    pub fn address(&self) -> Result<(String, u16), String> {
        let url = url::Url::parse(&self.url).map_err(|e| {
            format!(
                "\"mqtt\": \"url\" {:?} is not a URL ({e}); write mqtt://host:1883",
                self.url
            )
        })?;
        match url.scheme() {
            "mqtt" | "tcp" => {}
            "mqtts" | "ssl" => {
                return Err("\"mqtt\": TLS (mqtts://) is not supported yet; use mqtt:// on a trusted network".into())
            }
            s => return Err(format!("\"mqtt\": \"url\" has scheme {s:?}; write mqtt://host:1883")),
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("\"mqtt\": \"url\" {:?} names no host; write mqtt://host:1883", self.url))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok((host, url.port().unwrap_or(1883)))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// The largest body accepted, after gzip is undone (413 beyond it).
    pub max_body_bytes: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            max_body_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }
}

/// Reads the `"sources"` list; problems name the entry and the fix.
/// `item_names`: the configured items, whose names a source may not take.
pub fn parse_sources(v: &serde_json::Value, item_names: &[&str], problems: &mut Vec<String>) -> Vec<SourceSpec> {
    let Some(list) = v.as_array() else {
        problems.push(
            "\"sources\" must be a list, e.g. [{\"name\": \"lan\", \"write\": {}}] to accept InfluxDB writes".into(),
        );
        return Vec::new();
    };
    let mut specs: Vec<SourceSpec> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let label = match entry.get("name").and_then(|n| n.as_str()) {
            Some(n) if n.chars().count() <= super::items::limits::NAME => format!("source \"{n}\" (sources[{i}])"),
            _ => format!("sources[{i}]"),
        };
        let spec = match SourceSpec::deserialize(entry) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{label}: {e}"));
                continue;
            }
        };
        let mut problem = |p: String| problems.push(format!("{label}: {p}"));
        if let Err(e) = super::items::item_fields::name(&serde_json::Value::String(spec.name.clone())) {
            problem(e);
        }
        if item_names.contains(&spec.name.as_str()) {
            problem("an item has this name; sources and items share names (the store's \"item\"), rename one".into());
        }
        if specs.iter().any(|s| s.name == spec.name) {
            problem("the name is used twice; give each source its own name".into());
        }
        for (k, v) in &spec.tags {
            if k.is_empty() || v.is_empty() || k == "time" {
                problem(format!(
                    "\"tags\": {k:?}: {v:?}: tag keys and values must be non-empty and a key may not be \"time\""
                ));
            }
        }
        let transports = [spec.write.is_some(), spec.mqtt.is_some(), spec.ingest.is_some()];
        match transports.iter().filter(|t| **t).count() {
            0 => problem(
                "it says not how samples arrive; add \"write\": {} (InfluxDB line protocol), \"mqtt\": {\"url\": …, \"topics\": […]} or \"ingest\": {}"
                    .into(),
            ),
            1 => {}
            _ => problem("it has more than one of \"write\", \"mqtt\" and \"ingest\"; make one source per transport".into()),
        }
        match (&spec.decoder, spec.write.is_some()) {
            (Some(_), true) => problem(
                "a \"write\" source reads line protocol itself; remove \"decoder\" (decoders are for \"mqtt\" and \"ingest\")".into(),
            ),
            (None, false) if spec.mqtt.is_some() || spec.ingest.is_some() => problem(format!(
                "add \"decoder\": \"{}\" or a plugin's decoder such as \"isems.csvlog\" (GET /plugins lists them), to say how payloads are read",
                super::decode::LINE_PROTOCOL
            )),
            (Some(d), false) => {
                if let Err(e) = super::decode::check_name(d) {
                    problem(e);
                }
            }
            _ => {}
        }
        match (&spec.json, spec.decoder.as_deref() == Some(super::json::NAME)) {
            (Some(mapping), true) => {
                for p in mapping.problems() {
                    problem(p);
                }
            }
            (Some(_), false) => problem(format!(
                "\"json\" is the mapping of the \"{}\" decoder; set \"decoder\": \"{}\" or remove \"json\"",
                super::json::NAME,
                super::json::NAME
            )),
            (None, _) => {}
        }
        if let Some(t) = &spec.topic_tag {
            if t.is_empty() || t == "time" || crate::sample::RESERVED_TAG_KEYS.contains(&t.as_str()) {
                problem(format!("\"topic_tag\": {t:?} cannot be a tag key; use e.g. \"topic\""));
            }
        }
        if let Some(m) = &spec.mqtt {
            if let Err(e) = m.address() {
                problem(e);
            }
            if m.topics.is_empty() || m.topics.iter().any(|t| t.is_empty()) {
                problem(
                    "\"mqtt\": \"topics\" must list at least one non-empty topic filter, e.g. [\"/isems/+/csvlog\"]"
                        .into(),
                );
            }
            if m.qos > 1 {
                problem(format!(
                    "\"mqtt\": \"qos\" is {}; use 1 (acknowledged after commit) or 0",
                    m.qos
                ));
            }
            if m.max_payload_bytes == 0 || m.keep_alive_s < 5 {
                problem("\"mqtt\": \"max_payload_bytes\" must be at least 1 and \"keep_alive_s\" at least 5".into());
            }
            if m.password.is_some() && m.username.is_none() {
                problem("\"mqtt\": a \"password\" needs a \"username\"".into());
            }
            let id = m.client_id_for(&spec.name);
            if id.is_empty() || id.len() > 65535 {
                problem("\"mqtt\": \"client_id\" must not be empty".into());
            }
            let shared = specs.iter().any(|s| {
                s.mqtt
                    .as_ref()
                    .is_some_and(|o| o.url == m.url && o.client_id_for(&s.name) == id)
            });
            if shared {
                problem(format!("\"mqtt\": another source uses client id {id:?} on the same broker; the broker would drop one of them, give each its own \"client_id\""));
            }
        }
        if let Some(i) = &spec.ingest {
            if i.max_body_bytes == 0 {
                problem("\"ingest\": \"max_body_bytes\" must be at least 1".into());
            }
        }
        match &spec.write {
            None => {}
            Some(w) => {
                let db = w.database.as_deref().unwrap_or(&spec.name);
                if db.is_empty() {
                    problem("\"write\": \"database\" is empty; leave it out to use the source's name".into());
                }
                if w.max_body_bytes == 0 {
                    problem("\"write\": \"max_body_bytes\" must be at least 1".into());
                }
                let taken = specs.iter().any(|s| {
                    s.write
                        .as_ref()
                        .is_some_and(|o| o.database.as_deref().unwrap_or(&s.name) == db)
                });
                if taken {
                    problem(format!(
                        "another source already receives writes to database {db:?}; give it its own \"database\""
                    ));
                }
            }
        }
        specs.push(spec);
    }
    specs
}

/// A source's counters, as `GET /sources` shows them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SourceStats {
    /// Requests (or messages) received, good or bad.
    pub requests: u64,
    /// Points committed to the store.
    pub stored: u64,
    /// Points the store already had (same series and timestamp): the first is kept.
    pub duplicates: u64,
    /// Points older than the store keeps (`store.retention_days`): not stored.
    pub too_old: u64,
    /// Lines (or payloads) that could not be read: not stored.
    pub rejected: u64,
    /// The latest problem, e.g. the first bad line of a partial write.
    pub last_error: Option<String>,
    /// When the latest point was committed (RFC 3339 UTC).
    pub last_stored: Option<String>,
    /// Payloads no decoder could read, kept aside with the reason
    /// (`GET /sources/{name}/rejected`).
    pub set_aside: u64,
    /// MQTT: whether the broker connection is up (`null` for other transports).
    pub connected: Option<bool>,
    /// MQTT: connections made to the broker (the first and every reconnect).
    pub connects: u64,
}

/// A configured push source and its counters.
pub struct PushSource {
    pub spec: SourceSpec,
    stats: Mutex<SourceStats>,
}

/// What committing a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Committed {
    pub stored: usize,
    pub duplicates: usize,
    pub too_old: usize,
}

/// Why a batch was not committed: the sender should retry later.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the store cannot be written now (see GET /health); the points are not committed, send them again later")]
    Held,
    #[error("the store failed: {0}; the points are not committed, send them again later")]
    Failed(String),
}

impl PushSource {
    pub fn new(spec: SourceSpec) -> PushSource {
        let connected = spec.mqtt.as_ref().map(|_| false);
        PushSource {
            spec,
            stats: Mutex::new(SourceStats {
                connected,
                ..SourceStats::default()
            }),
        }
    }

    pub fn stats(&self) -> SourceStats {
        self.stats.lock().unwrap().clone()
    }

    /// Counts a request and the lines in it that could not be read.
    pub fn note_received(&self, rejected: usize, first_error: Option<String>) {
        let mut s = self.stats.lock().unwrap();
        s.requests += 1;
        s.rejected += rejected as u64;
        if first_error.is_some() {
            s.last_error = first_error;
        }
    }

    /// Keeps a payload no decoder could read (or only in part) with the
    /// reason, and counts it. A store that cannot keep it is logged, never
    /// fatal: the payload was received and is acknowledged either way.
    pub async fn set_aside(&self, store: &Store, topic: &str, reason: &str, payload: &[u8]) {
        {
            let mut s = self.stats.lock().unwrap();
            s.set_aside += 1;
            s.last_error = Some(crate::wit::bounded(format!("{topic}: {reason}")));
        }
        if let Err(e) = store.set_aside_payload(&self.spec.name, topic, reason, payload).await {
            tracing::error!(source = %self.spec.name, "cannot keep a payload that was not read ({reason}): {e:#}");
        }
    }

    /// MQTT: the connection came up (`true`) or went down with `error`.
    pub fn set_connected(&self, up: bool, error: Option<String>) {
        let mut s = self.stats.lock().unwrap();
        s.connected = Some(up);
        if up {
            s.connects += 1;
        }
        if error.is_some() {
            s.last_error = error;
        }
    }

    /// Adds the source's tags, drops what retention would not keep, appends
    /// the rest and returns once the store has committed them.
    pub async fn commit(&self, store: &Store, mut samples: Vec<Sample>) -> Result<Committed, CommitError> {
        for sample in &mut samples {
            for (k, v) in &self.spec.tags {
                sample.tags.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let before = samples.len();
        if let Some(cutoff) = store.oldest_kept_ns() {
            samples.retain(|s| s.timestamp_ns >= cutoff);
        }
        let too_old = before - samples.len();
        let result = match samples.is_empty() {
            true => Ok(Committed::default()),
            false => match store.append(&self.spec.name, samples).await {
                Ok(a) if a.held => Err(CommitError::Held),
                Ok(a) => Ok(Committed {
                    stored: a.count(),
                    duplicates: a.stored.len() - a.count(),
                    too_old: 0,
                }),
                Err(e) => Err(CommitError::Failed(format!("{e:#}"))),
            },
        };
        let mut s = self.stats.lock().unwrap();
        s.too_old += too_old as u64;
        match result {
            Ok(c) => {
                s.stored += c.stored as u64;
                s.duplicates += c.duplicates as u64;
                if c.stored > 0 {
                    s.last_stored = Some(crate::sample::rfc3339_ns(crate::sample::now_ns()));
                }
                Ok(Committed { too_old, ..c })
            }
            Err(e) => {
                s.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }
}

/// Every configured push source, by name and by the database clients write to.
#[derive(Default)]
pub struct PushSources {
    sources: Vec<Arc<PushSource>>,
    by_database: HashMap<String, Arc<PushSource>>,
}

impl PushSources {
    pub fn new(specs: &[SourceSpec]) -> PushSources {
        let mut sources = PushSources::default();
        for spec in specs {
            let source = Arc::new(PushSource::new(spec.clone()));
            if let Some(w) = &spec.write {
                let db = w.database.clone().unwrap_or_else(|| spec.name.clone());
                sources.by_database.insert(db, source.clone());
            }
            sources.sources.push(source);
        }
        sources
    }

    pub fn list(&self) -> &[Arc<PushSource>] {
        &self.sources
    }

    pub fn get(&self, name: &str) -> Option<&Arc<PushSource>> {
        self.sources.iter().find(|s| s.spec.name == name)
    }

    /// The source receiving writes to `database`.
    pub fn for_database(&self, database: &str) -> Option<&Arc<PushSource>> {
        self.by_database.get(database)
    }

    /// The databases clients may write to, for a "not found" answer.
    pub fn databases(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_database.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value, items: &[&str]) -> (Vec<SourceSpec>, Vec<String>) {
        let mut problems = Vec::new();
        let specs = parse_sources(&v, items, &mut problems);
        (specs, problems)
    }

    #[test]
    fn a_write_source_defaults_its_database_to_its_name() {
        let (specs, problems) = parse(json!([{"name": "lan", "write": {}, "tags": {"site": "home"}}]), &[]);
        assert!(problems.is_empty(), "{problems:?}");
        let sources = PushSources::new(&specs);
        assert_eq!(sources.for_database("lan").unwrap().spec.name, "lan");
        assert_eq!(sources.databases(), vec!["lan"]);
        assert_eq!(specs[0].write.as_ref().unwrap().max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    }

    #[test]
    fn problems_name_the_source_and_the_fix() {
        let cases = [
            (json!({"name": "x"}), "sources", "must be a list"),
            (json!([{"name": "a"}]), "source \"a\" (sources[0])", "add \"write\": {}"),
            (
                json!([{"name": "load", "write": {}}]),
                "source \"load\"",
                "an item has this name",
            ),
            (
                json!([{"name": "a", "write": {}}, {"name": "a", "write": {"database": "b"}}]),
                "sources[1]",
                "used twice",
            ),
            (
                json!([{"name": "a", "write": {}}, {"name": "b", "write": {"database": "a"}}]),
                "sources[1]",
                "already receives writes to database \"a\"",
            ),
            (
                json!([{"name": "a", "write": {"max_body_bytes": 0}}]),
                "source \"a\"",
                "at least 1",
            ),
            (
                json!([{"name": "a", "write": {}, "tags": {"time": "x"}}]),
                "source \"a\"",
                "may not be \"time\"",
            ),
            (json!([{"name": "a/b", "write": {}}]), "source \"a/b\"", "must not"),
            (
                json!([{"name": "a", "ingest": {}, "decoder": "line-protocol", "json": {}}]),
                "source \"a\"",
                "set \"decoder\": \"json\" or remove \"json\"",
            ),
            (
                json!([{"name": "a", "ingest": {}, "decoder": "json", "json": {"tags": ["time"]}}]),
                "source \"a\"",
                "cannot be a tag key",
            ),
            (
                json!([{"name": "a", "write": {"databse": "x"}}]),
                "source \"a\"",
                "unknown field `databse`",
            ),
        ];
        for (config, place, fix) in cases {
            let (_, problems) = parse(config.clone(), &["load"]);
            assert!(
                problems.iter().any(|p| p.contains(place) && p.contains(fix)),
                "{config}: expected a problem with {place:?} and {fix:?}, got {problems:?}"
            );
        }
    }
}
