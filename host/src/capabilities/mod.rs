//! What a plugin may import, one unit per capability. Each unit (a file, or
//! `i2c/`) owns everything about its capability: its settings (a top-level
//! config section, if it has any), its grant (its key in a plugin's entry
//! under `"plugins"`), what it shares across calls, and the `Host`
//! implementation of its WIT interface, where the grant is checked.
//!
//! This module only composes the units: `Settings`, `Grants`, `Capabilities`
//! (the shared state) and `add_to_linker`. A new capability is one new unit
//! plus, here, a field in each composite it has a part in, its section name
//! in `Settings::SECTIONS` and its grant in `Grants::summary`. The per-call
//! state they all see is `CallState` (`call.rs`); `shipped.rs` holds the
//! standard plugins' default grants.

mod call;
mod discovery;
mod host;
mod http;
mod i2c;
mod net_rule;
mod ping;
mod shipped;

pub use call::{CallClock, CallState};
pub use discovery::{DiscoveryGrant, DiscoverySettings};
pub use host::FilesGrant;
pub use http::{HttpGrant, HttpSettings};
pub use i2c::{BusGrant, I2cGrant, I2cSettings};
pub use net_rule::NetRule;
pub use ping::PingGrant;
pub use shipped::{default_grants, GrantTable};

use crate::wit::Imports;
use serde::{Deserialize, Serialize};
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::WasiView;

/// Every capability's settings, each read from the config section of the
/// same name (`"i2c"`, `"http"`, `"discovery"`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// I2C buses: which are simulated, with which chips.
    pub i2c: I2cSettings,
    pub http: HttpSettings,
    pub discovery: DiscoverySettings,
}

impl Settings {
    /// The config sections these settings come from: the fields above.
    pub const SECTIONS: [&'static str; 3] = ["i2c", "http", "discovery"];

    /// Problems no type can express (ranges, chips that exist), each naming
    /// its section.
    pub fn check(&self) -> Vec<String> {
        let mut problems = self.i2c.check();
        problems.extend(self.http.check());
        problems.extend(self.discovery.check());
        problems
    }
}

/// What one plugin may touch, as its entry under `"plugins"` spells it.
/// Everything is denied unless listed; each grant is checked in its unit.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grants {
    /// Files the plugin may read whole through `host.read-file`.
    pub files: FilesGrant,
    /// Where `http.send` may connect: `"any"`, hosts, `host:port`, networks.
    pub http: HttpGrant,
    /// Which targets `ping.echo` may ping (same rules as `http`).
    pub ping: PingGrant,
    /// I2C buses and device addresses.
    pub i2c: I2cGrant,
    /// Whether the plugin may send SSDP searches.
    pub discovery: DiscoveryGrant,
}

/// What every grant offers the composite.
trait Grant {
    /// Short phrases for the startup log, e.g. `http to 10.0.0.0/8`; none when
    /// nothing is granted.
    fn summary(&self) -> Vec<String>;
}

impl Grants {
    /// The grants as the config spells them (for `GET /plugins`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A short human summary, e.g. for the startup log.
    pub fn summary(&self) -> String {
        let units: [&dyn Grant; 5] = [&self.files, &self.http, &self.ping, &self.i2c, &self.discovery];
        let parts: Vec<String> = units.iter().flat_map(|g| g.summary()).collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// What the capabilities share across calls: each unit's settings and state
/// (open I2C buses, ICMP sockets, plugin caches), and which refusals were
/// already logged.
pub struct Capabilities {
    host: host::Shared,
    http: HttpSettings,
    ping: ping::Pingers,
    i2c: i2c::Buses,
    discovery: DiscoverySettings,
    refusals: call::Refusals,
    /// Where the logger's own API listens, which no plugin may reach.
    own_api: std::sync::RwLock<Option<std::net::SocketAddr>>,
}

impl Capabilities {
    pub fn new(settings: Settings) -> Self {
        let Settings { i2c, http, discovery } = settings;
        Capabilities {
            host: host::Shared::default(),
            http,
            ping: ping::Pingers::default(),
            i2c: i2c::Buses::new(i2c),
            discovery,
            refusals: call::Refusals::default(),
            own_api: std::sync::RwLock::new(None),
        }
    }

    /// Tells the capabilities where the logger's API listens: `http` refuses
    /// it whatever a plugin is granted (the API would let a plugin change
    /// items, and it trusts loopback clients).
    pub fn set_own_api(&self, address: std::net::SocketAddr) {
        *self.own_api.write().unwrap_or_else(|e| e.into_inner()) = Some(address);
    }

    fn own_api(&self) -> Option<std::net::SocketAddr> {
        *self.own_api.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Log lines of this plugin dropped over its rate limit since start.
    pub fn log_lines_dropped(&self, plugin: &str) -> u64 {
        self.host.logs.dropped(plugin)
    }

    /// Lines for the startup log, e.g. the simulated buses.
    pub fn describe(&self) -> Vec<String> {
        self.i2c.describe()
    }
}

/// Adds WASI (locked down by `CallState::new`) and every capability interface
/// to a linker whose store data holds a `CallState`.
pub fn add_to_linker<T: WasiView + Send + 'static>(
    linker: &mut Linker<T>,
    call_state: fn(&mut T) -> &mut CallState,
) -> anyhow::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    Imports::add_to_linker::<T, HasSelf<CallState>>(linker, call_state)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_settings_section_is_a_field() {
        for section in Settings::SECTIONS {
            let parsed = Settings::deserialize(json!({ section: {} }));
            assert!(parsed.is_ok(), "section {section}: {parsed:?}");
        }
        assert!(Settings::deserialize(json!({"nosuch": {}})).is_err());
    }

    #[test]
    fn grants_show_as_the_config_spells_them() {
        let g: Grants = serde_json::from_value(json!({
            "files": ["/proc/loadavg"], "http": ["10.0.0.0/8", "node.lan:80"], "ping": ["any"],
            "i2c": [{"bus": 1, "addresses": ["0x5c", 95]}, {"bus": 3}], "discovery": true,
        }))
        .unwrap();
        assert_eq!(
            g.to_json(),
            json!({
                "files": ["/proc/loadavg"], "http": ["10.0.0.0/8", "node.lan:80"], "ping": ["any"],
                "i2c": [{"bus": 1, "addresses": ["0x5c", "0x5f"]}, {"bus": 3}], "discovery": true,
            })
        );
        assert_eq!(
            g.summary(),
            "files /proc/loadavg; http to 10.0.0.0/8, node.lan:80; ping to any; i2c bus 1 at 0x5c, 0x5f; \
             i2c bus 3 (all addresses); ssdp discovery"
        );
        assert_eq!(Grants::default().summary(), "nothing");
        assert_eq!(
            Grants::default().to_json(),
            json!({"files": [], "http": [], "ping": [], "i2c": [], "discovery": false})
        );
    }
}
