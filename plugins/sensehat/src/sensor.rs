//! Talking to the two chips: identify, initialise when needed, wait for data,
//! read calibration and outputs. Generic over [`Bus`] so the sequence is
//! unit-tested natively against a fake bus; the component plugs in the host's
//! `i2c` capability.

use crate::convert::{
    hts221_outputs, Hts221Calibration, Lps25hOutputs, HTS221_CALIBRATION_LEN, LPS25H_POWER_ON_OUTPUTS,
};
use std::time::Duration;

pub const HTS221_ADDRESS: u8 = 0x5F;
pub const LPS25H_ADDRESS: u8 = 0x5C;

/// Set in a register address for multi-byte access (the chip auto-increments).
const AUTO_INCREMENT: u8 = 0x80;
const WHO_AM_I: u8 = 0x0F;
const CTRL_REG1: u8 = 0x20;
const STATUS: u8 = 0x27;
const OUTPUTS: u8 = 0x28;

/// How often, and how many times, STATUS is polled for data-ready: a bit
/// over 1 s, enough for one conversion at the slowest rate (1 Hz).
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);
pub const MAX_POLLS: u32 = 120;

/// What a capability call can fail with (the WIT's `cap-error`).
#[derive(Debug, Clone, PartialEq)]
pub enum BusError {
    NotGranted(String),
    Invalid(String),
    Unavailable(String),
    Timeout(String),
    Failed(String),
}

/// Why a reading failed (the WIT's `sample-error`, minus `bad-argument`).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    Unavailable(String),
    Timeout(String),
    Failed(String),
}

/// One I2C bus as the host offers it.
pub trait Bus {
    fn bus(&self) -> u8;
    fn read(&mut self, address: u8, register: u8, len: u32) -> Result<Vec<u8>, BusError>;
    fn write(&mut self, address: u8, register: u8, data: &[u8]) -> Result<(), BusError>;
    fn sleep(&mut self, duration: Duration);
}

/// One of the two chips: what tells it apart and how to start it.
struct Chip {
    name: &'static str,
    address: u8,
    who_am_i: u8,
    /// Whether CTRL_REG1 shows the chip powered and converting continuously.
    running: fn(u8) -> bool,
    /// (register, value) written in this order to start it, as the Sense HAT
    /// stack (RTIMULib) does.
    init: &'static [(u8, u8)],
}

const HTS221: Chip = Chip {
    name: "HTS221 (humidity/temperature sensor)",
    address: HTS221_ADDRESS,
    who_am_i: 0xBC,
    // Bit 7 power on, bits 1:0 a rate (00 would be one-shot mode).
    running: |ctrl1| ctrl1 & 0x80 != 0 && ctrl1 & 0x03 != 0,
    // CTRL_REG1: on, block data update, 12.5 Hz; AV_CONF: the usual averaging.
    init: &[(0x20, 0x87), (0x10, 0x1B)],
};

const LPS25H: Chip = Chip {
    name: "LPS25H (pressure sensor)",
    address: LPS25H_ADDRESS,
    who_am_i: 0xBD,
    // Bit 7 power on, bits 6:4 a rate 001..100 (000 one-shot, 101+ reserved).
    running: |ctrl1| ctrl1 & 0x80 != 0 && (1..=4).contains(&((ctrl1 >> 4) & 0x07)),
    // CTRL_REG1: on, 25 Hz, block data update; RES_CONF: default averaging;
    // FIFO_CTRL: mean mode; CTRL_REG2: FIFO on.
    init: &[(0x20, 0xC4), (0x10, 0x05), (0x2E, 0xC0), (0x21, 0x40)],
};

/// STATUS bits: bit 1 humidity (HTS221) or pressure (LPS25H), bit 0 temperature.
pub const STATUS_BIT1: u8 = 0x02;
pub const STATUS_TEMPERATURE: u8 = 0x01;

impl Chip {
    fn context(&self, bus: u8) -> String {
        format!("{} at address {:#04x} on I2C bus {bus}", self.name, self.address)
    }

    fn error(&self, bus: u8, e: BusError) -> Error {
        let ctx = self.context(bus);
        match e {
            BusError::NotGranted(m) => Error::Unavailable(format!("{ctx}: {m}")),
            BusError::Unavailable(m) => Error::Unavailable(format!("{ctx}: {m}")),
            BusError::Timeout(m) => Error::Timeout(format!("{ctx}: {m}")),
            BusError::Invalid(m) | BusError::Failed(m) => Error::Failed(format!("{ctx}: {m}")),
        }
    }

    fn read(&self, bus: &mut impl Bus, register: u8, len: u32) -> Result<Vec<u8>, Error> {
        let n = bus.bus();
        let bytes = bus.read(self.address, register, len).map_err(|e| self.error(n, e))?;
        if bytes.len() != len as usize {
            return Err(Error::Failed(format!(
                "{}: asked for {len} bytes from register {register:#04x}, got {}",
                self.context(n),
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    fn write(&self, bus: &mut impl Bus, register: u8, value: u8) -> Result<(), Error> {
        let n = bus.bus();
        bus.write(self.address, register, &[value])
            .map_err(|e| self.error(n, e))
    }

    /// Checks WHO_AM_I, starts the chip if it is not running (it may never
    /// have been started, or a kernel driver powered it down since the last
    /// call), and waits until the STATUS bits in `need` are set.
    fn prepare(&self, bus: &mut impl Bus, need: u8) -> Result<(), Error> {
        let id = self.read(bus, WHO_AM_I, 1)?[0];
        if id != self.who_am_i {
            return Err(Error::Unavailable(format!(
                "{}: WHO_AM_I is {id:#04x}, expected {:#04x}; another chip answers at this address \
                 (is this a Sense HAT, and is the bus right?)",
                self.context(bus.bus()),
                self.who_am_i
            )));
        }
        let ctrl1 = self.read(bus, CTRL_REG1, 1)?[0];
        if !(self.running)(ctrl1) {
            for (register, value) in self.init {
                self.write(bus, *register, *value)?;
            }
        }
        for poll in 0..=MAX_POLLS {
            if poll > 0 {
                bus.sleep(POLL_INTERVAL);
            }
            let status = self.read(bus, STATUS, 1)?[0];
            if status & need == need {
                return Ok(());
            }
        }
        let waited = POLL_INTERVAL * MAX_POLLS;
        Err(Error::Timeout(format!(
            "{}: no new measurement within {} ms (STATUS never showed data ready); \
             is another program reconfiguring the chip?",
            self.context(bus.bus()),
            waited.as_millis()
        )))
    }
}

/// A fresh HTS221 reading: calibration and raw outputs.
#[derive(Debug, Clone)]
pub struct Hts221Reading {
    bus: u8,
    pub calibration: Hts221Calibration,
    pub h_out: i16,
    pub t_out: i16,
}

impl Hts221Reading {
    pub fn temperature_c(&self) -> Result<f64, Error> {
        self.calibration
            .temperature_c(self.t_out)
            .map_err(|m| Error::Failed(format!("{}: {m}", HTS221.context(self.bus))))
    }

    pub fn humidity_rh(&self) -> Result<f64, Error> {
        self.calibration
            .humidity_rh(self.h_out)
            .map_err(|m| Error::Failed(format!("{}: {m}", HTS221.context(self.bus))))
    }
}

/// Reads the HTS221 once `need` (STATUS bits) says the outputs are fresh.
pub fn read_hts221(bus: &mut impl Bus, need: u8) -> Result<Hts221Reading, Error> {
    HTS221.prepare(bus, need)?;
    let n = bus.bus();
    let failed = |m: String| Error::Failed(format!("{}: {m}", HTS221.context(n)));
    let cal = HTS221.read(bus, 0x30 | AUTO_INCREMENT, HTS221_CALIBRATION_LEN as u32)?;
    let calibration = Hts221Calibration::parse(&cal).map_err(failed)?;
    let out = HTS221.read(bus, OUTPUTS | AUTO_INCREMENT, 4)?;
    let (h_out, t_out) = hts221_outputs(&out).map_err(failed)?;
    Ok(Hts221Reading {
        bus: n,
        calibration,
        h_out,
        t_out,
    })
}

/// Reads the LPS25H once `need` (STATUS bits) says the outputs are fresh.
pub fn read_lps25h(bus: &mut impl Bus, need: u8) -> Result<Lps25hOutputs, Error> {
    LPS25H.prepare(bus, need)?;
    let n = bus.bus();
    let out = LPS25H.read(bus, OUTPUTS | AUTO_INCREMENT, 5)?;
    let out = Lps25hOutputs::parse(&out).map_err(|m| Error::Failed(format!("{}: {m}", LPS25H.context(n))))?;
    if out == LPS25H_POWER_ON_OUTPUTS {
        return Err(Error::Failed(format!(
            "{}: the outputs still hold their power-on values (760 hPa, 42.5 °C) although STATUS \
             says data is ready; the chip has not measured",
            LPS25H.context(n)
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Registers per address; STATUS reads come from a script (last value repeats).
    struct FakeBus {
        regs: BTreeMap<u8, [u8; 128]>,
        status: BTreeMap<u8, Vec<u8>>,
        writes: Vec<(u8, u8, Vec<u8>)>,
        sleeps: u32,
        refuse: Option<BusError>,
    }

    impl FakeBus {
        fn new() -> Self {
            FakeBus {
                regs: BTreeMap::new(),
                status: BTreeMap::new(),
                writes: Vec::new(),
                sleeps: 0,
                refuse: None,
            }
        }
        fn chip(mut self, address: u8, who: u8, ctrl1: u8, status: &[u8], at: &[(u8, &[u8])]) -> Self {
            let mut r = [0u8; 128];
            r[0x0F] = who;
            r[0x20] = ctrl1;
            for (reg, bytes) in at {
                r[*reg as usize..*reg as usize + bytes.len()].copy_from_slice(bytes);
            }
            self.regs.insert(address, r);
            self.status.insert(address, status.to_vec());
            self
        }
    }

    impl Bus for FakeBus {
        fn bus(&self) -> u8 {
            1
        }
        fn read(&mut self, address: u8, register: u8, len: u32) -> Result<Vec<u8>, BusError> {
            if let Some(e) = &self.refuse {
                return Err(e.clone());
            }
            let regs = self
                .regs
                .get(&address)
                .ok_or_else(|| BusError::Unavailable(format!("no device answered at address {address:#04x}")))?;
            let start = (register & 0x7F) as usize;
            if register & 0x7F == STATUS {
                let script = self.status.get_mut(&address).unwrap();
                let s = script[0];
                if script.len() > 1 {
                    script.remove(0);
                }
                return Ok(vec![s]);
            }
            // The tests only read multi-byte with auto-increment; check it.
            assert!(
                len == 1 || register & AUTO_INCREMENT != 0,
                "multi-byte read without bit 7"
            );
            Ok(regs[start..start + len as usize].to_vec())
        }
        fn write(&mut self, address: u8, register: u8, data: &[u8]) -> Result<(), BusError> {
            self.writes.push((address, register, data.to_vec()));
            Ok(())
        }
        fn sleep(&mut self, _: Duration) {
            self.sleeps += 1;
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    const CAL_A: &str = "28 50 50 A0 00 00 A0 0F 00 00 70 17 2C 01 F4 01";

    fn hts_a(ctrl1: u8, status: &[u8]) -> FakeBus {
        let cal = hex(CAL_A);
        let out = hex("88 13 90 01");
        FakeBus::new().chip(HTS221_ADDRESS, 0xBC, ctrl1, status, &[(0x30, &cal), (0x28, &out)])
    }

    #[test]
    fn powered_down_hts221_is_started_and_waited_for() {
        let mut bus = hts_a(0x00, &[0x00, 0x00, 0x01, 0x03]);
        let r = read_hts221(&mut bus, STATUS_BIT1 | STATUS_TEMPERATURE).unwrap();
        assert_eq!(r.temperature_c().unwrap(), 15.0);
        assert_eq!(r.humidity_rh().unwrap(), 30.0);
        assert_eq!(bus.writes, vec![(0x5F, 0x20, vec![0x87]), (0x5F, 0x10, vec![0x1B])]);
        assert_eq!(bus.sleeps, 3, "polled until both bits were set");
    }

    #[test]
    fn running_chip_is_left_alone() {
        let mut bus = hts_a(0x85, &[0x01]);
        read_hts221(&mut bus, STATUS_TEMPERATURE).unwrap();
        assert!(bus.writes.is_empty());
        // One-shot mode (rate 00) is not running: restart it.
        let mut bus = hts_a(0x84, &[0x03]);
        read_hts221(&mut bus, STATUS_TEMPERATURE).unwrap();
        assert_eq!(bus.writes.len(), 2);
    }

    #[test]
    fn never_ready_is_a_timeout() {
        let mut bus = hts_a(0x87, &[0x01]);
        match read_hts221(&mut bus, STATUS_BIT1) {
            Err(Error::Timeout(m)) => assert!(m.contains("0x5f") && m.contains("data ready"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(bus.sleeps, MAX_POLLS);
    }

    #[test]
    fn wrong_chip_is_reported() {
        let mut bus = FakeBus::new().chip(HTS221_ADDRESS, 0x6A, 0x87, &[0x03], &[]);
        match read_hts221(&mut bus, STATUS_TEMPERATURE) {
            Err(Error::Unavailable(m)) => assert!(m.contains("0x6a") && m.contains("0xbc"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn host_errors_keep_their_text() {
        let mut bus = FakeBus::new();
        match read_lps25h(&mut bus, STATUS_BIT1) {
            Err(Error::Unavailable(m)) => {
                assert!(m.contains("no device answered at address 0x5c"), "{m}");
                assert!(m.contains("LPS25H"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        bus.refuse = Some(BusError::NotGranted(
            "capability not granted to plugin sensehat: i2c".into(),
        ));
        match read_hts221(&mut bus, STATUS_BIT1) {
            Err(Error::Unavailable(m)) => assert!(m.contains("capability not granted to plugin sensehat"), "{m}"),
            other => panic!("{other:?}"),
        }
        bus.refuse = Some(BusError::Timeout("slow".into()));
        assert!(matches!(read_hts221(&mut bus, STATUS_BIT1), Err(Error::Timeout(_))));
        bus.refuse = Some(BusError::Failed("EIO".into()));
        assert!(matches!(read_hts221(&mut bus, STATUS_BIT1), Err(Error::Failed(_))));
    }

    #[test]
    fn lps25h_worked_example_c() {
        let out = hex("00 54 3F 50 DA");
        let mut bus = FakeBus::new().chip(LPS25H_ADDRESS, 0xBD, 0x00, &[0x00, 0x03], &[(0x28, &out)]);
        let r = read_lps25h(&mut bus, STATUS_BIT1).unwrap();
        assert!((r.pressure_hpa() - 1013.25).abs() < 1e-9);
        assert!((r.temperature_c() - 22.4).abs() < 1e-9);
        let inits: Vec<(u8, u8)> = bus.writes.iter().map(|(_, r, d)| (*r, d[0])).collect();
        assert_eq!(inits, [(0x20, 0xC4), (0x10, 0x05), (0x2E, 0xC0), (0x21, 0x40)]);
    }

    #[test]
    fn lps25h_power_on_values_are_not_a_measurement() {
        let out = hex("00 80 2F 00 00");
        let mut bus = FakeBus::new().chip(LPS25H_ADDRESS, 0xBD, 0xC4, &[0x03], &[(0x28, &out)]);
        match read_lps25h(&mut bus, STATUS_BIT1) {
            Err(Error::Failed(m)) => assert!(m.contains("power-on"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lps25h_reserved_rate_is_restarted() {
        let out = hex("00 54 3F 50 DA");
        let mut bus = FakeBus::new().chip(LPS25H_ADDRESS, 0xBD, 0xD4, &[0x03], &[(0x28, &out)]);
        read_lps25h(&mut bus, STATUS_BIT1).unwrap();
        assert_eq!(bus.writes.len(), 4);
        let mut bus = FakeBus::new().chip(LPS25H_ADDRESS, 0xBD, 0x94, &[0x03], &[(0x28, &out)]);
        read_lps25h(&mut bus, STATUS_BIT1).unwrap();
        assert!(bus.writes.is_empty(), "1 Hz continuous is running");
    }

    #[test]
    fn bad_calibration_fails_only_the_affected_value() {
        let mut cal = hex(CAL_A);
        cal[0xA] = 0xA0; // H1_T0_OUT = H0_T0_OUT
        cal[0xB] = 0x0F;
        let out = hex("88 13 90 01");
        let mut bus = FakeBus::new().chip(HTS221_ADDRESS, 0xBC, 0x87, &[0x03], &[(0x30, &cal), (0x28, &out)]);
        let r = read_hts221(&mut bus, STATUS_TEMPERATURE).unwrap();
        assert_eq!(r.temperature_c().unwrap(), 15.0);
        assert!(matches!(r.humidity_rh(), Err(Error::Failed(m)) if m.contains("H0_T0_OUT")));
    }
}
