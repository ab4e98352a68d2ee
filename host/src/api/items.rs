//! `/items/`: list, show, add, change and delete poll items, and read an item's
//! stored samples. Every change is applied to the scheduler and written to the
//! config file under one lock, so the file always matches what runs.

use super::openapi::{self, ErrorBody};
use super::{ApiError, AppState};
use crate::sample::{rfc3339_ns, Sample};
use crate::sources::items::{item_fields, limits, parse_item, ItemSpec};
use crate::sources::poll::{ItemErrorKind, ItemHandle};
use crate::store::SampleFilter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::{RefOr, Required};
use utoipa::{IntoParams, ToSchema};

/// Fields `PUT` may change.
const UPDATABLE: [&str; 4] = ["interval", "arg", "tags", "enabled"];
pub(super) const MAX_SAMPLES_LIMIT: usize = 10_000;

/// An item as the API shows it: its spec, then what sampling did last.
#[derive(Serialize, ToSchema)]
#[schema(as = Item)]
pub struct ItemView {
    name: String,
    key: String,
    arg: Option<String>,
    /// Seconds between samples.
    interval: u64,
    enabled: bool,
    #[schema(schema_with = openapi::shown_tags)]
    tags: BTreeMap<String, String>,
    /// The last stored sample's first field, or `null`.
    #[schema(schema_with = openapi::any_value)]
    last_value: Value,
    /// The newest sample the store holds from this item's polls.
    last_sample: Option<SampleView>,
    /// True when the newest sample of the last poll had the series and
    /// timestamp of one already stored: the store kept the first and ignored
    /// it, so `last_sample` shows the stored one, not the re-sent value.
    /// (A device log re-read every poll shows true.)
    newest_was_duplicate: bool,
    /// Why the last poll produced nothing, or `null`.
    last_error: Option<String>,
    #[schema(schema_with = last_error_kind)]
    last_error_kind: Option<ItemErrorKind>,
    /// When the next poll is due; `null` while disabled.
    #[schema(schema_with = openapi::timestamp_or_null)]
    next_poll_time: Option<String>,
    /// This item's URL, absolute as rpdemo gave it (from the request's
    /// `Host`), e.g. `http://pi.local:5000/items/load1`; a path when the
    /// request had no usable `Host`.
    url: String,
    stats: ItemStats,
}

#[derive(Serialize, ToSchema)]
pub struct ItemStats {
    polls: u64,
    errors: u64,
    skipped_ticks: u64,
    /// Samples not stored because the store already had their series and
    /// timestamp (a re-read log, a device re-sending a reading).
    duplicates: u64,
    /// Samples not stored because they are older than the store keeps
    /// (`store.retention_days`; 0 keeps everything).
    refused_too_old: u64,
}

/// One stored sample.
#[derive(Serialize, ToSchema)]
#[schema(as = Sample)]
pub struct SampleView {
    measurement: String,
    #[schema(schema_with = openapi::shown_tags)]
    tags: BTreeMap<String, String>,
    /// In the plugin's order; the first is the item's `last_value`.
    #[schema(schema_with = openapi::field_values)]
    fields: Map<String, Value>,
    #[schema(schema_with = openapi::timestamp)]
    timestamp: String,
}

impl From<&Sample> for SampleView {
    fn from(s: &Sample) -> Self {
        SampleView {
            measurement: s.measurement.clone(),
            tags: s.tags.clone(),
            fields: s.fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            timestamp: rfc3339_ns(s.timestamp_ns),
        }
    }
}

/// A new item (the body of `POST /items/`). Documentation only: the body is
/// read by `parse_item`, shared with the config file, for its messages.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = NewItem)]
#[allow(dead_code)]
pub struct NewItem {
    #[schema(schema_with = openapi::item_name)]
    name: String,
    #[schema(schema_with = openapi::item_key)]
    key: String,
    #[schema(schema_with = openapi::item_interval)]
    interval: u64,
    #[schema(schema_with = openapi::item_arg)]
    arg: Option<String>,
    #[schema(schema_with = openapi::item_tags)]
    tags: Option<BTreeMap<String, String>>,
    /// Default true.
    #[schema(value_type = bool, required = false)]
    enabled: Option<bool>,
}

/// The fields `PUT /items/{name}` changes; those left out keep their value.
/// Documentation only, like `NewItem`. (`name` may be repeated unchanged:
/// an item cannot be renamed.)
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = ItemChanges)]
#[allow(dead_code)]
pub struct ItemChanges {
    #[schema(schema_with = openapi::item_key)]
    key: Option<String>,
    #[schema(schema_with = openapi::item_interval)]
    interval: Option<u64>,
    #[schema(schema_with = openapi::item_arg)]
    arg: Option<String>,
    #[schema(schema_with = openapi::item_tags)]
    tags: Option<BTreeMap<String, String>>,
    #[schema(value_type = bool, required = false)]
    enabled: Option<bool>,
}

/// The answer to a `DELETE`.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// Always true.
    result: bool,
}

#[utoipa::path(
    get,
    path = "/items/",
    tag = "items",
    summary = "Every item",
    operation_id = "list_items",
    responses((status = 200, description = "All items", body = [ItemView])),
)]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Json<Vec<ItemView>> {
    let base = base_url(&headers);
    Json(state.scheduler.list().iter().map(|h| view(h, &base)).collect())
}

#[utoipa::path(
    get,
    path = "/items/{name}",
    tag = "items",
    summary = "One item",
    operation_id = "get_item",
    params(("name" = String, Path, description = "The item's name", max_length = 128)),
    responses(
        (status = 200, description = "The item", body = ItemView),
        (status = 404, description = "No item has this name", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<ItemView>, ApiError> {
    let handle = state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    Ok(Json(view(&handle, &base_url(&headers))))
}

#[utoipa::path(
    post,
    path = "/items/",
    tag = "items",
    summary = "Add an item; it samples at once",
    operation_id = "create_item",
    request_body(content = NewItem, content_type = "application/json"),
    responses(
        (status = 201, description = "Added and written to the config file", body = ItemView),
        (status = 400, description = "Not JSON, not an object, a field missing, unknown or out of its limits", body = ErrorBody),
        (status = 409, description = "An item of this name exists", body = ErrorBody),
        (status = 422, description = "No loaded plugin serves the key, or the key needs an arg", body = ErrorBody),
        (status = 500, description = "The config file could not be written; nothing changed", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ItemView>), ApiError> {
    let body = parse_body(&body)?;
    let parsed = parse_item(&body).map_err(ApiError::bad_request)?;
    if !parsed.unknown.is_empty() {
        return Err(unknown_fields(
            &parsed.unknown,
            "name, key, interval, arg, tags, enabled",
        ));
    }
    let spec = parsed.spec;
    let mut file = state.config_file.lock().await;
    if state.scheduler.get(&spec.name).is_some() {
        return Err(ApiError::conflict(format!(
            "an item named \"{}\" already exists; choose another name or PUT /items/{} to change it",
            spec.name, spec.name
        )));
    }
    if state.sources.has_name(&spec.name) {
        return Err(ApiError::conflict(format!(
            "a source (\"sources\" in the config) is named \"{}\"; items and sources share names, choose another",
            spec.name
        )));
    }
    check_item(&state, &spec).await?;
    // Fails only for a name taken meanwhile.
    let handle = state.scheduler.add(spec).map_err(ApiError::conflict)?;
    if let Err(e) = file.save_items(&state.scheduler.specs()) {
        state.scheduler.remove(&handle.spec.name).await;
        return Err(save_failed(e));
    }
    tracing::info!(item = %handle.spec.name, key = %handle.spec.key, "item added over REST");
    Ok((StatusCode::CREATED, Json(view(&handle, &base_url(&headers)))))
}

#[utoipa::path(
    put,
    path = "/items/{name}",
    tag = "items",
    summary = "Change an item",
    operation_id = "update_item",
    params(("name" = String, Path, description = "The item's name", max_length = 128)),
    request_body(content = ItemChanges, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed and written to the config file", body = ItemView),
        (status = 400, description = "Not JSON, not an object, a rename, or a field unknown or out of its limits", body = ErrorBody),
        (status = 404, description = "No item has this name", body = ErrorBody),
        (status = 422, description = "No loaded plugin serves the key, or the key needs an arg", body = ErrorBody),
        (status = 500, description = "The config file could not be written; nothing changed", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ItemView>, ApiError> {
    let body = parse_body(&body)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    let mut file = state.config_file.lock().await;
    let old = state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    let mut spec = old.spec.clone();
    apply_changes(&mut spec, obj).map_err(ApiError::bad_request)?;
    if spec.key != old.spec.key || spec.arg != old.spec.arg {
        check_item(&state, &spec).await?;
    }
    let previous = old.spec.clone();
    let handle = state.scheduler.replace(spec).await.ok_or_else(|| not_found(&name))?;
    if let Err(e) = file.save_items(&state.scheduler.specs()) {
        state.scheduler.replace(previous).await;
        return Err(save_failed(e));
    }
    tracing::info!(item = %name, "item changed over REST");
    Ok(Json(view(&handle, &base_url(&headers))))
}

#[utoipa::path(
    delete,
    path = "/items/{name}",
    tag = "items",
    summary = "Delete an item; it stores nothing after the answer",
    operation_id = "delete_item",
    params(("name" = String, Path, description = "The item's name", max_length = 128)),
    responses(
        (status = 200, description = "Deleted and written to the config file", body = Deleted),
        (status = 404, description = "No item has this name", body = ErrorBody),
        (status = 500, description = "The config file could not be written; nothing changed", body = ErrorBody),
    ),
)]
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Deleted>, ApiError> {
    let mut file = state.config_file.lock().await;
    let old = state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    state.scheduler.remove(&name).await;
    if let Err(e) = file.save_items(&state.scheduler.specs()) {
        let _ = state.scheduler.add(old.spec.clone());
        return Err(save_failed(e));
    }
    tracing::info!(item = %name, "item deleted over REST");
    Ok(Json(Deleted { result: true }))
}

/// The query parameters `GET /items/{name}/samples` takes, as its errors name them.
const SAMPLES_PARAMS: &str = "limit, from, to, measurement and tag.<name>";
/// Longest `measurement` filter, in characters.
pub(super) const MAX_MEASUREMENT: usize = 256;
/// The prefix of a tag filter: `tag.room=lab`.
pub(super) const TAG_PREFIX: &str = "tag.";

/// `GET /items/{name}/samples`'s query: which samples, how many.
#[derive(Debug, PartialEq)]
struct SamplesQuery {
    filter: SampleFilter,
    limit: usize,
}

/// Reads the query, refusing parameters it does not know (a typo such as
/// `form=` would otherwise return every sample as if it had been applied),
/// repeated ones, and values out of their limits.
fn parse_samples_query(pairs: &[(String, String)]) -> Result<SamplesQuery, String> {
    let mut query = SamplesQuery {
        filter: SampleFilter::default(),
        limit: 100,
    };
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in pairs {
        if !seen.insert(key.as_str()) {
            return Err(format!("{} is given twice; give each parameter once", shown(key)));
        }
        let filter = &mut query.filter;
        match key.as_str() {
            "limit" => query.limit = parse_limit(value)?,
            "from" => filter.from_ns = Some(parse_time("from", value)?),
            "to" => filter.to_ns = Some(parse_time("to", value)?),
            "measurement" => filter.measurement = Some(measurement_filter(value)?),
            _ => {
                let Some(tag) = key.strip_prefix(TAG_PREFIX) else {
                    return Err(format!(
                        "unknown query parameter {}; GET /items/{{name}}/samples takes {SAMPLES_PARAMS} (e.g. ?tag.room=lab)",
                        shown(key)
                    ));
                };
                add_tag_filter(filter, key, tag, value)?;
            }
        }
    }
    if let (Some(from), Some(to)) = (query.filter.from_ns, query.filter.to_ns) {
        if from > to {
            return Err(format!(
                "from ({}) is after to ({}); both bounds are inclusive, so from must be at or before to",
                rfc3339_ns(from),
                rfc3339_ns(to)
            ));
        }
    }
    Ok(query)
}

/// A `measurement=` filter, checked.
pub(super) fn measurement_filter(value: &str) -> Result<String, String> {
    let n = value.chars().count();
    if n == 0 || n > MAX_MEASUREMENT {
        return Err(format!(
            "measurement must be 1 to {MAX_MEASUREMENT} characters, a measurement name such as \"isems\"; got {n}"
        ));
    }
    Ok(value.to_string())
}

/// Adds the filter `tag.<tag>=<value>` (`key` as the client wrote it, for
/// messages), refusing names and values no item's tags could have.
pub(super) fn add_tag_filter(filter: &mut SampleFilter, key: &str, tag: &str, value: &str) -> Result<(), String> {
    let n = tag.chars().count();
    if n == 0 || n > limits::TAG_KEY {
        return Err(format!(
            "a tag filter is tag.<name>=<value> with a name of 1 to {} characters, e.g. tag.room=lab; got a name of {n}",
            limits::TAG_KEY
        ));
    }
    if tag.chars().any(char::is_control) {
        return Err(format!(
            "the tag name in {} contains a control character; tag names are plain text",
            shown(key)
        ));
    }
    let n = value.chars().count();
    if n > limits::TAG_VALUE {
        return Err(format!(
            "the value of {} is {n} characters long; at most {} are allowed",
            shown(key),
            limits::TAG_VALUE
        ));
    }
    filter.tags.insert(tag.to_string(), value.to_string());
    if filter.tags.len() > limits::TAGS {
        return Err(format!("at most {} tag filters are allowed", limits::TAGS));
    }
    Ok(())
}

fn parse_limit(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_SAMPLES_LIMIT).contains(n))
        .ok_or_else(|| {
            format!(
                "limit must be a whole number from 1 to {MAX_SAMPLES_LIMIT}, got {}",
                shown(s)
            )
        })
}

/// `from`/`to`: whole nanoseconds since the Unix epoch, or an RFC 3339 time.
/// A time beyond what nanoseconds in an i64 reach (before 1677, after 2262)
/// is the end of that range: no sample lies beyond it.
fn parse_time(what: &str, s: &str) -> Result<i64, String> {
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    let time = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| {
        format!(
            "{what} must be an RFC 3339 time such as 2026-12-01T10:00:00Z or whole nanoseconds since the Unix epoch, got {}",
            shown(s)
        )
    })?;
    Ok(time
        .timestamp_nanos_opt()
        .unwrap_or(if time.timestamp() < 0 { i64::MIN } else { i64::MAX }))
}

/// A value from the request, quoted and cut short for an error message.
pub(super) fn shown(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        None => format!("{s:?}"),
        Some((end, _)) => format!("{:?}...", &s[..end]),
    }
}

/// The document's parameters for `SamplesQuery`, written by hand: the tag
/// filters are an object of `tag.<name>` keys (`style: form, explode: true`,
/// so each is a parameter of its own on the wire), which the derive cannot say.
pub struct SamplesParams;

impl IntoParams for SamplesParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let param = |name: &str, description: &str, schema: RefOr<Schema>| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        // RFC 3339 or an integer: one of two schemas.
        let time = |name: &str, description: &str| {
            let either = OneOfBuilder::new()
                .item(openapi::timestamp())
                .item(openapi::ns_since_epoch());
            param(name, description, Schema::OneOf(either.build()).into())
        };
        let mut tags = param(
            "tag",
            "Tag filters, one parameter each: `tag.<name>=<value>`, e.g. `tag.room=lab`; a sample must \
             have every tag given, with exactly that value.",
            Schema::Object(openapi::tag_filters(TAG_PREFIX)).into(),
        );
        tags.style = Some(ParameterStyle::Form);
        tags.explode = Some(true);
        vec![
            param(
                "limit",
                "How many samples, newest first (default 100).",
                Schema::Object(openapi::integer_between(1, MAX_SAMPLES_LIMIT as i64)).into(),
            ),
            time(
                "from",
                "The oldest time to return, inclusive: an RFC 3339 time (e.g. `2026-12-01T10:00:00Z`) or \
                 whole nanoseconds since the Unix epoch. At or before `to`.",
            ),
            time(
                "to",
                "The newest time to return, inclusive: an RFC 3339 time or whole nanoseconds since the \
                 Unix epoch.",
            ),
            param(
                "measurement",
                "Only samples of this measurement (e.g. `isems`, not `isems_poll`).",
                Schema::Object(openapi::measurement(MAX_MEASUREMENT)).into(),
            ),
            tags,
        ]
    }
}

#[utoipa::path(
    get,
    path = "/items/{name}/samples",
    tag = "items",
    summary = "An item's stored samples, newest first",
    description = "Filters combine: `?from=2026-12-01T00:00:00Z&measurement=isems&tag.nodeId=n1&limit=500`. \
                   Any other query parameter is refused.",
    operation_id = "get_item_samples",
    params(("name" = String, Path, description = "The item's name", max_length = 128), SamplesParams),
    responses(
        (status = 200, description = "The samples that pass every filter, newest first", body = [SampleView]),
        (status = 400, description = "A query parameter is unknown, repeated or out of its limits, or `from` is after `to`", body = ErrorBody),
        (status = 404, description = "No item has this name", body = ErrorBody),
        (status = 500, description = "The store could not be read", body = ErrorBody),
    ),
)]
pub async fn samples(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<SampleView>>, ApiError> {
    state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    let query = parse_samples_query(&pairs).map_err(ApiError::bad_request)?;
    let samples = state
        .store
        .recent(&name, &query.filter, query.limit)
        .await
        .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))?;
    Ok(Json(samples.iter().map(SampleView::from).collect()))
}

/// `http://HOST` from the request's `Host` header (what rpdemo's Flask
/// `url_for(_external=True)` used), or "" when there is none or it is not a
/// plain `host[:port]` — a reflected header is never trusted as markup.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    match host {
        Some(h)
            if h.parse::<axum::http::uri::Authority>()
                .is_ok_and(|a| a.as_str() == h && !h.contains('@')) =>
        {
            format!("http://{h}")
        }
        _ => String::new(),
    }
}

/// The JSON form of an item, as `GET /items/` shows it.
fn view(handle: &ItemHandle, base_url: &str) -> ItemView {
    let spec = &handle.spec;
    let status = handle.status();
    ItemView {
        name: spec.name.clone(),
        key: spec.key.clone(),
        arg: spec.arg.clone(),
        interval: spec.interval,
        enabled: spec.enabled,
        tags: spec.tags.clone(),
        last_value: status.last_sample.as_ref().map_or(Value::Null, |s| s.primary_value()),
        last_sample: status.last_sample.as_ref().map(SampleView::from),
        newest_was_duplicate: status.newest_was_duplicate,
        last_error: status.last_error.as_ref().map(|e| e.message.clone()),
        last_error_kind: status.last_error.as_ref().map(|e| e.kind),
        next_poll_time: status.next_poll_ns.filter(|_| spec.enabled).map(rfc3339_ns),
        url: format!("{base_url}/items/{}", percent_encode(&spec.name)),
        stats: ItemStats {
            polls: status.polls,
            errors: status.errors,
            skipped_ticks: status.skipped_ticks,
            duplicates: status.duplicates,
            refused_too_old: status.refused_too_old,
        },
    }
}

/// Every `last_error_kind` the code has, as the document lists them.
fn last_error_kind() -> utoipa::openapi::schema::Object {
    let kinds: Vec<String> = every_error_kind().iter().map(super::serde_name).collect();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    openapi::one_of(&kinds, true)
}

/// Every `ItemErrorKind`; the match fails to compile when a kind is added
/// and not listed, so the document cannot miss one.
fn every_error_kind() -> Vec<ItemErrorKind> {
    use crate::plugins::CallErrorKind as C;
    use crate::sources::poll::OtherKind as O;
    let calls = [
        C::BadArgument,
        C::Unavailable,
        C::Timeout,
        C::Failed,
        C::Deadline,
        C::OutOfMemory,
        C::Trap,
        C::ResultTooLarge,
        C::InvalidResult,
        C::Host,
        C::NotGranted,
    ];
    let others = [O::UnknownKey, O::Store, O::Host];
    let all: Vec<ItemErrorKind> = calls
        .into_iter()
        .map(ItemErrorKind::Call)
        .chain(others.into_iter().map(ItemErrorKind::Other))
        .collect();
    for kind in &all {
        match kind {
            ItemErrorKind::Call(
                C::BadArgument
                | C::Unavailable
                | C::Timeout
                | C::Failed
                | C::Deadline
                | C::OutOfMemory
                | C::Trap
                | C::ResultTooLarge
                | C::InvalidResult
                | C::Host
                | C::NotGranted,
            )
            | ItemErrorKind::Other(O::UnknownKey | O::Store | O::Host) => {}
        }
    }
    all
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON ({e}); send an object such as {{\"name\": \"load1\", \"key\": \"system.loadavg1\", \"interval\": 1}}"
        ))
    })
}

/// Applies a `PUT` body to a spec: only the updatable fields, each checked.
fn apply_changes(spec: &mut ItemSpec, body: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (field, value) in body {
        match field.as_str() {
            "interval" => spec.interval = item_fields::interval(value)?,
            "arg" => spec.arg = item_fields::arg(value)?,
            "tags" => spec.tags = item_fields::tags(value)?,
            "enabled" => spec.enabled = item_fields::enabled(value)?,
            "key" => spec.key = item_fields::key(value)?,
            "name" if value.as_str() == Some(spec.name.as_str()) => {}
            "name" => return Err("an item cannot be renamed; DELETE it and POST it under the new name".into()),
            other => {
                return Err(format!(
                    "unknown field \"{other}\"; PUT may change {} (and key)",
                    UPDATABLE.join(", ")
                ))
            }
        }
    }
    Ok(())
}

/// How long a change waits for a plugin file that is still loading (the API
/// is up before plugins are: a big Python plugin compiles for 10-60 s).
const PLUGIN_LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// 422 unless a loaded plugin serves the key (listing the keys that exist)
/// and the item has the arg its key requires. Waits (bounded) while plugin
/// files are still loading, so a script that
/// starts the logger and adds items at once is not refused.
async fn check_item(state: &AppState, spec: &ItemSpec) -> Result<(), ApiError> {
    let registry = &state.registry;
    let deadline = tokio::time::Instant::now() + PLUGIN_LOAD_WAIT;
    loop {
        // Created before the check, so a load that ends in between is not missed.
        let loaded = registry.loaded();
        // A key nobody serves waits for every load, so its error lists every key.
        if registry.plugin_for_key(&spec.key).is_ok() || registry.loading().is_empty() {
            break;
        }
        if tokio::time::timeout_at(deadline, loaded).await.is_err() {
            break;
        }
    }
    if let Err(e) = state.registry.plugin_for_key(&spec.key) {
        let keys = state.registry.all_keys();
        let available = if keys.is_empty() {
            "none (no plugins are loaded)".to_string()
        } else {
            keys.join(", ")
        };
        return Err(ApiError::unprocessable(format!("{e}; available keys: {available}")));
    }
    state
        .registry
        .check_item(&spec.key, spec.arg.as_deref())
        .map_err(ApiError::unprocessable)
}

fn unknown_fields(fields: &[String], allowed: &str) -> ApiError {
    ApiError::bad_request(format!("unknown field(s) {}; an item has {allowed}", fields.join(", ")))
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("item not found: {name}"))
}

fn save_failed(e: std::io::Error) -> ApiError {
    ApiError::internal(format!("could not save the config file, change undone: {e}"))
}

/// Escapes everything but RFC 3986 unreserved characters for use in a URL path.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Result<SamplesQuery, String> {
        let uri: axum::http::Uri = format!("/items/x/samples?{q}").parse().unwrap();
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri).unwrap();
        parse_samples_query(&pairs)
    }

    #[test]
    fn the_samples_query_reads_every_filter() {
        let q =
            query("limit=5&from=2023-11-14T22:13:20Z&to=1700000001000000000&measurement=isems&tag.room=lab&tag.a.b=")
                .unwrap();
        assert_eq!(q.limit, 5);
        assert_eq!(q.filter.from_ns, Some(1_700_000_000_000_000_000));
        assert_eq!(q.filter.to_ns, Some(1_700_000_001_000_000_000));
        assert_eq!(q.filter.measurement.as_deref(), Some("isems"));
        assert_eq!(
            q.filter.tags,
            BTreeMap::from([("room".into(), "lab".into()), ("a.b".into(), String::new())])
        );
        assert_eq!(
            query("").unwrap(),
            SamplesQuery {
                filter: SampleFilter::default(),
                limit: 100
            }
        );
        // Other offsets, and times beyond what i64 nanoseconds reach, which hold every sample.
        assert_eq!(
            query("from=2023-11-14T23:13:20%2B01:00").unwrap().filter.from_ns,
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            query("from=0001-01-01T00:00:00Z").unwrap().filter.from_ns,
            Some(i64::MIN)
        );
        assert_eq!(query("to=9999-12-31T23:59:59Z").unwrap().filter.to_ns, Some(i64::MAX));
        assert!(query("from=5&to=5").is_ok(), "equal bounds: one instant");
    }

    #[test]
    fn the_samples_query_refuses_what_it_cannot_apply() {
        let cases = [
            ("form=5", "unknown query parameter \"form\""),
            ("room=lab", "takes limit, from, to, measurement and tag.<name>"),
            ("limit=1&limit=2", "given twice"),
            ("tag.room=a&tag.room=b", "given twice"),
            ("limit=0", "from 1 to 10000"),
            ("from=yesterday", "RFC 3339"),
            ("to=99999999999999999999", "nanoseconds since the Unix epoch"),
            ("from=6&to=5", "from (1970-01-01T00:00:00.000000006Z) is after to"),
            ("measurement=", "1 to 256"),
            ("tag.=x", "a name of 1 to 128"),
            ("tag.a%00b=x", "control character"),
        ];
        for (q, expected) in cases {
            let error = query(q).unwrap_err();
            assert!(error.contains(expected), "{q}: {error}");
        }
        let long = "x".repeat(5000);
        for q in [format!("{long}=1"), format!("from={long}"), format!("tag.{long}=1")] {
            let error = query(&q).unwrap_err();
            assert!(error.len() < 200, "the message echoes the oversized value: {error}");
        }
        let too_many: Vec<String> = (0..=limits::TAGS).map(|i| format!("tag.t{i}=v")).collect();
        assert!(query(&too_many.join("&")).unwrap_err().contains("at most 32"));
    }
}
