//! Component glue: the [`Plugin`] on top of [`crate::collect`], and [`Net`]
//! over the host's `http`, `discovery`, clock and cache.

use crate::collect::{self, Net, KEYS};
use crate::protocol::ARG_HELP;
use datalogger_sdk::discovery::{self, SsdpResponse};
use datalogger_sdk::http::{Request, Response};
use datalogger_sdk::{cache, log, CapError, Info, Key, Plugin, Point, SampleError};

struct Wemo;

impl Plugin for Wemo {
    fn info() -> Info {
        Info::new(
            "wemo",
            env!("CARGO_PKG_VERSION"),
            "Belkin WeMo Switch and Insight on the local network (UPnP): switch state, and power and energy of an \
             Insight",
        )
        .keys(
            KEYS.iter()
                .map(|(_, name, description, unit)| Key::new(*name, *description).required_arg(ARG_HELP).unit(*unit)),
        )
    }

    /// One point, stamped by the host with the tick time.
    fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
        Ok(vec![collect::collect(&mut HostNet, key, arg)?])
    }
}

/// The host's capabilities behind [`Net`].
struct HostNet;

impl Net for HostNet {
    fn send(&mut self, req: Request) -> Result<Response, CapError> {
        req.send()
    }

    fn ssdp_search(&mut self, st: &str, timeout_ms: u32) -> Result<Vec<SsdpResponse>, CapError> {
        discovery::ssdp_search(st, timeout_ms)
    }

    fn now_ms(&mut self) -> i64 {
        datalogger_sdk::now_ns() / 1_000_000
    }

    fn cache_get(&mut self, key: &str) -> Option<String> {
        cache::get(key)
    }

    fn cache_set(&mut self, key: &str, value: Option<&str>) -> Result<(), CapError> {
        match value {
            Some(value) => cache::set(key, value),
            None => cache::remove(key),
        }
        .inspect_err(|e| {
            // The poll goes on; the operator learns why devices are looked up every time.
            log::warn(format!(
                "could not remember where a WeMo is ({key}): {}; it will be looked up on every poll",
                e.message()
            ))
        })
    }
}

datalogger_sdk::plugin!(Wemo);
