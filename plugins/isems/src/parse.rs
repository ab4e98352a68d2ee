//! Pure parsing of ISEMS node log lines (no bindings, unit-tested natively).
//!
//! A line is `;`-separated, 18 fields (old firmware) or 19 (with `status`):
//! nodeId; isemsRevision; timestamp; openMPPTFirmwareVersion; timeToShutdown;
//! isPowerSaveMode; openCircuitVoltage; mppVoltage; batteryVoltage;
//! batteryChargeEstimate; batteryHealthEstimate; batteryTemperature;
//! lowVoltageDisconnectVoltage; temperatureCorrectedVoltage; rateBatteryCapacity;
//! ratedSolarModuleCapacity; latitude; longitude[; status (3 hex digits)].

/// 2001-01-01T00:00:00Z. ESP nodes send 0 or times near 1970 before their
/// clock is synchronised; anything earlier than this is such a placeholder.
pub const MIN_TIMESTAMP_S: i64 = 978_307_200;

/// The value of one field, mirroring the WIT `field-value` cases we use.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Float(f64),
    Int(i64),
    Bool(bool),
    Text(String),
}

/// One good log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Field 1, trimmed; may contain spaces.
    pub node_id: String,
    /// Field 3: the node's own time, unix seconds (UTC).
    pub timestamp_s: i64,
    /// In output order: `batteryVoltage` (the primary value) first.
    pub fields: Vec<(&'static str, Value)>,
}

impl Reading {
    /// The node's timestamp in nanoseconds (checked when parsing, cannot overflow).
    pub fn timestamp_ns(&self) -> i64 {
        self.timestamp_s * 1_000_000_000
    }

    #[cfg(test)]
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// The status flags of field 19, highest bit first, with their field names.
pub const STATUS_FLAGS: [(u16, &str); 11] = [
    (0x800, "charging"),
    (0x400, "discharging"),
    (0x200, "fullyCharged"),
    (0x100, "healthy"),
    (0x080, "batteryLevelLow"),
    (0x040, "energyStorageTooSmall"),
    (0x020, "temperatureSensorNotConnected"),
    (0x010, "noCommunicationWithSolarController"),
    (0x008, "batteryOverheating"),
    (0x004, "lowBatteryTemperature"),
    (0x002, "firmwareUpgradeNotAllowed"),
];

/// How a line's field is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A finite decimal number.
    Float,
    /// A whole number.
    Int,
    /// Any text (trimmed, as every field is).
    Text,
}

impl Kind {
    /// Reads one field's text; `None` when it is not of this kind.
    pub fn parse(self, text: &str) -> Option<Value> {
        match self {
            Kind::Float => text.parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::Float),
            Kind::Int => text.parse::<i64>().ok().map(Value::Int),
            Kind::Text => Some(Value::Text(text.to_string())),
        }
    }

    /// What a field of this kind must be, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Float => "a number",
            Kind::Int => "an integer",
            Kind::Text => "text",
        }
    }
}

/// The fields of a line other than nodeId (a tag), timestamp (the point's
/// time) and status (see [`status_fields`]), in the order points carry them,
/// `batteryVoltage` (the primary value) first: (0-based position in the line,
/// name, kind). `isems.json` reads the same names and kinds.
pub const FIELDS: [(usize, &str, Kind); 16] = [
    (8, "batteryVoltage", Kind::Float),
    (1, "isemsRevision", Kind::Int),
    (3, "openMPPTFirmwareVersion", Kind::Text),
    (4, "timeToShutdown", Kind::Int),
    (5, "isPowerSaveMode", Kind::Int),
    (6, "openCircuitVoltage", Kind::Float),
    (7, "mppVoltage", Kind::Float),
    (9, "batteryChargeEstimate", Kind::Float),
    (10, "batteryHealthEstimate", Kind::Float),
    (11, "batteryTemperature", Kind::Float),
    (12, "lowVoltageDisconnectVoltage", Kind::Float),
    (13, "temperatureCorrectedVoltage", Kind::Float),
    (14, "rateBatteryCapacity", Kind::Float),
    (15, "ratedSolarModuleCapacity", Kind::Float),
    (16, "latitude", Kind::Float),
    (17, "longitude", Kind::Float),
];

/// The fields a status (field 19) adds: `status` as a number, then one bool per flag.
pub fn status_fields(status: u16) -> impl Iterator<Item = (&'static str, Value)> {
    std::iter::once(("status", Value::Int(status.into()))).chain(
        STATUS_FLAGS
            .iter()
            .map(move |(bit, name)| (*name, Value::Bool(status & bit != 0))),
    )
}

/// Parses one log line (without its line ending; a stray `\r` is tolerated).
/// The error says what is wrong, quoting at most a few characters of the line.
pub fn parse_line(line: &str) -> Result<Reading, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err("blank line".into());
    }
    if trimmed.starts_with('<') {
        return Err(format!("HTML, not a log line: {}", quote(trimmed)));
    }
    let mut parts: Vec<&str> = line.split(';').map(str::trim).collect();
    // `...;longitude;` is an 18-field line with a trailing separator.
    if parts.len() == 19 && parts[18].is_empty() {
        parts.pop();
    }
    if parts.len() != 18 && parts.len() != 19 {
        return Err(format!(
            "{} fields, expected 18 or 19 separated by ';': {}",
            parts.len(),
            quote(trimmed)
        ));
    }
    let node_id = parts[0];
    if node_id.is_empty() {
        return Err("empty nodeId (field 1)".into());
    }
    let timestamp_s: i64 = parts[2]
        .parse()
        .map_err(|_| format!("timestamp (field 3) is not whole unix seconds: {}", quote(parts[2])))?;
    if timestamp_s < MIN_TIMESTAMP_S {
        return Err(format!(
            "timestamp {timestamp_s} (field 3) is before 2001: the node's clock is not set yet"
        ));
    }
    if timestamp_s.checked_mul(1_000_000_000).is_none() {
        return Err(format!("timestamp {timestamp_s} (field 3) is out of range"));
    }

    let mut fields = Vec::with_capacity(FIELDS.len() + 1 + STATUS_FLAGS.len());
    for &(i, name, kind) in &FIELDS {
        let value = kind.parse(parts[i]).ok_or_else(|| {
            format!(
                "{name} (field {}) is not {}: {}",
                i + 1,
                kind.expected(),
                quote(parts[i])
            )
        })?;
        fields.push((name, value));
    }
    if let Some(status) = parts.get(18) {
        fields.extend(status_fields(parse_status(status)?));
    }
    Ok(Reading {
        node_id: node_id.to_string(),
        timestamp_s,
        fields,
    })
}

/// Field 19: up to three hex digits without `0x` (`"300"` → 0x300 = 768);
/// a `0x` prefix, as the old collector's API shows it, is accepted too.
pub fn parse_status(text: &str) -> Result<u16, String> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let ok = (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit());
    match ok.then(|| u16::from_str_radix(digits, 16)) {
        Some(Ok(v)) => Ok(v),
        _ => Err(format!("status (field 19) is not three hex digits: {}", quote(text))),
    }
}

/// A line that was not turned into a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// 1-based line number in the text that was parsed.
    pub line: usize,
    pub reason: String,
}

/// The outcome of parsing a whole log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogParse {
    /// Good lines, in log order (oldest first).
    pub readings: Vec<Reading>,
    /// Bad lines inside the window, in log order.
    pub skipped: Vec<Skip>,
    /// Lines in the text.
    pub lines: usize,
    /// Lines older than the newest `max_lines`, not parsed at all.
    pub truncated: usize,
}

/// Parses the newest `max_lines` lines of `text` (LF or CRLF endings).
pub fn parse_log(text: &str, max_lines: usize) -> LogParse {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(max_lines);
    let mut out = LogParse {
        lines: all.len(),
        truncated: start,
        ..LogParse::default()
    };
    for (i, line) in all.iter().enumerate().skip(start) {
        match parse_line(line) {
            Ok(reading) => out.readings.push(reading),
            Err(reason) => out.skipped.push(Skip { line: i + 1, reason }),
        }
    }
    out
}

/// Quotes device text for a message, cut short so garbage cannot flood the log.
pub fn quote(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "Elektra-Dach;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635";
    const NEW: &str = "Elektra-Dach-Neu;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635;300";

    fn f(r: &Reading, name: &str) -> Value {
        r.field(name)
            .unwrap_or_else(|| panic!("no field {name} in {r:?}"))
            .clone()
    }

    #[test]
    fn old_example_line_18_fields() {
        let r = parse_line(OLD).unwrap();
        assert_eq!(r.node_id, "Elektra-Dach");
        assert_eq!(r.timestamp_s, 1530364575);
        assert_eq!(r.timestamp_ns(), 1_530_364_575_000_000_000);
        assert_eq!(r.fields[0], ("batteryVoltage", Value::Float(14.073)));
        let expected = [
            ("batteryVoltage", Value::Float(14.073)),
            ("isemsRevision", Value::Int(1)),
            ("openMPPTFirmwareVersion", Value::Text("ATmega8_A_1".into())),
            ("timeToShutdown", Value::Int(711)),
            ("isPowerSaveMode", Value::Int(0)),
            ("openCircuitVoltage", Value::Float(18.614)),
            ("mppVoltage", Value::Float(18.614)),
            ("batteryChargeEstimate", Value::Float(100.0)),
            ("batteryHealthEstimate", Value::Float(100.0)),
            ("batteryTemperature", Value::Float(28.0)),
            ("lowVoltageDisconnectVoltage", Value::Float(11.67)),
            ("temperatureCorrectedVoltage", Value::Float(14.086)),
            ("rateBatteryCapacity", Value::Float(7.0)),
            ("ratedSolarModuleCapacity", Value::Float(20.0)),
            ("latitude", Value::Float(52.507309)),
            ("longitude", Value::Float(13.458635)),
        ];
        assert_eq!(r.fields, expected);
        assert!(r.field("status").is_none());
        assert!(r.field("healthy").is_none());
    }

    #[test]
    fn new_example_line_19_fields_with_status() {
        let r = parse_line(NEW).unwrap();
        assert_eq!(r.node_id, "Elektra-Dach-Neu");
        assert_eq!(r.fields.len(), 16 + 1 + 11);
        assert_eq!(f(&r, "batteryVoltage"), Value::Float(14.073));
        assert_eq!(f(&r, "status"), Value::Int(768));
        for (_, name) in STATUS_FLAGS {
            let want = name == "fullyCharged" || name == "healthy";
            assert_eq!(f(&r, name), Value::Bool(want), "{name}");
        }
        // The first 16 fields are exactly those of the 18-field line.
        assert_eq!(r.fields[..16], parse_line(OLD).unwrap().fields[..]);
        // Field names are unique (the host rejects repeats).
        let mut names: Vec<&str> = r.fields.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), r.fields.len());
    }

    #[test]
    fn status_decoding() {
        assert_eq!(parse_status("300"), Ok(0x300));
        assert_eq!(parse_status("0x300"), Ok(0x300));
        assert_eq!(parse_status("a04"), Ok(0xA04));
        assert_eq!(parse_status("FFF"), Ok(0xFFF));
        assert_eq!(parse_status("0"), Ok(0));
        for bad in ["", "1000", "xyz", "-1", "+30", "0x", " 30"] {
            assert!(parse_status(bad).is_err(), "{bad:?} accepted");
        }
        // Every bit maps to its own flag; 0x001 is unused.
        let line = NEW.replace(";300", ";ffe");
        let r = parse_line(&line).unwrap();
        assert!(STATUS_FLAGS.iter().all(|(_, n)| f(&r, n) == Value::Bool(true)));
        let r = parse_line(&NEW.replace(";300", ";801")).unwrap();
        assert_eq!(f(&r, "status"), Value::Int(0x801));
        assert_eq!(f(&r, "charging"), Value::Bool(true));
        let set: Vec<_> = STATUS_FLAGS
            .iter()
            .filter(|(_, n)| f(&r, n) == Value::Bool(true))
            .collect();
        assert_eq!(set.len(), 1, "{set:?}");
        let r = parse_line(&NEW.replace(";300", ";048")).unwrap();
        assert_eq!(f(&r, "energyStorageTooSmall"), Value::Bool(true));
        assert_eq!(f(&r, "batteryOverheating"), Value::Bool(true));
        assert_eq!(f(&r, "batteryLevelLow"), Value::Bool(false));
    }

    #[test]
    fn node_id_with_spaces_and_crlf() {
        let line = NEW.replace("Elektra-Dach-Neu", "Haus 7 Dach Ost");
        let r = parse_line(&format!("{line}\r")).unwrap();
        assert_eq!(r.node_id, "Haus 7 Dach Ost");
        assert_eq!(f(&r, "status"), Value::Int(0x300));
        let log = format!("{OLD}\r\n{line}\r\n");
        let p = parse_log(&log, 100);
        assert_eq!(p.lines, 2);
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.readings.len(), 2);
        assert_eq!(p.readings[1].node_id, "Haus 7 Dach Ost");
    }

    #[test]
    fn trailing_separator_is_an_18_field_line() {
        let r = parse_line(&format!("{OLD};")).unwrap();
        assert!(r.field("status").is_none());
        assert_eq!(r.fields, parse_line(OLD).unwrap().fields);
    }

    #[test]
    fn wrong_field_counts_rejected() {
        let fields: Vec<&str> = NEW.split(';').collect();
        let seventeen = fields[..17].join(";");
        let err = parse_line(&seventeen).unwrap_err();
        assert!(err.starts_with("17 fields"), "{err}");
        let twenty = format!("{NEW};1");
        let err = parse_line(&twenty).unwrap_err();
        assert!(err.starts_with("20 fields"), "{err}");
        assert!(parse_line("a;b;c").unwrap_err().starts_with("3 fields"));
    }

    #[test]
    fn garbage_rejected_with_reasons() {
        let cases = [
            ("", "blank line"),
            ("   \t", "blank line"),
            ("<html><body>ISEMS</body></html>", "HTML"),
            ("<!DOCTYPE html>", "HTML"),
            (
                &NEW.replace("14.073", "abc"),
                "batteryVoltage (field 9) is not a number",
            ),
            (
                &NEW.replace("14.073", "NaN"),
                "batteryVoltage (field 9) is not a number",
            ),
            (
                &NEW.replace("14.073", "inf"),
                "batteryVoltage (field 9) is not a number",
            ),
            (
                &NEW.replace(";711;", ";7.5;"),
                "timeToShutdown (field 5) is not an integer",
            ),
            (&NEW.replace(";300", ";zz"), "status (field 19)"),
            (&NEW.replace("1530364575", "0"), "before 2001"),
            (&NEW.replace("1530364575", "86400"), "before 2001"),
            (&NEW.replace("1530364575", "978307199"), "before 2001"),
            (&NEW.replace("1530364575", "1530364575.5"), "timestamp (field 3)"),
            (&NEW.replace("1530364575", "99999999999999999"), "out of range"),
            (&NEW.replace("Elektra-Dach-Neu", " "), "empty nodeId"),
        ];
        for (line, want) in cases {
            let err = parse_line(line).expect_err(line);
            assert!(err.contains(want), "{line:?}: {err:?} does not contain {want:?}");
        }
        assert!(parse_line(&NEW.replace("1530364575", "978307200")).is_ok());
    }

    #[test]
    fn long_garbage_is_quoted_short() {
        let err = parse_line(&"x;".repeat(5000)).unwrap_err();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn log_skips_bad_lines_and_keeps_good_ones_around_them() {
        let log = format!(
            "{OLD}\ngarbage\n\n{NEW}\r\n<html>\n{}\n{}\n",
            NEW.replace("1530364575", "1530364635"),
            NEW.replace("1530364575", "0")
        );
        let p = parse_log(&log, 1000);
        assert_eq!(p.lines, 7);
        assert_eq!(p.truncated, 0);
        let stamps: Vec<i64> = p.readings.iter().map(|r| r.timestamp_s).collect();
        assert_eq!(stamps, [1530364575, 1530364575, 1530364635]);
        let lines: Vec<usize> = p.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 3, 5, 7]);
        assert!(p.skipped[0].reason.contains("1 fields"), "{:?}", p.skipped);
        assert_eq!(p.skipped[1].reason, "blank line");
        assert!(p.skipped[2].reason.contains("HTML"));
        assert!(p.skipped[3].reason.contains("before 2001"));
    }

    #[test]
    fn log_window_keeps_only_the_newest_lines() {
        let log: String = (0..50)
            .map(|i| NEW.replace("1530364575", &(1530364575 + 60 * i).to_string()) + "\n")
            .collect();
        let p = parse_log(&log, 10);
        assert_eq!((p.lines, p.truncated, p.readings.len()), (50, 40, 10));
        assert_eq!(p.readings[0].timestamp_s, 1530364575 + 60 * 40);
        assert_eq!(p.readings[9].timestamp_s, 1530364575 + 60 * 49);
        assert_eq!(parse_log("", 10), LogParse::default());
    }
}
