//! WIT glue: `describe` and `sample` on top of [`crate::collect`], and [`Net`]
//! over the host's `http`, `discovery` and `host` (clock, cache) imports.

use crate::collect::{self, CapErr, HttpRequest, HttpResponse, Net, SampleErr, SsdpAnswer, Value, KEYS, MEASUREMENT};
use crate::protocol::ARG_HELP;

wit_bindgen::generate!({
    path: "../../wit",
    world: "collector",
});

use datalogger::plugin::types::{self, ArgInfo, Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError, Tag};
use datalogger::plugin::{discovery, host, http};
use exports::datalogger::plugin::sampling::Guest;

struct Wemo;

impl Guest for Wemo {
    fn describe() -> PluginInfo {
        let keys = KEYS
            .iter()
            .map(|(_, name, description, unit)| KeyInfo {
                name: (*name).into(),
                description: (*description).into(),
                arg: Some(ArgInfo {
                    description: ARG_HELP.into(),
                    required: true,
                }),
                unit: (*unit).into(),
            })
            .collect();
        PluginInfo {
            name: "wemo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Belkin WeMo Switch and Insight on the local network (UPnP): switch state, and power and \
                          energy of an Insight"
                .into(),
            keys,
        }
    }

    fn sample(key: String, arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        let reading = collect::collect(&mut HostNet, &key, arg.as_deref()).map_err(|e| match e {
            SampleErr::BadArgument(m) => SampleError::BadArgument(m),
            SampleErr::Unavailable(m) => SampleError::Unavailable(m),
            SampleErr::Timeout(m) => SampleError::Timeout(m),
            SampleErr::Failed(m) => SampleError::Failed(m),
        })?;
        Ok(vec![Point {
            measurement: MEASUREMENT.into(),
            tags: reading
                .tags
                .into_iter()
                .map(|(key, value)| Tag { key, value })
                .collect(),
            fields: reading
                .fields
                .into_iter()
                .map(|(name, value)| Field {
                    name,
                    value: match value {
                        Value::Int(v) => FieldValue::Int(v),
                        Value::Float(v) => FieldValue::Float(v),
                    },
                })
                .collect(),
            // The host stamps it with the tick time.
            timestamp_ns: None,
        }])
    }
}

/// The host's capabilities behind [`Net`].
struct HostNet;

fn cap_err(e: types::CapError) -> CapErr {
    match e {
        types::CapError::NotGranted(m) => CapErr::NotGranted(m),
        types::CapError::Invalid(m) => CapErr::Invalid(m),
        types::CapError::Unavailable(m) => CapErr::Unavailable(m),
        types::CapError::Timeout(m) => CapErr::Timeout(m),
        types::CapError::Failed(m) => CapErr::Failed(m),
    }
}

impl Net for HostNet {
    fn send(&mut self, req: HttpRequest) -> Result<HttpResponse, CapErr> {
        let req = http::Request {
            method: req.method.into(),
            url: req.url,
            headers: req
                .headers
                .into_iter()
                .map(|(name, value)| http::Header {
                    name: name.into(),
                    value,
                })
                .collect(),
            body: req.body,
            timeout_ms: Some(req.timeout_ms),
        };
        let resp = http::send(&req).map_err(cap_err)?;
        Ok(HttpResponse {
            status: resp.status,
            body: resp.body,
        })
    }

    fn ssdp_search(&mut self, st: &str, timeout_ms: u32) -> Result<Vec<SsdpAnswer>, CapErr> {
        let answers = discovery::ssdp_search(st, timeout_ms).map_err(cap_err)?;
        Ok(answers
            .into_iter()
            .map(|a| SsdpAnswer {
                location: a.location,
                usn: a.usn,
                st: a.st,
            })
            .collect())
    }

    fn now_ms(&mut self) -> i64 {
        host::now_ns() / 1_000_000
    }

    fn cache_get(&mut self, key: &str) -> Option<String> {
        host::cache_get(key)
    }

    fn cache_set(&mut self, key: &str, value: Option<&str>) -> Result<(), CapErr> {
        host::cache_set(key, value).map_err(|e| {
            // The poll goes on; the operator learns why devices are looked up every time.
            let e = cap_err(e);
            let (CapErr::NotGranted(m)
            | CapErr::Invalid(m)
            | CapErr::Unavailable(m)
            | CapErr::Timeout(m)
            | CapErr::Failed(m)) = &e;
            host::log(
                host::Level::Warn,
                &format!("could not remember where a WeMo is ({key}): {m}; it will be looked up on every poll"),
            );
            e
        })
    }
}

export!(Wemo);
