//! Component glue: the [`Plugin`] on top of `sensor` and `convert`.

use crate::convert::parse_bus;
use crate::sensor::{self, Bus, BusError, Error, STATUS_BIT1, STATUS_TEMPERATURE};
use datalogger_sdk::{i2c, CapError, Info, Key, Plugin, Point, SampleError};
use std::time::Duration;

const TEMPERATURE: &str = "sensehat.temperature";
const HUMIDITY: &str = "sensehat.humidity";
const PRESSURE: &str = "sensehat.pressure";
const ENVIRONMENT: &str = "sensehat.environment";

/// (key, unit, description)
const KEYS: [(&str, &str, &str); 4] = [
    (
        TEMPERATURE,
        "°C",
        "Temperature in °C from the HTS221 humidity sensor (what the official sense-hat library's \
         get_temperature() reports); field temperature",
    ),
    (
        HUMIDITY,
        "%RH",
        "Relative humidity in % from the HTS221; field humidity",
    ),
    (
        PRESSURE,
        "hPa",
        "Air pressure in hPa (= millibar) from the LPS25H; field pressure",
    ),
    (
        ENVIRONMENT,
        "°C",
        "All readings in one sample: temperature (°C, HTS221), humidity (%RH), pressure (hPa) and \
         temperature_from_pressure (°C, the LPS25H's own sensor)",
    ),
];

struct SenseHat;

impl Plugin for SenseHat {
    fn info() -> Info {
        Info::new(
            "sensehat",
            env!("CARGO_PKG_VERSION"),
            "Raspberry Pi Sense HAT environmental sensors (HTS221 humidity/temperature at 0x5f, \
             LPS25H pressure at 0x5c) over I2C",
        )
        .keys(KEYS.iter().map(|(name, unit, description)| {
            Key::new(*name, *description)
                .optional_arg("\"bus=N\" to read I2C bus N; empty: bus 1, the Sense HAT on a Raspberry Pi")
                .unit(*unit)
        }))
    }

    /// One point per poll, stamped by the host with the tick time.
    fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
        if !KEYS.iter().any(|(k, _, _)| *k == key) {
            return Err(Self::unknown_key(key));
        }
        let bus = &mut HostBus {
            bus: parse_bus(arg).map_err(SampleError::BadArgument)?,
        };
        let point = Point::new("sensehat");
        let point = match key {
            TEMPERATURE => point.float(
                "temperature",
                sensor::read_hts221(bus, STATUS_TEMPERATURE)?.temperature_c()?,
            ),
            HUMIDITY => point.float("humidity", sensor::read_hts221(bus, STATUS_BIT1)?.humidity_rh()?),
            PRESSURE => point.float("pressure", sensor::read_lps25h(bus, STATUS_BIT1)?.pressure_hpa()),
            _ => {
                let h = sensor::read_hts221(bus, STATUS_BIT1 | STATUS_TEMPERATURE)?;
                let p = sensor::read_lps25h(bus, STATUS_BIT1 | STATUS_TEMPERATURE)?;
                point
                    .float("temperature", h.temperature_c()?)
                    .float("humidity", h.humidity_rh()?)
                    .float("pressure", p.pressure_hpa())
                    .float("temperature_from_pressure", p.temperature_c())
            }
        };
        Ok(vec![point])
    }
}

impl From<Error> for SampleError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unavailable(m) => SampleError::Unavailable(m),
            Error::Timeout(m) => SampleError::Timeout(m),
            Error::Failed(m) => SampleError::Failed(m),
        }
    }
}

/// The host's `i2c` capability on one bus.
struct HostBus {
    bus: u8,
}

impl From<CapError> for BusError {
    fn from(e: CapError) -> Self {
        match e {
            CapError::NotGranted(m) => BusError::NotGranted(m),
            CapError::Invalid(m) => BusError::Invalid(m),
            CapError::Unavailable(m) => BusError::Unavailable(m),
            CapError::Timeout(m) => BusError::Timeout(m),
            CapError::Failed(m) => BusError::Failed(m),
        }
    }
}

impl Bus for HostBus {
    fn bus(&self) -> u8 {
        self.bus
    }
    fn read(&mut self, address: u8, register: u8, len: u32) -> Result<Vec<u8>, BusError> {
        Ok(i2c::read(self.bus, address, register, len)?)
    }
    fn write(&mut self, address: u8, register: u8, data: &[u8]) -> Result<(), BusError> {
        Ok(i2c::write(self.bus, address, register, data)?)
    }
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

datalogger_sdk::plugin!(SenseHat);
