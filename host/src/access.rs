//! Who may use which part of the REST API: the route groups a token policy
//! names (`api.without_token`), which group a request belongs to, and the
//! spelling of the origins and host names the `"api"` section lists. A leaf,
//! so the config can check these settings and `api::auth` enforce them.

use axum::http::Method;
use serde::Deserialize;
use std::fmt;

/// A part of the API with one token policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteGroup {
    /// Changes what the logger does: item create/change/delete, plugin reload.
    /// Always needs the token when one is set.
    Manage,
    /// Reads state and data: `GET /items/…`, `/plugins`, `/outputs`, `/health`,
    /// samples, and queries.
    Read,
    /// Pushes readings in (the InfluxDB-compatible intake).
    Write,
}

impl RouteGroup {
    pub const ALL: [RouteGroup; 3] = [RouteGroup::Manage, RouteGroup::Read, RouteGroup::Write];
}

impl fmt::Display for RouteGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteGroup::Manage => "manage",
            RouteGroup::Read => "read",
            RouteGroup::Write => "write",
        })
    }
}

/// Where InfluxDB clients push line protocol (v1 and v2), and IoT devices
/// their readings; `POST /ingest/…` (payloads for a decoder) is in the same group.
const INTAKE_PATHS: [&str; 3] = ["/write", "/api/v2/write", "/devicedata"];
/// Where InfluxDB clients query; Grafana sends its queries as POST.
const QUERY_PATHS: [&str; 2] = ["/query", "/api/v2/query"];

/// The group of a request. A path not listed here is `read` for GET and HEAD
/// and `manage` for every other method, so a new route that changes anything
/// needs the token until it is placed otherwise.
pub fn route_group(method: &Method, path: &str) -> RouteGroup {
    if INTAKE_PATHS.contains(&path) || (path.starts_with("/ingest/") && method == Method::POST) {
        RouteGroup::Write
    } else if QUERY_PATHS.contains(&path) || is_safe(method) {
        RouteGroup::Read
    } else {
        RouteGroup::Manage
    }
}

/// Methods that change nothing (RFC 9110 "safe").
pub fn is_safe(method: &Method) -> bool {
    [Method::GET, Method::HEAD, Method::OPTIONS].contains(method)
}

/// An origin as browsers send it (`http://host[:port]`, default port left
/// out, lower case), or why `text` is not one.
pub fn normalize_origin(text: &str) -> Result<String, String> {
    let hint =
        || format!("{text:?} is not an origin; write scheme, host and port only, e.g. \"http://grafana.lan:3000\"");
    let url = url::Url::parse(text).map_err(|_| hint())?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    if !["http", "https"].contains(&url.scheme()) || url.host().is_none() || !bare || !plain || text.ends_with('/') {
        return Err(hint());
    }
    Ok(url.origin().ascii_serialization())
}

/// A host name as compared with `Host` headers: lower case, no trailing dot;
/// or why `text` is not one.
pub fn normalize_hostname(text: &str) -> Result<String, String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    match valid {
        true => Ok(name),
        false => Err(format!(
            "{text:?} is not a host name; list names without port or scheme, e.g. \"logger.lan\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_into_their_groups() {
        use RouteGroup::*;
        let cases = [
            (Method::GET, "/items/", Read),
            (Method::HEAD, "/health", Read),
            (Method::GET, "/items/x/samples", Read),
            (Method::POST, "/items/", Manage),
            (Method::PUT, "/items/x", Manage),
            (Method::DELETE, "/items/x", Manage),
            (Method::POST, "/plugins/reload", Manage),
            (Method::PATCH, "/not/yet/a/route", Manage),
            (Method::POST, "/write", Write),
            (Method::POST, "/api/v2/write", Write),
            (Method::POST, "/ingest/isems", Write),
            (Method::GET, "/ingest/isems", Read),
            (Method::POST, "/query", Read),
        ];
        for (method, path, group) in cases {
            assert_eq!(route_group(&method, path), group, "{method} {path}");
        }
    }

    #[test]
    fn origins_and_names_are_normalised_or_refused() {
        assert_eq!(
            normalize_origin("HTTP://Grafana.LAN:3000").unwrap(),
            "http://grafana.lan:3000"
        );
        assert_eq!(normalize_origin("http://x.lan:80").unwrap(), "http://x.lan");
        assert_eq!(normalize_origin("https://[::1]:8443").unwrap(), "https://[::1]:8443");
        for bad in [
            "grafana.lan",
            "http://x.lan/",
            "http://x.lan/path",
            "ftp://x",
            "*",
            "null",
            "http://u:p@x",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_hostname("Logger.LAN.").unwrap(), "logger.lan");
        for bad in ["", "logger.lan:5000", "http://x", "a b"] {
            assert!(normalize_hostname(bad).is_err(), "{bad}");
        }
    }
}
