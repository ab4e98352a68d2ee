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

/// Size limits of an item's strings, in characters (what JSON Schema's
/// `maxLength` counts, so the OpenAPI document states them exactly). Every tag
/// and the name go into every stored row and every point sent, so they stay
/// small: a name or tag key is an identifier, a tag value a label such as a
/// room or a host name (253 at most), an arg a path, address or device URL.
pub mod limits {
    pub const NAME: usize = 128;
    pub const KEY: usize = 128;
    pub const TAG_KEY: usize = 128;
    pub const TAG_VALUE: usize = 256;
    pub const TAGS: usize = 32;
    pub const ARG: usize = 1024;
}

/// Refuses a string longer than `max` characters, naming the limit and the fix.
fn check_length(what: &str, s: &str, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n > max {
        return Err(format!(
            "{what} is {n} characters long; at most {max} are allowed, shorten it"
        ));
    }
    Ok(())
}

/// The fields an item may carry. Anything else is "unknown".
const ITEM_FIELDS: [&str; 6] = ["name", "key", "arg", "interval", "tags", "enabled"];

/// Reads and checks one field of an item; shared by the config loader and the
/// REST API so both give the same messages.
pub mod item_fields {
    use super::*;

    pub fn name(v: &Value) -> Result<String, String> {
        let s = v.as_str().ok_or("\"name\" must be a string")?;
        if s.is_empty() {
            return Err(format!("\"name\" must be 1 to {} characters", limits::NAME));
        }
        check_length("\"name\"", s, limits::NAME)?;
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
        check_length("\"key\"", s, limits::KEY)?;
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
            Value::String(s) => {
                check_length("\"arg\"", s, limits::ARG)?;
                Ok(Some(s.clone()))
            }
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
        if obj.len() > limits::TAGS {
            return Err(format!(
                "\"tags\" has {} tags; at most {} are allowed, drop some",
                obj.len(),
                limits::TAGS
            ));
        }
        let mut tags = BTreeMap::new();
        for (k, v) in obj {
            check_length("a tag name", k, limits::TAG_KEY)?;
            let v = v.as_str().ok_or_else(|| format!("{WHAT}; tag {k:?} is not a string"))?;
            if k.is_empty() || k == "item" {
                return Err(format!(
                    "tag name {k:?} is reserved or empty; outputs add item=<name> to every point"
                ));
            }
            check_length(&format!("tag {k:?}"), v, limits::TAG_VALUE)?;
            if k.chars().chain(v.chars()).any(char::is_control) {
                return Err(format!(
                    "tag {k:?} contains a control character (e.g. a newline); tags must be plain text"
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(extra: Value) -> Value {
        let mut v = json!({"name": "a", "key": "system.loadavg1", "interval": 1});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    }

    fn refusal(extra: Value) -> String {
        match parse_item(&item(extra)) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn strings_at_their_limit_are_accepted() {
        // Characters, not bytes: a multi-byte name at the limit is fine.
        let parsed = parse_item(&item(json!({
            "name": "é".repeat(limits::NAME),
            "arg": "a".repeat(limits::ARG),
            "tags": (0..limits::TAGS)
                .map(|i| (format!("{i:0>width$}", width = limits::TAG_KEY), Value::from("v".repeat(limits::TAG_VALUE))))
                .collect::<serde_json::Map<_, _>>(),
        })))
        .unwrap();
        assert_eq!(parsed.spec.tags.len(), limits::TAGS);
    }

    #[test]
    fn strings_over_their_limit_are_refused_naming_the_limit() {
        let cases = [
            (json!({"name": "n".repeat(limits::NAME + 1)}), "at most 128"),
            (
                json!({"key": format!("system.{}", "k".repeat(limits::KEY))}),
                "at most 128",
            ),
            (json!({"arg": "a".repeat(limits::ARG + 1)}), "at most 1024"),
            (json!({"tags": {"k".repeat(limits::TAG_KEY + 1): "v"}}), "at most 128"),
            (
                json!({"tags": {"room": "v".repeat(limits::TAG_VALUE + 1)}}),
                "at most 256",
            ),
            (
                json!({"tags": (0..=limits::TAGS).map(|i| (i.to_string(), "v".into())).collect::<serde_json::Map<_, _>>()}),
                "at most 32",
            ),
            (json!({"tags": {"room": "a\nb"}}), "control character"),
        ];
        for (extra, expected) in cases {
            let error = refusal(extra.clone());
            assert!(error.contains(expected), "{extra}: {error}");
            assert!(error.len() < 200, "the message echoes the oversized value: {error}");
        }
    }
}
