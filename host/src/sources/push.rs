//! Push sources: samples that arrive instead of being polled (today the
//! InfluxDB-compatible write endpoints, `api/write.rs`). Each source is named
//! in the config's `"sources"`; its name is the store's item for everything
//! it receives, so pushed samples are queried and forwarded like polled ones.
//! A sample is acknowledged only once the store has committed it.

use crate::sample::Sample;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;

/// InfluxDB's own default for `max-body-size`: the largest write body (after
/// gzip is undone) a write source accepts unless it says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25_000_000;

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
        match &spec.write {
            None => {
                problem("it says neither how samples arrive; add \"write\": {} to accept InfluxDB line protocol".into())
            }
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
        PushSource {
            spec,
            stats: Mutex::new(SourceStats::default()),
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
