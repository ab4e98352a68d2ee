//! `GET /sources`, `GET /sources/{name}`: the push sources (`"sources"` in
//! the config) and their counters. Their samples are read like an item's:
//! `/series?item=NAME`, `/query`.

use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::sources::push::{PushSource, SourceStats};
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One push source: how samples arrive, and what became of them.
#[derive(Serialize, ToSchema)]
#[schema(as = Source)]
pub struct SourceView {
    /// The store's item for its samples.
    name: String,
    /// How samples arrive: `write` (InfluxDB line protocol over HTTP), `mqtt` or `ingest` (`POST /ingest/{name}`).
    transport: &'static str,
    /// Where clients send them, e.g. `POST /write?db=lan` and `POST /api/v2/write?bucket=lan`.
    endpoints: Vec<String>,
    /// Added to points that lack a tag of the same key.
    tags: BTreeMap<String, String>,
    stats: SourceStats,
}

fn view(source: &PushSource) -> SourceView {
    let spec = &source.spec;
    let mut endpoints = Vec::new();
    if let Some(w) = &spec.write {
        let db = w.database.as_deref().unwrap_or(&spec.name);
        let q = url::form_urlencoded::byte_serialize(db.as_bytes()).collect::<String>();
        endpoints.push(format!("POST /write?db={q}"));
        endpoints.push(format!("POST /api/v2/write?bucket={q}"));
    }
    SourceView {
        name: spec.name.clone(),
        transport: spec.transport(),
        endpoints,
        tags: spec.tags.clone(),
        stats: source.stats(),
    }
}

#[utoipa::path(
    get,
    path = "/sources",
    tag = "sources",
    summary = "The push sources and their counters",
    operation_id = "list_sources",
    responses((status = 200, description = "Every configured source", body = [SourceView])),
)]
pub async fn list(State(state): State<AppState>) -> Json<Vec<SourceView>> {
    Json(state.sources.list().iter().map(|s| view(s)).collect())
}

#[utoipa::path(
    get,
    path = "/sources/{name}",
    tag = "sources",
    summary = "One push source and its counters",
    operation_id = "show_source",
    params(("name" = String, Path, description = "The source's name")),
    responses(
        (status = 200, description = "The source", body = SourceView),
        (status = 404, description = "No source of this name", body = ErrorBody),
    ),
)]
pub async fn show(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<SourceView>, ApiError> {
    state.sources.get(&name).map(|s| Json(view(s))).ok_or_else(|| {
        ApiError::not_found(format!(
            "no source named {name:?}; GET /sources lists them (sources are configured under \"sources\")"
        ))
    })
}
