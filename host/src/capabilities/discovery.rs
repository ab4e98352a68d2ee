//! `discovery`: SSDP M-SEARCH (UPnP), e.g. to find Belkin WeMo devices by the
//! name their owner gave them. Granted with `"discovery": true`. The search
//! goes to the multicast group by default; the config can point it at a
//! unicast address (tests, or networks where multicast does not pass).

use super::{CallState, Grant};
use crate::wit::datalogger::plugin::discovery::{Host, SsdpResponse};
use crate::wit::types::CapError;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The SSDP multicast group and port.
pub const SSDP_MULTICAST: &str = "239.255.255.250:1900";
/// Longest a search may listen for answers.
const MAX_SEARCH_MS: u32 = 10_000;
/// Answers kept from one search; a LAN has a few dozen UPnP devices.
const MAX_RESPONSES: usize = 256;

/// The grant `"discovery": true`: the plugin may send SSDP searches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct DiscoveryGrant(pub bool);

impl Grant for DiscoveryGrant {
    fn summary(&self) -> Vec<String> {
        match self.0 {
            true => vec!["ssdp discovery".into()],
            false => Vec::new(),
        }
    }
}

/// The config's `"discovery"` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoverySettings {
    /// Where M-SEARCH datagrams are sent.
    pub ssdp_target: String,
}

impl Default for DiscoverySettings {
    fn default() -> Self {
        DiscoverySettings {
            ssdp_target: SSDP_MULTICAST.into(),
        }
    }
}

impl DiscoverySettings {
    pub fn check(&self) -> Vec<String> {
        match self.ssdp_target.parse::<SocketAddr>() {
            Ok(_) => Vec::new(),
            Err(_) => vec![format!(
                "\"discovery\": \"ssdp_target\" must be an address such as \"{SSDP_MULTICAST}\", got {:?}",
                self.ssdp_target
            )],
        }
    }
}

impl Host for CallState {
    fn ssdp_search(&mut self, search_target: String, timeout_ms: u32) -> Result<Vec<SsdpResponse>, CapError> {
        if !self.grants.discovery.0 {
            return Err(self.not_granted(format!("SSDP search for {search_target}")));
        }
        if search_target.is_empty() || search_target.len() > 256 || search_target.chars().any(char::is_control) {
            return Err(CapError::Invalid(format!(
                "search target {search_target:?} must be 1 to 256 printable characters, e.g. \"ssdp:all\""
            )));
        }
        let target: SocketAddr = self
            .caps
            .discovery
            .ssdp_target
            .parse()
            .map_err(|_| CapError::Failed("the configured ssdp_target is not an address".into()))?;
        let listen = self.remaining_for(Some(timeout_ms.min(MAX_SEARCH_MS)), Duration::ZERO)?;
        self.waiting(|_| search(target, &search_target, listen))
            .map_err(|e| CapError::Unavailable(format!("SSDP search via {target}: {e}")))
    }
}

/// Sends one M-SEARCH and collects the answers that arrive within `listen`.
fn search(target: SocketAddr, st: &str, listen: Duration) -> std::io::Result<Vec<SsdpResponse>> {
    let bind: SocketAddr = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
    let socket = UdpSocket::bind(bind)?;
    if target.ip().is_multicast() && target.is_ipv4() {
        // Stay on the local network.
        socket.set_multicast_ttl_v4(2)?;
    }
    // MX is the longest a device may wait before answering (whole seconds, ≥ 1).
    let mx = listen.as_secs().clamp(1, 5);
    let msg =
        format!("M-SEARCH * HTTP/1.1\r\nHOST: {target}\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\nST: {st}\r\n\r\n");
    socket.send_to(msg.as_bytes(), target)?;

    let deadline = Instant::now() + listen;
    let mut found: Vec<SsdpResponse> = Vec::new();
    let mut buf = [0u8; 4096];
    while found.len() < MAX_RESPONSES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, _from)) => {
                if let Some(r) = parse_response(&buf[..n]) {
                    if !found.iter().any(|f| f.usn == r.usn && f.location == r.location) {
                        found.push(r);
                    }
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            // An ICMP "port unreachable" from an earlier datagram; keep listening.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// An SSDP answer: `HTTP/1.1 200 OK` and headers; LOCATION is required.
fn parse_response(datagram: &[u8]) -> Option<SsdpResponse> {
    let text = std::str::from_utf8(datagram).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let status = lines.next()?;
    if !status.starts_with("HTTP/1.") || status.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    let (mut location, mut usn, mut st) = (None, String::new(), String::new());
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "location" => location = Some(value),
            "usn" => usn = value,
            "st" => st = value,
            _ => {}
        }
    }
    Some(SsdpResponse {
        location: location.filter(|l| !l.is_empty())?,
        usn,
        st,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_leniently_and_searches_collect_them() {
        let responder = UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = responder.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let (n, from) = responder.recv_from(&mut buf).unwrap();
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            let answer = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=86400\r\nlocation: http://127.0.0.1:49153/setup.xml\r\n\
                          ST: urn:Belkin:service:basicevent:1\r\nUSN: uuid:Socket-1_0-X::urn:Belkin:service:basicevent:1\r\n\
                          X-User-Agent: redsonic\r\n\r\n";
            responder.send_to(answer.as_bytes(), from).unwrap();
            responder.send_to(answer.as_bytes(), from).unwrap(); // duplicates are dropped
            responder.send_to(b"NOTIFY * HTTP/1.1\r\n\r\n", from).unwrap(); // not an answer
            got
        });
        let found = search(target, "urn:Belkin:service:basicevent:1", Duration::from_millis(500)).unwrap();
        let request = t.join().unwrap();
        assert!(request.starts_with("M-SEARCH * HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("MAN: \"ssdp:discover\"\r\n")
                && request.contains("ST: urn:Belkin:service:basicevent:1\r\n")
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, "http://127.0.0.1:49153/setup.xml");
        assert_eq!(found[0].usn, "uuid:Socket-1_0-X::urn:Belkin:service:basicevent:1");
        assert_eq!(found[0].st, "urn:Belkin:service:basicevent:1");
    }
}
