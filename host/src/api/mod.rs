//! The REST API (axum), compatible with the rpdemo logger's `/items/`.
//! One file per resource; errors are always `{"error": "..."}` with a message
//! that says what to change.

mod health;
mod items;
mod plugins;

use crate::config::ConfigFile;
use crate::plugins::Registry;
use crate::scheduler::Scheduler;
use crate::store::Store;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub scheduler: Arc<Scheduler>,
    pub registry: Arc<Registry>,
    pub store: Store,
    /// Serialises every change, so concurrent requests never lose an update
    /// and the file is written by one request at a time.
    pub config_file: Arc<tokio::sync::Mutex<ConfigFile>>,
    pub started: std::time::Instant,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/items", get(items::list).post(items::create))
        .route("/items/", get(items::list).post(items::create))
        .route(
            "/items/{name}",
            get(items::show).put(items::update).delete(items::delete),
        )
        .route("/items/{name}/samples", get(items::samples))
        .route("/plugins", get(plugins::list))
        .route("/health", get(health::show))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see README.md for the API") })
        .with_state(state)
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
