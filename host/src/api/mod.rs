//! The REST API (axum), compatible with the rpdemo logger's `/items/`.
//! One file per resource; errors are always `{"error": "..."}` with a message
//! that says what to change.

pub mod auth;
mod compat;
mod health;
mod ingest;
mod items;
pub mod openapi;
mod outputs;
mod ping;
mod plugins;
mod query;
mod series;
mod sources;
mod store;
mod summary;
pub mod ui;
mod write;

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
use axum::{Json, Router};
use std::sync::Arc;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

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
    /// How `/query` answers.
    pub query: Arc<crate::influxql::QuerySettings>,
    /// The push sources (`"sources"`): where `/write` puts points.
    pub sources: Arc<crate::sources::push::PushSources>,
    /// Which old tools' read APIs are on (`"compat"`).
    pub compat: Arc<crate::compat::CompatSettings>,
}

pub fn router(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see GET /openapi.json") })
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(state.guard.clone(), auth::guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES as usize))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .with_state(state)
}

/// Every route, each with its OpenAPI description: the router and the
/// document (`openapi::document`) are both built from this list, so neither
/// can have a route the other lacks. One `resource` per path.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        // rpdemo clients use both `/items` and `/items/`.
        .routes(resource(also_without_slash(routes!(items::list, items::create))))
        .routes(resource(routes!(items::show, items::update, items::delete)))
        .routes(resource(routes!(items::samples)))
        .routes(resource(routes!(plugins::list)))
        .routes(resource(routes!(plugins::reload)))
        .routes(resource(routes!(outputs::list)))
        .routes(resource(routes!(query::get, query::post)))
        .routes(resource(routes!(store::show)))
        .routes(resource(routes!(store::compact)))
        .routes(resource(routes!(series::list)))
        .routes(resource(routes!(series::data)))
        .routes(resource(routes!(write::write_v1)))
        .routes(resource(routes!(write::write_v2)))
        .routes(resource(routes!(sources::list)))
        .routes(resource(routes!(sources::show)))
        .routes(resource(routes!(sources::rejected)))
        .routes(resource(routes!(ingest::ingest)))
        .routes(resource(routes!(compat::isems_latest)))
        .routes(resource(routes!(compat::isems_latest_api)))
        .routes(resource(routes!(compat::isems_node_latest)))
        .routes(resource(routes!(compat::isems_node_latest_api)))
        .routes(resource(routes!(compat::iot_devicedata)))
        .routes(resource(routes!(compat::iot_dashboard)))
        .routes(resource(routes!(compat::iot_histogram)))
        .routes(resource(routes!(summary::top)))
        .routes(resource(routes!(summary::histogram)))
        .routes(resource(routes!(ping::get, ping::head)))
        .routes(resource(routes!(health::show)))
        .routes(resource(routes!(openapi::show)))
        .routes(resource(routes!(ui::page)))
        .routes(resource(routes!(ui::file)))
}

/// One path's handlers, answering other methods with a JSON 405 whose `Allow`
/// lists the methods the document gives the path.
fn resource(route: UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let mut allowed: Vec<String> = route.1.paths.values().map(openapi::allowed_methods).collect();
    allowed.dedup();
    assert_eq!(allowed.len(), 1, "resource() takes the handlers of one path");
    let allowed = allowed.remove(0);
    route.map(|methods| methods.fallback(wrong_method(allowed)))
}

/// The same handlers under the path without its trailing slash, documented as
/// operations of their own (operation ids must be unique).
fn also_without_slash(mut route: UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let aliases: Vec<_> = route
        .1
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let bare = path.strip_suffix('/').filter(|p| !p.is_empty())?;
            let mut item = item.clone();
            for op in [&mut item.get, &mut item.post, &mut item.put, &mut item.delete]
                .into_iter()
                .flatten()
            {
                op.operation_id = op.operation_id.take().map(|id| format!("{id}_without_slash"));
            }
            Some((bare.to_string(), item))
        })
        .collect();
    route.1.paths.extend(aliases);
    route
}

/// The 405 answer for a route, naming the methods it has.
fn wrong_method(
    allowed: String,
) -> impl Fn(Method, Uri) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |method: Method, uri: Uri| {
        let message = format!("{method} is not allowed on {}; use {allowed}", uri.path());
        let mut response = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message).into_response();
        if let Ok(value) = axum::http::HeaderValue::from_str(&allowed) {
            response.headers_mut().insert(ALLOW, value);
        }
        std::future::ready(response)
    }
}

/// The name serde gives a unit variant, e.g. `not_granted`, for the enums
/// the document lists.
fn serde_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
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
    // The write endpoints take larger bodies and apply their source's limit.
    let own_limit = crate::access::route_group(req.method(), req.uri().path()) == crate::access::RouteGroup::Write;
    if own_limit || declared.is_none_or(|n| n <= MAX_BODY_BYTES) {
        return next.run(req).await;
    }
    drain(req.into_body().into_data_stream()).await;
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, too_large_message()).into_response()
}

/// Reads (and drops) up to `DRAIN_BYTES` more of a body that will be refused.
pub(crate) async fn drain(mut body: axum::body::BodyDataStream) {
    use futures::StreamExt;
    let mut read = 0;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len();
        if read > DRAIN_BYTES {
            break;
        }
    }
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

    /// The request clashes with what exists (an item name that is taken).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
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
