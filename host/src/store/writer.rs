//! The writer thread: the only writer of samples. It commits whatever has
//! queued up in one transaction (thousands of samples a second on a Pi's SD
//! card) and answers each caller on its own channel once the commit is durable.

use super::codec::encode_fields;
use crate::sample::Sample;
use rusqlite::{params, Connection};
use tokio::sync::{mpsc, oneshot};

/// What the writer is asked to do.
pub(super) enum Command {
    Append {
        item: String,
        samples: Vec<Sample>,
        done: oneshot::Sender<Result<usize, String>>,
    },
    Prune {
        done: oneshot::Sender<Result<usize, String>>,
    },
}

pub(super) fn run_writer(mut conn: Connection, mut rx: mpsc::Receiver<Command>, retention_ns: i64) {
    let mut batch = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let cutoff = (retention_ns > 0).then(|| crate::sample::now_ns() - retention_ns);
        // Everything queued goes in one transaction; each caller gets its own answer.
        let mut answers = Vec::new();
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for cmd in batch.drain(..) {
                match cmd {
                    Command::Append { item, samples, done } => {
                        answers.push((done, insert(&tx, &item, &samples, cutoff)?));
                    }
                    Command::Prune { done } => {
                        let n = match cutoff {
                            Some(c) => tx.execute("DELETE FROM samples WHERE ts_ns < ?1", [c])?,
                            None => 0,
                        };
                        answers.push((done, n));
                    }
                }
            }
            tx.commit()
        })();
        match result {
            Ok(()) => answers.into_iter().for_each(|(done, n)| {
                let _ = done.send(Ok(n));
            }),
            Err(e) => {
                tracing::error!("store write failed: {e}");
                answers.into_iter().for_each(|(done, _)| {
                    let _ = done.send(Err(format!("store write failed: {e}")));
                });
            }
        }
    }
}

fn insert(tx: &rusqlite::Transaction, item: &str, samples: &[Sample], cutoff: Option<i64>) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        // Not INSERT OR IGNORE: an ignored insert would still use up an
        // AUTOINCREMENT number, and outputs rely on sequence numbers without gaps.
        "INSERT INTO samples (item, measurement, tags, fields, field_types, ts_ns)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
         WHERE NOT EXISTS (SELECT 1 FROM samples WHERE item = ?1 AND measurement = ?2 AND tags = ?3 AND ts_ns = ?6)",
    )?;
    let mut added = 0;
    for s in samples {
        if cutoff.is_some_and(|c| s.timestamp_ns < c) {
            continue;
        }
        let (fields, types) = encode_fields(&s.fields);
        let tags = serde_json::to_string(&s.tags).unwrap_or_default();
        added += stmt.execute(params![item, s.measurement, tags, fields, types, s.timestamp_ns])?;
    }
    Ok(added)
}
