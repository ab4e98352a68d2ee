//! The embedded store: a SQLite file used as a durable, append-only log of
//! samples. Every sample gets a growing sequence number; each output keeps its
//! own position in `output_positions` and reads onward from there, so several
//! outputs forward independently and resume after a restart.
//!
//! Samples are written by one thread (`writer.rs`), which commits whatever has
//! queued up in one transaction. Everything else goes through a `Store`'s own
//! connection (WAL mode lets it run beside the writer): reads, and the small
//! bookkeeping writes of an output — its position and set-aside batches —
//! which wait out the writer's lock (`busy_timeout`) like any SQLite writer.
//!
//! SQLite (via rusqlite, bundled) because the file can be inspected with the
//! `sqlite3` shell and survives power loss; see ARCHITECTURE.md.

mod codec;
mod writer;

use crate::sample::Sample;
use codec::{readable, row_from_sql};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use writer::Command;
pub use writer::WriteHealth;

pub const DEFAULT_STORE_PATH: &str = "data/datalogger.db";

/// The `"store"` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    pub path: PathBuf,
    /// Samples older than this are pruned (and not stored). 0 keeps everything.
    pub retention_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: DEFAULT_STORE_PATH.into(),
            retention_days: 30,
        }
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS samples (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    item        TEXT    NOT NULL,
    measurement TEXT    NOT NULL,
    tags        TEXT    NOT NULL,  -- JSON object, keys sorted
    fields      TEXT    NOT NULL,  -- JSON object, in the plugin's order
    field_types TEXT    NOT NULL,  -- one letter a field: f float, i int, u uint, b bool, s string
    ts_ns       INTEGER NOT NULL   -- ns since the Unix epoch
);
-- One sample per series and timestamp: re-sent samples are ignored.
CREATE UNIQUE INDEX IF NOT EXISTS samples_series_time ON samples (item, measurement, tags, ts_ns);
CREATE INDEX IF NOT EXISTS samples_time ON samples (ts_ns);
-- An item's newest samples without sorting its whole history.
CREATE INDEX IF NOT EXISTS samples_item_time ON samples (item, ts_ns);
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
";

/// Two subqueries, because SQLite answers MIN or MAX alone from the rowid
/// b-tree in O(1) but scans the whole table for both in one SELECT.
const BOUNDS_SQL: &str = "SELECT IFNULL((SELECT MIN(seq) FROM samples), 0), IFNULL((SELECT MAX(seq) FROM samples), 0)";

/// Queue depth between samplers and the writer; senders wait when it is full.
const QUEUE: usize = 4096;

/// Which of an item's samples a read returns (all `None`/empty: every one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleFilter {
    /// Inclusive bounds, ns since the Unix epoch.
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    pub measurement: Option<String>,
    /// Every one of these tags, with exactly this value.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// What `append` did with each sample, in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Appended {
    /// `true` where the sample was stored; `false` for a duplicate of a stored
    /// series and timestamp (or one older than retention).
    pub stored: Vec<bool>,
}

impl Appended {
    pub fn count(&self) -> usize {
        self.stored.iter().filter(|s| **s).count()
    }
}

/// A stored sample with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub seq: i64,
    pub item: String,
    pub sample: Sample,
}

#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Command>,
    conn: Arc<Mutex<Connection>>,
    path: Arc<Path>,
    health: Arc<Mutex<WriteHealth>>,
    /// 0 keeps everything.
    retention_ns: i64,
}

impl Store {
    /// Opens (creating if needed) the store and starts its writer thread.
    /// `retention_days` = 0 keeps everything.
    pub fn open(path: &Path, retention_days: u32) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let writer = open_connection(path)?;
        writer.execute_batch(SCHEMA)?;
        let conn = open_connection(path)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let retention_ns = retention_days as i64 * 86_400 * 1_000_000_000;
        let health = Arc::new(Mutex::new(WriteHealth::default()));
        let writer_health = health.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run_writer(writer, rx, retention_ns, writer_health))?;
        Ok(Store {
            tx,
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::from(path),
            health,
            retention_ns,
        })
    }

    /// The same store with a connection of its own, so a busy reader (an
    /// output catching up on a backlog) never waits for another (the API).
    pub fn with_own_connection(&self) -> anyhow::Result<Store> {
        let conn = open_connection(&self.path)?;
        Ok(Store {
            tx: self.tx.clone(),
            conn: Arc::new(Mutex::new(conn)),
            path: self.path.clone(),
            health: self.health.clone(),
            retention_ns: self.retention_ns,
        })
    }

    /// Whether samples can be written now, and what is held meanwhile.
    pub fn write_health(&self) -> WriteHealth {
        self.health.lock().unwrap().clone()
    }

    /// The oldest timestamp `append` keeps now (older samples fall outside the
    /// retention period and are not stored); `None` when it keeps everything.
    pub fn oldest_kept_ns(&self) -> Option<i64> {
        (self.retention_ns > 0).then(|| crate::sample::now_ns() - self.retention_ns)
    }

    /// Appends an item's samples; says which were new (duplicates of a
    /// stored series and timestamp, and samples older than retention, are not).
    /// While the store cannot be written (a full disk) the samples are held in
    /// memory, up to a bound, and none is reported stored: see `write_health`.
    pub async fn append(&self, item: &str, samples: Vec<Sample>) -> anyhow::Result<Appended> {
        let (done, wait) = oneshot::channel();
        let cmd = Command::Append {
            item: item.to_string(),
            samples,
            done,
        };
        self.tx
            .send(cmd)
            .await
            .map_err(|_| anyhow::anyhow!("store writer stopped"))?;
        wait.await?.map_err(anyhow::Error::msg)
    }

    /// Deletes samples older than the retention period; returns how many.
    pub async fn prune(&self) -> anyhow::Result<usize> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Prune { done })
            .await
            .map_err(|_| anyhow::anyhow!("store writer stopped"))?;
        wait.await?.map_err(anyhow::Error::msg)
    }

    /// The newest `limit` samples of an item that pass `filter`, newest first.
    pub async fn recent(&self, item: &str, filter: &SampleFilter, limit: usize) -> anyhow::Result<Vec<Sample>> {
        let (item, filter) = (item.to_string(), filter.clone());
        self.on_own_connection(move |c| {
            let mut sql = String::from(
                "SELECT seq, item, measurement, tags, fields, field_types, ts_ns FROM samples WHERE item = ?",
            );
            let mut args: Vec<rusqlite::types::Value> = vec![item.into()];
            if let Some(from) = filter.from_ns {
                sql.push_str(" AND ts_ns >= ?");
                args.push(from.into());
            }
            if let Some(to) = filter.to_ns {
                sql.push_str(" AND ts_ns <= ?");
                args.push(to.into());
            }
            if let Some(m) = &filter.measurement {
                sql.push_str(" AND measurement = ?");
                args.push(m.clone().into());
            }
            for (k, v) in &filter.tags {
                sql.push_str(" AND json_extract(tags, ?) = ?");
                args.push(format!("$.\"{}\"", k.replace('"', "\\\"")).into());
                args.push(v.clone().into());
            }
            sql.push_str(" ORDER BY ts_ns DESC, seq DESC LIMIT ?");
            args.push((limit as i64).into());
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), row_from_sql)?;
            Ok(readable(rows)?.into_iter().map(|r| r.sample).collect())
        })
        .await
    }

    /// Up to `limit` rows after sequence number `after`, oldest first: what an
    /// output reads from its position.
    pub async fn read_after(&self, after: i64, limit: usize) -> anyhow::Result<Vec<Row>> {
        self.on_own_connection(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, item, measurement, tags, fields, field_types, ts_ns FROM samples
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit as i64], row_from_sql)?;
            readable(rows)
        })
        .await
    }

    /// An output's durable position (0 when it has none yet).
    pub async fn position(&self, output: &str) -> anyhow::Result<i64> {
        let output = output.to_string();
        self.on_own_connection(move |c| {
            let seq = c
                .query_row("SELECT seq FROM output_positions WHERE output = ?1", [output], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(seq.unwrap_or(0))
        })
        .await
    }

    /// Moves an output's position forward, after its batch was acknowledged.
    pub async fn set_position(&self, output: &str, seq: i64) -> anyhow::Result<()> {
        let output = output.to_string();
        self.on_own_connection(move |c| {
            c.execute(
                "INSERT INTO output_positions (output, seq) VALUES (?1, ?2)
                 ON CONFLICT (output) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                params![output, seq],
            )?;
            Ok(())
        })
        .await
    }

    /// The lowest and highest sequence numbers in the log ((0, 0) when empty).
    pub async fn bounds(&self) -> anyhow::Result<(i64, i64)> {
        self.on_own_connection(|c| Ok(c.query_row(BOUNDS_SQL, [], |r| Ok((r.get(0)?, r.get(1)?)))?))
            .await
    }

    /// Samples with `after < seq <= upto`, only those of `items` and
    /// `measurements` when given.
    pub async fn count_range(
        &self,
        after: i64,
        upto: i64,
        items: Option<&[String]>,
        measurements: Option<&[String]>,
    ) -> anyhow::Result<u64> {
        let (items, measurements) = (items.map(<[String]>::to_vec), measurements.map(<[String]>::to_vec));
        self.on_own_connection(move |c| {
            let mut sql = String::from("SELECT COUNT(*) FROM samples WHERE seq > ? AND seq <= ?");
            let mut args: Vec<rusqlite::types::Value> = vec![after.into(), upto.into()];
            for (column, list) in [("item", &items), ("measurement", &measurements)] {
                if let Some(list) = list {
                    sql.push_str(&format!(
                        " AND {column} IN ({})",
                        vec!["?"; list.len().max(1)].join(",")
                    ));
                    args.extend(list.iter().map(|v| v.clone().into()));
                    if list.is_empty() {
                        args.push(rusqlite::types::Value::Null);
                    }
                }
            }
            let n: i64 = c.query_row(&sql, rusqlite::params_from_iter(args), |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    /// How many samples lie after `after`, and the timestamp of the first one.
    /// Sequence numbers only grow, have no gaps (see `insert`) and only the
    /// oldest are ever deleted, so the count is the distance to the newest one
    /// (no scan of the backlog).
    pub async fn backlog(&self, after: i64) -> anyhow::Result<(u64, Option<i64>)> {
        self.on_own_connection(move |c| {
            let (min, max): (i64, i64) = c.query_row(BOUNDS_SQL, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let first: Option<i64> = c
                .query_row(
                    "SELECT ts_ns FROM samples WHERE seq > ?1 ORDER BY seq LIMIT 1",
                    [after],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(((max - after.max(min - 1)).max(0) as u64, first))
        })
        .await
    }

    /// Keeps a batch a server refused, so it can be inspected and replayed.
    pub async fn set_aside(
        &self,
        output: &str,
        seqs: (i64, i64),
        status: u16,
        message: &str,
        body: &str,
    ) -> anyhow::Result<()> {
        let (output, message, body) = (output.to_string(), message.to_string(), body.to_string());
        self.on_own_connection(move |c| {
            c.execute(
                "INSERT INTO rejected_batches (output, first_seq, last_seq, status, message, body, at_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![output, seqs.0, seqs.1, status, message, body, crate::sample::now_ns()],
            )?;
            Ok(())
        })
        .await
    }

    async fn on_own_connection<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&conn.lock().unwrap())).await?
    }
}

fn open_connection(path: &Path) -> anyhow::Result<Connection> {
    let c = Connection::open(path)?;
    // WAL: readers never block the writer; NORMAL sync is durable across a
    // process crash and loses at most the last commit on power loss.
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::FieldValue;
    use std::collections::BTreeMap;

    fn sample(ts: i64, v: f64) -> Sample {
        Sample {
            measurement: "m".into(),
            tags: BTreeMap::from([("a".into(), "1".into())]),
            fields: vec![
                ("v".into(), FieldValue::Float(v)),
                ("i".into(), FieldValue::Int(-3)),
                ("u".into(), FieldValue::Uint(u64::MAX)),
                ("b".into(), FieldValue::Boolean(true)),
                ("s".into(), FieldValue::Text("x \"y\"".into())),
            ],
            timestamp_ns: ts,
        }
    }

    #[tokio::test]
    async fn samples_round_trip_with_exact_types() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), 0).unwrap();
        let s = sample(5, 1.0);
        assert_eq!(store.append("it", vec![s.clone()]).await.unwrap().count(), 1);
        assert_eq!(store.recent("it", &SampleFilter::default(), 10).await.unwrap(), vec![s]);
    }

    #[tokio::test]
    async fn same_series_and_timestamp_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), 0).unwrap();
        assert_eq!(
            store
                .append("it", vec![sample(1, 1.0), sample(2, 2.0)])
                .await
                .unwrap()
                .count(),
            2
        );
        assert_eq!(
            store
                .append("it", vec![sample(2, 9.0), sample(3, 3.0)])
                .await
                .unwrap()
                .stored,
            vec![false, true]
        );
        assert_eq!(
            store.append("other", vec![sample(2, 9.0)]).await.unwrap().count(),
            1,
            "other item, other series"
        );
        let recent = store.recent("it", &SampleFilter::default(), 10).await.unwrap();
        assert_eq!(recent.iter().map(|s| s.timestamp_ns).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(recent[1].fields[0].1, FieldValue::Float(2.0), "the first write wins");
        let seqs: Vec<i64> = store.read_after(0, 10).await.unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            vec![1, 2, 3, 4],
            "ignored duplicates must not leave gaps in the log"
        );
        assert_eq!(store.backlog(1).await.unwrap().0, 3);
        assert_eq!(
            store
                .count_range(0, 4, Some(&["other".to_string()]), None)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.count_range(0, 4, None, Some(&["x".to_string()])).await.unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn outputs_read_from_their_own_durable_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let store = Store::open(&path, 0).unwrap();
            store
                .append("a", (1..=5).map(|t| sample(t, 0.0)).collect())
                .await
                .unwrap();
            let first = store.read_after(0, 3).await.unwrap();
            assert_eq!(first.len(), 3);
            store.set_position("influx", first[2].seq).await.unwrap();
            store.set_position("influx", first[0].seq).await.unwrap(); // never moves back
        }
        let store = Store::open(&path, 0).unwrap();
        let pos = store.position("influx").await.unwrap();
        let rest = store.read_after(pos, 100).await.unwrap();
        assert_eq!(
            rest.iter().map(|r| r.sample.timestamp_ns).collect::<Vec<_>>(),
            vec![4, 5]
        );
        assert_eq!(store.position("other").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn retention_drops_and_prunes_old_samples() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), 1).unwrap();
        let now = crate::sample::now_ns();
        let two_days = 2 * 86_400 * 1_000_000_000;
        assert_eq!(
            store
                .append("a", vec![sample(now - two_days, 0.0), sample(now, 0.0)])
                .await
                .unwrap()
                .count(),
            1
        );
        assert_eq!(store.prune().await.unwrap(), 0);
        assert_eq!(store.recent("a", &SampleFilter::default(), 10).await.unwrap().len(), 1);
    }
}
