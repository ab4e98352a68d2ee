//! `GET /outputs`: each output's state, backlog and counters. Secrets are
//! never shown (nor the credentials of a `user:password@` url).

use super::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
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
        let mut shown = serde_json::Map::new();
        shown.insert("name".into(), spec.name.clone().into());
        shown.insert("type".into(), sink.kind().into());
        shown.insert("url".into(), sink.url().into());
        // The sink's own settings worth showing, e.g. the schema.
        shown.extend(sink.details());
        let counters = json!({
            "state": status.state,
            "last_error": status.last_error,
            "last_rejection": status.last_rejection,
            "backlog_points": backlog,
            "backlog_age_s": age_s,
            "points_written": status.points_written,
            "batches_rejected": status.batches_rejected,
            "points_dropped": status.points_dropped,
            "position": status.position,
            "points_rejected": status.points_rejected,
        });
        if let Value::Object(counters) = counters {
            shown.extend(counters);
        }
        out.push(Value::Object(shown));
    }
    Ok(Json(Value::Array(out)))
}
