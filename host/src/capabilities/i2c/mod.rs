//! `i2c`: register access on an I2C bus, granted per bus and device address.
//!
//! One seam, two backends: `/dev/i2c-N` through rppal (a Raspberry Pi, or any
//! Linux board) and a simulated bus whose chips are declared in the config
//! (`sim`). A bus not declared as simulated is the Linux one. Every access to
//! a bus holds that bus's lock for the whole transaction, so two items never
//! interleave their transfers.

mod linux;
pub mod sim;

use super::{CallState, Grant};
use crate::wit::datalogger::plugin::i2c::Host;
use crate::wit::types::CapError;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Longest read or write one call may make; sensors read a few bytes.
const MAX_TRANSFER: u32 = 256;

/// What a bus transaction can end in besides success.
#[derive(Debug)]
pub enum BusError {
    /// No device acknowledged the address.
    NoDevice,
    /// The bus itself is missing or failed; the text says why and what to do.
    Bus(String),
}

/// One I2C bus: a combined write-then-read transaction (repeated start) and a
/// plain write (`read` empty).
pub trait I2cBus: Send {
    fn transfer(&mut self, address: u8, data: &[u8], read: &mut [u8]) -> Result<(), BusError>;
}

/// The grant `"i2c": [{"bus": 1, "addresses": ["0x5c", "0x5f"]}]`: buses and
/// the device addresses on them a plugin may talk to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct I2cGrant(pub Vec<BusGrant>);

/// One bus of an `i2c` grant; no `addresses` means every device on that bus.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BusGrant {
    pub bus: u8,
    #[serde(
        default,
        deserialize_with = "address::optional_list",
        serialize_with = "hex_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub addresses: Option<Vec<u8>>,
}

impl I2cGrant {
    fn allows(&self, bus: u8, address: u8) -> bool {
        self.0
            .iter()
            .any(|g| g.bus == bus && g.addresses.as_ref().is_none_or(|a| a.contains(&address)))
    }
}

impl Grant for I2cGrant {
    fn summary(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|g| match &g.addresses {
                Some(a) => {
                    let a: Vec<String> = a.iter().map(|a| format!("{a:#04x}")).collect();
                    format!("i2c bus {} at {}", g.bus, a.join(", "))
                }
                None => format!("i2c bus {} (all addresses)", g.bus),
            })
            .collect()
    }
}

/// Addresses as the config spells them: `["0x5c", "0x5f"]`.
fn hex_list<S: Serializer>(addresses: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    let hex: Vec<String> = addresses.iter().flatten().map(|a| format!("{a:#04x}")).collect();
    hex.serialize(s)
}

/// The config's `"i2c"` section: `{"buses": [{"bus": 1, "simulated": [chips...]}]}`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct I2cSettings {
    pub buses: Vec<BusSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSpec {
    pub bus: u8,
    /// The emulated chips on this bus; present means the bus is simulated.
    pub simulated: Option<Vec<sim::SimDeviceSpec>>,
}

impl I2cSettings {
    /// Problems with the declared buses, each naming the bus and chip.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, b) in self.buses.iter().enumerate() {
            if self.buses[..i].iter().any(|o| o.bus == b.bus) {
                problems.push(format!("\"i2c\": bus {} is declared twice", b.bus));
            }
            if let Some(devices) = &b.simulated {
                if let Err(e) = sim::SimBus::new(devices) {
                    problems.push(format!("\"i2c\": simulated bus {}: {e}", b.bus));
                }
            }
        }
        problems
    }
}

/// One bus, locked for each whole transaction.
type SharedBus = Arc<Mutex<Box<dyn I2cBus>>>;

/// All buses, opened on first use and kept open.
pub struct Buses {
    settings: I2cSettings,
    open: Mutex<BTreeMap<u8, SharedBus>>,
}

impl Buses {
    pub fn new(settings: I2cSettings) -> Self {
        Buses {
            settings,
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether a bus is simulated (for the startup log and `GET /plugins`).
    pub fn describe(&self) -> Vec<String> {
        self.settings
            .buses
            .iter()
            .filter_map(|b| {
                let chips = b.simulated.as_ref()?;
                let list: Vec<String> = chips
                    .iter()
                    .map(|c| format!("{} at {:#04x}", c.chip, c.address().unwrap_or(0)))
                    .collect();
                Some(format!("simulated I2C bus {}: {}", b.bus, list.join(", ")))
            })
            .collect()
    }

    fn bus(&self, bus: u8) -> Result<SharedBus, CapError> {
        let mut open = self.open.lock().unwrap();
        if let Some(b) = open.get(&bus) {
            return Ok(b.clone());
        }
        let backend: Box<dyn I2cBus> = match self.settings.buses.iter().find(|b| b.bus == bus) {
            Some(BusSpec {
                simulated: Some(devices),
                ..
            }) => Box::new(sim::SimBus::new(devices).map_err(CapError::Invalid)?),
            _ => Box::new(linux::LinuxBus::open(bus).map_err(CapError::Unavailable)?),
        };
        let backend = Arc::new(Mutex::new(backend));
        open.insert(bus, backend.clone());
        Ok(backend)
    }

    /// One transaction on `bus`, holding the bus for its whole duration.
    pub fn transfer(&self, bus: u8, address: u8, data: &[u8], read: &mut [u8]) -> Result<(), CapError> {
        let backend = self.bus(bus)?;
        let mut backend = backend.lock().unwrap_or_else(|p| p.into_inner());
        backend.transfer(address, data, read).map_err(|e| match e {
            BusError::NoDevice => CapError::Unavailable(format!(
                "no device answered at address {address:#04x} on I2C bus {bus} (is the chip connected, or declared on the simulated bus?)"
            )),
            BusError::Bus(m) => CapError::Failed(format!("I2C bus {bus}, address {address:#04x}: {m}")),
        })
    }
}

impl CallState {
    fn check_i2c(&mut self, bus: u8, address: u8, what: &str) -> Result<(), CapError> {
        if address > 0x7F {
            return Err(CapError::Invalid(format!(
                "{address:#04x} is not a 7-bit I2C address (0x00..=0x7f)"
            )));
        }
        if !self.grants.i2c.allows(bus, address) {
            return Err(self.not_granted(format!("i2c {what} on bus {bus} address {address:#04x}")));
        }
        Ok(())
    }
}

impl Host for CallState {
    fn read_registers(&mut self, bus: u8, address: u8, register: u8, len: u32) -> Result<Vec<u8>, CapError> {
        self.check_i2c(bus, address, "read")?;
        if len == 0 || len > MAX_TRANSFER {
            return Err(CapError::Invalid(format!(
                "read length {len} must be 1..={MAX_TRANSFER}"
            )));
        }
        let mut buf = vec![0u8; len as usize];
        self.waiting(|s| s.caps.i2c.transfer(bus, address, &[register], &mut buf))?;
        Ok(buf)
    }

    fn write_registers(&mut self, bus: u8, address: u8, register: u8, data: Vec<u8>) -> Result<(), CapError> {
        self.check_i2c(bus, address, "write")?;
        if data.len() > MAX_TRANSFER as usize {
            return Err(CapError::Invalid(format!(
                "write of {} bytes; at most {MAX_TRANSFER}",
                data.len()
            )));
        }
        let mut bytes = Vec::with_capacity(data.len() + 1);
        bytes.push(register);
        bytes.extend_from_slice(&data);
        self.waiting(|s| s.caps.i2c.transfer(bus, address, &bytes, &mut []))
    }
}

/// I2C addresses and registers in the config: a number or a hex string.
pub mod address {
    use serde::{Deserialize, Deserializer};

    pub fn parse_u8(s: &str) -> Option<u8> {
        let s = s.trim();
        match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u8::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Text(String),
    }

    fn one<'de, D: Deserializer<'de>>(v: NumOrText) -> Result<u8, D::Error> {
        let parsed = match &v {
            NumOrText::Num(n) => u8::try_from(*n).ok(),
            NumOrText::Text(s) => parse_u8(s),
        };
        parsed
            .filter(|a| *a <= 0x7F)
            .ok_or_else(|| serde::de::Error::custom("an I2C address must be 0..=127, as a number or \"0x5f\""))
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        match Option::<NumOrText>::deserialize(d)? {
            None => Ok(None),
            Some(v) => one::<D>(v).map(Some),
        }
    }

    pub fn optional_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<Vec<NumOrText>>::deserialize(d)? {
            None => Ok(None),
            Some(list) => list.into_iter().map(one::<D>).collect::<Result<_, _>>().map(Some),
        }
    }
}
