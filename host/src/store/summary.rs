//! Summaries over many series: the top N groups (by a tag) by their highest
//! value of a field, each with the sample where it peaked; and how often each
//! value of a field occurs. What the IoT collector's dashboard and histogram
//! need, for any measurement and field. Synchronous, like `query.rs`.

use super::dictionary::{Dictionary, SeriesKey};
use super::{query, rollup, SampleFilter};
use crate::sample::{FieldValue, Sample};
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// One group's peak: its tag value, the highest value and the sample it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    pub group: String,
    pub value: f64,
    pub sample: Sample,
}

/// The `n` groups of the series that pass `filter`, grouped by the value of
/// tag `by`, with the highest numeric `field` in the filter's time range:
/// highest first, ties by group name; each group once (its earliest sample
/// at that peak). Series without the tag are left out.
///
/// Compacted data is ranked by the per-minute rollups' maxima and hot rows
/// in one pass over the window, so the cost grows with minutes, not samples;
/// only the winners' peak minutes are read raw, to find the exact sample.
pub fn top(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    filter: &SampleFilter,
    field: &str,
    by: &str,
    n: usize,
) -> anyhow::Result<Vec<Peak>> {
    let range = (filter.from_ns.unwrap_or(i64::MIN), filter.to_ns.unwrap_or(i64::MAX));
    let Some(field_id) = query::field_id(dict, c, field)? else {
        return Ok(Vec::new());
    };
    let mut group_of: HashMap<i64, (Arc<SeriesKey>, String)> = HashMap::new();
    for (id, key) in query::series_matching(dict, c, None, filter)? {
        if let Some(group) = key.tags.get(by).cloned() {
            group_of.insert(id, (key, group));
        }
    }
    // Hot rows first, for every series in one pass: what they hold lets the
    // compacted edges be skipped.
    let mut hot: HashMap<i64, (f64, i64)> = HashMap::new();
    query::hot_values_of_all(c, field_id, range, |series, ts, v| {
        if group_of.contains_key(&series) {
            raise(&mut hot, series, v, ts);
        }
    })?;
    // group → (highest value, a lower bound of the earliest time it occurs)
    let mut best: HashMap<&str, (f64, i64)> = HashMap::new();
    for (id, (_, group)) in &group_of {
        if let Some((v, at)) = query::compacted_max(c, *id, field_id, range, hot.get(id).copied())? {
            raise(&mut best, group.as_str(), v, at);
        }
    }
    let mut ranked: Vec<(&str, (f64, i64))> = best.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0).then_with(|| a.0.cmp(b.0)));
    let mut out = Vec::with_capacity(n.min(ranked.len()));
    for (group, (value, at)) in ranked {
        if out.len() == n {
            break;
        }
        // The earliest sample at the peak is in the minute of its bound.
        let minute = rollup::minute_of(at);
        let span = (minute.max(range.0), (minute + rollup::MINUTE_NS - 1).min(range.1));
        let mut found: Option<Sample> = None;
        for (id, (key, g)) in &group_of {
            if g != group {
                continue;
            }
            // One decode per series: the samples of that minute, whole.
            let at_peak = query::range(dict, c, &(*id, key.clone()), span.0, span.1)?
                .into_iter()
                .find(|s| {
                    s.fields
                        .iter()
                        .any(|(k, v)| k == field && rollup::numeric(v) == Some(value))
                });
            if let Some(s) = at_peak {
                if found.as_ref().is_none_or(|f| s.timestamp_ns < f.timestamp_ns) {
                    found = Some(s);
                }
            }
        }
        // None only when retention dropped the raw samples of a minute whose
        // rollup is still kept: that group has no reading left to show.
        if let Some(sample) = found {
            out.push(Peak {
                group: group.to_string(),
                value,
                sample,
            });
        }
    }
    Ok(out)
}

/// Keeps a group's highest value and, at equal values, the earliest time.
fn raise<K: std::hash::Hash + Eq>(best: &mut HashMap<K, (f64, i64)>, group: K, v: f64, at: i64) {
    let better = match best.get(&group) {
        None => true,
        Some(&(have, t)) => v > have || (v == have && at < t),
    };
    if better {
        best.insert(group, (v, at));
    }
}

/// How many samples of the series that pass `filter` have each value of
/// `field` (as text: `"ON"`, `"3"`, `"true"`).
pub fn value_counts(
    dict: &RwLock<Dictionary>,
    c: &Connection,
    filter: &SampleFilter,
    field: &str,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let (from, to) = (filter.from_ns.unwrap_or(i64::MIN), filter.to_ns.unwrap_or(i64::MAX));
    let mut counts = BTreeMap::new();
    for (id, _) in query::series_matching(dict, c, None, filter)? {
        for (_, v) in query::field_range(dict, c, id, field, (from, to), usize::MAX)?.unwrap_or_default() {
            let text = match v {
                FieldValue::Text(t) => t,
                other => other.to_json().to_string(),
            };
            *counts.entry(text).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::super::{SampleFilter, Store, StoreSettings};
    use crate::sample::{FieldValue, Sample};
    use std::collections::BTreeMap;

    const S: i64 = 1_000_000_000;

    fn reading(device: usize, ts: i64, v: f64) -> Sample {
        Sample {
            measurement: "m".into(),
            tags: BTreeMap::from([("dev".into(), format!("d{device}"))]),
            fields: vec![
                ("v".into(), FieldValue::Float(v)),
                ("s".into(), FieldValue::Text("ON".into())),
            ],
            timestamp_ns: ts,
        }
    }

    /// What `top` must answer, by looking at every sample.
    fn brute_force(sent: &[Sample], (from, to): (i64, i64), n: usize) -> Vec<(String, f64, i64)> {
        let mut best: BTreeMap<String, (f64, i64)> = BTreeMap::new();
        for s in sent.iter().filter(|s| (from..=to).contains(&s.timestamp_ns)) {
            let FieldValue::Float(v) = s.fields[0].1 else {
                unreachable!()
            };
            let e = best.entry(s.tags["dev"].clone()).or_insert((v, s.timestamp_ns));
            if v > e.0 || (v == e.0 && s.timestamp_ns < e.1) {
                *e = (v, s.timestamp_ns);
            }
        }
        let mut out: Vec<(String, f64, i64)> = best.into_iter().map(|(g, (v, t))| (g, v, t)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(n);
        out
    }

    #[tokio::test]
    async fn top_over_rollups_edges_and_hot_rows_equals_a_brute_force_scan() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings {
            path: dir.path().join("s.db"),
            retention_days: 0,
            ..StoreSettings::default()
        };
        let store = Store::open_with(&settings, &[]).unwrap();
        let day = 86_400 * S;
        let t0 = (crate::sample::now_ns() / day - 3) * day;
        // Seven devices every 5 s for three hours, values with many ties
        // (within a device and between devices); device 6 also has a second
        // series under another item, so a group spans two series.
        let mut sent = Vec::new();
        for i in 0..(3 * 720) {
            for d in 0..7usize {
                let v = ((i as usize * 7 + d * 3) % 41) as f64 + if d == 2 { 0.5 } else { 0.0 };
                sent.push(reading(d, t0 + i * 5 * S + d as i64 * S, v));
            }
        }
        let (first, second): (Vec<Sample>, Vec<Sample>) = sent
            .iter()
            .cloned()
            .partition(|s| s.tags["dev"] != "d6" || (s.timestamp_ns / S) % 2 == 0);
        store.append("a", first).await.unwrap();
        store.append("b", second).await.unwrap();
        store.compact_as_of(crate::sample::now_ns(), 0).await.unwrap();
        // Recent, still hot: d1 peaks again (tie with its compacted peak:
        // the earlier one must win) and d5 beats everyone.
        let now = crate::sample::now_ns();
        let hot = vec![reading(1, now - 20 * S, 40.0), reading(5, now - 10 * S, 99.0)];
        store.append("a", hot.clone()).await.unwrap();
        sent.extend(hot);

        // A window that starts mid-minute just at d0's peak and ends before
        // its next one: the peak is only in the partial first minute's raw samples.
        let peak = sent
            .iter()
            .find(|s| {
                s.tags["dev"] == "d0" && s.fields[0].1 == FieldValue::Float(40.0) && s.timestamp_ns % (60 * S) != 0
            })
            .unwrap()
            .timestamp_ns;
        // Rollups written now keep their peak; a file from before that column
        // has none, and must rank the same by decoding.
        for stored_peaks in [true, false] {
            if !stored_peaks {
                let c = rusqlite::Connection::open(&settings.path).unwrap();
                assert!(c.execute("UPDATE rollups SET peak = NULL, peak_at = NULL", []).unwrap() > 0);
            }
            for (from, to) in [
                (peak, peak + 150 * S),
                (i64::MIN, i64::MAX),
                (t0 + 37 * 60 * S + S / 2, t0 + 2 * 3600 * S + 10 * S + 300_000_000),
                (t0 + 61 * S, t0 + 119 * S), // within one minute: raw only
                (now - 15 * S, i64::MAX),    // hot only
                (t0 + 3 * 3600 * S, now - 15 * S),
            ] {
                let filter = SampleFilter {
                    from_ns: (from != i64::MIN).then_some(from),
                    to_ns: (to != i64::MAX).then_some(to),
                    measurement: Some("m".into()),
                    ..SampleFilter::default()
                };
                for n in [3, 10] {
                    let got: Vec<(String, f64, i64)> = store
                        .top(&filter, "v", "dev", n)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|p| {
                            assert_eq!(p.sample.tags["dev"], p.group);
                            assert_eq!(p.sample.fields.len(), 2, "the whole sample at the peak");
                            (p.group, p.value, p.sample.timestamp_ns)
                        })
                        .collect();
                    assert_eq!(
                        got,
                        brute_force(&sent, (from, to), n),
                        "window {from}..{to}, n {n}, stored peaks {stored_peaks}"
                    );
                }
            }
        }
        let none = SampleFilter {
            measurement: Some("m".into()),
            ..SampleFilter::default()
        };
        assert!(store.top(&none, "missing", "dev", 3).await.unwrap().is_empty());
        assert!(store.top(&none, "v", "no-such-tag", 3).await.unwrap().is_empty());
    }
}
