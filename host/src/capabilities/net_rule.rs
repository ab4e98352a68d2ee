//! Which network targets a grant allows, shared by `http` and `ping`:
//! `"any"`, a host name or IP (any port), `host:port`, `[v6]:port`, or a
//! network in CIDR form (`192.168.1.0/24`).
//!
//! A host-name rule matches the name the plugin asked for; IP and network
//! rules match the address the name resolved to, and the capability connects
//! to exactly the address it checked (no second lookup a DNS answer could change).

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq)]
pub enum NetRule {
    Any,
    Name { name: String, port: Option<u16> },
    Net { net: IpNet, port: Option<u16> },
}

impl NetRule {
    pub fn parse(s: &str) -> Result<NetRule, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("any") {
            return Ok(NetRule::Any);
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(NetRule::Net { net, port: None });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(NetRule::Net {
                net: IpNet::from(ip),
                port: None,
            });
        }
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            return Ok(NetRule::Net {
                net: IpNet::from(sa.ip()),
                port: Some(sa.port()),
            });
        }
        let (name, port) = match s.rsplit_once(':') {
            Some((n, p)) => (n, Some(p.parse::<u16>().map_err(|_| bad(s))?)),
            None => (s, None),
        };
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !valid {
            return Err(bad(s));
        }
        Ok(NetRule::Name {
            name: name.to_ascii_lowercase(),
            port,
        })
    }

    /// Rules as a grant lists them: `10.0.0.0/8, node.lan:80`.
    pub fn list(rules: &[NetRule]) -> String {
        rules.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
    }

    /// Whether a connection to `ip:port`, asked for by the name `host`, is allowed.
    pub fn allows(&self, host: &str, ip: IpAddr, port: Option<u16>) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none() || *p == port;
        match self {
            NetRule::Any => true,
            NetRule::Name { name, port: p } => port_ok(p) && host.trim_end_matches('.').eq_ignore_ascii_case(name),
            NetRule::Net { net, port: p } => port_ok(p) && net.contains(&canonical(ip)),
        }
    }
}

/// IPv4-mapped IPv6 addresses are checked as the IPv4 address they are.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn bad(s: &str) -> String {
    format!("{s:?} is not a target rule; use \"any\", a host name or IP, \"host:port\", \"[v6]:port\" or a network such as \"192.168.1.0/24\"")
}

/// Whether some rule could allow `host` before it is resolved: false when
/// only name rules exist and none names it, so no lookup goes out for a target
/// that would be refused anyway.
pub fn may_allow(rules: &[NetRule], host: &str, port: Option<u16>) -> bool {
    rules.iter().any(|r| match r {
        NetRule::Any => true,
        NetRule::Net { port: p, .. } => p.is_none() || *p == port,
        NetRule::Name { .. } => match host.parse::<IpAddr>() {
            Ok(_) => false,
            Err(_) => r.allows(host, IpAddr::from([0, 0, 0, 0]), port),
        },
    })
}

/// Whether any rule allows the target.
pub fn any_allows(rules: &[NetRule], host: &str, ip: IpAddr, port: Option<u16>) -> bool {
    rules.iter().any(|r| r.allows(host, ip, port))
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetRule::Any => write!(f, "any"),
            NetRule::Name { name, port: None } => write!(f, "{name}"),
            NetRule::Name { name, port: Some(p) } => write!(f, "{name}:{p}"),
            NetRule::Net { net, port } => {
                let single = net.prefix_len() == net.max_prefix_len();
                let addr = if single {
                    net.addr().to_string()
                } else {
                    net.to_string()
                };
                match (port, net.addr()) {
                    (None, _) => write!(f, "{addr}"),
                    (Some(p), IpAddr::V6(_)) => write!(f, "[{addr}]:{p}"),
                    (Some(p), IpAddr::V4(_)) => write!(f, "{addr}:{p}"),
                }
            }
        }
    }
}

impl<'de> Deserialize<'de> for NetRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NetRule::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for NetRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rules_parse_and_match() {
        let r = NetRule::parse("192.168.1.0/24").unwrap();
        assert!(r.allows("x", ip("192.168.1.7"), Some(80)));
        assert!(!r.allows("x", ip("192.168.2.7"), Some(80)));
        assert!(
            r.allows("x", ip("::ffff:192.168.1.7"), Some(80)),
            "v4-mapped v6 checked as v4"
        );

        let r = NetRule::parse("127.0.0.1:8080").unwrap();
        assert!(r.allows("localhost", ip("127.0.0.1"), Some(8080)));
        assert!(!r.allows("localhost", ip("127.0.0.1"), Some(8081)));

        let r = NetRule::parse("Node.LAN").unwrap();
        assert!(r.allows("node.lan", ip("10.1.1.1"), Some(1)));
        assert!(!r.allows("other.lan", ip("10.1.1.1"), Some(1)));

        let r = NetRule::parse("[::1]:80").unwrap();
        assert!(r.allows("x", ip("::1"), Some(80)));
        assert_eq!(r.to_string(), "[::1]:80");
        assert!(NetRule::parse("any").unwrap().allows("x", ip("8.8.8.8"), None));

        let names = [NetRule::parse("node.lan").unwrap()];
        assert!(may_allow(&names, "node.lan", Some(80)));
        assert!(
            !may_allow(&names, "other.lan", Some(80)),
            "no lookup for a name no rule names"
        );
        assert!(may_allow(
            &[NetRule::parse("10.0.0.0/8").unwrap()],
            "other.lan",
            Some(80)
        ));
    }

    #[test]
    fn bad_rules_say_what_is_expected() {
        for s in ["", "http://x", "a b", "host:99999", "10.0.0.0/40"] {
            let e = NetRule::parse(s).unwrap_err();
            assert!(e.contains("192.168.1.0/24"), "{s}: {e}");
        }
    }
}
