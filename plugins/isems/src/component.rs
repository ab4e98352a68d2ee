//! Component glue: the [`Plugin`] on top of the pure `node` and `parse` modules.

use crate::node::{self, parse_node, request_headers, Error, Node, Response};
use crate::{csvlog, json, parse};
use datalogger_sdk::{http, log, CapError, DecodeError, Decoder, Info, Key, Plugin, Point, SampleError, Source, Value};

const KEY: &str = "isems.node";
const CSVLOG: &str = "isems.csvlog";
const JSON: &str = "isems.json";

struct Isems;

impl Plugin for Isems {
    fn info() -> Info {
        Info::new(
            "isems",
            env!("CARGO_PKG_VERSION"),
            "ISEMS solar nodes: reads a node's log over HTTP (routers: /ISEMS/ffopenmppt.log, \
             ESP32 v2 firmware: /csv.log), one sample per log line at the node's own time",
        )
        .key(
            Key::new(
                KEY,
                "Every line of the node's log (newest 720): battery, solar and status readings, \
                 measurement isems, tag nodeId; primary value batteryVoltage",
            )
            .required_arg("the node as host[:port] (default port 80), e.g. 10.0.0.5 or node.lan:8080")
            .unit("V"),
        )
        .decoder(Decoder::new(
            CSVLOG,
            "What ISEMS nodes publish over MQTT (/isems/<nodeid>/csvlog): up to five log lines, \
             each the point isems.node makes of it (measurement isems, tag nodeId, the node's own time)",
        ))
        .decoder(Decoder::new(
            JSON,
            "The JSON variant ISEMS nodes publish over MQTT (/isems/<nodeId>/data.json): one object \
             of the log line's fields, the point isems.node makes of that line (measurement isems, \
             tag nodeId from the topic or a nodeId key), stamped with the receive time (or its timestamp key)",
        ))
    }

    fn decode(decoder: &str, source: &Source, payload: &[u8]) -> Result<Vec<Point>, DecodeError> {
        let (points, warning) = match decoder {
            CSVLOG => {
                let decoded = csvlog::decode(&source.topic, payload).map_err(DecodeError::Malformed)?;
                (decoded.points, decoded.warning)
            }
            JSON => {
                let decoded = json::decode(&source.transport, &source.topic, source.received_ns, payload)
                    .map_err(DecodeError::Malformed)?;
                (vec![decoded.point], decoded.warning)
            }
            _ => return Err(Self::info().unknown_decoder(decoder)),
        };
        if let Some(warning) = &warning {
            log::warn(warning);
        }
        Ok(points.into_iter().map(to_point).collect())
    }

    fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
        if key != KEY {
            return Err(Self::unknown_key(key));
        }
        let node = parse_node(arg).map_err(SampleError::BadArgument)?;
        let poll = node::poll(&node, |url| get(&node, url)).map_err(|e| match e {
            Error::Unavailable(m) => SampleError::Unavailable(m),
            Error::Timeout(m) => SampleError::Timeout(m),
            Error::Failed(m) => SampleError::Failed(m),
        })?;
        if let Some(warning) = &poll.warning {
            log::warn(warning);
        }
        Ok(poll.points.into_iter().map(to_point).collect())
    }
}

/// One GET through the host (its default timeout, `http.timeout_ms`),
/// transport failures named after the node.
fn get(node: &Node, url: &str) -> Result<Response, Error> {
    let req = request_headers()
        .into_iter()
        .fold(http::Request::get(url), |req, (name, value)| req.header(name, value));
    let name = node.authority();
    match req.send() {
        Ok(resp) => Ok(Response {
            status: resp.status,
            headers: resp.headers,
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

fn to_point(p: node::Point) -> Point {
    Point {
        measurement: p.measurement.into(),
        tags: p.tags.into_iter().map(|(key, value)| (key.into(), value)).collect(),
        fields: p
            .fields
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    parse::Value::Float(x) => Value::Float(x),
                    parse::Value::Int(x) => Value::Int(x),
                    parse::Value::Bool(x) => Value::Bool(x),
                    parse::Value::Text(x) => Value::Text(x),
                };
                (name.into(), value)
            })
            .collect(),
        timestamp_ns: p.timestamp_ns,
    }
}

datalogger_sdk::plugin!(Isems);
