//! `GET /health`: is the logger up, and how much is it doing.

use super::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn show(State(state): State<AppState>) -> Json<Value> {
    let items = state.scheduler.list();
    let failing = items.iter().filter(|h| h.status().last_error.is_some()).count();
    let store = state.store.write_health();
    Json(json!({
        "status": if store.failing.is_some() { "degraded" } else { "ok" },
        // Why samples cannot be written (a full disk), and what is held in memory meanwhile.
        "store": {
            "write_error": store.failing,
            "held_samples": store.held_samples,
            "dropped_samples": store.dropped_samples,
        },
        "uptime_s": state.started.elapsed().as_secs(),
        "items": items.len(),
        "items_failing": failing,
        "plugins": state.registry.plugins().len(),
        "plugin_load_errors": state.registry.failures().len(),
        // Plugin files being compiled and described: at start-up and after a hot reload.
        "plugins_compiling": state.registry.loading().iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
    }))
}
