//! `GET /outputs`: each output's state, backlog and counters. Secrets are
//! never shown (nor the credentials of a `user:password@` url).

use super::openapi::{self, ErrorBody};
use super::{ApiError, AppState};
use crate::sinks::OutputState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One output: what it is, then how its forwarding stands.
#[derive(Serialize, ToSchema)]
#[schema(as = Output)]
pub struct OutputView {
    name: String,
    /// `influxdb` (the v1 API) or `influxdb_v2`.
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    /// The sink's own settings worth showing: `database` (v1) or `org` and
    /// `bucket` (v2), and `schema`.
    #[serde(flatten)]
    #[schema(ignore)]
    details: Map<String, Value>,
    #[schema(schema_with = state)]
    state: OutputState,
    last_error: Option<String>,
    /// Why the last set-aside batch was refused.
    last_rejection: Option<String>,
    /// Points stored but not yet sent.
    backlog_points: u64,
    /// Age of the oldest unsent point, in seconds.
    backlog_age_s: Option<u64>,
    points_written: u64,
    batches_rejected: u64,
    points_dropped: u64,
    /// The store sequence number sent up to.
    position: i64,
    /// Points set aside one by one: refused by the server inside a partial
    /// write, or by the logger because line protocol cannot carry them.
    points_rejected: u64,
}

#[utoipa::path(
    get,
    path = "/outputs",
    tag = "outputs",
    summary = "Each output's state, backlog and counters",
    operation_id = "list_outputs",
    responses(
        (status = 200, description = "The outputs", body = [OutputView]),
        (status = 500, description = "The store could not be read", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<OutputView>>, ApiError> {
    let mut out = Vec::new();
    for handle in state.outputs.iter() {
        let status = handle.status();
        let spec = &handle.spec;
        let store_error = |e: anyhow::Error| ApiError::internal(format!("reading the store failed: {e:#}"));
        let sink = spec.sink.config();
        let (mut backlog, first_ts) = state.store.backlog(status.position).await.map_err(store_error)?;
        if spec.items.is_some() || spec.measurements.is_some() {
            // Only what this output will send (a scan; filtered outputs only).
            let (_, max_seq) = state.store.bounds().await.map_err(store_error)?;
            backlog = state
                .store
                .count_range(
                    status.position,
                    max_seq,
                    spec.items.as_deref(),
                    spec.measurements.as_deref(),
                )
                .await
                .map_err(store_error)?;
        }
        let age_s = first_ts.map(|ts| ((crate::sample::now_ns() - ts).max(0) / 1_000_000_000) as u64);
        out.push(OutputView {
            name: spec.name.clone(),
            kind: sink.kind(),
            url: sink.url().to_string(),
            details: sink.details(),
            state: status.state,
            last_error: status.last_error,
            last_rejection: status.last_rejection,
            backlog_points: backlog,
            backlog_age_s: age_s,
            points_written: status.points_written,
            batches_rejected: status.batches_rejected,
            points_dropped: status.points_dropped,
            position: status.position,
            points_rejected: status.points_rejected,
        });
    }
    Ok(Json(out))
}

/// Every `OutputState`; the match fails to compile when one is added and not
/// listed here.
fn state() -> utoipa::openapi::schema::Object {
    use OutputState as S;
    let all = [S::Starting, S::Connected, S::Failing];
    for s in all {
        match s {
            S::Starting | S::Connected | S::Failing => {}
        }
    }
    let names: Vec<String> = all.iter().map(super::serde_name).collect();
    openapi::one_of(&names.iter().map(String::as_str).collect::<Vec<_>>(), false)
}
