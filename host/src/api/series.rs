//! `/series`: what the store holds, and one field's values over time, for the
//! built-in dashboard and scripts. Values come raw, or aggregated in time
//! buckets aligned to multiples of the step since the epoch; buckets of whole
//! minutes come from the store's per-minute rollups, so a week costs little.
//! Times are milliseconds since the epoch, as charting libraries take them.
//! An answer holds at most `MAX_POINTS` points; beyond, a 400 names the step
//! that fits.

use super::items::{add_tag_filter, measurement_filter, shown, TAG_PREFIX};
use super::openapi::{self, ErrorBody};
use super::{ApiError, AppState};
use crate::sample::{now_ns, rfc3339_ns};
use crate::sources::items::limits;
use crate::store::{Aggregate, SampleFilter, SeriesKey};
use axum::extract::{Query, State};
use axum::Json;
use regex::Regex;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::{RefOr, Required};
use utoipa::{IntoParams, ToSchema};

/// Most points one `/series/data` answer holds, over all its series: raw
/// values, or buckets (counted as the range holds them, empty or not).
pub const MAX_POINTS: usize = 10_000;
/// Longest `field` name asked for, in characters.
const MAX_FIELD: usize = 256;
const NS_PER_MS: i64 = 1_000_000;
const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
/// The range without `from`: the hour before `to`.
const DEFAULT_SPAN_MS: i64 = HOUR_MS;
/// Times outside 1700-01-01 .. 2200-01-01 are read as these bounds: their
/// nanoseconds, aligned to any step, stay within an i64.
const MIN_TIME_MS: i64 = -8_520_336_000_000;
const MAX_TIME_MS: i64 = 7_258_118_400_000;

/// A step: 1 to 999 of a unit, or up to 8 digits of seconds (so at most 999
/// weeks, which `MIN_TIME_MS`/`MAX_TIME_MS` leave room for). The document
/// states the same pattern, so what the schema allows the parser takes.
const STEP_PATTERN: &str = "^([1-9][0-9]{0,2}(ms|s|m|h|d|w)|[1-9][0-9]{0,7})$";
/// `now`, or `now-<duration>` (a bare number is seconds).
const NOW_PATTERN: &str = "^now(-[0-9]{1,12}(ms|s|m|h|d|w)?)?$";
static STEP: LazyLock<Regex> = LazyLock::new(|| Regex::new(STEP_PATTERN).expect("a valid pattern"));
static NOW: LazyLock<Regex> = LazyLock::new(|| Regex::new(NOW_PATTERN).expect("a valid pattern"));

/// The steps `points=` picks from, and error messages suggest.
const NICE_STEPS_MS: [i64; 33] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    SECOND_MS,
    2 * SECOND_MS,
    5 * SECOND_MS,
    10 * SECOND_MS,
    15 * SECOND_MS,
    30 * SECOND_MS,
    MINUTE_MS,
    2 * MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    WEEK_MS,
    30 * DAY_MS,
    90 * DAY_MS,
    365 * DAY_MS,
    999 * WEEK_MS,
];

/// The query parameters each route takes, as its errors name them.
const LIST_PARAMS: &str = "item, measurement and tag.<name>";
const DATA_PARAMS: &str = "item, field, measurement, tag.<name>, from, to, step, points and agg";

// ---------------------------------------------------------------- answers

/// What `GET /series` answers.
#[derive(Serialize, ToSchema)]
pub struct SeriesList {
    /// Sorted by item, measurement and tags.
    series: Vec<SeriesInfo>,
}

/// One stored series: an item's samples of one measurement and tag set.
#[derive(Serialize, ToSchema)]
pub struct SeriesInfo {
    item: String,
    measurement: String,
    #[schema(schema_with = openapi::shown_tags)]
    tags: BTreeMap<String, String>,
    /// Every field the series has stored, by name; a field a plugin sent with
    /// two types is listed once with each.
    fields: Vec<FieldInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldInfo {
    name: String,
    /// As InfluxDB's `SHOW FIELD KEYS` names it.
    #[serde(rename = "type")]
    #[schema(schema_with = field_type)]
    kind: String,
}

fn field_type() -> utoipa::openapi::schema::Object {
    openapi::one_of(&["float", "integer", "unsigned", "boolean", "string"], false)
}

/// What `GET /series/data` answers.
#[derive(Serialize, ToSchema)]
pub struct SeriesData {
    /// The range read, inclusive, in ms since the epoch (the defaults filled in).
    from_ms: i64,
    to_ms: i64,
    /// The bucket size in ms; `null` for raw values.
    step_ms: Option<i64>,
    /// The aggregate of each bucket; `null` for raw values.
    agg: Option<Agg>,
    /// One entry per series of the item that has the field and passes the
    /// filters, sorted by measurement and tags.
    series: Vec<SeriesValues>,
}

/// One series' values of the field.
#[derive(Serialize, ToSchema)]
pub struct SeriesValues {
    item: String,
    measurement: String,
    #[schema(schema_with = openapi::shown_tags)]
    tags: BTreeMap<String, String>,
    field: String,
    /// `["time", <agg>]`, or `["time", <field>]` for raw values.
    columns: Vec<String>,
    /// `[time in ms, value]`, oldest first: a bucket's start and aggregate
    /// (empty buckets are left out), or each stored sample.
    #[schema(schema_with = points)]
    values: Vec<(i64, Value)>,
}

fn points() -> utoipa::openapi::schema::Object {
    serde_json::from_value(json!({
        "type": "array",
        "items": {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": ["number", "string", "boolean", "null"]}],
            "minItems": 2,
            "maxItems": 2,
        },
    }))
    .expect("a valid schema")
}

/// An aggregate over the values in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Agg {
    Mean,
    Min,
    Max,
    Sum,
    Count,
    First,
    Last,
    /// The sample standard deviation (n − 1), as InfluxDB's `stddev()`;
    /// `null` for a bucket of one value.
    Stddev,
    /// Max − min.
    Spread,
}

impl Agg {
    const ALL: [Agg; 9] = [
        Agg::Mean,
        Agg::Min,
        Agg::Max,
        Agg::Sum,
        Agg::Count,
        Agg::First,
        Agg::Last,
        Agg::Stddev,
        Agg::Spread,
    ];

    fn name(self) -> String {
        super::serde_name(&self)
    }

    fn parse(s: &str) -> Result<Agg, String> {
        Agg::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<String> = Agg::ALL.iter().map(|a| a.name()).collect();
            format!("agg must be one of {}; got {}", names.join(", "), shown(s))
        })
    }

    /// The value of this aggregate of a bucket (`null` where it has none,
    /// or is not finite).
    fn of(self, a: &Aggregate) -> Value {
        let n = a.count as f64;
        let number = match self {
            Agg::Count => return Value::from(a.count),
            Agg::Mean => a.mean(),
            Agg::Min => a.min,
            Agg::Max => a.max,
            Agg::Sum => a.sum,
            Agg::First => a.first,
            Agg::Last => a.last,
            Agg::Spread => a.max - a.min,
            Agg::Stddev if a.count < 2 => return Value::Null,
            Agg::Stddev => ((a.sum_squares - n * a.mean() * a.mean()) / (n - 1.0)).max(0.0).sqrt(),
        };
        serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
    }
}

// ---------------------------------------------------------------- queries

/// Which series: an item (all when `None`), measurement and tags.
#[derive(Debug, Default, PartialEq)]
struct Selection {
    item: Option<String>,
    filter: SampleFilter,
}

impl Selection {
    /// Reads `item`, `measurement` and `tag.<name>`; `false` for another key.
    fn read(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "item" => {
                let n = value.chars().count();
                if n == 0 || n > limits::NAME {
                    return Err(format!(
                        "item must be an item's name, 1 to {} characters; got {n}",
                        limits::NAME
                    ));
                }
                self.item = Some(value.to_string());
            }
            "measurement" => self.filter.measurement = Some(measurement_filter(value)?),
            _ => match key.strip_prefix(TAG_PREFIX) {
                Some(tag) => add_tag_filter(&mut self.filter, key, tag, value)?,
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    fn passes(&self, key: &SeriesKey) -> bool {
        let f = &self.filter;
        f.measurement.as_ref().is_none_or(|m| &key.measurement == m)
            && f.tags.iter().all(|(k, v)| key.tags.get(k) == Some(v))
    }
}

/// Refuses a parameter given twice: which one would apply is a guess.
fn once<'a>(seen: &mut BTreeSet<&'a str>, key: &'a str) -> Result<(), String> {
    match seen.insert(key) {
        true => Ok(()),
        false => Err(format!("{} is given twice; give each parameter once", shown(key))),
    }
}

fn parse_list_query(pairs: &[(String, String)]) -> Result<Selection, String> {
    let mut selection = Selection::default();
    let mut seen = BTreeSet::new();
    for (key, value) in pairs {
        once(&mut seen, key)?;
        if !selection.read(key, value)? {
            return Err(format!(
                "unknown query parameter {}; GET /series takes {LIST_PARAMS} (e.g. ?item=load)",
                shown(key)
            ));
        }
    }
    Ok(selection)
}

/// Raw values, or buckets of `step_ms` aggregated by `agg`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resolution {
    Raw,
    Buckets { step_ms: i64, agg: Agg },
}

#[derive(Debug, PartialEq)]
struct DataQuery {
    selection: Selection,
    field: String,
    /// Inclusive, ms since the epoch.
    from_ms: i64,
    to_ms: i64,
    resolution: Resolution,
}

fn parse_data_query(pairs: &[(String, String)], now_ms: i64) -> Result<DataQuery, String> {
    let mut selection = Selection::default();
    let (mut field, mut from, mut to, mut step, mut points, mut agg) = (None, None, None, None, None, None);
    let mut seen = BTreeSet::new();
    for (key, value) in pairs {
        once(&mut seen, key)?;
        match key.as_str() {
            "field" => {
                let n = value.chars().count();
                if n == 0 || n > MAX_FIELD {
                    return Err(format!(
                        "field must be a field's name, 1 to {MAX_FIELD} characters; got {n}"
                    ));
                }
                field = Some(value.clone());
            }
            "from" => from = Some(parse_time("from", value, now_ms)?),
            "to" => to = Some(parse_time("to", value, now_ms)?),
            "step" => step = Some(parse_step(value)?),
            "points" => points = Some(parse_points(value)?),
            "agg" => agg = Some(Agg::parse(value)?),
            _ if selection.read(key, value)? => {}
            _ => {
                return Err(format!(
                    "unknown query parameter {}; GET /series/data takes {DATA_PARAMS} (e.g. ?item=load&field=load1&step=1m)",
                    shown(key)
                ))
            }
        }
    }
    if selection.item.is_none() {
        return Err(
            "item is required: the item whose samples to read, e.g. ?item=load&field=load1 \
                    (GET /series lists the stored series)"
                .into(),
        );
    }
    let field = field.ok_or(
        "field is required: the field to read, e.g. ?item=load&field=load1 (GET /series lists each series' fields)",
    )?;
    let to_ms = to.unwrap_or(now_ms.clamp(MIN_TIME_MS, MAX_TIME_MS));
    let from_ms = from.unwrap_or((to_ms - DEFAULT_SPAN_MS).max(MIN_TIME_MS));
    if from_ms > to_ms {
        return Err(format!(
            "from ({}) is after to ({}); both bounds are inclusive, so from must be at or before to \
             (without to, to is now; times are RFC 3339 or ms since the epoch)",
            rfc3339_ms(from_ms),
            rfc3339_ms(to_ms)
        ));
    }
    let resolution = match (step, points) {
        (Some(_), Some(_)) => {
            return Err("give step (the bucket size) or points (about how many buckets), not both".into())
        }
        (Some(step_ms), None) => Resolution::Buckets {
            step_ms,
            agg: agg.unwrap_or(Agg::Mean),
        },
        (None, Some(points)) => Resolution::Buckets {
            step_ms: step_for(from_ms, to_ms, points),
            agg: agg.unwrap_or(Agg::Mean),
        },
        (None, None) if agg.is_some() => {
            return Err(
                "agg aggregates values in time buckets: add step= (e.g. step=1m) or points= \
                        (e.g. points=500), or leave agg out for raw values"
                    .into(),
            )
        }
        (None, None) => Resolution::Raw,
    };
    Ok(DataQuery {
        selection,
        field,
        from_ms,
        to_ms,
        resolution,
    })
}

fn rfc3339_ms(ms: i64) -> String {
    rfc3339_ns(ms.saturating_mul(NS_PER_MS))
}

/// `from`/`to`: RFC 3339, whole ms since the epoch, `now` or `now-<duration>`;
/// before 1700 or from 2200 on, the bound of that range (the store holds
/// nothing beyond).
fn parse_time(what: &str, s: &str, now_ms: i64) -> Result<i64, String> {
    let ms = if NOW.is_match(s) {
        let ago = s.strip_prefix("now-").map_or(0, |d| duration_ms(d).unwrap_or(i64::MAX));
        now_ms.saturating_sub(ago)
    } else if let Ok(ms) = s.parse::<i64>() {
        ms
    } else {
        chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|_| {
                format!(
                    "{what} must be an RFC 3339 time such as 2026-12-01T10:00:00Z, whole milliseconds since \
                     the Unix epoch, now, or now-<duration> such as now-24h; got {}",
                    shown(s)
                )
            })?
            .timestamp_millis()
    };
    Ok(ms.clamp(MIN_TIME_MS, MAX_TIME_MS))
}

/// Digits and an optional unit (ms, s, m, h, d, w; none is seconds) in ms,
/// saturating; `None` for anything else.
fn duration_ms(s: &str) -> Option<i64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    let unit_ms = match unit {
        "ms" => 1,
        "s" | "" => SECOND_MS,
        "m" => MINUTE_MS,
        "h" => HOUR_MS,
        "d" => DAY_MS,
        "w" => WEEK_MS,
        _ => return None,
    };
    let n: i64 = number.parse().ok()?;
    Some(n.saturating_mul(unit_ms))
}

pub(super) fn parse_step(s: &str) -> Result<i64, String> {
    STEP.is_match(s).then(|| duration_ms(s)).flatten().ok_or_else(|| {
        format!(
            "step must be a duration such as 10s, 1m, 1h or 1d: 1 to 999 of ms, s, m, h, d or w, or whole seconds \
             (1 to 99999999); got {}",
            shown(s)
        )
    })
}

fn parse_points(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_POINTS).contains(n))
        .ok_or_else(|| format!("points must be a whole number from 1 to {MAX_POINTS}; got {}", shown(s)))
}

/// How many buckets of `step_ms`, aligned to the epoch, [from, to] touches.
fn bucket_count(from_ms: i64, to_ms: i64, step_ms: i64) -> i64 {
    to_ms.div_euclid(step_ms) - from_ms.div_euclid(step_ms) + 1
}

/// The smallest step from `NICE_STEPS_MS` with at most `points` buckets in
/// [from, to] (the largest when none has).
fn step_for(from_ms: i64, to_ms: i64, points: usize) -> i64 {
    NICE_STEPS_MS
        .into_iter()
        .find(|s| bucket_count(from_ms, to_ms, *s) <= points as i64)
        .unwrap_or(NICE_STEPS_MS[NICE_STEPS_MS.len() - 1])
}

/// A step as a request writes it, e.g. `15m`.
fn step_text(ms: i64) -> String {
    [
        (WEEK_MS, "w"),
        (DAY_MS, "d"),
        (HOUR_MS, "h"),
        (MINUTE_MS, "m"),
        (SECOND_MS, "s"),
    ]
    .into_iter()
    .find(|(unit, _)| ms % unit == 0)
    .map_or(format!("{ms}ms"), |(unit, name)| format!("{}{name}", ms / unit))
}

/// The 400 for an answer of more than `MAX_POINTS`, naming the smallest
/// step from `NICE_STEPS_MS` that fits `series` series in [from, to].
fn too_many_points(what: String, q: &DataQuery, series: usize) -> ApiError {
    let per_series = (MAX_POINTS / series.max(1)).max(1);
    let fits = step_for(q.from_ms, q.to_ms, per_series);
    ApiError::bad_request(format!(
        "{what} is more than the {MAX_POINTS} points an answer holds; use a step of at least {} \
         (e.g. &step={}&agg=mean), points=N (at most {per_series} for {series} series), a shorter range, \
         or narrow with measurement= or tag.<name>=",
        step_text(fits),
        step_text(fits),
    ))
}

// ---------------------------------------------------------------- handlers

/// The document's parameters for the series filters, and for the data
/// query when `data`: written by hand, as `items::SamplesParams`.
fn params(data: bool) -> Vec<Parameter> {
    let param = |name: &str, required: bool, description: &str, schema: RefOr<Schema>| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(if required { Required::True } else { Required::False })
            .description(Some(description))
            .schema(Some(schema))
            .build()
    };
    let text = |min: usize, max: usize| -> RefOr<Schema> {
        Schema::Object(
            serde_json::from_value(json!({"type": "string", "minLength": min, "maxLength": max}))
                .expect("a valid schema"),
        )
        .into()
    };
    let mut tags = param(
        "tag",
        false,
        "Tag filters, one parameter each: `tag.<name>=<value>`, e.g. `tag.room=lab`; a series must have every \
         tag given, with exactly that value.",
        Schema::Object(openapi::tag_filters(TAG_PREFIX)).into(),
    );
    tags.style = Some(ParameterStyle::Form);
    tags.explode = Some(true);
    let measurement = param(
        "measurement",
        false,
        "Only series of this measurement (e.g. `isems`, not `isems_poll`).",
        Schema::Object(openapi::measurement(super::items::MAX_MEASUREMENT)).into(),
    );
    if !data {
        let item = param("item", false, "Only this item's series.", text(1, limits::NAME));
        return vec![item, measurement, tags];
    }
    let time = |name: &str, description: &str| {
        let now = serde_json::from_value(json!({"type": "string", "pattern": NOW_PATTERN})).expect("a valid schema");
        let ms = serde_json::from_value(json!({"type": "integer", "format": "int64"})).expect("a valid schema");
        let either = OneOfBuilder::new()
            .item(openapi::timestamp())
            .item(Schema::Object(ms))
            .item(Schema::Object(now));
        param(name, false, description, Schema::OneOf(either.build()).into())
    };
    let step = serde_json::from_value(json!({"type": "string", "pattern": STEP_PATTERN})).expect("a valid schema");
    let agg: Vec<String> = Agg::ALL.iter().map(|a| a.name()).collect();
    let agg: Vec<&str> = agg.iter().map(String::as_str).collect();
    vec![
        param(
            "item",
            true,
            "The item whose samples to read (`GET /series` lists them).",
            text(1, limits::NAME),
        ),
        param("field", true, "The field to read, e.g. `load1`.", text(1, MAX_FIELD)),
        measurement,
        tags,
        time(
            "from",
            "The oldest time to read, inclusive: RFC 3339 (e.g. `2026-12-01T10:00:00Z`), whole milliseconds \
             since the Unix epoch, `now` or `now-<duration>` (e.g. `now-24h`). Default: one hour before `to`. \
             Times before 1700 or from 2200 on are read as those bounds.",
        ),
        time(
            "to",
            "The newest time to read, inclusive, written as `from`. Default: now.",
        ),
        param(
            "step",
            false,
            "Aggregate in buckets of this size, aligned to multiples of it since the Unix epoch: `10s`, `1m`, \
             `1h`, `1d` (1 to 999 of ms, s, m, h, d or w), or whole seconds. Steps of whole minutes are read \
             from the store's per-minute rollups, which outlive raw data; other steps need raw data.",
            Schema::Object(step).into(),
        ),
        param(
            "points",
            false,
            "Instead of `step`: about how many buckets per series; the step is chosen from 1ms, 2ms, 5ms, ... \
             1s, 2s, 5s, 10s, 15s, 30s, 1m, ..., 30m, 1h, 2h, 3h, 6h, 12h, 1d, 2d, 7d, 30d, 90d, 365d.",
            Schema::Object(openapi::integer_between(1, MAX_POINTS as i64)).into(),
        ),
        param(
            "agg",
            false,
            "The aggregate of each bucket (default `mean`; needs `step` or `points`). `stddev` is the sample \
             standard deviation, `spread` max − min; all read numeric fields only.",
            Schema::Object(openapi::one_of(&agg, false)).into(),
        ),
    ]
}

pub struct ListParams;

impl IntoParams for ListParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        params(false)
    }
}

pub struct DataParams;

impl IntoParams for DataParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        params(true)
    }
}

fn read_failed(e: anyhow::Error) -> ApiError {
    ApiError::internal(format!("reading the store failed: {e:#}"))
}

fn by_names(a: &SeriesKey, b: &SeriesKey) -> std::cmp::Ordering {
    (&a.item, &a.measurement, &a.tags).cmp(&(&b.item, &b.measurement, &b.tags))
}

#[utoipa::path(
    get,
    path = "/series",
    tag = "series",
    summary = "The stored series: item, measurement, tags and fields with their types",
    description = "`?item=node&measurement=isems&tag.nodeId=roof` narrows the list; any other query parameter \
                   is refused.",
    operation_id = "list_series",
    params(ListParams),
    responses(
        (status = 200, description = "Every stored series that passes the filters", body = SeriesList),
        (status = 400, description = "A query parameter is unknown, repeated or out of its limits", body = ErrorBody),
        (status = 500, description = "The store could not be read", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<SeriesList>, ApiError> {
    let selection = parse_list_query(&pairs).map_err(ApiError::bad_request)?;
    let mut found = state
        .store
        .series_fields(selection.item.as_deref(), &selection.filter)
        .await
        .map_err(read_failed)?;
    found.sort_by(|a, b| by_names(&a.1, &b.1));
    let series = found
        .into_iter()
        .map(|(_, key, fields)| SeriesInfo {
            item: key.item,
            measurement: key.measurement,
            tags: key.tags,
            fields: fields
                .into_iter()
                .map(|(name, kind)| FieldInfo { name, kind })
                .collect(),
        })
        .collect();
    Ok(Json(SeriesList { series }))
}

#[utoipa::path(
    get,
    path = "/series/data",
    tag = "series",
    summary = "One field of an item's series over time, raw or aggregated in time buckets",
    description = "`?item=load&field=load1&from=now-24h&step=5m&agg=max` answers \
                   `{\"from_ms\": ..., \"to_ms\": ..., \"step_ms\": 300000, \"agg\": \"max\", \"series\": \
                   [{\"item\": \"load\", \"measurement\": \"system\", \"tags\": {}, \"field\": \"load1\", \
                   \"columns\": [\"time\", \"max\"], \"values\": [[1764547200000, 0.42], ...]}]}`: one entry per \
                   series of the item that has the field (a plugin's samples may have several measurements or \
                   tag sets). Without `step` or `points` the values are the stored samples. Times are \
                   milliseconds since the Unix epoch. An answer holds at most 10000 points (over all its \
                   series; buckets count whether empty or not): beyond, a 400 names a step that fits. An item \
                   with nothing stored, or without this field, is a 404 naming what is stored; filters or a \
                   range that match nothing answer an empty `series`.",
    operation_id = "get_series_data",
    params(DataParams),
    responses(
        (status = 200, description = "The field's values in each matching series", body = SeriesData),
        (status = 400, description = "A query parameter is missing, unknown, repeated or out of its limits; `from` \
                                      is after `to`; the answer would hold more than 10000 points; an aggregate \
                                      of a field that is not numeric; or buckets of other than whole minutes \
                                      over raw data that has expired", body = ErrorBody),
        (status = 404, description = "Nothing is stored for this item, or none of its series has this field", body = ErrorBody),
        (status = 500, description = "The store could not be read", body = ErrorBody),
    ),
)]
pub async fn data(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<SeriesData>, ApiError> {
    let q = parse_data_query(&pairs, now_ns() / NS_PER_MS).map_err(ApiError::bad_request)?;
    let item = q.selection.item.as_deref().unwrap_or_default();
    let mut all = state
        .store
        .series_fields(Some(item), &SampleFilter::default())
        .await
        .map_err(read_failed)?;
    if all.is_empty() {
        return Err(ApiError::not_found(format!(
            "nothing is stored for item {}; GET /series lists the stored series",
            shown(item)
        )));
    }
    all.sort_by(|a, b| by_names(&a.1, &b.1));
    let types: BTreeSet<String> = all
        .iter()
        .flat_map(|(_, _, fields)| fields.iter().filter(|(n, _)| *n == q.field).map(|(_, t)| t.clone()))
        .collect();
    if types.is_empty() {
        let names: BTreeSet<&str> = all
            .iter()
            .flat_map(|(_, _, f)| f.iter().map(|(n, _)| n.as_str()))
            .collect();
        let names: Vec<&str> = names.into_iter().collect();
        return Err(ApiError::not_found(format!(
            "item {} has no field {}; its fields: {}",
            shown(item),
            shown(&q.field),
            names.join(", ")
        )));
    }
    let chosen: Vec<(i64, SeriesKey)> = all
        .into_iter()
        .filter(|(_, key, fields)| q.selection.passes(key) && fields.iter().any(|(n, _)| *n == q.field))
        .map(|(id, key, _)| (id, key))
        .collect();
    // Inclusive ns: `to` is the whole of its millisecond.
    let (from_ns, to_ns) = (q.from_ms * NS_PER_MS, q.to_ms * NS_PER_MS + (NS_PER_MS - 1));
    let mut series = Vec::with_capacity(chosen.len());
    match q.resolution {
        Resolution::Raw => {
            let mut budget = MAX_POINTS;
            for (id, key) in chosen.iter() {
                let Some(values) = state
                    .store
                    .field_range(*id, &q.field, from_ns, to_ns, budget)
                    .await
                    .map_err(read_failed)?
                else {
                    let what = format!(
                        "the raw values of {} from {} to {}",
                        shown(&q.field),
                        rfc3339_ms(q.from_ms),
                        rfc3339_ms(q.to_ms)
                    );
                    return Err(too_many_points(what, &q, chosen.len()));
                };
                budget -= values.len();
                let values = values
                    .into_iter()
                    .map(|(ts, v)| (ts.div_euclid(NS_PER_MS), v.to_json()))
                    .collect();
                series.push(answer(key, &q.field, q.field.clone(), values));
            }
        }
        Resolution::Buckets { step_ms, agg } => {
            if !types
                .iter()
                .any(|t| ["float", "integer", "unsigned"].contains(&t.as_str()))
            {
                return Err(ApiError::bad_request(format!(
                    "field {} is {}; aggregates need a numeric field (float, integer, unsigned): leave out step, \
                     points and agg for its raw values",
                    shown(&q.field),
                    types.into_iter().collect::<Vec<_>>().join(" and ")
                )));
            }
            let buckets = bucket_count(q.from_ms, q.to_ms, step_ms).saturating_mul(chosen.len() as i64);
            if buckets > MAX_POINTS as i64 {
                let what = format!(
                    "{buckets} buckets of {} ({} series from {} to {})",
                    step_text(step_ms),
                    chosen.len(),
                    rfc3339_ms(q.from_ms),
                    rfc3339_ms(q.to_ms)
                );
                return Err(too_many_points(what, &q, chosen.len()));
            }
            check_raw_kept(&state, step_ms, q.from_ms)?;
            for (id, key) in chosen.iter() {
                let buckets = state
                    .store
                    .buckets(*id, &q.field, from_ns, to_ns, step_ms * NS_PER_MS)
                    .await
                    .map_err(read_failed)?;
                let values = buckets
                    .iter()
                    .map(|(start, a)| (start.div_euclid(NS_PER_MS), agg.of(a)))
                    .collect();
                series.push(answer(key, &q.field, agg.name(), values));
            }
        }
    }
    let (step_ms, agg) = match q.resolution {
        Resolution::Raw => (None, None),
        Resolution::Buckets { step_ms, agg } => (Some(step_ms), Some(agg)),
    };
    Ok(Json(SeriesData {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        step_ms,
        agg,
        series,
    }))
}

/// Margin on raw retention's cut-off: the store computes it again when it
/// reads, a moment later.
const KEPT_MARGIN_MS: i64 = MINUTE_MS;

/// 400 for buckets other than whole minutes (which need raw data) starting
/// before the raw data the store keeps: the store would refuse them.
fn check_raw_kept(state: &AppState, step_ms: i64, from_ms: i64) -> Result<(), ApiError> {
    if step_ms % MINUTE_MS == 0 {
        return Ok(());
    }
    let start_ms = from_ms.div_euclid(step_ms) * step_ms;
    match state.store.oldest_kept_ns().map(|ns| ns / NS_PER_MS + KEPT_MARGIN_MS) {
        Some(kept_ms) if start_ms < kept_ms => Err(ApiError::bad_request(format!(
            "raw data before {} has expired (store.retention_days), and buckets of {} are made from raw data: \
             use a step of whole minutes (e.g. 1m), which come from the per-minute rollups, or a later from",
            rfc3339_ms(kept_ms),
            step_text(step_ms)
        ))),
        _ => Ok(()),
    }
}

fn answer(key: &SeriesKey, field: &str, column: String, values: Vec<(i64, Value)>) -> SeriesValues {
    SeriesValues {
        item: key.item.clone(),
        measurement: key.measurement.clone(),
        tags: key.tags.clone(),
        field: field.to_string(),
        columns: vec!["time".into(), column],
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

    fn query(q: &str) -> Result<DataQuery, String> {
        let uri: axum::http::Uri = format!("/series/data?{q}").parse().unwrap();
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri).unwrap();
        parse_data_query(&pairs, NOW)
    }

    #[test]
    fn the_data_query_reads_every_parameter_and_fills_in_the_defaults() {
        let q = query("item=load&field=load1").unwrap();
        assert_eq!((q.from_ms, q.to_ms), (NOW - HOUR_MS, NOW), "the last hour");
        assert_eq!(q.resolution, Resolution::Raw);
        assert_eq!(q.selection.item.as_deref(), Some("load"));
        assert_eq!(q.field, "load1");

        let q = query(
            "item=n&field=f&measurement=isems&tag.nodeId=roof&from=2025-11-30T00:00:00Z&to=now-1h&step=5m&agg=max",
        )
        .unwrap();
        assert_eq!(q.selection.filter.measurement.as_deref(), Some("isems"));
        assert_eq!(q.selection.filter.tags["nodeId"], "roof");
        assert_eq!((q.from_ms, q.to_ms), (NOW - DAY_MS, NOW - HOUR_MS));
        assert_eq!(
            q.resolution,
            Resolution::Buckets {
                step_ms: 5 * MINUTE_MS,
                agg: Agg::Max
            }
        );
        // Epoch ms, `now`, an hour before `to` without from; a step in seconds, mean by default.
        let q = query("item=n&field=f&to=1700000000000&step=90").unwrap();
        assert_eq!((q.from_ms, q.to_ms), (1_700_000_000_000 - HOUR_MS, 1_700_000_000_000));
        assert_eq!(
            q.resolution,
            Resolution::Buckets {
                step_ms: 90 * SECOND_MS,
                agg: Agg::Mean
            }
        );
        assert_eq!(query("item=n&field=f&from=now").unwrap().from_ms, NOW);
        assert_eq!(query("item=n&field=f&from=now-7d").unwrap().from_ms, NOW - 7 * DAY_MS);
        assert_eq!(query("item=n&field=f&from=now-250ms").unwrap().from_ms, NOW - 250);
        // Beyond 1700..2200: those bounds.
        assert_eq!(
            query("item=n&field=f&from=0001-01-01T00:00:00Z").unwrap().from_ms,
            MIN_TIME_MS
        );
        assert_eq!(
            query("item=n&field=f&from=-9223372036854775808").unwrap().from_ms,
            MIN_TIME_MS
        );
        assert_eq!(
            query("item=n&field=f&from=now-999999999999w").unwrap().from_ms,
            MIN_TIME_MS
        );
        // points: the smallest nice step with at most that many buckets.
        let q = query("item=n&field=f&from=now-24h&points=300").unwrap();
        assert_eq!(
            q.resolution,
            Resolution::Buckets {
                step_ms: 5 * MINUTE_MS,
                agg: Agg::Mean
            },
            "24 h / 300 = 4.8 min: 5 min, 289 buckets"
        );
        let q = query("item=n&field=f&from=now-7d&points=1000&agg=last").unwrap();
        assert_eq!(
            q.resolution,
            Resolution::Buckets {
                step_ms: 15 * MINUTE_MS,
                agg: Agg::Last
            }
        );
    }

    #[test]
    fn the_data_query_refuses_what_it_cannot_apply() {
        let cases = [
            ("field=f", "item is required"),
            ("item=n", "field is required"),
            ("item=n&field=f&form=1", "unknown query parameter \"form\""),
            (
                "item=n&field=f&nodeId=roof",
                "takes item, field, measurement, tag.<name>, from, to",
            ),
            ("item=n&item=m&field=f", "given twice"),
            ("item=&field=f", "1 to 128"),
            ("item=n&field=", "1 to 256"),
            ("item=n&field=f&from=yesterday", "RFC 3339"),
            ("item=n&field=f&from=now-1y", "now-<duration>"),
            ("item=n&field=f&to=1.5", "milliseconds since the Unix epoch"),
            ("item=n&field=f&from=now-1h&to=now-2h", "is after to"),
            ("item=n&field=f&from=now%2B1h", "RFC 3339"),
            ("item=n&field=f&step=0s", "step must be a duration"),
            ("item=n&field=f&step=1000s", "1 to 999"),
            ("item=n&field=f&step=1y", "step must be"),
            ("item=n&field=f&step=-1m", "step must be"),
            ("item=n&field=f&step=1m&points=10", "not both"),
            ("item=n&field=f&points=0", "from 1 to 10000"),
            ("item=n&field=f&points=10001", "from 1 to 10000"),
            (
                "item=n&field=f&agg=median&step=1m",
                "agg must be one of mean, min, max, sum, count",
            ),
            ("item=n&field=f&agg=mean", "add step="),
            ("item=n&field=f&measurement=", "1 to 256"),
            ("item=n&field=f&tag.=x", "a name of 1 to 128"),
        ];
        for (q, expected) in cases {
            let error = query(q).unwrap_err();
            assert!(error.contains(expected), "{q}: {error}");
        }
        let long = "x".repeat(5000);
        for q in [
            format!("item=n&field=f&{long}=1"),
            format!("item=n&field=f&from={long}"),
        ] {
            assert!(
                query(&q).unwrap_err().len() < 300,
                "the message echoes the oversized value"
            );
        }
    }

    #[test]
    fn the_step_pattern_is_what_the_parser_takes() {
        for (text, ms) in [
            ("1ms", 1),
            ("999ms", 999),
            ("10s", 10_000),
            ("1m", MINUTE_MS),
            ("2h", 2 * HOUR_MS),
        ] {
            assert_eq!(parse_step(text), Ok(ms), "{text}");
        }
        assert_eq!(parse_step("999w"), Ok(999 * WEEK_MS));
        assert_eq!(parse_step("99999999"), Ok(99_999_999 * SECOND_MS));
        for text in ["", "0", "01m", "1000m", "1M", "1 m", "1.5m", "999999999", "m"] {
            assert!(parse_step(text).is_err(), "{text}");
        }
        // The largest step, aligned at either end of the time range, stays in an i64 of ns.
        let step_ns = 999 * WEEK_MS * NS_PER_MS;
        assert!((MIN_TIME_MS * NS_PER_MS).checked_sub(step_ns).is_some());
        assert!((MAX_TIME_MS * NS_PER_MS + NS_PER_MS).checked_add(step_ns).is_some());
    }

    #[test]
    fn buckets_are_counted_as_aligned_to_the_epoch_and_steps_suggested() {
        assert_eq!(bucket_count(0, 59_999, MINUTE_MS), 1);
        assert_eq!(bucket_count(59_999, 60_000, MINUTE_MS), 2);
        assert_eq!(bucket_count(-1, 0, MINUTE_MS), 2);
        assert_eq!(bucket_count(0, 7 * DAY_MS - 1, MINUTE_MS), 10_080);
        assert_eq!(step_for(0, 7 * DAY_MS - 1, MAX_POINTS), 2 * MINUTE_MS);
        assert_eq!(step_for(0, 0, 1), 1);
        assert_eq!(step_for(MIN_TIME_MS, MAX_TIME_MS, 1), 999 * WEEK_MS, "the largest");
        assert_eq!(step_text(2 * MINUTE_MS), "2m");
        assert_eq!(step_text(90 * SECOND_MS), "90s");
        assert_eq!(step_text(1500), "1500ms");
        assert_eq!(step_text(WEEK_MS), "1w");
    }

    #[test]
    fn aggregates_of_a_bucket() {
        let mut a = Aggregate::of(10, 2.0);
        for (ts, v) in [
            (20, 4.0),
            (30, 4.0),
            (40, 4.0),
            (50, 5.0),
            (60, 5.0),
            (70, 7.0),
            (80, 9.0),
        ] {
            a.merge(&Aggregate::of(ts, v));
        }
        let values: Vec<(String, Value)> = Agg::ALL.iter().map(|g| (g.name(), g.of(&a))).collect();
        let expected = [
            ("mean", json!(5.0)),
            ("min", json!(2.0)),
            ("max", json!(9.0)),
            ("sum", json!(40.0)),
            ("count", json!(8)),
            ("first", json!(2.0)),
            ("last", json!(9.0)),
            ("stddev", json!((32.0f64 / 7.0).sqrt())),
            ("spread", json!(7.0)),
        ];
        for ((name, got), (want_name, want)) in values.iter().zip(expected) {
            assert_eq!(name, want_name);
            let (got, want) = (got.as_f64().unwrap(), want.as_f64().unwrap());
            assert!((got - want).abs() < 1e-12, "{name}: {got} != {want}");
        }
        assert!(values[4].1.is_u64(), "count is an integer");
        assert_eq!(
            Agg::Stddev.of(&Aggregate::of(1, 3.0)),
            Value::Null,
            "one value has no sample stddev"
        );
    }

    #[test]
    fn the_list_query_takes_filters_only() {
        let uri: axum::http::Uri = "/series?item=n&measurement=m&tag.a=b".parse().unwrap();
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri).unwrap();
        let s = parse_list_query(&pairs).unwrap();
        assert_eq!(s.item.as_deref(), Some("n"));
        assert_eq!(s.filter.measurement.as_deref(), Some("m"));
        let bad = [("field", "f"), ("item", ""), ("step", "1m")].map(|(k, v)| vec![(k.to_string(), v.to_string())]);
        for pairs in bad {
            assert!(parse_list_query(&pairs).is_err(), "{pairs:?}");
        }
    }
}
