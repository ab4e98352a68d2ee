//! `/items/`: list, show, add, change and delete poll items, and read an item's
//! stored samples. Every change is applied to the scheduler and written to the
//! config file under one lock, so the file always matches what runs.

use super::{ApiError, AppState};
use crate::sample::rfc3339_ns;
use crate::sources::items::{item_fields, parse_item, ItemSpec};
use crate::sources::poll::ItemHandle;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Fields `PUT` may change.
const UPDATABLE: [&str; 4] = ["interval", "arg", "tags", "enabled"];
const MAX_SAMPLES_LIMIT: usize = 10_000;

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(Value::Array(state.scheduler.list().iter().map(|h| view(h)).collect()))
}

pub async fn show(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let handle = state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    Ok(Json(view(&handle)))
}

pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        return Err(ApiError::unprocessable(format!(
            "an item named \"{}\" already exists; choose another name or PUT /items/{} to change it",
            spec.name, spec.name
        )));
    }
    check_item(&state, &spec)?;
    let handle = state.scheduler.add(spec).map_err(ApiError::unprocessable)?;
    if let Err(e) = file.save_items(&state.scheduler.specs()) {
        state.scheduler.remove(&handle.spec.name).await;
        return Err(save_failed(e));
    }
    tracing::info!(item = %handle.spec.name, key = %handle.spec.key, "item added over REST");
    Ok((StatusCode::CREATED, Json(view(&handle))))
}

pub async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = parse_body(&body)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    let mut file = state.config_file.lock().await;
    let old = state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    let mut spec = old.spec.clone();
    apply_changes(&mut spec, obj).map_err(ApiError::bad_request)?;
    if spec.key != old.spec.key || spec.arg != old.spec.arg {
        check_item(&state, &spec)?;
    }
    let previous = old.spec.clone();
    let handle = state.scheduler.replace(spec).await.ok_or_else(|| not_found(&name))?;
    if let Err(e) = file.save_items(&state.scheduler.specs()) {
        state.scheduler.replace(previous).await;
        return Err(save_failed(e));
    }
    tracing::info!(item = %name, "item changed over REST");
    Ok(Json(view(&handle)))
}

pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let mut file = state.config_file.lock().await;
    let old = state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    state.scheduler.remove(&name).await;
    if let Err(e) = file.save_items(&state.scheduler.specs()) {
        let _ = state.scheduler.add(old.spec.clone());
        return Err(save_failed(e));
    }
    tracing::info!(item = %name, "item deleted over REST");
    Ok(Json(json!({ "result": true })))
}

#[derive(serde::Deserialize)]
pub struct SamplesQuery {
    limit: Option<String>,
}

pub async fn samples(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<SamplesQuery>,
) -> Result<Json<Value>, ApiError> {
    state.scheduler.get(&name).ok_or_else(|| not_found(&name))?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_SAMPLES_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit must be a whole number from 1 to {MAX_SAMPLES_LIMIT}, got {s:?}"
                ))
            })?,
    };
    let samples = state
        .store
        .recent(&name, limit)
        .await
        .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))?;
    Ok(Json(Value::Array(samples.iter().map(|s| s.to_json()).collect())))
}

/// The JSON form of an item, as `GET /items/` shows it.
fn view(handle: &ItemHandle) -> Value {
    let spec = &handle.spec;
    let status = handle.status();
    json!({
        "name": spec.name,
        "key": spec.key,
        "arg": spec.arg,
        "interval": spec.interval,
        "enabled": spec.enabled,
        "tags": spec.tags,
        "last_value": status.last_sample.as_ref().map_or(Value::Null, |s| s.primary_value()),
        "last_sample": status.last_sample.as_ref().map(|s| s.to_json()),
        "last_error": status.last_error.as_ref().map(|e| &e.message),
        "last_error_kind": status.last_error.as_ref().map(|e| e.kind),
        "next_poll_time": status.next_poll_ns.filter(|_| spec.enabled).map(rfc3339_ns),
        "url": format!("/items/{}", percent_encode(&spec.name)),
        "stats": {
            "polls": status.polls,
            "errors": status.errors,
            "skipped_ticks": status.skipped_ticks,
        },
    })
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

/// 422 unless a loaded plugin serves the key (listing the keys that exist)
/// and the item has the arg its key requires.
fn check_item(state: &AppState, spec: &ItemSpec) -> Result<(), ApiError> {
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
