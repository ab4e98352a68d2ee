//! The config file as a JSON document, rewritten in place when items change
//! over REST. Settings the logger does not know are kept as they were.

use crate::atomic_file::{remove_stale_temps, write_atomically};
use crate::sources::items::ItemSpec;
use serde_json::Value;
use std::path::PathBuf;

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
        assert_eq!(c.items, vec![item]);
        assert_eq!(doc["custom"], json!(1));
    }
}
