//! `POST /ingest/{source}`: a payload in any format a decoder reads (JSON,
//! CSV, ...), for a source with `"ingest": {}` and a `"decoder"`. The
//! decoder (built in or a plugin's, `sources/decode.rs`) turns it into points,
//! which are committed before the answer: 204 means stored.
//!
//! A payload the decoder refuses is kept aside with the reason (as an MQTT
//! message would be, `GET /sources/{name}/rejected`) and answered 400; the
//! points a decoder did read are committed even then. A decoder that cannot
//! run now (its plugin not loaded) and a store that cannot be written are
//! answered 503 with `Retry-After`: nothing was taken, send it again.

use super::openapi::ErrorBody;
use super::write::{read_body, WriteError, RETRY_AFTER_S};
use super::{ApiError, AppState};
use crate::sources::decode::{self, Decoder, Payload};
use crate::sources::push::PushSource;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[utoipa::path(
    post,
    path = "/ingest/{source}",
    tag = "sources",
    summary = "Push a payload for a source's decoder",
    description = "The body is read by the source's `decoder` (e.g. `isems.csvlog`, or `line-protocol`) into points, \
        stored under the source and forwarded like polled samples. `Content-Encoding: gzip` allowed. \
        204 means committed to the store. A payload the decoder refuses is kept aside (`GET /sources/{name}/rejected`).",
    operation_id = "ingest",
    params(("source" = String, Path, description = "A source with `\"ingest\": {}` in the config")),
    request_body(content = String, content_type = "application/octet-stream", description = "The payload, in the decoder's format"),
    responses(
        (status = 204, description = "Every point the payload held is committed"),
        (status = 400, description = "The decoder could not read (all or part of) the payload; what it read is committed", body = ErrorBody),
        (status = 404, description = "No source of this name receives `/ingest`", body = ErrorBody),
        (status = 413, description = "The body (after gzip) is larger than the source's `max_body_bytes`", body = ErrorBody),
        (status = 415, description = "A `Content-Encoding` other than gzip", body = ErrorBody),
        (status = 503, description = "The decoder's plugin is not loaded or the store cannot be written: nothing taken, send again later", body = ErrorBody),
    ),
)]
pub async fn ingest(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&state, &name, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(e),
    }
}

fn find_source(state: &AppState, name: &str) -> Result<(Arc<PushSource>, u64, Decoder), WriteError> {
    let source = state.sources.get(name).cloned();
    let found = source.and_then(|s| {
        let limit = s.spec.ingest.as_ref()?.max_body_bytes as u64;
        let decoder = Decoder::of(&s.spec)?;
        Some((s, limit, decoder))
    });
    found.ok_or_else(|| {
        let mut known: Vec<&str> = state
            .sources
            .list()
            .iter()
            .filter(|s| s.spec.ingest.is_some())
            .map(|s| s.spec.name.as_str())
            .collect();
        known.sort_unstable();
        let hint = match known.is_empty() {
            true => "no source receives /ingest; add {\"name\": \"...\", \"ingest\": {}, \"decoder\": \"...\"} to \"sources\" in the config".to_string(),
            false => format!("post to /ingest/ one of {}", known.join(", ")),
        };
        WriteError {
            status: StatusCode::NOT_FOUND,
            message: format!("no source {name:?} receives /ingest; {hint}"),
        }
    })
}

/// The answer to a refused payload; a 503 says when to try again.
pub(super) fn error_response(e: WriteError) -> Response {
    let mut response = ApiError::new(e.status, e.message).into_response();
    if e.status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
    }
    response
}

async fn receive(state: &AppState, name: &str, headers: &HeaderMap, body: Body) -> Result<(), WriteError> {
    let (source, limit, decoder) = find_source(state, name)?;
    let bytes = read_body(headers, body, limit).await?;
    take(state, name, source, decoder, bytes).await
}

/// A payload already read, for the source `name` (the IoT compat's
/// `/devicedata` posts through this): decoded, committed, or refused.
pub(super) async fn ingest_bytes(state: &AppState, name: &str, bytes: Vec<u8>) -> Result<(), WriteError> {
    let (source, _, decoder) = find_source(state, name)?;
    take(state, name, source, decoder, bytes).await
}

async fn take(
    state: &AppState,
    name: &str,
    source: Arc<PushSource>,
    decoder: Decoder,
    bytes: Vec<u8>,
) -> Result<(), WriteError> {
    let received_ns = crate::sample::now_ns();
    let topic = format!("/ingest/{name}");
    let registry = state.registry.clone();
    let (source_name, topic_for_decoder, decoder_name) = (name.to_string(), topic.clone(), decoder.clone());
    let (decoded, bytes) = tokio::task::spawn_blocking(move || {
        let payload = Payload {
            source: &source_name,
            transport: "http",
            topic: &topic_for_decoder,
            received_ns,
            bytes: &bytes,
        };
        let decoded = decode::decode(&registry, &decoder_name, &payload);
        (decoded, bytes)
    })
    .await
    .map_err(|e| unavailable(format!("the decoder could not run: {e}")))?;
    let mut decoded = decoded.map_err(|e| unavailable(format!("{e}; nothing was taken, send it again later")))?;
    if let Some(tag) = &source.spec.topic_tag {
        for s in &mut decoded.samples {
            s.tags.entry(tag.clone()).or_insert_with(|| topic.clone());
        }
    }
    source.note_received(decoded.rejected, decoded.problem.clone());
    let read = decoded.samples.len();
    let mut too_old = 0;
    if read > 0 {
        too_old = source
            .commit(&state.store, decoded.samples)
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .too_old;
    }
    match decoded.problem {
        None if too_old > 0 => Err(WriteError {
            status: StatusCode::BAD_REQUEST,
            message: format!(
                "{too_old} of {read} points are older than the store keeps and were dropped (see \"retention_days\" under \"store\"); the others are stored"
            ),
        }),
        None => Ok(()),
        Some(problem) => {
            source.set_aside(&state.store, &topic, &problem, &bytes).await;
            let kept = match read {
                0 => "nothing was stored".to_string(),
                n => format!("the {n} points it did read are stored"),
            };
            Err(WriteError {
                status: StatusCode::BAD_REQUEST,
                message: format!(
                    "{problem}; {kept}, and the payload is kept aside (GET /sources/{name}/rejected)"
                ),
            })
        }
    }
}

fn unavailable(message: String) -> WriteError {
    WriteError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message,
    }
}
