//! `GET /sources`, `GET /sources/{name}`: the push sources (`"sources"` in
//! the config) and their counters. Their samples are read like an item's:
//! `/series?item=NAME`, `/query`.

use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::sources::push::{PushSource, SourceStats};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One push source: how samples arrive, and what became of them.
#[derive(Serialize, ToSchema)]
#[schema(as = Source)]
pub struct SourceView {
    /// The store's item for its samples.
    name: String,
    /// How samples arrive: `write` (InfluxDB line protocol over HTTP), `mqtt` or `ingest` (`POST /ingest/{name}`).
    transport: &'static str,
    /// What reads its payloads (`mqtt`, `ingest`): `line-protocol` or a plugin's decoder.
    decoder: Option<String>,
    /// Where clients send them, e.g. `POST /write?db=lan` and `POST /api/v2/write?bucket=lan`,
    /// or the broker and topic filters it subscribes to.
    endpoints: Vec<String>,
    /// Added to points that lack a tag of the same key.
    tags: BTreeMap<String, String>,
    stats: SourceStats,
}

fn view(source: &PushSource) -> SourceView {
    let spec = &source.spec;
    let mut endpoints = Vec::new();
    if let Some(w) = &spec.write {
        let db = w.database.as_deref().unwrap_or(&spec.name);
        let q = url::form_urlencoded::byte_serialize(db.as_bytes()).collect::<String>();
        endpoints.push(format!("POST /write?db={q}"));
        endpoints.push(format!("POST /api/v2/write?bucket={q}"));
    }
    if spec.ingest.is_some() {
        let path: String = url::form_urlencoded::byte_serialize(spec.name.as_bytes()).collect();
        endpoints.push(format!("POST /ingest/{path}"));
    }
    if let Some(m) = &spec.mqtt {
        endpoints.extend(m.topics.iter().map(|t| format!("{} {t}", m.url)));
    }
    SourceView {
        name: spec.name.clone(),
        transport: spec.transport(),
        decoder: spec.decoder.clone(),
        endpoints,
        tags: spec.tags.clone(),
        stats: source.stats(),
    }
}

#[utoipa::path(
    get,
    path = "/sources",
    tag = "sources",
    summary = "The push sources and their counters",
    operation_id = "list_sources",
    responses((status = 200, description = "Every configured source", body = [SourceView])),
)]
pub async fn list(State(state): State<AppState>) -> Json<Vec<SourceView>> {
    Json(state.sources.list().iter().map(|s| view(s)).collect())
}

#[utoipa::path(
    get,
    path = "/sources/{name}",
    tag = "sources",
    summary = "One push source and its counters",
    operation_id = "show_source",
    params(("name" = String, Path, description = "The source's name")),
    responses(
        (status = 200, description = "The source", body = SourceView),
        (status = 404, description = "No source of this name", body = ErrorBody),
    ),
)]
pub async fn show(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<SourceView>, ApiError> {
    state
        .sources
        .get(&name)
        .map(|s| Json(view(s)))
        .ok_or_else(|| no_source(&name))
}

/// A payload no decoder could read, as kept aside.
#[derive(Serialize, ToSchema)]
#[schema(as = RejectedPayload)]
pub struct RejectedView {
    /// The MQTT topic or the HTTP path it came on.
    topic: String,
    /// Why it was not read (or only in part).
    reason: String,
    /// When it was received (RFC 3339 UTC).
    #[schema(schema_with = super::openapi::timestamp)]
    received: String,
    /// The payload as text when it is UTF-8, else base64 (`encoding`); only its
    /// first 64 KiB are kept.
    payload: String,
    /// `text` or `base64`.
    encoding: &'static str,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RejectedParams {
    /// How many, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/sources/{name}/rejected",
    tag = "sources",
    summary = "Payloads of a source that no decoder could read",
    description = "The newest 1000 per source are kept in the store, each with its reason; newest first.",
    operation_id = "source_rejected",
    params(("name" = String, Path, description = "The source's name"), RejectedParams),
    responses(
        (status = 200, description = "The kept payloads", body = [RejectedView]),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No source of this name", body = ErrorBody),
    ),
)]
pub async fn rejected(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<RejectedParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<RejectedView>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit {limit} is out of range; use 1 to 1000"
        )));
    }
    if state.sources.get(&name).is_none() {
        return Err(no_source(&name));
    }
    let kept = state.store.rejected_payloads(&name, limit).await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("the store cannot be read now: {e:#}"),
        )
    })?;
    Ok(Json(
        kept.into_iter()
            .map(|r| {
                let (payload, encoding) = match String::from_utf8(r.payload) {
                    Ok(text) => (text, "text"),
                    Err(e) => {
                        use base64::Engine;
                        (
                            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
                            "base64",
                        )
                    }
                };
                RejectedView {
                    topic: r.topic,
                    reason: r.reason,
                    received: crate::sample::rfc3339_ns(r.at_ns),
                    payload,
                    encoding,
                }
            })
            .collect(),
    ))
}

fn no_source(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no source named {name:?}; GET /sources lists them (sources are configured under \"sources\")"
    ))
}
