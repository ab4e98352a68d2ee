//! The compactor thread: moves hot rows that are old enough and delivered to
//! every output into compressed blocks with per-minute rollups, merges a
//! day's small blocks, and applies retention. Each step is its own short
//! transaction (the sample writer waits for at most one of them), so a crash
//! or `kill -9` at any point leaves every committed sample either hot or in
//! a block, never both and never neither.

use super::block::{self, BlockSample};
use super::codec;
use super::rollup::{self, Aggregate};
use super::Shared;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::{BTreeMap, HashMap};
use std::sync::Weak;
use std::time::Duration;

/// Hot rows moved per transaction: bounds how long the writer can wait.
const ROWS_PER_STEP: i64 = 50_000;
/// A day with this many blocks of one series is merged before it is over.
const MERGE_AT_BLOCKS: i64 = 16;
/// Rows deleted per retention transaction.
const PRUNE_PER_STEP: i64 = 20_000;
const DAY_NS: i64 = 86_400_000_000_000;
/// How often the compactor looks for work.
pub const EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Hot rows younger than this stay hot.
    pub hot_ns: i64,
    /// 0 keeps raw data forever.
    pub retention_ns: i64,
    /// 0 keeps rollups forever.
    pub rollup_retention_ns: i64,
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Report {
    pub compacted: usize,
    pub blocks_written: usize,
    pub blocks_merged: usize,
    pub pruned_hot: usize,
    pub pruned_blocks: usize,
    pub pruned_rollups: usize,
}

/// Runs every `EVERY` until the store is closed (every `Store` and the
/// writer gone).
pub fn run(mut conn: Connection, shared: Weak<Shared>, policy: Policy) {
    loop {
        std::thread::sleep(EVERY);
        let Some(shared) = shared.upgrade() else { return };
        // A panic (damaged data the checks missed) must not end compaction
        // and retention for good: it is logged and the next minute retries.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_once(&mut conn, &shared, policy, crate::sample::now_ns())
        }));
        let Ok(run) = run else {
            tracing::error!("compacting the store panicked; retried in {} s", EVERY.as_secs());
            continue;
        };
        match run {
            Ok(r) if r.compacted + r.pruned_hot + r.pruned_blocks > 0 => tracing::debug!("compaction: {r:?}"),
            Ok(_) => {}
            Err(e) => tracing::error!("compacting the store failed (retried in {} s): {e:#}", EVERY.as_secs()),
        }
    }
}

/// One pass: compaction, merging, retention.
pub fn run_once(c: &mut Connection, shared: &Shared, policy: Policy, now: i64) -> anyhow::Result<Report> {
    // One run at a time (the thread, POST /store/compact): two would read the
    // same hot rows and write their blocks twice.
    let _one_at_a_time = shared.compacting.lock().unwrap_or_else(|e| e.into_inner());
    let mut report = Report::default();
    let before = rollup::minute_of(now - policy.hot_ns);
    let delivered = delivered_up_to(c, &shared.outputs)?;
    let mut after = 0;
    loop {
        let (moved, last) = compact_step(c, after, delivered, before, &mut report)?;
        if moved == 0 {
            break;
        }
        report.compacted += moved;
        after = last;
    }
    merge_days(c, before, &mut report)?;
    prune(c, policy, now, &mut report)?;
    Ok(report)
}

/// The highest sequence number every configured output has delivered
/// (everything, when there are none): later rows stay hot so that outputs
/// read them from their positions.
fn delivered_up_to(c: &Connection, outputs: &[String]) -> anyhow::Result<i64> {
    let mut upto = i64::MAX;
    for output in outputs {
        let seq: Option<i64> = c
            .query_row("SELECT seq FROM output_positions WHERE output = ?1", [output], |r| {
                r.get(0)
            })
            .optional()?;
        upto = upto.min(seq.unwrap_or(0));
    }
    Ok(upto)
}

type HotRow = (i64, i64, i64, Vec<u8>);

/// Moves up to `ROWS_PER_STEP` hot rows with `after < seq <= delivered` and
/// `ts < before` into blocks and rollups. Returns (rows moved, last seq seen).
fn compact_step(
    c: &mut Connection,
    after: i64,
    delivered: i64,
    before: i64,
    report: &mut Report,
) -> anyhow::Result<(usize, i64)> {
    let rows: Vec<HotRow> = {
        let mut stmt = c.prepare_cached(
            "SELECT seq, series, ts_ns, fields FROM hot WHERE seq > ?1 AND seq <= ?2 AND ts_ns < ?3 ORDER BY seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![after, delivered, before, ROWS_PER_STEP], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let Some(last) = rows.last().map(|r| r.0) else {
        return Ok((0, after));
    };
    // Per series: its samples, and per numeric field its minutes.
    let mut per_series: BTreeMap<i64, Vec<BlockSample>> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (seq, series, ts, blob) in &rows {
        match codec::decode_fields(blob) {
            Ok(fields) => per_series.entry(*series).or_default().push((*ts, fields)),
            Err(e) => {
                // Left hot (and logged), not lost: it can still be read raw.
                tracing::error!("sample {seq} is unreadable ({e}); it stays uncompacted");
                unreadable.push(*seq);
            }
        }
    }
    let mut encoded = Vec::new();
    for (series, mut samples) in per_series {
        samples.sort_by_key(|(ts, _)| *ts);
        let mut rollups: BTreeMap<u32, BTreeMap<i64, Aggregate>> = BTreeMap::new();
        for (ts, fields) in &samples {
            for (id, v) in fields {
                if let Some(x) = rollup::numeric(v) {
                    rollup::add(rollups.entry(*id).or_default(), *ts, x);
                }
            }
        }
        let (start, end) = (samples[0].0, samples[samples.len() - 1].0);
        encoded.push((series, start, end, samples.len(), block::encode(&samples), rollups));
    }
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (series, start, end, count, data, rollups) in &encoded {
        tx.prepare_cached("INSERT INTO blocks (series, start_ns, end_ns, count, data) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![series, start, end, *count as i64, data])?;
        for (field, minutes) in rollups {
            insert_rollup(&tx, *series, *field, minutes)?;
        }
    }
    {
        let mut delete = tx.prepare_cached("DELETE FROM hot WHERE seq = ?1")?;
        for (seq, ..) in &rows {
            if !unreadable.contains(seq) && delete.execute([seq])? != 1 {
                // Gone since it was read (retention, another process): the
                // blocks would hold it twice. Rolled back; the next run redoes it.
                anyhow::bail!("hot sample {seq} vanished while it was compacted");
            }
        }
    }
    tx.commit()?;
    report.blocks_written += encoded.len();
    Ok((rows.len() - unreadable.len(), last))
}

fn insert_rollup(
    tx: &rusqlite::Transaction,
    series: i64,
    field: u32,
    minutes: &BTreeMap<i64, Aggregate>,
) -> rusqlite::Result<()> {
    let (Some(first), Some(last)) = (minutes.keys().next(), minutes.keys().next_back()) else {
        return Ok(());
    };
    let (peak, peak_at) = rollup::peak(minutes).expect("minutes is not empty");
    tx.prepare_cached(
        "INSERT INTO rollups (series, field, start_ns, end_ns, data, peak, peak_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![series, field, first, last, rollup::encode(minutes), peak, peak_at])?;
    Ok(())
}

/// Merges a series' blocks (and rollups) of one UTC day into one, once the
/// day is over or has many: small blocks compress worse and cost an index
/// entry each.
fn merge_days(c: &mut Connection, before: i64, report: &mut Report) -> anyhow::Result<()> {
    let groups: Vec<(i64, i64, i64)> = {
        let mut stmt = c.prepare(
            "SELECT series, start_ns / ?1 - (start_ns % ?1 < 0) AS day, COUNT(*) FROM blocks
             WHERE end_ns < ?2 GROUP BY series, day HAVING COUNT(*) > 1",
        )?;
        let rows = stmt.query_map(params![DAY_NS, before], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let today = before.div_euclid(DAY_NS);
    for (series, day, count) in groups {
        if day >= today && count < MERGE_AT_BLOCKS {
            continue;
        }
        let (lo, hi) = (day * DAY_NS, day * DAY_NS + DAY_NS);
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let blocks: Vec<(i64, Vec<u8>)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, data FROM blocks WHERE series = ?1 AND start_ns >= ?2 AND start_ns < ?3 AND end_ns < ?4",
            )?;
            let rows = stmt.query_map(params![series, lo, hi, before], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut samples: Vec<BlockSample> = Vec::new();
        let mut ok = true;
        for (_, data) in &blocks {
            match block::decode(data) {
                Ok(s) => samples.extend(s),
                Err(e) => {
                    tracing::error!("series {series}: a block is unreadable ({e}); its day is not merged");
                    ok = false;
                }
            }
        }
        if !ok || blocks.len() < 2 {
            continue;
        }
        if samples.is_empty() {
            tracing::error!("series {series}: the blocks of a day decode to no samples; the day is not merged");
            continue;
        }
        samples.sort_by_key(|(ts, _)| *ts);
        samples.dedup_by_key(|(ts, _)| *ts);
        let (start, end) = (samples[0].0, samples[samples.len() - 1].0);
        for (id, _) in &blocks {
            tx.execute("DELETE FROM blocks WHERE id = ?1", [id])?;
        }
        tx.execute(
            "INSERT INTO blocks (series, start_ns, end_ns, count, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![series, start, end, samples.len() as i64, block::encode(&samples)],
        )?;
        // The same day's rollups of this series, field by field.
        let rollup_rows: Vec<(i64, u32, Vec<u8>)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, field, data FROM rollups WHERE series = ?1 AND start_ns >= ?2 AND start_ns < ?3 AND end_ns < ?4",
            )?;
            let rows = stmt.query_map(params![series, lo, hi, before], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut per_field: HashMap<u32, (Vec<i64>, BTreeMap<i64, Aggregate>)> = HashMap::new();
        for (id, field, data) in rollup_rows {
            let Ok(minutes) = rollup::decode(&data) else { continue };
            let entry = per_field.entry(field).or_default();
            entry.0.push(id);
            for (m, a) in minutes {
                entry.1.entry(m).and_modify(|x| x.merge(&a)).or_insert(a);
            }
        }
        for (field, (ids, minutes)) in per_field {
            if ids.len() < 2 {
                continue;
            }
            for id in ids {
                tx.execute("DELETE FROM rollups WHERE id = ?1", [id])?;
            }
            insert_rollup(&tx, series, field, &minutes)?;
        }
        tx.commit()?;
        report.blocks_merged += blocks.len();
    }
    Ok(())
}

/// Deletes raw data older than `retention`, rollups older than theirs.
/// Whole blocks go once their newest sample is past the cut-off.
fn prune(c: &mut Connection, policy: Policy, now: i64, report: &mut Report) -> anyhow::Result<()> {
    if policy.retention_ns > 0 {
        let cutoff = now - policy.retention_ns;
        loop {
            let n = c.execute(
                "DELETE FROM hot WHERE seq IN (SELECT seq FROM hot WHERE ts_ns < ?1 LIMIT ?2)",
                params![cutoff, PRUNE_PER_STEP],
            )?;
            report.pruned_hot += n;
            if n == 0 {
                break;
            }
        }
        report.pruned_blocks += c.execute("DELETE FROM blocks WHERE end_ns < ?1", [cutoff])?;
    }
    if policy.rollup_retention_ns > 0 {
        report.pruned_rollups += c.execute(
            "DELETE FROM rollups WHERE end_ns < ?1",
            [now - policy.rollup_retention_ns],
        )?;
    }
    Ok(())
}
