//! The capability calls behind the public modules: the host's imports inside a
//! component, stand-ins natively (unit tests on the build machine).

#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use crate::bindings::datalogger::plugin as wit;
    use crate::log::Level;
    use crate::{discovery, http, ping, CapError};

    pub(crate) fn cap_error(e: wit::types::CapError) -> CapError {
        use wit::types::CapError as E;
        match e {
            E::NotGranted(m) => CapError::NotGranted(m),
            E::Invalid(m) => CapError::Invalid(m),
            E::Unavailable(m) => CapError::Unavailable(m),
            E::Timeout(m) => CapError::Timeout(m),
            E::Failed(m) => CapError::Failed(m),
        }
    }

    pub(crate) fn http_send(req: &http::Request) -> Result<http::Response, CapError> {
        let req = wit::http::Request {
            method: req.method.clone(),
            url: req.url.clone(),
            headers: req
                .headers
                .iter()
                .map(|(name, value)| wit::http::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: req.body.clone(),
            timeout_ms: req.timeout_ms,
        };
        let resp = wit::http::send(&req).map_err(cap_error)?;
        Ok(http::Response {
            status: resp.status,
            headers: resp.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: resp.body,
        })
    }

    pub(crate) fn i2c_read(bus: u8, address: u8, register: u8, len: u32) -> Result<Vec<u8>, CapError> {
        wit::i2c::read_registers(bus, address, register, len).map_err(cap_error)
    }

    pub(crate) fn i2c_write(bus: u8, address: u8, register: u8, data: &[u8]) -> Result<(), CapError> {
        wit::i2c::write_registers(bus, address, register, data).map_err(cap_error)
    }

    pub(crate) fn ping_echo(
        target: &str,
        count: u32,
        timeout_ms: u32,
        interval_ms: u32,
    ) -> Result<ping::Stats, CapError> {
        let s = wit::ping::echo(&wit::ping::EchoRequest {
            target: target.into(),
            count,
            timeout_ms,
            interval_ms,
        })
        .map_err(cap_error)?;
        Ok(ping::Stats {
            transmitted: s.transmitted,
            received: s.received,
            min_ms: s.min_ms,
            avg_ms: s.avg_ms,
            max_ms: s.max_ms,
            stddev_ms: s.stddev_ms,
        })
    }

    pub(crate) fn ssdp_search(st: &str, timeout_ms: u32) -> Result<Vec<discovery::SsdpResponse>, CapError> {
        let answers = wit::discovery::ssdp_search(st, timeout_ms).map_err(cap_error)?;
        Ok(answers
            .into_iter()
            .map(|a| discovery::SsdpResponse {
                location: a.location,
                usn: a.usn,
                st: a.st,
            })
            .collect())
    }

    pub(crate) fn read_file(path: &str) -> Result<String, CapError> {
        wit::host::read_file(path).map_err(cap_error)
    }

    pub(crate) fn now_ns() -> i64 {
        wit::host::now_ns()
    }

    pub(crate) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit::host::Level::Trace,
            Level::Debug => wit::host::Level::Debug,
            Level::Info => wit::host::Level::Info,
            Level::Warn => wit::host::Level::Warn,
            Level::Error => wit::host::Level::Error,
        };
        wit::host::log(level, message)
    }

    pub(crate) fn cache_get(key: &str) -> Option<String> {
        wit::host::cache_get(key)
    }

    pub(crate) fn cache_set(key: &str, value: Option<&str>) -> Result<(), CapError> {
        wit::host::cache_set(key, value).map_err(cap_error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use crate::log::Level;
    use crate::{discovery, http, ping, CapError};
    use std::cell::RefCell;
    use std::collections::HashMap;

    fn outside(what: &str) -> CapError {
        CapError::Unavailable(format!(
            "{what} is only available inside the datalogger host: build the plugin for wasm32-wasip2 and run it \
             there (e.g. `datalogger plugin test`)"
        ))
    }

    pub(crate) fn http_send(_: &http::Request) -> Result<http::Response, CapError> {
        Err(outside("http"))
    }

    pub(crate) fn i2c_read(_: u8, _: u8, _: u8, _: u32) -> Result<Vec<u8>, CapError> {
        Err(outside("i2c"))
    }

    pub(crate) fn i2c_write(_: u8, _: u8, _: u8, _: &[u8]) -> Result<(), CapError> {
        Err(outside("i2c"))
    }

    pub(crate) fn ping_echo(_: &str, _: u32, _: u32, _: u32) -> Result<ping::Stats, CapError> {
        Err(outside("ping"))
    }

    pub(crate) fn ssdp_search(_: &str, _: u32) -> Result<Vec<discovery::SsdpResponse>, CapError> {
        Err(outside("discovery"))
    }

    pub(crate) fn read_file(_: &str) -> Result<String, CapError> {
        Err(outside("read-file"))
    }

    pub(crate) fn now_ns() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    pub(crate) fn log(level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }

    thread_local! {
        static CACHE: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    }

    pub(crate) fn cache_get(key: &str) -> Option<String> {
        CACHE.with(|c| c.borrow().get(key).cloned())
    }

    pub(crate) fn cache_set(key: &str, value: Option<&str>) -> Result<(), CapError> {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            match value {
                Some(v) => c.insert(key.into(), v.into()),
                None => c.remove(key),
            };
        });
        Ok(())
    }
}
