//! One sample, from the item's arg to the fields: find the device, ask it, read
//! the answer. All I/O goes through [`Net`] (the host's capabilities and its
//! per-plugin cache), so the whole flow (discovery, port probing, what is
//! remembered, re-discovery, time budget, error messages) is unit-tested
//! natively against simulated devices; `component.rs` implements `Net` with the
//! host's imports.
//!
//! Finding the device. The host gives every call a fresh instance, so where a
//! device was found is kept in the host's per-plugin cache ([`crate::cache`]):
//!
//! - A remembered location is used as it is: a poll is one control request,
//!   with no SSDP search and no setup.xml read.
//! - Otherwise a friendly name is searched by SSDP and the setup.xml of each
//!   device that answers is read until the name matches (every device read on
//!   the way is remembered under its own name, too); a host without a port is
//!   probed on the usual ports; a host:port has its setup.xml read. What was
//!   found is remembered. "Not found" is never remembered: the next poll
//!   searches again.
//! - A location whose setup.xml was last read more than [`VERIFY_AFTER_MS`] ago
//!   is checked first with one read of setup.xml there (no SSDP): for a
//!   friendly name the name must still match. This bounds how long another
//!   WeMo that took over the address (DHCP) and port could be read in its place
//!   without a poll ever failing. A mismatch or a failed read means looking the
//!   device up again.
//! - When the control request cannot connect, the device is looked up again
//!   once, in the same poll, and the request repeated (a reboot picks a new
//!   port). At a remembered location a time-out or an HTTP 404 does the same
//!   (the address may be empty now, or another server's): found at the same
//!   place, the device is just slow and the time-out is reported. A host:port
//!   is never looked for elsewhere.
//! - A location where the control request could not connect, timed out or got
//!   a 404 is forgotten (unless the device was just found there again), so the
//!   next poll looks again. A hung device thus costs a search per failed poll;
//!   a healthy one costs none.
//!
//! Everything runs inside one time budget ([`BUDGET_MS`]): however many devices
//! answer discovery or ports time out, a poll ends within it (well inside the
//! host's wall-clock limit per call, 30 s by default), with a timeout error
//! that says so.

use datalogger_sdk::discovery::SsdpResponse;
use datalogger_sdk::http::{Request, Response};
use datalogger_sdk::{CapError, Point, SampleError};

use crate::cache::{self, Entry};
use crate::protocol::{
    self, authority, bracketed, excerpt, location_base, parse_setup, soap_fault, Action, DeviceInfo, Target,
    MW_MIN_PER_KWH, PROBE_PORTS, SEARCH_TARGET, SETUP_PATH,
};

/// Whole-call time budget.
pub const BUDGET_MS: i64 = 10_000;
/// How long SSDP answers are collected (devices answer within MX = 1 s).
pub const SSDP_TIMEOUT_MS: u32 = 1500;
/// Timeout of a control request.
pub const REQUEST_TIMEOUT_MS: u32 = 3000;
/// Timeout of reading setup.xml from a given address.
pub const SETUP_TIMEOUT_MS: u32 = 1500;
/// Timeout of reading setup.xml from each device that answered SSDP: shorter,
/// so one hung device cannot use up the time needed for the one asked for.
pub const DISCOVERED_SETUP_TIMEOUT_MS: u32 = 1000;
/// Timeout of one port probe when the arg has no port.
pub const PROBE_TIMEOUT_MS: u32 = 500;
/// How long a remembered location is trusted without reading its setup.xml again.
pub const VERIFY_AFTER_MS: i64 = 5 * 60 * 1000;
/// A request is not started with less time than this left.
const MIN_REQUEST_MS: i64 = 100;

pub const MEASUREMENT: &str = "wemo";

// ---------------------------------------------------------------- I/O seam

/// The host's capabilities as this plugin uses them.
pub trait Net {
    fn send(&mut self, req: Request) -> Result<Response, CapError>;
    fn ssdp_search(&mut self, st: &str, timeout_ms: u32) -> Result<Vec<SsdpResponse>, CapError>;
    /// Wall-clock milliseconds.
    fn now_ms(&mut self) -> i64;
    /// A value of the plugin's cache (kept by the host across calls).
    fn cache_get(&mut self, key: &str) -> Option<String>;
    /// Stores (`Some`) or removes (`None`) a cache value. Failing to store only
    /// costs a lookup on the next poll, so the flow ignores the error; the
    /// implementation reports it where an operator can see it.
    fn cache_set(&mut self, key: &str, value: Option<&str>) -> Result<(), CapError>;
}

// ---------------------------------------------------------------- keys

/// The keys this plugin serves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Key {
    State,
    Power,
    Insight,
}

pub const KEYS: [(Key, &str, &str, &str); 3] = [
    (
        Key::State,
        "wemo.state",
        "Switch state (field state): 0 off, 1 on, 8 on with the load in standby (Insight)",
        "",
    ),
    (
        Key::Power,
        "wemo.power",
        "Current power drawn through a WeMo Insight, in W (field power)",
        "W",
    ),
    (
        Key::Insight,
        "wemo.insight",
        "All Insight parameters: state, power_w, current_power_mw, last_change, on_for_s, on_today_s, on_total_s, \
         time_period_s, wifi_signal, today_mw_min, today_kwh, total_mw_min, total_kwh, standby_threshold_mw, \
         standby_threshold_w",
        "",
    ),
];

impl Key {
    pub fn parse(key: &str) -> Result<Key, SampleError> {
        KEYS.iter().find(|k| k.1 == key).map(|k| k.0).ok_or_else(|| {
            let served: Vec<&str> = KEYS.iter().map(|k| k.1).collect();
            SampleError::BadArgument(format!(
                "unknown key {key:?}; the wemo plugin serves {}",
                served.join(", ")
            ))
        })
    }
    fn action(self) -> Action {
        match self {
            Key::State => Action::GetBinaryState,
            Key::Power | Key::Insight => Action::GetInsightParams,
        }
    }
}

// ---------------------------------------------------------------- the flow

/// A device found: where it answers and what setup.xml says.
#[derive(Debug, Clone)]
struct Located {
    /// `http://host:port`
    base: String,
    info: DeviceInfo,
}

/// Time left in the call.
struct Budget {
    deadline: i64,
}

impl Budget {
    fn left(&self, net: &mut dyn Net) -> i64 {
        self.deadline - net.now_ms()
    }
    /// `wanted` capped to the time left; `None` when too little is left to start.
    fn timeout(&self, net: &mut dyn Net, wanted: u32) -> Option<u32> {
        let left = self.left(net);
        (left >= MIN_REQUEST_MS).then(|| left.min(i64::from(wanted)) as u32)
    }
}

/// A failed step, before it becomes a [`SampleError`]. `Connect`, `Timeout` and
/// `NotFound` say the device may not be where we looked (see [`Fail::is_stale`]);
/// `Denied` (a missing grant) ends the call at once.
enum Fail {
    /// Refused or unreachable: nothing listens there.
    Connect(String),
    /// No (complete) answer in time; the message for a [`SampleError::Timeout`].
    Timeout(String),
    /// HTTP 404: whatever answers there has no such path.
    NotFound(SampleError),
    Denied(SampleError),
    Other(SampleError),
}

impl From<SampleError> for Fail {
    fn from(e: SampleError) -> Self {
        Fail::Other(e)
    }
}

impl Fail {
    fn into_err(self) -> SampleError {
        match self {
            Fail::Connect(m) => SampleError::Unavailable(m),
            Fail::Timeout(m) => SampleError::Timeout(m),
            Fail::NotFound(e) | Fail::Denied(e) | Fail::Other(e) => e,
        }
    }
    fn message(&self) -> &str {
        match self {
            Fail::Connect(m) | Fail::Timeout(m) => m,
            Fail::NotFound(e) | Fail::Denied(e) | Fail::Other(e) => e.message(),
        }
    }
    /// Whether the failure suggests the device is no longer at that location.
    fn is_stale(&self) -> bool {
        matches!(self, Fail::Connect(_) | Fail::Timeout(_) | Fail::NotFound(_))
    }
}

/// Takes one reading of `key` from the device named by `arg`.
pub fn collect(net: &mut dyn Net, key: &str, arg: Option<&str>) -> Result<Point, SampleError> {
    let key = Key::parse(key)?;
    let target = protocol::parse_target(arg).map_err(SampleError::BadArgument)?;
    let budget = Budget {
        deadline: net.now_ms() + BUDGET_MS,
    };
    let slot = cache::key(&target);
    // `remembered`: the location comes from the cache, unchecked in this call.
    let (mut device, remembered) = match recall(net, &target, &slot, &budget)? {
        Some((device, checked)) => (device, !checked),
        None => (locate(net, &target, &slot, &budget)?, false),
    };
    check_supported(key, &target, &device)?;
    let body = match control(net, &budget, &device, key.action()) {
        Ok(body) => body,
        Err(first) => {
            if first.is_stale() {
                forget(net, &slot);
            }
            let fixed = matches!(target, Target::Address { port: Some(_), .. });
            let look_again = match first {
                Fail::Connect(_) => !fixed,
                Fail::Timeout(_) | Fail::NotFound(_) => !fixed && remembered,
                _ => false,
            };
            if !look_again {
                return Err(first.into_err());
            }
            // The device may have moved (a reboot picks a new port, DHCP a new
            // address): look again, once.
            let needed = if matches!(target, Target::Name(_)) {
                1000
            } else {
                3 * MIN_REQUEST_MS
            };
            if budget.left(net) < needed {
                return Err(first.into_err());
            }
            let again = locate(net, &target, &slot, &budget).map_err(|e| {
                let message = format!("{}; looking for it again: {}", first.message(), e.message());
                match e {
                    SampleError::Timeout(_) => SampleError::Timeout(message),
                    _ => SampleError::Unavailable(message),
                }
            })?;
            if !matches!(first, Fail::Connect(_)) && again.base == device.base {
                // Still there and answering setup.xml: not a move, the device
                // itself did not answer the control request.
                return Err(first.into_err());
            }
            device = again;
            check_supported(key, &target, &device)?;
            control(net, &budget, &device, key.action()).map_err(|e| {
                if e.is_stale() {
                    forget(net, &slot);
                }
                e.into_err()
            })?
        }
    };
    let at = || format!("{} ({})", label(&target, &device), device.base);
    let point = Point::new(MEASUREMENT);
    let point = match key {
        Key::State => {
            let state =
                protocol::parse_binary_state(&body).map_err(|e| SampleError::Failed(format!("{}: {e}", at())))?;
            point.int("state", state)
        }
        Key::Power | Key::Insight => {
            let p = protocol::parse_insight_params(&body).map_err(|e| SampleError::Failed(format!("{}: {e}", at())))?;
            if key == Key::Power {
                let Some(mw) = p.current_power_mw else {
                    return Err(SampleError::Failed(format!(
                        "{}: the InsightParams hold no current power (8th field): {}",
                        at(),
                        excerpt(&body)
                    )));
                };
                point.float("power", mw / 1000.0)
            } else {
                insight_fields(point, &p)
            }
        }
    };
    let name = device.info.friendly_name.clone().unwrap_or_else(|| match &target {
        Target::Name(n) => n.clone(),
        Target::Address { .. } => device.base.trim_start_matches("http://").to_owned(),
    });
    Ok(point.tag("device", name))
}

/// The fields of `wemo.insight`, always with the same types; a parameter the
/// firmware left out is left out.
fn insight_fields(point: Point, p: &protocol::InsightParams) -> Point {
    let per_kwh = |v: f64| v / MW_MIN_PER_KWH;
    let watts = |v: f64| v / 1000.0;
    point
        .int("state", p.state)
        .optional("power_w", p.current_power_mw.map(watts))
        .optional("current_power_mw", p.current_power_mw)
        .optional("last_change", p.last_change)
        .optional("on_for_s", p.on_for_s)
        .optional("on_today_s", p.on_today_s)
        .optional("on_total_s", p.on_total_s)
        .optional("time_period_s", p.time_period_s)
        .optional("wifi_signal", p.wifi_signal)
        .optional("today_mw_min", p.today_mw_min)
        .optional("today_kwh", p.today_mw_min.map(per_kwh))
        .optional("total_mw_min", p.total_mw_min)
        .optional("total_kwh", p.total_mw_min.map(per_kwh))
        .optional("standby_threshold_mw", p.standby_threshold_mw)
        .optional("standby_threshold_w", p.standby_threshold_mw.map(watts))
}

fn label(target: &Target, device: &Located) -> String {
    match (&device.info.friendly_name, target) {
        (_, Target::Name(_)) => target.label(),
        (Some(name), _) => format!("WeMo {name:?}"),
        (None, _) => target.label(),
    }
}

/// Power and Insight keys need an Insight; a device whose setup.xml names
/// another type is refused before any control request.
fn check_supported(key: Key, target: &Target, device: &Located) -> Result<(), SampleError> {
    if key != Key::State && device.info.is_insight() == Some(false) {
        return Err(SampleError::BadArgument(format!(
            "{} ({}) is a {}, not an Insight: it does not measure power; use wemo.state for it",
            label(target, device),
            device.base,
            device.info.kind()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- locating

/// The remembered location of `target` under the cache key `slot`, and
/// whether its setup.xml was read in this call. A location last confirmed more
/// than [`VERIFY_AFTER_MS`] ago (or in the future: the clock was set back) is
/// confirmed again first; `Ok(None)` means "look it up" (anything remembered
/// that did not fit is forgotten).
fn recall(
    net: &mut dyn Net,
    target: &Target,
    slot: &str,
    budget: &Budget,
) -> Result<Option<(Located, bool)>, SampleError> {
    let Some(text) = net.cache_get(slot) else {
        return Ok(None);
    };
    let Some(entry) = Entry::decode(&text).filter(|e| e.fits(target)) else {
        forget(net, slot);
        return Ok(None);
    };
    let age = net.now_ms() - entry.verified_ms;
    if (0..VERIFY_AFTER_MS).contains(&age) {
        let device = Located {
            base: entry.base,
            info: entry.info,
        };
        return Ok(Some((device, false)));
    }
    match fetch_setup(net, budget, &entry.base, SETUP_TIMEOUT_MS) {
        Ok(info) => {
            let device = Located { base: entry.base, info };
            if let Target::Name(name) = target {
                if device.info.friendly_name.as_deref() != Some(name.as_str()) {
                    // Another device took over the address: remember it under
                    // its own name, and look for this one.
                    remember_by_name(net, &device);
                    forget(net, slot);
                    return Ok(None);
                }
            }
            remember(net, slot, &device);
            Ok(Some((device, true)))
        }
        Err(Fail::Denied(e)) => Err(e),
        Err(fail) => {
            forget(net, slot);
            if matches!(target, Target::Address { port: Some(_), .. }) {
                // Looking it up would read the same setup.xml again.
                return Err(fail.into_err());
            }
            Ok(None)
        }
    }
}

/// Looks `target` up (SSDP, port probing or setup.xml at the given address)
/// and remembers where it was found under `slot`.
fn locate(net: &mut dyn Net, target: &Target, slot: &str, budget: &Budget) -> Result<Located, SampleError> {
    let found = match target {
        Target::Name(name) => discover(net, name, budget)?,
        Target::Address { host, port: Some(port) } => {
            let base = format!("http://{}", authority(host, *port));
            let info = fetch_setup(net, budget, &base, SETUP_TIMEOUT_MS).map_err(Fail::into_err)?;
            Located { base, info }
        }
        Target::Address { host, port: None } => probe(net, host, budget)?,
    };
    remember(net, slot, &found);
    Ok(found)
}

/// Remembers that `device` was confirmed at its base just now.
fn remember(net: &mut dyn Net, slot: &str, device: &Located) {
    let entry = Entry {
        base: device.base.clone(),
        verified_ms: net.now_ms(),
        info: device.info.clone(),
    };
    // A value that cannot be stored only costs a lookup next time.
    let _ = net.cache_set(slot, Some(&entry.encode()));
}

/// Remembers a device read during discovery under its own friendly name.
fn remember_by_name(net: &mut dyn Net, device: &Located) {
    if let Some(name) = device.info.friendly_name.clone().filter(|n| !n.is_empty()) {
        remember(net, &cache::key(&Target::Name(name)), device);
    }
}

fn forget(net: &mut dyn Net, slot: &str) {
    let _ = net.cache_set(slot, None);
}

/// Finds the device called `name` among those answering an SSDP search.
fn discover(net: &mut dyn Net, name: &str, budget: &Budget) -> Result<Located, SampleError> {
    let Some(timeout) = budget.timeout(net, SSDP_TIMEOUT_MS) else {
        return Err(out_of_time(&format!("looking for WeMo {name:?}")));
    };
    let answers = net.ssdp_search(SEARCH_TARGET, timeout).map_err(|e| match e {
        CapError::NotGranted(m) => not_granted(&m),
        CapError::Timeout(m) | CapError::Unavailable(m) => {
            SampleError::Unavailable(format!("SSDP search for WeMo {name:?} failed: {m}"))
        }
        CapError::Invalid(m) | CapError::Failed(m) => {
            SampleError::Failed(format!("SSDP search for WeMo {name:?} failed: {m}"))
        }
    })?;
    let mut locations: Vec<String> = Vec::new();
    for a in &answers {
        if let Some(base) = location_base(&a.location) {
            if !locations.contains(&base) {
                locations.push(base);
            }
        }
    }
    if locations.is_empty() {
        return Err(SampleError::Unavailable(format!(
            "no WeMo device answered the SSDP search for {SEARCH_TARGET} within {timeout} ms, so WeMo {name:?} \
             was not found; check that it is powered and on this network (SSDP multicast must reach it), \
             or give its address as host:port instead"
        )));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for base in locations {
        if budget.timeout(net, MIN_REQUEST_MS as u32).is_none() {
            problems.push("ran out of time before asking the remaining devices".into());
            break;
        }
        match fetch_setup(net, budget, &base, DISCOVERED_SETUP_TIMEOUT_MS) {
            Ok(info) => {
                let found = info.friendly_name.as_deref().map(str::trim);
                if found == Some(name) {
                    return Ok(Located { base, info });
                }
                seen.push(match found {
                    Some(n) => format!("{n:?} at {base}"),
                    None => format!("an unnamed device at {base}"),
                });
                // Read anyway: the next item asking for it needs no search.
                remember_by_name(net, &Located { base, info });
            }
            Err(Fail::Denied(e)) => return Err(e),
            Err(fail) => problems.push(fail.message().to_owned()),
        }
    }
    let mut msg = format!("no WeMo device named {name:?} found by SSDP discovery");
    if !seen.is_empty() {
        msg.push_str(&format!("; devices that answered: {}", seen.join(", ")));
    }
    if !problems.is_empty() {
        msg.push_str(&format!("; could not read: {}", problems.join("; ")));
    }
    if seen
        .iter()
        .any(|s| s.to_lowercase().starts_with(&format!("{name:?}").to_lowercase()))
    {
        msg.push_str(" (friendly names are case-sensitive)");
    }
    msg.push_str("; check the item's arg against the name in the WeMo app");
    Err(SampleError::Unavailable(msg))
}

/// Finds the port a WeMo at `host` listens on by asking each well-known port for setup.xml.
fn probe(net: &mut dyn Net, host: &str, budget: &Budget) -> Result<Located, SampleError> {
    let mut tried: Vec<String> = Vec::new();
    let mut last = String::new();
    for port in PROBE_PORTS {
        if budget.timeout(net, MIN_REQUEST_MS as u32).is_none() {
            break;
        }
        let base = format!("http://{}", authority(host, port));
        match fetch_setup(net, budget, &base, PROBE_TIMEOUT_MS) {
            Ok(info) => return Ok(Located { base, info }),
            Err(Fail::Denied(e)) => return Err(e),
            Err(fail) => last = fail.message().to_owned(),
        }
        tried.push(port.to_string());
    }
    Err(SampleError::Unavailable(format!(
        "no WeMo answered at {} on ports {} (last: {last}); check that it is powered, or give the port as host:port",
        bracketed(host),
        tried.join(", ")
    )))
}

/// GET `<base>/setup.xml` and parse it.
fn fetch_setup(net: &mut dyn Net, budget: &Budget, base: &str, timeout: u32) -> Result<DeviceInfo, Fail> {
    let url = format!("{base}{SETUP_PATH}");
    let resp = send(net, budget, Request::get(&url), timeout)?;
    let body = String::from_utf8_lossy(&resp.body);
    if resp.status != 200 {
        let e = SampleError::Failed(format!(
            "{url} answered HTTP {}, not a WeMo device description: {}",
            resp.status,
            excerpt(&body)
        ));
        return Err(if resp.status == 404 {
            Fail::NotFound(e)
        } else {
            e.into()
        });
    }
    parse_setup(&body).ok_or_else(|| {
        SampleError::Failed(format!(
            "{url} is not a WeMo device description (no friendlyName, UDN or deviceType): {}",
            excerpt(&body)
        ))
        .into()
    })
}

/// POST a SOAP action and return the body of a 200 answer.
fn control(net: &mut dyn Net, budget: &Budget, device: &Located, action: Action) -> Result<String, Fail> {
    let url = format!("{}{}", device.base, action.path());
    let req = Request::post(&url)
        .header("Content-Type", "text/xml; charset=\"utf-8\"")
        .header("SOAPACTION", action.soap_action())
        .body(action.envelope());
    let resp = send(net, budget, req, REQUEST_TIMEOUT_MS)?;
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    if resp.status == 200 {
        return Ok(body);
    }
    let what = match soap_fault(&body) {
        Some(fault) => format!("SOAP fault {fault}"),
        None => excerpt(&body),
    };
    let hint = if action == Action::GetInsightParams && resp.status == 404 {
        " (no Insight service: is this an Insight?)"
    } else {
        ""
    };
    let e = SampleError::Failed(format!(
        "{} {} at {url} failed with HTTP {}: {what}{hint}",
        device
            .info
            .friendly_name
            .as_deref()
            .map_or("WeMo".to_owned(), |n| format!("WeMo {n:?}:")),
        action.name(),
        resp.status
    ));
    Err(if resp.status == 404 {
        Fail::NotFound(e)
    } else {
        e.into()
    })
}

/// Sends `req` with `timeout` capped to the budget; connection failures become
/// [`Fail::Connect`], time-outs [`Fail::Timeout`].
fn send(net: &mut dyn Net, budget: &Budget, req: Request, timeout: u32) -> Result<Response, Fail> {
    let url = req.url.clone();
    let Some(timeout) = budget.timeout(net, timeout) else {
        return Err(out_of_time(&format!("before {} {url}", req.method)).into());
    };
    net.send(req.timeout_ms(timeout)).map_err(|e| match e {
        CapError::NotGranted(m) => Fail::Denied(not_granted(&m)),
        CapError::Unavailable(m) => Fail::Connect(naming(&url, m, "no answer")),
        CapError::Timeout(m) => Fail::Timeout(format!(
            "{}; the WeMo may be busy or hung",
            naming(&url, m, &format!("no answer within {timeout} ms"))
        )),
        CapError::Invalid(m) | CapError::Failed(m) => {
            Fail::Other(SampleError::Failed(naming(&url, m, "request failed")))
        }
    })
}

/// The host's message if it names `url` already, else `<url>: <what> (<message>)`.
fn naming(url: &str, host_message: String, what: &str) -> String {
    if host_message.contains(url) {
        host_message
    } else {
        format!("{url}: {what} ({host_message})")
    }
}

fn not_granted(host_message: &str) -> SampleError {
    SampleError::Unavailable(format!(
        "not granted: {host_message} (the wemo plugin needs \"http\" for the devices' addresses, and \
         \"discovery\": true to find devices by friendly name)"
    ))
}

fn out_of_time(what: &str) -> SampleError {
    SampleError::Timeout(format!(
        "the {BUDGET_MS} ms this plugin allows itself per poll ran out {what}; devices or the network are too slow"
    ))
}

#[cfg(test)]
mod tests;
