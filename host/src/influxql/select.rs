//! SELECT over the store: the measurements and series a statement reads,
//! grouped by tags, then either raw rows or aggregates per time window.
//! Aggregates over whole minutes read the store's per-minute rollups (plus
//! raw points for partial minutes at the range's edges), so long ranges stay
//! cheap; median and percentile, and conditions on fields, read raw points.

use super::ast::{BinOp, Cast, Expr, Fill, Select, TagGroup};
use super::catalog::SeriesInfo;
use super::condition::{self, TimeRange};
use super::reduce::{self, Func, Reduced};
use super::response::Series;
use super::window::Windows;
use super::Context;
use crate::sample::{FieldValue, Sample};
use crate::store::Aggregate;
use serde_json::Value;
use std::collections::BTreeMap;

/// The earliest and latest times a statement can reach: InfluxDB's bounds.
const MIN_TIME: i64 = crate::sample::MIN_TIMESTAMP_NS;
const MAX_TIME: i64 = i64::MAX - 1;

pub async fn select(ctx: &Context<'_>, s: &Select) -> Result<Vec<Series>, String> {
    let tz = match &s.tz {
        Some(name) => Some(
            name.parse::<chrono_tz::Tz>()
                .map_err(|_| format!("unable to find time zone {name}"))?,
        ),
        None => None,
    };
    let (range, rest) = condition::split(s.condition.as_ref(), ctx.now_ns)?;
    let aggregate = s.fields.iter().any(|f| has_call(&f.expr));
    if aggregate && s.fields.iter().any(|f| has_bare_var(&f.expr)) {
        return Err("mixing aggregate and non-aggregate queries is not supported".into());
    }
    if !aggregate && s.group_by.time.is_some() {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    let mut out: Vec<Series> = Vec::new();
    for measurement in ctx.catalog.measurements_in(&s.from) {
        ctx.check_deadline()?;
        let is_tag = |name: &str| ctx.catalog.is_tag(measurement, name);
        let per_point = rest.as_ref().filter(|e| condition::reads_fields(e, &is_tag));
        let series: Vec<&SeriesInfo> = ctx
            .catalog
            .series_of(measurement)
            .filter(|si| match &rest {
                Some(e) if per_point.is_none() => condition::matches(e, &si.tags, None, &is_tag),
                _ => true,
            })
            .collect();
        let group_keys: Vec<String> = match &s.group_by.tags {
            TagGroup::None => Vec::new(),
            TagGroup::All => ctx
                .catalog
                .tag_keys
                .get(measurement)
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            TagGroup::Keys(keys) => {
                let mut k = keys.clone();
                k.sort();
                k.dedup();
                k
            }
            TagGroup::Regex(p) => ctx
                .catalog
                .tag_keys
                .get(measurement)
                .into_iter()
                .flatten()
                .filter(|k| p.is_match(k))
                .cloned()
                .collect(),
        };
        let mut groups: BTreeMap<Vec<String>, Vec<&SeriesInfo>> = BTreeMap::new();
        for si in series {
            let key = group_keys.iter().map(|k| si.tag(k).to_string()).collect();
            groups.entry(key).or_default().push(si);
        }
        let m = Measurement {
            name: measurement,
            range,
            per_point,
            tz,
        };
        let plan = if aggregate {
            Some(AggregatePlan::new(ctx, &m, s)?)
        } else {
            None
        };
        for (values, members) in groups {
            let rows = match &plan {
                Some(plan) => plan.rows(ctx, &m, s, &members).await?,
                None => raw_rows(ctx, &m, s, &members).await?,
            };
            let Some((columns, mut rows)) = rows else { continue };
            if s.descending {
                rows.reverse();
            }
            let offset = s.offset.unwrap_or(0) as usize;
            let rows: Vec<Vec<Value>> = rows
                .into_iter()
                .skip(offset)
                .take(s.limit.map_or(usize::MAX, |l| l as usize))
                .collect();
            if rows.is_empty() {
                continue;
            }
            let tags = group_keys.iter().cloned().zip(values).collect();
            out.push(Series {
                name: Some(measurement.to_string()),
                tags,
                columns,
                values: rows,
            });
            ctx.count_series(out.len())?;
        }
    }
    let out: Vec<Series> = out
        .into_iter()
        .skip(s.soffset.unwrap_or(0) as usize)
        .take(s.slimit.map_or(usize::MAX, |l| l as usize))
        .collect();
    let points: usize = out.iter().map(|s| s.values.len()).sum();
    ctx.count_points(points)?;
    Ok(out
        .into_iter()
        .map(|mut series| {
            for row in &mut series.values {
                if let Some(Value::Number(n)) = row.first() {
                    let ns = n.as_i64().unwrap_or(0);
                    row[0] = ctx.time_format.format(ns, tz);
                }
            }
            series
        })
        .collect())
}

/// What one measurement of the statement reads.
struct Measurement<'a> {
    name: &'a str,
    range: TimeRange,
    /// A condition that reads fields, checked on every point.
    per_point: Option<&'a Expr>,
    tz: Option<chrono_tz::Tz>,
}

type Rows = Option<(Vec<String>, Vec<Vec<Value>>)>;

fn has_call(e: &Expr) -> bool {
    match e {
        Expr::Call { name, .. } => name != "now",
        Expr::Binary { lhs, rhs, .. } => has_call(lhs) || has_call(rhs),
        _ => false,
    }
}

fn has_bare_var(e: &Expr) -> bool {
    match e {
        Expr::Var { .. } | Expr::Wildcard => true,
        Expr::Binary { lhs, rhs, .. } => has_bare_var(lhs) || has_bare_var(rhs),
        _ => false,
    }
}

/// A column's name as InfluxDB derives it: the alias, the function, the
/// field, or the names in an expression joined by `_`.
fn column_name(e: &Expr) -> String {
    fn names(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Var { name, .. } => out.push(name.clone()),
            Expr::Call { name, .. } => out.push(name.clone()),
            Expr::Binary { lhs, rhs, .. } => {
                names(lhs, out);
                names(rhs, out);
            }
            _ => {}
        }
    }
    let mut n = Vec::new();
    names(e, &mut n);
    n.join("_")
}

/// `mean`, `mean` → `mean`, `mean_1`.
fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    names
        .into_iter()
        .map(|n| {
            let count = seen.entry(n.clone()).or_insert(0);
            let name = if *count == 0 { n.clone() } else { format!("{n}_{count}") };
            *count += 1;
            name
        })
        .collect()
}

async fn read(ctx: &Context<'_>, series: i64, min: i64, max: i64) -> Result<Vec<Sample>, String> {
    ctx.check_deadline()?;
    if min > max {
        return Ok(Vec::new());
    }
    ctx.store
        .range(series, min, max)
        .await
        .map_err(|e| format!("reading the store failed: {e:#}"))
}

// ---------------------------------------------------------------- raw rows

async fn raw_rows(ctx: &Context<'_>, m: &Measurement<'_>, s: &Select, members: &[&SeriesInfo]) -> Result<Rows, String> {
    let is_tag = |name: &str| ctx.catalog.is_tag(m.name, name);
    // Columns: `*` is every field and tag of every measurement the statement
    // reads (the grouped tags excepted), by name, as InfluxDB expands it.
    let mut columns: Vec<(String, Expr)> = Vec::new();
    for f in &s.fields {
        if f.expr == Expr::Wildcard {
            let measurements = ctx.catalog.measurements_in(&s.from);
            let mut all: Vec<String> = Vec::new();
            for name in &measurements {
                all.extend(
                    ctx.catalog
                        .fields
                        .get(*name)
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k.clone()),
                );
                all.extend(
                    ctx.catalog
                        .tag_keys
                        .get(*name)
                        .into_iter()
                        .flatten()
                        .filter(|k| !grouped(&s.group_by.tags, k))
                        .cloned(),
                );
            }
            all.sort();
            all.dedup();
            columns.extend(all.into_iter().map(|k| (k.clone(), Expr::var(&k))));
        } else {
            let name = f.alias.clone().unwrap_or_else(|| column_name(&f.expr));
            columns.push((name, f.expr.clone()));
        }
    }
    let reads_field: Vec<bool> = columns
        .iter()
        .map(|(_, e)| condition::reads_fields(e, &is_tag))
        .collect();
    let (min, max) = (m.range.min.unwrap_or(MIN_TIME), m.range.max.unwrap_or(MAX_TIME));
    let mut rows: Vec<(i64, usize, Vec<Value>)> = Vec::new();
    for (order, si) in members.iter().enumerate() {
        for sample in read(ctx, si.id, min, max).await? {
            if let Some(cond) = m.per_point {
                if !condition::matches(cond, &si.tags, Some(&sample.fields), &is_tag) {
                    continue;
                }
            }
            let values: Vec<Value> = columns
                .iter()
                .map(|(_, e)| row_value(e, &si.tags, &sample.fields, &is_tag))
                .collect();
            let any_field = values.iter().zip(&reads_field).any(|(v, f)| *f && !v.is_null());
            if any_field {
                rows.push((sample.timestamp_ns, order, values));
            }
            ctx.count_points(rows.len())?;
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    rows.sort_by_key(|(ts, order, _)| (*ts, *order));
    let names = std::iter::once("time".to_string())
        .chain(unique_names(columns.into_iter().map(|(n, _)| n).collect()))
        .collect();
    let rows = rows
        .into_iter()
        .map(|(ts, _, values)| std::iter::once(Value::from(ts)).chain(values).collect())
        .collect();
    Ok(Some((names, rows)))
}

/// Whether GROUP BY makes `key` a series tag rather than a column.
fn grouped(group: &TagGroup, key: &str) -> bool {
    match group {
        TagGroup::None => false,
        TagGroup::All => true,
        TagGroup::Keys(keys) => keys.iter().any(|k| k == key),
        TagGroup::Regex(p) => p.is_match(key),
    }
}

/// A raw column's value on one point: a tag, a field, or arithmetic on them.
fn row_value(
    e: &Expr,
    tags: &BTreeMap<String, String>,
    fields: &[(String, FieldValue)],
    is_tag: &dyn Fn(&str) -> bool,
) -> Value {
    match e {
        Expr::Var { name, cast } => {
            let as_tag = match cast {
                Some(Cast::Tag) => true,
                Some(_) => false,
                None => is_tag(name) && !fields.iter().any(|(k, _)| k == name),
            };
            if as_tag {
                return tags.get(name).map_or(Value::Null, |v| Value::from(v.clone()));
            }
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or(Value::Null, |(_, v)| v.to_json())
        }
        Expr::Integer(i) => Value::from(*i),
        Expr::Float(f) => reduce::float(*f),
        Expr::Binary { op, lhs, rhs } => arith(
            *op,
            &row_value(lhs, tags, fields, is_tag),
            &row_value(rhs, tags, fields, is_tag),
        ),
        _ => Value::Null,
    }
}

/// Arithmetic on two values: integers stay integers for + - * (as in InfluxDB).
fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        if a.is_i64() && b.is_i64() {
            let r = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Mod if y != 0 => Some(x % y),
                _ => None,
            };
            if let Some(r) = r {
                return Value::from(r);
            }
        }
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => reduce::float(condition::arith(op, x, y)),
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------- aggregates

/// One function call of the statement.
#[derive(Debug, Clone)]
struct Call {
    func: Func,
    field: String,
    integer: bool,
}

/// A column: arithmetic over calls and numbers.
#[derive(Debug, Clone)]
enum Plan {
    Call(usize),
    Number(Value),
    Binary(BinOp, Box<Plan>, Box<Plan>),
}

struct AggregatePlan {
    calls: Vec<Call>,
    columns: Vec<(String, Plan)>,
    windows: Option<Windows>,
    /// Every call can be answered from per-minute rollups.
    from_rollups: bool,
}

impl AggregatePlan {
    fn new(ctx: &Context<'_>, m: &Measurement<'_>, s: &Select) -> Result<AggregatePlan, String> {
        let mut calls: Vec<Call> = Vec::new();
        let mut columns: Vec<(String, Plan)> = Vec::new();
        let field_call = |func: Func, field: &str| Call {
            func,
            field: field.to_string(),
            integer: ctx.catalog.field_type(m.name, field) == Some("integer"),
        };
        for f in &s.fields {
            // `mean(*)`: one column per field, `mean_<field>`.
            if let Expr::Call { name, args } = &f.expr {
                if args.first() == Some(&Expr::Wildcard) {
                    let (func, _) = Func::of_call(name, args)?;
                    for (field, kind) in ctx.catalog.fields.get(m.name).into_iter().flatten() {
                        if func != Func::Count
                            && !matches!(*kind, "float" | "integer")
                            && !matches!(func, Func::First | Func::Last)
                        {
                            continue;
                        }
                        calls.push(field_call(func, field));
                        let prefix = f.alias.as_deref().unwrap_or(func.name());
                        columns.push((format!("{prefix}_{field}"), Plan::Call(calls.len() - 1)));
                    }
                    continue;
                }
            }
            let plan = plan_of(&f.expr, &mut calls, &field_call)?;
            let name = f.alias.clone().unwrap_or_else(|| column_name(&f.expr));
            columns.push((name, plan));
        }
        let windows = s.group_by.time.map(|t| Windows {
            interval: t.interval_ns,
            offset: t.offset_ns,
            tz: m.tz,
        });
        if let Some(w) = &windows {
            if w.interval <= 0 {
                return Err("GROUP BY time interval must be positive".into());
            }
        }
        let numeric = calls
            .iter()
            .all(|c| matches!(ctx.catalog.field_type(m.name, &c.field), Some("float" | "integer")));
        let whole_minutes = windows.as_ref().is_none_or(|w| w.whole_minutes());
        // Without GROUP BY time a lone min/max carries its point's time, which rollups lack.
        let needs_point_time = windows.is_none() && calls.len() == 1 && matches!(calls[0].func, Func::Min | Func::Max);
        let from_rollups = numeric
            && whole_minutes
            && !needs_point_time
            && m.per_point.is_none()
            && calls.iter().all(|c| c.func.rollups_suffice());
        if !from_rollups && calls.iter().any(|c| !c.func.rollups_suffice()) {
            if let (Some(kept), Some(min)) = (ctx.raw_kept_from, m.range.min) {
                if min < kept {
                    return Err(format!(
                        "raw data before {} has expired (store.retention_days), and median and percentile need it; \
                         query a later range, or use mean, min or max, which come from the rollups",
                        crate::sample::rfc3339_ns(kept)
                    ));
                }
            }
        }
        let columns = {
            let (names, plans): (Vec<String>, Vec<Plan>) = columns.into_iter().unzip();
            unique_names(names).into_iter().zip(plans).collect()
        };
        Ok(AggregatePlan {
            calls,
            columns,
            windows,
            from_rollups,
        })
    }

    /// The rows of one group of series, or `None` when it has no points in range.
    async fn rows(
        &self,
        ctx: &Context<'_>,
        m: &Measurement<'_>,
        s: &Select,
        members: &[&SeriesInfo],
    ) -> Result<Rows, String> {
        let min = m.range.min.unwrap_or(MIN_TIME);
        let max = m
            .range
            .max
            .unwrap_or(if self.windows.is_some() { ctx.now_ns } else { MAX_TIME });
        // Window starts; without GROUP BY time, one window over the whole range.
        let window_of = |ts: i64| match &self.windows {
            Some(w) => w.window(ts).0,
            None => min,
        };
        let mut reduced: Vec<BTreeMap<i64, Reduced>> = vec![BTreeMap::new(); self.calls.len()];
        let mut any = false;
        if self.from_rollups {
            let mut per_field: BTreeMap<&str, BTreeMap<i64, Aggregate>> = BTreeMap::new();
            for call in &self.calls {
                per_field.entry(call.field.as_str()).or_default();
            }
            for (field, windows) in per_field.iter_mut() {
                for si in members {
                    for (ts, a) in minute_aggregates(ctx, si.id, field, min, max).await? {
                        windows.entry(window_of(ts)).and_modify(|w| w.merge(&a)).or_insert(a);
                    }
                }
            }
            for (i, call) in self.calls.iter().enumerate() {
                for (w, a) in &per_field[call.field.as_str()] {
                    let r = reduce::from_aggregate(call.func, a, call.integer);
                    any |= r.is_some();
                    reduced[i].insert(*w, r);
                }
            }
        } else {
            let is_tag = |name: &str| ctx.catalog.is_tag(m.name, name);
            let mut points: BTreeMap<&str, Vec<(i64, usize, FieldValue)>> = BTreeMap::new();
            for call in &self.calls {
                points.entry(call.field.as_str()).or_default();
            }
            for (order, si) in members.iter().enumerate() {
                for sample in read(ctx, si.id, min, max).await? {
                    if let Some(cond) = m.per_point {
                        if !condition::matches(cond, &si.tags, Some(&sample.fields), &is_tag) {
                            continue;
                        }
                    }
                    for (name, value) in sample.fields {
                        if let Some(list) = points.get_mut(name.as_str()) {
                            list.push((sample.timestamp_ns, order, value));
                        }
                    }
                }
            }
            for (i, call) in self.calls.iter().enumerate() {
                let mut list: Vec<(i64, FieldValue)> = Vec::new();
                let mut sorted = points[call.field.as_str()].clone();
                sorted.sort_by_key(|(ts, order, _)| (*ts, *order));
                let mut current: Option<i64> = None;
                for (ts, _, v) in sorted {
                    let w = window_of(ts);
                    if let Some(c) = current.filter(|c| *c != w) {
                        let r = reduce::reduce(call.func, &list)?;
                        any |= r.is_some();
                        reduced[i].insert(c, r);
                        list.clear();
                    }
                    current = Some(w);
                    list.push((ts, v));
                }
                if let Some(c) = current {
                    let r = reduce::reduce(call.func, &list)?;
                    any |= r.is_some();
                    reduced[i].insert(c, r);
                }
            }
        }
        if !any {
            return Ok(None);
        }
        let starts: Vec<i64> = match &self.windows {
            Some(w) => w.starts(if m.range.min.is_some() { min } else { first_window(&reduced) }, max, ctx.settings.max_points).ok_or_else(|| {
                format!(
                    "the answer would have more than {} rows (query.max_points); use a larger GROUP BY time interval or a shorter time range",
                    ctx.settings.max_points
                )
            })?,
            None => vec![min],
        };
        // One value per call and window, then fill, then the columns' arithmetic.
        let mut grid: Vec<Vec<Reduced>> = self
            .calls
            .iter()
            .enumerate()
            .map(|(i, _)| starts.iter().map(|w| reduced[i].get(w).cloned().flatten()).collect())
            .collect();
        for (i, column) in grid.iter_mut().enumerate() {
            let call = &self.calls[i];
            // InfluxDB counts an empty window as 0 unless another fill is asked for.
            let how = match (call.func, s.fill) {
                (Func::Count, Fill::Null) => Fill::Number(0.0),
                (_, how) => how,
            };
            let integer = call.func == Func::Count
                || (call.integer && !matches!(call.func, Func::Mean | Func::Median | Func::Stddev));
            fill(column, how, integer);
        }
        let lone_selector = self.windows.is_none()
            && self.calls.len() == 1
            && self.columns.len() == 1
            && matches!(self.columns[0].1, Plan::Call(0))
            && self.calls[0].func.is_selector();
        let mut rows = Vec::new();
        for (w, start) in starts.iter().enumerate() {
            let cells: Vec<Option<&(Value, Option<i64>)>> = grid.iter().map(|c| c[w].as_ref()).collect();
            // fill(none) drops empty windows; without GROUP BY time, a window
            // where no function chose a point (percentile 0) is no row either.
            if (s.fill == Fill::None || self.windows.is_none()) && cells.iter().all(|c| c.is_none()) {
                continue;
            }
            let time = match (lone_selector, cells[0]) {
                (true, Some((_, Some(ts)))) => *ts,
                _ if self.windows.is_none() && m.range.min.is_none() => 0,
                _ => *start,
            };
            let mut row = vec![Value::from(time)];
            for (_, plan) in &self.columns {
                row.push(eval_plan(plan, &cells));
            }
            rows.push(row);
        }
        let names = std::iter::once("time".to_string())
            .chain(self.columns.iter().map(|(n, _)| n.clone()))
            .collect();
        Ok(Some((names, rows)))
    }
}

/// The earliest window that holds a value: where windows start when the
/// statement gives no lower time bound.
fn first_window(reduced: &[BTreeMap<i64, Reduced>]) -> i64 {
    reduced
        .iter()
        .filter_map(|m| m.keys().next().copied())
        .min()
        .unwrap_or(MIN_TIME)
}

fn plan_of(e: &Expr, calls: &mut Vec<Call>, field_call: &dyn Fn(Func, &str) -> Call) -> Result<Plan, String> {
    match e {
        Expr::Call { name, args } => {
            let (func, field) = Func::of_call(name, args)?;
            let Expr::Var { name: field, .. } = field else {
                return Err(format!(
                    "not supported: {name}(*) combined with other columns; name the field"
                ));
            };
            calls.push(field_call(func, &field));
            Ok(Plan::Call(calls.len() - 1))
        }
        Expr::Integer(i) => Ok(Plan::Number(Value::from(*i))),
        Expr::Float(f) => Ok(Plan::Number(reduce::float(*f))),
        Expr::Binary { op, lhs, rhs }
            if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod) =>
        {
            Ok(Plan::Binary(
                *op,
                Box::new(plan_of(lhs, calls, field_call)?),
                Box::new(plan_of(rhs, calls, field_call)?),
            ))
        }
        other => Err(format!("not supported in SELECT: {other:?}")),
    }
}

fn eval_plan(plan: &Plan, cells: &[Option<&(Value, Option<i64>)>]) -> Value {
    match plan {
        Plan::Call(i) => cells[*i].map_or(Value::Null, |(v, _)| v.clone()),
        Plan::Number(v) => v.clone(),
        Plan::Binary(op, l, r) => arith(*op, &eval_plan(l, cells), &eval_plan(r, cells)),
    }
}

/// `fill(...)` on one call's values, window by window.
fn fill(column: &mut [Option<(Value, Option<i64>)>], how: Fill, integer: bool) {
    match how {
        Fill::Null | Fill::None => {}
        Fill::Number(n) => {
            let v = if integer && n.fract() == 0.0 {
                Value::from(n as i64)
            } else {
                reduce::float(n)
            };
            for c in column.iter_mut().filter(|c| c.is_none()) {
                *c = Some((v.clone(), None));
            }
        }
        Fill::Previous => {
            let mut last: Option<Value> = None;
            for c in column.iter_mut() {
                match c {
                    Some((v, _)) if !v.is_null() => last = Some(v.clone()),
                    _ => {
                        if let Some(v) = &last {
                            *c = Some((v.clone(), None));
                        }
                    }
                }
            }
        }
        Fill::Linear => {
            let known: Vec<(usize, f64)> = column
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i, c.as_ref()?.0.as_f64()?)))
                .collect();
            for pair in known.windows(2) {
                let ((i0, v0), (i1, v1)) = (pair[0], pair[1]);
                for (i, cell) in column.iter_mut().enumerate().take(i1).skip(i0 + 1) {
                    let v = v0 + (v1 - v0) * (i - i0) as f64 / (i1 - i0) as f64;
                    let v = if integer {
                        Value::from(v as i64)
                    } else {
                        reduce::float(v)
                    };
                    *cell = Some((v, None));
                }
            }
        }
    }
}

/// Per-minute aggregates of one field of one series over [min, max]
/// (`Store::minute_aggregates`: whole minutes from rollups, the edges raw).
async fn minute_aggregates(
    ctx: &Context<'_>,
    series: i64,
    field: &str,
    min: i64,
    max: i64,
) -> Result<Vec<(i64, Aggregate)>, String> {
    ctx.check_deadline()?;
    ctx.store
        .minute_aggregates(series, field, min, max)
        .await
        .map_err(|e| format!("reading the store failed: {e:#}"))
}
