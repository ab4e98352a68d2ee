//! `GET /plugins`: what is loaded, from which file, and which files failed.

use super::openapi;
use super::AppState;
use crate::plugins::LoadFailureKind;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A loaded plugin (`error` null) or a file that failed to load (`name` null,
/// `error` and `error_kind` say why).
#[derive(Serialize, ToSchema)]
#[schema(as = Plugin)]
pub struct PluginView {
    name: Option<String>,
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    file: String,
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = openapi::timestamp)]
    loaded_at: Option<String>,
    keys: Vec<KeyView>,
    /// The decoders it provides for push sources (`"decoder"` in a source).
    decoders: Vec<DecoderView>,
    /// The grants as the config spells them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = openapi::any_value)]
    grants: Option<Value>,
    /// Log lines dropped over the plugin's rate limit since start-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    log_lines_dropped: Option<u64>,
    error: Option<String>,
    #[schema(schema_with = error_kind)]
    error_kind: Option<LoadFailureKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = openapi::timestamp)]
    failed_at: Option<String>,
}

/// A key a plugin serves.
#[derive(Serialize, ToSchema)]
#[schema(as = PluginKey)]
pub struct KeyView {
    name: String,
    description: String,
    arg: Option<ArgView>,
    unit: String,
}

/// A decoder a plugin provides: it reads pushed payloads (MQTT, `/ingest`).
#[derive(Serialize, ToSchema)]
#[schema(as = PluginDecoder)]
pub struct DecoderView {
    name: String,
    description: String,
}

/// What the key's argument means.
#[derive(Serialize, ToSchema)]
#[schema(as = PluginKeyArg)]
pub struct ArgView {
    description: String,
    required: bool,
}

#[utoipa::path(
    post,
    path = "/plugins/reload",
    tag = "plugins",
    summary = "Rescan the plugins folder now",
    operation_id = "reload_plugins",
    description = "For filesystems whose change events are unreliable; answers like `GET /plugins`.",
    responses((status = 200, description = "The plugins after the rescan", body = [PluginView])),
)]
pub async fn reload(State(state): State<AppState>) -> Json<Vec<PluginView>> {
    let registry = state.registry.clone();
    let _ = tokio::task::spawn_blocking(move || registry.rescan()).await;
    list(State(state)).await
}

#[utoipa::path(
    get,
    path = "/plugins",
    tag = "plugins",
    summary = "Loaded plugins and the files that failed",
    operation_id = "list_plugins",
    responses((status = 200, description = "The plugins", body = [PluginView])),
)]
pub async fn list(State(state): State<AppState>) -> Json<Vec<PluginView>> {
    let mut out: Vec<PluginView> = state
        .registry
        .plugins()
        .iter()
        .map(|p| PluginView {
            name: Some(p.name.to_string()),
            version: Some(p.info.version.clone()),
            description: Some(p.info.description.clone()),
            file: p.file.display().to_string(),
            sha256: Some(p.sha256.clone()),
            loaded_at: Some(rfc3339(p.loaded_at)),
            keys: p
                .info
                .keys
                .iter()
                .map(|k| KeyView {
                    name: k.name.clone(),
                    description: k.description.clone(),
                    arg: k.arg.as_ref().map(|a| ArgView {
                        description: a.description.clone(),
                        required: a.required,
                    }),
                    unit: k.unit.clone(),
                })
                .collect(),
            decoders: p
                .decoders
                .iter()
                .map(|d| DecoderView {
                    name: d.name.clone(),
                    description: d.description.clone(),
                })
                .collect(),
            grants: Some(p.grants.to_json()),
            log_lines_dropped: Some(state.registry.sandbox().log_lines_dropped(&p.name)),
            error: None,
            error_kind: None,
            failed_at: None,
        })
        .collect();
    out.extend(state.registry.failures().iter().map(|f| PluginView {
        name: None,
        version: None,
        description: None,
        file: f.file.display().to_string(),
        sha256: f.sha256.clone(),
        loaded_at: None,
        keys: Vec::new(),
        decoders: Vec::new(),
        grants: None,
        log_lines_dropped: None,
        error: Some(f.reason.clone()),
        error_kind: Some(f.kind),
        failed_at: Some(rfc3339(f.failed_at)),
    }));
    Json(out)
}

/// Every `LoadFailureKind`; the match fails to compile when one is added and
/// not listed here, so the document cannot miss it.
fn error_kind() -> utoipa::openapi::schema::Object {
    use LoadFailureKind as K;
    let all = [
        K::Invalid,
        K::NotCollector,
        K::NewerWit,
        K::Describe,
        K::BadDescription,
        K::FileName,
        K::NameTaken,
    ];
    for kind in all {
        match kind {
            K::Invalid
            | K::NotCollector
            | K::NewerWit
            | K::Describe
            | K::BadDescription
            | K::FileName
            | K::NameTaken => {}
        }
    }
    let names: Vec<String> = all.iter().map(super::serde_name).collect();
    openapi::one_of(&names.iter().map(String::as_str).collect::<Vec<_>>(), true)
}

fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
