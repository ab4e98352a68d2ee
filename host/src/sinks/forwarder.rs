//! The store-and-forward loop shared by every sink.
//!
//! Each output reads the store from its own durable position, sends a batch,
//! and moves the position only after the server acknowledged it. So delivery
//! is at-least-once, a re-sent point lands on the same series and timestamp
//! (no duplicates in the database), and a restart resumes where it stopped.
//! One output's trouble never slows sampling or another output: each runs in
//! its own task and only reads the store.
//!
//! One round (`Forwarder::round`): bound the backlog, take the next batch
//! (read and encoded while the previous write was in flight, when full),
//! send it, and act on the answer.

use super::partial::{sort_out, Refused};
use super::{OutputSpec, Sink, WriteResult};
use crate::sample::now_ns;
use crate::store::{Row, Store};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Wait after an authentication or configuration error: retrying fast cannot help.
const MISCONFIGURED_WAIT: Duration = Duration::from_secs(30);

/// Where an output stands, as `GET /outputs` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputState {
    #[default]
    Starting,
    /// The server answered the last write (accepted, or refused the data).
    Connected,
    /// The last attempt failed; `last_error` says why.
    Failing,
}

/// What `GET /outputs` shows.
#[derive(Debug, Clone, Default)]
pub struct OutputStatus {
    pub state: OutputState,
    pub last_error: Option<String>,
    /// Why the last set-aside batch was refused (kept after later successes).
    pub last_rejection: Option<String>,
    pub position: i64,
    pub points_written: u64,
    /// Set-aside records (a refused run of points, or one unwritable row).
    pub batches_rejected: u64,
    /// Points set aside: refused by the server, or unwritable (`Sink::refusal`).
    pub points_rejected: u64,
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

    /// Records a failure; logs it only when it differs from the last one, so
    /// an output that stays down logs once, not once a retry.
    fn failing(&self, error: String) {
        let mut status = self.status.lock().unwrap();
        if status.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(output = %self.spec.name, "{error}");
        }
        status.state = OutputState::Failing;
        status.last_error = Some(error);
    }
}

/// Starts forwarding to one sink.
pub fn spawn<S: Sink>(spec: OutputSpec, sink: S, store: Store) -> Arc<OutputHandle> {
    let handle = Arc::new(OutputHandle {
        spec,
        status: Mutex::new(OutputStatus::default()),
    });
    tokio::spawn(Forwarder::new(handle.clone(), sink, store).run());
    handle
}

/// Rows read from the store for one write, and the sink's encoding of those
/// the output takes.
struct Batch<B> {
    first_seq: i64,
    last_seq: i64,
    /// Rows read, filtered out or not (a 413 halves this).
    rows: usize,
    /// Rows encoded: what a successful write delivers.
    points: u64,
    /// Sequence numbers of rows older than `max_backlog_age_days`, left out.
    too_old: Vec<i64>,
    /// Rows the sink cannot write exactly (`Sink::refusal`), left out and set
    /// aside when the batch is done.
    unwritable: Vec<Unwritable>,
    /// `None` when the output takes none of the rows.
    encoded: Option<B>,
}

/// A row the sink refused to encode, and why.
struct Unwritable {
    seq: i64,
    reason: String,
    /// The row as JSON, kept in `rejected_batches` (it has no line protocol).
    json: String,
}

/// A sink that is failing: since when, and (once it answers again) how much
/// of the backlog built meanwhile it has delivered.
struct Outage {
    since: Instant,
    /// Set at the first success: how long it failed, and the newest sequence
    /// number then (the backlog to deliver).
    recovered: Option<(Duration, i64)>,
    delivered: u64,
}

/// Which rows an output sends (its filters) and which of those are too old
/// to send (`max_backlog_age_days`), as of `now`.
fn select<'r>(spec: &OutputSpec, rows: &'r [Row], now: i64) -> (Vec<&'r Row>, Vec<i64>) {
    let cutoff = now - spec.max_backlog_age_days as i64 * 86_400 * 1_000_000_000;
    let mut selected = Vec::with_capacity(rows.len());
    let mut too_old = Vec::new();
    for row in rows.iter().filter(|r| spec.selects(r)) {
        if spec.max_backlog_age_days > 0 && row.sample.timestamp_ns < cutoff {
            too_old.push(row.seq);
        } else {
            selected.push(row);
        }
    }
    (selected, too_old)
}

/// One output's forwarding state.
struct Forwarder<S: Sink> {
    handle: Arc<OutputHandle>,
    sink: S,
    store: Store,
    /// The last sequence number delivered (or given up on).
    position: i64,
    backoff: Duration,
    /// Rows per batch: `batch_size`, halved after a 413, doubled back after successes.
    batch_limit: usize,
    /// The next full batch, read and encoded while the last write was in flight.
    prefetched: Option<Batch<S::Batch>>,
    /// Too-old rows up to here are already counted (a batch is read again after a retry).
    too_old_counted_upto: i64,
    /// While the sink fails, and until the backlog of the outage is delivered.
    outage: Option<Outage>,
}

impl<S: Sink> Forwarder<S> {
    fn new(handle: Arc<OutputHandle>, sink: S, store: Store) -> Self {
        let batch_limit = handle.spec.batch_size;
        Forwarder {
            handle,
            sink,
            store,
            position: 0,
            backoff: FIRST_BACKOFF,
            batch_limit,
            prefetched: None,
            too_old_counted_upto: 0,
            outage: None,
        }
    }

    fn name(&self) -> &str {
        &self.handle.spec.name
    }

    async fn run(mut self) {
        self.position = loop {
            match self.store.position(self.name()).await {
                Ok(p) => break p,
                Err(e) => {
                    self.handle.failing(format!("cannot read the output's position: {e:#}"));
                    tokio::time::sleep(FIRST_BACKOFF).await;
                }
            }
        };
        self.too_old_counted_upto = self.position;
        if let Err(e) = self.sink.prepare().await {
            self.sink_failing(e);
        }
        loop {
            self.round().await;
        }
    }

    async fn round(&mut self) {
        let position = self.position;
        self.handle.update(|s| s.position = position);
        if let Err(e) = self.enforce_backlog_bounds().await {
            self.store_failed(e).await;
            return;
        }
        let batch = match self.prefetched.take() {
            Some(ready) => ready,
            None => match self.read_batch().await {
                Ok(Some(batch)) => batch,
                Ok(None) => return,
                Err(e) => {
                    self.store_failed(e).await;
                    return;
                }
            },
        };
        self.count_too_old(&batch);
        let Some(encoded) = &batch.encoded else {
            self.set_aside_unwritable(&batch).await;
            self.finish(batch.last_seq).await;
            return;
        };
        let (result, next) = tokio::join!(self.sink.write(encoded), self.read_full_batch(batch.last_seq));
        self.on_answer(result, batch, next).await;
    }

    /// Acts on the server's answer to `batch`.
    async fn on_answer(&mut self, result: WriteResult, batch: Batch<S::Batch>, next: Option<Batch<S::Batch>>) {
        match result {
            WriteResult::Written => {
                self.set_aside_unwritable(&batch).await;
                self.finish(batch.last_seq).await;
                self.prefetched = next; // only full batches: a partial one waits for more
                self.delivered(batch.points).await;
                self.batch_limit = (self.batch_limit * 2).min(self.handle.spec.batch_size);
            }
            WriteResult::MissingDatabase => {
                if let Err(e) = self.sink.prepare().await {
                    self.sink_failing(e);
                    self.back_off(None).await;
                }
            }
            WriteResult::Retry { reason, after } => {
                self.sink_failing(reason);
                self.back_off(after).await;
            }
            WriteResult::TooLarge if batch.rows > 1 => {
                self.batch_limit = (batch.rows / 2).max(1);
                tracing::info!(
                    output = self.name(),
                    "server said the batch is too large; sending {} points at a time",
                    self.batch_limit
                );
            }
            WriteResult::TooLarge => {
                self.set_aside(&batch, 413, "a single point is too large").await;
                self.set_aside_unwritable(&batch).await;
                self.finish(batch.last_seq).await;
            }
            WriteResult::Rejected { status, message } if batch.points > 1 => {
                self.sort_out_refusal(batch, status, message).await;
            }
            WriteResult::Rejected { status, message } => {
                self.set_aside(&batch, status, &message).await;
                self.set_aside_unwritable(&batch).await;
                self.finish(batch.last_seq).await;
            }
            WriteResult::Misconfigured { status, message } => {
                self.sink_failing(format!(
                    "output {}: the server refused the write (HTTP {status}: {message}); check the url, credentials, database or bucket; retrying every {}s",
                    self.name(),
                    MISCONFIGURED_WAIT.as_secs()
                ));
                tokio::time::sleep(MISCONFIGURED_WAIT).await;
            }
        }
    }

    /// The server stored `points`: the output is connected, and once the
    /// backlog of an outage is delivered that is logged, once.
    async fn delivered(&mut self, points: u64) {
        self.handle.update(|s| {
            s.state = OutputState::Connected;
            s.last_error = None;
            s.points_written += points;
        });
        self.backoff = FIRST_BACKOFF;
        let Some(outage) = &mut self.outage else { return };
        outage.delivered += points;
        if outage.recovered.is_none() {
            let newest = self.store.bounds().await.map(|(_, max)| max).unwrap_or(self.position);
            outage.recovered = Some((outage.since.elapsed(), newest));
        }
        if let Some((failed_for, newest)) = outage.recovered {
            if self.position >= newest {
                tracing::info!(
                    output = %self.handle.spec.name,
                    "recovered: the output was failing for {}; delivered {} points from the backlog",
                    human_duration(failed_for),
                    outage.delivered
                );
                self.outage = None;
            }
        }
    }

    /// The sink failed (unreachable, refusing us, ...): the outage starts, or
    /// goes on and is not over until the sink answers again.
    fn sink_failing(&mut self, error: String) {
        self.handle.failing(error);
        match &mut self.outage {
            Some(outage) => outage.recovered = None,
            None => {
                self.outage = Some(Outage {
                    since: Instant::now(),
                    recovered: None,
                    delivered: 0,
                })
            }
        }
    }

    /// A refused batch of several points: InfluxDB may have stored all but
    /// a few (`partial`). Sets aside only the refused ones; if the server
    /// fails meanwhile, the whole batch is tried again later.
    async fn sort_out_refusal(&mut self, batch: Batch<S::Batch>, status: u16, message: String) {
        let rows = match self.store.read_after(batch.first_seq - 1, batch.rows).await {
            Ok(rows) => rows,
            Err(e) => return self.store_failed(e).await,
        };
        let (selected, _) = select(&self.handle.spec, &rows, now_ns());
        let sendable: Vec<&Row> = selected
            .into_iter()
            .filter(|r| self.sink.refusal(r).is_none())
            .collect();
        if sendable.len() as u64 != batch.points {
            // The store changed under us (retention): keep it simple, all aside.
            self.set_aside(&batch, status, &message).await;
            self.set_aside_unwritable(&batch).await;
            return self.finish(batch.last_seq).await;
        }
        let outcome = match sort_out(&self.sink, &sendable, status, message).await {
            Ok(outcome) => outcome,
            Err(WriteResult::Retry { reason, after }) => {
                self.sink_failing(reason);
                return self.back_off(after).await;
            }
            Err(other) => {
                self.sink_failing(format!("sorting out a refused batch: {other:?}"));
                return self.back_off(None).await;
            }
        };
        let refused: usize = outcome.refused.iter().map(|r| r.rows.len()).sum();
        if let Some(first) = outcome.refused.first() {
            tracing::error!(
                output = self.name(),
                "the server refused {refused} of {} samples {}..={} (HTTP {}: {}); found in {} more writes, they are set aside in the store's rejected_batches table and forwarding goes on",
                batch.points, batch.first_seq, batch.last_seq, first.status, first.message, outcome.writes
            );
        }
        for run in &outcome.refused {
            self.keep_refused(run).await;
        }
        self.set_aside_unwritable(&batch).await;
        self.finish(batch.last_seq).await;
        self.delivered(outcome.written).await;
    }

    /// Keeps one run of refused points in `rejected_batches`.
    async fn keep_refused(&self, run: &Refused<'_>) {
        let (first, last) = (run.rows[0].seq, run.rows[run.rows.len() - 1].seq);
        let text = self.sink.as_text(&self.sink.encode(&run.rows));
        if let Err(e) = self
            .store
            .set_aside(self.name(), (first, last), run.status, &run.message, &text)
            .await
        {
            tracing::error!(output = self.name(), "cannot keep the rejected samples: {e:#}");
        }
        let points = run.rows.len() as u64;
        let reason = format!("HTTP {}: {}", run.status, run.message);
        self.handle.update(|s| {
            s.state = OutputState::Connected;
            s.batches_rejected += 1;
            s.points_rejected += points;
            s.last_rejection = Some(reason);
        });
    }

    /// Keeps the batch's rows the sink cannot write exactly in
    /// `rejected_batches` (status 0: never sent), one record each.
    async fn set_aside_unwritable(&self, batch: &Batch<S::Batch>) {
        let Some(first) = batch.unwritable.first() else { return };
        let name = self.name();
        tracing::error!(
            output = name,
            "{} samples cannot be sent exactly and are set aside in the store's rejected_batches table (status 0), e.g. sample {}: {}",
            batch.unwritable.len(),
            first.seq,
            first.reason
        );
        for row in &batch.unwritable {
            if let Err(e) = self
                .store
                .set_aside(name, (row.seq, row.seq), 0, &row.reason, &row.json)
                .await
            {
                tracing::error!(output = name, "cannot keep the unwritable sample: {e:#}");
            }
        }
        let (n, reason) = (batch.unwritable.len() as u64, first.reason.clone());
        self.handle.update(|s| {
            s.batches_rejected += n;
            s.points_rejected += n;
            s.last_rejection = Some(reason);
        });
    }

    /// Waits before retrying: `after` when the server said, else the backoff
    /// (with jitter), which then doubles up to `MAX_BACKOFF`.
    async fn back_off(&mut self, after: Option<Duration>) {
        tokio::time::sleep(after.unwrap_or_else(|| jitter(self.backoff))).await;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    async fn store_failed(&self, e: anyhow::Error) {
        self.handle.failing(format!("store: {e:#}"));
        tokio::time::sleep(FIRST_BACKOFF).await;
    }

    /// The next batch after the position; a short one is given up to one
    /// flush interval to fill. `None` when there is nothing to send.
    async fn read_batch(&self) -> anyhow::Result<Option<Batch<S::Batch>>> {
        let mut rows = self.store.read_after(self.position, self.batch_limit).await?;
        if rows.len() < self.batch_limit {
            tokio::time::sleep(Duration::from_millis(self.handle.spec.flush_interval_ms)).await;
            if let Ok(more) = self.store.read_after(self.position, self.batch_limit).await {
                rows = more;
            }
        }
        Ok(self.encode(rows))
    }

    /// The batch after `after` if it is full (read while a write is in flight).
    async fn read_full_batch(&self, after: i64) -> Option<Batch<S::Batch>> {
        let rows = self
            .store
            .read_after(after, self.batch_limit)
            .await
            .ok()
            .filter(|r| r.len() == self.batch_limit)?;
        self.encode(rows)
    }

    fn encode(&self, rows: Vec<Row>) -> Option<Batch<S::Batch>> {
        let (first_seq, last_seq) = (rows.first()?.seq, rows.last()?.seq);
        let (selected, too_old) = select(&self.handle.spec, &rows, now_ns());
        let mut sendable = Vec::with_capacity(selected.len());
        let mut unwritable = Vec::new();
        for row in selected {
            match self.sink.refusal(row) {
                None => sendable.push(row),
                Some(reason) => unwritable.push(Unwritable {
                    seq: row.seq,
                    reason,
                    json: serde_json::json!({"item": row.item, "sample": row.sample.to_json()}).to_string(),
                }),
            }
        }
        Some(Batch {
            first_seq,
            last_seq,
            rows: rows.len(),
            points: sendable.len() as u64,
            too_old,
            unwritable,
            encoded: (!sendable.is_empty()).then(|| self.sink.encode(&sendable)),
        })
    }

    /// Done with a batch (written, set aside, or nothing to send): moves the
    /// durable position. If saving it fails the batch is simply sent again
    /// later (harmless: the database keeps one point per series and timestamp).
    async fn finish(&mut self, seq: i64) {
        if let Err(e) = self.store.set_position(self.name(), seq).await {
            tracing::error!(output = self.name(), "cannot save the output's position: {e:#}");
        }
        self.position = seq;
        self.handle.update(|s| s.position = seq);
    }

    /// Counts and logs the batch's samples that are too old to send, the first
    /// time they are seen.
    fn count_too_old(&mut self, batch: &Batch<S::Batch>) {
        let upto = self.too_old_counted_upto;
        let new = batch.too_old.iter().filter(|seq| **seq > upto).count() as u64;
        self.too_old_counted_upto = upto.max(batch.too_old.iter().copied().max().unwrap_or(0));
        if new > 0 {
            tracing::warn!(
                output = self.name(),
                "dropped {new} undelivered samples older than {} days (max_backlog_age_days)",
                self.handle.spec.max_backlog_age_days
            );
            self.handle.update(|s| s.points_dropped += new);
        }
    }

    /// Keeps a refused batch in the store's `rejected_batches` and goes on.
    async fn set_aside(&self, batch: &Batch<S::Batch>, status: u16, message: &str) {
        let name = self.name();
        let (first, last) = (batch.first_seq, batch.last_seq);
        tracing::error!(
            output = name,
            "the server rejected samples {first}..={last} (HTTP {status}: {message}); the batch is set aside in the store's rejected_batches table and forwarding goes on"
        );
        let text = batch.encoded.as_ref().map(|b| self.sink.as_text(b)).unwrap_or_default();
        if let Err(e) = self.store.set_aside(name, (first, last), status, message, &text).await {
            tracing::error!(output = name, "cannot keep the rejected batch: {e:#}");
        }
        let points = batch.points;
        self.handle.update(|s| {
            // The server answered: it is reachable, the data was the problem.
            s.state = OutputState::Connected;
            s.batches_rejected += 1;
            s.points_rejected += points;
            s.last_rejection = Some(format!("HTTP {status}: {message}"));
        });
    }

    /// Drops the oldest undelivered samples beyond `max_backlog_points`, and
    /// counts samples the store's retention removed before they were delivered.
    /// Only samples this output would have sent are counted as dropped.
    async fn enforce_backlog_bounds(&mut self) -> anyhow::Result<()> {
        let spec = &self.handle.spec;
        let position = self.position;
        let (min_seq, max_seq) = self.store.bounds().await?;
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
            dropped += self
                .store
                .count_range(new, cut, spec.items.as_deref(), spec.measurements.as_deref())
                .await?;
            new = cut;
        }
        if new != position {
            tracing::warn!(
                output = %spec.name,
                "dropped {dropped} undelivered samples: the backlog exceeded {limit} points (max_backlog_points) or the store's retention removed them"
            );
            self.handle.update(|s| s.points_dropped += dropped);
            self.store.set_position(&spec.name, new).await?;
            self.position = new;
            self.prefetched = None;
            self.handle.update(|s| s.position = new);
        }
        Ok(())
    }
}

/// `42 s`, `3 min 5 s`, `2 h 10 min`: how long an outage lasted, for the log.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// ±25 % so that many loggers do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.75 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{FieldValue, Sample};
    use std::collections::BTreeMap;

    fn row(seq: i64, item: &str, measurement: &str, ts: i64) -> Row {
        Row {
            seq,
            item: item.into(),
            sample: Sample {
                measurement: measurement.into(),
                tags: BTreeMap::new(),
                fields: vec![("v".into(), FieldValue::Float(0.5))],
                timestamp_ns: ts,
            },
        }
    }

    #[test]
    fn filters_and_age_limit() {
        let now = now_ns();
        let mut s = OutputSpec::rpdemo("db");
        s.items = Some(vec!["keep".into()]);
        s.max_backlog_age_days = 1;
        let rows = [
            row(1, "keep", "m", now),
            row(2, "other", "m", now),
            row(3, "keep", "m", now - 2 * 86_400_000_000_000),
        ];
        let (selected, too_old) = select(&s, &rows, now);
        assert_eq!(selected.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1]);
        assert_eq!(too_old, vec![3]);
        s.items = None;
        s.measurements = Some(vec!["x".into()]);
        assert!(select(&s, &rows, now).0.is_empty());
        s.measurements = None;
        s.max_backlog_age_days = 0;
        assert_eq!(select(&s, &rows, now).0.len(), 3, "0 days keeps everything");
    }
}
