//! `GET /query` and `POST /query`: InfluxDB 1.x's query API over the
//! embedded store, so Grafana's InfluxDB datasource, InfluxDB client
//! libraries and `curl` read the logger as they read InfluxDB. The language
//! is in `influxql/`; this file is the HTTP side: parameters from the URL and
//! (POST) a form body, a 400 for a request that cannot run, and one result
//! per statement otherwise.

use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::influxql::response::{QueryResponse, StatementResult, TimeFormat};
use crate::influxql::{self, Request};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::FutureExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// The version `/query` and `/ping` answer in `X-Influxdb-Version`: the
/// InfluxDB API generation the logger speaks.
pub const INFLUXDB_VERSION: &str = "1.8.10";

/// The parameters of a GET.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by name from the raw query; here for the document
pub struct QueryParams {
    /// InfluxQL statements separated by `;`, e.g. `SHOW MEASUREMENTS` or
    /// `SELECT mean("load1") FROM "system" WHERE time > now() - 1h GROUP BY time(1m)`.
    #[param(pattern = r"\S")]
    q: String,
    /// The database: any name unless `query.database` sets one.
    db: Option<String>,
    /// Times as integers in this unit instead of RFC 3339 strings.
    #[param(inline)]
    epoch: Option<Epoch>,
    /// The retention policy: accepted and ignored (the store has one).
    rp: Option<String>,
}

/// The parameters besides `q` (a POST may send them in the URL or the form).
#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Options {
    /// The database: any name unless `query.database` sets one.
    db: Option<String>,
    /// Times as integers in this unit instead of RFC 3339 strings.
    #[param(inline)]
    epoch: Option<Epoch>,
    /// The retention policy: accepted and ignored (the store has one).
    rp: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub enum Epoch {
    #[serde(rename = "h")]
    Hours,
    #[serde(rename = "m")]
    Minutes,
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "u")]
    Microseconds,
    #[serde(rename = "ns")]
    Nanoseconds,
}

/// A POST's form body: the statements, and optionally the other parameters.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct QueryForm {
    /// InfluxQL statements separated by `;`.
    #[schema(pattern = r"\S")]
    q: String,
    #[schema(nullable = false)]
    db: Option<String>,
    #[schema(nullable = false)]
    epoch: Option<Epoch>,
    #[schema(nullable = false)]
    rp: Option<String>,
}

#[utoipa::path(
    get,
    path = "/query",
    tag = "query",
    summary = "Run InfluxQL statements (InfluxDB 1.x query API)",
    description = "The InfluxQL subset Grafana's InfluxDB datasource sends and what people type by hand: \
        SELECT with fields, * and aggregates (mean, median, count, sum, min, max, first, last, spread, stddev, percentile), \
        WHERE on tags and time, GROUP BY time(...) and tags, fill(), ORDER BY time DESC, LIMIT/OFFSET/SLIMIT/SOFFSET, tz(); \
        SHOW DATABASES/MEASUREMENTS/FIELD KEYS/TAG KEYS/TAG VALUES/SERIES/RETENTION POLICIES; CREATE DATABASE (no effect). \
        A statement that cannot run answers its error inside `results` (HTTP 200), as InfluxDB does.",
    operation_id = "query_get",
    params(QueryParams),
    responses(
        (status = 200, description = "One result per statement", body = QueryResponse),
        (status = 400, description = "No `q`, a syntax error, or a bad `epoch`", body = ErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    answer(&state, pairs(query.as_deref().unwrap_or("").as_bytes())).await
}

#[utoipa::path(
    post,
    path = "/query",
    tag = "query",
    summary = "Run InfluxQL statements sent as a form (Grafana's default)",
    operation_id = "query_post",
    params(Options),
    request_body(content = QueryForm, content_type = "application/x-www-form-urlencoded",
        description = "The same parameters as a form; they take precedence over the URL's"),
    responses(
        (status = 200, description = "One result per statement", body = QueryResponse),
        (status = 400, description = "No `q`, a syntax error, or a bad `epoch`", body = ErrorBody),
    ),
)]
pub async fn post(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = pairs(query.as_deref().unwrap_or("").as_bytes());
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !body.is_empty() {
        if !form {
            return with_version(
                ApiError::bad_request(
                    "send the parameters as a form (Content-Type: application/x-www-form-urlencoded) or in the URL",
                )
                .into_response(),
            );
        }
        params.extend(pairs(&body));
    }
    answer(&state, params).await
}

fn pairs(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text).into_owned().collect()
}

async fn answer(state: &AppState, params: Vec<(String, String)>) -> Response {
    // The last value of a parameter wins, so a form's `q` overrides the URL's.
    let param = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(q) = param("q").filter(|q| !q.trim().is_empty()) else {
        return with_version(ApiError::bad_request("missing required parameter \"q\"").into_response());
    };
    let time_format = match TimeFormat::from_param(param("epoch").as_deref()) {
        Ok(f) => f,
        Err(e) => return with_version(ApiError::bad_request(e).into_response()),
    };
    let statements = match influxql::parse(&q) {
        Ok(s) => s,
        Err(e) => return with_version(ApiError::bad_request(e.to_string()).into_response()),
    };
    let request = Request {
        statements,
        db: param("db").filter(|d| !d.is_empty()),
        time_format,
    };
    // A bug in the executor answers that statement's error, never a dropped connection.
    let run = std::panic::AssertUnwindSafe(influxql::run(&state.store, &state.query, request)).catch_unwind();
    let response = run.await.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        tracing::error!("a query failed inside the logger: {what}");
        QueryResponse {
            results: vec![StatementResult::error(
                0,
                format!("internal error running the query: {what}"),
            )],
        }
    });
    with_version(Json(response).into_response())
}

fn with_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "x-influxdb-version",
        axum::http::HeaderValue::from_static(INFLUXDB_VERSION),
    );
    response
}
