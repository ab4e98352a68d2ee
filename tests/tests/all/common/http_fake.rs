//! A fake HTTP/1.1 server on loopback for the tests of plugins that talk to
//! devices over HTTP: one request per connection (read the head and a
//! `Content-Length` body, answer, close), answered by a handler the test
//! gives, every request recorded. The server stops accepting when dropped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request head larger than this is dropped unanswered.
const MAX_HEAD: usize = 64 * 1024;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The local port it arrived on.
    pub port: u16,
    pub method: String,
    /// The request target, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// Parses a request line and header lines (no body), e.g. a whole SSDP
    /// datagram; `None` without a method and target.
    pub fn from_head(head: &str, port: u16) -> Option<Request> {
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split(' ');
        let (method, path) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(Request {
            port,
            method,
            path,
            headers,
            body: String::new(),
        })
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the server answers: the status line, these header lines as they are,
/// the body; after waiting `delay`.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Response {
    /// With `Content-Length`, `Content-Type` and `Connection: close`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        let headers = [
            ("Content-Type", content_type),
            ("Content-Length", ""),
            ("Connection", "close"),
        ];
        Response::raw(status, &headers, body)
    }

    /// With `Content-Length` and `Connection: close` only (no `Content-Type`).
    pub fn bare(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::raw(status, &[("Content-Length", ""), ("Connection", "close")], body)
    }

    /// Exactly these header lines; a `Content-Length` among them (any case,
    /// any value) is set to the body's length, here and by [`Response::set_body`].
    pub fn raw(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Response {
        let mut response = Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: Vec::new(),
            delay: Duration::ZERO,
        };
        response.set_body(body);
        response
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Response {
        self.delay = delay;
        self
    }

    /// Replaces the body, keeping `Content-Length` right.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.body = body.into();
        for (name, value) in &mut self.headers {
            if name.eq_ignore_ascii_case("content-length") {
                *value = self.body.len().to_string();
            }
        }
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The bytes on the wire.
    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            206 => "Partial Content",
            404 => "Not Found",
            500 => "Internal Server Error",
            _ => "Other",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!(
                "{name}:{}{value}\r\n",
                if value.is_empty() { "" } else { " " }
            ));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one request: the head, then as many body bytes as `Content-Length`
/// says. `None` if the peer stops sending first or the head is too large.
pub fn read_request(stream: &mut TcpStream, port: u16) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if data.len() > MAX_HEAD {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let mut request = Request::from_head(&String::from_utf8_lossy(&data[..head_end]), port)?;
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    request.body = String::from_utf8_lossy(&body).into_owned();
    Some(request)
}

/// Every request received, in order; shared by servers that should count
/// together (a device that moves to another port).
#[derive(Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Request>>>);

impl RequestLog {
    pub fn all(&self) -> Vec<Request> {
        self.0.lock().unwrap().clone()
    }
}

/// How a server answers a request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A listening server; stops accepting connections when dropped (requests
/// being answered are finished).
pub struct HttpFake {
    port: u16,
    log: RequestLog,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HttpFake {
    /// On any free port.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> HttpFake {
        HttpFake::listen(0, RequestLog::default(), Arc::new(handler)).unwrap()
    }

    /// On 127.0.0.1:`port` (0: any free port), recording into `log`; `None`
    /// if the port is taken.
    pub fn listen(port: u16, log: RequestLog, handler: Handler) -> Option<HttpFake> {
        let socket = TcpListener::bind(("127.0.0.1", port)).ok()?;
        let port = socket.local_addr().unwrap().port();
        socket.set_nonblocking(true).unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, counted, stopped) = (log.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match socket.accept() {
                    Ok((stream, _)) => {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let (seen, handler) = (seen.clone(), handler.clone());
                        std::thread::spawn(move || serve(stream, port, &seen, &*handler));
                    }
                    // WouldBlock: nobody is connecting; anything else: try again.
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // Dropping `socket` here closes the port.
        });
        Some(HttpFake {
            port,
            log,
            connections,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.all()
    }

    /// Connections accepted, whether or not a whole request came.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for HttpFake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request, records it, waits the response's delay, answers, and
/// closes the connection.
fn serve(mut stream: TcpStream, port: u16, log: &RequestLog, handler: &(dyn Fn(&Request) -> Response + Send + Sync)) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&mut stream, port) else {
        return;
    };
    log.0.lock().unwrap().push(request.clone());
    let response = handler(&request);
    if !response.delay.is_zero() {
        std::thread::sleep(response.delay);
    }
    let _ = stream.write_all(&response.to_bytes());
}

/// Responses by request path, changed by the test while the server runs.
#[derive(Clone, Default)]
pub struct Routes(Arc<Mutex<HashMap<String, Response>>>);

impl Routes {
    pub fn set(&self, path: &str, response: Response) {
        self.0.lock().unwrap().insert(path.to_owned(), response);
    }

    /// Changes the response at `path` (which must be set).
    pub fn update(&self, path: &str, change: impl FnOnce(&mut Response)) {
        change(self.0.lock().unwrap().get_mut(path).expect("no route to update"));
    }

    /// The response at `path`, else a plain-text 404.
    pub fn answer(&self, path: &str) -> Response {
        let routes = self.0.lock().unwrap();
        routes
            .get(path)
            .cloned()
            .unwrap_or_else(|| Response::new(404, "text/plain", "404 Not Found"))
    }
}
