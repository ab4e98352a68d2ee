//! The config file as a JSON document, rewritten in place when items change
//! over REST. Settings the logger does not know are kept as they were.

use crate::atomic_file::{remove_stale_temps, write_atomically};
use crate::sources::items::ItemSpec;
use serde_json::Value;
use std::path::PathBuf;

pub struct ConfigFile {
    path: PathBuf,
    doc: Value,
    /// Items that are not the file's (made from environment variables).
    kept_out: Vec<String>,
}

impl ConfigFile {
    pub fn new(path: PathBuf, doc: Value) -> Self {
        ConfigFile {
            path,
            doc,
            kept_out: Vec::new(),
        }
    }

    /// Never writes these items (they come from elsewhere, e.g. `ISEMS_ROUTER_IPS`).
    pub fn keeping_out(mut self, names: &[String]) -> Self {
        self.kept_out = names.to_vec();
        self
    }

    /// Replaces the `items` list and writes the file atomically: a temporary file
    /// in the same folder, synced, then renamed over the old one.
    /// An rpdemo config (it has rpdemo's `"database"`) keeps `"arg": null` on
    /// every item without one: the Python logger reads `item['arg']` and fails
    /// with `KeyError` on a file without it.
    pub fn save_items(&mut self, items: &[ItemSpec]) -> std::io::Result<()> {
        if let Value::Object(m) = &mut self.doc {
            let legacy = m.contains_key("database");
            let list = items
                .iter()
                .filter(|item| !self.kept_out.contains(&item.name))
                .map(|item| {
                    let mut v = item.to_json();
                    if let (true, Value::Object(o)) = (legacy, &mut v) {
                        o.entry("arg").or_insert(Value::Null);
                    }
                    v
                })
                .collect();
            m.insert("items".into(), Value::Array(list));
        }
        let mut text = serde_json::to_string_pretty(&self.doc).map_err(std::io::Error::other)?;
        text.push('\n');
        write_atomically(&self.path, text.as_bytes())
    }

    /// Removes temporary files a rewrite left behind when the logger was
    /// killed in the middle of it; returns them (for the log).
    pub fn remove_stale_temps(&self) -> Vec<PathBuf> {
        remove_stale_temps(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn saving_items_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, r#"{"database": "rpdemo", "custom": 1, "items": []}"#).unwrap();
        let (_, doc) = super::super::load(&p).unwrap();
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
        let (c, doc) = super::super::load(&p).unwrap();
        assert_eq!(c.items, vec![item.clone()]);
        assert_eq!(doc["custom"], json!(1));
        // rpdemo's loader reads item['arg']: a legacy file keeps it, as null.
        assert_eq!(doc["items"][0].get("arg"), Some(&Value::Null), "{doc}");

        let own = dir.path().join("own.json");
        std::fs::write(&own, r#"{"items": []}"#).unwrap();
        let (_, doc) = super::super::load(&own).unwrap();
        ConfigFile::new(own.clone(), doc).save_items(&[item]).unwrap();
        let (_, doc) = super::super::load(&own).unwrap();
        assert_eq!(doc["items"][0].get("arg"), None, "not a legacy file: no null arg");
    }
}
