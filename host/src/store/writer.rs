//! The writer thread: the only writer of samples. It commits whatever has
//! queued up in one transaction (thousands of samples a second on a Pi's SD
//! card) and answers each caller on its own channel once the commit is durable.

use super::codec::encode_fields;
use super::dictionary::SeriesKey;
use super::{block, Appended, Shared};
use crate::sample::Sample;
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// What the writer is asked to do.
pub(super) enum Command {
    Append {
        item: String,
        samples: Vec<Sample>,
        done: oneshot::Sender<Result<Appended, String>>,
    },
}

/// Most samples held in memory while the store cannot be written (a full
/// disk); past that the oldest are dropped, and counted.
pub(super) const MAX_HELD_SAMPLES: usize = 50_000;
/// Appends gathered into one transaction at most.
const MAX_COMMANDS_PER_COMMIT: usize = 65_536;
/// How often a held backlog is retried while nothing new arrives.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether samples can be written, as `/health` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteHealth {
    /// Why the last write failed, while writes fail (`None` when they work).
    pub failing: Option<String>,
    /// Samples held in memory, to be written when the store can be written again.
    pub held_samples: usize,
    /// Samples dropped because the held backlog was full (since start-up).
    pub dropped_samples: u64,
}

/// Samples that could not be written yet, oldest first.
#[derive(Default)]
struct Held {
    batches: std::collections::VecDeque<(String, Vec<Sample>)>,
    samples: usize,
}

impl Held {
    /// Adds a batch, dropping the oldest samples past the bound; returns how many were dropped.
    fn push(&mut self, item: String, samples: Vec<Sample>) -> u64 {
        self.samples += samples.len();
        self.batches.push_back((item, samples));
        let mut dropped = 0;
        while self.samples > MAX_HELD_SAMPLES {
            let Some((_, oldest)) = self.batches.pop_front() else {
                break;
            };
            self.samples -= oldest.len();
            dropped += oldest.len() as u64;
        }
        dropped
    }
}

/// Failures of the storage itself, which pass (a full disk gets space, a
/// failing card is replaced): samples are held meanwhile, not dropped.
fn storage_failure(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(DiskFull | SystemIoFailure | ReadOnly | CannotOpen | DatabaseBusy | DatabaseLocked)
    )
}

pub(super) fn run_writer(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Command>,
    retention_ns: i64,
    commit_interval: std::time::Duration,
    health: Arc<Mutex<WriteHealth>>,
    shared: Arc<Shared>,
) {
    // The writer's own copy: it adds series inside its transactions, and
    // readers never wait on it.
    let mut dict = match super::dictionary::Dictionary::load(&conn) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot read the series dictionary: {e}; the store writer stops");
            return;
        }
    };
    let mut newest_hot = match newest_hot_rows(&conn) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("cannot read the store's recent samples: {e}; the store writer stops");
            return;
        }
    };
    let mut batch = Vec::new();
    let mut held = Held::default();
    loop {
        if held.batches.is_empty() {
            match rx.blocking_recv() {
                Some(first) => batch.push(first),
                None => return,
            }
        } else {
            // Retry the held samples every second, with whatever has queued up.
            match rx.try_recv() {
                Ok(first) => batch.push(first),
                Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(RETRY_EVERY),
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        if !commit_interval.is_zero() {
            // Gather a commit interval's worth (store.commit_interval_ms).
            std::thread::sleep(commit_interval);
        }
        while batch.len() < MAX_COMMANDS_PER_COMMIT {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let cutoff = (retention_ns > 0).then(|| crate::sample::now_ns() - retention_ns);
        // Everything queued goes in one transaction, held samples first; each
        // caller gets its own answer.
        let mut answers = Vec::new();
        let mut commit = Commit::default();
        let result = (|| -> rusqlite::Result<usize> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut held_written = 0;
            for (item, samples) in &held.batches {
                let a = insert(&tx, &mut dict, item, samples, cutoff, &mut commit, &mut newest_hot)?;
                held_written += a.count();
            }
            for Command::Append { item, samples, .. } in &batch {
                answers.push(insert(
                    &tx,
                    &mut dict,
                    item,
                    samples,
                    cutoff,
                    &mut commit,
                    &mut newest_hot,
                )?);
            }
            tx.commit()?;
            Ok(held_written)
        })();
        if result.is_err() {
            // Series added inside the failed transaction do not exist.
            commit.stored.clear();
            if let Err(e) = dict.forget_uncommitted(&conn) {
                tracing::error!("reloading the series dictionary failed: {e}");
            }
        }
        shared.note_latest(commit.stored);
        match result {
            Ok(held_written) => {
                for (Command::Append { done, .. }, answer) in batch.drain(..).zip(answers) {
                    let _ = done.send(Ok(answer));
                }
                held = Held::default();
                let mut h = health.lock().unwrap();
                if let Some(reason) = h.failing.take() {
                    tracing::info!(
                        "the store can be written again ({reason} before); wrote {held_written} held samples"
                    );
                }
                h.held_samples = 0;
            }
            Err(e) if storage_failure(&e) => {
                let mut dropped = 0;
                for Command::Append { item, samples, done } in batch.drain(..) {
                    dropped += held.push(item, samples);
                    // Held, not lost: the item is not failing.
                    let _ = done.send(Ok(Appended {
                        stored: Vec::new(),
                        held: true,
                    }));
                }
                let mut h = health.lock().unwrap();
                if h.failing.is_none() {
                    tracing::error!(
                        "cannot write the store: {e}; holding up to {MAX_HELD_SAMPLES} samples in memory \
                         until it can be written again (see GET /health)"
                    );
                }
                h.failing = Some(e.to_string());
                h.held_samples = held.samples;
                h.dropped_samples += dropped;
            }
            Err(e) => {
                tracing::error!("store write failed: {e}");
                for Command::Append { done, .. } in batch.drain(..) {
                    let _ = done.send(Err(format!("store write failed: {e}")));
                }
            }
        }
    }
}

fn insert(
    tx: &rusqlite::Transaction,
    dict: &mut super::dictionary::Dictionary,
    item: &str,
    samples: &[Sample],
    cutoff: Option<i64>,
    commit: &mut Commit,
    newest_hot: &mut HashMap<i64, i64>,
) -> rusqlite::Result<Appended> {
    // Not INSERT OR IGNORE: an ignored insert would still use up an
    // AUTOINCREMENT number, and outputs rely on sequence numbers without gaps.
    // Nor one INSERT … SELECT … WHERE NOT EXISTS: reading the table it inserts
    // into makes SQLite build a temporary table per row (a third of the
    // writer's time). This writer is the only one, so probe, then insert.
    // Rows go in INSERT_CHUNK at a time: one statement per row costs as much
    // again in statement setup and AUTOINCREMENT bookkeeping.
    let mut exists = tx.prepare_cached("SELECT 1 FROM hot WHERE ts_ns = ?1 AND series = ?2")?;
    let mut pending: Vec<(i64, i64, Vec<u8>)> = Vec::with_capacity(INSERT_CHUNK);
    // Rows of this call not yet inserted, which the probe cannot see.
    let mut pending_keys: std::collections::HashSet<(i64, i64)> = std::collections::HashSet::new();
    let mut stored = Vec::with_capacity(samples.len());
    // A batch names few series many times (pushed batches interleave them):
    // look each up once, without building a key per sample.
    let mut ids: HashMap<(&str, &std::collections::BTreeMap<String, String>), i64> = HashMap::new();
    // The newest stored sample of each series in this call, cloned once at the end.
    let mut newest: HashMap<i64, &Sample> = HashMap::new();
    for s in samples {
        if cutoff.is_some_and(|c| s.timestamp_ns < c) {
            stored.push(false);
            continue;
        }
        let series = match ids.get(&(s.measurement.as_str(), &s.tags)) {
            Some(id) => *id,
            None => {
                let key = SeriesKey {
                    item: item.to_string(),
                    measurement: s.measurement.clone(),
                    tags: s.tags.clone(),
                };
                let id = dict.series_id(tx, &key)?;
                ids.insert((s.measurement.as_str(), &s.tags), id);
                id
            }
        };
        if commit.blocks.holds(tx, series, s.timestamp_ns)? {
            stored.push(false);
            continue;
        }
        let mut fields = Vec::with_capacity(s.fields.len());
        for (name, value) in &s.fields {
            let id = dict.field_name_id(tx, name)?;
            let kind = super::schema::type_name(value);
            if !dict.has_field(series, id, kind) {
                tx.prepare_cached("INSERT OR IGNORE INTO series_fields (series, field, type) VALUES (?1, ?2, ?3)")?
                    .execute(params![series, id, kind])?;
                dict.note_field(series, id, kind);
            }
            fields.push((id, value));
        }
        // Live samples are newer than any hot row of their series: no probe.
        let newer = newest_hot.get(&series).is_none_or(|n| s.timestamp_ns > *n);
        let new = newer
            || (!pending_keys.contains(&(series, s.timestamp_ns))
                && !exists.exists(params![s.timestamp_ns, series])?);
        if new {
            let n = newest_hot.entry(series).or_insert(s.timestamp_ns);
            *n = (*n).max(s.timestamp_ns);
            pending.push((series, s.timestamp_ns, encode_fields(&fields)));
            pending_keys.insert((series, s.timestamp_ns));
            if pending.len() == INSERT_CHUNK {
                insert_rows(tx, &pending)?;
                pending.clear();
                pending_keys.clear();
            }
        }
        if new {
            let entry = newest.entry(series).or_insert(s);
            if entry.timestamp_ns <= s.timestamp_ns {
                *entry = s;
            }
        }
        stored.push(new);
    }
    insert_rows(tx, &pending)?;
    commit
        .stored
        .extend(newest.into_iter().map(|(series, s)| (series, s.clone())));
    Ok(Appended { stored, held: false })
}

/// The newest hot timestamp of each series, as the writer starts. The writer
/// is the only one that adds hot rows and keeps this up to date, so a sample
/// newer than its series' entry cannot be a duplicate of a hot row. After a
/// failed transaction an entry may be too new, which only costs a probe.
fn newest_hot_rows(conn: &Connection) -> rusqlite::Result<HashMap<i64, i64>> {
    let mut stmt = conn.prepare("SELECT series, max(ts_ns) FROM hot GROUP BY series")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Rows per multi-row INSERT (3 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 64;

/// Inserts `rows` (series, timestamp, fields) in order: a full chunk in one
/// statement, a shorter tail row by row (so only two statements are cached).
fn insert_rows(tx: &rusqlite::Transaction, rows: &[(i64, i64, Vec<u8>)]) -> rusqlite::Result<()> {
    if rows.len() == INSERT_CHUNK {
        let sql = format!(
            "INSERT INTO hot (series, ts_ns, fields) VALUES {}",
            vec!["(?, ?, ?)"; INSERT_CHUNK].join(", ")
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let values: Vec<&dyn rusqlite::ToSql> = rows
            .iter()
            .flat_map(|(s, t, f)| [s as &dyn rusqlite::ToSql, t, f])
            .collect();
        stmt.execute(values.as_slice())?;
        return Ok(());
    }
    let mut stmt = tx.prepare_cached("INSERT INTO hot (series, ts_ns, fields) VALUES (?1, ?2, ?3)")?;
    for (series, ts, fields) in rows {
        stmt.execute(params![series, ts, fields])?;
    }
    Ok(())
}

/// What one commit did and learnt.
#[derive(Default)]
struct Commit {
    /// The newest sample stored of each series (for `Store::latest`).
    stored: Vec<(i64, Sample)>,
    blocks: BlockCache,
}

/// What one commit learnt about the compacted blocks, so each series' blocks
/// are looked at once per commit, not once per sample.
#[derive(Default)]
struct BlockCache {
    /// The latest timestamp any block of the series holds (`None`: no block).
    /// Live samples are newer, so they need no further look.
    newest_in_blocks: HashMap<i64, Option<i64>>,
    /// Each block's decoded timestamps: a history re-sent sample by sample
    /// decodes each block once.
    timestamps: HashMap<i64, Vec<i64>>,
}

impl BlockCache {
    /// Whether a compacted block of the series already holds this timestamp.
    /// The writer's transaction keeps the compactor out, so what is cached
    /// stays true for the commit.
    fn holds(&mut self, tx: &rusqlite::Transaction, series: i64, ts: i64) -> rusqlite::Result<bool> {
        let newest = match self.newest_in_blocks.get(&series) {
            Some(n) => *n,
            None => {
                let n: Option<i64> = tx
                    .prepare_cached("SELECT max(end_ns) FROM blocks WHERE series = ?1")?
                    .query_row([series], |r| r.get(0))?;
                self.newest_in_blocks.insert(series, n);
                n
            }
        };
        if newest.is_none_or(|n| ts > n) {
            return Ok(false);
        }
        let ids: Vec<i64> = {
            let mut stmt =
                tx.prepare_cached("SELECT id FROM blocks WHERE series = ?1 AND end_ns >= ?2 AND start_ns <= ?2")?;
            let rows = stmt.query_map(params![series, ts], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in ids {
            let list = match self.timestamps.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let data: Vec<u8> = tx
                        .prepare_cached("SELECT data FROM blocks WHERE id = ?1")?
                        .query_row([id], |r| r.get(0))?;
                    e.insert(block::timestamps(&data).unwrap_or_else(|err| {
                        tracing::error!("series {series}: unreadable block: {err}");
                        Vec::new()
                    }))
                }
            };
            if list.binary_search(&ts).is_ok() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                measurement: "m".into(),
                tags: Default::default(),
                fields: vec![],
                timestamp_ns: i as i64,
            })
            .collect()
    }

    #[test]
    fn the_held_backlog_drops_its_oldest_batches_past_the_bound() {
        let mut held = Held::default();
        assert_eq!(held.push("a".into(), samples(MAX_HELD_SAMPLES - 10)), 0);
        assert_eq!(held.push("b".into(), samples(10)), 0);
        assert_eq!(held.push("c".into(), samples(5)), (MAX_HELD_SAMPLES - 10) as u64);
        assert_eq!(held.samples, 15);
        let items: Vec<&str> = held.batches.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(items, ["b", "c"]);
    }
}
