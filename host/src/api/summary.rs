//! `GET /top` and `GET /histogram`: the store's summaries over many series
//! (`store::summary`) for any measurement and field — the top N groups by
//! their highest value with the sample of each peak, and how often each
//! value occurs. The IoT compat's dashboard and histogram are built on them.

use super::items::SampleView;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::store::SampleFilter;
use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The most groups `/top` answers.
pub const MAX_TOP: usize = 1000;

/// One group's peak.
#[derive(Serialize, ToSchema)]
pub struct TopEntry {
    /// The value of the `by` tag.
    group: String,
    /// Its highest value of the field in the window.
    value: f64,
    /// The sample of that peak (the earliest, if it peaked twice).
    sample: SampleView,
}

/// How often each value of the field occurs.
#[derive(Serialize, ToSchema)]
pub struct Histogram {
    /// Value (as text) → number of samples.
    counts: BTreeMap<String, u64>,
}

/// The parameters both routes share, and the ones only `/top` has.
struct Asked {
    filter: SampleFilter,
    field: String,
    by: Option<String>,
    n: usize,
}

fn parse(pairs: &[(String, String)], top: bool) -> Result<Asked, ApiError> {
    let known = match top {
        true => "measurement, field, by, window, n and tag.<name>",
        false => "measurement, field, window and tag.<name>",
    };
    let (mut measurement, mut field, mut by, mut window, mut n) = (None, None, None, None, None);
    let mut tags = BTreeMap::new();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "measurement" => &mut measurement,
            "field" => &mut field,
            "by" if top => &mut by,
            "window" => &mut window,
            "n" if top => &mut n,
            other => match other.strip_prefix("tag.") {
                Some(tag) if !tag.is_empty() => {
                    if tags.insert(tag.to_string(), v.clone()).is_some() {
                        return Err(ApiError::bad_request(format!(
                            "{k} is given twice; give each parameter once"
                        )));
                    }
                    continue;
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter {k:?}; this route takes {known}"
                    )))
                }
            },
        };
        if slot.replace(v.clone()).is_some() {
            return Err(ApiError::bad_request(format!(
                "{k} is given twice; give each parameter once"
            )));
        }
    }
    let required = |v: Option<String>, name: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required; this route takes {known}")))
    };
    let measurement = required(measurement, "measurement")?;
    let field = required(field, "field")?;
    let by = if top { Some(required(by, "by")?) } else { None };
    let from_ns = match window {
        None => None,
        Some(w) => {
            let ms = super::series::parse_step(&w).map_err(|e| ApiError::bad_request(format!("window: {e}")))?;
            Some(crate::sample::now_ns() - ms * 1_000_000)
        }
    };
    let n = match n {
        None => 10,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TOP).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("n must be a whole number from 1 to {MAX_TOP}")))?,
    };
    Ok(Asked {
        filter: SampleFilter {
            from_ns,
            to_ns: None,
            measurement: Some(measurement),
            tags,
        },
        field,
        by,
        n,
    })
}

#[utoipa::path(
    get,
    path = "/top",
    tag = "series",
    summary = "The top N groups by their highest value of a field",
    description = "Series of `measurement` (every item; `tag.<name>=<value>` narrows them) grouped by the value of tag `by`; \
        each group's highest `field` within `window` (e.g. `1h`; all time if absent), highest first, ties by group; \
        each with the sample of its peak. E.g. `/top?measurement=devicedata&field=pressure&by=deviceId&window=1h&n=10`.",
    operation_id = "top",
    params(
        ("measurement" = String, Query, min_length = 1, description = "The measurement"),
        ("field" = String, Query, min_length = 1, description = "A numeric field"),
        ("by" = String, Query, min_length = 1, description = "The tag whose values are the groups"),
        ("window" = Option<String>, Query, description = "How far back: 1 to 999 of ms, s, m, h, d or w, or whole seconds", pattern = "^([1-9][0-9]{0,2}(ms|s|m|h|d|w)|[1-9][0-9]{0,7})$"),
        ("n" = Option<usize>, Query, description = "How many groups (1 to 1000, default 10)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The groups, highest first", body = [TopEntry]),
        (status = 400, description = "A parameter missing, unknown, repeated or out of its range", body = ErrorBody),
    ),
)]
pub async fn top(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<TopEntry>>, ApiError> {
    let asked = parse(&pairs, true)?;
    let by = asked.by.unwrap_or_default();
    let peaks = state
        .store
        .top(&asked.filter, &asked.field, &by, asked.n)
        .await
        .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))?;
    Ok(Json(
        peaks
            .iter()
            .map(|p| TopEntry {
                group: p.group.clone(),
                value: p.value,
                sample: SampleView::from(&p.sample),
            })
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/histogram",
    tag = "series",
    summary = "How often each value of a field occurs",
    description = "Over the series of `measurement` that have every `tag.<name>=<value>` given, within `window` \
        (all time if absent). E.g. `/histogram?measurement=devicedata&field=status&tag.deviceId=device_3`.",
    operation_id = "histogram",
    params(
        ("measurement" = String, Query, min_length = 1, description = "The measurement"),
        ("field" = String, Query, min_length = 1, description = "The field whose values are counted"),
        ("window" = Option<String>, Query, description = "How far back: 1 to 999 of ms, s, m, h, d or w, or whole seconds", pattern = "^([1-9][0-9]{0,2}(ms|s|m|h|d|w)|[1-9][0-9]{0,7})$"),
    ),
    responses(
        (status = 200, description = "Counts by value", body = Histogram),
        (status = 400, description = "A parameter missing, unknown or repeated", body = ErrorBody),
    ),
)]
pub async fn histogram(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Histogram>, ApiError> {
    let asked = parse(&pairs, false)?;
    let counts = state
        .store
        .value_counts(&asked.filter, &asked.field)
        .await
        .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))?;
    Ok(Json(Histogram { counts }))
}
