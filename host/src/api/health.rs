//! `GET /health`: is the logger up, and how much is it doing.

use super::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while samples cannot be written to the store
    /// (`store.write_error` says why).
    #[schema(schema_with = status)]
    status: &'static str,
    store: StoreHealth,
    uptime_s: u64,
    items: usize,
    items_failing: usize,
    plugins: usize,
    plugin_load_errors: usize,
    /// Plugin files being compiled and described: at start-up and after a
    /// change in the plugins folder (hot reload).
    plugins_compiling: Vec<String>,
}

/// Whether the store can be written, and what is held in memory meanwhile.
#[derive(Serialize, ToSchema)]
pub struct StoreHealth {
    /// Why samples cannot be written now (a full disk); null when they can.
    write_error: Option<String>,
    /// Samples held in memory, written when the store can be written again.
    held_samples: usize,
    /// Samples dropped since start-up because the held backlog was full.
    dropped_samples: u64,
}

fn status() -> utoipa::openapi::schema::Object {
    super::openapi::one_of(&["ok", "degraded"], false)
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    summary = "Is the logger up, and how much is it doing",
    operation_id = "get_health",
    responses((status = 200, description = "Up", body = Health)),
)]
pub async fn show(State(state): State<AppState>) -> Json<Health> {
    let items = state.scheduler.list();
    let failing = items.iter().filter(|h| h.status().last_error.is_some()).count();
    let store = state.store.write_health();
    Json(Health {
        status: if store.failing.is_some() { "degraded" } else { "ok" },
        store: StoreHealth {
            write_error: store.failing,
            held_samples: store.held_samples,
            dropped_samples: store.dropped_samples,
        },
        uptime_s: state.started.elapsed().as_secs(),
        items: items.len(),
        items_failing: failing,
        plugins: state.registry.plugins().len(),
        plugin_load_errors: state.registry.failures().len(),
        plugins_compiling: state
            .registry
            .loading()
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
    })
}
