//! The real bus: `/dev/i2c-N` through rppal (i2c-dev ioctls). rppal sets the
//! slave address with the "force" ioctl, so a chip a kernel driver has bound
//! (newer Pi kernels bind the HTS221) can still be read raw.

use super::{BusError, I2cBus};
use rppal::i2c::I2c;

pub struct LinuxBus {
    bus: u8,
    dev: I2c,
}

impl LinuxBus {
    pub fn open(bus: u8) -> Result<Self, String> {
        let path = format!("/dev/i2c-{bus}");
        let dev = I2c::with_bus(bus).map_err(|e| {
            if !std::path::Path::new(&path).exists() {
                format!(
                    "I2C bus {bus}: {path} does not exist; enable I2C (raspi-config, or dtparam=i2c_arm=on) and load i2c-dev, \
                     or declare a simulated bus in the config: \"i2c\": {{\"buses\": [{{\"bus\": {bus}, \"simulated\": [...]}}]}}"
                )
            } else {
                format!("I2C bus {bus}: cannot open {path}: {e} (the logger's user needs to be in the i2c group)")
            }
        })?;
        Ok(LinuxBus { bus, dev })
    }
}

impl I2cBus for LinuxBus {
    fn transfer(&mut self, address: u8, data: &[u8], read: &mut [u8]) -> Result<(), BusError> {
        self.dev
            .set_slave_address(address.into())
            .map_err(|e| BusError::Bus(format!("bus {}: setting address: {e}", self.bus)))?;
        let result = if read.is_empty() {
            self.dev.write(data).map(|_| ())
        } else {
            // Write the register address, repeated start, read: one I2C_RDWR.
            self.dev.write_read(data, read)
        };
        result.map_err(|e| match e {
            // The kernel reports a missing ACK as ENXIO or EREMOTEIO.
            rppal::i2c::Error::Io(io) if matches!(io.raw_os_error(), Some(6) | Some(121)) => BusError::NoDevice,
            other => BusError::Bus(other.to_string()),
        })
    }
}
