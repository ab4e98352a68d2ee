//! `GET /openapi.json`: the OpenAPI 3.1 document of this API, generated from
//! the same `routes!` list that builds the router (see `api::routes`), so a
//! route cannot exist undocumented. Hand-written here: the shared parts
//! (the error schema, the responses every operation can give, the limits) and
//! the schemas of the few constraints `ToSchema` cannot express.

use super::{AppState, MAX_BODY_BYTES};
use crate::sources::items::limits;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::Object;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, RefOr, Response, Schema};
use utoipa::{PartialSchema, ToSchema};

/// Every error answer: `{"error": "what to change"}`.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong and what to change.
    pub error: String,
}

/// The document with what only the running logger knows filled in: the keys
/// an item may use are those the loaded plugins serve now.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    summary = "This document",
    operation_id = "get_openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)),
)]
pub async fn show(State(state): State<AppState>) -> Json<Value> {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    let keys = state.registry.all_keys();
    if let Some(schemas) = doc.pointer_mut("/components/schemas") {
        for schema in ["NewItem", "ItemChanges"] {
            if let Some(key) = schemas
                .pointer_mut(&format!("/{schema}/properties/key"))
                .filter(|_| !keys.is_empty())
            {
                key["enum"] = json!(keys);
                key["description"] = json!("One of the keys the loaded plugins serve (GET /plugins).");
            }
        }
    }
    Json(doc)
}

/// The document, built once from the routes.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| finish(super::routes().into_openapi()))
}

/// The parts of the document that are not any one route's.
pub fn base() -> OpenApi {
    let mut doc = OpenApi::default();
    doc.info.title = "datalogger".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(format!(
        "The REST API of datalogger, compatible with the rpdemo logger's `/items/`. Every error is \
         `{{\"error\": \"...\"}}` saying what to change; a method a path does not have answers 405 with \
         `Allow`, an unknown path 404.\n\nLimits: a request body is at most {MAX_BODY_BYTES} bytes \
         (413 beyond); an item name at most {} characters, a key {}, a tag name {}, a tag value {}, at \
         most {} tags, an arg at most {} characters (400 beyond); `limit` of samples 1 to 10000, a \
         `measurement` filter at most {} characters, tag filters as an item's tags.",
        limits::NAME,
        limits::KEY,
        limits::TAG_KEY,
        limits::TAG_VALUE,
        limits::TAGS,
        limits::ARG,
        super::items::MAX_MEASUREMENT,
    ));
    doc.info.license = None;
    doc
}

/// Adds what every operation shares: the error schema as a component and the
/// responses any request can get before a handler runs.
fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert("Error".into(), ErrorBody::schema());
    let error = |description: String| -> RefOr<Response> {
        RefOr::T(
            utoipa::openapi::ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("Error")))
                        .build(),
                )
                .build(),
        )
    };
    add_security(components);
    for (path, item) in doc.paths.paths.iter_mut() {
        add_access_responses(path, item, &error);
        let has_path_params = item
            .parameters
            .iter()
            .flatten()
            .chain(operations(item).flat_map(|op| op.parameters.iter().flatten()))
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Path));
        for op in operations_mut(item) {
            let responses = &mut op.responses.responses;
            responses
                .entry("413".into())
                .or_insert_with(|| error(format!("The request body is larger than {MAX_BODY_BYTES} bytes")));
            if has_path_params {
                responses
                    .entry("400".into())
                    .or_insert_with(|| error("A path segment is not valid percent-encoded UTF-8".into()));
            }
        }
    }
    // Anonymous (`{}`) first: without `api.token` no request needs one.
    doc.security = Some(
        std::iter::once(SecurityRequirement::default())
            .chain(
                SECURITY_SCHEMES
                    .iter()
                    .map(|(name, _)| SecurityRequirement::new(*name, Vec::<String>::new())),
            )
            .collect(),
    );
    doc
}

/// The forms of the API token (`api.token`) clients send; `Authorization:
/// Token T` (InfluxDB 2 clients) has no OpenAPI scheme and is described.
const SECURITY_SCHEMES: [(&str, &str); 3] = [
    (
        "bearer",
        "`Authorization: Bearer <token>`; `Authorization: Token <token>` (InfluxDB 2 clients) works the same",
    ),
    (
        "basic",
        "Basic auth with the token as password and any user name (InfluxDB 1 clients)",
    ),
    (
        "query_p",
        "`?u=<any>&p=<token>` (InfluxDB 1 clients, Grafana); removed before the handler sees the query",
    ),
];

fn add_security(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
    for (name, description) in SECURITY_SCHEMES {
        let scheme = match name {
            "bearer" => SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            ),
            "basic" => {
                let mut http = Http::new(HttpAuthScheme::Basic);
                http.description = Some(description.into());
                SecurityScheme::Http(http)
            }
            _ => SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description("p", description))),
        };
        components.add_security_scheme(name, scheme);
    }
}

/// The answers `api::auth::guard` and the server give before any handler:
/// a wrong Host (421), a missing or wrong token (401), a cross-origin write
/// (403), a body that is not JSON on a `manage` route (415), an oversized
/// URI or head (414, 431).
fn add_access_responses(path: &str, item: &mut utoipa::openapi::PathItem, error: &dyn Fn(String) -> RefOr<Response>) {
    use axum::http::Method;
    let methods = [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::HEAD, &mut item.head),
        (Method::PATCH, &mut item.patch),
    ];
    for (method, op) in methods {
        let Some(op) = op else { continue };
        let group = crate::access::route_group(&method, path);
        let responses = &mut op.responses.responses;
        let mut add = |status: &str, text: String| {
            responses.entry(status.into()).or_insert_with(|| error(text));
        };
        add(
            "401",
            format!("The API token is missing or wrong (`{group}` requests need it when `api.token` is set)"),
        );
        add(
            "421",
            "The Host is not a name of this logger (DNS-rebinding defence); use its IP address, localhost, or a name in `api.hostnames`".into(),
        );
        add("414", "The URI is longer than the server accepts".into());
        add("431", "The request's headers are too many or too large".into());
        if !crate::access::is_safe(&method) {
            add(
                "403",
                "A web page from an origin not in `api.cors_origins` may not change anything".into(),
            );
        }
        if op.request_body.is_some() && group == crate::access::RouteGroup::Manage {
            add(
                "415",
                "The body must be sent as `Content-Type: application/json`".into(),
            );
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [
        &item.get,
        &item.put,
        &item.post,
        &item.delete,
        &item.options,
        &item.head,
        &item.patch,
        &item.trace,
    ]
    .into_iter()
    .flatten()
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// The methods a path answers, for its 405's `Allow` (HEAD wherever GET is:
/// axum answers it).
pub fn allowed_methods(item: &utoipa::openapi::PathItem) -> String {
    let methods = [
        ("GET", &item.get),
        ("HEAD", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ];
    let names: Vec<&str> = methods.iter().filter(|(_, op)| op.is_some()).map(|(m, _)| *m).collect();
    names.join(", ")
}

// ---------------------------------------------------------------- schemas `ToSchema` cannot spell

/// A schema written as JSON Schema, plus a `not` (which utoipa's types lack;
/// extensions serialize in place).
fn schema(value: Value, not: Option<Value>) -> Object {
    let mut object: Object = serde_json::from_value(value).expect("a valid schema");
    if let Some(not) = not {
        object.extensions = Some(Extensions::from_iter([("not", not)]));
    }
    object
}

/// No control characters (what `char::is_control` refuses), as a regex class.
const NO_CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";

pub fn item_name() -> Object {
    schema(
        json!({
            "type": "string",
            "minLength": 1,
            "maxLength": limits::NAME,
            "pattern": format!("^[^/{NO_CONTROL}]+$"),
            "description": "Unique; not \".\" or \"..\", no '/' or control characters.",
        }),
        Some(json!({"enum": [".", ".."]})),
    )
}

pub fn item_key() -> Object {
    schema(
        json!({
            "type": "string",
            "maxLength": limits::KEY,
            "pattern": r"^[^.]+\.[\s\S]+$",
            "description": "`plugin.metric`, e.g. `system.loadavg1`.",
        }),
        None,
    )
}

pub fn item_arg() -> Object {
    schema(
        json!({
            "type": ["string", "null"],
            "maxLength": limits::ARG,
            "description": "The key's argument, if it takes one; `null` or `\"\"` for none.",
        }),
        None,
    )
}

pub fn item_interval() -> Object {
    schema(
        json!({"type": "integer", "minimum": 1, "maximum": 31_536_000, "description": "Seconds between samples."}),
        None,
    )
}

pub fn item_tags() -> Object {
    let mut name = schema(
        json!({
            "type": "string",
            "minLength": 1,
            "maxLength": limits::TAG_KEY,
            "pattern": format!("^[^{NO_CONTROL}]+$"),
        }),
        Some(json!({"const": "item"})),
    );
    name.description = Some("Not `item`: outputs add item=<name> to every point.".into());
    let mut tags = schema(
        json!({
            "type": ["object", "null"],
            "maxProperties": limits::TAGS,
            "additionalProperties": {
                "type": "string",
                "maxLength": limits::TAG_VALUE,
                "pattern": format!("^[^{NO_CONTROL}]*$"),
            },
            "description": "Extra tags on every point, e.g. {\"room\": \"lab\"}.",
        }),
        None,
    );
    tags.property_names = Some(Box::new(Schema::Object(name)));
    tags
}

/// The item tags as the answers show them (always an object).
pub fn shown_tags() -> Object {
    schema(
        json!({"type": "object", "additionalProperties": {"type": "string"}}),
        None,
    )
}

/// A field value as JSON: a number, boolean or string (`null` for a NaN).
pub fn field_values() -> Object {
    schema(
        json!({"type": "object", "additionalProperties": {"type": ["number", "boolean", "string", "null"]}}),
        None,
    )
}

/// Any JSON value.
pub fn any_value() -> Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .build()
}

/// A string from a fixed set, or `null`.
pub fn one_of(values: &[&str], nullable: bool) -> Object {
    let mut all: Vec<Value> = Vec::new();
    for v in values {
        if !all.contains(&json!(v)) {
            all.push(json!(v)); // e.g. `host`, a kind of call error and of other errors
        }
    }
    let kind = if nullable {
        all.push(Value::Null);
        json!(["string", "null"])
    } else {
        json!("string")
    };
    schema(json!({"type": kind, "enum": all}), None)
}

/// Whole nanoseconds since the Unix epoch (any i64).
pub fn ns_since_epoch() -> Object {
    schema(
        json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
        None,
    )
}

/// A whole number from `min` to `max`.
pub fn integer_between(min: i64, max: i64) -> Object {
    schema(json!({"type": "integer", "minimum": min, "maximum": max}), None)
}

/// A measurement name to filter by.
pub fn measurement(max_length: usize) -> Object {
    schema(json!({"type": "string", "minLength": 1, "maxLength": max_length}), None)
}

/// Tag filters as an object whose keys are `<prefix><tag name>` (exploded
/// into one query parameter each): the item tags' limits on names and values;
/// a name without control characters (the store cannot look one up).
pub fn tag_filters(prefix: &str) -> Object {
    let escaped = prefix.replace('.', r"\.");
    let mut filters = schema(
        json!({
            "type": "object",
            "maxProperties": limits::TAGS,
            "additionalProperties": {"type": "string", "maxLength": limits::TAG_VALUE},
        }),
        None,
    );
    filters.property_names = Some(Box::new(Schema::Object(schema(
        json!({
            "type": "string",
            "pattern": format!("^{escaped}[^{NO_CONTROL}]+$"),
            "maxLength": prefix.chars().count() + limits::TAG_KEY,
        }),
        None,
    ))));
    filters
}

/// A date-time string (RFC 3339 UTC).
pub fn timestamp() -> Object {
    schema(json!({"type": "string", "format": "date-time"}), None)
}

/// A date-time string (RFC 3339 UTC), or `null`.
pub fn timestamp_or_null() -> Object {
    schema(json!({"type": ["string", "null"], "format": "date-time"}), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    #[test]
    fn the_document_builds_and_names_every_path() {
        let doc = doc();
        let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        for path in [
            "/items",
            "/items/",
            "/items/{name}",
            "/items/{name}/samples",
            "/plugins",
            "/plugins/reload",
            "/outputs",
            "/health",
            "/openapi.json",
        ] {
            assert!(paths.contains(&path), "{path} is not documented: {paths:?}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["components"]["schemas"]["Error"]["required"], json!(["error"]));
    }

    #[test]
    fn the_limits_are_in_the_document() {
        let doc = doc();
        let item = &doc["components"]["schemas"]["NewItem"]["properties"];
        assert_eq!(item["name"]["maxLength"], limits::NAME);
        assert_eq!(item["key"]["maxLength"], limits::KEY);
        assert_eq!(item["arg"]["maxLength"], limits::ARG);
        assert_eq!(item["tags"]["maxProperties"], limits::TAGS);
        assert_eq!(item["tags"]["propertyNames"]["maxLength"], limits::TAG_KEY);
        assert_eq!(item["tags"]["propertyNames"]["not"], json!({"const": "item"}));
        assert_eq!(item["tags"]["additionalProperties"]["maxLength"], limits::TAG_VALUE);
        let samples = &doc["paths"]["/items/{name}/samples"]["get"]["parameters"];
        let name = samples
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "name")
            .unwrap();
        assert_eq!(name["schema"]["maxLength"], limits::NAME);
        let limit = samples
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], super::super::items::MAX_SAMPLES_LIMIT);
        let post = &doc["paths"]["/items/"]["post"]["responses"];
        assert!(post["413"]["description"]
            .as_str()
            .unwrap()
            .contains(&MAX_BODY_BYTES.to_string()));
        assert_eq!(
            post["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
    }
}
