//! HTS221 humidity and temperature sensor (the Sense HAT's, address 0x5F).
//!
//! What is emulated, from the datasheet and the drivers that talk to the chip:
//! - the ST register protocol: the first byte of a transaction is the register
//!   address; with bit 7 set the pointer advances after every byte (reads and
//!   writes), without it every byte is the same register;
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

use super::{SimChip, SimDeviceSpec, StRegisters};
use std::time::{Duration, Instant};

const WHO_AM_I: u8 = 0x0F;
const AV_CONF: u8 = 0x10;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG2: u8 = 0x21;
const CTRL_REG3: u8 = 0x22;
const STATUS: u8 = 0x27;
/// H_OUT (0x28, 0x29) and T_OUT (0x2A, 0x2B), little-endian.
const H_OUT: u8 = 0x28;
const T_OUT: u8 = 0x2A;
/// Factory calibration, 0x30..=0x3F.
const CALIBRATION: u8 = 0x30;

const ID: u8 = 0xBC;
const AV_CONF_DEFAULT: u8 = 0x1B;

const CTRL1_PD: u8 = 0x80;
const CTRL2_BOOT: u8 = 0x80;
const CTRL2_ONE_SHOT: u8 = 0x01;

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

/// How long a one-shot conversion takes (AV_CONF 0x1B: a few tens of ms).
const ONE_SHOT_TIME: Duration = Duration::from_millis(40);

/// Index of each output in [`Hts221::ready`] and friends.
const HUM: usize = 0;
const TEMP: usize = 1;

pub struct Hts221 {
    regs: StRegisters,
    /// Calibration as it left the factory, for CTRL_REG2 BOOT.
    factory: [u8; 16],
    temperature_c: f64,
    humidity_rh: f64,
    /// Outputs set by the config: returned as they are, never recomputed.
    fixed: [bool; 2],
    /// Start of the conversion each output waits for (power-on, rate change or
    /// its last read); `None` while powered down.
    since: [Option<Instant>; 2],
    /// STATUS bits: a new value not yet read.
    ready: [bool; 2],
    /// A running one-shot conversion, started at this instant.
    one_shot: Option<Instant>,
    /// Register address byte of the last transaction, for a read without one.
    pointer: u8,
}

enum Mode {
    PoweredDown,
    OneShot,
    Continuous(Duration),
}

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
        // Whether an override covers any of the registers lo..=hi.
        let touched = |lo: u8, hi: u8| {
            overrides.iter().any(|(r, b)| {
                let start = usize::from(r & 0x7F);
                start <= usize::from(hi) && start + b.len() > usize::from(lo)
            })
        };
        let fixed = [touched(H_OUT, H_OUT + 1), touched(T_OUT, T_OUT + 1)];
        regs.regs[STATUS as usize] = 0;
        let mut factory = [0u8; 16];
        factory.copy_from_slice(&regs.regs[cal..cal + 16]);
        let mut chip = Hts221 {
            regs,
            factory,
            temperature_c,
            humidity_rh,
            fixed,
            since: [None; 2],
            ready: [false; 2],
            one_shot: None,
            pointer: 0,
        };
        // A config that sets CTRL_REG1 starts with the chip powered.
        if chip.regs.regs[CTRL_REG1 as usize] & CTRL1_PD != 0 {
            chip.since = [Some(now); 2];
        }
        chip.regs.regs[CTRL_REG2 as usize] &= !(CTRL2_BOOT | CTRL2_ONE_SHOT);
        Ok(chip)
    }

    fn mode(&self) -> Mode {
        let ctrl1 = self.regs.regs[CTRL_REG1 as usize];
        if ctrl1 & CTRL1_PD == 0 {
            return Mode::PoweredDown;
        }
        match ctrl1 & 0x03 {
            0b00 => Mode::OneShot,
            0b01 => Mode::Continuous(Duration::from_secs(1)),
            0b10 => Mode::Continuous(Duration::from_nanos(1_000_000_000 / 7)),
            _ => Mode::Continuous(Duration::from_millis(80)),
        }
    }

    /// Completes the conversions due by `now`.
    fn advance(&mut self, now: Instant) {
        match self.mode() {
            Mode::PoweredDown => {}
            Mode::Continuous(period) => {
                for i in [HUM, TEMP] {
                    if self.since[i].is_some_and(|s| now >= s + period) {
                        self.ready[i] = true;
                        self.publish(i);
                    }
                }
            }
            Mode::OneShot => {
                if self.one_shot.is_some_and(|s| now >= s + ONE_SHOT_TIME) {
                    self.one_shot = None;
                    self.regs.regs[CTRL_REG2 as usize] &= !CTRL2_ONE_SHOT;
                    for i in [HUM, TEMP] {
                        self.ready[i] = true;
                        self.publish(i);
                    }
                }
            }
        }
    }

    /// Puts a fresh conversion of output `i` into its registers.
    fn publish(&mut self, i: usize) {
        if self.fixed[i] {
            return;
        }
        let (reg, raw) = if i == HUM {
            (H_OUT, self.raw_humidity())
        } else {
            (T_OUT, self.raw_temperature())
        };
        self.regs.regs[reg as usize..reg as usize + 2].copy_from_slice(&raw.to_le_bytes());
    }

    fn i16_at(&self, reg: u8) -> f64 {
        f64::from(i16::from_le_bytes([
            self.regs.regs[reg as usize],
            self.regs.regs[reg as usize + 1],
        ]))
    }

    /// The T_OUT the calibration maps to `temperature_c`.
    fn raw_temperature(&self) -> i16 {
        let r = &self.regs.regs;
        let msb = u16::from(r[0x35]);
        let t0 = f64::from(((msb & 0x03) << 8) | u16::from(r[0x32])) / 8.0;
        let t1 = f64::from(((msb & 0x0C) << 6) | u16::from(r[0x33])) / 8.0;
        inverse(self.temperature_c, (t0, self.i16_at(0x3C)), (t1, self.i16_at(0x3E)))
    }

    /// The H_OUT the calibration maps to `humidity_rh`.
    fn raw_humidity(&self) -> i16 {
        let r = &self.regs.regs;
        let h0 = f64::from(r[0x30]) / 2.0;
        let h1 = f64::from(r[0x31]) / 2.0;
        inverse(self.humidity_rh, (h0, self.i16_at(0x36)), (h1, self.i16_at(0x3A)))
    }

    fn status(&self) -> u8 {
        if matches!(self.mode(), Mode::PoweredDown) {
            return 0;
        }
        (u8::from(self.ready[HUM]) << 1) | u8::from(self.ready[TEMP])
    }

    fn read_byte(&mut self, reg: u8, now: Instant) -> u8 {
        let value = if reg == STATUS {
            self.status()
        } else {
            self.regs.regs[reg as usize]
        };
        // Reading an output's high byte hands the value over: the next one
        // is a conversion period away.
        let output = match reg {
            r if r == H_OUT + 1 => Some(HUM),
            r if r == T_OUT + 1 => Some(TEMP),
            _ => None,
        };
        if let Some(i) = output {
            self.ready[i] = false;
            if self.since[i].is_some() {
                self.since[i] = Some(now);
            }
        }
        value
    }

    fn write_byte(&mut self, reg: u8, value: u8, now: Instant) {
        match reg {
            AV_CONF | CTRL_REG3 => self.regs.regs[reg as usize] = value,
            CTRL_REG1 => {
                let old = self.regs.regs[CTRL_REG1 as usize];
                self.regs.regs[CTRL_REG1 as usize] = value;
                let powered = value & CTRL1_PD != 0;
                if !powered {
                    self.since = [None; 2];
                    self.ready = [false; 2];
                    self.one_shot = None;
                } else if old & CTRL1_PD == 0 {
                    self.since = [Some(now); 2];
                    self.ready = [false; 2];
                } else if (old ^ value) & 0x03 != 0 {
                    // A new rate: conversions restart, data already there stays.
                    self.since = [Some(now); 2];
                }
            }
            CTRL_REG2 => {
                let mut value = value;
                if value & CTRL2_BOOT != 0 {
                    let cal = CALIBRATION as usize;
                    self.regs.regs[cal..cal + 16].copy_from_slice(&self.factory);
                    value &= !CTRL2_BOOT;
                }
                if value & CTRL2_ONE_SHOT != 0 {
                    if matches!(self.mode(), Mode::OneShot) {
                        self.one_shot.get_or_insert(now);
                    } else {
                        value &= !CTRL2_ONE_SHOT;
                    }
                }
                self.regs.regs[CTRL_REG2 as usize] = value;
            }
            // Read-only: WHO_AM_I, STATUS, outputs, calibration.
            _ => {}
        }
    }

    /// One transaction at time `now` (tests pass their own clock).
    fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
        self.advance(now);
        let (addr, writes) = match data.split_first() {
            Some((a, rest)) => (*a, rest),
            None => (self.pointer, &[][..]),
        };
        let mut regs = StRegisters::sequence(addr, writes.len() + read.len());
        for (&value, reg) in writes.iter().zip(regs.by_ref()) {
            self.write_byte(reg, value, now);
        }
        for (slot, reg) in read.iter_mut().zip(regs) {
            *slot = self.read_byte(reg, now);
        }
        self.pointer = addr;
    }
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
