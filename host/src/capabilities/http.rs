//! `http`: outgoing HTTP/1.1 requests, granted per host, network or port.
//!
//! Written on a plain `TcpStream` rather than a client library because small
//! devices set the rules: the whole request (head and body) goes out in one
//! write (some read headers and body in a single `recv`), one request per
//! connection (`Connection: close`; they have few server threads), and every
//! status comes back with its body (a SOAP fault is an HTTP 500 whose body the
//! plugin needs). The response head is parsed by `httparse`.

use super::net_rule::{any_allows, canonical, may_allow, NetRule};
use super::{CallState, Grant};
use crate::wit::datalogger::plugin::http::{Header, Host, Request, Response};
use crate::wit::types::CapError;
use serde::{Deserialize, Serialize};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest response head; device heads are a few hundred bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest request body a plugin may send.
const MAX_REQUEST_BODY: usize = 1 << 20;

/// The grant `"http": ["192.168.1.0/24", "node.lan:80"]`: where `send` may
/// connect (rules in `net_rule.rs`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct HttpGrant(pub Vec<NetRule>);

impl Grant for HttpGrant {
    fn summary(&self) -> Vec<String> {
        match self.0.is_empty() {
            true => Vec::new(),
            false => vec![format!("http to {}", NetRule::list(&self.0))],
        }
    }
}

/// The config's `"http"` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Timeout of a request whose plugin gives none.
    pub timeout_ms: u64,
    /// Largest response body returned to a plugin.
    pub max_response_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_ms: 5000,
            max_response_bytes: 1 << 20,
        }
    }
}

impl HttpSettings {
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.timeout_ms < 1 {
            problems.push("\"http\": \"timeout_ms\" must be at least 1".into());
        }
        if self.max_response_bytes < 1024 {
            problems.push("\"http\": \"max_response_bytes\" must be at least 1024".into());
        }
        problems
    }
}

impl Host for CallState {
    fn send(&mut self, req: Request) -> Result<Response, CapError> {
        let target = Target::parse(&req)?;
        let label = format!("http {} {}", req.method, req.url);
        let addrs = self.waiting(|s| s.resolve_allowed(&target, &label))?;
        let timeout = self.remaining_for(req.timeout_ms, Duration::from_millis(self.caps.http.timeout_ms))?;
        let bytes = encode_request(&req, &target)?;
        let cap = self.caps.http.max_response_bytes;
        let head_only = req.method.eq_ignore_ascii_case("HEAD");
        self.waiting(|_| exchange(&addrs, &bytes, timeout, cap, head_only))
            .map_err(|e| e.into_cap_error(&label, timeout))
    }
}

impl CallState {
    /// Resolves the target and keeps the addresses the grant allows; the
    /// connection goes to one of exactly these addresses.
    fn resolve_allowed(&self, t: &Target, label: &str) -> Result<Vec<SocketAddr>, CapError> {
        let rules = &self.grants.http.0;
        // No name lookup for a target no rule could allow.
        if !may_allow(rules, &t.host, Some(t.port)) {
            return Err(self.not_granted(format!("http to {}:{}", t.host, t.port)));
        }
        let addrs: Vec<SocketAddr> = match t.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, t.port)],
            Err(_) => (t.host.as_str(), t.port)
                .to_socket_addrs()
                .map_err(|e| CapError::Unavailable(format!("{label}: cannot resolve {}: {e}", t.host)))?
                .collect(),
        };
        if let Some(own) = self
            .caps
            .own_api()
            .filter(|own| addrs.iter().any(|a| is_own_api(*own, *a)))
        {
            return Err(self.not_granted(format!(
                "http to {}:{} (the logger's own API at {own}, which no plugin may reach)",
                t.host, t.port
            )));
        }
        let allowed: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| any_allows(rules, &t.host, a.ip(), Some(t.port)))
            .collect();
        if allowed.is_empty() {
            let shown = match addrs.first() {
                Some(a) if a.ip().to_string() != t.host => format!("{}:{} ({})", t.host, t.port, a.ip()),
                _ => format!("{}:{}", t.host, t.port),
            };
            return Err(self.not_granted(format!("http to {shown}")));
        }
        Ok(allowed)
    }
}

/// Whether a connection to `target` would reach the API listening on `own`:
/// the same port, and the same address, or any of this machine's addresses
/// when the API listens on all of them (`0.0.0.0`, `[::]`).
fn is_own_api(own: SocketAddr, target: SocketAddr) -> bool {
    let (own_ip, ip) = (canonical(own.ip()), canonical(target.ip()));
    if own.port() != target.port() {
        return false;
    }
    // Connecting to 0.0.0.0 or [::] reaches this machine.
    if ip == own_ip || ip.is_unspecified() {
        return true;
    }
    // An address of this machine is one a socket can be bound to (no packet is sent).
    own_ip.is_unspecified() && (ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok())
}

/// Where a request goes, from its URL.
struct Target {
    host: String,
    port: u16,
    /// Path and query, as sent on the request line.
    path: String,
    /// The `Host` header value.
    authority: String,
}

impl Target {
    fn parse(req: &Request) -> Result<Target, CapError> {
        let invalid = |why: &str| CapError::Invalid(format!("{:?}: {why}", req.url));
        let url = url::Url::parse(&req.url).map_err(|e| invalid(&format!("not an absolute URL ({e})")))?;
        if url.scheme() != "http" {
            return Err(invalid("only http:// URLs are supported"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "credentials in the URL are not supported; send an Authorization header",
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("no host")),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let host_part = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(p) => format!("{host_part}:{p}"),
            None => host_part.to_string(),
        };
        Ok(Target {
            host,
            port,
            path,
            authority,
        })
    }
}

/// The whole request as one buffer. `Host`, `Content-Length` and `Connection`
/// are the host's; a plugin's own versions of them are dropped.
fn encode_request(req: &Request, t: &Target) -> Result<Vec<u8>, CapError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(&req.method) {
        return Err(CapError::Invalid(format!("{:?} is not an HTTP method", req.method)));
    }
    let body = req.body.as_deref().unwrap_or_default();
    if body.len() > MAX_REQUEST_BODY {
        return Err(CapError::Invalid(format!(
            "request body of {} bytes; at most {MAX_REQUEST_BODY}",
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(256 + body.len());
    write!(out, "{} {} HTTP/1.1\r\nHost: {}\r\n", req.method, t.path, t.authority).unwrap();
    for Header { name, value } in &req.headers {
        if !token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(CapError::Invalid(format!("header {name:?} is not a valid HTTP header")));
        }
        let reserved = ["host", "content-length", "connection", "transfer-encoding"];
        if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            continue;
        }
        write!(out, "{name}: {value}\r\n").unwrap();
    }
    if req.body.is_some()
        || ["POST", "PUT", "PATCH"]
            .iter()
            .any(|m| req.method.eq_ignore_ascii_case(m))
    {
        write!(out, "Content-Length: {}\r\n", body.len()).unwrap();
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

/// Why an exchange failed, before it is phrased for the plugin.
#[derive(Debug)]
enum Failure {
    Refused(String),
    /// No connection was established in time (host down or filtered).
    ConnectTimedOut,
    /// Connected, but the whole answer did not arrive in time.
    TimedOut,
    TooLarge(usize),
    Protocol(String),
    Io(String),
}

impl Failure {
    fn into_cap_error(self, label: &str, timeout: Duration) -> CapError {
        match self {
            Failure::Refused(m) => CapError::Unavailable(format!("{label}: {m}")),
            Failure::ConnectTimedOut => {
                CapError::Timeout(format!("{label}: could not connect within {} ms", timeout.as_millis()))
            }
            Failure::TimedOut => CapError::Timeout(format!("{label}: no complete answer within {} ms", timeout.as_millis())),
            Failure::TooLarge(cap) => CapError::Failed(format!(
                "{label}: response larger than {cap} bytes (raise \"http\": {{\"max_response_bytes\": ...}} in the config)"
            )),
            Failure::Protocol(m) => CapError::Failed(format!("{label}: bad HTTP response: {m}")),
            Failure::Io(m) => CapError::Failed(format!("{label}: {m}")),
        }
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Failure::TimedOut,
        ErrorKind::ConnectionRefused => Failure::Refused("connection refused".into()),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Failure::Refused(e.to_string()),
        _ => Failure::Io(e.to_string()),
    }
}

/// Connects, writes the request in one go and reads the whole response, all
/// within `timeout`.
fn exchange(
    addrs: &[SocketAddr],
    request: &[u8],
    timeout: Duration,
    cap: usize,
    head_only: bool,
) -> Result<Response, Failure> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut last = Failure::Refused("no address to connect to".into());
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, left()) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => {
                last = match io_failure(e) {
                    Failure::TimedOut => Failure::ConnectTimedOut,
                    other => other,
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Failure::ConnectTimedOut);
        }
    }
    let mut stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    stream.set_write_timeout(Some(left())).map_err(io_failure)?;
    stream.write_all(request).map_err(io_failure)?;

    let mut reader = DeadlineReader {
        stream,
        deadline,
        buf: Vec::with_capacity(4096),
        eof: false,
    };
    // The head.
    let (status, headers, head_len) = loop {
        let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut parsed_headers);
        match resp.parse(&reader.buf) {
            Ok(httparse::Status::Complete(n)) => {
                let status = resp.code.unwrap_or(0);
                let headers: Vec<Header> = resp
                    .headers
                    .iter()
                    .map(|h| Header {
                        name: h.name.to_string(),
                        value: String::from_utf8_lossy(h.value).into_owned(),
                    })
                    .collect();
                // 1xx answers precede the real one.
                if (100..200).contains(&status) {
                    reader.buf.drain(..n);
                    continue;
                }
                break (status, headers, n);
            }
            Ok(httparse::Status::Partial) => {
                if reader.buf.len() > MAX_HEAD_BYTES {
                    return Err(Failure::Protocol(format!("response head over {MAX_HEAD_BYTES} bytes")));
                }
                if reader.fill()? == 0 {
                    return Err(Failure::Protocol(
                        "connection closed before the response head was complete".into(),
                    ));
                }
            }
            Err(e) => return Err(Failure::Protocol(e.to_string())),
        }
    };
    reader.buf.drain(..head_len);

    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim())
    };
    let body = if head_only || status == 204 || status == 304 {
        Vec::new()
    } else if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        reader.read_chunked(cap)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| Failure::Protocol(format!("Content-Length {len:?} is not a number")))?;
        if len > cap {
            return Err(Failure::TooLarge(cap));
        }
        reader.read_exact_len(len)?
    } else {
        reader.read_to_end(cap)?
    };
    Ok(Response { status, headers, body })
}

/// Reads from the stream into `buf`, every read bounded by the one deadline.
struct DeadlineReader {
    stream: TcpStream,
    deadline: Instant,
    buf: Vec<u8>,
    eof: bool,
}

impl DeadlineReader {
    /// Reads once more; 0 at end of stream.
    fn fill(&mut self) -> Result<usize, Failure> {
        if self.eof {
            return Ok(0);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::TimedOut);
        }
        self.stream.set_read_timeout(Some(left)).map_err(io_failure)?;
        let mut chunk = [0u8; 16 * 1024];
        let n = loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // A device that resets instead of closing after its answer.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break 0,
                Err(e) => return Err(io_failure(e)),
            }
        };
        self.eof = n == 0;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn read_exact_len(&mut self, len: usize) -> Result<Vec<u8>, Failure> {
        while self.buf.len() < len {
            if self.fill()? == 0 {
                return Err(Failure::Protocol(format!(
                    "connection closed after {} of {len} body bytes",
                    self.buf.len()
                )));
            }
        }
        self.buf.truncate(len);
        Ok(std::mem::take(&mut self.buf))
    }

    fn read_to_end(&mut self, cap: usize) -> Result<Vec<u8>, Failure> {
        while self.fill()? > 0 {
            if self.buf.len() > cap {
                return Err(Failure::TooLarge(cap));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// Decodes `Transfer-Encoding: chunked` (trailers are read and dropped).
    fn read_chunked(&mut self, cap: usize) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let line_end = self.line_at(pos)?;
            let line = std::str::from_utf8(&self.buf[pos..line_end]).unwrap_or("");
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| Failure::Protocol(format!("bad chunk size {size_text:?}")))?;
            pos = line_end + 2;
            if size == 0 {
                return Ok(body);
            }
            if body.len() + size > cap {
                return Err(Failure::TooLarge(cap));
            }
            while self.buf.len() < pos + size + 2 {
                if self.fill()? == 0 {
                    return Err(Failure::Protocol("connection closed inside a chunk".into()));
                }
            }
            body.extend_from_slice(&self.buf[pos..pos + size]);
            pos += size + 2;
        }
    }

    /// The index of the next CRLF at or after `from`, reading as needed.
    fn line_at(&mut self, from: usize) -> Result<usize, Failure> {
        loop {
            if let Some(i) = self
                .buf
                .get(from..)
                .and_then(|b| b.windows(2).position(|w| w == b"\r\n"))
            {
                return Ok(from + i);
            }
            if self.buf.len() - from.min(self.buf.len()) > MAX_HEAD_BYTES {
                return Err(Failure::Protocol("chunk header too long".into()));
            }
            if self.fill()? == 0 {
                return Err(Failure::Protocol("connection closed inside the chunked body".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A one-shot server: records what it got in one read, answers `answer`.
    fn serve(answer: &'static [u8]) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            // One read: the request must arrive whole.
            thread::sleep(Duration::from_millis(50));
            let mut buf = vec![0u8; 65536];
            let n = s.read(&mut buf).unwrap();
            s.write_all(answer).unwrap();
            buf.truncate(n);
            buf
        });
        (addr, h)
    }

    fn request(url: &str, body: Option<&[u8]>) -> Request {
        Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![Header {
                name: "SOAPACTION".into(),
                value: "\"urn:x#Get\"".into(),
            }],
            body: body.map(|b| b.to_vec()),
            timeout_ms: None,
        }
    }

    fn run(addr: SocketAddr, req: &Request) -> Result<Response, Failure> {
        let t = Target::parse(req).map_err(|e| Failure::Io(format!("{e:?}")))?;
        let bytes = encode_request(req, &t).unwrap();
        exchange(&[addr], &bytes, Duration::from_secs(5), 1 << 20, false)
    }

    #[test]
    fn request_goes_out_in_one_piece_and_500_comes_back_with_body() {
        let (addr, h) = serve(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nfault");
        let req = request(&format!("http://{addr}/upnp/control?x=1"), Some(b"<body/>"));
        let resp = run(addr, &req).unwrap();
        assert_eq!(resp.status, 500);
        assert_eq!(resp.body, b"fault");
        let got = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(got.starts_with("POST /upnp/control?x=1 HTTP/1.1\r\n"), "{got}");
        assert!(got.contains("SOAPACTION: \"urn:x#Get\"\r\n"));
        assert!(
            got.contains("Content-Length: 7\r\nConnection: close\r\n\r\n<body/>"),
            "{got}"
        );
    }

    #[test]
    fn chunked_and_close_delimited_bodies() {
        let (addr, _h) =
            serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n");
        assert_eq!(
            run(addr, &request(&format!("http://{addr}/"), None)).unwrap().body,
            b"abcdefg"
        );
        let (addr, _h) = serve(b"HTTP/1.0 200 OK\r\n\r\nuntil close");
        assert_eq!(
            run(addr, &request(&format!("http://{addr}/"), None)).unwrap().body,
            b"until close"
        );
    }

    #[test]
    fn refused_and_oversized_and_timeout() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert!(matches!(
            run(addr, &request(&format!("http://{addr}/"), None)),
            Err(Failure::Refused(_))
        ));

        let (addr, _h) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 9999999\r\n\r\n");
        assert!(matches!(
            run(addr, &request(&format!("http://{addr}/"), None)),
            Err(Failure::TooLarge(_))
        ));

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let _keep = thread::spawn(move || {
            let (_s, _) = l.accept().unwrap();
            thread::sleep(Duration::from_secs(3));
        });
        let req = request(&format!("http://{addr}/"), None);
        let t = Target::parse(&req).unwrap();
        let bytes = encode_request(&req, &t).unwrap();
        let r = exchange(&[addr], &bytes, Duration::from_millis(200), 1024, false);
        assert!(matches!(r, Err(Failure::TimedOut)), "{r:?}");
    }

    #[test]
    fn the_loggers_own_api_is_recognised_on_every_address_it_listens_on() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        let own = at("127.0.0.1:5000");
        assert!(is_own_api(own, at("127.0.0.1:5000")));
        assert!(is_own_api(own, at("[::ffff:127.0.0.1]:5000")));
        assert!(is_own_api(own, at("0.0.0.0:5000")), "0.0.0.0 connects to this machine");
        assert!(
            !is_own_api(own, at("127.0.0.1:5001")),
            "other loopback ports stay reachable"
        );
        assert!(
            !is_own_api(own, at("127.0.0.2:5000")),
            "not where a 127.0.0.1 listener answers"
        );
        let all = at("0.0.0.0:5000");
        assert!(is_own_api(all, at("127.0.0.2:5000")));
        assert!(is_own_api(at("[::]:5000"), at("[::1]:5000")));
        assert!(
            !is_own_api(all, at("192.0.2.1:5000")),
            "a TEST-NET address is not this machine's"
        );
    }

    #[test]
    fn bad_requests_are_invalid() {
        for url in ["https://x/", "ftp://x/", "/relative", "http://user:pw@x/"] {
            assert!(
                matches!(Target::parse(&request(url, None)), Err(CapError::Invalid(_))),
                "{url}"
            );
        }
        let mut req = request("http://x/", None);
        req.headers[0].value = "a\r\nInjected: yes".into();
        let t = Target::parse(&req).unwrap();
        assert!(matches!(encode_request(&req, &t), Err(CapError::Invalid(_))));
    }
}
