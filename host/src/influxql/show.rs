//! The SHOW statements: what the store holds, named as InfluxDB names it.

use super::ast::{Expr, KeyMatch, ShowMeta};
use super::catalog::SeriesInfo;
use super::condition;
use super::response::Series;
use super::Context;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The series of `measurement` that pass the statement's tag conditions
/// (its time conditions are ignored, as InfluxDB 1.x does for SHOW).
fn matching<'a>(ctx: &'a Context<'_>, measurement: &'a str, condition: &'a Option<Expr>) -> Vec<&'a SeriesInfo> {
    ctx.catalog
        .series_of(measurement)
        .filter(|si| match condition {
            Some(e) => condition::matches(e, &si.tags, None, &|n: &str| ctx.catalog.is_tag(measurement, n)),
            None => true,
        })
        .collect()
}

/// The statement's condition without its time parts.
fn tag_condition(ctx: &Context<'_>, meta: &ShowMeta) -> Result<Option<Expr>, String> {
    Ok(condition::split(meta.condition.as_ref(), ctx.now_ns)?.1)
}

fn page<T>(items: Vec<T>, meta: &ShowMeta) -> Vec<T> {
    items
        .into_iter()
        .skip(meta.offset.unwrap_or(0) as usize)
        .take(meta.limit.map_or(usize::MAX, |l| l as usize))
        .collect()
}

fn one(
    name: Option<&str>,
    tags: BTreeMap<String, String>,
    columns: &[&str],
    values: Vec<Vec<Value>>,
) -> Option<Series> {
    (!values.is_empty()).then(|| Series {
        name: name.map(str::to_string),
        tags,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        values,
    })
}

pub fn databases(ctx: &Context<'_>) -> Vec<Series> {
    let name = ctx
        .settings
        .database
        .clone()
        .unwrap_or_else(|| super::DEFAULT_DATABASE.to_string());
    one(
        Some("databases"),
        BTreeMap::new(),
        &["name"],
        vec![vec![Value::from(name)]],
    )
    .into_iter()
    .collect()
}

pub fn measurements(ctx: &Context<'_>, meta: &ShowMeta) -> Result<Vec<Series>, String> {
    let cond = tag_condition(ctx, meta)?;
    let names: Vec<Vec<Value>> = ctx
        .catalog
        .measurements_in(&meta.from)
        .into_iter()
        .filter(|m| meta.with_measurement.as_ref().is_none_or(|w| w.matches(m)))
        .filter(|m| cond.is_none() || !matching(ctx, m, &cond).is_empty())
        .map(|m| vec![Value::from(m)])
        .collect();
    Ok(one(Some("measurements"), BTreeMap::new(), &["name"], page(names, meta))
        .into_iter()
        .collect())
}

pub fn field_keys(ctx: &Context<'_>, meta: &ShowMeta) -> Vec<Series> {
    ctx.catalog
        .measurements_in(&meta.from)
        .into_iter()
        .filter_map(|m| {
            let fields = ctx.catalog.fields.get(m)?;
            let values = fields
                .iter()
                .map(|(k, t)| vec![Value::from(k.clone()), Value::from(*t)])
                .collect();
            one(Some(m), BTreeMap::new(), &["fieldKey", "fieldType"], page(values, meta))
        })
        .collect()
}

pub fn tag_keys(ctx: &Context<'_>, meta: &ShowMeta) -> Result<Vec<Series>, String> {
    let cond = tag_condition(ctx, meta)?;
    Ok(ctx
        .catalog
        .measurements_in(&meta.from)
        .into_iter()
        .filter_map(|m| {
            let keys: BTreeSet<&String> = matching(ctx, m, &cond).iter().flat_map(|si| si.tags.keys()).collect();
            let values = keys.into_iter().map(|k| vec![Value::from(k.clone())]).collect();
            one(Some(m), BTreeMap::new(), &["tagKey"], page(values, meta))
        })
        .collect())
}

pub fn tag_values(ctx: &Context<'_>, meta: &ShowMeta, keys: &KeyMatch) -> Result<Vec<Series>, String> {
    let cond = tag_condition(ctx, meta)?;
    Ok(ctx
        .catalog
        .measurements_in(&meta.from)
        .into_iter()
        .filter_map(|m| {
            let pairs: BTreeSet<(&String, &String)> = matching(ctx, m, &cond)
                .iter()
                .flat_map(|si| si.tags.iter())
                .filter(|(k, _)| keys.matches(k))
                .collect();
            let values = pairs
                .into_iter()
                .map(|(k, v)| vec![Value::from(k.clone()), Value::from(v.clone())])
                .collect();
            one(Some(m), BTreeMap::new(), &["key", "value"], page(values, meta))
        })
        .collect())
}

pub fn series(ctx: &Context<'_>, meta: &ShowMeta) -> Result<Vec<Series>, String> {
    let cond = tag_condition(ctx, meta)?;
    let mut keys: Vec<String> = ctx
        .catalog
        .measurements_in(&meta.from)
        .into_iter()
        .flat_map(|m| matching(ctx, m, &cond).into_iter().map(SeriesInfo::key))
        .collect();
    keys.sort();
    let values = keys.into_iter().map(|k| vec![Value::from(k)]).collect();
    Ok(one(None, BTreeMap::new(), &["key"], page(values, meta))
        .into_iter()
        .collect())
}

pub fn retention_policies(ctx: &Context<'_>) -> Vec<Series> {
    let days = ctx.store.settings().retention_days;
    let duration = if days == 0 {
        "0s".to_string()
    } else {
        format!("{}h0m0s", u64::from(days) * 24)
    };
    let row = vec![
        Value::from("autogen"),
        Value::from(duration),
        Value::from("168h0m0s"),
        Value::from(1),
        Value::from(true),
    ];
    one(
        None,
        BTreeMap::new(),
        &["name", "duration", "shardGroupDuration", "replicaN", "default"],
        vec![row],
    )
    .into_iter()
    .collect()
}
