//! `POST /write` (InfluxDB 1.x) and `POST /api/v2/write` (InfluxDB 2.x):
//! line protocol from InfluxDB clients, Telegraf and scripts, into the push
//! source that receives the named database (`"sources"` with `"write"`).
//!
//! As InfluxDB: 204 when every point is in; a body with bad lines keeps the
//! good ones and answers 400 "partial write" naming the first bad line (also
//! in `X-Influxdb-Error`); 413 over the source's size limit; 404 for a database
//! no source receives. Unlike InfluxDB, 204 means *committed* (the store has
//! them on disk), a re-sent point of the same series and time keeps the first
//! value instead of merging, and an unknown `precision` is refused rather
//! than read as nanoseconds.

use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::sources::line_protocol::{self, Precision};
use crate::sources::push::{CommitError, PushSource};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_ENCODING, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Bodies larger than this are parsed on the blocking pool, so a 25 MB write
/// does not hold up the runtime thread other requests share.
const PARSE_INLINE_BYTES: usize = 256 << 10;
/// How long a client should wait before re-sending when the store cannot be written.
pub(super) const RETRY_AFTER_S: &str = "10";

/// `POST /write`'s parameters (InfluxDB 1.x).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WriteV1Params {
    /// The database: the `"write": {"database"}` of a source, by default its name.
    // Required; `Option` so that its absence gets InfluxDB's own message.
    #[param(min_length = 1, required = true)]
    db: Option<String>,
    /// The retention policy: accepted and ignored (the store has one).
    #[allow(dead_code)]
    rp: Option<String>,
    /// The unit of the timestamps: `ns` (default), `u`, `ms`, `s`, `m`, `h`.
    #[param(schema_with = precision_v1)]
    precision: Option<String>,
    /// Accepted and ignored (one node: every write is `all`).
    #[allow(dead_code)]
    consistency: Option<String>,
    /// User name (any) for `p`, as InfluxDB 1 clients send credentials.
    #[allow(dead_code)]
    u: Option<String>,
    /// The API token, when `write` needs it (`api.without_token`).
    #[allow(dead_code)]
    p: Option<String>,
}

/// `POST /api/v2/write`'s parameters (InfluxDB 2.x).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WriteV2Params {
    /// Accepted and ignored (the logger has one organisation).
    #[allow(dead_code)]
    org: Option<String>,
    #[allow(dead_code)]
    #[param(rename = "orgID")]
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    /// The source's database; `db/rp` (InfluxDB's 1.x compatibility form) is read as `db`.
    #[param(min_length = 1, required = true)]
    bucket: Option<String>,
    /// The unit of the timestamps: `ns` (default), `us`, `ms`, `s`.
    #[param(schema_with = precision_v2)]
    precision: Option<String>,
}

/// The spellings `Precision::parse_v1` accepts, for the document.
fn precision_v1() -> utoipa::openapi::Object {
    precision_schema(&[
        "ns", "n", "u", "us", "\u{b5}", "\u{b5}s", "\u{3bc}", "\u{3bc}s", "ms", "s", "m", "h",
    ])
}

/// The spellings `Precision::parse_v2` accepts.
fn precision_v2() -> utoipa::openapi::Object {
    precision_schema(&["ns", "us", "ms", "s"])
}

fn precision_schema(spellings: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(spellings.iter().copied()))
        .build()
}

/// InfluxDB 2's error shape, with this API's `error` beside it.
#[derive(Serialize, ToSchema)]
#[schema(as = WriteV2Error)]
pub struct V2ErrorBody {
    /// What went wrong and what to change.
    error: String,
    /// InfluxDB 2's error code: `invalid`, `not found`, `request too large`, `unavailable`.
    code: &'static str,
    /// The same as `error` (InfluxDB 2 clients read this one).
    message: String,
}

#[utoipa::path(
    post,
    path = "/write",
    tag = "influxdb",
    summary = "Write line protocol (InfluxDB 1.x write API)",
    description = "Points in line protocol, e.g. `weather,site=roof temperature=21.5,humidity=40i 1700000000000000000`; \
        `Content-Encoding: gzip` allowed. Stored under the source that receives `db` and forwarded like polled samples. \
        204 means committed to the store. A point whose series and time are already stored is kept as first stored.",
    operation_id = "write_v1",
    params(WriteV1Params),
    request_body(content = String, content_type = "text/plain", description = "Line protocol, one point per line"),
    responses(
        (status = 204, description = "Every point is committed"),
        (status = 400, description = "`db` missing, a bad `precision`, or bad lines (\"partial write\": the good ones are committed)", body = ErrorBody),
        (status = 404, description = "No source receives this database", body = ErrorBody),
        (status = 413, description = "The body (after gzip) is larger than the source's `max_body_bytes`", body = ErrorBody),
        (status = 415, description = "A `Content-Encoding` other than gzip", body = ErrorBody),
        (status = 503, description = "The store cannot be written now (e.g. a full disk): nothing committed, send again later", body = ErrorBody),
    ),
)]
pub async fn write_v1(
    State(state): State<AppState>,
    params: Result<Query<WriteV1Params>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let Query(params) = params.map_err(|e| WriteError::invalid(e.body_text()))?;
        let precision = match params.precision.as_deref() {
            None => Precision::Ns,
            Some(p) => Precision::parse_v1(p).ok_or_else(|| {
                WriteError::invalid(format!(
                    "precision {p:?} is not one of ns, u, ms, s, m, h; timestamps would be misread"
                ))
            })?,
        };
        let db = params.db.as_deref().filter(|d| !d.is_empty()).ok_or_else(|| {
            WriteError::invalid(
                "database is required: add ?db=NAME, the database a source in \"sources\" receives".to_string(),
            )
        })?;
        let source = find_source(&state, db)?;
        ingest(&state, &source, &headers, body, precision).await
    }
    .await;
    answer(result, Generation::V1)
}

#[utoipa::path(
    post,
    path = "/api/v2/write",
    tag = "influxdb",
    summary = "Write line protocol (InfluxDB 2.x write API)",
    description = "As `POST /write`, for InfluxDB 2 clients: `bucket` names the source's database, \
        `Authorization: Token T` carries the API token. Errors carry InfluxDB 2's `code` and `message` besides `error`.",
    operation_id = "write_v2",
    params(WriteV2Params),
    request_body(content = String, content_type = "text/plain", description = "Line protocol, one point per line"),
    responses(
        (status = 204, description = "Every point is committed"),
        (status = 400, description = "`bucket` missing, a bad `precision`, or bad lines (the good ones are committed)", body = V2ErrorBody),
        (status = 404, description = "No source receives this bucket", body = V2ErrorBody),
        (status = 413, description = "The body (after gzip) is larger than the source's `max_body_bytes`", body = V2ErrorBody),
        (status = 415, description = "A `Content-Encoding` other than gzip", body = V2ErrorBody),
        (status = 503, description = "The store cannot be written now: nothing committed, send again later", body = V2ErrorBody),
    ),
)]
pub async fn write_v2(
    State(state): State<AppState>,
    params: Result<Query<WriteV2Params>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let Query(params) = params.map_err(|e| WriteError::invalid(e.body_text()))?;
        let precision = match params.precision.as_deref() {
            None => Precision::Ns,
            Some(p) => Precision::parse_v2(p)
                .ok_or_else(|| WriteError::invalid(format!("precision {p:?} is not one of ns, us, ms, s")))?,
        };
        let bucket = params.bucket.as_deref().filter(|b| !b.is_empty()).ok_or_else(|| {
            WriteError::invalid(
                "bucket is required: add ?bucket=NAME, the database a source in \"sources\" receives".to_string(),
            )
        })?;
        // `db/rp` is how InfluxDB 2 names a 1.x database and retention policy.
        let db = bucket.split_once('/').map_or(bucket, |(db, _)| db);
        let source = find_source(&state, db)?;
        ingest(&state, &source, &headers, body, precision).await
    }
    .await;
    answer(result, Generation::V2)
}

fn find_source(state: &AppState, db: &str) -> Result<Arc<PushSource>, WriteError> {
    state.sources.for_database(db).cloned().ok_or_else(|| {
        let known = state.sources.databases();
        let hint = match known.is_empty() {
            true => "no source receives writes; add {\"name\": \"...\", \"write\": {}} to \"sources\" in the config"
                .to_string(),
            false => format!(
                "write to one of {}",
                known.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(", ")
            ),
        };
        WriteError {
            status: StatusCode::NOT_FOUND,
            message: format!("database not found: {db:?}; {hint}"),
        }
    })
}

/// Reads, parses and commits one body.
async fn ingest(
    state: &AppState,
    source: &PushSource,
    headers: &HeaderMap,
    body: Body,
    precision: Precision,
) -> Result<(), WriteError> {
    let limit = source
        .spec
        .write
        .as_ref()
        .map_or(crate::sources::push::DEFAULT_MAX_BODY_BYTES, |w| w.max_body_bytes);
    let text = read_body(headers, body, limit).await?;
    let now = crate::sample::now_ns();
    let parsed = match text.len() > PARSE_INLINE_BYTES {
        true => tokio::task::spawn_blocking(move || line_protocol::parse(&text, precision, now))
            .await
            .map_err(|e| WriteError::internal(format!("parsing failed: {e}")))?,
        false => line_protocol::parse(&text, precision, now),
    };
    let first_error = parsed.errors.first().map(|e| e.to_string());
    source.note_received(parsed.error_count, first_error.clone());
    let good = parsed.samples.len();
    let committed = match parsed.samples.is_empty() {
        true => Default::default(),
        false => source.commit(&state.store, parsed.samples).await.map_err(|e| match e {
            CommitError::Held | CommitError::Failed(_) => WriteError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: e.to_string(),
            },
        })?,
    };
    if let Some(first) = first_error {
        // InfluxDB says "partial write" only when some points were written.
        let message = match good == 0 {
            true => match parsed.error_count {
                1 => first,
                n => format!("{first} (and {} more lines that could not be read)", n - 1),
            },
            false => format!(
                "partial write: {first} dropped={}",
                parsed.error_count + committed.too_old
            ),
        };
        return Err(WriteError::invalid(message));
    }
    if committed.too_old > 0 {
        return Err(WriteError::invalid(format!(
            "partial write: points beyond retention policy dropped={} (older than the store keeps; see \"retention_days\" under \"store\")",
            committed.too_old
        )));
    }
    Ok(())
}

/// The body, gzip undone, refused with 413 once it grows past `limit` and
/// with 415 for another encoding.
pub(super) async fn read_body(headers: &HeaderMap, body: Body, limit: u64) -> Result<Vec<u8>, WriteError> {
    let raw = read_limited(body, limit).await?;
    match headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(raw),
        Some(e) if e.is_empty() || e == "identity" => Ok(raw),
        Some(e) if e == "gzip" => gunzip(&raw, limit),
        Some(e) => Err(WriteError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("Content-Encoding {e:?} is not supported; send the body plain or gzip-compressed"),
        }),
    }
}

/// The body, refused with 413 once it grows past `limit` (whatever
/// `Content-Length` said; the rest is read and dropped so the client sees the answer).
async fn read_limited(body: Body, limit: u64) -> Result<Vec<u8>, WriteError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(|e| WriteError::invalid(format!("the body could not be read: {e}")))?;
        if (buf.len() + chunk.len()) as u64 > limit {
            super::drain(stream).await;
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn gunzip(raw: &[u8], limit: u64) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::with_capacity(raw.len() * 4);
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            WriteError::invalid(format!(
                "the body is not valid gzip ({e}); send it plain or gzip-compressed"
            ))
        })?;
    if out.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

fn too_large(limit: u64) -> WriteError {
    WriteError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "request entity too large: the body is larger than {limit} bytes (the source's \"max_body_bytes\"); send fewer points per request"
        ),
    }
}

pub(super) struct WriteError {
    pub(super) status: StatusCode,
    pub(super) message: String,
}

impl WriteError {
    fn invalid(message: String) -> Self {
        WriteError {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    fn internal(message: String) -> Self {
        WriteError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message,
        }
    }
}

#[derive(Clone, Copy)]
enum Generation {
    V1,
    V2,
}

/// 204, or the error in the generation's shape with InfluxDB's headers.
fn answer(result: Result<(), WriteError>, generation: Generation) -> Response {
    let mut response = match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let mut response = match generation {
                Generation::V1 => ApiError::new(e.status, e.message.clone()).into_response(),
                Generation::V2 => {
                    let code = match e.status {
                        StatusCode::NOT_FOUND => "not found",
                        StatusCode::PAYLOAD_TOO_LARGE => "request too large",
                        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                        _ => "invalid",
                    };
                    let body = V2ErrorBody {
                        error: e.message.clone(),
                        code,
                        message: e.message.clone(),
                    };
                    (e.status, Json(body)).into_response()
                }
            };
            let headers = response.headers_mut();
            // InfluxDB repeats the error in a header; clients log it from there.
            let first_line = e.message.lines().next().unwrap_or_default();
            if let Ok(v) = HeaderValue::from_str(&first_line.chars().take(512).collect::<String>()) {
                headers.insert(HeaderName::from_static("x-influxdb-error"), v);
            }
            if e.status == StatusCode::SERVICE_UNAVAILABLE {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
            }
            response
        }
    };
    response.headers_mut().insert(
        HeaderName::from_static("x-influxdb-version"),
        HeaderValue::from_static(super::query::INFLUXDB_VERSION),
    );
    response
}
