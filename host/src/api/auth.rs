//! Who may use the API, checked before any handler runs (`guard`):
//!
//! 1. `Host` must be an IP address, `localhost` or a name in `api.hostnames`
//!    wherever no token protects the request, or the logger listens on
//!    loopback: a DNS-rebinding page reaches us under its own name (421).
//! 2. Browsers: a preflight is answered for the origins in `api.cors_origins`
//!    only; a cross-origin write from any other origin is refused (403).
//! 3. The token (`api.token`), for every group not in `api.without_token`
//!    (`manage` always): `Authorization: Bearer T`, `Token T` (InfluxDB 2
//!    clients), Basic with the token as password, or `?u=…&p=T` (InfluxDB 1
//!    clients, Grafana). Compared as SHA-256 digests, in constant time (401).
//! 4. A body sent to a `manage` route must be `application/json` (415), so a
//!    web form or a `text/plain` fetch cannot post items without a preflight.
//!
//! Which group a request is in: `crate::access::route_group`.

use super::ApiError;
use crate::access::{is_safe, normalize_origin};
pub use crate::access::{route_group, RouteGroup};
use crate::config::ApiSettings;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING, VARY,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;

/// The body type `manage` routes accept.
const JSON: &str = "application/json";

/// The `"api"` section's access rules, ready to check requests.
pub struct Guard {
    /// SHA-256 of the token: the token itself is not kept here.
    token: Option<[u8; 32]>,
    without_token: Vec<RouteGroup>,
    /// Listening on a loopback address: `Host` is checked on every request.
    loopback: bool,
    cors_origins: Vec<String>,
    hostnames: Vec<String>,
}

impl Guard {
    /// From checked settings (`config` normalised the origins and names).
    pub fn new(settings: &ApiSettings) -> Guard {
        let loopback = settings
            .listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback());
        Guard {
            token: settings.token.as_ref().map(|t| digest(t.expose())),
            without_token: settings.without_token.clone(),
            loopback,
            cors_origins: settings.cors_origins.clone(),
            hostnames: settings.hostnames.clone(),
        }
    }

    fn needs_token(&self, group: RouteGroup) -> bool {
        self.token.is_some() && !self.without_token.contains(&group)
    }

    /// Whether `host` (a `Host` header) can only be this logger: an IP
    /// literal, `localhost`, or a configured name. A rebinding page's
    /// requests carry the page's own name.
    fn host_allowed(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => return v6.split(']').next().is_some_and(|ip| ip.parse::<IpAddr>().is_ok()),
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host,
            },
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.hostnames.contains(&name)
    }

    /// Whether the presented token is the configured one (digests compared
    /// in constant time).
    fn token_matches(&self, presented: &str) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let got = digest(presented);
        expected.iter().zip(got.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The middleware: see the module comment for the order of the checks. A
/// listed origin gets `Access-Control-Allow-Origin` on every answer, errors
/// included, so its page can read why.
pub async fn guard(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let listed = req
        .headers()
        .get(ORIGIN)
        .and_then(|o| normalize_origin(o.to_str().ok()?).ok())
        .filter(|o| guard.cors_origins.contains(o));
    let mut response = match check(&guard, req, listed.is_some()) {
        Ok(req) => next.run(req).await,
        Err(refusal) => *refusal,
    };
    if let Some(origin) = listed {
        if let Ok(value) = HeaderValue::from_str(&origin) {
            response.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
            response.headers_mut().append(VARY, HeaderValue::from_static("Origin"));
        }
    }
    response
}

/// The request, ready for its handler, or the answer that refuses it (or
/// answers a preflight).
fn check(guard: &Guard, mut req: Request, origin_listed: bool) -> Result<Request, Box<Response>> {
    let method = req.method().clone();
    let group = route_group(&method, req.uri().path());
    let needs_token = guard.needs_token(group) && !super::ui::is_public(&method, req.uri().path());
    let host = request_host(&req);

    if guard.loopback || !needs_token {
        if let Some(host) = host.as_deref().filter(|h| !guard.host_allowed(h)) {
            return Err(Box::new(
                ApiError::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "the Host {host:?} is not a name of this logger (a web page that points its own name at the \
                     logger looks like this); use its IP address or localhost, or add the name to \
                     \"api\": {{\"hostnames\": [...]}} in the config file"
                    ),
                )
                .into_response(),
            ));
        }
    }

    if let Some(origin) = req.headers().get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if method == Method::OPTIONS && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            return Err(Box::new(preflight(origin, origin_listed)));
        }
        let same_origin = host
            .as_deref()
            .is_some_and(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")));
        if !is_safe(&method) && !origin_listed && !same_origin {
            return Err(Box::new(
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "a web page from {origin} may not {method} here; list its origin in \"api\": \
                     {{\"cors_origins\": [...]}} in the config file if it should"
                    ),
                )
                .into_response(),
            ));
        }
    }

    if needs_token {
        let refusal = match presented_token(req.headers(), req.uri()) {
            Some(token) if guard.token_matches(&token) => None,
            Some(_) => Some("the API token is wrong"),
            None => Some("this request needs the API token"),
        };
        if let Some(why) = refusal {
            tracing::debug!(%method, path = req.uri().path(), "refused: {why}");
            return Err(Box::new(unauthorized(why, group, from_script(req.headers()))));
        }
    }
    if guard.token.is_some() {
        strip_token_from_query(&mut req);
    }

    if group == RouteGroup::Manage && has_body(req.headers()) && !is_json(req.headers()) {
        let sent = req
            .headers()
            .get(CONTENT_TYPE)
            .map_or("no Content-Type".to_string(), |v| {
                format!("Content-Type {:?}", v.to_str().unwrap_or("(not text)"))
            });
        return Err(Box::new(
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the body must be JSON sent with Content-Type: {JSON}; got {sent}"),
            )
            .into_response(),
        ));
    }
    Ok(req)
}

/// `Host` of HTTP/1.1, or the authority of an HTTP/2 request.
fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
}

/// The answer to a CORS preflight, for a listed origin only (`guard` adds
/// `Access-Control-Allow-Origin`).
fn preflight(origin: &str, listed: bool) -> Response {
    if !listed {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "web pages from {origin} may not use this API; list the origin in \"api\": {{\"cors_origins\": [...]}}"
            ),
        )
        .into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE"),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

/// Whether a page's script sent the request (`fetch`): browsers mark those
/// `Sec-Fetch-Mode: cors` or `same-origin`, and navigations `navigate`.
fn from_script(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-mode")
        .is_some_and(|m| m.as_bytes() != b"navigate")
}

/// 401 with the challenges clients know; the message lists every accepted form.
/// A script's request gets no Basic challenge: the browser would answer it
/// with its own password prompt instead of letting the page ask for the token.
fn unauthorized(why: &str, group: RouteGroup, from_script: bool) -> Response {
    let message = format!(
        "{why} ({group} requests need it); send Authorization: Bearer <token>, Authorization: Token <token>, \
         Basic auth with the token as password, or ?u=<any>&p=<token>"
    );
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    let headers = response.headers_mut();
    headers.append(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"datalogger\""),
    );
    if !from_script {
        headers.append(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"datalogger\""));
    }
    response
}

/// The token the client sent, in any of the accepted forms.
fn presented_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "token" => Some(rest.to_string()),
            "basic" => {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
                let text = String::from_utf8(decoded).ok()?;
                Some(
                    text.split_once(':')
                        .map_or(text.as_str(), |(_, password)| password)
                        .to_string(),
                )
            }
            _ => None,
        };
    }
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "p")
        .map(|(_, v)| v.into_owned())
}

/// Removes `u` and `p` from the query, so no handler can echo the token.
fn strip_token_from_query(req: &mut Request) {
    let Some(query) = req.uri().query() else {
        return;
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if !pairs.iter().any(|(k, _)| k == "u" || k == "p") {
        return;
    }
    let kept = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(k, _)| k != "u" && k != "p"))
        .finish();
    let path = req.uri().path();
    let path_and_query = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{kept}")
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(JSON))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn settings(listen: &str, token: Option<&str>) -> ApiSettings {
        let mut s = ApiSettings {
            listen: listen.into(),
            ..ApiSettings::default()
        };
        s.token = token.map(|t| serde_json::from_value(serde_json::json!(t)).unwrap());
        s
    }

    /// A router answering 200 behind the guard.
    fn app(settings: &ApiSettings) -> Router {
        Router::new()
            .route("/items/", get(|| async { "list" }).post(|| async { "made" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(Guard::new(settings)),
                guard,
            ))
    }

    async fn status(app: &Router, req: axum::http::request::Builder, body: &str) -> u16 {
        let req = req.body(Body::from(body.to_string())).unwrap();
        app.clone().oneshot(req).await.unwrap().status().as_u16()
    }

    fn get_with_host(host: &str) -> axum::http::request::Builder {
        Request::builder().uri("/items/").header(HOST, host)
    }

    #[tokio::test]
    async fn host_is_checked_where_no_token_protects_the_request() {
        // Loopback without token (the rpdemo default): names are checked.
        let local = app(&settings("127.0.0.1:5000", None));
        assert_eq!(status(&local, get_with_host("127.0.0.1:5000"), "").await, 200);
        assert_eq!(status(&local, get_with_host("localhost:5000"), "").await, 200);
        assert_eq!(status(&local, get_with_host("[::1]:5000"), "").await, 200);
        assert_eq!(status(&local, get_with_host("rebind.example:5000"), "").await, 421);

        // A LAN listen with a token: LAN clients may use any name.
        let lan = app(&settings("0.0.0.0:5000", Some("t0k")));
        let with_token = get_with_host("pi.lan:5000").header(AUTHORIZATION, "Bearer t0k");
        assert_eq!(status(&lan, with_token, "").await, 200);
        assert_eq!(status(&lan, get_with_host("pi.lan:5000"), "").await, 401);

        // ... but reads opened to all are checked again, since no token guards them.
        let mut open = settings("0.0.0.0:5000", Some("t0k"));
        open.without_token = vec![RouteGroup::Read];
        let open_reads = app(&open);
        assert_eq!(status(&open_reads, get_with_host("pi.lan:5000"), "").await, 421);
        assert_eq!(status(&open_reads, get_with_host("192.168.1.9:5000"), "").await, 200);
        open.hostnames = vec!["pi.lan".into()];
        assert_eq!(status(&app(&open), get_with_host("PI.lan.:5000"), "").await, 200);
    }

    #[tokio::test]
    async fn a_pages_script_gets_no_basic_challenge_and_the_page_needs_no_token() {
        let app = Router::new()
            .route("/items/", get(|| async { "list" }))
            .route("/", get(|| async { "page" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(Guard::new(&settings("127.0.0.1:5000", Some("t0k")))),
                guard,
            ));
        let challenges = |mode: Option<&'static str>| {
            let app = app.clone();
            async move {
                let mut req = get_with_host("127.0.0.1:5000");
                if let Some(mode) = mode {
                    req = req.header("sec-fetch-mode", mode);
                }
                let response = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
                assert_eq!(response.status(), 401);
                let all = response.headers().get_all(WWW_AUTHENTICATE);
                all.iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        assert_eq!(challenges(None).await.len(), 2, "curl and InfluxDB clients see both");
        assert_eq!(challenges(Some("navigate")).await.len(), 2, "a browser tab may prompt");
        assert_eq!(challenges(Some("cors")).await, ["Bearer realm=\"datalogger\""]);
        assert_eq!(challenges(Some("same-origin")).await, ["Bearer realm=\"datalogger\""]);
        let page = Request::builder().uri("/").header(HOST, "127.0.0.1:5000");
        assert_eq!(status(&app, page, "").await, 200, "the page holds no data");
    }

    #[tokio::test]
    async fn token_query_parameters_are_not_passed_on() {
        let seen = Router::new()
            .route("/q", get(|uri: Uri| async move { uri.to_string() }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(Guard::new(&settings("127.0.0.1:1", Some("t0k")))),
                guard,
            ));
        let req = Request::builder()
            .uri("/q?db=x&u=me&p=t0k")
            .header(HOST, "127.0.0.1")
            .body(Body::empty())
            .unwrap();
        let response = seen.oneshot(req).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"/q?db=x");
    }

    #[test]
    fn digests_are_compared() {
        let g = Guard::new(&settings("127.0.0.1:1", Some("right")));
        assert!(g.token_matches("right"));
        assert!(!g.token_matches("wrong"));
        assert!(!g.token_matches(""));
        assert!(!g.token_matches("right "));
    }
}
