//! The old tools' read routes (`compat/`): the ISEMS collector's
//! `/measurements/latest` and `/measurements/{nodeId}/latest`, also under
//! `/api/` (where the isems-app's nginx proxies them), answered with
//! `Access-Control-Allow-Origin: *` as the original deployment did. A route
//! whose compat is off answers 404 saying how to turn it on. The IoT
//! collector's `POST /devicedata`, `GET /dashboard` and
//! `GET /devices/{deviceId}/histogram` likewise.

use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::compat::{iot, isems};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// `{"measurements": [...]}`: the original collector's rows, newest first.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the answer, which compat::isems writes itself
pub struct IsemsMeasurements {
    measurements: Vec<IsemsRow>,
}

/// One measurement row, with every column of the original's table. Numbers
/// are JSON floats; a column the stored line lacked is `null`.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct IsemsRow {
    /// Stable for a node and time, below 2^53.
    id: u64,
    nodeId: String,
    /// Wall time in the configured zone (Europe/Berlin by default), no offset
    /// unless `"offset": true`: `2018-06-30T15:16:15`.
    timestamp: String,
    isemsRevision: Option<String>,
    openMPPTFirmwareVersion: Option<String>,
    isPowerSaveMode: Option<bool>,
    timeToShutdown: Option<f64>,
    openCircuitVoltage: Option<f64>,
    mppVoltage: Option<f64>,
    batteryVoltage: Option<f64>,
    batteryChargeEstimate: Option<f64>,
    batteryHealthEstimate: Option<f64>,
    batteryTemperature: Option<f64>,
    lowVoltageDisconnectVoltage: Option<f64>,
    temperatureCorrectedVoltage: Option<f64>,
    rateBatteryCapacity: Option<f64>,
    ratedSolarModuleCapacity: Option<f64>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// The 12-bit status as `0x%03x`, `0x000` when the line had none.
    status: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestQuery {
    /// `true` (exactly) includes nodes silent for longer than
    /// `hide_inactive_after_days`; any other value does not, as in the original.
    all: Option<String>,
}

/// Answers with the CORS header, errors included, so the app can read why.
fn any_origin(result: Result<String, ApiError>) -> Response {
    let mut response = match result {
        Ok(body) => ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn isems_settings(state: &AppState) -> Result<&isems::IsemsSettings, ApiError> {
    state.compat.isems.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "the ISEMS collector's routes are off; add \"compat\": {\"isems\": {}} to the config to serve them",
        )
    })
}

async fn latest(state: AppState, query: LatestQuery) -> Response {
    let result = async {
        let settings = isems_settings(&state)?;
        let all = query.all.as_deref() == Some("true");
        isems::latest(&state.store, settings, all, crate::sample::now_ns())
            .await
            .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))
    };
    any_origin(result.await)
}

async fn node_latest(state: AppState, node: String) -> Response {
    let result = async {
        let settings = isems_settings(&state)?;
        isems::node_latest(&state.store, settings, &node)
            .await
            .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))
    };
    any_origin(result.await)
}

#[utoipa::path(
    get,
    path = "/measurements/latest",
    tag = "compat",
    summary = "ISEMS: the newest measurement of every active node",
    description = "As the ISEMS collector answered it (compact, keys sorted). Nodes whose newest row is older than `hide_inactive_after_days` (30) are left out unless `all=true`. Needs `\"compat\": {\"isems\": {}}`.",
    operation_id = "isems_latest",
    params(LatestQuery),
    responses(
        (status = 200, description = "One row per node, by node id", body = IsemsMeasurements),
        (status = 404, description = "The ISEMS compat is off", body = ErrorBody),
    ),
)]
pub async fn isems_latest(State(state): State<AppState>, Query(query): Query<LatestQuery>) -> Response {
    latest(state, query).await
}

#[utoipa::path(
    get,
    path = "/api/measurements/latest",
    tag = "compat",
    summary = "ISEMS: /measurements/latest under the isems-app's /api/ prefix",
    operation_id = "isems_latest_api",
    params(LatestQuery),
    responses(
        (status = 200, description = "One row per node, by node id", body = IsemsMeasurements),
        (status = 404, description = "The ISEMS compat is off", body = ErrorBody),
    ),
)]
pub async fn isems_latest_api(State(state): State<AppState>, Query(query): Query<LatestQuery>) -> Response {
    latest(state, query).await
}

#[utoipa::path(
    get,
    path = "/measurements/{nodeId}/latest",
    tag = "compat",
    summary = "ISEMS: a node's newest 1440 measurements, newest first",
    description = "An unknown node has an empty list. Rows of the node polled over HTTP and received over MQTT are merged: one row per time.",
    operation_id = "isems_node_latest",
    params(("nodeId" = String, Path, description = "The node's id (field 1 of its lines)")),
    responses(
        (status = 200, description = "The node's rows", body = IsemsMeasurements),
        (status = 404, description = "The ISEMS compat is off", body = ErrorBody),
    ),
)]
pub async fn isems_node_latest(State(state): State<AppState>, Path(node): Path<String>) -> Response {
    node_latest(state, node).await
}

#[utoipa::path(
    get,
    path = "/api/measurements/{nodeId}/latest",
    tag = "compat",
    summary = "ISEMS: /measurements/{nodeId}/latest under the /api/ prefix",
    operation_id = "isems_node_latest_api",
    params(("nodeId" = String, Path, description = "The node's id (field 1 of its lines)")),
    responses(
        (status = 200, description = "The node's rows", body = IsemsMeasurements),
        (status = 404, description = "The ISEMS compat is off", body = ErrorBody),
    ),
)]
pub async fn isems_node_latest_api(State(state): State<AppState>, Path(node): Path<String>) -> Response {
    node_latest(state, node).await
}

fn iot_settings(state: &AppState) -> Result<&iot::IotSettings, ApiError> {
    state.compat.iot.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "the IoT collector's routes are off; add \"compat\": {\"iot\": {}} to the config to serve them",
        )
    })
}

fn json_answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

#[utoipa::path(
    post,
    path = "/devicedata",
    tag = "compat",
    summary = "IoT: a device's reading, stored before the answer",
    description = "As the IoT collector's route: the body `{\"deviceId\", \"timestamp\" (naive ISO 8601, in the compat's zone), \"status\" (ON, OFF, ACTIVE or INACTIVE), \"pressure\", \"temperature\"}` is stored through the compat's ingest source, and the five keys are echoed as sent. A reading already stored (same device and timestamp) keeps the first and is answered the same. Needs `\"compat\": {\"iot\": {}}`.",
    operation_id = "iot_devicedata",
    request_body(content = IotReading, content_type = "application/json", description = "One reading"),
    responses(
        (status = 200, description = "Committed; the reading echoed", body = IotReading),
        (status = 400, description = "Not a reading: what to change", body = ErrorBody),
        (status = 404, description = "The IoT compat is off", body = ErrorBody),
        (status = 503, description = "The store cannot be written now: nothing taken, send it again later", body = ErrorBody),
    ),
)]
pub async fn iot_devicedata(State(state): State<AppState>, body: Bytes) -> Response {
    let settings = match iot_settings(&state) {
        Ok(s) => s.clone(),
        Err(e) => return e.into_response(),
    };
    let echo = match iot::check_reading(&body) {
        Ok(echo) => echo,
        Err(e) => return ApiError::bad_request(e).into_response(),
    };
    match super::ingest::ingest_bytes(&state, &settings.source, body.to_vec()).await {
        Ok(()) => json_answer(StatusCode::OK, echo),
        Err(e) => super::ingest::error_response(e),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// Comma-separated features: `pressure`, `temperature` (default both).
    #[param(pattern = "^(pressure|temperature)(,(pressure|temperature))*$")]
    features: Option<String>,
    /// `all_time` (default), `past_minute` or `past_hour`.
    #[param(pattern = "^(all_time|past_minute|past_hour)$")]
    interval: Option<String>,
}

/// One reading, as the IoT collector's devices send it (and get it back).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)] // documents the body, which compat::iot reads itself
pub struct IotReading {
    #[schema(min_length = 1)]
    deviceId: String,
    /// The device's naive local time, ISO 8601 (an offset is taken as written).
    #[schema(
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?$",
        example = "2026-11-22T10:15:00.123456"
    )]
    timestamp: String,
    #[schema(pattern = "^(ON|OFF|ACTIVE|INACTIVE)$")]
    status: String,
    pressure: f64,
    temperature: f64,
}

#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "compat",
    summary = "IoT: per feature the top devices by their highest reading",
    description = "`{\"pressure\": [reading, ...], ...}`: the top `top_devices` (10) distinct devices by their highest value in the interval, highest first (ties by device id), each the reading at that maximum. Needs `\"compat\": {\"iot\": {}}`.",
    operation_id = "iot_dashboard",
    params(DashboardQuery),
    responses(
        (status = 200, description = "Readings by feature", body = Object),
        (status = 400, description = "An unknown feature or interval, naming the allowed ones", body = ErrorBody),
        (status = 404, description = "The IoT compat is off", body = ErrorBody),
    ),
)]
pub async fn iot_dashboard(
    State(state): State<AppState>,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, ApiError> {
    let settings = iot_settings(&state)?;
    let features = iot::features(query.features.as_deref()).map_err(ApiError::bad_request)?;
    let from_ns = iot::window(query.interval.as_deref().unwrap_or("all_time"), crate::sample::now_ns())
        .map_err(ApiError::bad_request)?;
    let body = iot::dashboard(&state.store, settings, &features, from_ns)
        .await
        .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))?;
    Ok(json_answer(StatusCode::OK, body))
}

#[utoipa::path(
    get,
    path = "/devices/{deviceId}/histogram",
    tag = "compat",
    summary = "IoT: a device's readings counted per status",
    description = "`{\"device_3\": {\"ON\": 12, \"OFF\": 3}}`; statuses the device never sent are left out. Needs `\"compat\": {\"iot\": {}}`.",
    operation_id = "iot_histogram",
    params(("deviceId" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "Counts per status", body = Object),
        (status = 404, description = "The IoT compat is off", body = ErrorBody),
    ),
)]
pub async fn iot_histogram(State(state): State<AppState>, Path(device): Path<String>) -> Result<Response, ApiError> {
    let settings = iot_settings(&state)?;
    let body = iot::histogram(&state.store, settings, &device)
        .await
        .map_err(|e| ApiError::internal(format!("reading the store failed: {e:#}")))?;
    Ok(json_answer(StatusCode::OK, body))
}
