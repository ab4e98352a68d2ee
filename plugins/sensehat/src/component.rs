//! WIT glue: `describe` and `sample` on top of `sensor` and `convert`.

use crate::convert::parse_bus;
use crate::sensor::{self, Bus, BusError, Error, STATUS_BIT1, STATUS_TEMPERATURE};
use std::time::Duration;

wit_bindgen::generate!({
    path: "../../wit",
    world: "collector",
});

use datalogger::plugin::i2c::{read_registers, write_registers};
use datalogger::plugin::types::{ArgInfo, CapError, Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

const MEASUREMENT: &str = "sensehat";
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

impl Guest for SenseHat {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "sensehat".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Raspberry Pi Sense HAT environmental sensors (HTS221 humidity/temperature at 0x5f, \
                          LPS25H pressure at 0x5c) over I2C"
                .into(),
            keys: KEYS
                .iter()
                .map(|(name, unit, description)| KeyInfo {
                    name: (*name).into(),
                    description: (*description).into(),
                    arg: Some(ArgInfo {
                        description: "\"bus=N\" to read I2C bus N; empty: bus 1, the Sense HAT on a Raspberry Pi"
                            .into(),
                        required: false,
                    }),
                    unit: (*unit).into(),
                })
                .collect(),
        }
    }

    fn sample(key: String, arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        let known = KEYS.iter().any(|(k, _, _)| *k == key);
        if !known {
            let served: Vec<&str> = KEYS.iter().map(|(k, _, _)| *k).collect();
            return Err(SampleError::BadArgument(format!(
                "unknown key {key:?}; the sensehat plugin serves {}",
                served.join(", ")
            )));
        }
        let mut bus = HostBus {
            bus: parse_bus(arg.as_deref()).map_err(SampleError::BadArgument)?,
        };
        let fields = fields(&key, &mut bus).map_err(|e| match e {
            Error::Unavailable(m) => SampleError::Unavailable(m),
            Error::Timeout(m) => SampleError::Timeout(m),
            Error::Failed(m) => SampleError::Failed(m),
        })?;
        Ok(vec![Point {
            measurement: MEASUREMENT.into(),
            tags: Vec::new(),
            fields,
            // The host stamps it with the tick time.
            timestamp_ns: None,
        }])
    }
}

fn fields(key: &str, bus: &mut HostBus) -> Result<Vec<Field>, Error> {
    Ok(match key {
        TEMPERATURE => {
            let r = sensor::read_hts221(bus, STATUS_TEMPERATURE)?;
            vec![float("temperature", r.temperature_c()?)]
        }
        HUMIDITY => {
            let r = sensor::read_hts221(bus, STATUS_BIT1)?;
            vec![float("humidity", r.humidity_rh()?)]
        }
        PRESSURE => {
            let r = sensor::read_lps25h(bus, STATUS_BIT1)?;
            vec![float("pressure", r.pressure_hpa())]
        }
        _ => {
            let h = sensor::read_hts221(bus, STATUS_BIT1 | STATUS_TEMPERATURE)?;
            let p = sensor::read_lps25h(bus, STATUS_BIT1 | STATUS_TEMPERATURE)?;
            vec![
                float("temperature", h.temperature_c()?),
                float("humidity", h.humidity_rh()?),
                float("pressure", p.pressure_hpa()),
                float("temperature_from_pressure", p.temperature_c()),
            ]
        }
    })
}

fn float(name: &str, value: f64) -> Field {
    Field {
        name: name.into(),
        value: FieldValue::Float(value),
    }
}

/// The host's `i2c` capability on one bus.
struct HostBus {
    bus: u8,
}

fn bus_error(e: CapError) -> BusError {
    match e {
        CapError::NotGranted(m) => BusError::NotGranted(m),
        CapError::Invalid(m) => BusError::Invalid(m),
        CapError::Unavailable(m) => BusError::Unavailable(m),
        CapError::Timeout(m) => BusError::Timeout(m),
        CapError::Failed(m) => BusError::Failed(m),
    }
}

impl Bus for HostBus {
    fn bus(&self) -> u8 {
        self.bus
    }
    fn read(&mut self, address: u8, register: u8, len: u32) -> Result<Vec<u8>, BusError> {
        read_registers(self.bus, address, register, len).map_err(bus_error)
    }
    fn write(&mut self, address: u8, register: u8, data: &[u8]) -> Result<(), BusError> {
        write_registers(self.bus, address, register, data).map_err(bus_error)
    }
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

export!(SenseHat);
