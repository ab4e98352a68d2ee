//! The datasheet formulas: raw register bytes to °C, %RH and hPa. Pure code,
//! unit-tested natively against the worked examples of devices.md.

/// Number of HTS221 calibration registers, 0x30..=0x3F.
pub const HTS221_CALIBRATION_LEN: usize = 16;

/// The HTS221's factory calibration: two points of each linear transfer
/// function (physical value, raw output).
#[derive(Debug, Clone, PartialEq)]
pub struct Hts221Calibration {
    pub h0_rh: f64,
    pub h1_rh: f64,
    pub h0_t0_out: i16,
    pub h1_t0_out: i16,
    pub t0_degc: f64,
    pub t1_degc: f64,
    pub t0_out: i16,
    pub t1_out: i16,
}

fn i16_le(b: &[u8], i: usize) -> i16 {
    i16::from_le_bytes([b[i], b[i + 1]])
}

impl Hts221Calibration {
    /// Parses registers 0x30..=0x3F (`regs[0]` is 0x30). All OUT values are
    /// signed; only bits 3:0 of 0x35 carry the temperature msbs (7:4 are
    /// reserved and may be set).
    pub fn parse(regs: &[u8]) -> Result<Self, String> {
        if regs.len() != HTS221_CALIBRATION_LEN {
            return Err(format!(
                "HTS221 calibration: expected {HTS221_CALIBRATION_LEN} bytes from register 0x30, got {}",
                regs.len()
            ));
        }
        let msb = u16::from(regs[0x5] & 0x0F);
        Ok(Hts221Calibration {
            h0_rh: f64::from(regs[0x0]) / 2.0,
            h1_rh: f64::from(regs[0x1]) / 2.0,
            t0_degc: f64::from(((msb & 0x03) << 8) | u16::from(regs[0x2])) / 8.0,
            t1_degc: f64::from(((msb & 0x0C) << 6) | u16::from(regs[0x3])) / 8.0,
            h0_t0_out: i16_le(regs, 0x6),
            h1_t0_out: i16_le(regs, 0xA),
            t0_out: i16_le(regs, 0xC),
            t1_out: i16_le(regs, 0xE),
        })
    }

    /// °C from T_OUT: `T0 + (T_OUT − T0_OUT)(T1 − T0)/(T1_OUT − T0_OUT)`.
    pub fn temperature_c(&self, t_out: i16) -> Result<f64, String> {
        if self.t1_out == self.t0_out {
            return Err(format!(
                "HTS221 calibration is unusable: T0_OUT and T1_OUT are both {} (registers 0x3C..0x3F)",
                self.t0_out
            ));
        }
        Ok(interpolate(
            t_out,
            (self.t0_degc, self.t0_out),
            (self.t1_degc, self.t1_out),
        ))
    }

    /// %RH from H_OUT: `H0 + (H_OUT − H0_T0_OUT)(H1 − H0)/(H1_T0_OUT − H0_T0_OUT)`.
    /// Not clamped to 0..100, like the official library.
    pub fn humidity_rh(&self, h_out: i16) -> Result<f64, String> {
        if self.h1_t0_out == self.h0_t0_out {
            return Err(format!(
                "HTS221 calibration is unusable: H0_T0_OUT and H1_T0_OUT are both {} (registers 0x36, 0x3A)",
                self.h0_t0_out
            ));
        }
        Ok(interpolate(
            h_out,
            (self.h0_rh, self.h0_t0_out),
            (self.h1_rh, self.h1_t0_out),
        ))
    }
}

fn interpolate(raw: i16, (v0, x0): (f64, i16), (v1, x1): (f64, i16)) -> f64 {
    v0 + (f64::from(raw) - f64::from(x0)) * (v1 - v0) / (f64::from(x1) - f64::from(x0))
}

/// The HTS221 outputs H_OUT and T_OUT from the 4 bytes at 0x28..=0x2B.
pub fn hts221_outputs(bytes: &[u8]) -> Result<(i16, i16), String> {
    if bytes.len() != 4 {
        return Err(format!(
            "HTS221 outputs: expected 4 bytes from register 0x28, got {}",
            bytes.len()
        ));
    }
    Ok((i16_le(bytes, 0), i16_le(bytes, 2)))
}

/// LPS25H raw outputs from the 5 bytes at 0x28..=0x2C: PRESS_OUT (24 bits)
/// and TEMP_OUT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lps25hOutputs {
    pub press_out: u32,
    pub temp_out: i16,
}

/// PRESS_OUT and TEMP_OUT of a chip that was never started (760 hPa, 42.5 °C).
pub const LPS25H_POWER_ON_OUTPUTS: Lps25hOutputs = Lps25hOutputs {
    press_out: 0x2F_8000,
    temp_out: 0,
};

impl Lps25hOutputs {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != 5 {
            return Err(format!(
                "LPS25H outputs: expected 5 bytes from register 0x28, got {}",
                bytes.len()
            ));
        }
        Ok(Lps25hOutputs {
            press_out: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]),
            temp_out: i16_le(bytes, 3),
        })
    }

    /// hPa (= millibar): `(H<<16 | L<<8 | XL) / 4096`.
    pub fn pressure_hpa(&self) -> f64 {
        f64::from(self.press_out) / 4096.0
    }

    /// °C: `42.5 + TEMP_OUT / 480`.
    pub fn temperature_c(&self) -> f64 {
        42.5 + f64::from(self.temp_out) / 480.0
    }
}

/// The I2C bus from the item's arg: none (or empty) is bus 1, else `bus=N`.
pub fn parse_bus(arg: Option<&str>) -> Result<u8, String> {
    let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(DEFAULT_BUS);
    };
    arg.strip_prefix("bus=")
        .and_then(|n| n.trim().parse::<u8>().ok())
        .ok_or_else(|| {
            format!(
                "arg {arg:?} not understood: leave it empty for I2C bus {DEFAULT_BUS} (the Sense HAT on a Raspberry Pi) \
                 or give \"bus=N\" with N in 0..=255, e.g. \"bus=1\""
            )
        })
}

/// The Sense HAT's bus on a Raspberry Pi (`/dev/i2c-1`).
pub const DEFAULT_BUS: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn worked_example_a() {
        let cal = Hts221Calibration::parse(&hex("28 50 50 A0 00 00 A0 0F 00 00 70 17 2C 01 F4 01")).unwrap();
        let (h_out, t_out) = hts221_outputs(&hex("88 13 90 01")).unwrap();
        assert_eq!((h_out, t_out), (5000, 400));
        assert!(close(cal.temperature_c(t_out).unwrap(), 15.0));
        assert!(close(cal.humidity_rh(h_out).unwrap(), 30.0));
    }

    #[test]
    fn worked_example_b_signed_values_and_reserved_bits() {
        for r35 in ["04", "F4"] {
            let regs = hex(&format!("35 84 9A 2C 00 {r35} 09 00 00 00 D4 D6 FB FF B1 02"));
            let cal = Hts221Calibration::parse(&regs).unwrap();
            assert_eq!((cal.t0_degc, cal.t1_degc), (19.25, 37.5), "r35={r35}");
            assert_eq!((cal.h1_t0_out, cal.t0_out), (-10540, -5));
            let (h_out, t_out) = hts221_outputs(&hex("78 EC FA 00")).unwrap();
            assert_eq!((h_out, t_out), (-5000, 250));
            let t = cal.temperature_c(t_out).unwrap();
            let h = cal.humidity_rh(h_out).unwrap();
            assert!(close(t, 25.955692), "r35={r35}: T {t}");
            assert!(close(h, 45.255854), "r35={r35}: RH {h}");
        }
    }

    #[test]
    fn worked_example_c() {
        let out = Lps25hOutputs::parse(&hex("00 54 3F 50 DA")).unwrap();
        assert!(close(out.pressure_hpa(), 1013.25));
        assert!(close(out.temperature_c(), 22.4));
        assert_ne!(out, LPS25H_POWER_ON_OUTPUTS);
    }

    #[test]
    fn lps25h_power_on_values() {
        let out = Lps25hOutputs::parse(&hex("00 80 2F 00 00")).unwrap();
        assert_eq!(out, LPS25H_POWER_ON_OUTPUTS);
        assert_eq!((out.pressure_hpa(), out.temperature_c()), (760.0, 42.5));
    }

    #[test]
    fn degenerate_calibration_is_an_error_not_a_nan() {
        let cal = Hts221Calibration::parse(&[0; 16]).unwrap();
        assert!(cal.temperature_c(10).unwrap_err().contains("T0_OUT"));
        assert!(cal.humidity_rh(10).unwrap_err().contains("H0_T0_OUT"));
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(Hts221Calibration::parse(&[0; 15]).is_err());
        assert!(hts221_outputs(&[0; 3]).is_err());
        assert!(Lps25hOutputs::parse(&[0; 4]).is_err());
    }

    #[test]
    fn bus_argument() {
        assert_eq!(parse_bus(None), Ok(1));
        assert_eq!(parse_bus(Some("")), Ok(1));
        assert_eq!(parse_bus(Some(" bus=3 ")), Ok(3));
        assert_eq!(parse_bus(Some("bus=0")), Ok(0));
        for bad in ["3", "bus=", "bus=256", "bus=-1", "address=0x5f"] {
            let e = parse_bus(Some(bad)).unwrap_err();
            assert!(e.contains("bus=N"), "{bad}: {e}");
        }
    }
}
