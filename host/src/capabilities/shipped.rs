//! Which grants a plugin gets: the config's entry under `"plugins"`, else the
//! default of a shipped plugin, else nothing.

use super::{BusGrant, DiscoveryGrant, FilesGrant, Grants, HttpGrant, I2cGrant, NetRule, PingGrant};
use std::collections::BTreeMap;
use std::path::Path;

/// The private networks where the standard network collectors' devices live
/// (WeMo switches, ISEMS nodes): their default `http` grant.
const LOCAL_NETWORKS: [&str; 6] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
];

/// Grants the shipped plugins need, used when the config names none for them
/// (a legacy rpdemo config carries no grants at all).
pub fn default_grants(plugin: &str) -> Option<Grants> {
    let local = || {
        LOCAL_NETWORKS
            .iter()
            .map(|n| NetRule::parse(n).expect("valid"))
            .collect()
    };
    match plugin {
        "system" => Some(Grants {
            files: FilesGrant(vec!["/proc/loadavg".into(), "/sys/devices/system/cpu/online".into()]),
            ..Grants::default()
        }),
        // Whatever the operator asks to ping in an item's arg.
        "net" => Some(Grants {
            ping: PingGrant(vec![NetRule::Any]),
            ..Grants::default()
        }),
        // The Sense HAT's HTS221 and LPS25H on the Pi's bus 1.
        "sensehat" => Some(Grants {
            i2c: I2cGrant(vec![BusGrant {
                bus: 1,
                addresses: Some(vec![0x5C, 0x5F]),
            }]),
            ..Grants::default()
        }),
        "wemo" => Some(Grants {
            http: HttpGrant(local()),
            discovery: DiscoveryGrant(true),
            ..Grants::default()
        }),
        "isems" => Some(Grants {
            http: HttpGrant(local()),
            ..Grants::default()
        }),
        _ => None,
    }
}

/// The config's `"plugins"` section: grants by plugin name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrantTable {
    pub configured: BTreeMap<String, Grants>,
}

impl GrantTable {
    /// The grants for a plugin: the config's, else the shipped default, else
    /// none. Shipped defaults go only to a file named after the plugin
    /// (`system.wasm`), so another file cannot claim a standard plugin's name
    /// to get its grants.
    pub fn grants_for(&self, plugin: &str, file: &Path) -> Grants {
        let named_after_plugin = file.file_stem().is_some_and(|s| s == plugin);
        self.configured
            .get(plugin)
            .cloned()
            .or_else(|| default_grants(plugin).filter(|_| named_after_plugin))
            .unwrap_or_default()
    }
}
