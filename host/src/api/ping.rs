//! `/ping`, as InfluxDB 1.x answers it: some InfluxDB clients call it first
//! to check the server is up and read its version.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The InfluxDB version whose `/query` and `/write` this logger speaks.
pub const INFLUXDB_VERSION: &str = "1.8.10";
/// Where InfluxDB names its edition (`OSS`): this is not InfluxDB, and clients only display it.
const BUILD: &str = "datalogger";

#[utoipa::path(
    get,
    path = "/ping",
    tag = "influxdb",
    summary = "Up: 204 with the InfluxDB version this logger speaks",
    description = "As InfluxDB 1.x's `/ping`, which clients call before they write or query.",
    operation_id = "ping",
    responses((status = 204, description = "The logger is up", headers(
        ("X-Influxdb-Version" = String, description = "The InfluxDB version whose API this logger speaks: 1.8.10"),
        ("X-Influxdb-Build" = String, description = "`datalogger`"),
    ))),
)]
pub async fn get() -> Response {
    answer()
}

#[utoipa::path(
    head,
    path = "/ping",
    tag = "influxdb",
    summary = "Up: 204 with the InfluxDB version this logger speaks",
    operation_id = "ping_head",
    responses((status = 204, description = "The logger is up", headers(
        ("X-Influxdb-Version" = String, description = "The InfluxDB version whose API this logger speaks: 1.8.10"),
        ("X-Influxdb-Build" = String, description = "`datalogger`"),
    ))),
)]
pub async fn head() -> Response {
    answer()
}

fn answer() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-influxdb-version"),
        HeaderValue::from_static(INFLUXDB_VERSION),
    );
    headers.insert(
        HeaderName::from_static("x-influxdb-build"),
        HeaderValue::from_static(BUILD),
    );
    response
}
