//! What a statement can read, loaded once per request: every series in the
//! InfluxDB data model the sinks write (`default` schema: the sample's
//! measurement, its tags plus `item=<name>`, its fields) and each
//! measurement's field types and tag keys.

use super::ast::{KeyMatch, Source};
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub struct SeriesInfo {
    /// The store's series id.
    pub id: i64,
    pub measurement: String,
    /// The sample's tags and `item`.
    pub tags: BTreeMap<String, String>,
}

impl SeriesInfo {
    /// A tag's value; a tag the series lacks reads as `""`, as in InfluxDB.
    pub fn tag(&self, key: &str) -> &str {
        self.tags.get(key).map_or("", String::as_str)
    }

    /// `measurement,k=v,...` as `SHOW SERIES` writes it.
    pub fn key(&self) -> String {
        let mut key = escape(&self.measurement, ", ");
        for (k, v) in &self.tags {
            key.push(',');
            key.push_str(&escape(k, ",= "));
            key.push('=');
            key.push_str(&escape(v, ",= "));
        }
        key
    }
}

fn escape(text: &str, special: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Sorted by measurement, then series key: the order answers list them in.
    pub series: Vec<SeriesInfo>,
    /// measurement → field → InfluxQL type (`float`, `integer`, `boolean`, `string`).
    pub fields: BTreeMap<String, BTreeMap<String, &'static str>>,
    /// measurement → tag keys.
    pub tag_keys: BTreeMap<String, BTreeSet<String>>,
}

impl Catalog {
    pub async fn load(store: &Store) -> anyhow::Result<Catalog> {
        let names = store.names().await?;
        let mut series: Vec<SeriesInfo> = store
            .series(None, &Default::default())
            .await?
            .into_iter()
            .map(|(id, key)| {
                let mut tags = key.tags.clone();
                // As the sinks write it: a point's own `item` tag wins.
                tags.entry("item".to_string()).or_insert_with(|| key.item.clone());
                SeriesInfo {
                    id,
                    measurement: key.measurement,
                    tags,
                }
            })
            .collect();
        series.sort_by(|a, b| (&a.measurement, &a.tags).cmp(&(&b.measurement, &b.tags)));
        let mut tag_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in &series {
            tag_keys
                .entry(s.measurement.clone())
                .or_default()
                .extend(s.tags.keys().cloned());
        }
        let fields = names
            .field_keys
            .into_iter()
            .map(|(m, fields)| {
                let typed = fields.into_iter().map(|(f, kind)| (f, influxql_type(&kind))).collect();
                (m, typed)
            })
            .collect();
        Ok(Catalog {
            series,
            fields,
            tag_keys,
        })
    }

    /// Every measurement name, sorted.
    pub fn measurements(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tag_keys.keys().map(String::as_str).collect();
        names.dedup();
        names
    }

    /// The measurements `from` names (all of them when empty), sorted.
    pub fn measurements_in(&self, from: &[Source]) -> Vec<&str> {
        self.measurements()
            .into_iter()
            .filter(|m| {
                from.is_empty()
                    || from.iter().any(|s| match s {
                        Source::Name(n) => n == m,
                        Source::Regex(p) => p.is_match(m),
                    })
            })
            .collect()
    }

    pub fn series_of<'a>(&'a self, measurement: &'a str) -> impl Iterator<Item = &'a SeriesInfo> + 'a {
        self.series.iter().filter(move |s| s.measurement == measurement)
    }

    pub fn is_tag(&self, measurement: &str, name: &str) -> bool {
        self.tag_keys.get(measurement).is_some_and(|t| t.contains(name))
    }

    pub fn field_type(&self, measurement: &str, name: &str) -> Option<&'static str> {
        self.fields.get(measurement)?.get(name).copied()
    }
}

/// SHOW FIELD KEYS' names: InfluxDB 1.x has no unsigned type, and the sinks
/// write unsigned values as integers.
fn influxql_type(kind: &str) -> &'static str {
    match kind {
        "float" => "float",
        "integer" | "unsigned" => "integer",
        "boolean" => "boolean",
        _ => "string",
    }
}

impl KeyMatch {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            KeyMatch::Equals(k) => k == name,
            KeyMatch::NotEquals(k) => k != name,
            KeyMatch::In(keys) => keys.iter().any(|k| k == name),
            KeyMatch::Regex(p) => p.is_match(name),
            KeyMatch::NotRegex(p) => !p.is_match(name),
        }
    }
}
