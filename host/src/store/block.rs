//! A compressed block: the samples of one series over a time range, stored
//! column by column. Timestamps and numeric fields go through `pco` (it finds
//! the regular step of timestamps and the quantisation of sensor values, and
//! is lossless: floats come back bit for bit); booleans are run-length coded,
//! strings dictionary coded. Which fields a sample has, in which order and of
//! which type is its *layout*; a series nearly always has one, so that costs
//! nothing, but a plugin that adds a field mid-block is kept exactly.
//!
//! ```text
//! version u8 · n · timestamps (pco i64)
//! layouts: count, each: count, (field id, type)…     layout per sample: runs
//! columns: count, each: field id, type, payload (pco / bool runs / dictionary + runs)
//! ```

use super::codec::{put_bytes, put_varint, Reader};
use crate::sample::FieldValue;
use pco::standalone::{simple_compress, simple_decompress};
use pco::ChunkConfig;
use std::collections::HashMap;

const VERSION: u8 = 1;

const FLOAT: u8 = 0;
const INT: u8 = 1;
const UINT: u8 = 2;
const BOOL: u8 = 3;
const TEXT: u8 = 4;

/// One sample of a block: its timestamp and (field id, value) in its order.
pub(super) type BlockSample = (i64, Vec<(u32, FieldValue)>);

fn type_of(v: &FieldValue) -> u8 {
    match v {
        FieldValue::Float(_) => FLOAT,
        FieldValue::Int(_) => INT,
        FieldValue::Uint(_) => UINT,
        FieldValue::Boolean(_) => BOOL,
        FieldValue::Text(_) => TEXT,
    }
}

fn pco<T: pco::data_types::Number>(values: &[T]) -> Vec<u8> {
    // Compressing a slice of plain numbers cannot fail with the default config.
    simple_compress(values, &ChunkConfig::default()).expect("pco compresses any numbers")
}

fn unpco<T: pco::data_types::Number>(bytes: &[u8], n: usize) -> Result<Vec<T>, String> {
    let values = simple_decompress::<T>(bytes).map_err(|e| format!("pco: {e}"))?;
    if values.len() != n {
        return Err(format!("column has {} values, expected {n}", values.len()));
    }
    Ok(values)
}

/// Run-length codes a sequence of small integers: (value, run length)…
fn put_runs(out: &mut Vec<u8>, values: impl IntoIterator<Item = u64>) {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for v in values {
        match runs.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => runs.push((v, 1)),
        }
    }
    put_varint(out, runs.len() as u64);
    for (v, n) in runs {
        put_varint(out, v);
        put_varint(out, n);
    }
}

fn read_runs(r: &mut Reader, n: usize) -> Result<Vec<u64>, String> {
    let runs = r.len()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..runs {
        let v = r.varint()?;
        let len = r.varint()? as usize;
        if out.len().checked_add(len).is_none_or(|end| end > n) {
            return Err("runs exceed the block".into());
        }
        out.extend(std::iter::repeat_n(v, len));
    }
    if out.len() != n {
        return Err(format!("runs cover {} of {n} samples", out.len()));
    }
    Ok(out)
}

/// Encodes samples sorted by timestamp (one per timestamp).
pub(super) fn encode(samples: &[BlockSample]) -> Vec<u8> {
    let mut out = vec![VERSION];
    put_varint(&mut out, samples.len() as u64);
    let ts: Vec<i64> = samples.iter().map(|(t, _)| *t).collect();
    put_bytes(&mut out, &pco(&ts));

    // Layouts and, per (field, type), the column of its values.
    let mut layouts: Vec<Vec<(u32, u8)>> = Vec::new();
    let mut layout_of: HashMap<Vec<(u32, u8)>, u64> = HashMap::new();
    let mut per_sample = Vec::with_capacity(samples.len());
    let mut columns: Vec<((u32, u8), Vec<&FieldValue>)> = Vec::new();
    let mut column_of: HashMap<(u32, u8), usize> = HashMap::new();
    for (_, fields) in samples {
        let layout: Vec<(u32, u8)> = fields.iter().map(|(id, v)| (*id, type_of(v))).collect();
        let next = layouts.len() as u64;
        let index = *layout_of.entry(layout.clone()).or_insert_with(|| {
            layouts.push(layout.clone());
            next
        });
        per_sample.push(index);
        for (key, (_, value)) in layout.into_iter().zip(fields) {
            let c = *column_of.entry(key).or_insert_with(|| {
                columns.push((key, Vec::new()));
                columns.len() - 1
            });
            columns[c].1.push(value);
        }
    }
    put_varint(&mut out, layouts.len() as u64);
    for layout in &layouts {
        put_varint(&mut out, layout.len() as u64);
        for (id, t) in layout {
            put_varint(&mut out, u64::from(*id));
            out.push(*t);
        }
    }
    put_runs(&mut out, per_sample);

    put_varint(&mut out, columns.len() as u64);
    for ((id, t), values) in &columns {
        put_varint(&mut out, u64::from(*id));
        out.push(*t);
        match *t {
            FLOAT => put_bytes(&mut out, &pco(&numbers(values, |v| v.as_float()))),
            INT => put_bytes(&mut out, &pco(&numbers(values, |v| v.as_int()))),
            UINT => put_bytes(&mut out, &pco(&numbers(values, |v| v.as_uint()))),
            BOOL => put_runs(
                &mut out,
                values.iter().map(|v| u64::from(matches!(v, FieldValue::Boolean(true)))),
            ),
            _ => {
                let mut dict: Vec<&str> = Vec::new();
                let mut index: HashMap<&str, u64> = HashMap::new();
                let codes: Vec<u64> = values
                    .iter()
                    .map(|v| {
                        let s = v.as_text();
                        *index.entry(s).or_insert_with(|| {
                            dict.push(s);
                            dict.len() as u64 - 1
                        })
                    })
                    .collect();
                put_varint(&mut out, dict.len() as u64);
                for s in dict {
                    put_bytes(&mut out, s.as_bytes());
                }
                put_runs(&mut out, codes);
            }
        }
    }
    out
}

fn numbers<T>(values: &[&FieldValue], get: impl Fn(&FieldValue) -> Option<T>) -> Vec<T> {
    values.iter().filter_map(|v| get(v)).collect()
}

/// Only the timestamps (to check for a duplicate without decoding values).
pub(super) fn timestamps(block: &[u8]) -> Result<Vec<i64>, String> {
    let mut r = Reader::new(block);
    let n = header(&mut r)?;
    unpco::<i64>(r.bytes()?, n)
}

fn header(r: &mut Reader) -> Result<usize, String> {
    match r.byte()? {
        VERSION => Ok(r.varint()? as usize),
        v => Err(format!("unknown block version {v}")),
    }
}

/// A block's timestamps, per-sample layouts and the columns `wanted` picks
/// (the others are skipped, not decoded).
struct Parsed {
    ts: Vec<i64>,
    layouts: Vec<Vec<(u32, u8)>>,
    per_sample: Vec<u64>,
    columns: HashMap<(u32, u8), Vec<FieldValue>>,
}

fn parse(block: &[u8], wanted: impl Fn(u32) -> bool) -> Result<Parsed, String> {
    let mut r = Reader::new(block);
    let n = header(&mut r)?;
    let ts = unpco::<i64>(r.bytes()?, n)?;
    let mut layouts = Vec::new();
    for _ in 0..r.len()? {
        let mut layout = Vec::new();
        for _ in 0..r.len()? {
            let id = u32::try_from(r.varint()?).map_err(|_| "field id out of range")?;
            layout.push((id, r.byte()?));
        }
        layouts.push(layout);
    }
    let per_sample = read_runs(&mut r, n)?;
    // How many values each (field, type) column holds: samples per layout
    // first, so the count costs an increment per sample, not a hash per value.
    let mut per_layout = vec![0usize; layouts.len()];
    for &l in &per_sample {
        *per_layout.get_mut(l as usize).ok_or("layout index out of range")? += 1;
    }
    let mut counts: HashMap<(u32, u8), usize> = HashMap::new();
    for (layout, n) in layouts.iter().zip(&per_layout) {
        for key in layout {
            *counts.entry(*key).or_default() += n;
        }
    }
    let mut columns = HashMap::new();
    for _ in 0..r.len()? {
        let id = u32::try_from(r.varint()?).map_err(|_| "field id out of range")?;
        let t = r.byte()?;
        let count = counts.get(&(id, t)).copied().unwrap_or(0);
        if !wanted(id) {
            match t {
                FLOAT | INT | UINT => {
                    r.bytes()?;
                }
                BOOL => skip_runs(&mut r)?,
                TEXT => {
                    for _ in 0..r.len()? {
                        r.bytes()?;
                    }
                    skip_runs(&mut r)?;
                }
                other => return Err(format!("unknown column type {other}")),
            }
            continue;
        }
        let values: Vec<FieldValue> = match t {
            FLOAT => unpco::<f64>(r.bytes()?, count)?
                .into_iter()
                .map(FieldValue::Float)
                .collect(),
            INT => unpco::<i64>(r.bytes()?, count)?
                .into_iter()
                .map(FieldValue::Int)
                .collect(),
            UINT => unpco::<u64>(r.bytes()?, count)?
                .into_iter()
                .map(FieldValue::Uint)
                .collect(),
            BOOL => read_runs(&mut r, count)?
                .into_iter()
                .map(|b| FieldValue::Boolean(b == 1))
                .collect(),
            TEXT => {
                let dict: Vec<String> = (0..r.len()?).map(|_| r.text()).collect::<Result<_, _>>()?;
                read_runs(&mut r, count)?
                    .into_iter()
                    .map(|c| {
                        dict.get(c as usize)
                            .cloned()
                            .map(FieldValue::Text)
                            .ok_or("text code out of range")
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown column type {other}")),
        };
        columns.insert((id, t), values);
    }
    Ok(Parsed {
        ts,
        layouts,
        per_sample,
        columns,
    })
}

fn skip_runs(r: &mut Reader) -> Result<(), String> {
    for _ in 0..r.len()? {
        r.varint()?;
        r.varint()?;
    }
    Ok(())
}

pub(super) fn decode(block: &[u8]) -> Result<Vec<BlockSample>, String> {
    decode_range(block, (i64::MIN, i64::MAX))
}

/// The samples in [from, to]: the others' values are stepped over, not
/// gathered into samples, so a short range of a day-long block stays cheap.
pub(super) fn decode_range(block: &[u8], (from, to): (i64, i64)) -> Result<Vec<BlockSample>, String> {
    let Parsed {
        ts,
        layouts,
        per_sample,
        mut columns,
    } = parse(block, |_| true)?;
    // Columns by position, and each layout as positions: no hashing per value.
    let keys: Vec<(u32, u8)> = columns.keys().copied().collect();
    let mut columns: Vec<std::vec::IntoIter<FieldValue>> = keys
        .iter()
        .map(|k| columns.remove(k).unwrap_or_default().into_iter())
        .collect();
    let positions: Vec<Vec<Option<usize>>> = layouts
        .iter()
        .map(|l| l.iter().map(|key| keys.iter().position(|k| k == key)).collect())
        .collect();
    let mut out = Vec::new();
    for (t, l) in ts.into_iter().zip(per_sample) {
        let (layout, at) = (&layouts[l as usize], &positions[l as usize]);
        if !(from..=to).contains(&t) {
            for column in at {
                column.and_then(|i| columns[i].next()).ok_or("column too short")?;
            }
            continue;
        }
        let mut fields = Vec::with_capacity(layout.len());
        for (key, column) in layout.iter().zip(at) {
            let value = column.and_then(|i| columns[i].next()).ok_or("column too short")?;
            fields.push((key.0, value));
        }
        out.push((t, fields));
    }
    Ok(out)
}

/// One field's values in [from, to], oldest first, decoding only its
/// column(s): what a query of one field needs, without building every sample.
pub(super) fn decode_field(block: &[u8], field: u32, (from, to): (i64, i64)) -> Result<Vec<(i64, FieldValue)>, String> {
    let Parsed {
        ts,
        layouts,
        per_sample,
        columns,
    } = parse(block, |id| id == field)?;
    // Per layout: the type the field has in it, if any.
    let type_in: Vec<Option<u8>> = layouts
        .iter()
        .map(|l| l.iter().find(|(id, _)| *id == field).map(|(_, t)| *t))
        .collect();
    // The field's column per type, by position: no hashing per value.
    let (kinds, mut columns): (Vec<u8>, Vec<std::vec::IntoIter<FieldValue>>) =
        columns.into_iter().map(|((_, t), v)| (t, v.into_iter())).unzip();
    let position: Vec<Option<usize>> = type_in
        .iter()
        .map(|t| t.and_then(|t| kinds.iter().position(|k| *k == t)))
        .collect();
    let mut out = Vec::new();
    for (t, l) in ts.into_iter().zip(per_sample) {
        if type_in[l as usize].is_none() {
            continue;
        }
        let value = position[l as usize]
            .and_then(|i| columns[i].next())
            .ok_or("column too short")?;
        if (from..=to).contains(&t) {
            out.push((t, value));
        }
    }
    Ok(out)
}

impl FieldValue {
    fn as_float(&self) -> Option<f64> {
        if let FieldValue::Float(f) = self {
            Some(*f)
        } else {
            None
        }
    }
    fn as_int(&self) -> Option<i64> {
        if let FieldValue::Int(i) = self {
            Some(*i)
        } else {
            None
        }
    }
    fn as_uint(&self) -> Option<u64> {
        if let FieldValue::Uint(u) = self {
            Some(*u)
        } else {
            None
        }
    }
    fn as_text(&self) -> &str {
        if let FieldValue::Text(s) = self {
            s
        } else {
            ""
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &[BlockSample], b: &[BlockSample]) {
        assert_eq!(a.len(), b.len());
        for ((ta, fa), (tb, fb)) in a.iter().zip(b) {
            assert_eq!(ta, tb);
            assert_eq!(fa.len(), fb.len(), "at {ta}");
            for ((ia, va), (ib, vb)) in fa.iter().zip(fb) {
                assert_eq!(ia, ib);
                match (va, vb) {
                    (FieldValue::Float(x), FieldValue::Float(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                    _ => assert_eq!(va, vb),
                }
            }
        }
    }

    #[test]
    fn every_type_and_changing_layouts_round_trip_exactly() {
        let t0 = 1_700_000_000_000_000_000;
        let mut samples: Vec<BlockSample> = (0..500)
            .map(|i| {
                let mut fields = vec![
                    (1, FieldValue::Float(if i % 7 == 0 { -0.0 } else { i as f64 * 0.01 })),
                    (2, FieldValue::Int(if i == 3 { i64::MIN } else { i64::MAX - i })),
                    (3, FieldValue::Uint(u64::MAX - i as u64)),
                    (4, FieldValue::Boolean(i % 3 == 0)),
                    (5, FieldValue::Text(["", "on", "kök ✓"][i as usize % 3].into())),
                ];
                if i > 250 {
                    fields.insert(1, (6, FieldValue::Float(f64::MIN_POSITIVE)));
                }
                if i % 50 == 0 {
                    fields.swap(0, 2);
                }
                (t0 + i * 1_000_000_000, fields)
            })
            .collect();
        // A field that changed type mid-way.
        samples[10].1.push((7, FieldValue::Int(1)));
        samples[11].1.push((7, FieldValue::Float(1.5)));
        same(&decode(&encode(&samples)).unwrap(), &samples);
        assert_eq!(timestamps(&encode(&samples)).unwrap().len(), 500);

        // One field alone, in a range, is what the whole decode has of it.
        let block = encode(&samples);
        let range = (t0 + 7 * 1_000_000_000, t0 + 400 * 1_000_000_000);
        for field in 1..=7 {
            let expected: Vec<BlockSample> = samples
                .iter()
                .filter(|(ts, _)| (range.0..=range.1).contains(ts))
                .filter_map(|(ts, fields)| {
                    let v = fields.iter().find(|(id, _)| *id == field)?.1.clone();
                    Some((*ts, vec![(field, v)]))
                })
                .collect();
            let got: Vec<BlockSample> = decode_field(&block, field, range)
                .unwrap()
                .into_iter()
                .map(|(ts, v)| (ts, vec![(field, v)]))
                .collect();
            assert!(!got.is_empty(), "field {field}");
            same(&got, &expected);
        }
        assert!(decode_field(&block, 99, (i64::MIN, i64::MAX)).unwrap().is_empty());
    }

    #[test]
    fn a_regular_float_series_takes_about_a_byte_a_sample() {
        let t0 = 1_700_000_000_000_000_000;
        // Like a load average: moves every 5 s, two decimals.
        let samples: Vec<BlockSample> = (0..3600)
            .map(|i| {
                let v = ((i / 5) as f64 * 0.37).sin() * 0.8 + 1.2;
                (
                    t0 + i * 1_000_000_000,
                    vec![(1, FieldValue::Float((v * 100.0).round() / 100.0))],
                )
            })
            .collect();
        let bytes = encode(&samples).len();
        assert!(bytes < 3600 * 2, "{bytes} bytes for 3600 samples");
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let samples: Vec<BlockSample> = (0..20)
            .map(|i| (i, vec![(1, FieldValue::Text(format!("v{i}")))]))
            .collect();
        let block = encode(&samples);
        for cut in 0..block.len() {
            let _ = decode(&block[..cut]);
            let _ = decode_field(&block[..cut], 1, (i64::MIN, i64::MAX));
        }
        let mut flipped = block.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0x55;
            let _ = decode(&flipped);
            let _ = decode_field(&flipped, 1, (i64::MIN, i64::MAX));
            flipped[i] ^= 0x55;
        }
    }
}
