//! Bosch BME280 pressure, humidity and temperature sensor (address 0x76, or
//! 0x77 with SDO high).
//!
//! What is emulated, from the BME280 datasheet:
//! - Bosch's I2C register protocol, which is not ST's: register addresses are
//!   full 8-bit (0x88..0xFE), a read always auto-increments, and a write is a
//!   list of (register, value) pairs in one transaction. A write of several
//!   data bytes after one register address therefore does NOT fill
//!   consecutive registers: the second byte is taken as the next register
//!   address, as on the chip. A lone trailing byte only sets the pointer;
//! - chip id 0xD0 = 0x60; soft reset: writing 0xB6 to 0xE0 returns the chip
//!   to its power-on state (the config's register values included) and sets
//!   status bit 0 (im_update, NVM copy) for the 2 ms start-up time;
//! - factory calibration (read-only): calib00..25 at 0x88..0xA1 (dig_T1..T3,
//!   dig_P1..P9, dig_H1 at 0xA1) and calib26..41 at 0xE1..0xF0 (dig_H2..H6,
//!   with dig_H4/H5 packed as 12-bit values around 0xE5). Default: the BMP280
//!   datasheet's worked example for T and P, and the humidity calibration of a
//!   real BME280 (see [`CALIB_HUM`]);
//! - ctrl_hum 0xF2 (osrs_h), taking effect at the next write of ctrl_meas;
//!   ctrl_meas 0xF4 (osrs_t 7:5, osrs_p 4:2, mode 1:0); config 0xF5 (t_sb 7:5,
//!   filter 4:2, spi3w_en 0);
//! - modes: sleep after power-on and reset; forced (01 or 10) runs one
//!   measurement, during which status bit 3 (measuring) is set, for the
//!   datasheet's maximum measurement time for the oversampling chosen
//!   (1.25 ms + 2.3 ms per T/P/H oversample + 0.575 ms per P/H), then updates
//!   the data registers and returns to sleep (mode bits 00); normal (11)
//!   measures continuously, every measurement time + t_standby;
//! - data 0xF7..0xFE: press msb/lsb/xlsb (20 bits), temp msb/lsb/xlsb
//!   (20 bits), hum msb/lsb (16 bits). Until a measurement, and for a quantity
//!   whose oversampling is 0 ("skipped"), they read 0x80000 / 0x8000.
//!   Measured values are the raw ADC values that the datasheet's integer
//!   compensation (the one drivers use) maps closest to `temperature_c`,
//!   `pressure_hpa` and `humidity_rh`, found by binary search over the
//!   monotonic compensation, at the chip's resolution: 16 + (osrs − 1) bits
//!   for T and P (20 bits with the IIR filter on), 16 bits for H. The IIR
//!   filter itself is not emulated (the filtered value of a constant is the
//!   constant). Data registers set in the config (`registers`, e.g. the
//!   worked example's raw ADC bytes) are returned as they are.
//!
//! Register addresses in `registers` are full 8-bit ("0x88", "0xF7"). Writes
//! to read-only registers are ignored, as on the chip. Status is always
//! computed: an override of 0xF3 is ignored. The emulated chip has no memory
//! of time before it is first used (the bus is opened on first use).

use super::{SimChip, SimDeviceSpec};
use std::time::{Duration, Instant};

const CALIB_00: u8 = 0x88;
const DIG_H1: u8 = 0xA1;
const CHIP_ID: u8 = 0xD0;
const RESET: u8 = 0xE0;
const CALIB_26: u8 = 0xE1;
const CTRL_HUM: u8 = 0xF2;
const STATUS: u8 = 0xF3;
const CTRL_MEAS: u8 = 0xF4;
const CONFIG: u8 = 0xF5;
const PRESS: u8 = 0xF7;
const TEMP: u8 = 0xFA;
const HUM: u8 = 0xFD;

const ID: u8 = 0x60;
const RESET_WORD: u8 = 0xB6;
const STATUS_MEASURING: u8 = 0x08;
const STATUS_IM_UPDATE: u8 = 0x01;
/// Start-up time after power-on or soft reset, while the NVM is copied.
const STARTUP: Duration = Duration::from_millis(2);

/// What a skipped (or not yet measured) temperature or pressure reads.
const SKIPPED_20: u32 = 0x80000;
/// What a skipped (or not yet measured) humidity reads.
const SKIPPED_16: u32 = 0x8000;

const DEFAULT_TEMPERATURE_C: f64 = 21.5;
const DEFAULT_PRESSURE_HPA: f64 = 1013.25;
const DEFAULT_HUMIDITY_RH: f64 = 40.0;

/// calib00..calib23 (0x88..0x9F): dig_T1..T3, dig_P1..P9, little-endian,
/// from the BMP280 datasheet's worked example (section 3.12: adc_T = 519888
/// gives 25.08 °C, adc_P = 415148 gives 100653.27 Pa).
const CALIB_TP: [u8; 24] = {
    let words: [u16; 12] = [
        27504,              // dig_T1
        26435,              // dig_T2
        (-1000i16) as u16,  // dig_T3
        36477,              // dig_P1
        (-10685i16) as u16, // dig_P2
        3024,               // dig_P3
        2855,               // dig_P4
        140,                // dig_P5
        (-7i16) as u16,     // dig_P6
        15500,              // dig_P7
        (-14600i16) as u16, // dig_P8
        6000,               // dig_P9
    ];
    let mut bytes = [0u8; 24];
    let mut i = 0;
    while i < 12 {
        bytes[2 * i] = words[i] as u8;
        bytes[2 * i + 1] = (words[i] >> 8) as u8;
        i += 1;
    }
    bytes
};

/// Humidity calibration of a real BME280, as dumped by its owner on Bosch
/// Sensortec's community forum ("BME280 Data to test Calculations", 2019):
/// dig_H1 = 75 (0xA1), then 0xE1..0xE7 = dig_H2 357, dig_H3 0,
/// dig_H4 331, dig_H5 0, dig_H6 30.
const DIG_H1_DEFAULT: u8 = 0x4B;
const CALIB_HUM: [u8; 7] = [0x65, 0x01, 0x00, 0x14, 0x0B, 0x00, 0x1E];

/// The calibration words, decoded as the datasheet says (table 16).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub t1: u16,
    pub t2: i16,
    pub t3: i16,
    pub p1: u16,
    pub p2: i16,
    pub p3: i16,
    pub p4: i16,
    pub p5: i16,
    pub p6: i16,
    pub p7: i16,
    pub p8: i16,
    pub p9: i16,
    pub h1: u8,
    pub h2: i16,
    pub h3: u8,
    pub h4: i16,
    pub h5: i16,
    pub h6: i8,
}

impl Calibration {
    fn from_registers(r: &[u8; 256]) -> Self {
        let u16_at = |reg: usize| u16::from_le_bytes([r[reg], r[reg + 1]]);
        let i16_at = |reg: usize| u16_at(reg) as i16;
        let e4 = i16::from(r[0xE4] as i8);
        let e5 = i16::from(r[0xE5]);
        let e6 = i16::from(r[0xE6] as i8);
        Calibration {
            t1: u16_at(0x88),
            t2: i16_at(0x8A),
            t3: i16_at(0x8C),
            p1: u16_at(0x8E),
            p2: i16_at(0x90),
            p3: i16_at(0x92),
            p4: i16_at(0x94),
            p5: i16_at(0x96),
            p6: i16_at(0x98),
            p7: i16_at(0x9A),
            p8: i16_at(0x9C),
            p9: i16_at(0x9E),
            h1: r[0xA1],
            h2: i16_at(0xE1),
            h3: r[0xE3],
            // 12-bit signed: the sign comes from the whole-byte part.
            h4: (e4 * 16) | (e5 & 0x0F),
            h5: (e6 * 16) | (e5 >> 4),
            h6: r[0xE7] as i8,
        }
    }

    /// t_fine from a raw temperature (datasheet 4.2.3, 32-bit integer).
    pub fn t_fine(&self, adc_t: i32) -> i32 {
        let t1 = i32::from(self.t1);
        let var1 = ((adc_t >> 3).wrapping_sub(t1 << 1)).wrapping_mul(i32::from(self.t2)) >> 11;
        let d = (adc_t >> 4).wrapping_sub(t1);
        let var2 = ((d.wrapping_mul(d) >> 12).wrapping_mul(i32::from(self.t3))) >> 14;
        var1.wrapping_add(var2)
    }

    /// Temperature in 0.01 °C.
    pub fn temperature(t_fine: i32) -> i32 {
        (t_fine.wrapping_mul(5).wrapping_add(128)) >> 8
    }

    /// Pressure in Pa × 256 (datasheet 4.2.3, 64-bit integer), which a
    /// driver takes as a u32.
    #[cfg(test)]
    pub fn pressure(&self, adc_p: i32, t_fine: i32) -> u32 {
        self.pressure_i64(adc_p, t_fine) as u32
    }

    /// The same before the cast: negative (not wrapped) beyond the
    /// calibrated range, so that the search sees a monotonic function.
    fn pressure_i64(&self, adc_p: i32, t_fine: i32) -> i64 {
        let mut var1 = i64::from(t_fine) - 128_000;
        let mut var2 = var1.wrapping_mul(var1).wrapping_mul(i64::from(self.p6));
        var2 = var2.wrapping_add(var1.wrapping_mul(i64::from(self.p5)).wrapping_mul(1 << 17));
        var2 = var2.wrapping_add(i64::from(self.p4).wrapping_mul(1 << 35));
        var1 = (var1.wrapping_mul(var1).wrapping_mul(i64::from(self.p3)) >> 8)
            .wrapping_add(var1.wrapping_mul(i64::from(self.p2)).wrapping_mul(1 << 12));
        var1 = ((1i64 << 47).wrapping_add(var1)).wrapping_mul(i64::from(self.p1)) >> 33;
        if var1 == 0 {
            return 0;
        }
        let mut p = 1_048_576 - i64::from(adc_p);
        p = (p.wrapping_mul(1 << 31).wrapping_sub(var2)).wrapping_mul(3125) / var1;
        let var1 = i64::from(self.p9).wrapping_mul(p >> 13).wrapping_mul(p >> 13) >> 25;
        let var2 = i64::from(self.p8).wrapping_mul(p) >> 19;
        (p.wrapping_add(var1).wrapping_add(var2) >> 8).wrapping_add(i64::from(self.p7) << 4)
    }

    /// Relative humidity in %RH × 1024 (datasheet 4.2.3, 32-bit integer).
    pub fn humidity(&self, adc_h: i32, t_fine: i32) -> u32 {
        let v = t_fine.wrapping_sub(76_800);
        let a = (adc_h << 14)
            .wrapping_sub(i32::from(self.h4) << 20)
            .wrapping_sub(i32::from(self.h5).wrapping_mul(v))
            .wrapping_add(16_384)
            >> 15;
        let b = ((v.wrapping_mul(i32::from(self.h6)) >> 10)
            .wrapping_mul((v.wrapping_mul(i32::from(self.h3)) >> 11).wrapping_add(32_768))
            >> 10)
            .wrapping_add(2_097_152)
            .wrapping_mul(i32::from(self.h2))
            .wrapping_add(8192)
            >> 14;
        let mut x = a.wrapping_mul(b);
        x = x.wrapping_sub((((x >> 15).wrapping_mul(x >> 15) >> 7).wrapping_mul(i32::from(self.h1))) >> 4);
        (x.clamp(0, 419_430_400) >> 12) as u32
    }
}

/// The raw value in `0..1 << bits`, scaled to `total` bits, whose
/// compensation `f` (monotonic, in either direction) comes closest to
/// `target`.
fn invert(target: f64, bits: u32, total: u32, f: impl Fn(i32) -> f64) -> u32 {
    let shift = total - bits;
    let value = |k: u32| f((k << shift) as i32);
    let (lo, hi) = (0u32, (1u32 << bits) - 1);
    let rising = value(hi) >= value(lo);
    // The first k whose value is at or past the target, in the direction of the function.
    let past = |k: u32| {
        let v = value(k);
        if rising {
            v >= target
        } else {
            v <= target
        }
    };
    let (mut a, mut b) = (lo, hi + 1);
    while a < b {
        let mid = a + (b - a) / 2;
        if past(mid) {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    let candidates = [a.saturating_sub(1), a.min(hi)];
    let best = candidates
        .into_iter()
        .min_by(|x, y| (value(*x) - target).abs().total_cmp(&(value(*y) - target).abs()))
        .unwrap_or(lo);
    best << shift
}

/// Oversampling factor of an osrs_x code (0 = skipped).
fn oversampling(code: u8) -> u32 {
    match code & 0x07 {
        0 => 0,
        c => 1 << (c.min(5) - 1),
    }
}

/// The settings a measurement runs with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    osrs_t: u8,
    osrs_p: u8,
    osrs_h: u8,
    filter: bool,
}

impl Settings {
    /// The datasheet's maximum measurement time (9.1).
    fn duration(&self) -> Duration {
        let (t, p, h) = (
            oversampling(self.osrs_t),
            oversampling(self.osrs_p),
            oversampling(self.osrs_h),
        );
        let mut us = 1250 + 2300 * t;
        if p > 0 {
            us += 2300 * p + 575;
        }
        if h > 0 {
            us += 2300 * h + 575;
        }
        Duration::from_micros(u64::from(us))
    }

    /// Resolution of the temperature and pressure outputs in bits.
    fn bits(&self, osrs: u8) -> u32 {
        if self.filter {
            20
        } else {
            15 + u32::from((osrs & 0x07).min(5))
        }
    }
}

/// t_standby of normal mode, from config bits 7:5.
fn standby(config: u8) -> Duration {
    Duration::from_micros(match config >> 5 {
        0 => 500,
        1 => 62_500,
        2 => 125_000,
        3 => 250_000,
        4 => 500_000,
        5 => 1_000_000,
        6 => 10_000,
        _ => 20_000,
    })
}

enum Mode {
    Sleep,
    /// One measurement started at this instant.
    Forced(Instant, Settings),
    /// Measuring continuously since this instant.
    Normal(Instant, Settings),
}

pub struct Bme280 {
    regs: [u8; 256],
    /// The registers right after power-on, for a soft reset.
    initial: [u8; 256],
    temperature_c: f64,
    pressure_hpa: f64,
    humidity_rh: f64,
    /// Outputs set by the config (press, temp, hum): returned as they are.
    fixed: [bool; 3],
    mode: Mode,
    /// osrs_h as latched by the last write of ctrl_meas.
    osrs_h: u8,
    /// End of the start-up time after a soft reset (im_update).
    starting_until: Option<Instant>,
    pointer: u8,
}

/// The `registers` of the config as (register, bytes), with full 8-bit
/// register addresses.
fn overrides(spec: &SimDeviceSpec) -> Result<Vec<(u8, Vec<u8>)>, String> {
    spec.registers
        .iter()
        .map(|(reg, bytes)| {
            let r = super::super::address::parse_u8(reg)
                .ok_or_else(|| format!("register {reg:?} must be 0x00..=0xff, e.g. \"0xf7\""))?;
            let b = bytes
                .split_whitespace()
                .map(|h| u8::from_str_radix(h.trim_start_matches("0x"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("register {reg}: {bytes:?} must be hex bytes such as \"65 5A C0\""))?;
            if b.is_empty() || r as usize + b.len() > 256 {
                return Err(format!("register {reg}: give 1 to {} bytes", 256 - r as usize));
            }
            Ok((r, b))
        })
        .collect()
}

impl Bme280 {
    pub fn new(spec: &SimDeviceSpec) -> Result<Self, String> {
        Self::new_at(spec, Instant::now())
    }

    fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String> {
        let temperature_c = spec.temperature_c.unwrap_or(DEFAULT_TEMPERATURE_C);
        let pressure_hpa = spec.pressure_hpa.unwrap_or(DEFAULT_PRESSURE_HPA);
        let humidity_rh = spec.humidity_rh.unwrap_or(DEFAULT_HUMIDITY_RH);
        for (name, v) in [
            ("temperature_c", temperature_c),
            ("pressure_hpa", pressure_hpa),
            ("humidity_rh", humidity_rh),
        ] {
            if !v.is_finite() {
                return Err(format!("bme280: \"{name}\" must be a finite number"));
            }
        }
        let overrides = overrides(spec)?;
        let mut regs = [0u8; 256];
        regs[CHIP_ID as usize] = ID;
        regs[CALIB_00 as usize..CALIB_00 as usize + 24].copy_from_slice(&CALIB_TP);
        regs[DIG_H1 as usize] = DIG_H1_DEFAULT;
        regs[CALIB_26 as usize..CALIB_26 as usize + 7].copy_from_slice(&CALIB_HUM);
        put20(&mut regs, PRESS, SKIPPED_20);
        put20(&mut regs, TEMP, SKIPPED_20);
        put16(&mut regs, HUM, SKIPPED_16);
        for (reg, bytes) in &overrides {
            let start = *reg as usize;
            regs[start..start + bytes.len()].copy_from_slice(bytes);
        }
        let touched = |lo: u8, hi: u8| {
            overrides.iter().any(|(r, b)| {
                let start = usize::from(*r);
                start <= usize::from(hi) && start + b.len() > usize::from(lo)
            })
        };
        let fixed = [
            touched(PRESS, PRESS + 2),
            touched(TEMP, TEMP + 2),
            touched(HUM, HUM + 1),
        ];
        regs[STATUS as usize] = 0;
        regs[RESET as usize] = 0;
        let mut chip = Bme280 {
            regs,
            initial: regs,
            temperature_c,
            pressure_hpa,
            humidity_rh,
            fixed,
            mode: Mode::Sleep,
            osrs_h: 0,
            starting_until: None,
            pointer: 0,
        };
        chip.power_on(now);
        Ok(chip)
    }

    /// The state after power-on: the initial registers, and a ctrl_meas set
    /// by the config taken as written.
    fn power_on(&mut self, now: Instant) {
        self.regs = self.initial;
        self.mode = Mode::Sleep;
        self.osrs_h = 0;
        let ctrl_meas = self.regs[CTRL_MEAS as usize];
        if ctrl_meas & 0x03 != 0 {
            self.write_ctrl_meas(ctrl_meas, now);
        }
    }

    fn settings(&self) -> Settings {
        let ctrl_meas = self.regs[CTRL_MEAS as usize];
        Settings {
            osrs_t: ctrl_meas >> 5,
            osrs_p: (ctrl_meas >> 2) & 0x07,
            osrs_h: self.osrs_h,
            filter: (self.regs[CONFIG as usize] >> 2) & 0x07 != 0,
        }
    }

    fn write_ctrl_meas(&mut self, value: u8, now: Instant) {
        self.regs[CTRL_MEAS as usize] = value;
        self.osrs_h = self.regs[CTRL_HUM as usize] & 0x07;
        let settings = self.settings();
        self.mode = match value & 0x03 {
            0b00 => Mode::Sleep,
            0b11 => Mode::Normal(now, settings),
            _ => Mode::Forced(now, settings),
        };
    }

    /// Completes the measurements due by `now`.
    fn advance(&mut self, now: Instant) {
        if self.starting_until.is_some_and(|t| now >= t) {
            self.starting_until = None;
        }
        match self.mode {
            Mode::Sleep => {}
            Mode::Forced(start, settings) => {
                if now >= start + settings.duration() {
                    self.publish(settings);
                    self.regs[CTRL_MEAS as usize] &= !0x03;
                    self.mode = Mode::Sleep;
                }
            }
            Mode::Normal(start, settings) => {
                if now >= start + settings.duration() {
                    self.publish(settings);
                }
            }
        }
    }

    fn measuring(&self, now: Instant) -> bool {
        match self.mode {
            Mode::Sleep => false,
            Mode::Forced(start, settings) => now < start + settings.duration(),
            Mode::Normal(start, settings) => {
                let t = settings.duration();
                let period = t + standby(self.regs[CONFIG as usize]);
                let phase = (now - start).as_nanos() % period.as_nanos();
                phase < t.as_nanos()
            }
        }
    }

    /// Puts the results of a measurement with `settings` into the data registers.
    fn publish(&mut self, s: Settings) {
        let cal = Calibration::from_registers(&self.regs);
        // The temperature the chip compensates pressure and humidity with is
        // the one a driver reads back (unless skipped: then the true one).
        let t_target = self.temperature_c * 100.0;
        let t_of = |adc: i32| f64::from(Calibration::temperature(cal.t_fine(adc)));
        let t_true = invert(t_target, 20, 20, t_of);
        let adc_t = if self.fixed[1] {
            get20(&self.regs, TEMP)
        } else if s.osrs_t & 0x07 == 0 {
            SKIPPED_20
        } else {
            invert(t_target, s.bits(s.osrs_t), 20, t_of)
        };
        if !self.fixed[1] {
            put20(&mut self.regs, TEMP, adc_t);
        }
        let t_fine = if adc_t == SKIPPED_20 && !self.fixed[1] {
            cal.t_fine(t_true as i32)
        } else {
            cal.t_fine(adc_t as i32)
        };
        if !self.fixed[0] {
            let adc_p = if s.osrs_p & 0x07 == 0 {
                SKIPPED_20
            } else {
                // hPa → Pa × 256.
                invert(self.pressure_hpa * 25_600.0, s.bits(s.osrs_p), 20, |adc| {
                    cal.pressure_i64(adc, t_fine) as f64
                })
            };
            put20(&mut self.regs, PRESS, adc_p);
        }
        if !self.fixed[2] {
            let adc_h = if s.osrs_h & 0x07 == 0 {
                SKIPPED_16
            } else {
                invert(self.humidity_rh * 1024.0, 16, 16, |adc| {
                    f64::from(cal.humidity(adc, t_fine))
                })
            };
            put16(&mut self.regs, HUM, adc_h);
        }
    }

    fn status(&self, now: Instant) -> u8 {
        let mut status = 0;
        if self.measuring(now) {
            status |= STATUS_MEASURING;
        }
        if self.starting_until.is_some() {
            status |= STATUS_IM_UPDATE;
        }
        status
    }

    fn read_byte(&self, reg: u8, now: Instant) -> u8 {
        match reg {
            STATUS => self.status(now),
            RESET => 0,
            _ => self.regs[reg as usize],
        }
    }

    fn write_byte(&mut self, reg: u8, value: u8, now: Instant) {
        match reg {
            // Any other value written to the reset register does nothing.
            RESET if value == RESET_WORD => {
                self.power_on(now);
                self.starting_until = Some(now + STARTUP);
            }
            CTRL_HUM => self.regs[CTRL_HUM as usize] = value & 0x07,
            CTRL_MEAS => self.write_ctrl_meas(value, now),
            // Bit 1 is reserved.
            CONFIG => self.regs[CONFIG as usize] = value & !0x02,
            // Read-only: id, calibration, status, data.
            _ => {}
        }
    }

    /// One transaction at time `now` (tests pass their own clock).
    fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
        self.advance(now);
        let mut pairs = data.chunks_exact(2);
        for pair in pairs.by_ref() {
            self.write_byte(pair[0], pair[1], now);
            self.advance(now);
            self.pointer = pair[0];
        }
        if let [reg] = pairs.remainder() {
            self.pointer = *reg;
        }
        for slot in read.iter_mut() {
            *slot = self.read_byte(self.pointer, now);
            self.pointer = self.pointer.wrapping_add(1);
        }
    }
}

fn put20(regs: &mut [u8; 256], reg: u8, value: u32) {
    let r = reg as usize;
    regs[r] = (value >> 12) as u8;
    regs[r + 1] = (value >> 4) as u8;
    regs[r + 2] = ((value & 0x0F) << 4) as u8;
}

fn get20(regs: &[u8; 256], reg: u8) -> u32 {
    let r = reg as usize;
    (u32::from(regs[r]) << 12) | (u32::from(regs[r + 1]) << 4) | (u32::from(regs[r + 2]) >> 4)
}

fn put16(regs: &mut [u8; 256], reg: u8, value: u32) {
    let r = reg as usize;
    regs[r] = (value >> 8) as u8;
    regs[r + 1] = value as u8;
}

impl SimChip for Bme280 {
    fn transfer(&mut self, data: &[u8], read: &mut [u8]) {
        self.transfer_at(Instant::now(), data, read);
    }
}

#[cfg(test)]
mod tests {
    use super::super::bench::{self, close, poll_status, TimedChip};
    use super::*;

    fn spec(registers: &[(&str, &str)]) -> SimDeviceSpec {
        bench::spec("bme280", registers)
    }

    impl TimedChip for Bme280 {
        fn new_at(spec: &SimDeviceSpec, now: Instant) -> Result<Self, String> {
            Bme280::new_at(spec, now)
        }
        fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
            Bme280::transfer_at(self, now, data, read)
        }
    }

    type Bench = bench::Bench<Bme280>;

    /// ctrl_meas from osrs_t, osrs_p and mode.
    const fn meas(osrs_t: u8, osrs_p: u8, mode: u8) -> u8 {
        (osrs_t << 5) | (osrs_p << 2) | mode
    }

    /// Forced mode, osrs_t ×2, osrs_p ×16 (ctrl_meas 0x55).
    const FORCED_X2_X16: u8 = meas(0b010, 0b101, 0b01);

    impl Bench {
        fn status(&mut self) -> u8 {
            self.read(STATUS, 1)[0]
        }
        /// Starts a forced measurement and waits until it is done.
        fn forced(&mut self, ctrl_hum: u8, ctrl_meas: u8) {
            self.send(&[CTRL_HUM, ctrl_hum, CTRL_MEAS, ctrl_meas]);
            let mut waited = 0;
            while self.status() & STATUS_MEASURING != 0 {
                self.wait(1);
                waited += 1;
                assert!(waited < 200, "still measuring after 200 ms");
            }
        }
        fn raw(&mut self) -> (u32, u32, u32) {
            let d = self.read(PRESS, 8);
            let p = (u32::from(d[0]) << 12) | (u32::from(d[1]) << 4) | (u32::from(d[2]) >> 4);
            let t = (u32::from(d[3]) << 12) | (u32::from(d[4]) << 4) | (u32::from(d[5]) >> 4);
            let h = (u32::from(d[6]) << 8) | u32::from(d[7]);
            (p, t, h)
        }
        /// Temperature (°C), pressure (hPa) and humidity (%RH), compensated
        /// from the calibration and data read back from the chip.
        fn decode(&mut self) -> (f64, f64, f64) {
            let mut regs = [0u8; 256];
            regs[0x88..0xA2].copy_from_slice(&self.read(0x88, 26));
            regs[0xE1..0xF1].copy_from_slice(&self.read(0xE1, 16));
            let cal = Calibration::from_registers(&regs);
            let (p, t, h) = self.raw();
            let t_fine = cal.t_fine(t as i32);
            (
                f64::from(Calibration::temperature(t_fine)) / 100.0,
                f64::from(cal.pressure(p as i32, t_fine)) / 25_600.0,
                f64::from(cal.humidity(h as i32, t_fine)) / 1024.0,
            )
        }
    }

    #[test]
    fn chip_id_calibration_and_power_on_state() {
        let mut b = Bench::new(&spec(&[]));
        assert_eq!(b.read(CHIP_ID, 1), [0x60]);
        assert_eq!(b.read(0x88, 24), CALIB_TP);
        assert_eq!(b.read(DIG_H1, 1), [75]);
        assert_eq!(b.read(0xE1, 7), CALIB_HUM);
        assert_eq!(b.read(CTRL_HUM, 4), [0, 0, 0, 0], "ctrl_hum, status, ctrl_meas, config");
        assert_eq!(b.raw(), (0x80000, 0x80000, 0x8000), "nothing measured yet");
        b.wait(5000);
        assert_eq!(b.status(), 0, "sleep mode measures nothing");
        assert_eq!(b.raw(), (0x80000, 0x80000, 0x8000));
    }

    #[test]
    fn calibration_decodes_like_the_datasheet() {
        let mut regs = [0u8; 256];
        regs[0x88..0xA0].copy_from_slice(&CALIB_TP);
        regs[0xA1] = DIG_H1_DEFAULT;
        regs[0xE1..0xE8].copy_from_slice(&CALIB_HUM);
        let c = Calibration::from_registers(&regs);
        assert_eq!((c.t1, c.t2, c.t3), (27504, 26435, -1000));
        assert_eq!(
            [c.p1 as i32, c.p2.into(), c.p3.into(), c.p4.into(), c.p5.into()],
            [36477, -10685, 3024, 2855, 140]
        );
        assert_eq!([c.p6, c.p7, c.p8, c.p9], [-7, 15500, -14600, 6000]);
        assert_eq!((c.h1, c.h2, c.h3, c.h4, c.h5, c.h6), (75, 357, 0, 331, 0, 30));
        // The 12-bit packing of H4/H5, with signs (constructed values):
        // H4 = -300 = 0xED4 → E4 = 0xED, E5 low = 0x4; H5 = -50 = 0xFCE → E5 high = 0xE, E6 = 0xFC.
        regs[0xE4..0xE7].copy_from_slice(&[0xED, 0xE4, 0xFC]);
        let c = Calibration::from_registers(&regs);
        assert_eq!((c.h4, c.h5), (-300, -50));
    }

    #[test]
    fn integer_compensation_matches_the_worked_example() {
        let mut regs = [0u8; 256];
        regs[0x88..0xA0].copy_from_slice(&CALIB_TP);
        let c = Calibration::from_registers(&regs);
        let t_fine = c.t_fine(519_888);
        assert_eq!(t_fine, 128_422);
        assert_eq!(Calibration::temperature(t_fine), 2508);
        // 25767233 / 256 = 100653.254 Pa. The datasheet's table says 100653.27 Pa:
        // that is the floating-point formula with t_fine not truncated.
        assert_eq!(c.pressure(415_148, t_fine), 25_767_233);
    }

    /// The real device's dump on the Bosch forum: its owner's reading was
    /// 24.44 °C and 54.17 %RH (the pressure was what they asked about).
    #[test]
    fn humidity_compensation_matches_a_real_device() {
        let calib: [u8; 32] = [
            0x6C, 0x6E, 0x77, 0x66, 0x32, 0x00, 0xA8, 0x92, 0x27, 0xD5, 0xD0, 0x0B, 0x6F, 0x18, 0xCA, 0xFF, 0xF9, 0xFF,
            0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x4B, 0x65, 0x01, 0x00, 0x14, 0x0B, 0x00, 0x1E,
        ];
        let mut regs = [0u8; 256];
        regs[0x88..0xA0].copy_from_slice(&calib[..24]);
        regs[0xA1] = calib[24];
        regs[0xE1..0xE8].copy_from_slice(&calib[25..]);
        let c = Calibration::from_registers(&regs);
        let t_fine = c.t_fine(0x817FB);
        assert_eq!(Calibration::temperature(t_fine), 2444);
        let h = f64::from(c.humidity(0x7913, t_fine)) / 1024.0;
        assert!(close(h, 54.17, 0.01), "{h}");
    }

    #[test]
    fn worked_example_through_register_overrides() {
        let mut b = Bench::new(&spec(&[("0xF7", "65 5A C0 7E ED 00")]));
        assert_eq!(b.raw().0, 415_148);
        assert_eq!(b.raw().1, 519_888);
        b.forced(0x01, FORCED_X2_X16);
        let (p, t, h) = b.raw();
        assert_eq!(
            (p, t),
            (415_148, 519_888),
            "overridden outputs are returned as they are"
        );
        assert_ne!(h, 0x8000, "humidity is measured");
        let (t, p, rh) = b.decode();
        assert_eq!(t, 25.08);
        assert_eq!(p, 25_767_233.0 / 25_600.0);
        assert!(close(p, 1006.5327, 2e-4), "{p}");
        assert!(close(rh, 40.0, 0.01), "{rh}");
    }

    #[test]
    fn forced_mode_measures_once_and_returns_to_sleep() {
        let mut b = Bench::new(&spec(&[]));
        b.send(&[CTRL_HUM, 0x01, CTRL_MEAS, FORCED_X2_X16]);
        assert_eq!(b.status() & STATUS_MEASURING, STATUS_MEASURING);
        assert_eq!(b.read(CTRL_MEAS, 1), [FORCED_X2_X16]);
        // ×2, ×16, ×1: 1.25 + 4.6 + 37.375 + 2.875 = 46.1 ms.
        b.wait(46);
        assert_eq!(b.status(), STATUS_MEASURING, "46 ms: not yet");
        assert_eq!(b.raw(), (0x80000, 0x80000, 0x8000), "no data before the end");
        b.wait(1);
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(CTRL_MEAS, 1), [FORCED_X2_X16 & !0x03], "back to sleep");
        let (t, p, h) = b.decode();
        assert!(close(t, 21.5, 0.005) && close(p, 1013.25, 0.001) && close(h, 40.0, 0.005));
        // The next forced measurement needs a new write.
        b.wait(1000);
        assert_eq!(b.status(), 0);
    }

    #[test]
    fn skipped_measurements_read_0x80000() {
        let mut b = Bench::new(&spec(&[]));
        // ctrl_hum 0 (skipped), osrs_t ×1, osrs_p skipped.
        b.forced(0x00, meas(0b001, 0b000, 0b01));
        let (p, t, h) = b.raw();
        assert_eq!((p, h), (0x80000, 0x8000));
        assert_ne!(t, 0x80000);
        let (t, _, _) = b.decode();
        assert!(close(t, 21.5, 0.01), "{t}");
    }

    #[test]
    fn ctrl_hum_takes_effect_at_the_next_ctrl_meas_write() {
        let mut b = Bench::new(&spec(&[]));
        b.forced(0x00, meas(0b001, 0b001, 0b01));
        assert_eq!(b.raw().2, 0x8000);
        // ctrl_hum alone changes nothing...
        b.send(&[CTRL_HUM, 0x01]);
        assert_eq!(b.read(CTRL_HUM, 1), [0x01]);
        b.send(&[CTRL_MEAS, meas(0b001, 0b001, 0b00)]);
        b.send(&[CTRL_MEAS, meas(0b001, 0b001, 0b01)]);
        b.wait(100);
        // ...until ctrl_meas is written (here: twice).
        assert_ne!(b.raw().2, 0x8000);
    }

    #[test]
    fn writes_are_register_value_pairs() {
        let mut b = Bench::new(&spec(&[]));
        // An ST-style burst (one address, two values) writes 0x10 into
        // ctrl_meas and leaves 0x24 as the next register address: config stays 0.
        b.send(&[CTRL_MEAS, 0x10, 0x24]);
        assert_eq!(b.read(CTRL_MEAS, 2), [0x10, 0x00]);
        b.send(&[CTRL_MEAS, 0x24, CONFIG, 0xA0]);
        assert_eq!(b.read(CTRL_MEAS, 2), [0x24, 0xA0]);
        // Read-only registers ignore writes; 0xE0 reads 0.
        b.send(&[CHIP_ID, 0x00, 0x88, 0x00, RESET, 0x12]);
        assert_eq!(b.read(CHIP_ID, 1), [0x60]);
        assert_eq!(b.read(0x88, 1), [CALIB_TP[0]]);
        assert_eq!(b.read(RESET, 1), [0]);
    }

    #[test]
    fn reads_always_auto_increment_with_8_bit_addresses() {
        let mut b = Bench::new(&spec(&[]));
        let calib = b.read(0x88, 26);
        assert_eq!(calib[..24], CALIB_TP);
        assert_eq!(calib[25], 75);
        // A read without a register address continues from the pointer.
        b.read(CHIP_ID, 1);
        let mut next = [0u8; 1];
        b.chip.transfer_at(b.now, &[], &mut next);
        assert_eq!(next, [0x00], "0xD1");
        // 0xFE wraps to 0x00.
        assert_eq!(b.read(0xFE, 2), [0x00, 0x00]);
    }

    #[test]
    fn soft_reset_restores_power_on_state() {
        let mut b = Bench::new(&spec(&[]));
        b.forced(0x05, 0xB5);
        b.send(&[CONFIG, 0xE0]);
        assert_ne!(b.raw(), (0x80000, 0x80000, 0x8000));
        b.send(&[RESET, 0xB6]);
        assert_eq!(b.status(), STATUS_IM_UPDATE, "copying the NVM");
        b.wait(2);
        assert_eq!(b.status(), 0);
        assert_eq!(b.read(CTRL_HUM, 4), [0, 0, 0, 0]);
        assert_eq!(b.raw(), (0x80000, 0x80000, 0x8000));
        assert_eq!(b.read(CHIP_ID, 1), [0x60]);
    }

    #[test]
    fn normal_mode_measures_continuously() {
        let mut s = spec(&[]);
        s.temperature_c = Some(-12.34);
        let mut b = Bench::new(&s);
        // t_sb 125 ms, then ×1/×1/×1 normal mode: 1.25 + 2.3 + 2.875 × 2 = 9.3 ms per measurement.
        b.send(&[CONFIG, 0x40, CTRL_HUM, 0x01, CTRL_MEAS, meas(0b001, 0b001, 0b11)]);
        assert_eq!(b.status(), STATUS_MEASURING);
        b.wait(10);
        assert_eq!(b.status(), 0, "standing by");
        assert_eq!(b.read(CTRL_MEAS, 1), [meas(0b001, 0b001, 0b11)], "stays in normal mode");
        let (t, _, _) = b.decode();
        assert!(close(t, -12.34, 0.006), "{t}");
        b.wait(125);
        assert_eq!(b.status(), STATUS_MEASURING, "the next cycle");
        b.send(&[CTRL_MEAS, meas(0b001, 0b001, 0b00)]);
        assert_eq!(b.status(), 0, "sleep");
    }

    #[test]
    fn physical_values_round_trip() {
        let humidity_cal = [
            None,
            // Constructed: H2 362, H3 16, H4 330, H5 -50 (negative), H6 30.
            Some("6A 01 10 14 EA FC 1E"),
        ];
        for cal in humidity_cal {
            for (t, p, rh) in [
                (23.0, 1001.5, 55.0),
                (-10.25, 870.123, 3.5),
                (37.7, 1085.0, 97.0),
                (0.0, 300.0, 0.0),
                (84.9, 1100.0, 100.0),
            ] {
                let overrides = cal.map(|c| [("0xE1", c)]);
                let mut s = spec(overrides.as_ref().map_or(&[][..], |o| &o[..]));
                (s.temperature_c, s.pressure_hpa, s.humidity_rh) = (Some(t), Some(p), Some(rh));
                // Resolution: ×1 (16 bits), ×16 (20 bits), and the IIR filter (20 bits).
                for (ctrl_meas, config, t_tol, p_tol) in [
                    (meas(0b001, 0b001, 0b01), 0x00, 0.011, 0.03),
                    (meas(0b101, 0b101, 0b01), 0x00, 0.006, 0.002),
                    (meas(0b001, 0b001, 0b01), 0x10, 0.006, 0.002),
                ] {
                    let mut b = Bench::new(&s);
                    b.send(&[CONFIG, config]);
                    b.forced(0x01, ctrl_meas);
                    let (got_t, got_p, got_h) = b.decode();
                    let what = format!("cal {cal:?}, ctrl_meas {ctrl_meas:#x}, config {config:#x}");
                    assert!(close(got_t, t, t_tol), "{what}: {t} °C came back as {got_t}");
                    assert!(close(got_p, p, p_tol), "{what}: {p} hPa came back as {got_p}");
                    assert!(close(got_h, rh, 0.01), "{what}: {rh} %RH came back as {got_h}");
                }
            }
        }
    }

    #[test]
    fn resolution_follows_oversampling() {
        let mut b = Bench::new(&spec(&[]));
        b.forced(0x01, meas(0b001, 0b001, 0b01));
        let (p, t, _) = b.raw();
        assert_eq!((p & 0x0F, t & 0x0F), (0, 0), "16 bits: the xlsb nibble is 0");
        b.forced(0x01, meas(0b010, 0b011, 0b01));
        let (p, t, _) = b.raw();
        assert_eq!((p & 0x03, t & 0x07), (0, 0), "18 and 17 bits");
    }

    #[test]
    fn out_of_range_values_saturate() {
        let mut s = spec(&[]);
        (s.temperature_c, s.pressure_hpa, s.humidity_rh) = (Some(1e9), Some(-1e9), Some(1e9));
        let mut b = Bench::new(&s);
        b.forced(0x01, FORCED_X2_X16);
        let (_, _, h) = b.decode();
        assert!((0.0..=100.0).contains(&h), "{h}");
    }

    #[test]
    fn config_ctrl_meas_starts_the_chip() {
        let mut b = Bench::new(&spec(&[("0xF2", "01"), ("0xF4", "27")]));
        b.wait(20);
        let (t, p, h) = b.decode();
        assert!(close(t, 21.5, 0.011) && close(p, 1013.25, 0.03) && close(h, 40.0, 0.01));
    }

    #[test]
    fn config_mistakes_are_reported() {
        let mut s = spec(&[]);
        s.temperature_c = Some(f64::NAN);
        assert!(Bme280::new(&s).err().unwrap().contains("temperature_c"));
        assert!(Bme280::new(&spec(&[("0xF7", "zz")])).is_err());
        assert!(Bme280::new(&spec(&[("0x100", "00")])).is_err());
        assert!(Bme280::new(&spec(&[("0xFE", "00 00 00")])).is_err());
    }

    /// The real clock, through the bus trait.
    #[test]
    fn real_time_forced_measurement() {
        let mut chip = Bme280::new(&spec(&[])).unwrap();
        chip.transfer(&[CTRL_HUM, 0x01, CTRL_MEAS, FORCED_X2_X16], &mut []);
        assert_eq!(poll_status(&mut chip, STATUS, |s| s & STATUS_MEASURING == 0), 0);
        let mut data = [0; 8];
        chip.transfer(&[PRESS], &mut data);
        assert_ne!(data[..3], [0x80, 0, 0]);
    }
}
