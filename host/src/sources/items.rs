//! The poll item model: which key to sample, how often, with which argument.
//! Its field checks are shared by the config loader and the REST API, so both
//! give the same messages.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
        crate::plugins::plugin_of_key(&self.key)
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
