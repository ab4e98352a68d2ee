//! The simulated I2C bus: chips emulated in software, declared in the config,
//! so the whole Sense HAT path (and any plugin that talks I2C) runs on a
//! machine without the hardware — for tests, demos and plugin development.
//!
//! Emulation works at the level of I2C transactions, like the real bus: a
//! register read is "write the register address, repeated start, read N
//! bytes", and each chip decides what that means (auto-increment rules,
//! status bits, power-down behaviour), so a plugin that gets the protocol
//! wrong gets the wrong bytes, as it would on a Pi.

mod bme280;
mod hts221;
mod lps25h;
mod st;

use super::{BusError, I2cBus};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One emulated chip on a simulated bus.
pub trait SimChip: Send {
    /// A write of `data` (first byte: register address) and, in the same
    /// transaction after a repeated start, a read filling `read` (empty for a
    /// plain write).
    fn transfer(&mut self, data: &[u8], read: &mut [u8]);
}

/// A chip as declared in the config:
/// `{"chip": "hts221", "address": "0x5f", "temperature_c": 21.5, "humidity_rh": 40}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimDeviceSpec {
    /// `hts221`, `lps25h` or `bme280`.
    pub chip: String,
    /// 7-bit address, a number or a `"0x5f"` string. Defaults to the chip's usual one.
    #[serde(default, deserialize_with = "super::address::optional")]
    pub address: Option<u8>,
    /// Register contents set after power-on, e.g. `{"0x30": "28 50 50 A0"}`:
    /// bytes from that register upwards, in hex. Output registers set here
    /// are returned as they are (the worked examples of a datasheet). The ST
    /// chips have registers 0x00-0x7f (bit 7 of an address is their
    /// auto-increment flag); the BME280 uses full 8-bit addresses.
    #[serde(default)]
    pub registers: BTreeMap<String, String>,
    /// What the chip measures, when output registers are not set directly.
    pub temperature_c: Option<f64>,
    pub humidity_rh: Option<f64>,
    pub pressure_hpa: Option<f64>,
}

/// Chips the simulated bus can emulate: (name, default address).
pub const CHIPS: [(&str, u8); 3] = [("hts221", 0x5F), ("lps25h", 0x5C), ("bme280", 0x76)];

impl SimDeviceSpec {
    pub fn address(&self) -> Option<u8> {
        self.address
            .or_else(|| CHIPS.iter().find(|(c, _)| *c == self.chip).map(|(_, a)| *a))
    }

    /// The register overrides as (register, bytes), checked.
    pub fn register_overrides(&self) -> Result<Vec<(u8, Vec<u8>)>, String> {
        self.registers
            .iter()
            .map(|(reg, bytes)| {
                // Bit 7 of a register address is the auto-increment flag, not
                // part of the address: the register space is 0x00..=0x7f.
                let r = super::address::parse_u8(reg)
                    .filter(|r| *r <= 0x7F)
                    .ok_or_else(|| format!("register {reg:?} must be 0x00..=0x7f, e.g. \"0x30\""))?;
                let b = bytes
                    .split_whitespace()
                    .map(|h| u8::from_str_radix(h.trim_start_matches("0x"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| format!("register {reg}: {bytes:?} must be hex bytes such as \"28 50 A0\""))?;
                if b.is_empty() || r as usize + b.len() > 128 {
                    return Err(format!("register {reg}: give 1 to {} bytes", 128 - r as usize));
                }
                Ok((r, b))
            })
            .collect()
    }

    /// Builds the emulation; the error says what is wrong with the declaration.
    pub fn build(&self) -> Result<Box<dyn SimChip>, String> {
        match self.chip.as_str() {
            "hts221" => Ok(Box::new(hts221::Hts221::new(self)?)),
            "lps25h" => Ok(Box::new(lps25h::Lps25h::new(self)?)),
            "bme280" => Ok(Box::new(bme280::Bme280::new(self)?)),
            other => Err(format!(
                "unknown chip {other:?}; the simulated bus emulates {}",
                CHIPS.map(|(c, _)| c).join(", ")
            )),
        }
    }
}

/// A simulated bus: chips by address. An address with no chip does not
/// acknowledge, like a real bus.
pub struct SimBus {
    chips: BTreeMap<u8, Box<dyn SimChip>>,
}

impl SimBus {
    pub fn new(devices: &[SimDeviceSpec]) -> Result<Self, String> {
        let mut chips = BTreeMap::new();
        for (i, d) in devices.iter().enumerate() {
            let place = format!("\"simulated\"[{i}] ({:?})", d.chip);
            let chip = d.build().map_err(|e| format!("{place}: {e}"))?;
            let address = d
                .address()
                .ok_or_else(|| format!("{place}: give the chip an \"address\""))?;
            if chips.insert(address, chip).is_some() {
                return Err(format!("{place}: another chip already sits at address {address:#04x}"));
            }
        }
        Ok(SimBus { chips })
    }
}

impl I2cBus for SimBus {
    fn transfer(&mut self, address: u8, data: &[u8], read: &mut [u8]) -> Result<(), BusError> {
        let chip = self.chips.get_mut(&address).ok_or(BusError::NoDevice)?;
        chip.transfer(data, read);
        Ok(())
    }
}

/// The test harness the chip emulations share: a chip driven with a clock the
/// test moves by hand. Each chip's tests add their own helpers (status decode,
/// power-on, output decode) on `Bench<TheirChip>`.
#[cfg(test)]
mod bench {
    use super::{SimChip, SimDeviceSpec};
    use std::time::{Duration, Instant};

    /// A chip whose transactions take the time as an argument.
    pub trait TimedChip: Sized {
        fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String>;
        fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]);
    }

    /// A declaration of `chip` with register overrides and no physical values.
    pub fn spec(chip: &str, registers: &[(&str, &str)]) -> SimDeviceSpec {
        SimDeviceSpec {
            chip: chip.into(),
            address: None,
            registers: registers.iter().map(|(r, b)| (r.to_string(), b.to_string())).collect(),
            temperature_c: None,
            humidity_rh: None,
            pressure_hpa: None,
        }
    }

    pub fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// With the real clock, through the bus trait: reads `status_reg` every few
    /// ms until `done` says so or 5 s have passed, and returns the last value.
    pub fn poll_status(chip: &mut dyn SimChip, status_reg: u8, done: impl Fn(u8) -> bool) -> u8 {
        let mut status = [0];
        chip.transfer(&[status_reg], &mut status);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(status[0]) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            chip.transfer(&[status_reg], &mut status);
        }
        status[0]
    }

    /// A chip and a clock that tests move forward by hand.
    pub struct Bench<C> {
        pub chip: C,
        pub now: Instant,
    }

    impl<C: TimedChip> Bench<C> {
        pub fn new(spec: &SimDeviceSpec) -> Self {
            let now = Instant::now();
            Bench {
                chip: C::new_at(spec, now).unwrap(),
                now,
            }
        }
        pub fn wait(&mut self, ms: u64) {
            self.now += Duration::from_millis(ms);
        }
        /// Writes the register address byte `reg`, then reads `len` bytes.
        pub fn read(&mut self, reg: u8, len: usize) -> Vec<u8> {
            let mut buf = vec![0; len];
            self.chip.transfer_at(self.now, &[reg], &mut buf);
            buf
        }
        /// One write transaction: the register address byte `reg`, then `data`.
        pub fn write(&mut self, reg: u8, data: &[u8]) {
            self.send(&[&[reg], data].concat());
        }
        /// One write transaction of raw bytes.
        pub fn send(&mut self, bytes: &[u8]) {
            self.chip.transfer_at(self.now, bytes, &mut []);
        }
    }
}
