//! Outgoing HTTP/1.1 requests through the host (capability `http`, granted per
//! host, network or port: `"plugins": {"<name>": {"http": ["10.0.0.0/8"]}}`).
//!
//! ```no_run
//! use datalogger_sdk::{http, Context, SampleError};
//!
//! fn status(url: &str) -> Result<u16, SampleError> {
//!     let resp = http::Request::get(url)
//!         .header("Accept", "text/plain")
//!         .timeout_ms(2000)
//!         .send()
//!         .with_context(|| format!("cannot fetch {url}"))?;
//!     Ok(resp.status)
//! }
//! ```

use crate::CapError;

/// An HTTP request; build it with [`Request::get`], [`Request::post`] or
/// [`Request::new`], then [`Request::send`] it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute `http://` URL.
    pub url: String,
    /// Headers as (name, value), sent in this order. The host adds
    /// `Connection: close` (and `Host`, `Content-Length` as needed).
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Whole-request timeout; `None` means the host's default (`http.timeout_ms`, 5 s).
    pub timeout_ms: Option<u32>,
}

impl Request {
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the whole-request timeout.
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// Sends the request through the host. See [`send`].
    pub fn send(&self) -> Result<Response, CapError> {
        send(self)
    }
}

/// A response; the host returns one for every status code, 4xx and 5xx included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Headers as (name, value), as the server sent them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends `req` through the host. Errors: not granted → [`CapError::NotGranted`];
/// refused, unreachable or unknown host → [`CapError::Unavailable`]; no answer
/// within the timeout → [`CapError::Timeout`]; a body over the host's
/// `max_response_bytes` → [`CapError::Failed`]; a bad URL → [`CapError::Invalid`].
pub fn send(req: &Request) -> Result<Response, CapError> {
    crate::sys::http_send(req)
}

/// `GET url` with the host's default timeout.
pub fn get(url: &str) -> Result<Response, CapError> {
    send(&Request::get(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_builder() {
        let r = Request::post("http://10.0.0.1/upnp")
            .header("SOAPACTION", "\"x\"")
            .header("Content-Type", "text/xml")
            .body("<x/>")
            .timeout_ms(3000);
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "http://10.0.0.1/upnp");
        assert_eq!(r.headers[1], ("Content-Type".into(), "text/xml".into()));
        assert_eq!(r.body.as_deref(), Some(&b"<x/>"[..]));
        assert_eq!(r.timeout_ms, Some(3000));
        assert_eq!(Request::get("http://a/").timeout_ms, None);
    }

    #[test]
    fn response_helpers() {
        let r = Response {
            status: 404,
            headers: vec![
                ("Content-Type".into(), "text/html".into()),
                ("content-type".into(), "x".into()),
            ],
            body: b"not \xff found".to_vec(),
        };
        assert_eq!(r.header("CONTENT-TYPE"), Some("text/html"));
        assert_eq!(r.header("Range"), None);
        assert_eq!(r.text(), "not \u{fffd} found");
        assert!(!r.is_success());
        assert!(Response {
            status: 204,
            ..Default::default()
        }
        .is_success());
    }

    #[test]
    fn natively_the_capability_is_unavailable() {
        assert!(matches!(get("http://127.0.0.1/"), Err(CapError::Unavailable(_))));
    }
}
