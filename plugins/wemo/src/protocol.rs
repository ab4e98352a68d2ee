//! The WeMo protocol without I/O: the item's `arg`, SSDP locations, setup.xml,
//! the SOAP requests and their answers.

use std::net::{IpAddr, Ipv6Addr};

use crate::xml;

/// SSDP search target every WeMo Switch and Insight answers.
pub const SEARCH_TARGET: &str = "urn:Belkin:service:basicevent:1";
/// Ports WeMo firmware listens on, in the order to probe them when the arg has no port.
pub const PROBE_PORTS: [u16; 9] = [49153, 49152, 49154, 49151, 49155, 49156, 49157, 49158, 49159];
pub const SETUP_PATH: &str = "/setup.xml";

// ---------------------------------------------------------------- the arg

/// What the item's `arg` names.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A friendly name, found by SSDP discovery.
    Name(String),
    /// An address; without a port the well-known ports are probed.
    Address { host: String, port: Option<u16> },
}

impl Target {
    /// How the target reads in messages.
    pub fn label(&self) -> String {
        match self {
            Target::Name(name) => format!("WeMo {name:?}"),
            Target::Address { host, port: Some(port) } => format!("WeMo at {}", authority(host, *port)),
            Target::Address { host, port: None } => format!("WeMo at {}", bracketed(host)),
        }
    }
}

pub const ARG_HELP: &str = "the WeMo's friendly name (found by SSDP discovery, case-sensitive) or its \
    host[:port] (IPv6 as [addr]:port); prefix name: or host: to force either reading";

/// Reads the item's `arg`.
///
/// - `name:<friendly name>` and `host:<host[:port]>` say explicitly what is meant;
/// - otherwise an IP literal, `[v6]`, or a single word of host-name characters
///   (letters, digits, `-`, `_`, `.`, `:`) containing a `.` or `:` is an address
///   (`10.0.0.5`, `wemo.lan`, `10.0.0.5:49153`, `[fe80::1]:49153`);
/// - anything else (`switch1`, `Living room lamp`) is a friendly name.
pub fn parse_target(arg: Option<&str>) -> Result<Target, String> {
    let arg = arg.map(str::trim).unwrap_or("");
    if arg.is_empty() {
        return Err(format!("an arg is required: {ARG_HELP}"));
    }
    if let Some(name) = arg.strip_prefix("name:") {
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("empty friendly name after \"name:\"; the arg is {ARG_HELP}"));
        }
        return Ok(Target::Name(name.to_owned()));
    }
    if let Some(addr) = arg.strip_prefix("host:") {
        // `host:49153` is the host called "host" on port 49153, not the prefix.
        if !addr.is_empty() && !addr.bytes().all(|b| b.is_ascii_digit()) {
            return parse_address(addr.trim());
        }
    }
    if looks_like_address(arg) {
        parse_address(arg)
    } else {
        Ok(Target::Name(arg.to_owned()))
    }
}

fn looks_like_address(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
        || s.starts_with('[')
        || ((s.contains('.') || s.contains(':'))
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
}

/// `host`, `host:port`, an IPv6 literal, `[v6]` or `[v6]:port`.
pub fn parse_address(s: &str) -> Result<Target, String> {
    let bad = |why: &str| Err(format!("{s:?} is not a usable address ({why}); the arg is {ARG_HELP}"));
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return bad("missing ]");
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return bad("not an IPv6 address inside [ ]");
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return bad("unexpected text after ]"),
            },
        }
    } else if s.parse::<Ipv6Addr>().is_ok() {
        (s, None)
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return bad("the port must be a number from 1 to 65535"),
        },
    };
    let valid_name = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid_name && host.parse::<Ipv6Addr>().is_err() {
        return bad("not a host name or IP address");
    }
    Ok(Target::Address {
        host: host.to_owned(),
        port,
    })
}

/// `host` for a URL: IPv6 literals in brackets.
pub fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `host:port` for a URL.
pub fn authority(host: &str, port: u16) -> String {
    format!("{}:{port}", bracketed(host))
}

/// `http://host:port` of an SSDP `LOCATION` such as `http://10.0.0.5:49153/setup.xml`;
/// `None` for anything but an `http://` URL with a host.
pub fn location_base(location: &str) -> Option<String> {
    let location = location.trim();
    let scheme = location.get(..7)?;
    if !scheme.eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &location[7..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains(char::is_whitespace) || authority.contains('@') {
        return None;
    }
    Some(format!("http://{authority}"))
}

// ---------------------------------------------------------------- setup.xml

/// What setup.xml says about a device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceInfo {
    pub friendly_name: Option<String>,
    pub udn: Option<String>,
    pub device_type: Option<String>,
    pub serial_number: Option<String>,
    pub model_name: Option<String>,
}

impl DeviceInfo {
    /// Whether the device is an Insight: `Some(false)` only when setup.xml
    /// names another device type, `None` when it does not say.
    pub fn is_insight(&self) -> Option<bool> {
        let says = |v: &Option<String>| v.as_deref().map(|s| s.to_ascii_lowercase().contains("insight"));
        match (says(&self.device_type), says(&self.model_name), says(&self.udn)) {
            (Some(true), _, _) | (_, Some(true), _) | (_, _, Some(true)) => Some(true),
            (Some(false), _, _) => Some(false),
            _ => None,
        }
    }

    /// What kind of device it is, for messages: model name, else device type.
    pub fn kind(&self) -> String {
        self.model_name
            .clone()
            .or_else(|| self.device_type.clone())
            .unwrap_or_else(|| "device of unknown type".into())
    }
}

/// Parses setup.xml leniently; `None` when it does not look like a UPnP device
/// description at all (none of friendlyName, UDN, deviceType).
pub fn parse_setup(doc: &str) -> Option<DeviceInfo> {
    let get = |name| xml::text(doc, name).filter(|v| !v.is_empty());
    let info = DeviceInfo {
        friendly_name: get("friendlyName"),
        udn: get("UDN"),
        device_type: get("deviceType"),
        serial_number: get("serialNumber"),
        model_name: get("modelName"),
    };
    (info.friendly_name.is_some() || info.udn.is_some() || info.device_type.is_some()).then_some(info)
}

// ---------------------------------------------------------------- SOAP

/// A UPnP action on a WeMo service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    GetBinaryState,
    GetInsightParams,
}

impl Action {
    pub fn path(self) -> &'static str {
        match self {
            Action::GetBinaryState => "/upnp/control/basicevent1",
            Action::GetInsightParams => "/upnp/control/insight1",
        }
    }
    pub fn service(self) -> &'static str {
        match self {
            Action::GetBinaryState => SEARCH_TARGET,
            Action::GetInsightParams => "urn:Belkin:service:insight:1",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::GetBinaryState => "GetBinaryState",
            Action::GetInsightParams => "GetInsightParams",
        }
    }
    /// The `SOAPACTION` header value, quotes included.
    pub fn soap_action(self) -> String {
        format!("\"{}#{}\"", self.service(), self.name())
    }
    /// The request body: a SOAP envelope holding the empty action element.
    pub fn envelope(self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\
             <s:Body><u:{name} xmlns:u=\"{service}\"></u:{name}></s:Body></s:Envelope>",
            name = self.name(),
            service = self.service()
        )
    }
}

/// The fault in a SOAP error answer, e.g. `UPnPError (UPnP error 401: Invalid Action)`;
/// `None` when the body holds no recognisable fault.
pub fn soap_fault(body: &str) -> Option<String> {
    let get = |name| xml::text(body, name).filter(|v| !v.is_empty());
    let fault = get("faultstring");
    let code = get("errorCode");
    let description = get("errorDescription");
    let upnp = match (code, description) {
        (Some(c), Some(d)) => Some(format!("UPnP error {c}: {d}")),
        (Some(c), None) => Some(format!("UPnP error {c}")),
        (None, Some(d)) => Some(d),
        (None, None) => None,
    };
    match (fault, upnp) {
        (Some(f), Some(u)) => Some(format!("{f} ({u})")),
        (Some(f), None) => Some(f),
        (None, Some(u)) => Some(u),
        (None, None) => None,
    }
}

/// A short, single-line excerpt of a body for error messages.
pub fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 160 {
        format!("{}...", flat.chars().take(160).collect::<String>())
    } else {
        flat
    }
}

/// A number as WeMo firmware writes it: `1190`, `99830512.000000`, ` 8 `.
pub fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// An integer written leniently (`231`, `231.000000`); fractions are truncated.
pub fn integer(s: &str) -> Option<i64> {
    if let Ok(v) = s.trim().parse::<i64>() {
        return Some(v);
    }
    number(s).filter(|v| v.abs() < 9.0e18).map(|v| v.trunc() as i64)
}

/// The state from a GetBinaryState answer: `0`, `1`, `8` or the pipe form
/// `8|1611530424|...` (the number before the first `|`).
pub fn parse_binary_state(body: &str) -> Result<i64, String> {
    let Some(value) = xml::text(body, "BinaryState") else {
        return Err(format!("no <BinaryState> in the answer: {}", excerpt(body)));
    };
    let first = value.split('|').next().unwrap_or("");
    integer(first).ok_or_else(|| format!("the device answered BinaryState {value:?}, not a state number"))
}

/// The 11 `|`-separated fields of `<InsightParams>`. Each is `None` when the
/// firmware left it out or wrote something that is not a number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightParams {
    pub state: i64,
    pub last_change: Option<i64>,
    pub on_for_s: Option<i64>,
    pub on_today_s: Option<i64>,
    pub on_total_s: Option<i64>,
    pub time_period_s: Option<i64>,
    pub wifi_signal: Option<i64>,
    pub current_power_mw: Option<f64>,
    pub today_mw_min: Option<f64>,
    pub total_mw_min: Option<f64>,
    pub standby_threshold_mw: Option<f64>,
}

/// mW·min per kWh: 1 kWh = 1e6 mW × 60 min.
pub const MW_MIN_PER_KWH: f64 = 60_000_000.0;

/// Parses a GetInsightParams answer, e.g.
/// `8|1611530424|231|300|183183|1209600|8|1190|1164707|99830512.000000|8000`.
pub fn parse_insight_params(body: &str) -> Result<InsightParams, String> {
    let Some(value) = xml::text(body, "InsightParams") else {
        return Err(format!("no <InsightParams> in the answer: {}", excerpt(body)));
    };
    let parts: Vec<&str> = value.split('|').collect();
    let int = |i: usize| parts.get(i).and_then(|s| integer(s));
    let float = |i: usize| parts.get(i).and_then(|s| number(s));
    let Some(state) = int(0) else {
        return Err(format!("InsightParams {value:?} do not start with a state number"));
    };
    Ok(InsightParams {
        state,
        last_change: int(1),
        on_for_s: int(2),
        on_today_s: int(3),
        on_total_s: int(4),
        time_period_s: int(5),
        wifi_signal: int(6),
        current_power_mw: float(7),
        today_mw_min: float(8),
        total_mw_min: float(9),
        standby_threshold_mw: float(10),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: Option<u16>) -> Target {
        Target::Address {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn arg_forms() {
        let name = |n: &str| Target::Name(n.into());
        assert_eq!(parse_target(Some("switch1")), Ok(name("switch1")));
        assert_eq!(parse_target(Some("  Living room lamp ")), Ok(name("Living room lamp")));
        assert_eq!(parse_target(Some("Lamp 2.0")), Ok(name("Lamp 2.0")));
        assert_eq!(parse_target(Some("wemo-kitchen")), Ok(name("wemo-kitchen")));
        assert_eq!(parse_target(Some("name:10.0.0.5")), Ok(name("10.0.0.5")));
        assert_eq!(parse_target(Some("name: a b ")), Ok(name("a b")));
        assert_eq!(parse_target(Some("10.0.0.5")), Ok(addr("10.0.0.5", None)));
        assert_eq!(parse_target(Some("10.0.0.5:49153")), Ok(addr("10.0.0.5", Some(49153))));
        assert_eq!(parse_target(Some("wemo.lan")), Ok(addr("wemo.lan", None)));
        assert_eq!(parse_target(Some("wemo.lan:49154")), Ok(addr("wemo.lan", Some(49154))));
        assert_eq!(parse_target(Some("localhost:80")), Ok(addr("localhost", Some(80))));
        assert_eq!(parse_target(Some("host:wemo-kitchen")), Ok(addr("wemo-kitchen", None)));
        assert_eq!(parse_target(Some("host:wemo:49153")), Ok(addr("wemo", Some(49153))));
        assert_eq!(parse_target(Some("host:49153")), Ok(addr("host", Some(49153))));
        assert_eq!(parse_target(Some("fe80::1")), Ok(addr("fe80::1", None)));
        assert_eq!(parse_target(Some("[fe80::1]")), Ok(addr("fe80::1", None)));
        assert_eq!(parse_target(Some("[::1]:49153")), Ok(addr("::1", Some(49153))));
    }

    #[test]
    fn bad_args_say_what_is_expected() {
        for arg in [None, Some(""), Some("   "), Some("name:"), Some("name:  ")] {
            let err = parse_target(arg).unwrap_err();
            assert!(err.contains("friendly name"), "{arg:?}: {err}");
        }
        for arg in [
            "10.0.0.5:0",
            "10.0.0.5:70000",
            "10.0.0.5:x1",
            "[fe80::1",
            "[nope]:1",
            "[::1]x",
            ":80",
        ] {
            let err = parse_target(Some(arg)).unwrap_err();
            assert!(err.contains("not a usable address"), "{arg}: {err}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(authority("10.0.0.5", 49153), "10.0.0.5:49153");
        assert_eq!(authority("::1", 49153), "[::1]:49153");
        assert_eq!(addr("::1", None).label(), "WeMo at [::1]");
        assert_eq!(
            location_base("http://10.0.0.5:49153/setup.xml").as_deref(),
            Some("http://10.0.0.5:49153")
        );
        assert_eq!(
            location_base(" HTTP://[fe80::1]:49153/setup.xml ").as_deref(),
            Some("http://[fe80::1]:49153")
        );
        assert_eq!(location_base("http://wemo").as_deref(), Some("http://wemo"));
        for bad in [
            "https://x/setup.xml",
            "ftp://x",
            "http:///setup.xml",
            "",
            "http://a b/",
            "http://u@h/",
        ] {
            assert_eq!(location_base(bad), None, "{bad}");
        }
    }

    const INSIGHT_SETUP: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:Belkin:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>urn:Belkin:device:insight:1</deviceType>
    <friendlyName> Kitchen &amp; Bath </friendlyName>
    <manufacturer>Belkin International Inc.</manufacturer>
    <modelName>Insight</modelName>
    <serialNumber>221517K0101769</serialNumber>
    <UDN>uuid:Insight-1_0-221517K0101769</UDN>
    <serviceList><service><serviceType>urn:Belkin:service:basicevent:1</serviceType></service></serviceList>
  </device>
</root>"#;

    #[test]
    fn setup_xml_of_an_insight() {
        let info = parse_setup(INSIGHT_SETUP).unwrap();
        assert_eq!(info.friendly_name.as_deref(), Some("Kitchen & Bath"));
        assert_eq!(info.udn.as_deref(), Some("uuid:Insight-1_0-221517K0101769"));
        assert_eq!(info.serial_number.as_deref(), Some("221517K0101769"));
        assert_eq!(info.model_name.as_deref(), Some("Insight"));
        assert_eq!(info.is_insight(), Some(true));
    }

    #[test]
    fn setup_xml_of_a_switch_in_another_order_with_prefixes() {
        let doc = "<b:root xmlns:b=\"urn:Belkin:device-1-0\"><b:device><b:UDN>uuid:Socket-1_0-X</b:UDN>\
                   <b:friendlyName>switch1</b:friendlyName>\r\n<b:deviceType>urn:Belkin:device:controllee:1\
                   </b:deviceType><b:modelName>Socket</b:modelName></b:device></b:root>";
        let info = parse_setup(doc).unwrap();
        assert_eq!(info.friendly_name.as_deref(), Some("switch1"));
        assert_eq!(info.device_type.as_deref(), Some("urn:Belkin:device:controllee:1"));
        assert_eq!(info.is_insight(), Some(false));
        assert_eq!(info.kind(), "Socket");
        assert_eq!(parse_setup("<html><body>Not found</body></html>"), None);
        assert_eq!(parse_setup(""), None);
        let unknown = parse_setup("<root><friendlyName>x</friendlyName></root>").unwrap();
        assert_eq!(unknown.is_insight(), None);
    }

    #[test]
    fn soap_requests() {
        let a = Action::GetBinaryState;
        assert_eq!(a.soap_action(), "\"urn:Belkin:service:basicevent:1#GetBinaryState\"");
        assert_eq!(a.path(), "/upnp/control/basicevent1");
        assert!(a
            .envelope()
            .contains("<u:GetBinaryState xmlns:u=\"urn:Belkin:service:basicevent:1\"></u:GetBinaryState>"));
        let i = Action::GetInsightParams;
        assert_eq!(i.soap_action(), "\"urn:Belkin:service:insight:1#GetInsightParams\"");
        assert_eq!(i.path(), "/upnp/control/insight1");
        assert!(xml::text(&i.envelope(), "Body").is_some());
    }

    fn binary_state_answer(value: &str) -> String {
        format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
             <u:GetBinaryStateResponse xmlns:u=\"urn:Belkin:service:basicevent:1\">\
             <BinaryState>{value}</BinaryState></u:GetBinaryStateResponse></s:Body></s:Envelope>"
        )
    }

    #[test]
    fn binary_states() {
        assert_eq!(parse_binary_state(&binary_state_answer("0")), Ok(0));
        assert_eq!(parse_binary_state(&binary_state_answer("1")), Ok(1));
        assert_eq!(parse_binary_state(&binary_state_answer(" 8 ")), Ok(8));
        assert_eq!(
            parse_binary_state(&binary_state_answer(
                "8|1611530424|231|300|183183|1209600|8|1190|1164707|99830512.000000|8000"
            )),
            Ok(8)
        );
        let err = parse_binary_state(&binary_state_answer("Error")).unwrap_err();
        assert!(err.contains("\"Error\""), "{err}");
        let err = parse_binary_state("<x>garbage</x>").unwrap_err();
        assert!(err.contains("no <BinaryState>") && err.contains("garbage"), "{err}");
    }

    #[test]
    fn insight_params_example() {
        let body = "<s:Envelope><s:Body><u:GetInsightParamsResponse xmlns:u=\"urn:Belkin:service:metainfo:1\">\
                    <InsightParams>8|1611530424|231|300|183183|1209600|8|1190|1164707|99830512.000000|8000\
                    </InsightParams></u:GetInsightParamsResponse></s:Body></s:Envelope>";
        let p = parse_insight_params(body).unwrap();
        assert_eq!(
            p,
            InsightParams {
                state: 8,
                last_change: Some(1611530424),
                on_for_s: Some(231),
                on_today_s: Some(300),
                on_total_s: Some(183183),
                time_period_s: Some(1209600),
                wifi_signal: Some(8),
                current_power_mw: Some(1190.0),
                today_mw_min: Some(1164707.0),
                total_mw_min: Some(99830512.0),
                standby_threshold_mw: Some(8000.0),
            }
        );
    }

    #[test]
    fn insight_params_lenient() {
        let wrap = |v: &str| format!("<m:InsightParams>{v}</m:InsightParams>");
        let p = parse_insight_params(&wrap("1.000000|x|5|")).unwrap();
        assert_eq!(p.state, 1);
        assert_eq!((p.last_change, p.on_for_s, p.on_today_s), (None, Some(5), None));
        assert_eq!(p.current_power_mw, None);
        assert!(parse_insight_params(&wrap("")).unwrap_err().contains("state number"));
        assert!(parse_insight_params(&wrap("nan|1")).is_err());
        assert!(parse_insight_params("<a/>").unwrap_err().contains("no <InsightParams>"));
        assert_eq!(integer("1e300"), None);
        assert_eq!(integer("-3.9"), Some(-3));
        assert_eq!(number("inf"), None);
    }

    #[test]
    fn soap_faults() {
        let body = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
            <faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>
            <UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>401</errorCode>
            <errorDescription>Invalid Action</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(
            soap_fault(body).as_deref(),
            Some("UPnPError (UPnP error 401: Invalid Action)")
        );
        assert_eq!(
            soap_fault("<Fault><faultstring>boom</faultstring></Fault>").as_deref(),
            Some("boom")
        );
        assert_eq!(
            soap_fault("<e><errorDescription>d</errorDescription></e>").as_deref(),
            Some("d")
        );
        assert_eq!(soap_fault("<html>500 Internal Server Error</html>"), None);
        assert_eq!(excerpt(" a \n  b "), "a b");
        assert_eq!(excerpt(&"x".repeat(500)).len(), 163);
    }
}
