//! HTS221 humidity and temperature sensor (the Sense HAT's, address 0x5F).
//!
//! What is emulated, from the datasheet and the drivers that talk to the chip:
//! - the ST register protocol of [`super::st`];
//! - WHO_AM_I 0xBC, AV_CONF 0x1B, CTRL_REG1..3 (0x20..0x22) at 0 after reset:
//!   the chip starts powered down, with STATUS 0 and outputs 0;
//! - factory calibration in 0x30..0x3F (worked example A of devices.md unless
//!   the config overrides those registers); CTRL_REG2 BOOT reloads it;
//! - data-ready timing: with CTRL_REG1 bit 7 (power) and a rate in bits 1:0
//!   (01 1 Hz, 10 7 Hz, 11 12.5 Hz), STATUS bit 1 (humidity) and bit 0
//!   (temperature) are set one period after power-on or after the last read of
//!   that output's high byte (which clears the bit). With rate 00 a conversion
//!   starts when CTRL_REG2 bit 0 (ONE_SHOT) is written, and the bit clears
//!   when it is done;
//! - outputs: H_OUT and T_OUT hold the raw values the chip's own calibration
//!   maps to `humidity_rh` and `temperature_c` (the datasheet's formulas
//!   inverted, rounded, clamped to i16), once a first conversion is done.
//!   Output registers set in the config are returned as they are.
//!
//! Writes to read-only registers are ignored, as on the chip. STATUS is always
//! computed: an override of 0x27 is ignored.

use super::st::{Mode, StCore, StModel, StRegisters};
#[cfg(test)]
use super::st::{CTRL_REG1, CTRL_REG2, STATUS};
use super::{SimChip, SimDeviceSpec};
use std::time::{Duration, Instant};

const WHO_AM_I: u8 = 0x0F;
const AV_CONF: u8 = 0x10;
const CTRL_REG3: u8 = 0x22;
/// H_OUT (0x28, 0x29) and T_OUT (0x2A, 0x2B), little-endian.
const H_OUT: u8 = 0x28;
const T_OUT: u8 = 0x2A;
/// Factory calibration, 0x30..=0x3F.
const CALIBRATION: u8 = 0x30;

const ID: u8 = 0xBC;
const AV_CONF_DEFAULT: u8 = 0x1B;

const DEFAULT_TEMPERATURE_C: f64 = 21.5;
const DEFAULT_HUMIDITY_RH: f64 = 40.0;

/// Calibration of worked example A (devices.md): H0 20 %RH at 4000, H1 40 %RH
/// at 6000, T0 10 °C at 300, T1 20 °C at 500.
const CALIBRATION_A: [u8; 16] = [
    0x28, 0x50, // 0x30 H0_rH_x2, 0x31 H1_rH_x2
    0x50, 0xA0, // 0x32 T0_degC_x8, 0x33 T1_degC_x8 (low bits)
    0x00, 0x00, // 0x34 reserved, 0x35 T1/T0 msb
    0xA0, 0x0F, // 0x36 H0_T0_OUT = 4000
    0x00, 0x00, // 0x38 reserved
    0x70, 0x17, // 0x3A H1_T0_OUT = 6000
    0x2C, 0x01, // 0x3C T0_OUT = 300
    0xF4, 0x01, // 0x3E T1_OUT = 500
];

/// Index of each output in the core: humidity (STATUS bit 1), temperature (bit 0).
const HUM: usize = 0;

static MODEL: StModel = StModel {
    rate_bits: 0x03,
    powered_mode: |ctrl1| match ctrl1 & 0x03 {
        0b00 => Mode::OneShot,
        0b01 => Mode::Continuous(Duration::from_secs(1)),
        0b10 => Mode::Continuous(Duration::from_nanos(1_000_000_000 / 7)),
        _ => Mode::Continuous(Duration::from_millis(80)),
    },
    outputs: [(H_OUT, 2), (T_OUT, 2)],
    raw: |regs, i, value| {
        i32::from(if i == HUM {
            raw_humidity(regs, value)
        } else {
            raw_temperature(regs, value)
        })
    },
    writable: |reg| matches!(reg, AV_CONF | CTRL_REG3),
    boot: CALIBRATION as usize..CALIBRATION as usize + 16,
    swreset: 0,
};

pub struct Hts221(StCore);

impl Hts221 {
    pub fn new(spec: &SimDeviceSpec) -> Result<Self, String> {
        Self::new_at(spec, Instant::now())
    }

    fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String> {
        if spec.pressure_hpa.is_some() {
            return Err("the hts221 measures humidity and temperature, not pressure; \
                        put \"pressure_hpa\" on an lps25h"
                .into());
        }
        let temperature_c = spec.temperature_c.unwrap_or(DEFAULT_TEMPERATURE_C);
        let humidity_rh = spec.humidity_rh.unwrap_or(DEFAULT_HUMIDITY_RH);
        for (name, v) in [("temperature_c", temperature_c), ("humidity_rh", humidity_rh)] {
            if !v.is_finite() {
                return Err(format!("hts221: \"{name}\" must be a finite number"));
            }
        }
        let overrides = spec.register_overrides()?;
        let mut regs = StRegisters::new();
        regs.regs[WHO_AM_I as usize] = ID;
        regs.regs[AV_CONF as usize] = AV_CONF_DEFAULT;
        let cal = CALIBRATION as usize;
        regs.regs[cal..cal + 16].copy_from_slice(&CALIBRATION_A);
        regs.apply_overrides(&overrides);
        Ok(Hts221(StCore::new(
            &MODEL,
            regs,
            &overrides,
            [humidity_rh, temperature_c],
            now,
        )))
    }

    /// One transaction at time `now` (tests pass their own clock).
    fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
        self.0.transfer_at(now, data, read);
    }
}

/// The T_OUT the calibration maps to `temperature_c`.
fn raw_temperature(regs: &StRegisters, temperature_c: f64) -> i16 {
    let r = &regs.regs;
    let msb = u16::from(r[0x35]);
    let t0 = f64::from(((msb & 0x03) << 8) | u16::from(r[0x32])) / 8.0;
    let t1 = f64::from(((msb & 0x0C) << 6) | u16::from(r[0x33])) / 8.0;
    inverse(temperature_c, (t0, regs.i16_at(0x3C)), (t1, regs.i16_at(0x3E)))
}

/// The H_OUT the calibration maps to `humidity_rh`.
fn raw_humidity(regs: &StRegisters, humidity_rh: f64) -> i16 {
    let r = &regs.regs;
    let h0 = f64::from(r[0x30]) / 2.0;
    let h1 = f64::from(r[0x31]) / 2.0;
    inverse(humidity_rh, (h0, regs.i16_at(0x36)), (h1, regs.i16_at(0x3A)))
}

/// The raw output `x` for which the line through `(v0, x0)` and `(v1, x1)`
/// gives `value`, rounded and clamped to i16 (`x0` when the two points
/// coincide, as the chip's formula would divide by zero).
fn inverse(value: f64, (v0, x0): (f64, f64), (v1, x1): (f64, f64)) -> i16 {
    if v1 == v0 {
        return x0 as i16;
    }
    let raw = x0 + (value - v0) * (x1 - x0) / (v1 - v0);
    raw.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

impl SimChip for Hts221 {
    fn transfer(&mut self, data: &[u8], read: &mut [u8]) {
        self.transfer_at(Instant::now(), data, read);
    }
}

#[cfg(test)]
mod tests {
    use super::super::bench::{self, close, poll_status, TimedChip};
    use super::*;

    fn spec(registers: &[(&str, &str)]) -> SimDeviceSpec {
        bench::spec("hts221", registers)
    }

    impl TimedChip for Hts221 {
        fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String> {
            Hts221::new_at(spec, now)
        }
        fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
            Hts221::transfer_at(self, now, data, read)
        }
    }

    type Bench = bench::Bench<Hts221>;

    impl Bench {
        fn status(&mut self) -> u8 {
            self.read(STATUS | 0x80, 1)[0]
        }
        /// Powers on at 12.5 Hz, as the Sense HAT stack does, and waits for data.
        fn start(&mut self) {
            self.write(CTRL_REG1 | 0x80, &[0x87]);
            self.wait(100);
            assert_eq!(self.status(), 0x03);
        }
        /// Temperature and humidity decoded with the datasheet's formulas
        /// from the calibration and outputs read back from the chip.
        fn decode(&mut self) -> (f64, f64) {
            let c = self.read(CALIBRATION | 0x80, 16);
            let o = self.read(H_OUT | 0x80, 4);
            let i16_at = |b: &[u8], i: usize| f64::from(i16::from_le_bytes([b[i], b[i + 1]]));
            let t0 = f64::from((u16::from(c[5] & 0x03) << 8) | u16::from(c[2])) / 8.0;
            let t1 = f64::from((u16::from(c[5] & 0x0C) << 6) | u16::from(c[3])) / 8.0;
            let (t0_out, t1_out) = (i16_at(&c, 0xC), i16_at(&c, 0xE));
            let t = t0 + (i16_at(&o, 2) - t0_out) * (t1 - t0) / (t1_out - t0_out);
            let (h0, h1) = (f64::from(c[0]) / 2.0, f64::from(c[1]) / 2.0);
            let (h0_out, h1_out) = (i16_at(&c, 0x6), i16_at(&c, 0xA));
            let h = h0 + (i16_at(&o, 0) - h0_out) * (h1 - h0) / (h1_out - h0_out);
            (t, h)
        }
    }

    #[test]
    fn who_am_i_and_reset_values() {
        let mut b = Bench::new(&spec(&[]));
        assert_eq!(b.read(WHO_AM_I, 1), [0xBC]);
        assert_eq!(b.read(WHO_AM_I | 0x80, 1), [0xBC], "bit 7 is the auto-increment flag");
        assert_eq!(b.read(AV_CONF, 1), [0x1B]);
        assert_eq!(b.read(CTRL_REG1 | 0x80, 3), [0, 0, 0]);
        assert_eq!(b.read(CALIBRATION | 0x80, 16), CALIBRATION_A);
    }

    #[test]
    fn auto_increment_only_with_bit_7() {
        let mut b = Bench::new(&spec(&[]));
        // Without bit 7 every byte is register 0x30.
        assert_eq!(b.read(0x30, 2), [0x28, 0x28]);
        assert_eq!(b.read(0xB0, 2), [0x28, 0x50]);
        b.start();
        let h = b.read(H_OUT, 2);
        assert_eq!(h[0], h[1], "reading 0x28 twice without bit 7");
        let h_ai = b.read(H_OUT | 0x80, 2);
        assert_eq!(
            i16::from_le_bytes([h_ai[0], h_ai[1]]),
            6000,
            "40 %RH with calibration A"
        );
        // Writes follow the same rule: without bit 7 both bytes land in AV_CONF.
        b.write(AV_CONF, &[0x3F, 0x12]);
        assert_eq!(b.read(AV_CONF | 0x80, 2), [0x12, 0x00]);
        b.write(AV_CONF | 0x80, &[0x1B, 0x12]);
        assert_eq!(b.read(AV_CONF | 0x80, 2), [0x1B, 0x00], "0x11 is read-only");
    }

    #[test]
    fn powered_down_chip_has_no_data() {
        let mut b = Bench::new(&spec(&[]));
        b.wait(5000);
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(H_OUT | 0x80, 4), [0, 0, 0, 0]);
        // Powered down again after a measurement: STATUS 0, last values kept.
        b.start();
        let out = b.read(H_OUT | 0x80, 4);
        b.write(CTRL_REG1, &[0x00]);
        b.wait(5000);
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(H_OUT | 0x80, 4), out);
    }

    #[test]
    fn status_follows_the_conversion_period() {
        let mut b = Bench::new(&spec(&[]));
        b.write(CTRL_REG1, &[0x85]); // 1 Hz
        b.wait(900);
        assert_eq!(b.status(), 0, "not yet a second");
        b.wait(100);
        assert_eq!(b.status(), 0x03);
        // Reading T_OUT's high byte clears bit 0 only.
        b.read(T_OUT | 0x80, 2);
        assert_eq!(b.status(), 0x02);
        b.read(H_OUT | 0x80, 2);
        assert_eq!(b.status(), 0x00);
        // Reading only the low byte clears nothing.
        b.wait(1000);
        b.read(H_OUT, 1);
        assert_eq!(b.status(), 0x03);
        b.read(H_OUT | 0x80, 4);
        b.write(CTRL_REG1, &[0x87]); // 12.5 Hz
        b.wait(79);
        assert_eq!(b.status(), 0);
        b.wait(1);
        assert_eq!(b.status(), 0x03);
    }

    #[test]
    fn one_shot_mode() {
        let mut b = Bench::new(&spec(&[]));
        b.write(CTRL_REG1, &[0x84]); // powered, rate 00
        b.wait(2000);
        assert_eq!(b.status(), 0, "no conversion without ONE_SHOT");
        b.write(CTRL_REG2, &[0x01]);
        assert_eq!(b.read(CTRL_REG2, 1), [0x01], "ONE_SHOT stays set while converting");
        b.wait(100);
        assert_eq!(b.read(CTRL_REG2, 1), [0x00], "ONE_SHOT clears when done");
        assert_eq!(b.status(), 0x03);
        let (t, h) = b.decode();
        assert!(close(t, 21.5, 0.05) && close(h, 40.0, 0.01), "{t} {h}");
    }

    #[test]
    fn worked_example_a() {
        let mut b = Bench::new(&spec(&[("0x28", "88 13 90 01")]));
        b.start();
        let (t, h) = b.decode();
        assert!(close(t, 15.0, 1e-9), "T {t}");
        assert!(close(h, 30.0, 1e-9), "RH {h}");
    }

    #[test]
    fn worked_example_b_with_and_without_reserved_bits() {
        for r35 in ["04", "F4"] {
            let cal = format!("35 84 9A 2C 00 {r35} 09 00 00 00 D4 D6 FB FF B1 02");
            let mut b = Bench::new(&spec(&[("0x30", &cal), ("0x28", "78 EC FA 00")]));
            assert_eq!(b.read(0x35, 1)[0], u8::from_str_radix(r35, 16).unwrap());
            b.start();
            let (t, h) = b.decode();
            assert!(close(t, 25.955692, 1e-6), "r35={r35}: T {t}");
            assert!(close(h, 45.255854, 1e-6), "r35={r35}: RH {h}");
        }
    }

    #[test]
    fn physical_values_round_trip() {
        let calibrations = [
            String::new(),
            "35 84 9A 2C 00 F4 09 00 00 00 D4 D6 FB FF B1 02".to_string(),
        ];
        for cal in &calibrations {
            for (t, rh) in [(23.0, 55.0), (-10.25, 3.5), (37.7, 97.0), (0.0, 0.0)] {
                let overrides = [("0x30", cal.as_str())];
                let mut s = spec(if cal.is_empty() { &[] } else { &overrides });
                s.temperature_c = Some(t);
                s.humidity_rh = Some(rh);
                let mut b = Bench::new(&s);
                b.start();
                let (got_t, got_h) = b.decode();
                // Half a quantisation step each (both calibrations: < 0.05 °C, < 0.01 %RH).
                assert!(close(got_t, t, 0.05), "cal {cal:?}: {t} °C came back as {got_t}");
                assert!(close(got_h, rh, 0.01), "cal {cal:?}: {rh} %RH came back as {got_h}");
            }
        }
    }

    #[test]
    fn out_of_range_values_clamp() {
        let mut s = spec(&[]);
        s.temperature_c = Some(10_000.0);
        s.humidity_rh = Some(-10_000.0);
        let mut b = Bench::new(&s);
        b.start();
        let o = b.read(H_OUT | 0x80, 4);
        assert_eq!(i16::from_le_bytes([o[0], o[1]]), i16::MIN);
        assert_eq!(i16::from_le_bytes([o[2], o[3]]), i16::MAX);
    }

    #[test]
    fn read_only_registers_and_boot() {
        let mut b = Bench::new(&spec(&[]));
        b.write(WHO_AM_I, &[0x00]);
        b.write(CALIBRATION | 0x80, &[1, 2, 3]);
        b.write(STATUS, &[0x03]);
        assert_eq!(b.read(WHO_AM_I, 1), [0xBC]);
        assert_eq!(b.read(CALIBRATION | 0x80, 16), CALIBRATION_A);
        assert_eq!(b.status(), 0);
        b.write(CTRL_REG2, &[0x80]);
        assert_eq!(b.read(CTRL_REG2, 1), [0x00], "BOOT clears itself");
    }

    #[test]
    fn config_mistakes_are_reported() {
        let mut s = spec(&[]);
        s.pressure_hpa = Some(1000.0);
        assert!(Hts221::new(&s).err().unwrap().contains("lps25h"));
        assert!(Hts221::new(&spec(&[("0x30", "zz")])).is_err());
    }

    /// The real clock, through the bus trait.
    #[test]
    fn real_time_conversion() {
        let mut chip = Hts221::new(&spec(&[])).unwrap();
        chip.transfer(&[CTRL_REG1, 0x87], &mut []);
        assert_eq!(poll_status(&mut chip, STATUS, |s| s == 0x03), 0x03);
        let mut out = [0; 4];
        chip.transfer(&[H_OUT | 0x80], &mut out);
        assert_eq!(out, [0x70, 0x17, 0x12, 0x02], "6000 (40 %RH) and 530 (21.5 °C)");
    }
}
