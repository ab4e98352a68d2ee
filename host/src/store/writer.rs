//! The writer thread: the only writer of samples. It commits whatever has
//! queued up in one transaction (thousands of samples a second on a Pi's SD
//! card) and answers each caller on its own channel once the commit is durable.

use super::codec::encode_fields;
use super::Appended;
use crate::sample::Sample;
use rusqlite::{params, Connection};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// What the writer is asked to do.
pub(super) enum Command {
    Append {
        item: String,
        samples: Vec<Sample>,
        done: oneshot::Sender<Result<Appended, String>>,
    },
    Prune {
        done: oneshot::Sender<Result<usize, String>>,
    },
}

/// Most samples held in memory while the store cannot be written (a full
/// disk); past that the oldest are dropped, and counted.
pub(super) const MAX_HELD_SAMPLES: usize = 50_000;
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
    health: Arc<Mutex<WriteHealth>>,
) {
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
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let cutoff = (retention_ns > 0).then(|| crate::sample::now_ns() - retention_ns);
        // Everything queued goes in one transaction, held samples first; each
        // caller gets its own answer.
        let mut answers = Vec::new();
        let result = (|| -> rusqlite::Result<usize> {
            let tx = conn.transaction()?;
            let mut held_written = 0;
            for (item, samples) in &held.batches {
                held_written += insert(&tx, item, samples, cutoff)?.count();
            }
            for cmd in &batch {
                match cmd {
                    Command::Append { item, samples, .. } => {
                        answers.push(Answer::Appended(insert(&tx, item, samples, cutoff)?))
                    }
                    Command::Prune { .. } => answers.push(Answer::Pruned(match cutoff {
                        Some(c) => tx.execute("DELETE FROM samples WHERE ts_ns < ?1", [c])?,
                        None => 0,
                    })),
                }
            }
            tx.commit()?;
            Ok(held_written)
        })();
        match result {
            Ok(held_written) => {
                for (cmd, answer) in batch.drain(..).zip(answers) {
                    cmd.answer(Ok(answer));
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
                for cmd in batch.drain(..) {
                    match cmd {
                        Command::Append { item, samples, done } => {
                            dropped += held.push(item, samples);
                            // Held, not lost: the item is not failing.
                            let _ = done.send(Ok(Appended::default()));
                        }
                        Command::Prune { done } => {
                            let _ = done.send(Err(format!("store write failed: {e}")));
                        }
                    }
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
                for cmd in batch.drain(..) {
                    cmd.answer(Err(format!("store write failed: {e}")));
                }
            }
        }
    }
}

/// What one command did, for its caller.
enum Answer {
    Appended(Appended),
    Pruned(usize),
}

impl Command {
    fn answer(self, result: Result<Answer, String>) {
        match (self, result) {
            (Command::Append { done, .. }, Ok(Answer::Appended(a))) => drop(done.send(Ok(a))),
            (Command::Prune { done }, Ok(Answer::Pruned(n))) => drop(done.send(Ok(n))),
            (Command::Append { done, .. }, Err(e)) => drop(done.send(Err(e))),
            (Command::Prune { done }, Err(e)) => drop(done.send(Err(e))),
            (_, Ok(_)) => unreachable!("answers are made in command order"),
        }
    }
}

fn insert(
    tx: &rusqlite::Transaction,
    item: &str,
    samples: &[Sample],
    cutoff: Option<i64>,
) -> rusqlite::Result<Appended> {
    let mut stmt = tx.prepare_cached(
        // Not INSERT OR IGNORE: an ignored insert would still use up an
        // AUTOINCREMENT number, and outputs rely on sequence numbers without gaps.
        "INSERT INTO samples (item, measurement, tags, fields, field_types, ts_ns)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
         WHERE NOT EXISTS (SELECT 1 FROM samples WHERE item = ?1 AND measurement = ?2 AND tags = ?3 AND ts_ns = ?6)",
    )?;
    let mut stored = Vec::with_capacity(samples.len());
    for s in samples {
        if cutoff.is_some_and(|c| s.timestamp_ns < c) {
            stored.push(false);
            continue;
        }
        let (fields, types) = encode_fields(&s.fields);
        let tags = serde_json::to_string(&s.tags).unwrap_or_default();
        stored.push(stmt.execute(params![item, s.measurement, tags, fields, types, s.timestamp_ns])? == 1);
    }
    Ok(Appended { stored })
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
