//! Per-minute aggregates of a numeric field (rollups), kept far longer than
//! raw data. Count, sum, min, max, first, last and the sum of squares let mean,
//! spread and standard deviation over any range of whole minutes come out
//! exactly; the first and last sample's offsets within the minute let two
//! partial aggregates of one minute (written by different compaction runs, or
//! a late sample) merge exactly.

use super::codec::{put_bytes, put_varint, Reader};
use crate::sample::FieldValue;
use pco::standalone::{simple_compress, simple_decompress};
use pco::ChunkConfig;
use std::collections::BTreeMap;

pub const MINUTE_NS: i64 = 60_000_000_000;
const VERSION: u8 = 1;

/// The aggregate of one field over one minute (or any span, when merged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first: f64,
    pub first_ns: i64,
    pub last: f64,
    pub last_ns: i64,
    pub sum_squares: f64,
}

impl Aggregate {
    pub fn of(ts: i64, v: f64) -> Self {
        Aggregate {
            count: 1,
            sum: v,
            min: v,
            max: v,
            first: v,
            first_ns: ts,
            last: v,
            last_ns: ts,
            sum_squares: v * v,
        }
    }

    pub fn merge(&mut self, o: &Aggregate) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum_squares += o.sum_squares;
        // At equal times (two series merged) the larger value wins, as in InfluxDB.
        if o.first_ns < self.first_ns || (o.first_ns == self.first_ns && o.first > self.first) {
            (self.first, self.first_ns) = (o.first, o.first_ns);
        }
        if o.last_ns > self.last_ns || (o.last_ns == self.last_ns && o.last > self.last) {
            (self.last, self.last_ns) = (o.last, o.last_ns);
        }
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// Population standard deviation.
    pub fn stddev(&self) -> f64 {
        let mean = self.mean();
        (self.sum_squares / self.count as f64 - mean * mean).max(0.0).sqrt()
    }
}

/// The number a field contributes to aggregates; `None` for text and booleans.
pub fn numeric(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::Uint(u) => Some(*u as f64),
        FieldValue::Boolean(_) | FieldValue::Text(_) => None,
    }
}

/// Start of the minute `ts` falls in (`i64::MIN` for the partial minute
/// at the very start of time, so open ranges need no special case).
pub fn minute_of(ts: i64) -> i64 {
    ts.div_euclid(MINUTE_NS).saturating_mul(MINUTE_NS)
}

/// Adds one value to per-minute aggregates.
pub fn add(minutes: &mut BTreeMap<i64, Aggregate>, ts: i64, v: f64) {
    let a = Aggregate::of(ts, v);
    minutes.entry(minute_of(ts)).and_modify(|m| m.merge(&a)).or_insert(a);
}

/// The highest maximum and the first minute that has it: stored beside a
/// rollup block, so ranking series over whole blocks decodes nothing.
pub fn peak(minutes: &BTreeMap<i64, Aggregate>) -> Option<(f64, i64)> {
    minutes.iter().fold(None, |best, (m, a)| match best {
        Some((have, _)) if a.max <= have => best,
        _ => Some((a.max, *m)),
    })
}

fn pco<T: pco::data_types::Number>(values: &[T]) -> Vec<u8> {
    simple_compress(values, &ChunkConfig::default()).expect("pco compresses any numbers")
}

/// Encodes per-minute aggregates (minute start → aggregate) column by column.
pub fn encode(minutes: &BTreeMap<i64, Aggregate>) -> Vec<u8> {
    let mut out = vec![VERSION];
    put_varint(&mut out, minutes.len() as u64);
    let col = |f: &dyn Fn(&Aggregate) -> f64| -> Vec<f64> { minutes.values().map(f).collect() };
    put_bytes(&mut out, &pco(&minutes.keys().copied().collect::<Vec<i64>>()));
    put_bytes(&mut out, &pco(&minutes.values().map(|a| a.count).collect::<Vec<u64>>()));
    for column in [
        col(&|a| a.sum),
        col(&|a| a.min),
        col(&|a| a.max),
        col(&|a| a.first),
        col(&|a| a.last),
        col(&|a| a.sum_squares),
    ] {
        put_bytes(&mut out, &pco(&column));
    }
    let offsets = |f: &dyn Fn((&i64, &Aggregate)) -> i64| -> Vec<i64> { minutes.iter().map(f).collect() };
    put_bytes(&mut out, &pco(&offsets(&|(m, a)| a.first_ns - m)));
    put_bytes(&mut out, &pco(&offsets(&|(m, a)| a.last_ns - m)));
    out
}

pub fn decode(block: &[u8]) -> Result<Vec<(i64, Aggregate)>, String> {
    let mut r = Reader::new(block);
    if r.byte()? != VERSION {
        return Err("unknown rollup version".into());
    }
    let n = r.varint()? as usize;
    fn col<T: pco::data_types::Number>(r: &mut Reader, n: usize) -> Result<Vec<T>, String> {
        let v = simple_decompress::<T>(r.bytes()?).map_err(|e| format!("pco: {e}"))?;
        (v.len() == n)
            .then_some(v)
            .ok_or_else(|| "rollup column length".to_string())
    }
    let minutes: Vec<i64> = col(&mut r, n)?;
    let counts: Vec<u64> = col(&mut r, n)?;
    let f: Vec<Vec<f64>> = (0..6).map(|_| col(&mut r, n)).collect::<Result<_, _>>()?;
    let first_off: Vec<i64> = col(&mut r, n)?;
    let last_off: Vec<i64> = col(&mut r, n)?;
    Ok((0..n)
        .map(|i| {
            let m = minutes[i];
            let a = Aggregate {
                count: counts[i],
                sum: f[0][i],
                min: f[1][i],
                max: f[2][i],
                first: f[3][i],
                first_ns: m + first_off[i],
                last: f[4][i],
                last_ns: m + last_off[i],
                sum_squares: f[5][i],
            };
            (m, a)
        })
        .collect())
}

/// Only the minutes and their maxima: what a top-N ranking reads, without
/// decompressing the other eight columns.
pub fn decode_max(block: &[u8]) -> Result<Vec<(i64, f64)>, String> {
    let mut r = Reader::new(block);
    if r.byte()? != VERSION {
        return Err("unknown rollup version".into());
    }
    let n = r.varint()? as usize;
    let minutes = simple_decompress::<i64>(r.bytes()?).map_err(|e| format!("pco: {e}"))?;
    for _ in 0..3 {
        r.bytes()?; // counts, sums, minima
    }
    let maxima = simple_decompress::<f64>(r.bytes()?).map_err(|e| format!("pco: {e}"))?;
    if minutes.len() != n || maxima.len() != n {
        return Err("rollup column length".into());
    }
    Ok(minutes.into_iter().zip(maxima).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_merge_exactly_and_round_trip() {
        let values: Vec<(i64, f64)> = (0..300)
            .map(|i| (i * 1_000_000_000 + 7, (i % 17) as f64 - 3.5))
            .collect();
        let mut whole = BTreeMap::new();
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        for (i, (t, v)) in values.iter().enumerate() {
            add(&mut whole, *t, *v);
            // Split unevenly, as two compaction runs would.
            add(if i % 3 == 0 { &mut a } else { &mut b }, *t, *v);
        }
        let maxima: Vec<(i64, f64)> = whole.iter().map(|(m, a)| (*m, a.max)).collect();
        assert_eq!(decode_max(&encode(&whole)).unwrap(), maxima);
        let mut merged = BTreeMap::new();
        for (m, agg) in decode(&encode(&a))
            .unwrap()
            .into_iter()
            .chain(decode(&encode(&b)).unwrap())
        {
            merged
                .entry(m)
                .and_modify(|x: &mut Aggregate| x.merge(&agg))
                .or_insert(agg);
        }
        assert_eq!(merged, whole);
        assert_eq!(whole.len(), 5);
        let minute0 = whole[&0];
        assert_eq!((minute0.count, minute0.first, minute0.first_ns), (60, -3.5, 7));
        let mean = values[..60].iter().map(|v| v.1).sum::<f64>() / 60.0;
        assert!((minute0.mean() - mean).abs() < 1e-12);
    }
}
