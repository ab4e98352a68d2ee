//! The store's tables, and the migration from the first release's layout
//! (one `samples` row per sample with names and fields as JSON text).

use super::codec::encode_fields;
use super::dictionary::{Dictionary, SeriesKey};
use crate::sample::FieldValue;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id          INTEGER PRIMARY KEY,
    item        TEXT NOT NULL,
    measurement TEXT NOT NULL,
    tags        TEXT NOT NULL,  -- JSON object, keys sorted
    UNIQUE (item, measurement, tags)
);
-- Which fields (and types) each series has had: SHOW FIELD KEYS without a scan.
CREATE TABLE IF NOT EXISTS series_fields (
    series INTEGER NOT NULL,
    field  INTEGER NOT NULL,
    type   TEXT    NOT NULL,  -- float, integer, unsigned, boolean, string
    PRIMARY KEY (series, field, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS field_names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- Recent samples, in arrival order: what outputs read from their positions.
-- seq only grows (AUTOINCREMENT), also across compaction.
CREATE TABLE IF NOT EXISTS hot (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    series INTEGER NOT NULL,
    ts_ns  INTEGER NOT NULL,  -- ns since the Unix epoch
    fields BLOB    NOT NULL   -- codec.rs
);
-- One sample per series and timestamp. Time first: live samples append at
-- the end of the index instead of touching one page per series each commit.
CREATE UNIQUE INDEX IF NOT EXISTS hot_time_series ON hot (ts_ns, series);
-- Compacted samples: one series over [start_ns, end_ns] (block.rs).
CREATE TABLE IF NOT EXISTS blocks (
    id       INTEGER PRIMARY KEY,
    series   INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns   INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    data     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_series_end ON blocks (series, end_ns);
-- Per-minute aggregates of one numeric field of one series (rollup.rs).
CREATE TABLE IF NOT EXISTS rollups (
    id       INTEGER PRIMARY KEY,
    series   INTEGER NOT NULL,
    field    INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,  -- first minute
    end_ns   INTEGER NOT NULL,  -- last minute
    data     BLOB    NOT NULL,
    peak     REAL,              -- the highest of the minutes' maxima (NULL in files from before it)
    peak_at  INTEGER            -- the first minute that has it
);
-- Its index (rollups_covering) is made in add_rollup_maxima, after the columns exist.
CREATE TABLE IF NOT EXISTS output_positions (
    output TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL
);
-- Batches a server refused (HTTP 400): kept for inspection, not retried.
CREATE TABLE IF NOT EXISTS rejected_batches (
    id        INTEGER PRIMARY KEY,
    output    TEXT    NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    status    INTEGER NOT NULL,
    message   TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    at_ns     INTEGER NOT NULL
);
-- Pushed payloads no decoder could read (push sources): kept for inspection,
-- the newest `REJECTED_PAYLOADS_KEPT` per source.
CREATE TABLE IF NOT EXISTS rejected_payloads (
    id      INTEGER PRIMARY KEY,
    source  TEXT    NOT NULL,
    topic   TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    payload BLOB    NOT NULL,
    at_ns   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_payloads_source ON rejected_payloads (source, id);
";

/// Rows moved per transaction: a crash mid-way leaves both tables consistent
/// and the next start carries on.
const MIGRATE_BATCH: i64 = 50_000;

/// Creates the tables, and moves a first-release `samples` table into them,
/// keeping every sample's sequence number so output positions stay valid.
/// Each batch is copied and deleted in one transaction: nothing is deleted
/// before its copy is committed.
pub fn prepare(c: &mut Connection) -> anyhow::Result<()> {
    c.execute_batch(SCHEMA)?;
    add_rollup_maxima(c)?;
    let old: bool = c.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'samples'",
        [],
        |r| r.get(0),
    )?;
    if !old {
        return Ok(());
    }
    let total: i64 = c.query_row("SELECT COUNT(*) FROM samples", [], |r| r.get(0))?;
    tracing::info!("migrating {total} samples to the compact store layout");
    let mut dict = Dictionary::load(c)?;
    let mut moved = 0;
    loop {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, String, String, String, String, String, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT seq, item, measurement, tags, fields, field_types, ts_ns FROM samples ORDER BY seq LIMIT ?1",
            )?;
            let rows = stmt.query_map([MIGRATE_BATCH], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        if rows.is_empty() {
            // The sequence carries on after the highest number the old table used.
            let seq_of = |name: &str| -> rusqlite::Result<Option<i64>> {
                tx.query_row("SELECT seq FROM sqlite_sequence WHERE name = ?1", [name], |r| r.get(0))
                    .optional()
            };
            let old_seq = seq_of("samples")?.unwrap_or(0);
            match seq_of("hot")? {
                None => tx.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('hot', ?1)", [old_seq])?,
                Some(hot) => tx.execute(
                    "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'hot'",
                    [hot.max(old_seq)],
                )?,
            };
            tx.execute_batch("DROP TABLE samples")?;
            tx.commit()?;
            tracing::info!("migrated {moved} samples; the old table's space is reused by new samples");
            return Ok(());
        }
        for (seq, item, measurement, tags, fields, types, ts) in &rows {
            let sample = (|| -> anyhow::Result<_> {
                let tags: BTreeMap<String, String> = serde_json::from_str(tags)?;
                Ok((tags, v1_fields(fields, types)?))
            })();
            let (tags, fields) = match sample {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("migration: skipping unreadable sample {seq}: {e:#}");
                    continue;
                }
            };
            let key = SeriesKey {
                item: item.clone(),
                measurement: measurement.clone(),
                tags,
            };
            let series = dict.series_id(&tx, &key)?;
            let mut named = Vec::with_capacity(fields.len());
            for (name, value) in &fields {
                let id = dict.field_name_id(&tx, name)?;
                tx.prepare_cached("INSERT OR IGNORE INTO series_fields (series, field, type) VALUES (?1, ?2, ?3)")?
                    .execute(params![series, id, type_name(value)])?;
                named.push((id, value));
            }
            tx.execute(
                "INSERT OR IGNORE INTO hot (seq, series, ts_ns, fields) VALUES (?1, ?2, ?3, ?4)",
                params![seq, series, ts, encode_fields(&named)],
            )?;
        }
        let last = rows.last().map(|r| r.0).unwrap_or(0);
        tx.execute("DELETE FROM samples WHERE seq <= ?1", [last])?;
        tx.commit()?;
        moved += rows.len();
    }
}

/// Files from before the rollups kept their maximum get the columns, empty:
/// readers decode such rows' blobs as before, and day merges fill them in.
fn add_rollup_maxima(c: &Connection) -> rusqlite::Result<()> {
    let has: bool = c.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('rollups') WHERE name = 'peak'",
        [],
        |r| r.get(0),
    )?;
    if !has {
        c.execute_batch("ALTER TABLE rollups ADD COLUMN peak REAL; ALTER TABLE rollups ADD COLUMN peak_at INTEGER;")?;
    }
    // Covering: ranking reads a block's span and peak from the index alone.
    // In the table they sit after the blob, where reading them walks its
    // overflow pages (which made ranking an hour slower, not faster).
    c.execute_batch(
        "DROP INDEX IF EXISTS rollups_series_field_end;
         CREATE INDEX IF NOT EXISTS rollups_covering ON rollups (series, field, end_ns, start_ns, peak, peak_at);",
    )
}

/// A field type as `series_fields` (and InfluxDB's SHOW FIELD KEYS) names it.
pub fn type_name(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::Float(_) => "float",
        FieldValue::Int(_) => "integer",
        FieldValue::Uint(_) => "unsigned",
        FieldValue::Boolean(_) => "boolean",
        FieldValue::Text(_) => "string",
    }
}

/// The first release's fields: a JSON object plus one type letter per field.
fn v1_fields(json: &str, types: &str) -> anyhow::Result<Vec<(String, FieldValue)>> {
    // serde_json keeps the object's order (preserve_order is not enabled, so
    // read the pairs in text order with a streaming visitor).
    use serde::de::{DeserializeSeed, Error, MapAccess, Visitor};
    struct Fields<'a>(&'a [u8]);
    impl<'de> DeserializeSeed<'de> for Fields<'_> {
        type Value = Vec<(String, FieldValue)>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Fields<'_> {
        type Value = Vec<(String, FieldValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of fields")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(self.0.len());
            while let Some(name) = map.next_key::<String>()? {
                let value = match self.0.get(out.len()) {
                    Some(b'f') => FieldValue::Float(map.next_value()?),
                    Some(b'i') => FieldValue::Int(map.next_value()?),
                    Some(b'u') => FieldValue::Uint(map.next_value()?),
                    Some(b'b') => FieldValue::Boolean(map.next_value()?),
                    Some(b's') => FieldValue::Text(map.next_value()?),
                    _ => return Err(A::Error::custom(format!("field {name} has no valid type letter"))),
                };
                out.push((name, value));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    Ok(Fields(types.as_bytes()).deserialize(&mut de)?)
}
