//! The store-and-forward loop shared by every output.
//!
//! Each output reads the store from its own durable position, sends a batch,
//! and moves the position only after the server acknowledged it. So delivery
//! is at-least-once, a re-sent point lands on the same series and timestamp
//! (no duplicates in the database), and a restart resumes where it stopped.
//! One output's trouble never slows sampling or another output: each runs in
//! its own task and only reads the store.

use super::line_protocol::{encode, Line, Unsigned};
use super::{OutputSpec, Schema, Sink, WriteResult};
use crate::sample::{now_ns, FieldValue};
use crate::store::{Row, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Wait after an authentication or configuration error: retrying fast cannot help.
const MISCONFIGURED_WAIT: Duration = Duration::from_secs(30);

/// What `GET /outputs` shows.
#[derive(Debug, Clone, Default)]
pub struct OutputStatus {
    /// "starting", "connected" or "failing".
    pub state: &'static str,
    pub last_error: Option<String>,
    /// Why the last set-aside batch was refused (kept after later successes).
    pub last_rejection: Option<String>,
    pub position: i64,
    pub points_written: u64,
    pub batches_rejected: u64,
    pub points_dropped: u64,
}

pub struct OutputHandle {
    pub spec: OutputSpec,
    status: Mutex<OutputStatus>,
}

impl OutputHandle {
    pub fn status(&self) -> OutputStatus {
        self.status.lock().unwrap().clone()
    }

    fn update(&self, f: impl FnOnce(&mut OutputStatus)) {
        f(&mut self.status.lock().unwrap());
    }

    fn failing(&self, error: String) {
        let mut status = self.status.lock().unwrap();
        if status.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(output = %self.spec.name, "{error}");
        }
        status.state = "failing";
        status.last_error = Some(error);
    }
}

/// Starts forwarding for one output.
pub fn spawn<S: Sink>(spec: OutputSpec, sink: S, store: Store) -> Arc<OutputHandle> {
    let handle = Arc::new(OutputHandle {
        spec,
        status: Mutex::new(OutputStatus {
            state: "starting",
            ..Default::default()
        }),
    });
    tokio::spawn(run(handle.clone(), sink, store));
    handle
}

async fn run<S: Sink>(handle: Arc<OutputHandle>, sink: S, store: Store) {
    let spec = &handle.spec;
    let name = spec.name.as_str();
    let mut position = loop {
        match store.position(name).await {
            Ok(p) => break p,
            Err(e) => {
                handle.failing(format!("cannot read the output's position: {e:#}"));
                tokio::time::sleep(FIRST_BACKOFF).await;
            }
        }
    };
    if let Err(e) = sink.prepare().await {
        handle.failing(e);
    }
    let mut backoff = FIRST_BACKOFF;
    let mut batch_limit = spec.batch_size;
    // The batch after the one in flight, read and encoded while the server works.
    let mut prefetched: Option<(Vec<Row>, Batch)> = None;
    let mut too_old_counted_upto = position;
    loop {
        handle.update(|s| s.position = position);
        match enforce_backlog_bounds(&handle, &store, position).await {
            Ok(p) if p == position => {}
            Ok(p) => {
                position = p;
                prefetched = None;
                handle.update(|s| s.position = p);
            }
            Err(e) => {
                handle.failing(format!("store: {e:#}"));
                tokio::time::sleep(FIRST_BACKOFF).await;
                continue;
            }
        };
        let (rows, batch) = match prefetched.take() {
            Some(ready) => ready,
            None => {
                let mut rows = match store.read_after(position, batch_limit).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        handle.failing(format!("store: {e:#}"));
                        tokio::time::sleep(FIRST_BACKOFF).await;
                        continue;
                    }
                };
                if rows.len() < batch_limit {
                    // Not a full batch: give it up to one flush interval to fill.
                    tokio::time::sleep(Duration::from_millis(spec.flush_interval_ms)).await;
                    if let Ok(more) = store.read_after(position, batch_limit).await {
                        rows = more;
                    }
                }
                let batch = encode_batch(spec, &rows, sink.unsigned());
                (rows, batch)
            }
        };
        let Some(last_seq) = rows.last().map(|r| r.seq) else {
            continue;
        };
        let first_seq = rows[0].seq;

        count_too_old(&handle, &batch, &mut too_old_counted_upto);
        if batch.points == 0 {
            position = finish(&handle, &store, last_seq).await;
            continue;
        }

        let next_batch = async {
            let rows = store
                .read_after(last_seq, batch_limit)
                .await
                .ok()
                .filter(|r| r.len() == batch_limit)?;
            let batch = encode_batch(spec, &rows, sink.unsigned());
            Some((rows, batch))
        };
        let (result, next) = tokio::join!(sink.write(batch.body.clone()), next_batch);
        match result {
            WriteResult::Written => {
                position = finish(&handle, &store, last_seq).await;
                prefetched = next; // only full batches: a partial one waits for more
                handle.update(|s| {
                    s.state = "connected";
                    s.last_error = None;
                    s.points_written += batch.points;
                });
                backoff = FIRST_BACKOFF;
                batch_limit = (batch_limit * 2).min(spec.batch_size);
            }
            WriteResult::MissingDatabase => {
                if let Err(e) = sink.prepare().await {
                    handle.failing(e);
                    tokio::time::sleep(jitter(backoff)).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            WriteResult::Retry { reason, after } => {
                handle.failing(reason);
                tokio::time::sleep(after.unwrap_or_else(|| jitter(backoff))).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            WriteResult::TooLarge if rows.len() > 1 => {
                batch_limit = (rows.len() / 2).max(1);
                tracing::info!(
                    output = name,
                    "server said the batch is too large; sending {batch_limit} points at a time"
                );
            }
            WriteResult::TooLarge => {
                set_aside(
                    &handle,
                    &store,
                    (first_seq, last_seq),
                    413,
                    "a single point is too large",
                    &batch.body,
                )
                .await;
                position = finish(&handle, &store, last_seq).await;
            }
            WriteResult::Rejected { status, message } => {
                set_aside(&handle, &store, (first_seq, last_seq), status, &message, &batch.body).await;
                position = finish(&handle, &store, last_seq).await;
            }
            WriteResult::Misconfigured { status, message } => {
                handle.failing(format!(
                    "output {name}: the server refused the write (HTTP {status}: {message}); check the url, credentials, database or bucket; retrying every {}s",
                    MISCONFIGURED_WAIT.as_secs()
                ));
                tokio::time::sleep(MISCONFIGURED_WAIT).await;
            }
        }
    }
}

/// Done with a batch (written, set aside, or nothing to send): counts its
/// samples that were too old to send, once, and moves the durable position.
/// If saving the position fails the batch is simply sent again later
/// (harmless: the database keeps one point per series and timestamp).
async fn finish(handle: &OutputHandle, store: &Store, seq: i64) -> i64 {
    let output = handle.spec.name.as_str();
    if let Err(e) = store.set_position(output, seq).await {
        tracing::error!(output, "cannot save the output's position: {e:#}");
    }
    handle.update(|s| s.position = seq);
    seq
}

/// Counts and logs the batch's samples that are too old to send, the first
/// time they are seen (a batch is encoded again on every retry).
fn count_too_old(handle: &OutputHandle, batch: &Batch, counted_upto: &mut i64) {
    let new = batch.too_old.iter().filter(|seq| **seq > *counted_upto).count() as u64;
    *counted_upto = (*counted_upto).max(batch.too_old.iter().copied().max().unwrap_or(0));
    if new > 0 {
        tracing::warn!(
            output = %handle.spec.name,
            "dropped {new} undelivered samples older than {} days (max_backlog_age_days)",
            handle.spec.max_backlog_age_days
        );
        handle.update(|s| s.points_dropped += new);
    }
}

async fn set_aside(handle: &OutputHandle, store: &Store, seqs: (i64, i64), status: u16, message: &str, body: &str) {
    tracing::error!(
        output = %handle.spec.name,
        "the server rejected samples {}..={} (HTTP {status}: {message}); the batch is set aside in the store's rejected_batches table and forwarding goes on",
        seqs.0, seqs.1
    );
    if let Err(e) = store.set_aside(&handle.spec.name, seqs, status, message, body).await {
        tracing::error!(output = %handle.spec.name, "cannot keep the rejected batch: {e:#}");
    }
    handle.update(|s| {
        // The server answered: it is reachable, the data was the problem.
        s.state = "connected";
        s.batches_rejected += 1;
        s.last_rejection = Some(format!("HTTP {status}: {message}"));
    });
}

/// Drops the oldest undelivered samples beyond `max_backlog_points`, and
/// counts samples the store's retention removed before they were delivered.
/// Only samples this output would have sent are counted as dropped.
async fn enforce_backlog_bounds(handle: &OutputHandle, store: &Store, position: i64) -> anyhow::Result<i64> {
    let spec = &handle.spec;
    let (min_seq, max_seq) = store.bounds().await?;
    let mut dropped = 0;
    let mut new = position;
    if min_seq > 0 && position < min_seq - 1 {
        // Removed by retention: what was there is gone, so it cannot be counted
        // by output; the distance is exact because sequence numbers have no gaps.
        dropped += (min_seq - 1 - position) as u64;
        new = min_seq - 1;
    }
    let limit = spec.max_backlog_points as i64;
    if max_seq - new > limit {
        let cut = max_seq - limit;
        dropped += store
            .count_range(new, cut, spec.items.as_deref(), spec.measurements.as_deref())
            .await?;
        new = cut;
    }
    if new != position {
        tracing::warn!(
            output = %spec.name,
            "dropped {dropped} undelivered samples: the backlog exceeded {limit} points (max_backlog_points) or the store's retention removed them"
        );
        handle.update(|s| s.points_dropped += dropped);
        store.set_position(&spec.name, new).await?;
    }
    Ok(new)
}

struct Batch {
    body: String,
    points: u64,
    /// Sequence numbers of samples older than `max_backlog_age_days`, left out.
    too_old: Vec<i64>,
}

/// Line protocol for the rows this output takes, in its schema.
fn encode_batch(spec: &OutputSpec, rows: &[Row], unsigned: Unsigned) -> Batch {
    let cutoff = now_ns() - spec.max_backlog_age_days as i64 * 86_400 * 1_000_000_000;
    let mut batch = Batch {
        body: String::with_capacity(rows.len() * 80),
        points: 0,
        too_old: Vec::new(),
    };
    for row in rows {
        let s = &row.sample;
        if spec.items.as_ref().is_some_and(|only| !only.contains(&row.item))
            || spec
                .measurements
                .as_ref()
                .is_some_and(|only| !only.contains(&s.measurement))
        {
            continue;
        }
        if spec.max_backlog_age_days > 0 && s.timestamp_ns < cutoff {
            batch.too_old.push(row.seq);
            continue;
        }
        let primary: FieldValue;
        let line = match spec.schema {
            Schema::Default => Line {
                measurement: &s.measurement,
                tags: s
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .chain([("item", row.item.as_str())])
                    .collect(),
                fields: s.fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                timestamp_ns: s.timestamp_ns,
            },
            Schema::Rpdemo => {
                primary = s.fields[0].1.clone();
                Line {
                    measurement: "rpdemo",
                    tags: Vec::new(),
                    fields: vec![(row.item.as_str(), &primary)],
                    timestamp_ns: s.timestamp_ns,
                }
            }
        };
        encode(&line, unsigned, &mut batch.body);
        batch.points += 1;
    }
    batch
}

/// ±25 % so that many loggers do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.75 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;
    use std::collections::BTreeMap;

    fn row(item: &str, measurement: &str, ts: i64) -> Row {
        Row {
            seq: 1,
            item: item.into(),
            sample: Sample {
                measurement: measurement.into(),
                tags: BTreeMap::from([("host".into(), "pi".into())]),
                fields: vec![
                    ("load1".into(), FieldValue::Float(0.5)),
                    ("n".into(), FieldValue::Int(2)),
                ],
                timestamp_ns: ts,
            },
        }
    }

    fn spec(schema: Schema) -> OutputSpec {
        let mut spec = OutputSpec::rpdemo("db");
        spec.schema = schema;
        spec
    }

    #[test]
    fn default_schema_adds_the_item_tag() {
        let now = now_ns();
        let b = encode_batch(&spec(Schema::Default), &[row("l1", "system", now)], Unsigned::Supported);
        assert_eq!(b.body, format!("system,host=pi,item=l1 load1=0.5,n=2i {now}\n"));
        assert_eq!(b.points, 1);
    }

    #[test]
    fn rpdemo_schema_writes_what_the_python_logger_wrote() {
        let now = now_ns();
        let b = encode_batch(&spec(Schema::Rpdemo), &[row("l1", "system", now)], Unsigned::Supported);
        assert_eq!(b.body, format!("rpdemo l1=0.5 {now}\n"));
    }

    #[test]
    fn filters_and_age_limit() {
        let now = now_ns();
        let mut s = spec(Schema::Default);
        s.items = Some(vec!["keep".into()]);
        s.max_backlog_age_days = 1;
        let rows = [
            row("keep", "m", now),
            row("other", "m", now),
            row("keep", "m", now - 2 * 86_400_000_000_000),
        ];
        let b = encode_batch(&s, &rows, Unsigned::Supported);
        assert_eq!((b.points, b.too_old.len()), (1, 1));
        s.items = None;
        s.measurements = Some(vec!["x".into()]);
        assert_eq!(encode_batch(&s, &rows, Unsigned::Supported).points, 0);
    }
}
