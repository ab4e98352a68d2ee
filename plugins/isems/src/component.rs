//! WIT glue: `describe` and `sample` on top of the pure `node` and `parse` modules.

use crate::node::{self, parse_node, request_headers, Error, Node, Response};
use crate::parse::Value;

wit_bindgen::generate!({
    path: "../../wit",
    world: "collector",
});

use datalogger::plugin::host::{log, Level};
use datalogger::plugin::http::{send, Header, Request};
use datalogger::plugin::types::{ArgInfo, CapError, Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError, Tag};
use exports::datalogger::plugin::sampling::Guest;

const KEY: &str = "isems.node";

struct Isems;

impl Guest for Isems {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "isems".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "ISEMS solar nodes: reads a node's log over HTTP (routers: /ISEMS/ffopenmppt.log, \
                          ESP32 v2 firmware: /csv.log), one sample per log line at the node's own time"
                .into(),
            keys: vec![KeyInfo {
                name: KEY.into(),
                description: "Every line of the node's log (newest 720): battery, solar and status readings, \
                              measurement isems, tag nodeId; primary value batteryVoltage"
                    .into(),
                arg: Some(ArgInfo {
                    description: "the node as host[:port] (default port 80), e.g. 10.0.0.5 or node.lan:8080".into(),
                    required: true,
                }),
                unit: "V".into(),
            }],
        }
    }

    fn sample(key: String, arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        if key != KEY {
            return Err(SampleError::BadArgument(format!(
                "unknown key {key:?}; the isems plugin serves {KEY}"
            )));
        }
        let node = parse_node(arg.as_deref()).map_err(SampleError::BadArgument)?;
        let poll = node::poll(&node, |url| get(&node, url)).map_err(to_sample_error)?;
        if let Some(warning) = &poll.warning {
            log(Level::Warn, warning);
        }
        Ok(poll.points.into_iter().map(to_point).collect())
    }
}

/// One GET through the host, transport failures named after the node.
fn get(node: &Node, url: &str) -> Result<Response, Error> {
    let req = Request {
        method: "GET".into(),
        url: url.into(),
        headers: request_headers()
            .into_iter()
            .map(|(name, value)| Header { name, value })
            .collect(),
        body: None,
        // The host's default (http.timeout_ms) applies.
        timeout_ms: None,
    };
    let name = node.authority();
    match send(&req) {
        Ok(resp) => Ok(Response {
            status: resp.status,
            headers: resp.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: resp.body,
        }),
        Err(CapError::NotGranted(m)) => Err(Error::Unavailable(format!("cannot fetch {url}: {m}"))),
        Err(CapError::Unavailable(m)) => Err(Error::Unavailable(format!(
            "ISEMS node {name} is not reachable ({url}): {m}"
        ))),
        Err(CapError::Timeout(m)) => Err(Error::Timeout(format!(
            "ISEMS node {name} did not answer in time ({url}): {m}"
        ))),
        Err(CapError::Invalid(m)) => Err(Error::Failed(format!("cannot fetch {url} from ISEMS node {name}: {m}"))),
        Err(CapError::Failed(m)) => Err(Error::Failed(format!(
            "fetching {url} from ISEMS node {name} failed: {m}{}",
            if m.contains("max_response_bytes") {
                "; the node ignored the request for the log's tail (Range), so its whole log must fit \
                 that cap, or the node must rotate its log"
            } else {
                ""
            }
        ))),
    }
}

fn to_sample_error(e: Error) -> SampleError {
    match e {
        Error::Unavailable(m) => SampleError::Unavailable(m),
        Error::Timeout(m) => SampleError::Timeout(m),
        Error::Failed(m) => SampleError::Failed(m),
    }
}

fn to_point(p: node::Point) -> Point {
    Point {
        measurement: p.measurement.into(),
        tags: p
            .tags
            .into_iter()
            .map(|(key, value)| Tag { key: key.into(), value })
            .collect(),
        fields: p
            .fields
            .into_iter()
            .map(|(name, value)| Field {
                name: name.into(),
                value: match value {
                    Value::Float(x) => FieldValue::Float(x),
                    Value::Int(x) => FieldValue::Int(x),
                    Value::Bool(x) => FieldValue::Boolean(x),
                    Value::Text(x) => FieldValue::Text(x),
                },
            })
            .collect(),
        timestamp_ns: p.timestamp_ns,
    }
}

export!(Isems);
