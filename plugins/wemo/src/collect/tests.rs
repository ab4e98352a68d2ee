//! The whole flow against simulated devices and a simulated clock.

use std::collections::{HashMap, VecDeque};

use datalogger_sdk::Value;

use super::*;
use crate::cache::Entry;

const EXAMPLE: &str = "8|1611530424|231|300|183183|1209600|8|1190|1164707|99830512.000000|8000";

/// A simulated network: SSDP answers (one list per search, the last repeats),
/// HTTP answers by URL (anything else is refused), a clock advanced by every
/// call, the host's cache, and a log of what was asked. One `Sim` over several
/// `run`s is one logger polling: the cache outlives the calls.
struct Sim {
    now: i64,
    ssdp: VecDeque<Result<Vec<SsdpResponse>, CapError>>,
    routes: HashMap<String, Result<Response, CapError>>,
    /// `"SSDP <st> <timeout>"` or `"<METHOD> <url> <timeout>"`.
    log: Vec<String>,
    requests: Vec<Request>,
    cache: HashMap<String, String>,
    /// Refuse every `cache_set` of a value, as a full cache does.
    cache_full: bool,
}

impl Sim {
    fn new() -> Self {
        Sim {
            now: 1_000_000,
            ssdp: VecDeque::new(),
            routes: HashMap::new(),
            log: Vec::new(),
            requests: Vec::new(),
            cache: HashMap::new(),
            cache_full: false,
        }
    }

    fn ssdp_answers(&mut self, bases: &[&str]) -> &mut Self {
        let answers = bases
            .iter()
            .map(|b| SsdpResponse {
                location: format!("{b}/setup.xml"),
                usn: "uuid:Insight-1_0-X::urn:Belkin:service:basicevent:1".into(),
                st: SEARCH_TARGET.into(),
            })
            .collect();
        self.ssdp.push_back(Ok(answers));
        self
    }

    fn route(&mut self, url: &str, answer: Result<Response, CapError>) -> &mut Self {
        self.routes.insert(url.into(), answer);
        self
    }

    fn ok(&mut self, url: &str, body: &str) -> &mut Self {
        self.route(url, Ok(resp(200, body)))
    }

    /// A whole device at `base`: setup.xml, basicevent1 and (for an Insight) insight1.
    fn device(&mut self, base: &str, name: &str, insight: bool, binary_state: &str) -> &mut Self {
        let (device_type, model) = if insight {
            ("urn:Belkin:device:insight:1", "Insight")
        } else {
            ("urn:Belkin:device:controllee:1", "Socket")
        };
        self.ok(&format!("{base}/setup.xml"), &setup_xml(name, device_type, model));
        self.ok(
            &format!("{base}/upnp/control/basicevent1"),
            &format!(
                "<s:Envelope><s:Body><u:GetBinaryStateResponse xmlns:u=\"urn:Belkin:service:basicevent:1\">\
                 <BinaryState>{binary_state}</BinaryState></u:GetBinaryStateResponse></s:Body></s:Envelope>"
            ),
        );
        if insight {
            self.ok(
                &format!("{base}/upnp/control/insight1"),
                &format!(
                    "<s:Envelope><s:Body><u:GetInsightParamsResponse xmlns:u=\"urn:Belkin:service:metainfo:1\">\
                     <InsightParams>{EXAMPLE}</InsightParams></u:GetInsightParamsResponse></s:Body></s:Envelope>"
                ),
            );
        }
        self
    }

    fn run(&mut self, key: &str, arg: &str) -> Result<Point, SampleError> {
        collect(self, key, Some(arg))
    }

    fn posts(&self) -> Vec<&String> {
        self.log.iter().filter(|l| l.starts_with("POST")).collect()
    }
    fn searches(&self) -> usize {
        self.log.iter().filter(|l| l.starts_with("SSDP")).count()
    }
}

impl Net for Sim {
    fn send(&mut self, req: Request) -> Result<Response, CapError> {
        let Some(timeout_ms) = req.timeout_ms.filter(|&t| t > 0) else {
            panic!("no timeout on {req:?}")
        };
        self.log.push(format!("{} {} {timeout_ms}", req.method, req.url));
        let answer = self
            .routes
            .get(&req.url)
            .cloned()
            .unwrap_or_else(|| Err(CapError::Unavailable("connection refused".into())));
        self.now += match answer {
            Err(CapError::Timeout(_)) => i64::from(timeout_ms),
            _ => 5,
        };
        self.requests.push(req);
        answer
    }

    fn ssdp_search(&mut self, st: &str, timeout_ms: u32) -> Result<Vec<SsdpResponse>, CapError> {
        self.log.push(format!("SSDP {st} {timeout_ms}"));
        self.now += i64::from(timeout_ms);
        let answer = if self.ssdp.len() > 1 {
            self.ssdp.pop_front()
        } else {
            self.ssdp.front().cloned()
        };
        answer.unwrap_or(Ok(Vec::new()))
    }

    fn now_ms(&mut self) -> i64 {
        self.now
    }

    fn cache_get(&mut self, key: &str) -> Option<String> {
        self.cache.get(key).cloned()
    }

    fn cache_set(&mut self, key: &str, value: Option<&str>) -> Result<(), CapError> {
        match value {
            None => {
                self.cache.remove(key);
            }
            Some(_) if self.cache_full => return Err(CapError::Invalid("cache full".into())),
            Some(v) => {
                self.cache.insert(key.into(), v.into());
            }
        }
        Ok(())
    }
}

fn resp(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn setup_xml(name: &str, device_type: &str, model: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<root xmlns=\"urn:Belkin:device-1-0\"><device>\n\
         <deviceType>{device_type}</deviceType>\n<friendlyName>{name}</friendlyName>\n\
         <modelName>{model}</modelName><UDN>uuid:{model}-1_0-SERIAL</UDN></device></root>"
    )
}

const A: &str = "http://10.0.0.5:49153";
const B: &str = "http://10.0.0.6:49154";

fn state_of(r: &Point) -> i64 {
    match r.get("state") {
        Some(Value::Int(v)) => *v,
        other => panic!("no int state: {other:?}"),
    }
}

fn float(r: &Point, name: &str) -> f64 {
    match r.get(name) {
        Some(Value::Float(v)) => *v,
        other => panic!("no float {name}: {other:?} in {r:?}"),
    }
}

#[test]
fn discovers_by_friendly_name_and_reads_the_state() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A, B, B])
        .device(A, "kitchen", true, "0")
        .device(B, "switch1", false, "1");
    let r = sim.run("wemo.state", "switch1").unwrap();
    assert_eq!(r.fields, vec![("state".to_owned(), Value::Int(1))]);
    assert_eq!(r.tags, vec![("device".to_owned(), "switch1".to_owned())]);
    // Each request with its own timeout.
    assert_eq!(
        sim.log,
        [
            format!("SSDP {SEARCH_TARGET} {SSDP_TIMEOUT_MS}"),
            format!("GET {A}/setup.xml {DISCOVERED_SETUP_TIMEOUT_MS}"),
            format!("GET {B}/setup.xml {DISCOVERED_SETUP_TIMEOUT_MS}"),
            format!("POST {B}/upnp/control/basicevent1 {REQUEST_TIMEOUT_MS}"),
        ]
    );
    let post = sim.requests.last().unwrap();
    assert!(post
        .headers
        .contains(&("Content-Type".to_owned(), "text/xml; charset=\"utf-8\"".to_owned())));
    assert!(post.headers.contains(&(
        "SOAPACTION".to_owned(),
        "\"urn:Belkin:service:basicevent:1#GetBinaryState\"".to_owned()
    )));
    let body = String::from_utf8(post.body.clone().unwrap()).unwrap();
    assert!(
        body.contains("<u:GetBinaryState xmlns:u=\"urn:Belkin:service:basicevent:1\">"),
        "{body}"
    );
}

#[test]
fn insight_parameters_with_units() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "8");
    let r = sim.run("wemo.insight", "kitchen").unwrap();
    let names: Vec<&str> = r.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "state",
            "power_w",
            "current_power_mw",
            "last_change",
            "on_for_s",
            "on_today_s",
            "on_total_s",
            "time_period_s",
            "wifi_signal",
            "today_mw_min",
            "today_kwh",
            "total_mw_min",
            "total_kwh",
            "standby_threshold_mw",
            "standby_threshold_w"
        ]
    );
    assert_eq!(state_of(&r), 8);
    assert_eq!(r.get("last_change"), Some(&Value::Int(1611530424)));
    assert_eq!(r.get("on_total_s"), Some(&Value::Int(183183)));
    assert_eq!(r.get("wifi_signal"), Some(&Value::Int(8)));
    assert!((float(&r, "power_w") - 1.19).abs() < 1e-12);
    assert_eq!(float(&r, "current_power_mw"), 1190.0);
    assert!((float(&r, "today_kwh") - 1164707.0 / 6.0e7).abs() < 1e-12);
    assert!((float(&r, "total_kwh") - 1.663_841_866_666_666_7).abs() < 1e-9);
    assert_eq!(float(&r, "standby_threshold_w"), 8.0);
    let post = sim.requests.last().unwrap();
    assert_eq!(post.url, format!("{A}/upnp/control/insight1"));
    assert!(post.headers.contains(&(
        "SOAPACTION".to_owned(),
        "\"urn:Belkin:service:insight:1#GetInsightParams\"".to_owned()
    )));

    let r = sim.run("wemo.power", "kitchen").unwrap();
    assert_eq!(r.fields.len(), 1);
    assert!((float(&r, "power") - 1.19).abs() < 1e-12);
}

#[test]
fn power_of_a_plain_switch_is_refused_without_a_control_request() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[B]).device(B, "switch1", false, "1");
    for key in ["wemo.power", "wemo.insight"] {
        let err = sim.run(key, "switch1").unwrap_err();
        let SampleError::BadArgument(m) = &err else {
            panic!("{err:?}")
        };
        assert!(
            m.contains("not an Insight") && m.contains("switch1") && m.contains("wemo.state"),
            "{m}"
        );
    }
    assert!(sim.posts().is_empty(), "{:?}", sim.log);
}

#[test]
fn pipe_form_state() {
    let mut sim = Sim::new();
    sim.device(A, "kitchen", true, EXAMPLE);
    assert_eq!(state_of(&sim.run("wemo.state", "10.0.0.5:49153").unwrap()), 8);
}

#[test]
fn host_and_port_needs_no_discovery() {
    let mut sim = Sim::new();
    sim.device(A, "kitchen", true, "1");
    let r = sim.run("wemo.state", "10.0.0.5:49153").unwrap();
    assert_eq!(state_of(&r), 1);
    assert_eq!(r.tags, vec![("device".to_owned(), "kitchen".to_owned())]);
    assert_eq!(sim.searches(), 0);
    assert_eq!(sim.log.len(), 2, "{:?}", sim.log);
}

#[test]
fn host_without_port_probes_the_usual_ports_in_order() {
    let mut sim = Sim::new();
    sim.device("http://10.0.0.5:49151", "kitchen", true, "0");
    assert_eq!(state_of(&sim.run("wemo.state", "10.0.0.5").unwrap()), 0);
    let gets: Vec<&str> = sim.log.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(
        gets,
        [
            "http://10.0.0.5:49153/setup.xml",
            "http://10.0.0.5:49152/setup.xml",
            "http://10.0.0.5:49154/setup.xml",
            "http://10.0.0.5:49151/setup.xml",
            "http://10.0.0.5:49151/upnp/control/basicevent1",
        ]
    );
    assert!(sim.log[0].ends_with(&format!(" {PROBE_TIMEOUT_MS}")), "{:?}", sim.log);
}

#[test]
fn a_port_answering_something_else_is_skipped() {
    let mut sim = Sim::new();
    sim.ok("http://10.0.0.5:49153/setup.xml", "<html>router admin</html>")
        .route("http://10.0.0.5:49152/setup.xml", Ok(resp(404, "not found")))
        .device("http://10.0.0.5:49154", "kitchen", true, "1");
    assert_eq!(state_of(&sim.run("wemo.state", "host:10.0.0.5").unwrap()), 1);
}

#[test]
fn rediscovers_once_when_the_device_moved_after_discovery() {
    let mut sim = Sim::new();
    // The first search still finds the old port, whose setup.xml answers,
    // but the control request is refused; the second search finds the new port.
    sim.ssdp_answers(&[A]).ssdp_answers(&[B]);
    sim.ok(
        &format!("{A}/setup.xml"),
        &setup_xml("kitchen", "urn:Belkin:device:insight:1", "Insight"),
    );
    sim.device(B, "kitchen", true, "1");
    let r = sim.run("wemo.state", "kitchen").unwrap();
    assert_eq!(state_of(&r), 1);
    assert_eq!(sim.searches(), 2, "{:?}", sim.log);
    assert_eq!(sim.posts().len(), 2);
}

#[test]
fn reprobes_once_when_the_port_stopped_answering() {
    let mut sim = Sim::new();
    let old = "http://10.0.0.5:49153";
    sim.ok(
        &format!("{old}/setup.xml"),
        &setup_xml("kitchen", "urn:Belkin:device:insight:1", "Insight"),
    );
    // A device whose setup.xml answers but whose control request is refused
    // everywhere: probed twice, then the connection error is reported.
    let err = sim.run("wemo.state", "10.0.0.5").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.contains("connection refused") && m.contains("basicevent1"), "{m}");
    assert_eq!(sim.posts().len(), 2, "{:?}", sim.log);
}

#[test]
fn a_fixed_port_is_not_rediscovered() {
    let mut sim = Sim::new();
    sim.ok(
        &format!("{A}/setup.xml"),
        &setup_xml("kitchen", "urn:Belkin:device:insight:1", "Insight"),
    );
    let err = sim.run("wemo.state", "10.0.0.5:49153").unwrap_err();
    assert!(matches!(err, SampleError::Unavailable(_)), "{err:?}");
    assert_eq!(sim.log.len(), 2, "{:?}", sim.log);
    let err = sim.run("wemo.state", "10.0.0.7:49153").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("http://10.0.0.7:49153/setup.xml") && m.contains("connection refused"),
        "{m}"
    );
}

#[test]
fn soap_fault_is_reported_with_its_description() {
    let mut sim = Sim::new();
    sim.device(A, "kitchen", true, "1");
    let fault = "<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>\
                 <detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>501</errorCode>\
                 <errorDescription>Action Failed</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
    sim.route(&format!("{A}/upnp/control/basicevent1"), Ok(resp(500, fault)));
    let err = sim.run("wemo.state", "10.0.0.5:49153").unwrap_err();
    let SampleError::Failed(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("HTTP 500") && m.contains("UPnP error 501: Action Failed") && m.contains("kitchen"),
        "{m}"
    );
    sim.route(&format!("{A}/upnp/control/basicevent1"), Ok(resp(503, "busy\n now")));
    let err = sim.run("wemo.state", "10.0.0.5:49153").unwrap_err();
    assert!(err.message().contains("HTTP 503: busy now"), "{err:?}");
}

#[test]
fn slow_device_times_out_within_the_budget() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "1");
    sim.route(
        &format!("{A}/upnp/control/basicevent1"),
        Err(CapError::Timeout("timed out".into())),
    );
    let start = sim.now;
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Timeout(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("no answer within 3000 ms (timed out)") && m.contains("basicevent1") && m.contains("busy"),
        "{m}"
    );
    assert!(sim.now - start <= BUDGET_MS, "took {} ms", sim.now - start);
    assert_eq!(sim.searches(), 1, "a time-out is not a move: {:?}", sim.log);
}

#[test]
fn a_host_that_is_down_stops_probing_within_the_budget() {
    let mut sim = Sim::new();
    for port in PROBE_PORTS {
        sim.route(
            &format!("http://10.0.0.9:{port}/setup.xml"),
            Err(CapError::Timeout("timed out".into())),
        );
    }
    let start = sim.now;
    let err = sim.run("wemo.state", "10.0.0.9").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.contains("no WeMo answered at 10.0.0.9 on ports 49153, 49152"), "{m}");
    assert!(sim.now - start <= BUDGET_MS, "took {} ms", sim.now - start);
}

#[test]
fn wrong_friendly_name_names_the_name_and_what_was_found() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A, B])
        .device(A, "Kitchen", true, "0")
        .device(B, "switch1", false, "1");
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.contains("no WeMo device named \"kitchen\""), "{m}");
    assert!(
        m.contains("\"Kitchen\" at http://10.0.0.5:49153") && m.contains("\"switch1\""),
        "{m}"
    );
    assert!(m.contains("case-sensitive"), "{m}");
    assert!(sim.posts().is_empty());
}

#[test]
fn nothing_answers_ssdp() {
    let mut sim = Sim::new();
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("no WeMo device answered the SSDP search") && m.contains("\"kitchen\""),
        "{m}"
    );
    assert!(m.contains("host:port"), "{m}");
}

#[test]
fn an_unreadable_device_does_not_hide_the_others() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A, B]).device(B, "switch1", false, "1");
    sim.route(&format!("{A}/setup.xml"), Err(CapError::Timeout("timed out".into())));
    assert_eq!(state_of(&sim.run("wemo.state", "switch1").unwrap()), 1);
}

#[test]
fn missing_grants_keep_the_host_message() {
    let host_msg = "capability not granted to plugin wemo: discovery (SSDP search)";
    let mut sim = Sim::new();
    sim.ssdp.push_back(Err(CapError::NotGranted(host_msg.into())));
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.starts_with("not granted: ") && m.contains(host_msg), "{m}");

    let http_msg = "capability not granted to plugin wemo: http to 10.0.0.5:49153";
    let mut sim = Sim::new();
    for port in PROBE_PORTS {
        sim.route(
            &format!("http://10.0.0.5:{port}/setup.xml"),
            Err(CapError::NotGranted(http_msg.into())),
        );
    }
    let err = sim.run("wemo.state", "10.0.0.5").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.contains(http_msg), "{m}");
    assert_eq!(sim.log.len(), 1, "probing goes on after a refusal: {:?}", sim.log);
}

#[test]
fn bad_keys_and_args() {
    let mut sim = Sim::new();
    let err = sim.run("wemo.voltage", "x").unwrap_err();
    assert!(
        matches!(&err, SampleError::BadArgument(m) if m.contains("wemo.state")),
        "{err:?}"
    );
    let err = collect(&mut sim, "wemo.state", None).unwrap_err();
    assert!(
        matches!(&err, SampleError::BadArgument(m) if m.contains("friendly name")),
        "{err:?}"
    );
    let err = sim.run("wemo.state", "10.0.0.5:99999").unwrap_err();
    assert!(matches!(&err, SampleError::BadArgument(_)), "{err:?}");
    assert!(sim.log.is_empty());
}

#[test]
fn garbage_answers_are_errors_not_panics() {
    let mut sim = Sim::new();
    sim.device(A, "kitchen", true, "Error");
    let err = sim.run("wemo.state", "10.0.0.5:49153").unwrap_err();
    assert!(
        matches!(&err, SampleError::Failed(m) if m.contains("\"Error\"")),
        "{err:?}"
    );
    sim.ok(
        &format!("{A}/upnp/control/insight1"),
        "<InsightParams>1|2|3</InsightParams>",
    );
    let err = sim.run("wemo.power", "10.0.0.5:49153").unwrap_err();
    assert!(
        matches!(&err, SampleError::Failed(m) if m.contains("no current power")),
        "{err:?}"
    );
    let r = sim.run("wemo.insight", "10.0.0.5:49153").unwrap();
    assert_eq!(r.fields.len(), 3, "{r:?}");
    // The address is remembered; its setup.xml is read again once the entry is old.
    sim.ok(&format!("{A}/setup.xml"), "\u{0}\u{1}<<>>");
    sim.now += VERIFY_AFTER_MS;
    let err = sim.run("wemo.state", "10.0.0.5:49153").unwrap_err();
    assert!(
        matches!(&err, SampleError::Failed(m) if m.contains("not a WeMo device description")),
        "{err:?}"
    );
}

#[test]
fn many_hung_devices_cannot_stretch_a_poll_beyond_the_budget() {
    let mut sim = Sim::new();
    let bases: Vec<String> = (1..=20).map(|i| format!("http://10.0.1.{i}:49153")).collect();
    let refs: Vec<&str> = bases.iter().map(String::as_str).collect();
    sim.ssdp_answers(&refs);
    for base in &bases {
        sim.route(&format!("{base}/setup.xml"), Err(CapError::Timeout("timed out".into())));
    }
    let start = sim.now;
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.contains("ran out of time before asking the remaining devices"), "{m}");
    assert!(sim.now - start <= BUDGET_MS, "took {} ms", sim.now - start);
}

// ---------------------------------------------------------------- the cache

impl Sim {
    /// The device at `base` is gone: its URLs are refused.
    fn unplug(&mut self, base: &str) -> &mut Self {
        self.routes.retain(|url, _| !url.starts_with(base));
        self
    }
    /// Every following search answers with `bases`.
    fn ssdp_now(&mut self, bases: &[&str]) -> &mut Self {
        self.ssdp.clear();
        self.ssdp_answers(bases)
    }
    fn setup_reads(&self) -> usize {
        self.log.iter().filter(|l| l.contains("/setup.xml ")).count()
    }
    /// The log lines from index `from` on, without their timeouts.
    fn since(&self, from: usize) -> Vec<String> {
        self.log[from..]
            .iter()
            .map(|l| l.rsplit_once(' ').map_or(l.clone(), |(head, _)| head.to_owned()))
            .collect()
    }
    fn remembered(&self, key: &str) -> Option<Entry> {
        Entry::decode(self.cache.get(key)?)
    }
}

#[test]
fn a_remembered_name_needs_no_search_and_no_setup_xml() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A, B])
        .device(A, "kitchen", true, "0")
        .device(B, "switch1", false, "1");
    assert_eq!(state_of(&sim.run("wemo.state", "switch1").unwrap()), 1);
    assert_eq!((sim.searches(), sim.setup_reads()), (1, 2), "{:?}", sim.log);
    let entry = sim.remembered("name:switch1").expect("switch1 remembered");
    assert_eq!(entry.base, B);
    assert_eq!(entry.info.model_name.as_deref(), Some("Socket"));
    // The other device read on the way is remembered under its own name.
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, A);

    let from = sim.log.len();
    for _ in 0..3 {
        let r = sim.run("wemo.state", "switch1").unwrap();
        assert_eq!(r.tags, vec![("device".to_owned(), "switch1".to_owned())]);
    }
    let r = sim.run("wemo.insight", "kitchen").unwrap();
    assert_eq!(r.tags, vec![("device".to_owned(), "kitchen".to_owned())]);
    assert_eq!(float(&r, "power_w"), 1.19);
    // The remembered type still refuses power of a plain switch.
    let err = sim.run("wemo.power", "switch1").unwrap_err();
    assert!(
        matches!(&err, SampleError::BadArgument(m) if m.contains("not an Insight")),
        "{err:?}"
    );
    let posts = |base: &str| format!("POST {base}/upnp/control/basicevent1");
    assert_eq!(
        sim.since(from),
        [posts(B), posts(B), posts(B), format!("POST {A}/upnp/control/insight1")]
    );
    // A remembered control request gets its usual timeout.
    assert!(sim.log.last().unwrap().ends_with(&format!(" {REQUEST_TIMEOUT_MS}")));
}

#[test]
fn a_remembered_device_that_moved_is_found_again_once_and_remembered_there() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.run("wemo.state", "kitchen").unwrap();
    // Rebooted onto another port: the old one refuses connections.
    sim.unplug(A).device(B, "kitchen", true, "1").ssdp_now(&[B]);
    let from = sim.log.len();
    assert_eq!(state_of(&sim.run("wemo.state", "kitchen").unwrap()), 1);
    assert_eq!(
        sim.since(from),
        [
            format!("POST {A}/upnp/control/basicevent1"),
            format!("SSDP {SEARCH_TARGET}"),
            format!("GET {B}/setup.xml"),
            format!("POST {B}/upnp/control/basicevent1"),
        ]
    );
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, B);
    let from = sim.log.len();
    sim.run("wemo.state", "kitchen").unwrap();
    sim.run("wemo.power", "kitchen").unwrap();
    assert_eq!(
        sim.since(from),
        [
            format!("POST {B}/upnp/control/basicevent1"),
            format!("POST {B}/upnp/control/insight1")
        ]
    );
}

#[test]
fn a_vanished_device_is_reported_and_forgotten() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.run("wemo.state", "kitchen").unwrap();
    sim.unplug(A).ssdp_now(&[]);
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Unavailable(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains(&format!("{A}/upnp/control/basicevent1"))
            && m.contains("connection refused")
            && m.contains("looking for it again: no WeMo device answered the SSDP search"),
        "{m}"
    );
    assert_eq!(sim.remembered("name:kitchen"), None);
    assert!(sim.cache.is_empty(), "{:?}", sim.cache);
    // Not found is not remembered: every poll searches again, and finds it
    // as soon as it is back.
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    assert!(err.message().contains("no WeMo device answered"), "{err:?}");
    assert_eq!(sim.searches(), 3);
    sim.device(B, "kitchen", true, "1").ssdp_now(&[B]);
    assert_eq!(state_of(&sim.run("wemo.state", "kitchen").unwrap()), 1);
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, B);
}

#[test]
fn a_remembered_location_is_checked_again_after_five_minutes() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.run("wemo.state", "kitchen").unwrap();
    let first = sim.remembered("name:kitchen").unwrap().verified_ms;

    // Still the same device: one setup.xml read there, no search.
    sim.now += VERIFY_AFTER_MS;
    let from = sim.log.len();
    sim.run("wemo.state", "kitchen").unwrap();
    assert_eq!(
        sim.since(from),
        [
            format!("GET {A}/setup.xml"),
            format!("POST {A}/upnp/control/basicevent1")
        ]
    );
    assert!(sim.remembered("name:kitchen").unwrap().verified_ms >= first + VERIFY_AFTER_MS);

    // The clock was set back: checked too.
    sim.now -= 2 * VERIFY_AFTER_MS;
    let from = sim.log.len();
    sim.run("wemo.state", "kitchen").unwrap();
    assert_eq!(sim.since(from)[0], format!("GET {A}/setup.xml"));

    // After a DHCP change another WeMo answers at that address: the name does
    // not match, so the device is searched for and found at its new address.
    sim.device(A, "hall", false, "0")
        .device(B, "kitchen", true, "1")
        .ssdp_now(&[A, B]);
    sim.now += VERIFY_AFTER_MS;
    let from = sim.log.len();
    assert_eq!(state_of(&sim.run("wemo.state", "kitchen").unwrap()), 1);
    assert_eq!(
        sim.since(from),
        [
            format!("GET {A}/setup.xml"),
            format!("SSDP {SEARCH_TARGET}"),
            format!("GET {A}/setup.xml"),
            format!("GET {B}/setup.xml"),
            format!("POST {B}/upnp/control/basicevent1"),
        ]
    );
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, B);
    assert_eq!(sim.remembered("name:hall").unwrap().base, A);
}

#[test]
fn a_timeout_at_a_remembered_location_looks_again_once() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.run("wemo.state", "kitchen").unwrap();
    let control = format!("{A}/upnp/control/basicevent1");

    // Hung, but still there: found at the same place, the time-out is
    // reported and the request not repeated.
    sim.route(&control, Err(CapError::Timeout("timed out".into())));
    let (from, start) = (sim.log.len(), sim.now);
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    let SampleError::Timeout(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.contains("basicevent1") && m.contains("busy or hung"), "{m}");
    assert_eq!(
        sim.since(from),
        [
            format!("POST {control}"),
            format!("SSDP {SEARCH_TARGET}"),
            format!("GET {A}/setup.xml"),
        ]
    );
    assert!(sim.now - start <= BUDGET_MS, "took {} ms", sim.now - start);
    // Found there again, so remembered there.
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, A);

    // Gone from that address (a new DHCP lease): found elsewhere and read there.
    sim.device(B, "kitchen", true, "1").ssdp_now(&[B]);
    let from = sim.log.len();
    assert_eq!(state_of(&sim.run("wemo.state", "kitchen").unwrap()), 1);
    assert_eq!(
        sim.since(from),
        [
            format!("POST {control}"),
            format!("SSDP {SEARCH_TARGET}"),
            format!("GET {B}/setup.xml"),
            format!("POST {B}/upnp/control/basicevent1"),
        ]
    );
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, B);
}

#[test]
fn a_404_at_a_remembered_location_looks_again() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.run("wemo.state", "kitchen").unwrap();
    // Another web server took the address and port.
    sim.unplug(A)
        .route(&format!("{A}/upnp/control/basicevent1"), Ok(resp(404, "no such page")))
        .device(B, "kitchen", true, "1")
        .ssdp_now(&[B]);
    assert_eq!(state_of(&sim.run("wemo.state", "kitchen").unwrap()), 1);
    assert_eq!(sim.searches(), 2);
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, B);
}

#[test]
fn a_probed_port_is_remembered_and_probed_again_when_refused() {
    let mut sim = Sim::new();
    let (old, new) = ("http://10.0.0.5:49151", "http://10.0.0.5:49154");
    sim.device(old, "kitchen", true, "0");
    sim.run("wemo.state", "10.0.0.5").unwrap();
    assert_eq!(sim.setup_reads(), 4);
    assert_eq!(sim.remembered("port:10.0.0.5").unwrap().base, old);

    let from = sim.log.len();
    let r = sim.run("wemo.state", "10.0.0.5").unwrap();
    assert_eq!(r.tags, vec![("device".to_owned(), "kitchen".to_owned())]);
    assert_eq!(sim.since(from), [format!("POST {old}/upnp/control/basicevent1")]);

    sim.unplug(old).device(new, "kitchen", true, "1");
    let from = sim.log.len();
    assert_eq!(state_of(&sim.run("wemo.state", "10.0.0.5").unwrap()), 1);
    assert_eq!(
        sim.since(from),
        [
            format!("POST {old}/upnp/control/basicevent1"),
            "GET http://10.0.0.5:49153/setup.xml".to_owned(),
            "GET http://10.0.0.5:49152/setup.xml".to_owned(),
            format!("GET {new}/setup.xml"),
            format!("POST {new}/upnp/control/basicevent1"),
        ]
    );
    assert_eq!(sim.remembered("port:10.0.0.5").unwrap().base, new);
    let from = sim.log.len();
    sim.run("wemo.state", "10.0.0.5").unwrap();
    assert_eq!(sim.since(from), [format!("POST {new}/upnp/control/basicevent1")]);
}

#[test]
fn host_and_port_reads_setup_xml_once_and_forgets_it_when_refused() {
    let mut sim = Sim::new();
    sim.device(A, "kitchen", true, "1");
    for _ in 0..3 {
        let r = sim.run("wemo.state", "10.0.0.5:49153").unwrap();
        assert_eq!(r.tags, vec![("device".to_owned(), "kitchen".to_owned())]);
    }
    assert_eq!(sim.setup_reads(), 1, "{:?}", sim.log);
    assert!(sim.remembered("addr:10.0.0.5:49153").is_some());
    // Refused: reported without looking elsewhere, and read afresh next time.
    sim.unplug(A);
    let from = sim.log.len();
    let err = sim.run("wemo.state", "10.0.0.5:49153").unwrap_err();
    assert!(
        matches!(&err, SampleError::Unavailable(m) if m.contains("connection refused")),
        "{err:?}"
    );
    assert_eq!(sim.since(from), [format!("POST {A}/upnp/control/basicevent1")]);
    assert!(sim.cache.is_empty(), "{:?}", sim.cache);
    sim.device(A, "kitchen", true, "1");
    sim.run("wemo.state", "10.0.0.5:49153").unwrap();
    assert_eq!(sim.setup_reads(), 2);
}

#[test]
fn a_device_is_renamed_in_the_tag_once_its_setup_xml_is_read_again() {
    let mut sim = Sim::new();
    sim.device(A, "kitchen", true, "1");
    sim.run("wemo.state", "10.0.0.5").unwrap();
    sim.device(A, "pantry", true, "1");
    let r = sim.run("wemo.state", "10.0.0.5").unwrap();
    assert_eq!(r.tags, vec![("device".to_owned(), "kitchen".to_owned())]);
    sim.now += VERIFY_AFTER_MS;
    let r = sim.run("wemo.state", "10.0.0.5").unwrap();
    assert_eq!(r.tags, vec![("device".to_owned(), "pantry".to_owned())]);
}

#[test]
fn without_a_usable_cache_every_poll_looks_the_device_up() {
    let mut sim = Sim::new();
    sim.cache_full = true;
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    for _ in 0..3 {
        sim.run("wemo.state", "kitchen").unwrap();
    }
    assert_eq!((sim.searches(), sim.setup_reads()), (3, 3));

    // Entries that are not ours, or do not fit the target, are replaced.
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.cache.insert("name:kitchen".into(), "http://10.9.9.9:1".into());
    let other = Entry {
        base: "http://10.9.9.9:49153".into(),
        verified_ms: sim.now,
        info: Default::default(),
    };
    sim.cache.insert("port:10.0.0.5".into(), other.encode());
    sim.run("wemo.state", "kitchen").unwrap();
    sim.device("http://10.0.0.5:49153", "kitchen", true, "0");
    sim.run("wemo.state", "10.0.0.5").unwrap();
    assert_eq!(sim.searches(), 1);
    assert!(!sim.log.iter().any(|l| l.contains("10.9.9.9")), "{:?}", sim.log);
    assert_eq!(sim.remembered("name:kitchen").unwrap().base, A);
    assert_eq!(sim.remembered("port:10.0.0.5").unwrap().base, A);
}

#[test]
fn a_missing_http_grant_at_a_remembered_location_keeps_the_host_message() {
    let mut sim = Sim::new();
    sim.ssdp_answers(&[A]).device(A, "kitchen", true, "0");
    sim.run("wemo.state", "kitchen").unwrap();
    let msg = "capability not granted to plugin wemo: http to 10.0.0.5:49153";
    sim.route(
        &format!("{A}/upnp/control/basicevent1"),
        Err(CapError::NotGranted(msg.into())),
    );
    let err = sim.run("wemo.state", "kitchen").unwrap_err();
    assert!(
        matches!(&err, SampleError::Unavailable(m) if m.contains(msg)),
        "{err:?}"
    );
    assert_eq!(sim.searches(), 1, "a refusal is not a move");
}
