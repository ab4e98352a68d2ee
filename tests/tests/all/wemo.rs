//! The wemo plugin against fake Belkin WeMo devices on loopback: an SSDP
//! responder (the logger's `discovery.ssdp_target` points at it) and one HTTP
//! server per device serving setup.xml, basicevent1 and insight1 the way the
//! firmware does (one request per connection, SOAP faults as HTTP 500).
//! Devices can be a Switch or an Insight, answer in the pipe form, fault, be
//! slow, and move to another port as after a reboot. The fakes count the
//! M-SEARCH datagrams and setup.xml reads, to show that the plugin remembers
//! where it found a device (in the host's per-plugin cache) and looks again
//! only when the device has moved.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::http_fake::{Handler, HttpFake, Request, RequestLog, Response};
use crate::common::*;
use serde_json::{json, Value};

const BASICEVENT: &str = "urn:Belkin:service:basicevent:1";
const INSIGHT: &str = "urn:Belkin:service:insight:1";
const METAINFO: &str = "urn:Belkin:service:metainfo:1";
/// The Insight parameters after the state (from the device facts): 1190 mW now.
const PARAMS_TAIL: &str = "1611530424|231|300|183183|1209600|8|1190|1164707|99830512.000000|8000";
/// The plugin's timeout for a control request (documented in docs/plugins.md).
const CONTROL_TIMEOUT_MS: u64 = 3000;

// ---------------------------------------------------------------- fake device

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Switch,
    Insight,
}

/// What a fake device is and how it behaves; changed by tests while it runs.
struct Settings {
    name: String,
    kind: Kind,
    serial: String,
    /// What GetBinaryState answers: `0`, `1`, `8` or the pipe form `8|...`.
    binary_state: String,
    /// Answer control requests with HTTP 500 and a SOAP fault with this errorDescription.
    fault: Option<String>,
    /// Wait this long before answering a control request.
    delay: Duration,
}

struct FakeWemo {
    settings: Arc<Mutex<Settings>>,
    /// The server on the device's current port.
    server: Mutex<HttpFake>,
    /// Requests on every port the device has listened on.
    requests: RequestLog,
    handler: Handler,
}

impl FakeWemo {
    fn start(name: &str, kind: Kind, binary_state: &str) -> Arc<FakeWemo> {
        Self::start_on(name, kind, binary_state, 0).unwrap()
    }

    /// Starts on 127.0.0.1:`port` (0: any free port); `None` if the port is taken.
    fn start_on(name: &str, kind: Kind, binary_state: &str, port: u16) -> Option<Arc<FakeWemo>> {
        let serial = format!(
            "221517K01{:05}",
            name.len() * 97 + name.bytes().map(usize::from).sum::<usize>()
        );
        let settings = Arc::new(Mutex::new(Settings {
            name: name.into(),
            kind,
            serial,
            binary_state: binary_state.into(),
            fault: None,
            delay: Duration::ZERO,
        }));
        let requests = RequestLog::default();
        let state = settings.clone();
        let handler: Handler = Arc::new(move |request| respond(request, &mut state.lock().unwrap()));
        let server = HttpFake::listen(port, requests.clone(), handler.clone())?;
        Some(Arc::new(FakeWemo {
            settings,
            server: Mutex::new(server),
            requests,
            handler,
        }))
    }

    fn port(&self) -> u16 {
        self.server.lock().unwrap().port()
    }
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }
    fn location(&self) -> String {
        format!("http://{}/setup.xml", self.address())
    }
    fn usn(&self) -> String {
        let s = self.settings.lock().unwrap();
        let prefix = if s.kind == Kind::Insight { "Insight" } else { "Socket" };
        format!("uuid:{prefix}-1_0-{}::{BASICEVENT}", s.serial)
    }
    fn set_binary_state(&self, state: &str) {
        self.settings.lock().unwrap().binary_state = state.into();
    }
    fn set_fault(&self, fault: Option<&str>) {
        self.settings.lock().unwrap().fault = fault.map(str::to_owned);
    }
    fn set_delay(&self, delay: Duration) {
        self.settings.lock().unwrap().delay = delay;
    }

    /// Stops listening on the current port and listens on `port` (0: any),
    /// as a device does after a reboot. Returns the new port, or `None` (and
    /// keeps the old one) if `port` is taken.
    fn move_to(&self, port: u16) -> Option<u16> {
        let new = HttpFake::listen(port, self.requests.clone(), self.handler.clone())?;
        let mut current = self.server.lock().unwrap();
        let old_port = current.port();
        // Dropping the old server stops it listening.
        *current = new;
        // The old port is really gone once a connection to it is refused.
        wait_until("the old port to close", SLOW, || {
            TcpStream::connect(("127.0.0.1", old_port)).is_err().then_some(())
        });
        Some(current.port())
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }
    /// Control (POST) requests received on `port`.
    fn control_requests_on(&self, port: u16) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.port == port && r.method == "POST")
            .count()
    }
    /// setup.xml reads received on `port` (`None`: on any port).
    fn setup_reads_on(&self, port: Option<u16>) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == "/setup.xml" && port.is_none_or(|p| r.port == p))
            .count()
    }
}

/// The firmware's answer: its own header lines (upper case, no
/// `Connection`), the connection closed after one request all the same.
fn respond(request: &Request, s: &mut Settings) -> Response {
    let (status, body, delay) = answer(request, s);
    let headers = [
        ("CONTENT-LENGTH", ""),
        ("CONTENT-TYPE", "text/xml; charset=\"utf-8\""),
        ("EXT", ""),
        ("SERVER", "Unspecified, UPnP/1.0, Unspecified"),
        ("X-User-Agent", "redsonic"),
    ];
    Response::raw(status, &headers, body).with_delay(delay)
}

/// (status, body, delay) for a request, as the firmware would answer it.
fn answer(req: &Request, s: &mut Settings) -> (u16, String, Duration) {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/setup.xml") => (200, setup_xml(s), Duration::ZERO),
        ("POST", "/upnp/control/basicevent1") => {
            let (status, body) = control(req, s, BASICEVENT);
            (status, body, s.delay)
        }
        ("POST", "/upnp/control/insight1") if s.kind == Kind::Insight => {
            let (status, body) = control(req, s, INSIGHT);
            (status, body, s.delay)
        }
        _ => (
            404,
            "<html><body><h1>404 Not Found</h1></body></html>".into(),
            Duration::ZERO,
        ),
    }
}

/// The device description; the two kinds differ in element order and
/// whitespace, as firmware versions do.
fn setup_xml(s: &Settings) -> String {
    match s.kind {
        Kind::Insight => format!(
            "<?xml version=\"1.0\"?>\n<root xmlns=\"urn:Belkin:device-1-0\">\n  <specVersion>\n    <major>1</major>\n    \
             <minor>0</minor>\n  </specVersion>\n  <device>\n    <deviceType>urn:Belkin:device:insight:1</deviceType>\n    \
             <friendlyName>{}</friendlyName>\n    <manufacturer>Belkin International Inc.</manufacturer>\n    \
             <modelName>Insight</modelName>\n    <modelNumber>1.0</modelNumber>\n    \
             <serialNumber>{}</serialNumber>\n    <UDN>uuid:Insight-1_0-{}</UDN>\n    <serviceList>\n      \
             <service>\n        <serviceType>{BASICEVENT}</serviceType>\n        \
             <controlURL>/upnp/control/basicevent1</controlURL>\n      </service>\n      <service>\n        \
             <serviceType>{INSIGHT}</serviceType>\n        <controlURL>/upnp/control/insight1</controlURL>\n      \
             </service>\n    </serviceList>\n  </device>\n</root>\n",
            xml_escape(&s.name),
            s.serial,
            s.serial
        ),
        Kind::Switch => format!(
            "<?xml version=\"1.0\"?>\r\n<root xmlns=\"urn:Belkin:device-1-0\"><device><UDN>uuid:Socket-1_0-{}</UDN>\
             <serialNumber>{}</serialNumber><friendlyName>  {}\r\n</friendlyName><modelName>Socket</modelName>\
             <deviceType>urn:Belkin:device:controllee:1</deviceType><serviceList><service>\
             <serviceType>{BASICEVENT}</serviceType><controlURL>/upnp/control/basicevent1</controlURL></service>\
             </serviceList></device></root>",
            s.serial,
            s.serial,
            xml_escape(&s.name)
        ),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn envelope(inner: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\n{inner}\n</s:Body> </s:Envelope>"
    )
}

fn fault(code: u32, description: &str) -> (u16, String) {
    (
        500,
        envelope(&format!(
            "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>\
             <UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode>\
             <errorDescription>{}</errorDescription></UPnPError></detail></s:Fault>",
            xml_escape(description)
        )),
    )
}

/// The text of the first `<name>` element in `body` (test requests are simple).
fn element<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = body[start..].find(&format!("</{name}>"))?;
    Some(&body[start..start + end])
}

/// A SOAP action on `service`: checks the headers and body a real device needs.
fn control(req: &Request, s: &mut Settings, service: &str) -> (u16, String) {
    let content_type = req.header("content-type").unwrap_or("");
    let soap_action = req.header("soapaction").unwrap_or("");
    let action = soap_action
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .and_then(|a| a.strip_prefix(service))
        .and_then(|a| a.strip_prefix('#'));
    let Some(action) = action.filter(|_| content_type.starts_with("text/xml")) else {
        return fault(401, "Invalid Action");
    };
    if !req.body.contains(&format!(":{action} ")) && !req.body.contains(&format!("<{action}")) {
        return fault(402, "Invalid Args");
    }
    if let Some(description) = &s.fault {
        return fault(501, description);
    }
    let state_number = |v: &str| v.split('|').next().unwrap_or("").to_owned();
    match (service, action) {
        (BASICEVENT, "GetBinaryState") => (
            200,
            envelope(&format!(
                "<u:GetBinaryStateResponse xmlns:u=\"{BASICEVENT}\">\r\n<BinaryState>{}</BinaryState>\r\n\
                 </u:GetBinaryStateResponse>",
                s.binary_state
            )),
        ),
        (BASICEVENT, "SetBinaryState") => {
            let Some(wanted) = element(&req.body, "BinaryState").map(str::trim) else {
                return fault(402, "Invalid Args");
            };
            let answer = if wanted == state_number(&s.binary_state) {
                "Error".to_owned() // a redundant set
            } else {
                s.binary_state = wanted.to_owned();
                wanted.to_owned()
            };
            (
                200,
                envelope(&format!(
                    "<u:SetBinaryStateResponse xmlns:u=\"{BASICEVENT}\">\r\n<BinaryState>{answer}</BinaryState>\r\n\
                     <CountdownEndTime>0</CountdownEndTime>\r\n<deviceCurrentTime>1611530424</deviceCurrentTime>\r\n\
                     </u:SetBinaryStateResponse>"
                )),
            )
        }
        (INSIGHT, "GetInsightParams") => (
            200,
            envelope(&format!(
                "<u:GetInsightParamsResponse xmlns:u=\"{METAINFO}\">\r\n<InsightParams>{}|{PARAMS_TAIL}</InsightParams>\r\n\
                 </u:GetInsightParamsResponse>",
                state_number(&s.binary_state)
            )),
        ),
        _ => fault(401, "Invalid Action"),
    }
}

/// Sends a SOAP action to a fake as a controller would; returns (status, body).
fn soap_call(address: &str, path: &str, service: &str, action: &str, args: &str) -> (u16, String) {
    let body = envelope(&format!("<u:{action} xmlns:u=\"{service}\">{args}</u:{action}>"));
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n\
         SOAPACTION: \"{service}#{action}\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

// ---------------------------------------------------------------- fake SSDP

/// Answers M-SEARCHes for basicevent (or ssdp:all) for each of its devices,
/// with the device's current port.
struct SsdpResponder {
    address: String,
    searches: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl SsdpResponder {
    fn start(devices: &[Arc<FakeWemo>]) -> SsdpResponder {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap().to_string();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let searches = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (devices, seen, stopped) = (devices.to_vec(), searches.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stopped.load(Ordering::SeqCst) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                seen.lock().unwrap().push(text.clone());
                if !text.starts_with("M-SEARCH * HTTP/1.1\r\n") {
                    continue;
                }
                let search = Request::from_head(&text, 0);
                let st = search.as_ref().and_then(|r| r.header("st")).unwrap_or_default();
                if st != BASICEVENT && st != "ssdp:all" {
                    continue;
                }
                for device in &devices {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=86400\r\nDATE: Mon, 25 Jan 2021 00:00:24 GMT\r\n\
                         EXT:\r\nLOCATION: {}\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n\
                         01-NLS: 3b7a6c3c-1dd2-11b2-a6b3-d7b1c1c4e0f5\r\nSERVER: Unspecified, UPnP/1.0, Unspecified\r\n\
                         X-User-Agent: redsonic\r\nST: {BASICEVENT}\r\nUSN: {}\r\n\r\n",
                        device.location(),
                        device.usn()
                    );
                    let _ = socket.send_to(answer.as_bytes(), from);
                }
            }
        });
        SsdpResponder {
            address,
            searches,
            stop,
        }
    }

    fn searches(&self) -> Vec<String> {
        self.searches.lock().unwrap().clone()
    }
    /// M-SEARCH datagrams received so far.
    fn m_searches(&self) -> usize {
        self.searches()
            .iter()
            .filter(|s| s.starts_with("M-SEARCH * HTTP/1.1\r\n"))
            .count()
    }
}

impl Drop for SsdpResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- helpers

fn item(name: &str, key: &str, arg: &str) -> Value {
    json!({"name": name, "key": key, "interval": 1, "arg": arg})
}

fn grants() -> Value {
    json!({"wemo": {"http": ["127.0.0.1"], "discovery": true}})
}

fn config(ssdp: Option<&SsdpResponder>, plugins: Value, items: Vec<Value>) -> Value {
    // Without a responder, searches go to a port nobody answers on.
    let target = ssdp.map_or_else(|| format!("127.0.0.1:{}", free_udp_port()), |s| s.address.clone());
    json!({"discovery": {"ssdp_target": target}, "plugins": plugins, "items": items})
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn assert_close(value: &Value, expected: f64, what: &str) {
    let v = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {value}"));
    assert!(
        (v - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: {v} != {expected}"
    );
}

/// Asserts every row is a `wemo` point tagged with the device's name and
/// holding exactly `fields` (integers compared exactly).
fn assert_rows(rows: &[Row], device: &str, fields: &Value, item: &str) {
    assert!(!rows.is_empty(), "{item}: no rows");
    for row in rows {
        assert_eq!(row.measurement, "wemo", "{item}: {row:?}");
        assert_eq!(row.tags, json!({"device": device}), "{item}: {row:?}");
        assert_eq!(&row.fields, fields, "{item}: {row:?}");
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn devices_found_by_name_or_address_give_state_power_and_insight_params() {
    let insight = FakeWemo::start(
        "Kitchen Insight",
        Kind::Insight,
        &format!("8|{PARAMS_TAIL}"), // the pipe form some Insights answer
    );
    let switch = FakeWemo::start("switch1", Kind::Switch, "1");
    let ssdp = SsdpResponder::start(&[insight.clone(), switch.clone()]);
    let dir = TestDir::new(&[dist_wasm("wemo")]);
    dir.write_config(config(
        Some(&ssdp),
        grants(),
        vec![
            item("ins_state", "wemo.state", "Kitchen Insight"),
            item("ins_power", "wemo.power", "Kitchen Insight"),
            item("ins_all", "wemo.insight", "Kitchen Insight"),
            item("sw_state", "wemo.state", "switch1"),
            item("sw_addr", "wemo.state", &switch.address()),
            item("sw_power", "wemo.power", "name:switch1"),
            item("wrong_case", "wemo.state", "Switch1"),
        ],
    ));
    let mut logger = dir.start();

    let rows = logger.wait_rows(&dir.db_path(), "ins_state", 2);
    assert_rows(&rows, "Kitchen Insight", &json!({"state": 8}), "ins_state");
    let rows = logger.wait_rows(&dir.db_path(), "ins_power", 2);
    for row in &rows {
        assert_eq!(row.tags, json!({"device": "Kitchen Insight"}), "{row:?}");
        assert_eq!(row.fields.as_object().unwrap().len(), 1, "{row:?}");
        assert_close(&row.fields["power"], 1.19, "ins_power power");
    }
    let rows = logger.wait_rows(&dir.db_path(), "ins_all", 1);
    let f = &rows[0].fields;
    assert_eq!(rows[0].tags, json!({"device": "Kitchen Insight"}));
    for (name, expected) in [
        ("state", 8),
        ("last_change", 1611530424),
        ("on_for_s", 231),
        ("on_today_s", 300),
        ("on_total_s", 183183),
        ("time_period_s", 1209600),
        ("wifi_signal", 8),
    ] {
        assert_eq!(f[name].as_i64(), Some(expected), "ins_all {name}: {f}");
    }
    for (name, expected) in [
        ("power_w", 1.19),
        ("current_power_mw", 1190.0),
        ("today_mw_min", 1164707.0),
        ("today_kwh", 1164707.0 / 6.0e7),
        ("total_mw_min", 99830512.0),
        ("total_kwh", 99830512.0 / 6.0e7),
        ("standby_threshold_mw", 8000.0),
        ("standby_threshold_w", 8.0),
    ] {
        assert_close(&f[name], expected, &format!("ins_all {name}"));
    }
    assert_eq!(f.as_object().unwrap().len(), 15, "ins_all: {f}");
    let ins_all = logger.item("ins_all");
    assert_eq!(ins_all["last_value"], json!(8), "state is the primary field: {ins_all}");

    let rows = logger.wait_rows(&dir.db_path(), "sw_state", 2);
    assert_rows(&rows, "switch1", &json!({"state": 1}), "sw_state");
    let rows = logger.wait_rows(&dir.db_path(), "sw_addr", 2);
    assert_rows(&rows, "switch1", &json!({"state": 1}), "sw_addr");

    let error = logger.wait_error("sw_power");
    assert!(
        error.starts_with("bad argument: ") && error.contains("\"switch1\"") && error.contains("not an Insight"),
        "sw_power: {error}"
    );
    let error = logger.wait_error("wrong_case");
    assert!(
        error.starts_with("unavailable: ")
            && error.contains("no WeMo device named \"Switch1\"")
            && error.contains("\"switch1\" at http://127.0.0.1:")
            && error.contains("\"Kitchen Insight\"")
            && error.contains("case-sensitive"),
        "wrong_case: {error}"
    );
    for name in ["sw_power", "wrong_case"] {
        assert!(store_rows(&dir.db_path(), name).is_empty(), "{name} stored samples");
    }

    // What went over the wire: SSDP searches for basicevent, and SOAP requests
    // with the headers the firmware needs (the fake faults without them).
    let searches = ssdp.searches();
    assert!(!searches.is_empty());
    for search in &searches {
        assert!(
            search.contains(&format!("ST: {BASICEVENT}\r\n")) && search.contains("MAN: \"ssdp:discover\"\r\n"),
            "{search:?}"
        );
    }
    let requests = insight.requests();
    let insight_call = requests
        .iter()
        .find(|r| r.path == "/upnp/control/insight1")
        .expect("no GetInsightParams request");
    assert_eq!(
        insight_call.header("SOAPACTION"),
        Some("\"urn:Belkin:service:insight:1#GetInsightParams\"")
    );
    assert_eq!(insight_call.header("Content-Type"), Some("text/xml; charset=\"utf-8\""));
    assert!(
        requests.iter().all(|r| r.header("Connection") == Some("close")),
        "a request without Connection: close: {requests:?}"
    );
    let state_call = switch
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("no request to the switch");
    assert_eq!(state_call.path, "/upnp/control/basicevent1");
    assert_eq!(
        state_call.header("SOAPACTION"),
        Some("\"urn:Belkin:service:basicevent:1#GetBinaryState\"")
    );
    // The plugin never switches anything.
    for device in [&insight, &switch] {
        assert!(
            device.requests().iter().all(|r| !r.body.contains("SetBinaryState")),
            "a sample call changed a device"
        );
    }

    // Switched off by someone else: the next samples say so. A redundant
    // switch-off answers Error, as the firmware does.
    let set = |state: &str| {
        soap_call(
            &switch.address(),
            "/upnp/control/basicevent1",
            BASICEVENT,
            "SetBinaryState",
            &format!("<BinaryState>{state}</BinaryState>"),
        )
    };
    let (status, body) = set("0");
    assert_eq!(status, 200);
    assert!(body.contains("<BinaryState>0</BinaryState>"), "{body}");
    let (status, body) = set("0");
    assert_eq!(status, 200);
    assert!(body.contains("<BinaryState>Error</BinaryState>"), "{body}");
    for name in ["sw_addr", "sw_state"] {
        logger.wait_until(&format!("{name} to read the switch as off"), SLOW, |api| {
            (api.try_get(&format!("/items/{name}"))?.json()["last_value"] == json!(0)).then_some(())
        });
    }
    assert!(
        store_rows(&dir.db_path(), "sw_addr")
            .iter()
            .any(|r| r.fields == json!({"state": 0})),
        "no stored sample with state 0"
    );
}

#[test]
fn a_device_that_moves_to_another_port_is_found_again() {
    let device = FakeWemo::start("Wandering Insight", Kind::Insight, "1");
    let ssdp = SsdpResponder::start(std::slice::from_ref(&device));
    // A second device on one of the ports WeMo firmware uses, found by probing
    // (skipped if none of them is free on this machine).
    let free_probe_ports: Vec<u16> = [49159, 49158, 49157, 49156, 49155]
        .into_iter()
        .filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .collect();
    let probed = free_probe_ports
        .first()
        .and_then(|p| FakeWemo::start_on("Probed Switch", Kind::Switch, "1", *p));
    let mut items = vec![item("by_name", "wemo.state", "Wandering Insight")];
    if probed.is_some() {
        items.push(item("probed", "wemo.state", "127.0.0.1"));
    } else {
        eprintln!("none of the ports 49155-49159 is free on 127.0.0.1; skipping the port-probing part");
    }
    let dir = TestDir::new(&[dist_wasm("wemo")]);
    dir.write_config(config(Some(&ssdp), grants(), items));
    let mut logger = dir.start();

    let before = logger.wait_rows(&dir.db_path(), "by_name", 2).len();
    let old_port = device.port();
    assert!(device.control_requests_on(old_port) > 0);
    // Rebooted onto another port, and switched to standby meanwhile: samples
    // with state 8 can only come from the new port.
    let new_port = device.move_to(0).unwrap();
    assert_ne!(new_port, old_port);
    device.set_binary_state("8");
    let db = dir.db_path();
    let rows = logger.wait_until("by_name to sample the moved device", SLOW, |_| {
        let rows = store_rows(&db, "by_name");
        (rows.iter().filter(|r| r.fields == json!({"state": 8})).count() >= 2).then_some(rows)
    });
    assert!(rows.len() > before);
    for row in &rows {
        assert_eq!(row.tags, json!({"device": "Wandering Insight"}), "{row:?}");
        assert!(
            row.fields == json!({"state": 1}) || row.fields == json!({"state": 8}),
            "{row:?}"
        );
    }
    logger.wait_until("control requests on the new port", SLOW, |_| {
        (device.control_requests_on(new_port) >= 2).then_some(())
    });
    logger.wait_until("by_name to be error-free", SLOW, |api| {
        api.try_get("/items/by_name")?.json()["last_error"]
            .is_null()
            .then_some(())
    });

    if let Some(probed) = &probed {
        let rows = logger.wait_rows(&dir.db_path(), "probed", 2);
        assert_rows(&rows, "Probed Switch", &json!({"state": 1}), "probed");
        // The port found is remembered: further polls probe nothing.
        let reads = probed.setup_reads_on(None);
        logger.wait_rows(&dir.db_path(), "probed", rows.len() + 3);
        assert_eq!(probed.setup_reads_on(None), reads, "probed again without a move");
        let old_port = probed.port();
        let Some(new_port) = free_probe_ports[1..].iter().find_map(|p| probed.move_to(*p)) else {
            eprintln!("no second free port among 49155-49159; skipping the move of the probed device");
            return;
        };
        let before = store_rows(&dir.db_path(), "probed").len();
        logger.wait_until(
            &format!("probing to find port {new_port} after {old_port}"),
            SLOW,
            |_| (probed.control_requests_on(new_port) >= 2).then_some(()),
        );
        let rows = logger.wait_rows(&dir.db_path(), "probed", before + 2);
        assert_rows(&rows, "Probed Switch", &json!({"state": 1}), "probed");
        // The usual ports were asked in the documented order up to the device's.
        let asked: Vec<u16> = probed
            .requests()
            .iter()
            .filter(|r| r.path == "/setup.xml")
            .map(|r| r.port)
            .collect();
        assert!(asked.contains(&new_port), "{asked:?}");
        // Probed once after the move, then remembered again.
        logger.wait_rows(&dir.db_path(), "probed", before + 4);
        assert_eq!(probed.setup_reads_on(Some(new_port)), 1, "{asked:?}");
    }
}

#[test]
fn a_device_found_by_name_is_remembered_until_it_moves() {
    let device = FakeWemo::start("Remembered Insight", Kind::Insight, "1");
    let other = FakeWemo::start("Other Switch", Kind::Switch, "0");
    let ssdp = SsdpResponder::start(&[other.clone(), device.clone()]);
    let dir = TestDir::new(&[dist_wasm("wemo")]);
    dir.write_config(config(
        Some(&ssdp),
        grants(),
        vec![item("by_name", "wemo.state", "Remembered Insight")],
    ));
    let mut logger = dir.start();
    let setup_reads = || device.setup_reads_on(None) + other.setup_reads_on(None);

    // The first successful poll searched and read setup.xml...
    let first = logger.wait_rows(&dir.db_path(), "by_name", 1).len();
    let (searches, reads) = (ssdp.m_searches(), setup_reads());
    assert!(searches >= 1 && device.setup_reads_on(None) >= 1, "{searches} {reads}");
    // ...the following ones only ask the device.
    let old_port = device.port();
    let rows = logger.wait_rows(&dir.db_path(), "by_name", first + 4);
    assert_rows(&rows, "Remembered Insight", &json!({"state": 1}), "by_name");
    assert_eq!(ssdp.m_searches(), searches, "searched again for a remembered device");
    assert_eq!(setup_reads(), reads, "setup.xml read again for a remembered device");
    assert!(device.control_requests_on(old_port) >= first + 4);

    // Rebooted onto another port (and in standby now): one new search finds
    // it, then it is remembered there.
    let new_port = device.move_to(0).unwrap();
    device.set_binary_state("8");
    let db = dir.db_path();
    logger.wait_until("4 samples from the moved device", SLOW, |_| {
        let rows = store_rows(&db, "by_name");
        (rows.iter().filter(|r| r.fields == json!({"state": 8})).count() >= 4).then_some(())
    });
    assert_eq!(ssdp.m_searches(), searches + 1, "not exactly one search after the move");
    assert_eq!(device.setup_reads_on(Some(new_port)), 1);
    let other_reads = setup_reads() - reads - 1;
    assert!(other_reads <= 1, "{other_reads} reads of the other device's setup.xml");
    assert!(device.control_requests_on(new_port) >= 4);
    assert_eq!(logger.item("by_name")["last_error"], json!(null));
}

#[test]
fn soap_faults_and_slow_devices_are_reported_and_do_not_hold_up_other_items() {
    let faulty = FakeWemo::start("Faulty Insight", Kind::Insight, "1");
    faulty.set_fault(Some("Action Failed: relay stuck (test 7)"));
    let sleepy = FakeWemo::start("Sleepy Switch", Kind::Switch, "1");
    sleepy.set_delay(Duration::from_millis(CONTROL_TIMEOUT_MS + 2000));
    let healthy = FakeWemo::start("Healthy Switch", Kind::Switch, "0");
    let dir = TestDir::new(&[dist_wasm("wemo")]);
    dir.write_config(config(
        None,
        grants(),
        vec![
            item("fault", "wemo.power", &format!("host:{}", faulty.address())),
            item("slow", "wemo.state", &sleepy.address()),
            item("ok", "wemo.state", &healthy.address()),
        ],
    ));
    let mut logger = dir.start();

    let error = logger.wait_error("fault");
    assert!(
        error.starts_with("failed: ")
            && error.contains("HTTP 500")
            && error.contains("UPnP error 501: Action Failed: relay stuck (test 7)")
            && error.contains("GetInsightParams"),
        "fault: {error}"
    );

    let error = logger.wait_error("slow");
    assert!(
        error.starts_with("timeout: ")
            && error.contains(&format!("within {CONTROL_TIMEOUT_MS} ms"))
            && error.contains(&format!("{}/upnp/control/basicevent1", sleepy.address())),
        "slow: {error}"
    );
    assert!(sleepy.control_requests_on(sleepy.port()) > 0);
    // While the slow device keeps timing out, its neighbour keeps sampling.
    let errors_before = logger.item("slow")["stats"]["errors"].as_u64().unwrap();
    let before = store_rows(&dir.db_path(), "ok").len();
    let rows = logger.wait_rows(&dir.db_path(), "ok", before + 4);
    assert_rows(&rows, "Healthy Switch", &json!({"state": 0}), "ok");
    let slow = logger.wait_until("another timeout of slow", SLOW, |api| {
        let slow = api.try_get("/items/slow")?.json();
        (slow["stats"]["errors"].as_u64()? > errors_before).then_some(slow)
    });
    assert!(slow["last_error"].as_str().unwrap().starts_with("timeout: "), "{slow}");
    assert_eq!(logger.item("ok")["last_error"], json!(null));
    for name in ["fault", "slow"] {
        assert!(store_rows(&dir.db_path(), name).is_empty(), "{name} stored samples");
    }

    // Both recover once the devices do.
    faulty.set_fault(None);
    sleepy.set_delay(Duration::ZERO);
    for name in ["fault", "slow"] {
        logger.wait_until(&format!("{name} to recover"), SLOW, |api| {
            let item = api.try_get(&format!("/items/{name}"))?.json();
            (item["last_error"].is_null() && !item["last_value"].is_null()).then_some(())
        });
    }
    let fault = logger.item("fault");
    assert_close(&fault["last_value"], 1.19, "fault power after recovery");
}

#[test]
fn friendly_names_need_the_discovery_grant() {
    let device = FakeWemo::start("Kitchen Insight", Kind::Insight, "1");
    let ssdp = SsdpResponder::start(std::slice::from_ref(&device));
    let dir = TestDir::new(&[dist_wasm("wemo")]);
    dir.write_config(config(
        Some(&ssdp),
        json!({"wemo": {"http": ["127.0.0.1"]}}),
        vec![
            item("by_name", "wemo.state", "Kitchen Insight"),
            item("by_address", "wemo.state", &device.address()),
        ],
    ));
    let mut logger = dir.start();
    let error = logger.wait_error("by_name");
    assert!(
        error.starts_with("unavailable: not granted: ")
            && error.contains("capability not granted to plugin wemo")
            && error.to_lowercase().contains("ssdp"),
        "by_name: {error}"
    );
    // An address needs no discovery.
    let rows = logger.wait_rows(&dir.db_path(), "by_address", 2);
    assert_rows(&rows, "Kitchen Insight", &json!({"state": 1}), "by_address");
    assert!(store_rows(&dir.db_path(), "by_name").is_empty());
    assert!(
        ssdp.searches().is_empty(),
        "a refused search was sent: {:?}",
        ssdp.searches()
    );
}
