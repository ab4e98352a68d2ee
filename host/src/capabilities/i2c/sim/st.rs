//! What the two ST sensors of the Sense HAT (HTS221, LPS25H) share: the
//! register protocol, CTRL_REG1/CTRL_REG2/STATUS, and the timing of two
//! outputs that convert continuously at a rate or once on ONE_SHOT.
//!
//! Both chips:
//! - take the first byte of a transaction as the register address; with bit 7
//!   set the pointer advances after every byte (reads and writes), without it
//!   every byte is the same register; a read without an address byte reads
//!   from the address of the last transaction;
//! - power up with CTRL_REG1 (0x20) bit 7; the rest of CTRL_REG1 picks a rate
//!   (a conversion period), one-shot mode or nothing;
//! - set STATUS (0x27) bit 1 (output 0) and bit 0 (output 1) one period after
//!   power-on, a rate change or the last read of that output's high byte
//!   (which clears the bit); STATUS is 0 while powered down;
//! - in one-shot mode start a conversion when CTRL_REG2 (0x21) bit 0 is
//!   written, and clear the bit when it is done;
//! - clear CTRL_REG2 BOOT (bit 7) by themselves, after reloading the
//!   registers the chip's BOOT covers from their power-on values.
//!
//! Each chip describes the rest in an [`StModel`]: its rates, where its outputs
//! are and how a physical value becomes their raw value, which other registers
//! the host may write, and what its BOOT and SWRESET do.

use std::ops::Range;
use std::time::{Duration, Instant};

pub const CTRL_REG1: u8 = 0x20;
pub const CTRL_REG2: u8 = 0x21;
pub const STATUS: u8 = 0x27;

pub const CTRL1_PD: u8 = 0x80;
pub const CTRL2_BOOT: u8 = 0x80;
pub const CTRL2_ONE_SHOT: u8 = 0x01;

/// How long a one-shot conversion takes (both chips at their default
/// averaging: a few tens of ms).
const ONE_SHOT_TIME: Duration = Duration::from_millis(40);

/// A chip's 128 registers with the common auto-increment rule of ST sensors:
/// a multi-byte access advances the register pointer only when bit 7 of the
/// register address is set; the address itself is `reg & 0x7F`.
#[derive(Clone)]
pub struct StRegisters {
    pub regs: [u8; 128],
}

impl StRegisters {
    pub fn new() -> Self {
        StRegisters { regs: [0; 128] }
    }

    /// The registers a transaction touches, in order: `len` of them starting
    /// at `addr_byte & 0x7F`, all the same one when bit 7 is clear.
    pub fn sequence(addr_byte: u8, len: usize) -> impl Iterator<Item = u8> {
        let start = addr_byte & 0x7F;
        let step = u8::from(addr_byte & 0x80 != 0);
        (0..len).map(move |i| start.wrapping_add(step.wrapping_mul(i as u8)) & 0x7F)
    }

    pub fn apply_overrides(&mut self, overrides: &[(u8, Vec<u8>)]) {
        for (reg, bytes) in overrides {
            for (i, b) in bytes.iter().enumerate() {
                self.regs[(*reg as usize + i) & 0x7F] = *b;
            }
        }
    }

    /// The little-endian i16 in registers `reg` and `reg + 1`.
    pub fn i16_at(&self, reg: u8) -> f64 {
        f64::from(i16::from_le_bytes([
            self.regs[reg as usize],
            self.regs[reg as usize + 1],
        ]))
    }
}

impl Default for StRegisters {
    fn default() -> Self {
        Self::new()
    }
}

/// What CTRL_REG1 asks of a chip.
pub enum Mode {
    /// Powered down, or powered with a rate that converts nothing.
    Idle,
    /// Powered, converting when CTRL_REG2 ONE_SHOT is written.
    OneShot,
    /// Powered, converting once every period.
    Continuous(Duration),
}

/// What one ST chip adds to the shared machinery.
pub struct StModel {
    /// The CTRL_REG1 bits that choose the rate: a change restarts conversions.
    pub rate_bits: u8,
    /// The mode of a powered chip (CTRL_REG1 bit 7 set) from CTRL_REG1.
    pub powered_mode: fn(u8) -> Mode,
    /// Each output's registers, (first, count), little-endian. Output 0 is
    /// STATUS bit 1, output 1 is bit 0.
    pub outputs: [(u8, usize); 2],
    /// The raw value of output `i` for the physical value `v`, given the
    /// registers (calibration); its low `count` bytes go to the output.
    pub raw: fn(&StRegisters, usize, f64) -> i32,
    /// Registers other than CTRL_REG1 and CTRL_REG2 the host may write.
    pub writable: fn(u8) -> bool,
    /// The registers CTRL_REG2 BOOT reloads from their power-on values.
    pub boot: Range<usize>,
    /// The CTRL_REG2 bit that returns the chip to its power-on state (0: none).
    pub swreset: u8,
}

/// An ST chip: registers, two outputs and their conversion timing.
pub struct StCore {
    model: &'static StModel,
    pub regs: StRegisters,
    /// The registers right after power-on, for BOOT and SWRESET.
    initial: StRegisters,
    /// What each output measures, in its physical unit.
    values: [f64; 2],
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

impl StCore {
    /// The chip at power-on with registers `regs` (defaults and the config's
    /// `overrides` applied): STATUS and the self-clearing CTRL_REG2 bits are
    /// cleared, outputs the overrides cover stay as they are, and a config
    /// that sets CTRL_REG1 starts with the chip powered.
    pub fn new(
        model: &'static StModel,
        mut regs: StRegisters,
        overrides: &[(u8, Vec<u8>)],
        values: [f64; 2],
        now: Instant,
    ) -> Self {
        regs.regs[STATUS as usize] = 0;
        regs.regs[CTRL_REG2 as usize] &= !(CTRL2_BOOT | model.swreset | CTRL2_ONE_SHOT);
        // Whether an override covers any of the `count` registers from `first`.
        let touched = |(first, count): (u8, usize)| {
            overrides.iter().any(|(r, b)| {
                let start = usize::from(r & 0x7F);
                start < usize::from(first) + count && start + b.len() > usize::from(first)
            })
        };
        let mut core = StCore {
            model,
            initial: regs.clone(),
            regs,
            values,
            fixed: model.outputs.map(touched),
            since: [None; 2],
            ready: [false; 2],
            one_shot: None,
            pointer: 0,
        };
        core.power_on_state(now);
        core
    }

    /// Timing right after power-on (or SWRESET).
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
        (self.model.powered_mode)(ctrl1)
    }

    /// Completes the conversions due by `now`.
    fn advance(&mut self, now: Instant) {
        match self.mode() {
            Mode::Idle => {}
            Mode::Continuous(period) => {
                for i in [0, 1] {
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
                    for i in [0, 1] {
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
        let raw = (self.model.raw)(&self.regs, i, self.values[i]);
        let (first, count) = self.model.outputs[i];
        let first = first as usize;
        self.regs.regs[first..first + count].copy_from_slice(&raw.to_le_bytes()[..count]);
    }

    fn status(&self) -> u8 {
        if self.regs.regs[CTRL_REG1 as usize] & CTRL1_PD == 0 {
            return 0;
        }
        (u8::from(self.ready[0]) << 1) | u8::from(self.ready[1])
    }

    fn read_byte(&mut self, reg: u8, now: Instant) -> u8 {
        let value = if reg == STATUS {
            self.status()
        } else {
            self.regs.regs[reg as usize]
        };
        // Reading an output's high byte hands the value over: the next one
        // is a conversion period away.
        let output = (0..2).find(|&i| {
            let (first, count) = self.model.outputs[i];
            usize::from(reg) == usize::from(first) + count - 1
        });
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
                } else if (old ^ value) & self.model.rate_bits != 0 {
                    // A new rate: conversions restart, data already there stays.
                    self.since = [Some(now); 2];
                }
            }
            CTRL_REG2 => {
                if value & self.model.swreset != 0 {
                    self.regs = self.initial.clone();
                    self.power_on_state(now);
                    return;
                }
                let mut value = value;
                if value & CTRL2_BOOT != 0 {
                    let boot = self.model.boot.clone();
                    self.regs.regs[boot.clone()].copy_from_slice(&self.initial.regs[boot]);
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
            r if (self.model.writable)(r) => self.regs.regs[r as usize] = value,
            // Read-only: WHO_AM_I, STATUS, outputs, calibration, ...
            _ => {}
        }
    }

    /// One transaction at time `now` (tests pass their own clock).
    pub fn transfer_at(&mut self, now: Instant, data: &[u8], read: &mut [u8]) {
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
