//! LPS25H pressure and temperature sensor (the Sense HAT's, address 0x5C).
//!
//! What is emulated, from the datasheet and the drivers that talk to the chip:
//! - the ST register protocol of [`super::st`];
//! - WHO_AM_I 0xBD, RES_CONF 0x05, CTRL_REG1..4 at 0 after reset: the chip
//!   starts powered down, with STATUS 0 and the power-on output values
//!   PRESS_OUT = 00 80 2F (760 hPa) and TEMP_OUT = 0 (42.5 °C), which is what
//!   a never-started chip shows;
//! - data-ready timing: with CTRL_REG1 bit 7 (power) and a rate in bits 6:4
//!   (001 1 Hz, 010 7 Hz, 011 12.5 Hz, 100 25 Hz), STATUS bit 1 (pressure) and
//!   bit 0 (temperature) are set one period after power-on or after the last
//!   read of that output's high byte (which clears the bit). With rate 000 a
//!   conversion starts when CTRL_REG2 bit 0 (ONE_SHOT) is written, and the bit
//!   clears when it is done; the reserved rates 101..111 convert nothing;
//! - outputs: PRESS_OUT = hPa × 4096 (24 bits) and TEMP_OUT = (°C − 42.5) × 480
//!   (i16), rounded and clamped, from `pressure_hpa` and `temperature_c`, once
//!   a first conversion is done. Output registers set in the config are
//!   returned as they are;
//! - CTRL_REG2 SWRESET returns the chip to its power-on state (the config's
//!   register values included); BOOT clears itself. The FIFO and interrupt
//!   registers are plain storage: the FIFO mean of a constant is the constant.
//!
//! Writes to read-only registers are ignored, as on the chip. STATUS is always
//! computed: an override of 0x27 is ignored.

use super::st::{Mode, StCore, StModel, StRegisters};
#[cfg(test)]
use super::st::{CTRL_REG1, CTRL_REG2, STATUS};
use super::{SimChip, SimDeviceSpec};
use std::time::{Duration, Instant};

const WHO_AM_I: u8 = 0x0F;
const RES_CONF: u8 = 0x10;
/// PRESS_OUT_XL, _L, _H (0x28..=0x2A).
const PRESS_OUT: u8 = 0x28;
/// TEMP_OUT_L, _H (0x2B, 0x2C).
const TEMP_OUT: u8 = 0x2B;

const ID: u8 = 0xBD;
const RES_CONF_DEFAULT: u8 = 0x05;
/// PRESS_OUT after reset: 0x2F8000 / 4096 = 760 hPa.
const PRESS_OUT_DEFAULT: [u8; 3] = [0x00, 0x80, 0x2F];

const CTRL1_ODR: u8 = 0x70;
const CTRL2_SWRESET: u8 = 0x04;

const DEFAULT_PRESSURE_HPA: f64 = 1013.25;
const DEFAULT_TEMPERATURE_C: f64 = 21.5;

/// Index of each output in the core: pressure (STATUS bit 1), temperature (bit 0).
const PRESS: usize = 0;

static MODEL: StModel = StModel {
    rate_bits: CTRL1_ODR,
    powered_mode: |ctrl1| {
        let period_ms = match (ctrl1 & CTRL1_ODR) >> 4 {
            0 => return Mode::OneShot,
            1 => 1000.0,
            2 => 1000.0 / 7.0,
            3 => 80.0,
            4 => 40.0,
            _ => return Mode::Idle,
        };
        Mode::Continuous(Duration::from_micros((period_ms * 1000.0) as u64))
    },
    outputs: [(PRESS_OUT, 3), (TEMP_OUT, 2)],
    raw: |_, i, value| {
        if i == PRESS {
            (value * 4096.0).round().clamp(0.0, f64::from(0xFF_FFFF)) as i32
        } else {
            i32::from(
                ((value - 42.5) * 480.0)
                    .round()
                    .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16,
            )
        }
    },
    // REF_P, RES_CONF, CTRL_REG3..4, INTERRUPT_CFG, FIFO_CTRL, THS_P, RPDS.
    writable: |reg| matches!(reg, 0x08..=0x0A | 0x10 | 0x22..=0x24 | 0x2E | 0x30 | 0x31 | 0x39 | 0x3A),
    boot: 0..0,
    swreset: CTRL2_SWRESET,
};

pub struct Lps25h(StCore);

impl Lps25h {
    pub fn new(spec: &SimDeviceSpec) -> Result<Self, String> {
        Self::new_at(spec, Instant::now())
    }

    fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String> {
        if spec.humidity_rh.is_some() {
            return Err("the lps25h measures pressure and temperature, not humidity; \
                        put \"humidity_rh\" on an hts221"
                .into());
        }
        let pressure_hpa = spec.pressure_hpa.unwrap_or(DEFAULT_PRESSURE_HPA);
        let temperature_c = spec.temperature_c.unwrap_or(DEFAULT_TEMPERATURE_C);
        for (name, v) in [("pressure_hpa", pressure_hpa), ("temperature_c", temperature_c)] {
            if !v.is_finite() {
                return Err(format!("lps25h: \"{name}\" must be a finite number"));
            }
        }
        let overrides = spec.register_overrides()?;
        let mut regs = StRegisters::new();
        regs.regs[WHO_AM_I as usize] = ID;
        regs.regs[RES_CONF as usize] = RES_CONF_DEFAULT;
        let p = PRESS_OUT as usize;
        regs.regs[p..p + 3].copy_from_slice(&PRESS_OUT_DEFAULT);
        regs.apply_overrides(&overrides);
        Ok(Lps25h(StCore::new(
            &MODEL,
            regs,
            &overrides,
            [pressure_hpa, temperature_c],
            now,
        )))
    }

    /// One transaction at time `now` (tests pass their own clock).
    fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
        self.0.transfer_at(now, data, read);
    }
}

impl SimChip for Lps25h {
    fn transfer(&mut self, data: &[u8], read: &mut [u8]) {
        self.transfer_at(Instant::now(), data, read);
    }
}

#[cfg(test)]
mod tests {
    use super::super::bench::{self, close, poll_status, TimedChip};
    use super::*;

    fn spec(registers: &[(&str, &str)]) -> SimDeviceSpec {
        bench::spec("lps25h", registers)
    }

    impl TimedChip for Lps25h {
        fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String> {
            Lps25h::new_at(spec, now)
        }
        fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
            Lps25h::transfer_at(self, now, data, read)
        }
    }

    type Bench = bench::Bench<Lps25h>;

    impl Bench {
        fn status(&mut self) -> u8 {
            self.read(STATUS | 0x80, 1)[0]
        }
        /// Powers on at 25 Hz, as the Sense HAT stack does, and waits for data.
        fn start(&mut self) {
            self.write(CTRL_REG1 | 0x80, &[0xC4]);
            self.wait(50);
            assert_eq!(self.status(), 0x03);
        }
        /// Pressure (hPa) and temperature (°C) decoded with the datasheet's formulas.
        fn decode(&mut self) -> (f64, f64) {
            let o = self.read(PRESS_OUT | 0x80, 5);
            let p = f64::from(u32::from_le_bytes([o[0], o[1], o[2], 0])) / 4096.0;
            let t = 42.5 + f64::from(i16::from_le_bytes([o[3], o[4]])) / 480.0;
            (p, t)
        }
    }

    #[test]
    fn who_am_i_and_reset_values() {
        let mut b = Bench::new(&spec(&[]));
        assert_eq!(b.read(WHO_AM_I, 1), [0xBD]);
        assert_eq!(b.read(WHO_AM_I | 0x80, 1), [0xBD], "bit 7 is the auto-increment flag");
        assert_eq!(b.read(RES_CONF, 1), [0x05]);
        assert_eq!(b.read(CTRL_REG1 | 0x80, 4), [0, 0, 0, 0]);
    }

    #[test]
    fn never_started_chip_shows_power_on_defaults() {
        let mut b = Bench::new(&spec(&[]));
        b.wait(5000);
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(PRESS_OUT | 0x80, 5), [0x00, 0x80, 0x2F, 0x00, 0x00]);
        assert_eq!(b.decode(), (760.0, 42.5));
    }

    #[test]
    fn auto_increment_only_with_bit_7() {
        let mut b = Bench::new(&spec(&[]));
        assert_eq!(b.read(PRESS_OUT, 3), [0x00, 0x00, 0x00], "XL three times");
        assert_eq!(b.read(PRESS_OUT + 1, 2), [0x80, 0x80]);
        assert_eq!(b.read(PRESS_OUT | 0x80, 3), [0x00, 0x80, 0x2F]);
        b.write(CTRL_REG1 | 0x80, &[0x90, 0x40]);
        assert_eq!(b.read(CTRL_REG1 | 0x80, 2), [0x90, 0x40]);
        b.write(CTRL_REG1, &[0xC4, 0x00]);
        assert_eq!(
            b.read(CTRL_REG1 | 0x80, 2),
            [0x00, 0x40],
            "both bytes went to CTRL_REG1"
        );
    }

    #[test]
    fn status_follows_the_conversion_period() {
        let mut b = Bench::new(&spec(&[]));
        b.write(CTRL_REG1, &[0x94]); // 1 Hz
        b.wait(999);
        assert_eq!(b.status(), 0);
        b.wait(1);
        assert_eq!(b.status(), 0x03);
        b.read(PRESS_OUT | 0x80, 3);
        assert_eq!(b.status(), 0x01, "reading PRESS_OUT_H clears bit 1");
        b.read(TEMP_OUT | 0x80, 2);
        assert_eq!(b.status(), 0x00);
        b.write(CTRL_REG1, &[0xC4]); // 25 Hz
        b.wait(39);
        assert_eq!(b.status(), 0);
        b.wait(1);
        assert_eq!(b.status(), 0x03);
        // Powered down: STATUS 0, the last values stay.
        let out = b.read(PRESS_OUT | 0x80, 5);
        b.write(CTRL_REG1, &[0x00]);
        b.wait(1000);
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(PRESS_OUT | 0x80, 5), out);
        // A reserved rate converts nothing.
        b.write(CTRL_REG1, &[0xD0]);
        b.wait(5000);
        assert_eq!(b.status(), 0);
    }

    #[test]
    fn one_shot_mode() {
        let mut s = spec(&[]);
        s.pressure_hpa = Some(987.6);
        let mut b = Bench::new(&s);
        b.write(CTRL_REG1, &[0x84]);
        b.wait(2000);
        assert_eq!(b.status(), 0, "no conversion without ONE_SHOT");
        b.write(CTRL_REG2, &[0x01]);
        assert_eq!(b.read(CTRL_REG2, 1), [0x01]);
        b.wait(100);
        assert_eq!(b.read(CTRL_REG2, 1), [0x00], "ONE_SHOT clears when done");
        assert_eq!(b.status(), 0x03);
        let (p, t) = b.decode();
        assert!(close(p, 987.6, 0.5 / 4096.0) && close(t, 21.5, 0.5 / 480.0), "{p} {t}");
    }

    #[test]
    fn worked_example_c() {
        let mut b = Bench::new(&spec(&[("0x28", "00 54 3F 50 DA")]));
        b.start();
        let (p, t) = b.decode();
        assert!(close(p, 1013.25, 1e-9), "P {p}");
        assert!(close(t, 22.4, 1e-9), "T {t}");
    }

    #[test]
    fn physical_values_round_trip() {
        for (p, t) in [(1001.5, 23.0), (260.0, -20.0), (1260.0, 85.0), (1013.2501, 22.37)] {
            let mut s = spec(&[]);
            s.pressure_hpa = Some(p);
            s.temperature_c = Some(t);
            let mut b = Bench::new(&s);
            b.start();
            let (got_p, got_t) = b.decode();
            assert!(close(got_p, p, 0.5 / 4096.0), "{p} hPa came back as {got_p}");
            assert!(close(got_t, t, 0.5 / 480.0), "{t} °C came back as {got_t}");
        }
    }

    #[test]
    fn swreset_and_read_only_registers() {
        let mut b = Bench::new(&spec(&[]));
        b.start();
        b.write(WHO_AM_I, &[0x00]);
        b.write(STATUS, &[0x00]);
        assert_eq!(b.read(WHO_AM_I, 1), [0xBD]);
        assert_eq!(b.status(), 0x03);
        b.write(CTRL_REG2, &[0x04]);
        assert_eq!(b.read(CTRL_REG1 | 0x80, 2), [0x00, 0x00], "SWRESET: powered down again");
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(PRESS_OUT | 0x80, 3), PRESS_OUT_DEFAULT);
    }

    #[test]
    fn config_mistakes_are_reported() {
        let mut s = spec(&[]);
        s.humidity_rh = Some(40.0);
        assert!(Lps25h::new(&s).err().unwrap().contains("hts221"));
    }

    /// The real clock, through the bus trait.
    #[test]
    fn real_time_conversion() {
        let mut chip = Lps25h::new(&spec(&[])).unwrap();
        chip.transfer(&[CTRL_REG1, 0xC4], &mut []);
        assert_eq!(poll_status(&mut chip, STATUS, |s| s == 0x03), 0x03);
        let mut out = [0; 5];
        chip.transfer(&[PRESS_OUT | 0x80], &mut out);
        // 1013.25 × 4096 = 0x3F5400; (21.5 − 42.5) × 480 = −10080 = 0xD8A0.
        assert_eq!(out, [0x00, 0x54, 0x3F, 0xA0, 0xD8]);
    }
}
