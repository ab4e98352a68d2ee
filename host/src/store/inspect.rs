//! Read-only, synchronous access to a store file another process may be
//! writing: what the end-to-end tests and benchmarks look at.

use super::dictionary::Dictionary;
use super::{codec, query, SampleFilter};
use crate::sample::Sample;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::RwLock;

/// A stored sample; `seq` is `None` once it is compacted.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSample {
    pub seq: Option<i64>,
    pub sample: Sample,
}

pub struct Inspector {
    conn: Connection,
    dict: RwLock<Dictionary>,
}

impl Inspector {
    /// `None` while the file or its tables do not exist yet.
    pub fn open(path: &Path) -> anyhow::Result<Option<Inspector>> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let ready: bool = conn.query_row(
            "SELECT COUNT(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN ('hot', 'series')",
            [],
            |r| r.get(0),
        )?;
        if !ready {
            return Ok(None);
        }
        let dict = RwLock::new(Dictionary::load(&conn)?);
        Ok(Some(Inspector { conn, dict }))
    }

    /// Every stored sample of `item`, oldest first (by timestamp, then series).
    pub fn item_samples(&self, item: &str) -> anyhow::Result<Vec<StoredSample>> {
        // One snapshot: a compaction committing meanwhile cannot move a sample
        // out of view between the statements.
        let tx = self.conn.unchecked_transaction()?;
        let series = query::series_matching(&self.dict, &tx, Some(item), &SampleFilter::default())?;
        let mut out = Vec::new();
        for s in &series {
            let hot: Vec<(i64, i64)> = {
                let mut stmt = tx.prepare("SELECT ts_ns, seq FROM hot WHERE series = ?1")?;
                let rows = stmt.query_map([s.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let seqs: std::collections::HashMap<i64, i64> = hot.into_iter().collect();
            for sample in query::range(&self.dict, &tx, s, i64::MIN, i64::MAX)? {
                let seq = seqs.get(&sample.timestamp_ns).copied();
                out.push((s.0, StoredSample { seq, sample }));
            }
        }
        out.sort_by_key(|(series, s)| (s.sample.timestamp_ns, *series));
        Ok(out.into_iter().map(|(_, s)| s).collect())
    }

    /// The highest sequence number ever given (0 for none).
    pub fn max_seq(&self) -> anyhow::Result<i64> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'hot'", [], |r| r.get(0))
            .optional()?;
        Ok(seq.unwrap_or(0))
    }

    /// An output's durable position (0 when it has none).
    pub fn position(&self, output: &str) -> anyhow::Result<i64> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM output_positions WHERE output = ?1", [output], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(seq.unwrap_or(0))
    }

    /// How many samples are hot, and how many compacted (in blocks).
    pub fn counts(&self) -> anyhow::Result<(u64, u64)> {
        let hot: i64 = self.conn.query_row("SELECT COUNT(*) FROM hot", [], |r| r.get(0))?;
        let cold: i64 = self
            .conn
            .query_row("SELECT IFNULL(SUM(count), 0) FROM blocks", [], |r| r.get(0))?;
        Ok((hot as u64, cold as u64))
    }

    /// The raw hot row of a sequence number, decoded (to check its stored types).
    pub fn hot_sample(&self, seq: i64) -> anyhow::Result<Option<Sample>> {
        let row: Option<(i64, i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT series, ts_ns, fields FROM hot WHERE seq = ?1", [seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((series, ts, blob)) = row else { return Ok(None) };
        self.dict.write().unwrap().reload(&self.conn)?;
        let key = self.dict.read().unwrap().series(series).cloned();
        let Some(key) = key else { return Ok(None) };
        let fields = query::named(
            &self.dict,
            &self.conn,
            codec::decode_fields(&blob).map_err(anyhow::Error::msg)?,
        )?;
        Ok(Some(Sample {
            measurement: key.measurement.clone(),
            tags: key.tags.clone(),
            fields,
            timestamp_ns: ts,
        }))
    }
}
