//! The REST API (axum), compatible with the rpdemo logger's `/items/`.
//! One file per resource; errors are always `{"error": "..."}` with a message
//! that says what to change.

pub mod auth;
mod health;
mod items;
mod outputs;
mod plugins;

use crate::config::ConfigFile;
use crate::plugins::Registry;
use crate::sinks::OutputHandle;
use crate::sources::poll::Scheduler;
use crate::store::Store;
use axum::extract::Request;
use axum::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub scheduler: Arc<Scheduler>,
    pub registry: Arc<Registry>,
    pub store: Store,
    pub outputs: Arc<Vec<Arc<OutputHandle>>>,
    /// Serialises every change, so concurrent requests never lose an update
    /// and the file is written by one request at a time.
    pub config_file: Arc<tokio::sync::Mutex<ConfigFile>>,
    pub started: std::time::Instant,
    /// Token, origins and host names: checked before any handler (`auth`).
    pub guard: Arc<auth::Guard>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/items",
            get(items::list).post(items::create).fallback(wrong_method("GET, POST")),
        )
        .route(
            "/items/",
            get(items::list).post(items::create).fallback(wrong_method("GET, POST")),
        )
        .route(
            "/items/{name}",
            get(items::show)
                .put(items::update)
                .delete(items::delete)
                .fallback(wrong_method("GET, PUT, DELETE")),
        )
        .route(
            "/items/{name}/samples",
            get(items::samples).fallback(wrong_method("GET")),
        )
        .route("/plugins", get(plugins::list).fallback(wrong_method("GET")))
        .route("/plugins/reload", post(plugins::reload).fallback(wrong_method("POST")))
        .route("/outputs", get(outputs::list).fallback(wrong_method("GET")))
        .route("/health", get(health::show).fallback(wrong_method("GET")))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see README.md for the API") })
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(state.guard.clone(), auth::guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES as usize))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .with_state(state)
}

/// The 405 answer for a route, naming the methods it has.
fn wrong_method(
    allowed: &'static str,
) -> impl Fn(Method, Uri) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |method: Method, uri: Uri| {
        let message = format!("{method} is not allowed on {}; use {allowed}", uri.path());
        let mut response = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message).into_response();
        response
            .headers_mut()
            .insert(ALLOW, axum::http::HeaderValue::from_static(allowed));
        std::future::ready(response)
    }
}

/// Largest request body: the `Bytes` extractor's limit (`DefaultBodyLimit`) and
/// `refuse_oversized`'s threshold, one number for both.
const MAX_BODY_BYTES: u64 = 2 << 20;
/// How much of an oversized body is read and thrown away before the 413.
const DRAIN_BYTES: usize = 64 << 20;

/// Answers 413 to a body declared larger than `MAX_BODY_BYTES`, after reading
/// (and discarding) it: a server that answers and closes while the client is
/// still sending resets the connection, and the client never sees the answer.
async fn refuse_oversized(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_none_or(|n| n <= MAX_BODY_BYTES) {
        return next.run(req).await;
    }
    use futures::StreamExt;
    let mut body = req.into_body().into_data_stream();
    let mut read = 0;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len();
        if read > DRAIN_BYTES {
            break;
        }
    }
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, too_large_message()).into_response()
}

/// The 413 message, whichever layer noticed the size.
fn too_large_message() -> String {
    format!("the request body is larger than {MAX_BODY_BYTES} bytes; an item is a small JSON object")
}

/// Makes every error answer JSON, including those axum produces itself before a
/// handler runs (wrong method, undecodable path or query, body too large).
async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => too_large_message(),
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let mut fixed = Json(serde_json::json!({ "error": message })).into_response();
    *fixed.status_mut() = status;
    fixed.headers_mut().extend(parts.headers);
    fixed
}

/// An error answer: a status and a message for the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}
