//! The series dictionary: (item, measurement, tag set) → a small integer id,
//! and field names → ids, so a stored sample is (series id, timestamp, typed
//! values) instead of its names as text. Rows of the `series` and
//! `field_names` tables are never changed or deleted, so an id once read is
//! valid forever; readers cache them and reload on a miss.

use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

fn static_type(kind: &str) -> Option<&'static str> {
    ["float", "integer", "unsigned", "boolean", "string"]
        .into_iter()
        .find(|k| *k == kind)
}

/// What a series id stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub item: String,
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
}

impl SeriesKey {
    /// The tags as stored: a JSON object with sorted keys.
    pub fn tags_json(&self) -> String {
        serde_json::to_string(&self.tags).unwrap_or_default()
    }
}

#[derive(Default)]
pub struct Dictionary {
    series: HashMap<i64, Arc<SeriesKey>>,
    series_ids: HashMap<Arc<SeriesKey>, i64>,
    fields: HashMap<u32, Arc<str>>,
    field_ids: HashMap<Arc<str>, u32>,
    /// (series, field, type) rows of `series_fields` known to exist.
    series_fields: std::collections::HashSet<(i64, u32, &'static str)>,
}

impl Dictionary {
    pub fn load(c: &Connection) -> rusqlite::Result<Dictionary> {
        let mut d = Dictionary::default();
        d.reload(c)?;
        Ok(d)
    }

    /// Reads what other connections added since.
    pub fn reload(&mut self, c: &Connection) -> rusqlite::Result<()> {
        let max = self.series.keys().max().copied().unwrap_or(0);
        let mut stmt = c.prepare_cached("SELECT id, item, measurement, tags FROM series WHERE id > ?1")?;
        let rows = stmt.query_map([max], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (id, item, measurement, tags) = row?;
            let tags = serde_json::from_str(&tags).unwrap_or_else(|e| {
                tracing::error!("series {id}: unreadable tags {tags:?} ({e}); read as none");
                BTreeMap::new()
            });
            self.add_series(
                id,
                SeriesKey {
                    item,
                    measurement,
                    tags,
                },
            );
        }
        let max = self.fields.keys().max().copied().unwrap_or(0);
        let mut stmt = c.prepare_cached("SELECT id, name FROM field_names WHERE id > ?1")?;
        let rows = stmt.query_map([max], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, name) = row?;
            self.add_field(id, &name);
        }
        if self.series_fields.is_empty() {
            let mut stmt = c.prepare_cached("SELECT series, field, type FROM series_fields")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (series, field, kind) = row?;
                if let Some(kind) = static_type(&kind) {
                    self.series_fields.insert((series, field, kind));
                }
            }
        }
        Ok(())
    }

    pub fn has_field(&self, series: i64, field: u32, kind: &'static str) -> bool {
        self.series_fields.contains(&(series, field, kind))
    }

    pub fn note_field(&mut self, series: i64, field: u32, kind: &'static str) {
        self.series_fields.insert((series, field, kind));
    }

    fn add_series(&mut self, id: i64, key: SeriesKey) {
        let key = Arc::new(key);
        self.series.insert(id, key.clone());
        self.series_ids.insert(key, id);
    }

    fn add_field(&mut self, id: u32, name: &str) {
        let name: Arc<str> = Arc::from(name);
        self.fields.insert(id, name.clone());
        self.field_ids.insert(name, id);
    }

    pub fn series(&self, id: i64) -> Option<&Arc<SeriesKey>> {
        self.series.get(&id)
    }

    pub fn field(&self, id: u32) -> Option<&Arc<str>> {
        self.fields.get(&id)
    }

    pub fn field_id(&self, name: &str) -> Option<u32> {
        self.field_ids.get(name).copied()
    }

    /// Every series, by id.
    pub fn all_series(&self) -> impl Iterator<Item = (i64, &Arc<SeriesKey>)> {
        self.series.iter().map(|(id, k)| (*id, k))
    }

    /// The id of a series, adding it inside the caller's transaction when new.
    /// Call `forget_uncommitted` if that transaction then fails.
    pub fn series_id(&mut self, c: &Connection, key: &SeriesKey) -> rusqlite::Result<i64> {
        if let Some(id) = self.series_ids.get(key) {
            return Ok(*id);
        }
        let tags = key.tags_json();
        let existing: Option<i64> = c
            .query_row(
                "SELECT id FROM series WHERE item = ?1 AND measurement = ?2 AND tags = ?3",
                params![key.item, key.measurement, tags],
                |r| r.get(0),
            )
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                c.execute(
                    "INSERT INTO series (item, measurement, tags) VALUES (?1, ?2, ?3)",
                    params![key.item, key.measurement, tags],
                )?;
                c.last_insert_rowid()
            }
        };
        self.add_series(id, key.clone());
        Ok(id)
    }

    /// The id of a field name, adding it inside the caller's transaction when new.
    pub fn field_name_id(&mut self, c: &Connection, name: &str) -> rusqlite::Result<u32> {
        if let Some(id) = self.field_ids.get(name) {
            return Ok(*id);
        }
        c.execute("INSERT OR IGNORE INTO field_names (name) VALUES (?1)", [name])?;
        let id: u32 = c.query_row("SELECT id FROM field_names WHERE name = ?1", [name], |r| r.get(0))?;
        self.add_field(id, name);
        Ok(id)
    }

    /// After a failed transaction: ids handed out inside it may not exist.
    pub fn forget_uncommitted(&mut self, c: &Connection) -> rusqlite::Result<()> {
        *self = Dictionary::load(c)?;
        Ok(())
    }
}
