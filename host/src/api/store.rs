//! `GET /store`: what the embedded store holds, and in which form;
//! `POST /store/compact`: compact and apply retention now (the store does it
//! every minute by itself; useful before a backup or after a long outage).

use super::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The store's contents by form.
#[derive(Serialize, ToSchema)]
#[schema(as = StoreContents)]
pub struct StoreView {
    path: String,
    /// Distinct (item, measurement, tag set) series.
    series: u64,
    /// Samples not yet compacted: recent, or not yet delivered to every output.
    hot_samples: u64,
    /// Samples in compressed blocks.
    compacted_samples: u64,
    blocks: u64,
    /// Blocks of per-minute aggregates.
    rollup_blocks: u64,
    /// Size of the database file and its write-ahead log.
    file_bytes: u64,
    retention_days: u32,
    rollup_retention_days: u32,
    compact_after_minutes: u32,
}

/// What one compaction run did.
#[derive(Serialize, ToSchema)]
#[schema(as = CompactionReport)]
pub struct CompactionView {
    /// Hot samples moved into blocks.
    compacted: usize,
    blocks_written: usize,
    /// Small blocks of one series and day merged into one.
    blocks_merged: usize,
    /// Uncompacted samples older than `retention_days`, deleted.
    pruned_hot: usize,
    pruned_blocks: usize,
    pruned_rollups: usize,
}

fn store_error(e: anyhow::Error) -> ApiError {
    ApiError::internal(format!("reading the store failed: {e:#}"))
}

#[utoipa::path(
    get,
    path = "/store",
    tag = "store",
    summary = "What the store holds, hot and compacted",
    operation_id = "show_store",
    responses((status = 200, description = "The store's contents by form", body = StoreView)),
)]
pub async fn show(State(state): State<AppState>) -> Result<Json<StoreView>, ApiError> {
    let stats = state.store.stats().await.map_err(store_error)?;
    let settings = state.store.settings();
    Ok(Json(StoreView {
        path: settings.path.display().to_string(),
        series: stats.series,
        hot_samples: stats.hot_samples,
        compacted_samples: stats.compacted_samples,
        blocks: stats.blocks,
        rollup_blocks: stats.rollup_blocks,
        file_bytes: stats.file_bytes,
        retention_days: settings.retention_days,
        rollup_retention_days: settings.rollup_retention_days,
        compact_after_minutes: settings.compact_after_minutes,
    }))
}

#[utoipa::path(
    post,
    path = "/store/compact",
    tag = "store",
    summary = "Compact and apply retention now",
    operation_id = "compact_store",
    description = "Moves samples older than `compact_after_minutes` that every output has delivered into compressed blocks, merges small blocks and prunes what retention says; the store does this every minute by itself.",
    responses((status = 200, description = "What the run did", body = CompactionView)),
)]
pub async fn compact(State(state): State<AppState>) -> Result<Json<CompactionView>, ApiError> {
    let r = state
        .store
        .compact()
        .await
        .map_err(|e| ApiError::internal(format!("compacting the store failed: {e:#}")))?;
    Ok(Json(CompactionView {
        compacted: r.compacted,
        blocks_written: r.blocks_written,
        blocks_merged: r.blocks_merged,
        pruned_hot: r.pruned_hot,
        pruned_blocks: r.pruned_blocks,
        pruned_rollups: r.pruned_rollups,
    }))
}
