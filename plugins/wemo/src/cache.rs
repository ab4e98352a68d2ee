//! What the plugin remembers between polls: where a device was found.
//!
//! The host keeps a small cache per plugin (`host.cache-get`/`cache-set`, in
//! memory, kept across calls and plugin reloads, lost on restart). This plugin
//! stores one entry per target there:
//!
//! | key | target | value |
//! |---|---|---|
//! | `name:<friendly name>` | a friendly name | the device's base URL and what its setup.xml said |
//! | `port:<host>` | a host without a port | the same, for the port that answered the probe |
//! | `addr:<host:port>` | a host with its port | the same (saves reading setup.xml every poll) |
//!
//! An entry is a hint, never data: a missing, unreadable or foreign entry
//! (e.g. from another version of the plugin) just means looking the device up
//! again. Only devices that were found are remembered, never "not found".

use crate::protocol::{authority, bracketed, location_base, DeviceInfo, Target};

/// The first line of every entry; another first line is not ours.
const FORMAT: &str = "wemo-location 1";

/// The cache key of a target.
pub fn key(target: &Target) -> String {
    match target {
        Target::Name(name) => format!("name:{name}"),
        Target::Address { host, port: None } => format!("port:{host}"),
        Target::Address { host, port: Some(port) } => format!("addr:{}", authority(host, *port)),
    }
}

/// Where a device was found and what its setup.xml said then.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `http://host:port`
    pub base: String,
    /// When setup.xml at `base` last confirmed the device (wall-clock ms).
    pub verified_ms: i64,
    pub info: DeviceInfo,
}

impl Entry {
    /// The stored form: `key=value` lines after the format line.
    pub fn encode(&self) -> String {
        let mut out = format!("{FORMAT}\nbase={}\nverified_ms={}\n", self.base, self.verified_ms);
        let info = &self.info;
        for (name, value) in [
            ("name", &info.friendly_name),
            ("udn", &info.udn),
            ("type", &info.device_type),
            ("model", &info.model_name),
        ] {
            if let Some(v) = value {
                // One value per line: a line break inside a value becomes a space.
                let v: String = v
                    .chars()
                    .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                    .collect();
                out.push_str(&format!("{name}={v}\n"));
            }
        }
        out
    }

    /// Reads a stored entry; `None` for anything that is not a complete entry
    /// of this format.
    pub fn decode(text: &str) -> Option<Entry> {
        let mut lines = text.lines();
        if lines.next()? != FORMAT {
            return None;
        }
        let (mut base, mut verified_ms) = (None, None);
        let mut info = DeviceInfo::default();
        for line in lines {
            let (name, value) = line.split_once('=')?;
            let value = value.to_owned();
            match name {
                "base" => base = Some(value),
                "verified_ms" => verified_ms = Some(value.parse::<i64>().ok()?),
                "name" => info.friendly_name = Some(value),
                "udn" => info.udn = Some(value),
                "type" => info.device_type = Some(value),
                "model" => info.model_name = Some(value),
                _ => {} // written by a later version: not needed here
            }
        }
        let base = base?;
        // Only a plain `http://host:port` is used as a base.
        let has_port = base
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
        if location_base(&base).as_deref() != Some(base.as_str()) || !has_port {
            return None;
        }
        Some(Entry {
            base,
            verified_ms: verified_ms?,
            info,
        })
    }

    /// Whether this entry can be where `target` is: an address target's entry
    /// must point at that host (and port, when the arg gives one).
    pub fn fits(&self, target: &Target) -> bool {
        match target {
            Target::Name(name) => self.info.friendly_name.as_deref() == Some(name.as_str()),
            Target::Address { host, port: None } => {
                let prefix = format!("http://{}:", bracketed(host));
                self.base
                    .strip_prefix(&prefix)
                    .is_some_and(|port| port.parse::<u16>().is_ok())
            }
            Target::Address { host, port: Some(port) } => self.base == format!("http://{}", authority(host, *port)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            base: "http://10.0.0.5:49153".into(),
            verified_ms: 1_700_000_000_123,
            info: DeviceInfo {
                friendly_name: Some("Kitchen = lamp".into()),
                udn: Some("uuid:Insight-1_0-X".into()),
                device_type: Some("urn:Belkin:device:insight:1".into()),
                serial_number: None,
                model_name: Some("Insight".into()),
            },
        }
    }

    #[test]
    fn keys() {
        assert_eq!(key(&Target::Name("Living room".into())), "name:Living room");
        let addr = |host: &str, port| Target::Address {
            host: host.into(),
            port,
        };
        assert_eq!(key(&addr("10.0.0.5", None)), "port:10.0.0.5");
        assert_eq!(key(&addr("::1", Some(49153))), "addr:[::1]:49153");
    }

    #[test]
    fn round_trip() {
        let e = entry();
        assert_eq!(Entry::decode(&e.encode()), Some(e.clone()));
        let mut bare = e.clone();
        bare.info = DeviceInfo::default();
        assert_eq!(Entry::decode(&bare.encode()), Some(bare));
        let mut broken = e;
        broken.info.friendly_name = Some("two\r\nlines".into());
        let back = Entry::decode(&broken.encode()).unwrap();
        assert_eq!(back.info.friendly_name.as_deref(), Some("two  lines"));
    }

    #[test]
    fn anything_else_is_not_an_entry() {
        let good = entry().encode();
        for bad in [
            String::new(),
            "http://10.0.0.5:49153".into(),
            good.replace(FORMAT, "wemo-location 2"),
            good.replace("base=http://10.0.0.5:49153\n", ""),
            good.replace("http://10.0.0.5:49153", "http://10.0.0.5:49153/setup.xml"),
            good.replace("http://10.0.0.5:49153", "https://10.0.0.5:49153"),
            good.replace("http://10.0.0.5:49153", "http://10.0.0.5"),
            good.replace("1700000000123", "soon"),
            good.replace("verified_ms=1700000000123\n", ""),
            format!("{good}garbage line\n"),
        ] {
            assert_eq!(Entry::decode(&bad), None, "{bad:?}");
        }
        assert!(Entry::decode(&format!("{good}later=1\n")).is_some());
    }

    #[test]
    fn entries_fit_only_their_target() {
        let e = entry();
        assert!(e.fits(&Target::Name("Kitchen = lamp".into())));
        assert!(!e.fits(&Target::Name("Kitchen".into())));
        let addr = |host: &str, port| Target::Address {
            host: host.into(),
            port,
        };
        assert!(e.fits(&addr("10.0.0.5", None)));
        assert!(e.fits(&addr("10.0.0.5", Some(49153))));
        assert!(!e.fits(&addr("10.0.0.5", Some(49154))));
        assert!(!e.fits(&addr("10.0.0.50", None)));
        assert!(!e.fits(&addr("10.0.0", None)));
        let mut v6 = e;
        v6.base = "http://[::1]:49153".into();
        assert!(v6.fits(&addr("::1", None)));
        assert!(v6.fits(&addr("::1", Some(49153))));
    }
}
