//! `GET /health`: is the logger up, and how much is it doing.

use super::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` while the logger runs.
    #[schema(schema_with = status_ok)]
    status: &'static str,
    uptime_s: u64,
    items: usize,
    items_failing: usize,
    plugins: usize,
    plugin_load_errors: usize,
    /// Big plugin files compiling in the background after a start with a cold cache.
    plugins_compiling: Vec<String>,
}

fn status_ok() -> utoipa::openapi::schema::Object {
    super::openapi::one_of(&["ok"], false)
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
    Json(Health {
        status: "ok",
        uptime_s: state.started.elapsed().as_secs(),
        items: items.len(),
        items_failing: failing,
        plugins: state.registry.plugins().len(),
        plugin_load_errors: state.registry.failures().len(),
        plugins_compiling: state
            .registry
            .deferred()
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
    })
}
