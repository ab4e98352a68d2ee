//! `GET /plugins`: what is loaded, from which file, and which files failed.

use super::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// `POST /plugins/reload`: rescan the folder now (for filesystems whose change
/// events are unreliable), then answer like `GET /plugins`.
pub async fn reload(State(state): State<AppState>) -> Json<Value> {
    let registry = state.registry.clone();
    let _ = tokio::task::spawn_blocking(move || registry.rescan()).await;
    list(State(state)).await
}

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let mut out: Vec<Value> = state
        .registry
        .plugins()
        .iter()
        .map(|p| {
            let keys: Vec<Value> = p
                .info
                .keys
                .iter()
                .map(|k| {
                    json!({
                        "name": k.name,
                        "description": k.description,
                        "arg": k.arg.as_ref().map(|a| json!({"description": a.description, "required": a.required})),
                        "unit": k.unit,
                    })
                })
                .collect();
            let loaded_at = rfc3339(p.loaded_at);
            json!({
                "name": &*p.name,
                "version": p.info.version,
                "description": p.info.description,
                "file": p.file.display().to_string(),
                "sha256": p.sha256,
                "loaded_at": loaded_at,
                "keys": keys,
                "grants": p.grants.to_json(),
                "log_lines_dropped": state.registry.sandbox().log_lines_dropped(&p.name),
                "error": null,
                "error_kind": null,
            })
        })
        .collect();
    out.extend(state.registry.failures().iter().map(|f| {
        json!({
            "name": null,
            "version": null,
            "file": f.file.display().to_string(),
            "sha256": f.sha256,
            "keys": [],
            "error": f.reason,
            "error_kind": f.kind,
            "failed_at": rfc3339(f.failed_at),
        })
    }));
    Json(Value::Array(out))
}

fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
