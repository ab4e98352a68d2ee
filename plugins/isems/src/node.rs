//! One poll of one node, free of the WIT bindings: the argument, which URLs
//! to fetch and what their answers mean, and the points that come out. The
//! component supplies the HTTP call as a closure, so all of this is
//! unit-tested natively with canned answers.

use crate::parse::{parse_log, quote, LogParse, Value};

/// Routers (and ESP32 v1 firmware, which answers any `.log` path).
pub const LOG_PATH: &str = "/ISEMS/ffopenmppt.log";
/// ESP32 v2 firmware; its other paths answer with an HTML page.
pub const CSV_PATH: &str = "/csv.log";
/// Newest lines parsed per poll: 12 hours at one line a minute. A point with
/// status flags is about 750 bytes as the host counts a result, so this stays
/// well below the host's default 1 MiB result cap (1440 lines would not).
pub const MAX_LINES: usize = 720;
/// Only the tail of the log is asked for (`Range: bytes=-N`), enough for
/// `MAX_LINES` lines of up to ~360 bytes; a server that ignores Range sends
/// the whole file, which must then fit the host's `http.max_response_bytes`.
pub const RANGE_BYTES: usize = 256 * 1024;
pub const MEASUREMENT: &str = "isems";
pub const POLL_MEASUREMENT: &str = "isems_poll";
const EXPECTED: &str =
    "expected the node as host[:port] (default port 80), e.g. \"10.0.0.5\", \"node.lan:8080\" or \"[fd00::5]:80\"; no scheme, no path";

/// Why a poll produced nothing; maps onto the WIT `sample-error` (a bad
/// argument is caught earlier, by [`parse_node`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Unavailable(String),
    Timeout(String),
    Failed(String),
}

/// The node an item polls.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Host name, IPv4 address, or IPv6 address without brackets.
    pub host: String,
    pub port: u16,
}

impl Node {
    /// `host:port`, IPv6 in brackets: the form used in URLs, tags and messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.authority(), path)
    }
}

/// Parses the item's arg: `host`, `host:port`, `[v6]` or `[v6]:port`.
pub fn parse_node(arg: Option<&str>) -> Result<Node, String> {
    let Some(raw) = arg else {
        return Err(format!("isems.node needs an arg: {EXPECTED}"));
    };
    let text = raw.trim();
    let bad = || format!("bad node {raw:?}: {EXPECTED}");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        let v6_ok = v6.contains(':') && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !v6_ok {
            return Err(bad());
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
        };
        (v6, port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let host_ok = !host.is_empty()
            && !host.starts_with(['-', '.'])
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !host_ok {
            return Err(bad());
        }
        (host, port)
    };
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(bad()),
        },
        Some(_) => return Err(bad()),
    };
    Ok(Node {
        host: host.to_string(),
        port,
    })
}

/// An HTTP answer as the host's `http` capability returns it.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// An HTML page rather than a log: `text/html`, or a body that starts
    /// with `<` or has `<html` near its start. (Only near the start: a log
    /// with one HTML garbage line in it is still a log.)
    pub fn looks_like_html(&self) -> bool {
        if self
            .header("content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"))
        {
            return true;
        }
        let head = &self.body[..self.body.len().min(1024)];
        let head = String::from_utf8_lossy(head).to_ascii_lowercase();
        let head = head.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
        head.starts_with('<') || head.contains("<html")
    }

    /// The body as text. For a partial answer (206) that does not start at
    /// byte 0, the first, cut-off line is dropped.
    pub fn log_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if self.status == 206 && self.range_start() != Some(0) {
            return match text.split_once('\n') {
                Some((_, rest)) => rest.to_string(),
                None => String::new(),
            };
        }
        text.into_owned()
    }

    /// First byte of `Content-Range: bytes START-END/TOTAL`.
    fn range_start(&self) -> Option<u64> {
        let value = self.header("content-range")?;
        let spec = value.strip_prefix("bytes")?.trim_start();
        spec.split('-').next()?.trim().parse().ok()
    }
}

/// The headers every request carries: only the tail of the log is needed.
pub fn request_headers() -> Vec<(String, String)> {
    vec![("Range".into(), format!("bytes=-{RANGE_BYTES}"))]
}

/// A point as the component hands it to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: &'static str,
    pub tags: Vec<(&'static str, String)>,
    pub fields: Vec<(&'static str, Value)>,
    /// `None`: the host stamps it with the tick time.
    pub timestamp_ns: Option<i64>,
}

/// What a successful poll returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// The `isems_poll` summary first, then one `isems` point per good line,
    /// oldest first, so the newest reading is the item's last sample.
    pub points: Vec<Point>,
    /// A summary of skipped lines for the host log (warn), if any were skipped.
    pub warning: Option<String>,
}

/// Fetches and parses the node's log. `get(url)` performs one GET with
/// [`request_headers`] and maps transport failures to an [`Error`].
pub fn poll(node: &Node, mut get: impl FnMut(&str) -> Result<Response, Error>) -> Result<Poll, Error> {
    let name = node.authority();
    let log_url = node.url(LOG_PATH);
    let first = get(&log_url)?;
    let first_html = first.looks_like_html();
    if first.is_success() {
        let parsed = parse_log(&first.log_text(), MAX_LINES);
        if !parsed.readings.is_empty() {
            return Ok(finish(node, &log_url, parsed));
        }
        if !first_html {
            return Err(nothing_usable(&name, &log_url, &parsed));
        }
    } else if first.status == 404 && !first_html {
        return Err(rotating(&name, &log_url));
    } else if first.status == 416 {
        // A suffix range of an empty file.
        return Err(nothing_usable(&name, &log_url, &LogParse::default()));
    } else if !(first.status == 404 && first_html) {
        return Err(bad_status(&name, &log_url, &first));
    }

    // An HTML page (ESP32 v2 firmware): its log is at /csv.log.
    let csv_url = node.url(CSV_PATH);
    let second = get(&csv_url)?;
    if second.is_success() {
        let parsed = parse_log(&second.log_text(), MAX_LINES);
        if !parsed.readings.is_empty() {
            return Ok(finish(node, &csv_url, parsed));
        }
        if second.looks_like_html() {
            return Err(Error::Failed(format!(
                "ISEMS node {name} answered both {LOG_PATH} and {CSV_PATH} with an HTML page, not a log; \
                 is this an ISEMS node (router or ESP32 firmware)?"
            )));
        }
        return Err(nothing_usable(&name, &csv_url, &parsed));
    }
    if second.status == 404 && first.status == 404 {
        return Err(rotating(&name, &log_url));
    }
    if second.status == 404 {
        return Err(Error::Unavailable(format!(
            "ISEMS node {name} answered {LOG_PATH} with an HTML page (ESP32 v2 firmware?) \
             but has no {CSV_PATH} either (HTTP 404)"
        )));
    }
    if second.status == 416 {
        return Err(nothing_usable(&name, &csv_url, &LogParse::default()));
    }
    Err(bad_status(&name, &csv_url, &second))
}

fn rotating(name: &str, url: &str) -> Error {
    Error::Unavailable(format!(
        "ISEMS node {name} has no log at {url} right now (HTTP 404); routers briefly remove the log \
         while rotating it, so the next poll should work; if this persists, check that the node writes \
         {LOG_PATH}"
    ))
}

fn bad_status(name: &str, url: &str, resp: &Response) -> Error {
    let body = String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)]).into_owned();
    let msg = format!(
        "ISEMS node {name} answered HTTP {} for {url}: {}",
        resp.status,
        quote(body.trim())
    );
    if resp.status >= 500 || resp.status == 408 || resp.status == 429 {
        Error::Unavailable(msg)
    } else {
        Error::Failed(msg)
    }
}

/// No good line at all: say why, with the newest bad line's reason.
fn nothing_usable(name: &str, url: &str, parsed: &LogParse) -> Error {
    let Some(newest) = parsed.skipped.last() else {
        return Error::Unavailable(format!(
            "ISEMS node {name} served an empty log at {url}; it has not logged anything yet"
        ));
    };
    let n = parsed.skipped.len();
    let all_unsynced = parsed.skipped.iter().all(|s| s.reason.contains("before 2001"));
    if all_unsynced {
        return Error::Unavailable(format!(
            "ISEMS node {name}: all {n} lines of {url} carry timestamps before 2001, so the node's clock \
             is not set yet (ESP nodes before time sync); e.g. line {}: {}",
            newest.line, newest.reason
        ));
    }
    Error::Failed(format!(
        "ISEMS node {name}: none of the {n} lines of {url} is a valid ISEMS log line (18 or 19 \
         ';'-separated fields); the newest, line {}: {}",
        newest.line, newest.reason
    ))
}

fn finish(node: &Node, url: &str, parsed: LogParse) -> Poll {
    let warning = parsed.skipped.last().map(|newest| {
        let first = &parsed.skipped[0];
        let mut msg = format!(
            "ISEMS node {}: skipped {} of {} lines of {url} (line {}: {})",
            node.authority(),
            parsed.skipped.len(),
            parsed.lines - parsed.truncated,
            first.line,
            first.reason
        );
        if parsed.skipped.len() > 1 {
            msg.push_str(&format!("; newest skipped, line {}: {}", newest.line, newest.reason));
        }
        msg
    });
    let count = |n: usize| Value::Int(n as i64);
    let mut points = Vec::with_capacity(parsed.readings.len() + 1);
    points.push(Point {
        measurement: POLL_MEASUREMENT,
        tags: vec![("node", node.authority())],
        fields: vec![
            ("samples", count(parsed.readings.len())),
            ("skipped", count(parsed.skipped.len())),
            ("lines", count(parsed.lines)),
            ("truncated", count(parsed.truncated)),
        ],
        timestamp_ns: None,
    });
    points.extend(parsed.readings.into_iter().map(|r| Point {
        measurement: MEASUREMENT,
        timestamp_ns: Some(r.timestamp_ns()),
        tags: vec![("nodeId", r.node_id)],
        fields: r.fields,
    }));
    Poll { points, warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "Elektra-Dach-Neu;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635;300";

    fn node(arg: &str) -> Result<Node, String> {
        parse_node(Some(arg))
    }

    #[test]
    fn node_arguments() {
        let n = node("10.0.0.5").unwrap();
        assert_eq!((n.host.as_str(), n.port), ("10.0.0.5", 80));
        assert_eq!(n.url(LOG_PATH), "http://10.0.0.5:80/ISEMS/ffopenmppt.log");
        let n = node(" node-3.lan:8080 ").unwrap();
        assert_eq!((n.host.as_str(), n.port), ("node-3.lan", 8080));
        let n = node("[fd00::5]:81").unwrap();
        assert_eq!((n.host.as_str(), n.port), ("fd00::5", 81));
        assert_eq!(n.url(CSV_PATH), "http://[fd00::5]:81/csv.log");
        assert_eq!(node("[::1]").unwrap().authority(), "[::1]:80");
        assert_eq!(node("127.0.0.1:65535").unwrap().port, 65535);
    }

    #[test]
    fn bad_node_arguments_show_the_expected_form() {
        let err = parse_node(None).unwrap_err();
        assert!(err.contains("host[:port]"), "{err}");
        for bad in [
            "",
            "  ",
            "http://10.0.0.5",
            "10.0.0.5/ISEMS",
            "10.0.0.5:",
            "10.0.0.5:0",
            "10.0.0.5:65536",
            "10.0.0.5:80x",
            "10.0.0.5:+80",
            "fd00::5",
            "[fd00::5",
            "[fd00::5]80",
            "[]:80",
            "[zz::1]",
            "node lan",
            "-node",
            ":80",
        ] {
            let err = node(bad).expect_err(bad);
            assert!(
                err.contains("host[:port]") && err.contains(&format!("{bad:?}")),
                "{bad:?}: {err}"
            );
        }
    }

    fn resp(status: u16, ct: &str, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), ct.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Runs a poll against canned answers per path; records the URLs asked for.
    fn run(answers: &[(&str, Result<Response, Error>)]) -> (Result<Poll, Error>, Vec<String>) {
        let mut asked = Vec::new();
        let n = node("10.0.0.5").unwrap();
        let out = poll(&n, |url| {
            asked.push(url.to_string());
            let path = url.strip_prefix("http://10.0.0.5:80").unwrap();
            answers
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| Ok(resp(404, "text/plain", "not found")))
        });
        (out, asked)
    }

    fn isems_points(poll: &Poll) -> Vec<&Point> {
        poll.points.iter().filter(|p| p.measurement == MEASUREMENT).collect()
    }

    #[test]
    fn router_log_gives_one_point_per_good_line() {
        let log = format!("{LINE}\ngarbage\n{}\n", LINE.replace("1530364575", "1530364635"));
        let (out, asked) = run(&[(LOG_PATH, Ok(resp(200, "application/octet-stream", &log)))]);
        let poll = out.unwrap();
        assert_eq!(asked, ["http://10.0.0.5:80/ISEMS/ffopenmppt.log"]);
        let summary = &poll.points[0];
        assert_eq!(summary.measurement, POLL_MEASUREMENT);
        assert_eq!(summary.timestamp_ns, None);
        assert_eq!(summary.tags, vec![("node", "10.0.0.5:80".to_string())]);
        assert_eq!(
            summary.fields,
            vec![
                ("samples", Value::Int(2)),
                ("skipped", Value::Int(1)),
                ("lines", Value::Int(3)),
                ("truncated", Value::Int(0)),
            ]
        );
        let points = isems_points(&poll);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].timestamp_ns, Some(1_530_364_575_000_000_000));
        assert_eq!(points[1].timestamp_ns, Some(1_530_364_635_000_000_000));
        assert_eq!(points[1].tags, vec![("nodeId", "Elektra-Dach-Neu".to_string())]);
        assert_eq!(points[1].fields[0], ("batteryVoltage", Value::Float(14.073)));
        // The newest reading is last, so it becomes the item's last sample.
        assert_eq!(poll.points.last().unwrap(), points[1]);
        let warning = poll.warning.unwrap();
        assert!(
            warning.contains("skipped 1 of 3 lines") && warning.contains("line 2"),
            "{warning}"
        );
    }

    #[test]
    fn clean_log_has_no_warning() {
        let (out, _) = run(&[(LOG_PATH, Ok(resp(200, "text/plain", &format!("{LINE}\r\n"))))]);
        assert_eq!(out.unwrap().warning, None);
    }

    #[test]
    fn html_answer_falls_back_to_csv_log() {
        let page = "<!DOCTYPE html><html><body>ISEMS ESP32</body></html>";
        for first in [
            resp(200, "text/html", page),
            resp(200, "", page),
            resp(404, "text/html", page),
        ] {
            let (out, asked) = run(&[
                (LOG_PATH, Ok(first)),
                (CSV_PATH, Ok(resp(200, "text/plain", &format!("{LINE}\n")))),
            ]);
            let poll = out.unwrap();
            assert_eq!(
                asked,
                ["http://10.0.0.5:80/ISEMS/ffopenmppt.log", "http://10.0.0.5:80/csv.log"]
            );
            assert_eq!(isems_points(&poll).len(), 1);
        }
    }

    #[test]
    fn a_log_with_an_html_line_inside_is_still_a_log() {
        let log = format!("{LINE}\n<html><body>oops</body></html>\n{LINE}\n");
        let (out, asked) = run(&[(LOG_PATH, Ok(resp(200, "text/plain", &log)))]);
        assert_eq!(asked.len(), 1);
        let poll = out.unwrap();
        assert_eq!(isems_points(&poll).len(), 2);
        // Even served as text/html, good lines are good lines.
        let (out, asked) = run(&[(LOG_PATH, Ok(resp(200, "text/html", &log)))]);
        assert_eq!((asked.len(), isems_points(&out.unwrap()).len()), (1, 2));
    }

    #[test]
    fn html_everywhere_is_an_error() {
        let page = "<html><body>hello</body></html>";
        let (out, _) = run(&[
            (LOG_PATH, Ok(resp(200, "text/html", page))),
            (CSV_PATH, Ok(resp(200, "text/html", page))),
        ]);
        match out.unwrap_err() {
            Error::Failed(m) => assert!(m.contains("HTML page"), "{m}"),
            e => panic!("{e:?}"),
        }
        let (out, _) = run(&[(LOG_PATH, Ok(resp(200, "text/html", page)))]);
        match out.unwrap_err() {
            Error::Unavailable(m) => assert!(m.contains("/csv.log") && m.contains("404"), "{m}"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn missing_log_is_unavailable_while_rotating() {
        for first in [
            resp(404, "text/plain", "Not Found"),
            resp(404, "text/html", "<h1>404 Not Found</h1>"),
        ] {
            let (out, _) = run(&[(LOG_PATH, Ok(first))]);
            match out.unwrap_err() {
                Error::Unavailable(m) => {
                    assert!(
                        m.contains("10.0.0.5:80") && m.contains("404") && m.contains("rotat"),
                        "{m}"
                    )
                }
                e => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn other_statuses() {
        let (out, _) = run(&[(LOG_PATH, Ok(resp(500, "text/plain", "boom")))]);
        assert!(matches!(out, Err(Error::Unavailable(m)) if m.contains("HTTP 500") && m.contains("boom")));
        let (out, _) = run(&[(LOG_PATH, Ok(resp(403, "text/plain", "no")))]);
        assert!(matches!(out, Err(Error::Failed(m)) if m.contains("HTTP 403")));
        let (out, _) = run(&[(LOG_PATH, Ok(resp(416, "text/plain", "")))]);
        assert!(matches!(out, Err(Error::Unavailable(m)) if m.contains("empty log")));
    }

    #[test]
    fn transport_errors_pass_through() {
        let err = Error::Unavailable("connection refused".into());
        let (out, asked) = run(&[(LOG_PATH, Err(err.clone()))]);
        assert_eq!(out.unwrap_err(), err);
        assert_eq!(asked.len(), 1);
    }

    #[test]
    fn nothing_usable_says_why() {
        let (out, _) = run(&[(LOG_PATH, Ok(resp(200, "text/plain", "")))]);
        assert!(matches!(out, Err(Error::Unavailable(m)) if m.contains("empty log")));
        let (out, _) = run(&[(LOG_PATH, Ok(resp(200, "text/plain", "a;b\nc;d;e\n")))]);
        match out.unwrap_err() {
            Error::Failed(m) => assert!(
                m.contains("none of the 2 lines") && m.contains("line 2: 3 fields"),
                "{m}"
            ),
            e => panic!("{e:?}"),
        }
        let unsynced = format!("{}\n", LINE.replace("1530364575", "0"));
        let (out, _) = run(&[(LOG_PATH, Ok(resp(200, "text/plain", &unsynced)))]);
        assert!(matches!(out, Err(Error::Unavailable(m)) if m.contains("clock is not set")));
    }

    #[test]
    fn partial_answers_drop_the_cut_line() {
        let mut r = resp(206, "text/plain", &format!("58635;300\n{LINE}\n"));
        r.headers.push(("content-range".into(), "bytes 1000-1200/1201".into()));
        assert_eq!(r.log_text(), format!("{LINE}\n"));
        let (out, _) = run(&[(LOG_PATH, Ok(r))]);
        let poll = out.unwrap();
        assert_eq!((isems_points(&poll).len(), poll.warning), (1, None));
        // A range from byte 0 is the whole file.
        let mut r = resp(206, "text/plain", &format!("{LINE}\n"));
        r.headers.push(("Content-Range".into(), "bytes 0-200/201".into()));
        assert_eq!(r.log_text(), format!("{LINE}\n"));
        assert_eq!(
            request_headers(),
            vec![("Range".to_string(), "bytes=-262144".to_string())]
        );
    }

    #[test]
    fn big_logs_are_cut_to_the_newest_lines() {
        let log: String = (0..(MAX_LINES + 100))
            .map(|i| LINE.replace("1530364575", &(1530364575 + 60 * i).to_string()) + "\n")
            .collect();
        let (out, _) = run(&[(LOG_PATH, Ok(resp(200, "text/plain", &log)))]);
        let poll = out.unwrap();
        let points = isems_points(&poll);
        assert_eq!(points.len(), MAX_LINES);
        assert_eq!(points[0].timestamp_ns, Some((1530364575 + 60 * 100) * 1_000_000_000));
        assert_eq!(poll.points[0].fields[3], ("truncated", Value::Int(100)));
        // Roughly as the host sizes a result: names, values (8 bytes, text
        // in full), tags, measurement, +16 per point. Must fit 1 MiB.
        let size: usize = poll
            .points
            .iter()
            .map(|p| {
                let tags: usize = p.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
                let fields: usize = p
                    .fields
                    .iter()
                    .map(|(n, v)| {
                        n.len()
                            + match v {
                                Value::Text(t) => t.len(),
                                _ => 8,
                            }
                    })
                    .sum();
                p.measurement.len() + tags + fields + 16
            })
            .sum();
        assert!(size < 700 * 1024, "{size} bytes");
    }
}
