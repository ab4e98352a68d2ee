//! The aggregate and selector functions: over raw points, or (those that
//! can) over per-minute rollups. Results keep InfluxDB's types: counts are
//! integers, means floats, and sum/min/max/first/last/spread of an integer
//! field integers.

use super::ast::Expr;
use crate::sample::FieldValue;
use crate::store::Aggregate;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Count,
    Sum,
    Mean,
    Median,
    Min,
    Max,
    First,
    Last,
    Spread,
    Stddev,
    Percentile(f64),
}

/// Functions InfluxDB has that the logger does not run: named in the error.
const NOT_SUPPORTED: [&str; 22] = [
    "distinct",
    "integral",
    "mode",
    "top",
    "bottom",
    "sample",
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "moving_average",
    "cumulative_sum",
    "elapsed",
    "holt_winters",
    "holt_winters_with_fit",
    "exponential_moving_average",
    "double_exponential_moving_average",
    "triple_exponential_moving_average",
    "relative_strength_index",
    "chande_momentum_oscillator",
    "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average",
];

impl Func {
    /// The function a call names and the field it reads (`Expr::Var` or `Expr::Wildcard`).
    pub fn of_call(name: &str, args: &[Expr]) -> Result<(Func, Expr), String> {
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "invalid number of arguments for {name}, expected {n}, got {}",
                    args.len()
                ))
            }
        };
        let func = match name {
            "count" => Func::Count,
            "sum" => Func::Sum,
            "mean" => Func::Mean,
            "median" => Func::Median,
            "min" => Func::Min,
            "max" => Func::Max,
            "first" => Func::First,
            "last" => Func::Last,
            "spread" => Func::Spread,
            "stddev" => Func::Stddev,
            "percentile" => {
                arity(2)?;
                let n = match &args[1] {
                    Expr::Integer(i) => *i as f64,
                    Expr::Float(f) => *f,
                    _ => return Err("expected float argument in percentile()".into()),
                };
                return Ok((Func::Percentile(n), field_arg(name, &args[0])?));
            }
            n if NOT_SUPPORTED.contains(&n) => return Err(format!("not supported: {n}()")),
            n => return Err(format!("undefined function {n}()")),
        };
        arity(1)?;
        Ok((func, field_arg(name, &args[0])?))
    }

    /// Functions whose time, without GROUP BY time, is the chosen point's.
    pub fn is_selector(self) -> bool {
        matches!(
            self,
            Func::Min | Func::Max | Func::First | Func::Last | Func::Percentile(_)
        )
    }

    /// Whether the per-minute rollups hold what it needs.
    pub fn rollups_suffice(self) -> bool {
        !matches!(self, Func::Median | Func::Percentile(_))
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Count => "count",
            Func::Sum => "sum",
            Func::Mean => "mean",
            Func::Median => "median",
            Func::Min => "min",
            Func::Max => "max",
            Func::First => "first",
            Func::Last => "last",
            Func::Spread => "spread",
            Func::Stddev => "stddev",
            Func::Percentile(_) => "percentile",
        }
    }
}

fn field_arg(name: &str, arg: &Expr) -> Result<Expr, String> {
    match arg {
        Expr::Var { .. } | Expr::Wildcard => Ok(arg.clone()),
        Expr::Call { name: inner, .. } => Err(format!("not supported: {inner}() inside {name}()")),
        _ => Err(format!("expected field argument in {name}()")),
    }
}

/// A result and the time of the point it came from (selectors; others: none).
pub type Reduced = Option<(Value, Option<i64>)>;

/// `func` over raw points of one window, oldest first.
pub fn reduce(func: Func, points: &[(i64, FieldValue)]) -> Result<Reduced, String> {
    if points.is_empty() {
        return Ok(None);
    }
    match func {
        Func::Count => return Ok(Some((Value::from(points.len()), None))),
        Func::First | Func::Last => {
            let (ts, v) = first_or_last(func == Func::First, points);
            return Ok(Some((v.to_json(), Some(ts))));
        }
        _ => {}
    }
    // Booleans have a max (true wins) and a min (false wins), earliest first.
    if matches!(func, Func::Min | Func::Max) && points.iter().all(|(_, v)| matches!(v, FieldValue::Boolean(_))) {
        let want = func == Func::Max;
        let chosen = points
            .iter()
            .find(|(_, v)| *v == FieldValue::Boolean(want))
            .unwrap_or(&points[0]);
        return Ok(Some((chosen.1.to_json(), Some(chosen.0))));
    }
    let integer = points
        .iter()
        .all(|(_, v)| matches!(v, FieldValue::Int(_) | FieldValue::Uint(_)));
    let mut nums: Vec<(i64, f64)> = Vec::with_capacity(points.len());
    for (ts, v) in points {
        match crate::store::rollup::numeric(v) {
            Some(n) => nums.push((*ts, n)),
            None => {
                let kind = if matches!(v, FieldValue::Text(_)) {
                    "string"
                } else {
                    "boolean"
                };
                return Err(format!("unsupported {}() on a {kind} field", func.name()));
            }
        }
    }
    let typed = |x: f64| if integer { Value::from(x as i64) } else { float(x) };
    let n = nums.len() as f64;
    Ok(Some(match func {
        Func::Sum => (typed(nums.iter().map(|p| p.1).sum()), None),
        Func::Mean => (float(nums.iter().map(|p| p.1).sum::<f64>() / n), None),
        Func::Min | Func::Max => {
            let mut best = nums[0];
            for p in &nums[1..] {
                if (func == Func::Min && p.1 < best.1) || (func == Func::Max && p.1 > best.1) {
                    best = *p;
                }
            }
            (typed(best.1), Some(best.0))
        }
        Func::Spread => {
            let (lo, hi) = nums.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
            (typed(hi - lo), None)
        }
        Func::Stddev => {
            if nums.len() < 2 {
                return Ok(Some((Value::Null, None)));
            }
            let mean = nums.iter().map(|p| p.1).sum::<f64>() / n;
            let var = nums.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (float(var.sqrt()), None)
        }
        Func::Median => {
            let mut v: Vec<f64> = nums.iter().map(|p| p.1).collect();
            v.sort_by(f64::total_cmp);
            let mid = v.len() / 2;
            let m = if v.len().is_multiple_of(2) {
                (v[mid - 1] + v[mid]) / 2.0
            } else {
                v[mid]
            };
            (float(m), None)
        }
        Func::Percentile(pct) => {
            let mut sorted = nums.clone();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let i = (sorted.len() as f64 * pct / 100.0 + 0.5).floor() as i64 - 1;
            if i < 0 || i as usize >= sorted.len() {
                return Ok(None);
            }
            let p = sorted[i as usize];
            (typed(p.1), Some(p.0))
        }
        Func::Count | Func::First | Func::Last => unreachable!("answered above"),
    }))
}

/// The oldest (or newest) point. Where several series have a point at that
/// time, InfluxDB keeps the larger value; for booleans first() keeps false and
/// last() keeps true (its reducers' tie rule).
fn first_or_last(first: bool, points: &[(i64, FieldValue)]) -> (i64, &FieldValue) {
    let ts = if first { points[0].0 } else { points[points.len() - 1].0 };
    let mut tied = points.iter().filter(|(t, _)| *t == ts).map(|(_, v)| v);
    let mut best = tied.next().expect("the point at ts itself");
    for v in tied {
        let wins = match (v, best) {
            (FieldValue::Boolean(b), FieldValue::Boolean(_)) => *b != first,
            (FieldValue::Text(a), FieldValue::Text(b)) => a > b,
            _ => match (crate::store::rollup::numeric(v), crate::store::rollup::numeric(best)) {
                (Some(a), Some(b)) => a > b,
                _ => false,
            },
        };
        if wins {
            best = v;
        }
    }
    (ts, best)
}

/// `func` from merged per-minute aggregates (and edge points) of one window.
pub fn from_aggregate(func: Func, a: &Aggregate, integer: bool) -> Reduced {
    if a.count == 0 {
        return None;
    }
    let typed = |x: f64| if integer { Value::from(x as i64) } else { float(x) };
    Some(match func {
        Func::Count => (Value::from(a.count), None),
        Func::Sum => (typed(a.sum), None),
        Func::Mean => (float(a.mean()), None),
        Func::Min => (typed(a.min), None),
        Func::Max => (typed(a.max), None),
        Func::First => (typed(a.first), Some(a.first_ns)),
        Func::Last => (typed(a.last), Some(a.last_ns)),
        Func::Spread => (typed(a.max - a.min), None),
        Func::Stddev => {
            if a.count < 2 {
                return Some((Value::Null, None));
            }
            let n = a.count as f64;
            let var = ((a.sum_squares - a.sum * a.sum / n) / (n - 1.0)).max(0.0);
            (float(var.sqrt()), None)
        }
        Func::Median | Func::Percentile(_) => return None,
    })
}

pub fn float(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}
