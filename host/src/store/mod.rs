//! The embedded store: a SQLite file holding a series dictionary, recent
//! samples as compact rows (`hot`, in arrival order with a growing sequence
//! number), and older ones compacted into compressed blocks per series with
//! per-minute rollups kept far longer. Each output keeps its own position in
//! `output_positions` and reads hot rows onward from there, so several outputs
//! forward independently and resume after a restart; rows are compacted only
//! once every output has delivered them.
//!
//! Samples are written by one thread (`writer.rs`), which commits whatever has
//! queued up in one transaction; the compactor (`compactor.rs`) runs on its
//! own thread in short transactions. Everything else goes through a `Store`'s
//! own connection (WAL mode lets it run beside them): reads (`query.rs`), and
//! the small bookkeeping writes of an output — its position and set-aside
//! batches — which wait out the writer's lock (`busy_timeout`).
//!
//! SQLite (via rusqlite, bundled) because the file can be inspected with the
//! `sqlite3` shell, has transactions and survives power loss; see ARCHITECTURE.md.

mod block;
mod codec;
mod compactor;
mod dictionary;
pub mod inspect;
mod lock;
mod query;
pub mod rollup;
mod schema;
mod summary;
mod writer;

#[cfg(test)]
mod compaction_tests;

use crate::sample::{FieldValue, Sample};
use dictionary::Dictionary;
pub use dictionary::SeriesKey;
pub use query::Names;
pub use rollup::Aggregate;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
pub use summary::Peak;
use tokio::sync::{mpsc, oneshot};
use writer::Command;
pub use writer::WriteHealth;

pub const DEFAULT_STORE_PATH: &str = "data/datalogger.db";

/// The `"store"` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    pub path: PathBuf,
    /// Raw samples older than this are pruned (and not stored). 0 keeps everything.
    pub retention_days: u32,
    /// Per-minute rollups older than this are pruned. 0 keeps them forever.
    pub rollup_retention_days: u32,
    /// Samples stay uncompacted (hot) at least this long.
    pub compact_after_minutes: u32,
    /// The writer gathers samples this long before it commits: fewer, fuller
    /// page writes on flash, at the price of acknowledgements (and a power
    /// cut's window) this much later. 0 commits as soon as anything is queued.
    pub commit_interval_ms: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: DEFAULT_STORE_PATH.into(),
            retention_days: 30,
            rollup_retention_days: 400,
            compact_after_minutes: 10,
            commit_interval_ms: 0,
        }
    }
}

impl StoreSettings {
    fn policy(&self) -> compactor::Policy {
        let days = |d: u32| i64::from(d).saturating_mul(86_400 * 1_000_000_000);
        compactor::Policy {
            hot_ns: i64::from(self.compact_after_minutes).saturating_mul(60 * 1_000_000_000),
            retention_ns: days(self.retention_days),
            rollup_retention_ns: days(self.rollup_retention_days),
        }
    }
}

/// How much the store holds, in which form (`GET /store`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoreStats {
    pub series: u64,
    pub hot_samples: u64,
    pub compacted_samples: u64,
    pub blocks: u64,
    pub rollup_blocks: u64,
    /// The database file and its write-ahead log.
    pub file_bytes: u64,
}

/// What one compaction run did.
pub use compactor::Report as CompactionReport;

/// Two subqueries, because SQLite answers MIN or MAX alone from the rowid
/// b-tree in O(1) but scans the whole table for both in one SELECT.
const BOUNDS_SQL: &str = "SELECT IFNULL((SELECT MIN(seq) FROM hot), 0), IFNULL((SELECT MAX(seq) FROM hot), 0)";

/// Queue depth between samplers and the writer; senders wait when it is full.
const QUEUE: usize = 4096;

/// What the store's threads and connections share.
pub(crate) struct Shared {
    /// For readers; the writer keeps its own.
    dict: RwLock<Dictionary>,
    /// The newest stored sample of every series.
    latest: Mutex<HashMap<i64, Sample>>,
    /// Configured outputs: rows they have not all delivered stay hot.
    outputs: Vec<String>,
    /// Held by a compaction run.
    compacting: Mutex<()>,
}

impl Shared {
    fn note_latest(&self, stored: Vec<(i64, Sample)>) {
        if stored.is_empty() {
            return;
        }
        let mut latest = self.latest.lock().unwrap();
        for (series, sample) in stored {
            match latest.get(&series) {
                Some(have) if have.timestamp_ns > sample.timestamp_ns => {}
                _ => {
                    latest.insert(series, sample);
                }
            }
        }
    }
}

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
    /// The store cannot be written now (a full disk): the samples are held in
    /// memory and written later, but are not committed yet. Push sources
    /// must not acknowledge them.
    pub held: bool,
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
    shared: Arc<Shared>,
    settings: Arc<StoreSettings>,
}

impl Store {
    /// Opens a store with default settings but this retention (0 keeps
    /// everything) and no outputs; for tools and tests.
    pub fn open(path: &Path, retention_days: u32) -> anyhow::Result<Store> {
        let settings = StoreSettings {
            path: path.to_path_buf(),
            retention_days,
            ..StoreSettings::default()
        };
        Store::open_with(&settings, &[])
    }

    /// Opens (creating or migrating if needed) the store and starts its writer
    /// and compactor threads. Rows not yet delivered to every one of `outputs`
    /// stay hot.
    pub fn open_with(settings: &StoreSettings, outputs: &[String]) -> anyhow::Result<Store> {
        let path = settings.path.as_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let lock = lock::acquire(path, lock::WAIT_FOR_RELEASE)?;
        let mut writer = open_connection(path)?;
        schema::prepare(&mut writer)?;
        let conn = open_connection(path)?;
        let shared = Arc::new(Shared {
            dict: RwLock::new(Dictionary::load(&conn)?),
            latest: Mutex::new(query::latest_at_open(&conn)?),
            outputs: outputs.to_vec(),
            compacting: Mutex::new(()),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        let retention_ns = settings.policy().retention_ns;
        let health = Arc::new(Mutex::new(WriteHealth::default()));
        let (writer_health, writer_shared) = (health.clone(), shared.clone());
        let commit_interval = std::time::Duration::from_millis(settings.commit_interval_ms.into());
        std::thread::Builder::new().name("store-writer".into()).spawn(move || {
            let _lock = lock;
            writer::run_writer(writer, rx, retention_ns, commit_interval, writer_health, writer_shared)
        })?;
        let (compactor_conn, compactor_shared, policy) =
            (open_connection(path)?, Arc::downgrade(&shared), settings.policy());
        std::thread::Builder::new()
            .name("store-compactor".into())
            .spawn(move || compactor::run(compactor_conn, compactor_shared, policy))?;
        Ok(Store {
            tx,
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::from(path),
            health,
            shared,
            settings: Arc::new(settings.clone()),
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
            shared: self.shared.clone(),
            settings: self.settings.clone(),
        })
    }

    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// Whether samples can be written now, and what is held meanwhile.
    pub fn write_health(&self) -> WriteHealth {
        self.health.lock().unwrap().clone()
    }

    /// The oldest timestamp `append` keeps now (older samples fall outside the
    /// retention period and are not stored); `None` when it keeps everything.
    pub fn oldest_kept_ns(&self) -> Option<i64> {
        let retention_ns = self.settings.policy().retention_ns;
        (retention_ns > 0).then(|| crate::sample::now_ns() - retention_ns)
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

    /// Compacts what is old enough and delivered, merges small blocks and
    /// applies retention now (the compactor thread does this every minute).
    pub async fn compact(&self) -> anyhow::Result<CompactionReport> {
        let (shared, policy) = (self.shared.clone(), self.settings.policy());
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = open_connection(&path)?;
            compactor::run_once(&mut c, &shared, policy, crate::sample::now_ns())
        })
        .await?
    }

    /// Like `compact`, as if it ran at `now_ns` with everything delivered
    /// older than `hot_ns`: for tests and benchmarks.
    pub async fn compact_as_of(&self, now_ns: i64, hot_ns: i64) -> anyhow::Result<CompactionReport> {
        let shared = self.shared.clone();
        let policy = compactor::Policy {
            hot_ns,
            ..self.settings.policy()
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = open_connection(&path)?;
            compactor::run_once(&mut c, &shared, policy, now_ns)
        })
        .await?
    }

    /// How much the store holds, in which form.
    pub async fn stats(&self) -> anyhow::Result<StoreStats> {
        let path = self.path.clone();
        self.on_own_connection(move |c| {
            let n =
                |sql: &str| -> rusqlite::Result<u64> { c.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|v| v as u64) };
            let wal = path.with_extension("db-wal");
            let bytes = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            Ok(StoreStats {
                series: n("SELECT COUNT(*) FROM series")?,
                hot_samples: n("SELECT COUNT(*) FROM hot")?,
                compacted_samples: n("SELECT IFNULL(SUM(count), 0) FROM blocks")?,
                blocks: n("SELECT COUNT(*) FROM blocks")?,
                rollup_blocks: n("SELECT COUNT(*) FROM rollups")?,
                file_bytes: bytes(&path) + bytes(&wal),
            })
        })
        .await
    }

    /// The newest stored sample of every series.
    pub async fn latest(&self) -> anyhow::Result<Vec<(SeriesKey, Sample)>> {
        let shared = self.shared.clone();
        self.on_own_connection(move |c| {
            shared.dict.write().unwrap().reload(c)?;
            let dict = shared.dict.read().unwrap();
            let latest = shared.latest.lock().unwrap();
            Ok(latest
                .iter()
                .filter_map(|(id, s)| Some(((**dict.series(*id)?).clone(), s.clone())))
                .collect())
        })
        .await
    }

    /// The series of `item` (every item when `None`) that pass the filter's
    /// measurement and tags, with their ids for `range` and `buckets`.
    pub async fn series(&self, item: Option<&str>, filter: &SampleFilter) -> anyhow::Result<Vec<(i64, SeriesKey)>> {
        let (shared, item, filter) = (self.shared.clone(), item.map(str::to_string), filter.clone());
        self.on_own_connection(move |c| {
            let found = query::series_matching(&shared.dict, c, item.as_deref(), &filter)?;
            Ok(found.into_iter().map(|(id, k)| (id, (*k).clone())).collect())
        })
        .await
    }

    /// Like `series`, each with the fields it has stored: (name, type) pairs,
    /// sorted, the types as `SHOW FIELD KEYS` names them.
    pub async fn series_fields(
        &self,
        item: Option<&str>,
        filter: &SampleFilter,
    ) -> anyhow::Result<Vec<(i64, SeriesKey, Vec<(String, String)>)>> {
        let (shared, item, filter) = (self.shared.clone(), item.map(str::to_string), filter.clone());
        self.on_own_connection(move |c| {
            let found = query::series_matching(&shared.dict, c, item.as_deref(), &filter)?;
            let mut fields = query::fields_of(&shared.dict, c, &found)?;
            Ok(found
                .into_iter()
                .map(|(id, k)| (id, (*k).clone(), fields.remove(&id).unwrap_or_default()))
                .collect())
        })
        .await
    }

    /// One field of one series in [from, to] (inclusive), oldest first, or
    /// `None` when more than `limit` samples have it (the read stops there).
    pub async fn field_range(
        &self,
        series: i64,
        field: &str,
        from_ns: i64,
        to_ns: i64,
        limit: usize,
    ) -> anyhow::Result<Option<Vec<(i64, FieldValue)>>> {
        let (shared, field) = (self.shared.clone(), field.to_string());
        self.on_own_connection(move |c| query::field_range(&shared.dict, c, series, &field, (from_ns, to_ns), limit))
            .await
    }

    /// Every sample of one series in [from, to] (inclusive), oldest first.
    pub async fn range(&self, series: i64, from_ns: i64, to_ns: i64) -> anyhow::Result<Vec<Sample>> {
        let shared = self.shared.clone();
        self.on_own_connection(move |c| {
            shared.dict.write().unwrap().reload(c)?;
            let key = shared.dict.read().unwrap().series(series).cloned();
            let Some(key) = key else { return Ok(Vec::new()) };
            query::range(&shared.dict, c, &(series, key), from_ns, to_ns)
        })
        .await
    }

    /// Aggregates of a numeric field of one series in buckets of `bucket_ns`
    /// (aligned to multiples of it since the epoch) over [from, to]: from
    /// rollups for buckets of whole minutes, else from raw data.
    pub async fn buckets(
        &self,
        series: i64,
        field: &str,
        from_ns: i64,
        to_ns: i64,
        bucket_ns: i64,
    ) -> anyhow::Result<Vec<(i64, Aggregate)>> {
        let (shared, field) = (self.shared.clone(), field.to_string());
        let raw_kept_from = self.oldest_kept_ns();
        self.on_own_connection(move |c| {
            query::buckets(
                c,
                &shared.dict,
                series,
                &field,
                (from_ns, to_ns),
                bucket_ns,
                raw_kept_from,
            )
        })
        .await
    }

    /// Per-minute aggregates of a numeric field of one series over [from, to]
    /// for windows of whole minutes whose range need not start on one
    /// (`query::minute_aggregates`).
    pub async fn minute_aggregates(
        &self,
        series: i64,
        field: &str,
        from_ns: i64,
        to_ns: i64,
    ) -> anyhow::Result<Vec<(i64, Aggregate)>> {
        let (shared, field) = (self.shared.clone(), field.to_string());
        self.on_own_connection(move |c| query::minute_aggregates(c, &shared.dict, series, &field, (from_ns, to_ns)))
            .await
    }

    /// The distinct measurements, field keys, tag keys and values.
    pub async fn names(&self) -> anyhow::Result<Names> {
        let shared = self.shared.clone();
        self.on_own_connection(move |c| query::names(&shared.dict, c)).await
    }

    /// The newest `limit` samples of an item that pass `filter`, newest first.
    pub async fn recent(&self, item: &str, filter: &SampleFilter, limit: usize) -> anyhow::Result<Vec<Sample>> {
        let (shared, item, filter) = (self.shared.clone(), item.to_string(), filter.clone());
        self.on_own_connection(move |c| {
            let series = query::series_matching(&shared.dict, c, Some(&item), &filter)?;
            query::recent(&shared.dict, c, &series, &filter, limit)
        })
        .await
    }

    /// Like `recent`, over the series of every item: the newest `limit`
    /// samples that pass `filter`, newest first.
    pub async fn recent_of_all_items(&self, filter: &SampleFilter, limit: usize) -> anyhow::Result<Vec<Sample>> {
        let (shared, filter) = (self.shared.clone(), filter.clone());
        self.on_own_connection(move |c| {
            let series = query::series_matching(&shared.dict, c, None, &filter)?;
            query::recent(&shared.dict, c, &series, &filter, limit)
        })
        .await
    }

    /// The `n` groups (values of tag `by`) with the highest `field` among the
    /// series that pass `filter`, each with the sample of its peak
    /// (`summary::top`).
    pub async fn top(&self, filter: &SampleFilter, field: &str, by: &str, n: usize) -> anyhow::Result<Vec<Peak>> {
        let (shared, mut filter, field, by) = (self.shared.clone(), filter.clone(), field.to_string(), by.to_string());
        // Rollups outlive raw samples, and a peak must be a sample.
        filter.from_ns = filter.from_ns.max(self.oldest_kept_ns());
        self.on_own_connection(move |c| summary::top(&shared.dict, c, &filter, &field, &by, n))
            .await
    }

    /// How often each value of `field` occurs among the series that pass
    /// `filter` (`summary::value_counts`).
    pub async fn value_counts(&self, filter: &SampleFilter, field: &str) -> anyhow::Result<BTreeMap<String, u64>> {
        let (shared, filter, field) = (self.shared.clone(), filter.clone(), field.to_string());
        self.on_own_connection(move |c| summary::value_counts(&shared.dict, c, &filter, &field))
            .await
    }

    /// Up to `limit` rows after sequence number `after`, oldest first: what an
    /// output reads from its position.
    pub async fn read_after(&self, after: i64, limit: usize) -> anyhow::Result<Vec<Row>> {
        let shared = self.shared.clone();
        self.on_own_connection(move |c| query::hot_after(&shared.dict, c, after, limit))
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
            let mut sql = String::from(
                "SELECT COUNT(*) FROM hot JOIN series ON series.id = hot.series WHERE seq > ? AND seq <= ?",
            );
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
                    "SELECT ts_ns FROM hot WHERE seq > ?1 ORDER BY seq LIMIT 1",
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

    /// Keeps a pushed payload no decoder could read, with the reason: the
    /// newest `REJECTED_PAYLOADS_KEPT` per source, each cut to
    /// `REJECTED_PAYLOAD_BYTES`.
    pub async fn set_aside_payload(
        &self,
        source: &str,
        topic: &str,
        reason: &str,
        payload: &[u8],
    ) -> anyhow::Result<()> {
        let (source, topic, reason) = (source.to_string(), topic.to_string(), reason.to_string());
        let payload = payload[..payload.len().min(REJECTED_PAYLOAD_BYTES)].to_vec();
        self.on_own_connection(move |c| {
            c.execute(
                "INSERT INTO rejected_payloads (source, topic, reason, payload, at_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![source, topic, reason, payload, crate::sample::now_ns()],
            )?;
            c.execute(
                "DELETE FROM rejected_payloads WHERE source = ?1 AND id <= (
                     SELECT id FROM rejected_payloads WHERE source = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                params![source, REJECTED_PAYLOADS_KEPT],
            )?;
            Ok(())
        })
        .await
    }

    /// The newest payloads of a source that were set aside, newest first.
    pub async fn rejected_payloads(&self, source: &str, limit: usize) -> anyhow::Result<Vec<RejectedPayload>> {
        let source = source.to_string();
        self.on_own_connection(move |c| {
            let mut stmt = c.prepare(
                "SELECT topic, reason, payload, at_ns FROM rejected_payloads WHERE source = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![source, limit as i64], |r| {
                Ok(RejectedPayload {
                    topic: r.get(0)?,
                    reason: r.get(1)?,
                    payload: r.get(2)?,
                    at_ns: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn on_own_connection<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier read must not make every later one panic.
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            // One transaction: every statement of a read sees the same
            // snapshot, so a compaction committing meanwhile cannot make a
            // sample appear twice (hot, then in its block) or not at all.
            let tx = conn.unchecked_transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await?
    }
}

/// Payloads set aside per source: the newest are kept.
pub const REJECTED_PAYLOADS_KEPT: i64 = 1000;
/// The part of a set-aside payload that is kept.
pub const REJECTED_PAYLOAD_BYTES: usize = 64 * 1024;

/// A pushed payload no decoder could read.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedPayload {
    pub topic: String,
    pub reason: String,
    pub payload: Vec<u8>,
    pub at_ns: i64,
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
    async fn set_aside_payloads_keep_the_newest_per_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), 0).unwrap();
        for i in 0..REJECTED_PAYLOADS_KEPT + 5 {
            store
                .set_aside_payload("a", "t/1", &format!("bad {i}"), b"x")
                .await
                .unwrap();
        }
        store
            .set_aside_payload("b", "t/2", "huge", &vec![b'y'; REJECTED_PAYLOAD_BYTES + 10])
            .await
            .unwrap();
        let a = store.rejected_payloads("a", 2000).await.unwrap();
        assert_eq!(a.len() as i64, REJECTED_PAYLOADS_KEPT);
        assert_eq!(
            a[0].reason,
            format!("bad {}", REJECTED_PAYLOADS_KEPT + 4),
            "newest first"
        );
        let b = store.rejected_payloads("b", 10).await.unwrap();
        assert_eq!(
            (b.len(), b[0].payload.len(), b[0].topic.as_str()),
            (1, REJECTED_PAYLOAD_BYTES, "t/2")
        );
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
        assert_eq!(store.compact().await.unwrap().pruned_hot, 0);
        assert_eq!(store.recent("a", &SampleFilter::default(), 10).await.unwrap().len(), 1);
    }
    #[tokio::test]
    async fn one_field_is_read_with_a_limit_and_series_list_their_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), 0).unwrap();
        store
            .append("it", (1..=5).map(|t| sample(t, t as f64)).collect())
            .await
            .unwrap();
        let mut other = sample(6, 0.0);
        other.fields = vec![("v".into(), FieldValue::Int(7))];
        store.append("it", vec![other]).await.unwrap();
        let found = store.series_fields(Some("it"), &SampleFilter::default()).await.unwrap();
        assert_eq!(found.len(), 1, "same measurement and tags: one series");
        let (id, key, fields) = &found[0];
        assert_eq!(key.item, "it");
        let names: Vec<(&str, &str)> = fields.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        assert_eq!(
            names,
            [
                ("b", "boolean"),
                ("i", "integer"),
                ("s", "string"),
                ("u", "unsigned"),
                ("v", "float"),
                ("v", "integer")
            ],
            "v was sent as a float and as an integer"
        );
        let mut expected: Vec<(i64, FieldValue)> = (1..=5).map(|t| (t, FieldValue::Float(t as f64))).collect();
        expected.push((6, FieldValue::Int(7)));
        let all = store.field_range(*id, "v", 0, 10, 6).await.unwrap().unwrap();
        assert_eq!(all, expected);
        assert_eq!(store.field_range(*id, "v", 2, 3, 6).await.unwrap().unwrap().len(), 2);
        assert_eq!(
            store.field_range(*id, "v", 0, 10, 5).await.unwrap(),
            None,
            "6 > limit 5"
        );
        assert_eq!(store.field_range(*id, "nope", 0, 10, 5).await.unwrap(), Some(vec![]));
        // Compacted, the same answers come from the block.
        assert_eq!(
            store.compact_as_of(3_600 * 1_000_000_000, 0).await.unwrap().compacted,
            6
        );
        assert_eq!(store.field_range(*id, "v", 0, 10, 6).await.unwrap().unwrap(), all);
        assert_eq!(store.field_range(*id, "v", 0, 10, 5).await.unwrap(), None);
    }
}
