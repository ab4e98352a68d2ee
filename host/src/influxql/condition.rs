//! A WHERE clause, taken apart: the `time` conditions become one inclusive
//! range, the rest (tags and fields) is evaluated per series or per point.

use super::ast::{BinOp, Cast, Expr};
use crate::sample::FieldValue;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::collections::BTreeMap;

/// Inclusive bounds in ns; `None` where the statement gives none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// The time range of `cond` and what remains of it without its time
/// conditions. Time conditions must be joined by AND at the top (as InfluxDB
/// requires); `time` inside an OR is refused.
pub fn split(cond: Option<&Expr>, now_ns: i64) -> Result<(TimeRange, Option<Expr>), String> {
    let mut range = TimeRange::default();
    let rest = match cond {
        Some(e) => strip(e, now_ns, &mut range)?,
        None => None,
    };
    Ok((range, rest))
}

fn strip(e: &Expr, now: i64, range: &mut TimeRange) -> Result<Option<Expr>, String> {
    match e {
        Expr::Binary {
            op: BinOp::And,
            lhs,
            rhs,
        } => {
            let (l, r) = (strip(lhs, now, range)?, strip(rhs, now, range)?);
            Ok(match (l, r) {
                (Some(l), Some(r)) => Some(Expr::binary(BinOp::And, l, r)),
                (l, r) => l.or(r),
            })
        }
        Expr::Binary { op, lhs, rhs } if is_comparison(*op) && (is_time(lhs) || is_time(rhs)) => {
            let (op, value) = if is_time(lhs) { (*op, rhs) } else { (flip(*op), lhs) };
            let t = time_value(value, now)?;
            let (min, max) = (range.min.unwrap_or(i64::MIN), range.max.unwrap_or(i64::MAX));
            match op {
                BinOp::Gt => range.min = Some(min.max(t.saturating_add(1))),
                BinOp::GtEq => range.min = Some(min.max(t)),
                BinOp::Lt => range.max = Some(max.min(t.saturating_sub(1))),
                BinOp::LtEq => range.max = Some(max.min(t)),
                BinOp::Eq => {
                    range.min = Some(min.max(t));
                    range.max = Some(max.min(t));
                }
                _ => {
                    return Err(format!(
                        "not supported: time {} in a condition; use <, <=, >, >= or =",
                        op_text(op)
                    ))
                }
            }
            Ok(None)
        }
        _ if mentions_time(e) => Err("not supported: time conditions inside OR; join them to the rest with AND".into()),
        _ => Ok(Some(e.clone())),
    }
}

fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq
            | BinOp::NotEq
            | BinOp::Lt
            | BinOp::LtEq
            | BinOp::Gt
            | BinOp::GtEq
            | BinOp::RegexMatch
            | BinOp::RegexNotMatch
    )
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::LtEq => BinOp::GtEq,
        BinOp::Gt => BinOp::Lt,
        BinOp::GtEq => BinOp::LtEq,
        other => other,
    }
}

fn op_text(op: BinOp) -> &'static str {
    match op {
        BinOp::NotEq => "!=",
        BinOp::RegexMatch => "=~",
        BinOp::RegexNotMatch => "!~",
        _ => "?",
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::Var { name, .. } if name.eq_ignore_ascii_case("time"))
}

fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        e => is_time(e),
    }
}

/// A time in a condition: ns since the epoch from a number or duration
/// literal, an RFC 3339 string, `now()`, and sums and differences of them.
pub fn time_value(e: &Expr, now: i64) -> Result<i64, String> {
    match e {
        Expr::Integer(i) => Ok(*i),
        Expr::Float(f) => Ok(*f as i64),
        Expr::Duration(d) => Ok(*d),
        Expr::String(s) => parse_time(s),
        Expr::Call { name, args } if name == "now" && args.is_empty() => Ok(now),
        Expr::Binary { op: BinOp::Add, lhs, rhs } => Ok(time_value(lhs, now)?.saturating_add(time_value(rhs, now)?)),
        Expr::Binary { op: BinOp::Sub, lhs, rhs } => Ok(time_value(lhs, now)?.saturating_sub(time_value(rhs, now)?)),
        other => Err(format!(
            "invalid time {other:?}: compare time with now() - 1h, an RFC 3339 string or a number with a unit (1700000000000ms)"
        )),
    }
}

/// `'2024-01-02T03:04:05Z'`, `'2024-01-02 03:04:05'` (UTC) or `'2024-01-02'`.
fn parse_time(s: &str) -> Result<i64, String> {
    let ns = |dt: DateTime<chrono::Utc>| dt.timestamp_nanos_opt();
    let parsed = DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|d| ns(d.to_utc()))
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .and_then(|d| ns(d.and_utc()))
        })
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| ns(d.and_hms_opt(0, 0, 0)?.and_utc()))
        });
    parsed.ok_or_else(|| format!("invalid time '{s}': write RFC 3339, e.g. '2024-01-02T03:04:05Z'"))
}

/// Whether `e` reads a field (any name that is not one of `tag_keys`, unless cast `::tag`).
pub fn reads_fields(e: &Expr, is_tag: &dyn Fn(&str) -> bool) -> bool {
    match e {
        Expr::Binary { lhs, rhs, .. } => reads_fields(lhs, is_tag) || reads_fields(rhs, is_tag),
        Expr::Var { name, cast } => match cast {
            Some(Cast::Tag) => false,
            Some(_) => true,
            None => !is_tag(name),
        },
        _ => false,
    }
}

/// A value while a condition is evaluated.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Null,
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

/// Whether a point (or, with `fields: None`, a whole series) passes `e`.
pub fn matches(
    e: &Expr,
    tags: &BTreeMap<String, String>,
    fields: Option<&[(String, FieldValue)]>,
    is_tag: &dyn Fn(&str) -> bool,
) -> bool {
    eval(e, tags, fields, is_tag) == Val::Bool(true)
}

fn eval<'a>(
    e: &'a Expr,
    tags: &'a BTreeMap<String, String>,
    fields: Option<&'a [(String, FieldValue)]>,
    is_tag: &dyn Fn(&str) -> bool,
) -> Val<'a> {
    match e {
        Expr::Var { name, cast } => {
            let as_tag = match cast {
                Some(Cast::Tag) => true,
                Some(_) => false,
                None => is_tag(name),
            };
            if as_tag {
                return Val::Str(tags.get(name).map_or("", String::as_str));
            }
            match fields.and_then(|f| f.iter().find(|(k, _)| k == name)) {
                Some((_, FieldValue::Float(f))) => Val::Num(*f),
                Some((_, FieldValue::Int(i))) => Val::Num(*i as f64),
                Some((_, FieldValue::Uint(u))) => Val::Num(*u as f64),
                Some((_, FieldValue::Boolean(b))) => Val::Bool(*b),
                Some((_, FieldValue::Text(s))) => Val::Str(s),
                None => Val::Null,
            }
        }
        Expr::Integer(i) => Val::Num(*i as f64),
        Expr::Float(f) => Val::Num(*f),
        Expr::Duration(d) => Val::Num(*d as f64),
        Expr::String(s) => Val::Str(s),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Binary { op, lhs, rhs } => {
            if let (BinOp::RegexMatch | BinOp::RegexNotMatch, Expr::Regex(p)) = (op, &**rhs) {
                let hit = match eval(lhs, tags, fields, is_tag) {
                    Val::Str(s) => p.is_match(s),
                    _ => return Val::Bool(false),
                };
                return Val::Bool(hit == (*op == BinOp::RegexMatch));
            }
            let (l, r) = (eval(lhs, tags, fields, is_tag), eval(rhs, tags, fields, is_tag));
            match op {
                BinOp::And => Val::Bool(l == Val::Bool(true) && r == Val::Bool(true)),
                BinOp::Or => Val::Bool(l == Val::Bool(true) || r == Val::Bool(true)),
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => match (l, r) {
                    (Val::Num(a), Val::Num(b)) => Val::Num(arith(*op, a, b)),
                    _ => Val::Null,
                },
                op => compare(*op, &l, &r),
            }
        }
        _ => Val::Null,
    }
}

pub fn arith(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b == 0.0 => 0.0,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        _ => f64::NAN,
    }
}

fn compare(op: BinOp, l: &Val, r: &Val) -> Val<'static> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
        (Val::Bool(a), Val::Bool(b)) if matches!(op, BinOp::Eq | BinOp::NotEq) => Some(a.cmp(b)),
        _ => None,
    };
    let Some(ord) = ord else { return Val::Bool(false) };
    Val::Bool(match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::NotEq => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::LtEq => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        BinOp::GtEq => ord != Ordering::Less,
        _ => false,
    })
}
