//! The read primitives the read side calls: one series (or an item's series)
//! over a time range from hot rows and compacted blocks, aggregates in time
//! buckets from rollups or raw data, and the distinct names. Synchronous: the
//! `Store` runs them on a blocking thread with its own connection.

use super::dictionary::{Dictionary, SeriesKey};
use super::rollup::{self, Aggregate, MINUTE_NS};
use super::{block, codec, Row, SampleFilter};
use crate::sample::{FieldValue, Sample};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// Series ids of `item` (all items when `None`) that pass the filter's
/// measurement and tags.
pub fn series_matching(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    item: Option<&str>,
    filter: &SampleFilter,
) -> anyhow::Result<Vec<(i64, Arc<SeriesKey>)>> {
    dict.write().unwrap().reload(c)?;
    let d = dict.read().unwrap();
    let mut out: Vec<(i64, Arc<SeriesKey>)> = d
        .all_series()
        .filter(|(_, k)| item.is_none_or(|i| k.item == i))
        .filter(|(_, k)| filter.measurement.as_ref().is_none_or(|m| &k.measurement == m))
        .filter(|(_, k)| filter.tags.iter().all(|(tk, tv)| k.tags.get(tk) == Some(tv)))
        .map(|(id, k)| (id, k.clone()))
        .collect();
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}

/// Field ids → names for the samples being built.
pub fn named(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    fields: Vec<(u32, FieldValue)>,
) -> anyhow::Result<Vec<(String, FieldValue)>> {
    if fields.iter().any(|(id, _)| dict.read().unwrap().field(*id).is_none()) {
        dict.write().unwrap().reload(c)?;
    }
    let d = dict.read().unwrap();
    fields
        .into_iter()
        .map(|(id, v)| {
            let name = d.field(id).ok_or_else(|| anyhow::anyhow!("unknown field id {id}"))?;
            Ok((name.to_string(), v))
        })
        .collect()
}

fn sample(key: &SeriesKey, ts: i64, fields: Vec<(String, FieldValue)>) -> Sample {
    Sample {
        measurement: key.measurement.clone(),
        tags: key.tags.clone(),
        fields,
        timestamp_ns: ts,
    }
}

fn id_list(series: &[(i64, Arc<SeriesKey>)]) -> String {
    series
        .iter()
        .map(|(id, _)| id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Hot rows of these series in [from, to]: (series, ts, fields blob).
fn hot_rows(
    c: &Connection,
    series: &[(i64, Arc<SeriesKey>)],
    from: i64,
    to: i64,
    newest_first_limit: Option<usize>,
) -> anyhow::Result<Vec<(i64, i64, Vec<u8>)>> {
    // Ids are integers from the dictionary, so they can be inlined.
    let mut sql = format!(
        "SELECT series, ts_ns, fields FROM hot WHERE ts_ns >= ?1 AND ts_ns <= ?2 AND series IN ({})",
        id_list(series)
    );
    match newest_first_limit {
        Some(n) => sql.push_str(&format!(" ORDER BY ts_ns DESC LIMIT {n}")),
        None => sql.push_str(" ORDER BY ts_ns"),
    }
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// (id, end) of the blocks of one series overlapping [from, to], without
/// their data: a read that may stop early fetches only what it decodes.
fn block_ends(c: &Connection, series: i64, from: i64, to: i64) -> anyhow::Result<Vec<(i64, i64)>> {
    let mut stmt =
        c.prepare_cached("SELECT id, end_ns FROM blocks WHERE series = ?1 AND end_ns >= ?2 AND start_ns <= ?3")?;
    let rows = stmt.query_map(params![series, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn block_data(c: &Connection, id: i64) -> anyhow::Result<Vec<u8>> {
    Ok(c.prepare_cached("SELECT data FROM blocks WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// Blocks of one series overlapping [from, to], newest first.
fn blocks(c: &Connection, series: i64, from: i64, to: i64) -> anyhow::Result<Vec<(i64, i64, Vec<u8>)>> {
    let mut stmt = c.prepare_cached(
        "SELECT start_ns, end_ns, data FROM blocks WHERE series = ?1 AND end_ns >= ?2 AND start_ns <= ?3
         ORDER BY end_ns DESC",
    )?;
    let rows = stmt.query_map(params![series, from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn decode_block(series: i64, data: &[u8]) -> Vec<block::BlockSample> {
    block::decode(data).unwrap_or_else(|e| {
        tracing::error!("series {series}: skipping an unreadable block: {e}");
        Vec::new()
    })
}

fn decode_field(series: i64, data: &[u8], field: u32, range: (i64, i64)) -> Vec<(i64, FieldValue)> {
    block::decode_field(data, field, range).unwrap_or_else(|e| {
        tracing::error!("series {series}: skipping an unreadable block: {e}");
        Vec::new()
    })
}

type Found = (i64, i64, Vec<(u32, FieldValue)>);

/// The newest `limit` samples of `series` in the filter's time range, newest first.
pub fn recent(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    series: &[(i64, Arc<SeriesKey>)],
    filter: &SampleFilter,
    limit: usize,
) -> anyhow::Result<Vec<Sample>> {
    if series.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let (from, to) = (filter.from_ns.unwrap_or(i64::MIN), filter.to_ns.unwrap_or(i64::MAX));
    let keys: BTreeMap<i64, &Arc<SeriesKey>> = series.iter().map(|(id, k)| (*id, k)).collect();
    // (ts, series, fields)
    let mut found: Vec<Found> = Vec::new();
    for (s, ts, blob) in hot_rows(c, series, from, to, Some(limit))? {
        match codec::decode_fields(&blob) {
            Ok(fields) => found.push((ts, s, fields)),
            Err(e) => tracing::error!("series {s}: skipping an unreadable sample at {ts}: {e}"),
        }
    }
    // Compacted blocks, newest first across the series, until no block can
    // hold a sample newer than the `limit`-th found so far.
    let mut all_blocks: Vec<(i64, i64, i64)> = Vec::new();
    for (id, _) in series {
        for (block, end) in block_ends(c, *id, from, to)? {
            all_blocks.push((end, block, *id));
        }
    }
    all_blocks.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (end, block, id) in all_blocks {
        if found.len() >= limit {
            found.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
            found.truncate(limit);
            if end < found[limit - 1].0 {
                break;
            }
        }
        for (ts, fields) in decode_block(id, &block_data(c, block)?) {
            if (from..=to).contains(&ts) {
                found.push((ts, id, fields));
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    found.truncate(limit);
    found
        .into_iter()
        .map(|(ts, id, fields)| Ok(sample(keys[&id], ts, named(dict, c, fields)?)))
        .collect()
}

/// Every sample of one series in [from, to], oldest first.
pub fn range(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    series: &(i64, Arc<SeriesKey>),
    from: i64,
    to: i64,
) -> anyhow::Result<Vec<Sample>> {
    let mut found: Vec<(i64, Vec<(u32, FieldValue)>)> = Vec::new();
    for (_, _, data) in blocks(c, series.0, from, to)? {
        found.extend(block::decode_range(&data, (from, to)).unwrap_or_else(|e| {
            tracing::error!("series {}: skipping an unreadable block: {e}", series.0);
            Vec::new()
        }));
    }
    for (_, ts, blob) in hot_rows(c, std::slice::from_ref(series), from, to, None)? {
        if let Ok(fields) = codec::decode_fields(&blob) {
            found.push((ts, fields));
        }
    }
    found.sort_by_key(|(ts, _)| *ts);
    found
        .into_iter()
        .map(|(ts, fields)| Ok(sample(&series.1, ts, named(dict, c, fields)?)))
        .collect()
}

/// One field of one series in [from, to], oldest first; `None` as soon as
/// more than `limit` samples have it, so a read the caller would refuse stops
/// early instead of decoding the whole range.
pub fn field_range(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    series: i64,
    field: &str,
    (from, to): (i64, i64),
    limit: usize,
) -> anyhow::Result<Option<Vec<(i64, FieldValue)>>> {
    let Some(field_id) = ({
        dict.write().unwrap().reload(c)?;
        dict.read().unwrap().field_id(field)
    }) else {
        return Ok(Some(Vec::new()));
    };
    let value_of = |fields: Vec<(u32, FieldValue)>| fields.into_iter().find(|(id, _)| *id == field_id).map(|(_, v)| v);
    let mut found: Vec<(i64, FieldValue)> = Vec::new();
    for (block, _) in block_ends(c, series, from, to)? {
        found.extend(decode_field(series, &block_data(c, block)?, field_id, (from, to)));
        if found.len() > limit {
            return Ok(None);
        }
    }
    let mut stmt =
        c.prepare_cached("SELECT ts_ns, fields FROM hot WHERE ts_ns >= ?1 AND ts_ns <= ?2 AND series = ?3")?;
    let mut rows = stmt.query(params![from, to, series])?;
    while let Some(row) = rows.next()? {
        let (ts, blob): (i64, Vec<u8>) = (row.get(0)?, row.get(1)?);
        if let Some(v) = codec::decode_fields(&blob).ok().and_then(value_of) {
            found.push((ts, v));
            if found.len() > limit {
                return Ok(None);
            }
        }
    }
    found.sort_by_key(|(ts, _)| *ts);
    Ok(Some(found))
}

/// Aggregates of one numeric field of one series in buckets of `bucket_ns`
/// (aligned to multiples of it since the epoch) over [from, to]. Buckets of
/// whole minutes come from the per-minute rollups of compacted data plus the
/// hot rows, so they outlive raw retention; other sizes need raw data, and
/// say so when it has expired.
pub fn buckets(
    c: &Connection,
    dict: &RwLock<Dictionary>,
    series: i64,
    field: &str,
    (from, to): (i64, i64),
    bucket_ns: i64,
    raw_kept_from: Option<i64>,
) -> anyhow::Result<Vec<(i64, Aggregate)>> {
    anyhow::ensure!(bucket_ns > 0, "the bucket size must be positive");
    let Some(field_id) = ({
        dict.write().unwrap().reload(c)?;
        dict.read().unwrap().field_id(field)
    }) else {
        return Ok(Vec::new());
    };
    let bucket_of = |ts: i64| ts.div_euclid(bucket_ns) * bucket_ns;
    let (from, to) = (bucket_of(from), bucket_of(to).saturating_add(bucket_ns - 1));
    let mut out: BTreeMap<i64, Aggregate> = BTreeMap::new();
    let mut add = |ts: i64, a: &Aggregate| {
        out.entry(bucket_of(ts)).and_modify(|x| x.merge(a)).or_insert(*a);
    };
    let whole_minutes = bucket_ns % MINUTE_NS == 0;
    if whole_minutes {
        let mut stmt = c.prepare_cached(
            "SELECT data FROM rollups WHERE series = ?1 AND field = ?2 AND end_ns >= ?3 AND start_ns <= ?4",
        )?;
        let rows = stmt.query_map(params![series, field_id, from, to], |r| r.get::<_, Vec<u8>>(0))?;
        for data in rows {
            for (minute, a) in rollup::decode(&data?).map_err(anyhow::Error::msg)? {
                if (from..=to).contains(&minute) {
                    add(minute, &a);
                }
            }
        }
    } else {
        if let Some(kept) = raw_kept_from.filter(|k| from < *k) {
            anyhow::bail!(
                "raw data before {} has expired (store.retention_days); ask for buckets of whole minutes, which come from rollups",
                crate::sample::rfc3339_ns(kept)
            );
        }
        for (_, _, data) in blocks(c, series, from, to)? {
            for (ts, fields) in decode_block(series, &data) {
                if (from..=to).contains(&ts) {
                    for v in fields
                        .iter()
                        .filter(|(id, _)| *id == field_id)
                        .filter_map(|(_, v)| rollup::numeric(v))
                    {
                        add(ts, &Aggregate::of(ts, v));
                    }
                }
            }
        }
    }
    // Hot rows are in neither rollups nor blocks.
    hot_values(c, series, field_id, from, to, |ts, v| add(ts, &Aggregate::of(ts, v)))?;
    Ok(out.into_iter().collect())
}

/// Each hot row's numeric value of one field of a series in [from, to].
fn hot_values(
    c: &Connection,
    series: i64,
    field_id: u32,
    from: i64,
    to: i64,
    mut each: impl FnMut(i64, f64),
) -> rusqlite::Result<()> {
    let mut stmt =
        c.prepare_cached("SELECT ts_ns, fields FROM hot WHERE ts_ns >= ?1 AND ts_ns <= ?2 AND series = ?3")?;
    let rows = stmt.query_map(params![from, to, series], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    for row in rows {
        let (ts, blob) = row?;
        if let Ok(fields) = codec::decode_fields(&blob) {
            for v in fields
                .iter()
                .filter(|(id, _)| *id == field_id)
                .filter_map(|(_, v)| rollup::numeric(v))
            {
                each(ts, v);
            }
        }
    }
    Ok(())
}

/// [from, to] split into its whole minutes, [first_whole, end_whole), and
/// the raw ranges around them: both edges, or all of it when no minute is whole.
fn split_minutes(from: i64, to: i64) -> (i64, i64, Vec<(i64, i64)>) {
    let first_whole = from
        .div_euclid(MINUTE_NS)
        .saturating_add(i64::from(from.rem_euclid(MINUTE_NS) != 0))
        .saturating_mul(MINUTE_NS);
    let end_whole = to.saturating_add(1).div_euclid(MINUTE_NS).saturating_mul(MINUTE_NS); // exclusive
    let edges: Vec<(i64, i64)> = if first_whole >= end_whole {
        vec![(from, to)]
    } else {
        [(from, first_whole - 1), (end_whole, to)]
            .into_iter()
            .filter(|(a, b)| a <= b)
            .collect()
    };
    (first_whole, end_whole, edges)
}

/// The id of a field name, `None` when no sample ever had it.
pub fn field_id(dict: &RwLock<Dictionary>, c: &Connection, field: &str) -> anyhow::Result<Option<u32>> {
    dict.write().unwrap().reload(c)?;
    Ok(dict.read().unwrap().field_id(field))
}

/// The highest value of a numeric field in one series over [from, to], with
/// a lower bound of the earliest time it occurs, given `best` already found
/// in its hot rows (`hot_values_of_all`). Whole minutes come from the
/// rollups' maxima (bound: the minute's start). A partial minute at either
/// edge needs the raw samples, but its rollup's maximum bounds them: the
/// block is decoded only when that bound could beat or tie what is found,
/// so a window that starts mid-minute rarely decodes anything.
pub fn compacted_max(
    c: &Connection,
    series: i64,
    field_id: u32,
    (from, to): (i64, i64),
    mut best: Option<(f64, i64)>,
) -> anyhow::Result<Option<(f64, i64)>> {
    if from > to {
        return Ok(best);
    }
    fn consider(best: &mut Option<(f64, i64)>, v: f64, at: i64) {
        if best.is_none_or(|(have, t)| v > have || (v == have && at < t)) {
            *best = Some((v, at));
        }
    }
    let (first_whole, end_whole, edges) = split_minutes(from, to);
    // The edge minutes' maxima, read with the whole ones.
    let edge_minutes: Vec<i64> = edges
        .iter()
        .flat_map(|(a, b)| [rollup::minute_of(*a), rollup::minute_of(*b)])
        .collect();
    let mut edge_bound: HashMap<i64, f64> = HashMap::new();
    let (lo, hi) = (rollup::minute_of(from), rollup::minute_of(to));
    // A block wholly inside the whole minutes is ranked by its stored peak,
    // read from the covering index; the others (at an edge, or from a file
    // older than the column) have their blob fetched and decoded.
    let mut stmt = c.prepare_cached(
        "SELECT id, start_ns, end_ns, peak, peak_at FROM rollups
         WHERE series = ?1 AND field = ?2 AND end_ns >= ?3 AND start_ns <= ?4",
    )?;
    let spans = stmt
        .query_map(params![series, field_id, lo, hi], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<f64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut blob = c.prepare_cached("SELECT data FROM rollups WHERE id = ?1")?;
    for (id, start, end, peak, peak_at) in spans {
        if let (Some(max), Some(at)) = (peak, peak_at) {
            if start >= first_whole && end < end_whole {
                consider(&mut best, max, at);
                continue;
            }
        }
        let data: Vec<u8> = blob.query_row([id], |r| r.get(0))?;
        for (minute, max) in rollup::decode_max(&data).map_err(anyhow::Error::msg)? {
            if (first_whole..end_whole).contains(&minute) {
                consider(&mut best, max, minute);
            } else if edge_minutes.contains(&minute) {
                let bound = edge_bound.entry(minute).or_insert(max);
                *bound = bound.max(max);
            }
        }
    }
    // No rollup for an edge's minute (pruned, or none written): no bound, decode.
    let needed: Vec<(i64, i64)> = edges
        .iter()
        .copied()
        .filter(|(a, b)| {
            let bound = [rollup::minute_of(*a), rollup::minute_of(*b)]
                .iter()
                .map(|m| edge_bound.get(m).copied().unwrap_or(f64::INFINITY))
                .fold(f64::NEG_INFINITY, f64::max);
            !best.is_some_and(|(have, _)| bound < have)
        })
        .collect();
    let in_needed = |ts: i64| needed.iter().any(|(a, b)| (*a..=*b).contains(&ts));
    let mut seen = std::collections::HashSet::new();
    for (a, b) in &needed {
        for (block, _) in block_ends(c, series, *a, *b)? {
            if !seen.insert(block) {
                continue; // both edges in one block: decoded once
            }
            for (ts, v) in decode_field(series, &block_data(c, block)?, field_id, (from, to)) {
                if let Some(v) = rollup::numeric(&v).filter(|_| in_needed(ts)) {
                    consider(&mut best, v, ts);
                }
            }
        }
    }
    Ok(best)
}

/// Every hot value of a numeric field in [from, to], of any series, in one
/// scan: (series, ts, value). Cheaper than a query per series when many
/// series share the window; when the window holds every hot row (the usual
/// case: hot rows are the last minutes), the table is read in its own order
/// instead of through the time index, a lookup per row.
pub fn hot_values_of_all(
    c: &Connection,
    field_id: u32,
    (from, to): (i64, i64),
    mut each: impl FnMut(i64, i64, f64),
) -> anyhow::Result<()> {
    let (oldest, newest): (Option<i64>, Option<i64>) =
        c.query_row("SELECT min(ts_ns), max(ts_ns) FROM hot", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(oldest), Some(newest)) = (oldest, newest) else {
        return Ok(());
    };
    let sql = if from <= oldest && newest <= to {
        "SELECT series, ts_ns, fields FROM hot NOT INDEXED WHERE ts_ns >= ?1 AND ts_ns <= ?2"
    } else {
        "SELECT series, ts_ns, fields FROM hot WHERE ts_ns >= ?1 AND ts_ns <= ?2"
    };
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params![from, to])?;
    while let Some(row) = rows.next()? {
        if let Some(v) = codec::numeric_field(row.get_ref(2)?.as_blob()?, field_id) {
            each(row.get(0)?, row.get(1)?, v);
        }
    }
    Ok(())
}

/// Per-minute aggregates of one numeric field of one series over [from, to],
/// whose ends need not fall on a minute: the whole minutes from the rollups,
/// the raw points of the partial minutes at either end and every hot row
/// each as its own aggregate at its own time. One read for what a windowed
/// aggregate of whole minutes needs: only the edge minutes decode blocks.
pub fn minute_aggregates(
    c: &Connection,
    dict: &RwLock<Dictionary>,
    series: i64,
    field: &str,
    (from, to): (i64, i64),
) -> anyhow::Result<Vec<(i64, Aggregate)>> {
    let Some(field_id) = ({
        dict.write().unwrap().reload(c)?;
        dict.read().unwrap().field_id(field)
    }) else {
        return Ok(Vec::new());
    };
    if from > to {
        return Ok(Vec::new());
    }
    let (first_whole, end_whole, edges) = split_minutes(from, to);
    let mut out: Vec<(i64, Aggregate)> = Vec::new();
    let in_edges = |ts: i64| edges.iter().any(|(a, b)| (*a..=*b).contains(&ts));
    let mut seen = std::collections::HashSet::new();
    for (a, b) in &edges {
        for (block, _) in block_ends(c, series, *a, *b)? {
            if !seen.insert(block) {
                continue; // both edges in one block: decoded once
            }
            for (ts, v) in decode_field(series, &block_data(c, block)?, field_id, (from, to)) {
                if let Some(v) = rollup::numeric(&v).filter(|_| in_edges(ts)) {
                    out.push((ts, Aggregate::of(ts, v)));
                }
            }
        }
    }
    if first_whole < end_whole {
        let mut stmt = c.prepare_cached(
            "SELECT data FROM rollups WHERE series = ?1 AND field = ?2 AND end_ns >= ?3 AND start_ns <= ?4",
        )?;
        let rows = stmt.query_map(params![series, field_id, first_whole, end_whole - 1], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        for data in rows {
            for (minute, a) in rollup::decode(&data?).map_err(anyhow::Error::msg)? {
                if (first_whole..end_whole).contains(&minute) {
                    out.push((minute, a));
                }
            }
        }
    }
    // Hot rows are in neither rollups nor blocks.
    hot_values(c, series, field_id, from, to, |ts, v| {
        out.push((ts, Aggregate::of(ts, v)))
    })?;
    Ok(out)
}

/// The (field, type) pairs each of these series has stored, sorted; a field
/// a plugin sent with two types is listed with each.
pub fn fields_of(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    series: &[(i64, Arc<SeriesKey>)],
) -> anyhow::Result<HashMap<i64, Vec<(String, String)>>> {
    let mut out: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    if series.is_empty() {
        return Ok(out);
    }
    dict.write().unwrap().reload(c)?;
    let d = dict.read().unwrap();
    // Ids are integers from the dictionary, so they can be inlined.
    let sql = format!(
        "SELECT series, field, type FROM series_fields WHERE series IN ({})",
        id_list(series)
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?))
    })?;
    for row in rows {
        let (series, field, kind) = row?;
        if let Some(name) = d.field(field) {
            out.entry(series).or_default().push((name.to_string(), kind));
        }
    }
    for fields in out.values_mut() {
        fields.sort();
    }
    Ok(out)
}

/// Distinct names, as InfluxQL's SHOW statements list them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Names {
    pub measurements: Vec<String>,
    /// measurement → (field, type)
    pub field_keys: BTreeMap<String, Vec<(String, String)>>,
    /// measurement → tag key → values
    pub tags: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

pub fn names(dict: &RwLock<Dictionary>, c: &Connection) -> anyhow::Result<Names> {
    dict.write().unwrap().reload(c)?;
    let d = dict.read().unwrap();
    let mut out = Names::default();
    let mut fields: BTreeMap<String, std::collections::BTreeSet<(String, String)>> = BTreeMap::new();
    let mut stmt = c.prepare_cached("SELECT series, field, type FROM series_fields")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?))
    })?;
    for row in rows {
        let (series, field, kind) = row?;
        if let (Some(k), Some(name)) = (d.series(series), d.field(field)) {
            fields
                .entry(k.measurement.clone())
                .or_default()
                .insert((name.to_string(), kind));
        }
    }
    let mut tags: BTreeMap<String, BTreeMap<String, std::collections::BTreeSet<String>>> = BTreeMap::new();
    for (_, k) in d.all_series() {
        let m = tags.entry(k.measurement.clone()).or_default();
        for (tk, tv) in &k.tags {
            m.entry(tk.clone()).or_default().insert(tv.clone());
        }
    }
    out.measurements = tags.keys().cloned().collect();
    out.field_keys = fields.into_iter().map(|(m, f)| (m, f.into_iter().collect())).collect();
    out.tags = tags
        .into_iter()
        .map(|(m, t)| (m, t.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect()))
        .collect();
    Ok(out)
}

/// Up to `limit` hot rows after sequence number `after`, oldest first; an
/// unreadable row is skipped (and logged) so it never blocks an output.
pub fn hot_after(dict: &RwLock<Dictionary>, c: &Connection, after: i64, limit: usize) -> anyhow::Result<Vec<Row>> {
    let mut stmt =
        c.prepare_cached("SELECT seq, series, ts_ns, fields FROM hot WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Vec<u8>>(3)?,
        ))
    })?;
    let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
    if rows.iter().any(|(_, s, ..)| dict.read().unwrap().series(*s).is_none()) {
        dict.write().unwrap().reload(c)?;
    }
    let mut out = Vec::with_capacity(rows.len());
    for (seq, series, ts, blob) in rows {
        let key = dict.read().unwrap().series(series).cloned();
        let fields = codec::decode_fields(&blob)
            .map_err(anyhow::Error::msg)
            .and_then(|f| named(dict, c, f));
        match (key, fields) {
            (Some(key), Ok(fields)) => out.push(Row {
                seq,
                item: key.item.clone(),
                sample: sample(&key, ts, fields),
            }),
            (None, _) => tracing::error!("skipping stored sample {seq}: unknown series {series}"),
            (_, Err(e)) => tracing::error!("skipping an unreadable stored sample {seq}: {e:#}"),
        }
    }
    Ok(out)
}

/// The newest sample of every series, as the store holds them at start-up.
pub fn latest_at_open(c: &Connection) -> anyhow::Result<HashMap<i64, Sample>> {
    let dict = RwLock::new(Dictionary::load(c)?);
    let mut out = HashMap::new();
    let ids: Vec<(i64, Arc<SeriesKey>)> = dict
        .read()
        .unwrap()
        .all_series()
        .map(|(id, k)| (id, k.clone()))
        .collect();
    // One pass over the (ts, series) index for the newest hot timestamps.
    let newest_ts: HashMap<i64, i64> = {
        let mut stmt = c.prepare("SELECT series, MAX(ts_ns) FROM hot GROUP BY series")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, key) in ids {
        let newest_hot: Option<(i64, Vec<u8>)> = match newest_ts.get(&id) {
            Some(ts) => c
                .query_row(
                    "SELECT ts_ns, fields FROM hot WHERE ts_ns = ?1 AND series = ?2",
                    [*ts, id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
            None => None,
        };
        let newest_block: Option<Vec<u8>> = c
            .query_row(
                "SELECT data FROM blocks WHERE series = ?1 ORDER BY end_ns DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let from_block = newest_block.and_then(|d| decode_block(id, &d).pop());
        let newest = match (newest_hot, from_block) {
            (Some((ts, blob)), Some((bts, _))) if ts >= bts => codec::decode_fields(&blob).ok().map(|f| (ts, f)),
            (Some((ts, blob)), None) => codec::decode_fields(&blob).ok().map(|f| (ts, f)),
            (_, Some(b)) => Some(b),
            (None, None) => None,
        };
        if let Some((ts, fields)) = newest {
            out.insert(id, sample(&key, ts, named(&dict, c, fields)?));
        }
    }
    Ok(out)
}
