//! LPS25H pressure and temperature sensor (the Sense HAT's, address 0x5C).
//!
//! What is emulated, from the datasheet and the drivers that talk to the chip:
//! - the ST register protocol: the first byte of a transaction is the register
//!   address; with bit 7 set the pointer advances after every byte (reads and
//!   writes), without it every byte is the same register;
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

use super::{SimChip, SimDeviceSpec, StRegisters};
use std::time::{Duration, Instant};

const WHO_AM_I: u8 = 0x0F;
const RES_CONF: u8 = 0x10;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG2: u8 = 0x21;
const STATUS: u8 = 0x27;
/// PRESS_OUT_XL, _L, _H (0x28..=0x2A).
const PRESS_OUT: u8 = 0x28;
/// TEMP_OUT_L, _H (0x2B, 0x2C).
const TEMP_OUT: u8 = 0x2B;

const ID: u8 = 0xBD;
const RES_CONF_DEFAULT: u8 = 0x05;
/// PRESS_OUT after reset: 0x2F8000 / 4096 = 760 hPa.
const PRESS_OUT_DEFAULT: [u8; 3] = [0x00, 0x80, 0x2F];

/// Registers the host may write: REF_P, RES_CONF, CTRL_REG1..4,
/// INTERRUPT_CFG, FIFO_CTRL, THS_P, RPDS.
fn writable(reg: u8) -> bool {
    matches!(reg, 0x08..=0x0A | 0x10 | 0x20..=0x24 | 0x2E | 0x30 | 0x31 | 0x39 | 0x3A)
}

const CTRL1_PD: u8 = 0x80;
const CTRL1_ODR: u8 = 0x70;
const CTRL2_BOOT: u8 = 0x80;
const CTRL2_SWRESET: u8 = 0x04;
const CTRL2_ONE_SHOT: u8 = 0x01;

const DEFAULT_PRESSURE_HPA: f64 = 1013.25;
const DEFAULT_TEMPERATURE_C: f64 = 21.5;

/// How long a one-shot conversion takes at RES_CONF 0x05 (a few tens of ms).
const ONE_SHOT_TIME: Duration = Duration::from_millis(40);

/// Index of each output in [`Lps25h::ready`] and friends.
const PRESS: usize = 0;
const TEMP: usize = 1;

pub struct Lps25h {
    regs: StRegisters,
    /// The registers right after power-on, for SWRESET.
    initial: StRegisters,
    pressure_hpa: f64,
    temperature_c: f64,
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
    /// Powered down, or powered with a reserved rate.
    Idle,
    OneShot,
    Continuous(Duration),
}

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
        regs.regs[STATUS as usize] = 0;
        regs.regs[CTRL_REG2 as usize] &= !(CTRL2_BOOT | CTRL2_SWRESET | CTRL2_ONE_SHOT);
        // Whether an override covers any of the registers lo..=hi.
        let touched = |lo: u8, hi: u8| {
            overrides.iter().any(|(r, b)| {
                let start = usize::from(r & 0x7F);
                start <= usize::from(hi) && start + b.len() > usize::from(lo)
            })
        };
        let fixed = [touched(PRESS_OUT, PRESS_OUT + 2), touched(TEMP_OUT, TEMP_OUT + 1)];
        let mut chip = Lps25h {
            initial: regs.clone(),
            regs,
            pressure_hpa,
            temperature_c,
            fixed,
            since: [None; 2],
            ready: [false; 2],
            one_shot: None,
            pointer: 0,
        };
        chip.power_on_state(now);
        Ok(chip)
    }

    /// Timing right after power-on (or SWRESET): a config that sets CTRL_REG1
    /// starts with the chip powered.
    fn power_on_state(&mut self, now: Instant) {
        let powered = self.regs.regs[CTRL_REG1 as usize] & CTRL1_PD != 0;
        self.since = [powered.then_some(now); 2];
        self.ready = [false; 2];
        self.one_shot = None;
    }

    fn mode(&self) -> Mode {
        let ctrl1 = self.regs.regs[CTRL_REG1 as usize];
        if ctrl1 & CTRL1_PD == 0 {
            return Mode::Idle;
        }
        let period_ms = match (ctrl1 & CTRL1_ODR) >> 4 {
            0 => return Mode::OneShot,
            1 => 1000.0,
            2 => 1000.0 / 7.0,
            3 => 80.0,
            4 => 40.0,
            _ => return Mode::Idle,
        };
        Mode::Continuous(Duration::from_micros((period_ms * 1000.0) as u64))
    }

    /// Completes the conversions due by `now`.
    fn advance(&mut self, now: Instant) {
        match self.mode() {
            Mode::Idle => {}
            Mode::Continuous(period) => {
                for i in [PRESS, TEMP] {
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
                    for i in [PRESS, TEMP] {
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
        if i == PRESS {
            let raw = (self.pressure_hpa * 4096.0).round().clamp(0.0, f64::from(0xFF_FFFF)) as u32;
            let p = PRESS_OUT as usize;
            self.regs.regs[p..p + 3].copy_from_slice(&raw.to_le_bytes()[..3]);
        } else {
            let raw = ((self.temperature_c - 42.5) * 480.0)
                .round()
                .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
            let t = TEMP_OUT as usize;
            self.regs.regs[t..t + 2].copy_from_slice(&raw.to_le_bytes());
        }
    }

    fn status(&self) -> u8 {
        if self.regs.regs[CTRL_REG1 as usize] & CTRL1_PD == 0 {
            return 0;
        }
        (u8::from(self.ready[PRESS]) << 1) | u8::from(self.ready[TEMP])
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
            r if r == PRESS_OUT + 2 => Some(PRESS),
            r if r == TEMP_OUT + 1 => Some(TEMP),
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
            CTRL_REG1 => {
                let old = self.regs.regs[CTRL_REG1 as usize];
                self.regs.regs[CTRL_REG1 as usize] = value;
                if value & CTRL1_PD == 0 {
                    self.since = [None; 2];
                    self.ready = [false; 2];
                    self.one_shot = None;
                } else if old & CTRL1_PD == 0 {
                    self.since = [Some(now); 2];
                    self.ready = [false; 2];
                } else if (old ^ value) & CTRL1_ODR != 0 {
                    // A new rate: conversions restart, data already there stays.
                    self.since = [Some(now); 2];
                }
            }
            CTRL_REG2 => {
                if value & CTRL2_SWRESET != 0 {
                    self.regs = self.initial.clone();
                    self.power_on_state(now);
                    return;
                }
                let mut value = value & !CTRL2_BOOT;
                if value & CTRL2_ONE_SHOT != 0 {
                    if matches!(self.mode(), Mode::OneShot) {
                        self.one_shot.get_or_insert(now);
                    } else {
                        value &= !CTRL2_ONE_SHOT;
                    }
                }
                self.regs.regs[CTRL_REG2 as usize] = value;
            }
            r if writable(r) => self.regs.regs[r as usize] = value,
            // Read-only: WHO_AM_I, STATUS, outputs, ...
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
