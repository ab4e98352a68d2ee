//! InfluxDB line protocol in: the parser behind `POST /write` (InfluxDB 1.x)
//! and `POST /api/v2/write` (2.x), producing the host's `Sample`s.
//!
//! `measurement[,tag=value...] field=value[,field=value...] [timestamp]`, one
//! point per line, read as InfluxDB's `models/points.go` reads it: a backslash
//! escapes the next character where that character is special (measurement:
//! `,` space `=` `"`; tag keys and values: `,` `=` space; field keys: `,` `=`
//! space `"`; string values: `"` `\`) and is kept literally everywhere else.
//! A string value may span lines, as in InfluxDB and as the sinks write it.
//!
//! Strict where it matters for forwarding: whatever this parser accepts, the
//! sinks' encoder (`crate::sinks::line_protocol`) writes back so that InfluxDB
//! reads the same sample, so every name `check_sample` would refuse is a parse
//! error here (a backslash before an escaped character or at the end, a field
//! key starting with a tab or NUL, ...), as are what InfluxDB refuses or only
//! half-stores: empty tag values, NaN and infinities, out-of-range numbers and
//! timestamps, `time`/`_field`/`_measurement` as keys, repeated tags or fields.
//!
//! Unlike InfluxDB: a trailing `\r` is stripped (CRLF bodies); a repeated
//! field is an error (InfluxDB keeps the last); a line break outside a string
//! always ends the line (InfluxDB keeps a backslash-escaped one in the name,
//! which the sinks cannot write); a string whose closing quote is missing
//! fails alone instead of swallowing the lines up to the next quote; strings
//! are limited to the documented 64 KiB (1.9+ and 2.x enforce 1 MiB).

use crate::sample::{rfc3339_ns, FieldValue, Sample, MAX_TIMESTAMP_NS, MIN_TIMESTAMP_NS, RESERVED_FIELD_NAMES};
use std::collections::btree_map::{BTreeMap, Entry};
use std::fmt;

/// Errors kept in `Parsed::errors`; the rest are only counted, so a body of
/// garbage costs bounded memory.
pub const MAX_ERRORS: usize = 100;
/// The longest string value (bytes, unescaped): InfluxDB's documented limit.
pub const MAX_STRING_LEN: usize = 64 * 1024;
/// InfluxDB's limit on a series key (measurement and tags as written, and
/// with each field key).
pub const MAX_KEY_LEN: usize = 65535;
/// How much of a bad line an error quotes.
const EXCERPT_BYTES: usize = 200;

/// What a backslash escapes, by position (what InfluxDB unescapes there).
const MEASUREMENT_ESC: &[u8] = b", =\"";
const TAG_ESC: &[u8] = b", =";
const FIELD_KEY_ESC: &[u8] = b", =\"";
const STRING_ESC: &[u8] = b"\"\\";

/// Tag keys InfluxDB refuses (1.x `time`) or discards points for (2.x).
/// `item` is allowed: a point's own `item` tag wins over the one sinks add.
const REFUSED_TAG_KEYS: [&str; 3] = ["time", "_field", "_measurement"];

/// The unit of the timestamps in a body (the `precision` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Ns,
    Us,
    Ms,
    S,
    M,
    H,
}

impl Precision {
    /// InfluxDB 1.x spellings: "" and "n"/"ns" = ns, "u"/"us"/"µ"/"µs" = µs, "ms", "s", "m", "h".
    pub fn parse_v1(s: &str) -> Option<Precision> {
        Some(match s {
            "" | "n" | "ns" => Precision::Ns,
            // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU look alike.
            "u" | "us" | "\u{b5}" | "\u{b5}s" | "\u{3bc}" | "\u{3bc}s" => Precision::Us,
            "ms" => Precision::Ms,
            "s" => Precision::S,
            "m" => Precision::M,
            "h" => Precision::H,
            _ => return None,
        })
    }

    /// InfluxDB 2.x spellings: "ns", "us", "ms", "s" (and "" = ns).
    pub fn parse_v2(s: &str) -> Option<Precision> {
        Some(match s {
            "" | "ns" => Precision::Ns,
            "us" => Precision::Us,
            "ms" => Precision::Ms,
            "s" => Precision::S,
            _ => return None,
        })
    }

    /// Nanoseconds per unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Ns => 1,
            Precision::Us => 1_000,
            Precision::Ms => 1_000_000,
            Precision::S => 1_000_000_000,
            Precision::M => 60_000_000_000,
            Precision::H => 3_600_000_000_000,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Precision::Ns => "ns",
            Precision::Us => "us",
            Precision::Ms => "ms",
            Precision::S => "s",
            Precision::M => "m",
            Precision::H => "h",
        }
    }
}

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the body (of the line the point starts on).
    pub line: usize,
    /// The line, cut to about 200 bytes on a character boundary.
    pub text: String,
    pub reason: String,
}

impl fmt::Display for LineError {
    /// InfluxDB's form, which clients and people recognise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unable to parse '{}': {}", self.text, self.reason)
    }
}

impl std::error::Error for LineError {}

/// What a body held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub samples: Vec<Sample>,
    /// The first `MAX_ERRORS` bad lines, in body order.
    pub errors: Vec<LineError>,
    /// All bad lines, including those not kept.
    pub error_count: usize,
}

/// Parses a whole body. Good lines are kept even when others are bad (InfluxDB's "partial write").
/// `now_ns` is the timestamp of lines without one.
pub fn parse(body: &[u8], precision: Precision, now_ns: i64) -> Parsed {
    // InfluxDB truncates the server's time to the precision given.
    let unit = precision.nanos();
    let default_ts = now_ns
        .div_euclid(unit)
        .checked_mul(unit)
        .filter(|t| (MIN_TIMESTAMP_NS..=MAX_TIMESTAMP_NS).contains(t))
        .ok_or_else(|| {
            format!("the point has no timestamp and the server's clock ({now_ns} ns) is outside the range InfluxDB can store; give it one")
        });
    let mut parsed = Parsed {
        samples: Vec::with_capacity(body.len() / 64),
        ..Parsed::default()
    };
    let mut pos = 0;
    let mut line_no = 1;
    while pos < body.len() {
        let start = skip_space(body, pos);
        let (end, inner_newlines) = match body.get(start) {
            // A comment ends at its line's end, whatever quotes it holds.
            Some(b'#') => (line_end(body, start), 0),
            _ => record_end(body, start),
        };
        let this_line = line_no;
        line_no += inner_newlines + 1;
        pos = end + 1;
        let mut line = &body[start..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        match parse_line(line, precision, &default_ts) {
            Ok(sample) => parsed.samples.push(sample),
            Err(reason) => {
                parsed.error_count += 1;
                if parsed.errors.len() < MAX_ERRORS {
                    parsed.errors.push(LineError {
                        line: this_line,
                        text: excerpt(line),
                        reason,
                    });
                }
            }
        }
    }
    parsed
}

/// Skips what InfluxDB skips between sections: spaces, tabs and NULs.
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\0') {
        i += 1;
    }
    i
}

/// The index of the first `\n` at or after `i`, or the end.
fn line_end(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |k| i + k)
}

/// How far a backslash at `i` reaches when looking for separators: it hides
/// the next byte unless that is another backslash (which may escape what
/// follows it) or a line end. InfluxDB's rule: a byte after a backslash is escaped.
fn line_break(what: &str) -> String {
    format!("{what} contains a line break, which line protocol cannot carry")
}

/// Scans a tag or field key starting at `k0` up to its unescaped '=':
/// where the '=' is, and whether the key holds escapes. `missing` is the
/// error for an empty key; `what` names the key in the others.
fn scan_key(b: &[u8], k0: usize, missing: &str, what: &str) -> Result<(usize, bool), String> {
    let (mut i, mut escaped) = (k0, false);
    loop {
        match b.get(i) {
            Some(b'=') if i > k0 => return Ok((i, escaped)),
            Some(b'=' | b',' | b' ') | None if i == k0 => return Err(missing.into()),
            Some(b',' | b' ') | None => {
                return Err(format!("{what} {:?} has no value ('=' missing)", shown(&b[k0..i])))
            }
            Some(b'\\') => {
                escaped = true;
                i += escape_len(b, i);
            }
            Some(b'\n') => return Err(line_break(&format!("a {} key", what.trim_end_matches(" key")))),
            Some(_) => i += 1,
        }
    }
}

fn escape_len(b: &[u8], i: usize) -> usize {
    match b.get(i + 1) {
        Some(b'\\' | b'\n') | None => 1,
        Some(_) => 2,
    }
}

/// The index of the closing quote of a string value whose content starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i),
            b'\\' if matches!(b.get(i + 1), Some(b'"' | b'\\')) => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Where the point starting at `start` ends (its `\n`, or the end of the
/// body), and how many line breaks inside string values it spans.
fn record_end(b: &[u8], start: usize) -> (usize, usize) {
    // The common case: no quote before the line's end, so no string to span lines.
    match b[start..].iter().position(|&c| c == b'\n' || c == b'"') {
        None => (b.len(), 0),
        Some(k) if b[start + k] == b'\n' => (start + k, 0),
        Some(_) => quoted_record_end(b, start),
    }
}

/// `record_end` for a line with a quote: follows the line's structure (as
/// `parse_line` does) to tell a string value, which may hold line breaks,
/// from a quote in a name, which is a plain character.
fn quoted_record_end(b: &[u8], start: usize) -> (usize, usize) {
    let n = b.len();
    let mut i = start;
    // Measurement and tags: up to the first unescaped space.
    loop {
        match b.get(i) {
            None => return (n, 0),
            Some(b'\n') => return (i, 0),
            Some(b' ') => break,
            Some(b'\\') => i += escape_len(b, i),
            Some(_) => i += 1,
        }
    }
    i = skip_space(b, i);
    let mut newlines = 0;
    'fields: loop {
        loop {
            match b.get(i) {
                None => return (n, newlines),
                Some(b'\n') => return (i, newlines),
                Some(b' ') => break 'fields,
                Some(b'=') => break,
                Some(b'\\') => i += escape_len(b, i),
                Some(_) => i += 1,
            }
        }
        i += 1;
        if b.get(i) == Some(&b'"') {
            match string_end(b, i + 1) {
                Some(close) => {
                    newlines += b[i..close].iter().filter(|&&c| c == b'\n').count();
                    i = close + 1;
                }
                // Never closed: the point is this line alone, and fails.
                None => return (line_end(b, i), newlines),
            }
        }
        loop {
            match b.get(i) {
                None => return (n, newlines),
                Some(b'\n') => return (i, newlines),
                Some(b' ') => break 'fields,
                Some(b',') => {
                    i += 1;
                    continue 'fields;
                }
                Some(_) => i += 1,
            }
        }
    }
    (line_end(b, i), newlines)
}

/// Which name is being read, for messages.
#[derive(Clone, Copy)]
enum Part<'a> {
    Measurement,
    TagKey,
    TagValue(&'a str),
    FieldKey,
}

impl Part<'_> {
    fn describe(self, s: &str) -> String {
        let s = Quoted(s);
        match self {
            Part::Measurement => format!("measurement {s:?}"),
            Part::TagKey => format!("tag key {s:?}"),
            Part::TagValue(key) => format!("tag {:?}: the value {s:?}", Quoted(key)),
            Part::FieldKey => format!("field key {s:?}"),
        }
    }
}

/// A name in a message: quoted, and cut after 100 bytes so that a huge name
/// cannot make a huge message.
#[derive(Clone, Copy)]
struct Quoted<'a>(&'a str);

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.len() <= 100 {
            return write!(f, "{s:?}");
        }
        let mut cut = 100;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        write!(f, "{:?}…", &s[..cut])
    }
}

/// A name from its raw bytes: valid UTF-8, unescaped, and writable again by
/// the sinks (`check_sample`'s rule: no backslash at the end or before a
/// character escaped in this position, since InfluxDB would read it as an escape).
fn name(raw: &[u8], esc: &[u8], escaped: bool, part: Part) -> Result<String, String> {
    let s = std::str::from_utf8(raw)
        .map_err(|_| format!("{} is not valid UTF-8", part.describe(&String::from_utf8_lossy(raw))))?;
    if !escaped {
        return Ok(s.to_owned());
    }
    let name = unescape(s, esc);
    let b = name.as_bytes();
    for (j, _) in b.iter().enumerate().filter(|(_, &c)| c == b'\\') {
        match b.get(j + 1) {
            None => {
                let what = part.describe(&name);
                return Err(format!(
                    "{what} ends with a backslash, which line protocol cannot carry (it escapes the separator after it)"
                ));
            }
            Some(c) if esc.contains(c) => {
                return Err(format!(
                    "{} has a backslash before {:?}, which line protocol cannot carry (it reads as an escape)",
                    part.describe(&name),
                    *c as char
                ))
            }
            Some(_) => {}
        }
    }
    Ok(name)
}

/// `s` with each backslash before one of `esc` removed. Only ASCII is
/// removed, so the slices stay on character boundaries.
fn unescape(s: &str, esc: &[u8]) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut last, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1).is_some_and(|c| esc.contains(c)) {
            out.push_str(&s[last..i]);
            last = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Up to about 40 bytes of a bad value, for messages.
fn shown(v: &[u8]) -> String {
    let mut cut = v.len().min(40);
    while cut < v.len() && cut > 0 && (v[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    let mut s = String::from_utf8_lossy(&v[..cut]).into_owned();
    if cut < v.len() {
        s.push('…');
    }
    s
}

/// The line as `LineError::text`: lossy UTF-8, cut on a character boundary.
fn excerpt(line: &[u8]) -> String {
    if line.len() <= EXCERPT_BYTES {
        return String::from_utf8_lossy(line).into_owned();
    }
    let mut cut = EXCERPT_BYTES;
    // Back to the start of a character (at most 3 continuation bytes).
    for _ in 0..3 {
        if (line[cut] & 0xC0) != 0x80 {
            break;
        }
        cut -= 1;
    }
    let mut s = String::from_utf8_lossy(&line[..cut]).into_owned();
    s.push('…');
    s
}

/// One point from one line (no line break but inside string values, no
/// leading whitespace, no trailing `\r`).
fn parse_line(b: &[u8], precision: Precision, default_ts: &Result<i64, String>) -> Result<Sample, String> {
    let n = b.len();

    // Measurement: up to an unescaped ',' (tags follow) or space (fields follow).
    let mut i = 0;
    let mut escaped = false;
    while i < n {
        match b[i] {
            b',' | b' ' => break,
            b'\\' => {
                escaped = true;
                i += escape_len(b, i);
            }
            b'\n' => return Err(line_break("the measurement")),
            _ => i += 1,
        }
    }
    if i == 0 {
        return Err("missing measurement".into());
    }
    if i >= n {
        return Err("missing fields: a point needs at least one field=value after the measurement".into());
    }
    let measurement = name(&b[..i], MEASUREMENT_ESC, escaped, Part::Measurement)?;
    if measurement.starts_with(['#', '\t', '\0']) {
        return Err(format!(
            "measurement {:?} starts with {:?}, which InfluxDB reads as a comment or skips",
            Quoted(&measurement),
            measurement.chars().next().unwrap_or_default()
        ));
    }

    // Tags: ,key=value until an unescaped space.
    let mut tags = BTreeMap::new();
    while b[i] == b',' {
        i += 1;
        let k0 = i;
        (i, escaped) = scan_key(
            b,
            k0,
            "missing tag key: each ',' before the fields must start a key=value tag",
            "tag key",
        )?;
        let key = name(&b[k0..i], TAG_ESC, escaped, Part::TagKey)?;
        let k = Quoted(&key);
        i += 1;
        let v0 = i;
        escaped = false;
        loop {
            match b.get(i) {
                Some(b',' | b' ') => break,
                None => return Err("missing fields: a point needs at least one field=value after the tags".into()),
                Some(b'=') => return Err(format!("tag {k:?}: its value has an unescaped '=' (write it as \\=)")),
                Some(b'\\') => {
                    escaped = true;
                    i += escape_len(b, i);
                }
                Some(b'\n') => return Err(line_break(&format!("tag {k:?}"))),
                Some(_) => i += 1,
            }
        }
        if i == v0 {
            return Err(format!(
                "tag {k:?} has an empty value, which InfluxDB refuses; leave the tag out"
            ));
        }
        let value = name(&b[v0..i], TAG_ESC, escaped, Part::TagValue(&key))?;
        if REFUSED_TAG_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "tag key {k:?} is reserved by InfluxDB (tag keys {} are refused); rename the tag",
                REFUSED_TAG_KEYS.join(", ")
            ));
        }
        match tags.entry(key) {
            Entry::Occupied(e) => return Err(format!("duplicate tag {:?}", Quoted(e.key()))),
            Entry::Vacant(e) => {
                e.insert(value);
            }
        }
    }
    let key_len = i;
    if key_len > MAX_KEY_LEN {
        return Err(format!(
            "max key length exceeded: the measurement and tags take {key_len} bytes, more than InfluxDB's {MAX_KEY_LEN}"
        ));
    }

    // Fields: key=value pairs separated by commas.
    i = skip_space(b, i);
    if i >= n {
        return Err("missing fields: a point needs at least one field=value".into());
    }
    let mut fields: Vec<(String, FieldValue)> = Vec::new();
    loop {
        let k0 = i;
        (i, escaped) = scan_key(
            b,
            k0,
            "missing field key: each ',' between fields must start a key=value field",
            "field",
        )?;
        if key_len + 4 + (i - k0) > MAX_KEY_LEN {
            return Err(format!(
                "max key length exceeded: the measurement, tags and field key {:?} take more than InfluxDB's {MAX_KEY_LEN} bytes",
                shown(&b[k0..i])
            ));
        }
        let key = name(&b[k0..i], FIELD_KEY_ESC, escaped, Part::FieldKey)?;
        let k = Quoted(&key);
        if key.starts_with(['\t', '\0']) {
            return Err(format!(
                "field key {k:?} starts with a tab or NUL, which InfluxDB skips"
            ));
        }
        if RESERVED_FIELD_NAMES.contains(&key.as_str()) {
            return Err(format!(
                "field {k:?} is reserved by InfluxDB (field names {} are refused or dropped); rename the field",
                RESERVED_FIELD_NAMES.join(", ")
            ));
        }
        i += 1;
        let (value, next) = field_value(b, i, k)?;
        i = next;
        // Few fields: compare as we go; many: sorted once at the end.
        if fields.len() < 16 && fields.iter().any(|(k, _)| *k == key) {
            return Err(format!("field {k:?} appears twice"));
        }
        fields.push((key, value));
        match b.get(i) {
            None | Some(b' ') => break,
            Some(b',') => i += 1,
            Some(_) => {
                let rest = &b[i..line_end_space(b, i)];
                return Err(format!(
                    "field {:?}: the string is followed by {:?}; expected ',' or ' ' after the closing quote",
                    Quoted(&fields[fields.len() - 1].0),
                    shown(rest)
                ));
            }
        }
    }
    if fields.len() > 16 {
        let mut keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("field {:?} appears twice", Quoted(w[0])));
        }
    }

    // Timestamp: optional, then nothing but spaces.
    i = skip_space(b, i);
    let timestamp_ns = match i >= n {
        true => default_ts.clone()?,
        false => {
            let end = b[i..].iter().position(|&c| c == b' ').map_or(n, |k| i + k);
            let ts = timestamp(&b[i..end], precision)?;
            if let Some(k) = b[end..].iter().position(|&c| c != b' ') {
                return Err(format!("unexpected {:?} after the timestamp", shown(&b[end + k..])));
            }
            ts
        }
    };
    Ok(Sample {
        measurement,
        tags,
        fields,
        timestamp_ns,
    })
}

/// The end of a value token: the next ',' or ' ', or the end.
fn line_end_space(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b',' || c == b' ')
        .map_or(b.len(), |k| i + k)
}

/// The value starting at `i` and the index just after it.
fn field_value(b: &[u8], i: usize, key: Quoted) -> Result<(FieldValue, usize), String> {
    match b.get(i) {
        None | Some(b',' | b' ') => Err(format!("field {key:?} has no value")),
        Some(b'"') => {
            let close =
                string_end(b, i + 1).ok_or_else(|| format!("field {key:?}: unterminated string (no closing '\"')"))?;
            let raw = &b[i + 1..close];
            let s = std::str::from_utf8(raw).map_err(|_| format!("field {key:?}: the string is not valid UTF-8"))?;
            let text = match raw.contains(&b'\\') {
                true => unescape(s, STRING_ESC),
                false => s.to_owned(),
            };
            if text.len() > MAX_STRING_LEN {
                return Err(format!(
                    "field {key:?}: the string is {} bytes, longer than InfluxDB's {MAX_STRING_LEN}",
                    text.len()
                ));
            }
            Ok((FieldValue::Text(text), close + 1))
        }
        Some(_) => {
            let end = line_end_space(b, i);
            Ok((scalar(&b[i..end], key)?, end))
        }
    }
}

/// A number or boolean value.
fn scalar(tok: &[u8], key: Quoted) -> Result<FieldValue, String> {
    match tok {
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => return Ok(FieldValue::Boolean(true)),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => return Ok(FieldValue::Boolean(false)),
        _ => {}
    }
    // Only ASCII digits, signs, '.' and 'e' get past the syntax checks, so
    // `from_utf8` cannot fail on what is parsed.
    let digits = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_digit);
    match tok {
        [num @ .., b'i'] => {
            let unsigned = num.strip_prefix(b"-").unwrap_or(num);
            if !digits(unsigned) {
                return Err(format!(
                    "field {key:?}: invalid integer {:?} (digits, optionally after '-', then 'i')",
                    shown(tok)
                ));
            }
            std::str::from_utf8(num)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .map(FieldValue::Int)
                .ok_or_else(|| {
                    format!(
                        "field {key:?}: integer {} overflows a 64-bit integer ({} to {})",
                        shown(num),
                        i64::MIN,
                        i64::MAX
                    )
                })
        }
        [num @ .., b'u'] => {
            if !digits(num) {
                return Err(format!(
                    "field {key:?}: invalid unsigned integer {:?} (digits, then 'u')",
                    shown(tok)
                ));
            }
            std::str::from_utf8(num)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .map(FieldValue::Uint)
                .ok_or_else(|| {
                    format!(
                        "field {key:?}: unsigned integer {} overflows a 64-bit unsigned integer (0 to {})",
                        shown(num),
                        u64::MAX
                    )
                })
        }
        _ => {
            if !float_syntax(tok) {
                let lower = String::from_utf8_lossy(tok).to_ascii_lowercase();
                let bare = lower.trim_start_matches(['-', '+']);
                return Err(match bare {
                    "nan" | "inf" | "infinity" => format!(
                        "field {key:?}: {:?} cannot be stored; InfluxDB takes only finite floats",
                        shown(tok)
                    ),
                    _ => format!(
                        "field {key:?}: invalid value {:?}; expected a number (1.5, 3i, 7u), a boolean (true, false) or a \"quoted string\"",
                        shown(tok)
                    ),
                });
            }
            match std::str::from_utf8(tok).ok().and_then(|s| s.parse::<f64>().ok()) {
                Some(f) if f.is_finite() => Ok(FieldValue::Float(f)),
                Some(_) => Err(format!(
                    "field {key:?}: {} is beyond the range of a 64-bit float",
                    shown(tok)
                )),
                None => Err(format!("field {key:?}: invalid number {:?}", shown(tok))),
            }
        }
    }
}

/// InfluxDB's float syntax: `-`? digits with at most one `.` (at least one
/// digit), then optionally `e`/`E`, a sign and digits. No `+`, `inf`, `NaN`,
/// hex or underscores, which Rust's `parse` would take.
fn float_syntax(t: &[u8]) -> bool {
    let n = t.len();
    let mut i = usize::from(t.first() == Some(&b'-'));
    let run = |mut i: usize| {
        while i < n && t[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = run(i);
    let mut mantissa = int_end - i;
    i = int_end;
    if i < n && t[i] == b'.' {
        let frac_end = run(i + 1);
        mantissa += frac_end - (i + 1);
        i = frac_end;
    }
    if mantissa == 0 {
        return false;
    }
    if i < n && (t[i] == b'e' || t[i] == b'E') {
        i += 1;
        if i < n && (t[i] == b'+' || t[i] == b'-') {
            i += 1;
        }
        let exp_end = run(i);
        if exp_end == i {
            return false;
        }
        i = exp_end;
    }
    i == n
}

/// A timestamp in `precision`'s unit, as nanoseconds within InfluxDB's range.
fn timestamp(tok: &[u8], precision: Precision) -> Result<i64, String> {
    let unsigned = tok.strip_prefix(b"-").unwrap_or(tok);
    if unsigned.is_empty() || !unsigned.iter().all(u8::is_ascii_digit) {
        let hint = match tok.last() {
            Some(b'i') => "; timestamps take no 'i'",
            _ => "",
        };
        return Err(format!(
            "invalid timestamp {:?}: expected an integer, {} since the Unix epoch{hint}",
            shown(tok),
            precision.unit()
        ));
    }
    std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|t| t.checked_mul(precision.nanos()))
        .filter(|t| (MIN_TIMESTAMP_NS..=MAX_TIMESTAMP_NS).contains(t))
        .ok_or_else(|| {
            format!(
                "timestamp {} {} is outside the range InfluxDB can store, {} to {} ({MIN_TIMESTAMP_NS} to {MAX_TIMESTAMP_NS} ns)",
                shown(tok),
                precision.unit(),
                rfc3339_ns(MIN_TIMESTAMP_NS),
                rfc3339_ns(MAX_TIMESTAMP_NS)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::line_protocol::{check_sample, encode, Line, Unsigned};

    const NOW: i64 = 1_700_000_000_123_456_789;

    fn ok(body: &str) -> Vec<Sample> {
        let p = parse(body.as_bytes(), Precision::Ns, NOW);
        assert!(p.errors.is_empty(), "{body:?}: {:?}", p.errors);
        p.samples
    }

    fn one(body: &str) -> Sample {
        let mut s = ok(body);
        assert_eq!(s.len(), 1, "{body:?}: {s:?}");
        s.remove(0)
    }

    /// The reason `body` (one line) is refused.
    fn bad(body: &str) -> String {
        bad_bytes(body.as_bytes())
    }

    fn bad_bytes(body: &[u8]) -> String {
        let p = parse(body, Precision::Ns, NOW);
        assert!(p.samples.is_empty(), "{body:?} parsed: {:?}", p.samples);
        assert_eq!(p.error_count, 1, "{body:?}: {:?}", p.errors);
        assert_eq!(p.errors.len(), 1);
        p.errors[0].reason.clone()
    }

    fn assert_bad(body: &str, words: &str) {
        let reason = bad(body);
        assert!(reason.contains(words), "{body:?}: {reason:?} lacks {words:?}");
    }

    fn value(body: &str) -> FieldValue {
        let s = one(body);
        assert_eq!(s.fields.len(), 1);
        s.fields[0].1.clone()
    }

    fn sample(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>, ts: i64) -> Sample {
        Sample {
            measurement: m.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            timestamp_ns: ts,
        }
    }

    /// The sinks' encoding of `s` (what they forward).
    fn encoded(s: &Sample) -> String {
        let line = Line {
            measurement: &s.measurement,
            tags: s.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            fields: s.fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            timestamp_ns: s.timestamp_ns,
        };
        let mut out = String::new();
        encode(&line, Unsigned::Supported, &mut out);
        out
    }

    // ------------------------------------------------------------ precision

    #[test]
    fn precision_spellings() {
        for (s, p) in [
            ("", Precision::Ns),
            ("n", Precision::Ns),
            ("ns", Precision::Ns),
            ("u", Precision::Us),
            ("us", Precision::Us),
            ("µ", Precision::Us),
            ("µs", Precision::Us),
            ("μs", Precision::Us),
            ("ms", Precision::Ms),
            ("s", Precision::S),
            ("m", Precision::M),
            ("h", Precision::H),
        ] {
            assert_eq!(Precision::parse_v1(s), Some(p), "{s:?}");
        }
        for s in ["x", "NS", "ns ", "mu", "d", "1s"] {
            assert_eq!(Precision::parse_v1(s), None, "{s:?}");
        }
        for (s, p) in [
            ("", Precision::Ns),
            ("ns", Precision::Ns),
            ("us", Precision::Us),
            ("ms", Precision::Ms),
            ("s", Precision::S),
        ] {
            assert_eq!(Precision::parse_v2(s), Some(p), "{s:?}");
        }
        for s in ["n", "u", "µs", "m", "h", "NS"] {
            assert_eq!(Precision::parse_v2(s), None, "{s:?}");
        }
        let all = [
            Precision::Ns,
            Precision::Us,
            Precision::Ms,
            Precision::S,
            Precision::M,
            Precision::H,
        ];
        assert_eq!(
            all.map(Precision::nanos),
            [1, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 3_600_000_000_000]
        );
        assert_eq!(Precision::default(), Precision::Ns);
    }

    #[test]
    fn timestamps_scale_by_precision() {
        for (p, ts, want) in [
            (Precision::Ns, "1700000000123456789", 1_700_000_000_123_456_789),
            (Precision::Us, "1700000000123456", 1_700_000_000_123_456_000),
            (Precision::Ms, "1700000000123", 1_700_000_000_123_000_000),
            (Precision::S, "1700000000", 1_700_000_000_000_000_000),
            (Precision::M, "28333333", 1_699_999_980_000_000_000),
            (Precision::H, "472222", 1_699_999_200_000_000_000),
            (Precision::S, "-1", -1_000_000_000),
            (Precision::S, "0", 0),
        ] {
            let p2 = parse(format!("m v=1 {ts}").as_bytes(), p, NOW);
            assert!(p2.errors.is_empty(), "{p:?} {ts}: {:?}", p2.errors);
            assert_eq!(p2.samples[0].timestamp_ns, want, "{p:?} {ts}");
        }
    }

    #[test]
    fn missing_timestamps_are_now_truncated_to_the_precision() {
        for (p, want) in [
            (Precision::Ns, NOW),
            (Precision::Us, 1_700_000_000_123_456_000),
            (Precision::Ms, 1_700_000_000_123_000_000),
            (Precision::S, 1_700_000_000_000_000_000),
            (Precision::M, 1_699_999_980_000_000_000),
            (Precision::H, 1_699_999_200_000_000_000),
        ] {
            let parsed = parse(b"m v=1\nm v=2 \n", p, NOW);
            assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            assert!(
                parsed.samples.iter().all(|s| s.timestamp_ns == want),
                "{p:?}: {:?}",
                parsed.samples
            );
        }
        // Before 1970 too, truncation goes down (as Go's Time.Truncate).
        let parsed = parse(b"m v=1", Precision::S, -1_500_000_000);
        assert_eq!(parsed.samples[0].timestamp_ns, -2_000_000_000);
        // A clock outside the range fails only lines without a timestamp.
        let parsed = parse(b"m v=1\nm v=2 5", Precision::Ns, i64::MAX);
        assert_eq!(parsed.samples.len(), 1);
        assert_eq!(parsed.samples[0].timestamp_ns, 5);
        assert!(parsed.errors[0].reason.contains("clock"), "{:?}", parsed.errors);
    }

    #[test]
    fn timestamps_outside_influxdbs_range_are_errors_not_wrapped() {
        let at = |body: &str, p: Precision| parse(body.as_bytes(), p, NOW);
        let min = format!("m v=1 {MIN_TIMESTAMP_NS}");
        let max = format!("m v=1 {MAX_TIMESTAMP_NS}");
        assert_eq!(at(&min, Precision::Ns).samples[0].timestamp_ns, MIN_TIMESTAMP_NS);
        assert_eq!(at(&max, Precision::Ns).samples[0].timestamp_ns, MAX_TIMESTAMP_NS);
        for (body, p) in [
            (format!("m v=1 {}", i64::MIN), Precision::Ns),
            (format!("m v=1 {}", i64::MIN + 1), Precision::Ns),
            (format!("m v=1 {}", i64::MAX), Precision::Ns),
            ("m v=1 9223372036854775808".into(), Precision::Ns),
            ("m v=1 -9223372036854775809".into(), Precision::Ns),
            ("m v=1 99999999999999999999999".into(), Precision::Ns),
            ("m v=1 9223372037".into(), Precision::S),
            ("m v=1 -9223372037".into(), Precision::S),
            ("m v=1 2562048".into(), Precision::H),
            ("m v=1 10000000000".into(), Precision::H),
        ] {
            let parsed = at(&body, p);
            assert!(parsed.samples.is_empty(), "{body}: {:?}", parsed.samples);
            let reason = &parsed.errors[0].reason;
            assert!(
                reason.contains("outside the range") && reason.contains("2262-04-11"),
                "{body}: {reason}"
            );
        }
        assert_eq!(
            at("m v=1 9223372036", Precision::S).samples[0].timestamp_ns,
            9_223_372_036_000_000_000
        );
        assert_eq!(
            at("m v=1 2562047", Precision::H).samples[0].timestamp_ns,
            2_562_047 * 3_600_000_000_000
        );
    }

    #[test]
    fn bad_timestamps() {
        for (body, words) in [
            ("m v=1 12i", "no 'i'"),
            ("m v=1 1.5", "invalid timestamp \"1.5\""),
            ("m v=1 abc", "invalid timestamp"),
            ("m v=1 --1", "invalid timestamp"),
            ("m v=1 -", "invalid timestamp"),
            ("m v=1 +5", "invalid timestamp"),
            ("m v=1 1e9", "invalid timestamp"),
            ("m v=1 2023-11-14T22:13:20Z", "invalid timestamp"),
            ("m v=1 123\t", "invalid timestamp"),
            ("m v=1 123 456", "unexpected \"456\" after the timestamp"),
            ("m v=1 123 x", "after the timestamp"),
            ("m v=1 123  \t", "after the timestamp"),
        ] {
            assert_bad(body, words);
        }
        assert_eq!(one("m v=1 123   ").timestamp_ns, 123);
        assert_eq!(one("m v=1    123").timestamp_ns, 123);
        assert_eq!(one("m v=1 -123").timestamp_ns, -123);
        assert_eq!(one("m v=1 0000123").timestamp_ns, 123);
    }

    // ------------------------------------------------------------ structure

    #[test]
    fn a_plain_point() {
        assert_eq!(
            one("weather,site=roof,floor=3 temperature=21.5,humidity=40i,ok=true,note=\"fine\" 1700000000000000000"),
            sample(
                "weather",
                &[("floor", "3"), ("site", "roof")],
                vec![
                    ("temperature", FieldValue::Float(21.5)),
                    ("humidity", FieldValue::Int(40)),
                    ("ok", FieldValue::Boolean(true)),
                    ("note", FieldValue::Text("fine".into())),
                ],
                1_700_000_000_000_000_000
            )
        );
        // Field order is kept (the first is the primary value); tags are sorted.
        let s = one("m,z=1,a=2 b=1,a=2 5");
        assert_eq!(s.fields.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(s.tags.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "z"]);
        assert_eq!(one("m v=1").timestamp_ns, NOW);
    }

    #[test]
    fn whitespace_blank_lines_comments_and_crlf() {
        let body = "\n  \n\t\n# a comment\n   # indented comment with \"quote\nm v=1 1\r\n\r\n  \tm v=2 2\n\0m v=3 3\nm  \t v=4  \t 4\r\n   \n";
        let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let ts: Vec<i64> = parsed.samples.iter().map(|s| s.timestamp_ns).collect();
        assert_eq!(ts, [1, 2, 3, 4]);
        assert!(parsed.samples.iter().all(|s| s.measurement == "m"));
        assert_eq!(parse(b"", Precision::Ns, NOW), Parsed::default());
        assert_eq!(parse(b"\n\n\r\n", Precision::Ns, NOW), Parsed::default());
        // A measurement with a tab or \r inside is fine; only a final \r goes.
        assert_eq!(one("m\tx v=1 1\r").measurement, "m\tx");
        assert_eq!(one("\rm v=1").measurement, "\rm");
        assert_eq!(one("m v=\"a\r\" 1\r").fields[0].1, FieldValue::Text("a\r".into()));
    }

    #[test]
    fn missing_or_empty_parts() {
        for (body, words) in [
            ("m", "missing fields"),
            ("m ", "missing fields"),
            ("m \t ", "missing fields"),
            ("m,", "missing tag key"),
            (",t=a v=1", "missing measurement"),
            (", v=1", "missing measurement"),
            ("m,t", "tag key \"t\" has no value"),
            ("m,t v=1", "tag key \"t\" has no value"),
            ("m,t,u=1 v=1", "tag key \"t\" has no value"),
            ("m,=a v=1", "missing tag key"),
            ("m,,t=a v=1", "missing tag key"),
            ("m, t=a v=1", "missing tag key"),
            ("m,t= v=1", "empty value"),
            ("m,t=,u=1 v=1", "empty value"),
            ("m,t=", "missing fields"),
            ("m,t=a", "missing fields"),
            ("m,t=a ", "missing fields"),
            ("m,t=a=b v=1", "unescaped '='"),
            ("m v", "field \"v\" has no value"),
            ("m v 1", "field \"v\" has no value"),
            ("m v=", "field \"v\" has no value"),
            ("m v= 1", "field \"v\" has no value"),
            ("m v=,w=1", "field \"v\" has no value"),
            ("m =1", "missing field key"),
            ("m v=1,", "missing field key"),
            ("m v=1,,w=2", "missing field key"),
            ("m v=1, w=2", "missing field key"),
            ("m v=1,=2", "missing field key"),
            ("m v=1,w", "field \"w\" has no value"),
        ] {
            assert_bad(body, words);
        }
    }

    #[test]
    fn duplicates_and_reserved_names() {
        assert_bad("m,a=1,a=2 v=1", "duplicate tag \"a\"");
        assert_bad("m,b=1,a=2,b=3 v=1", "duplicate tag \"b\"");
        assert_bad("m v=1,w=2,v=3", "field \"v\" appears twice");
        let many: Vec<String> = (0..40).map(|i| format!("f{i}=1")).collect();
        assert_eq!(one(&format!("m {}", many.join(","))).fields.len(), 40);
        assert_bad(&format!("m {},f7=2", many.join(",")), "field \"f7\" appears twice");
        for key in ["time", "_field", "_measurement"] {
            assert_bad(&format!("m,{key}=x v=1"), &format!("tag key \"{key}\" is reserved"));
            assert_bad(&format!("m {key}=1"), &format!("field \"{key}\" is reserved"));
            assert_bad(&format!("m v=1,{key}=1"), "is reserved");
        }
        // InfluxDB takes these: a measurement named time, and an `item` tag
        // (the sinks keep a point's own `item` tag).
        assert_eq!(one("time v=1").measurement, "time");
        assert_eq!(one("m,item=x v=1").tags["item"], "x");
        assert_eq!(one("m Time=1,times=2").fields.len(), 2);
    }

    // ------------------------------------------------------------ escapes

    #[test]
    fn measurement_escapes() {
        assert_eq!(one("my\\ meas\\,x=y v=1").measurement, "my meas,x=y");
        // As InfluxDB's Name(): `\=` and `\"` are unescaped too; `=` and `"` are plain.
        assert_eq!(one("a\\=b\\\"c v=1").measurement, "a=b\"c");
        assert_eq!(one("a=b\"c v=1").measurement, "a=b\"c");
        // Any other backslash is literal.
        assert_eq!(one("C:\\m\\x v=1").measurement, "C:\\m\\x");
        assert_eq!(one("\\ lead v=1").measurement, " lead");
        assert_eq!(one("日本\\ 🙂 v=1").measurement, "日本 🙂");
    }

    #[test]
    fn tag_and_field_key_escapes() {
        let s = one("m,room\\ name=lab\\,\\ 2\\=b,a\\=b=c f\\,1\\ \\==1i,q\\\"=2i,\"k\"=3i");
        assert_eq!(
            s.tags,
            BTreeMap::from([
                ("a=b".to_string(), "c".to_string()),
                ("room name".to_string(), "lab, 2=b".to_string())
            ])
        );
        let keys: Vec<&str> = s.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["f,1 =", "q\"", "\"k\""]);
        // Tags do not unescape quotes; a quote there is a plain character.
        assert_eq!(one("m,k=a\"b,q=\\\"x v=1").tags["k"], "a\"b");
        assert_eq!(one("m,q=\\\"x v=1").tags["q"], "\\\"x");
        assert_eq!(one("m,k=a\\b\\\\c v=1").tags["k"], "a\\b\\\\c");
    }

    #[test]
    fn string_values() {
        assert_eq!(value("m s=\"\""), FieldValue::Text(String::new()));
        assert_eq!(value("m s=\"a, b=c d\""), FieldValue::Text("a, b=c d".into()));
        assert_eq!(
            value(r#"m s="say \"hi\", C:\\dir""#),
            FieldValue::Text(r#"say "hi", C:\dir"#.into())
        );
        // Other backslashes are literal.
        assert_eq!(value(r#"m s="a\nb\tc\d""#), FieldValue::Text(r"a\nb\tc\d".into()));
        assert_eq!(value(r#"m s="end\\""#), FieldValue::Text("end\\".into()));
        assert_eq!(value("m s=\"日本🙂\""), FieldValue::Text("日本🙂".into()));
        let s = one("m a=\"x\",b=\"y\",c=1 9");
        assert_eq!(s.fields[1].1, FieldValue::Text("y".into()));
        assert_eq!(s.timestamp_ns, 9);
        for (body, words) in [
            ("m s=\"abc", "unterminated string"),
            ("m s=\"abc\\\"", "unterminated string"),
            ("m s=\"a\"b", "followed by \"b\""),
            ("m s=\"a\"\"b\"", "followed by"),
            ("m s=\"a\"=1", "followed by"),
            ("m s=abc", "invalid value \"abc\""),
            ("m s='abc'", "invalid value"),
        ] {
            assert_bad(body, words);
        }
    }

    #[test]
    fn string_length_limit() {
        let at_limit = "x".repeat(MAX_STRING_LEN);
        assert_eq!(
            value(&format!("m s=\"{at_limit}\"")),
            FieldValue::Text(at_limit.clone())
        );
        assert_bad(&format!("m s=\"{at_limit}y\""), "longer than InfluxDB's 65536");
        // Measured unescaped: escapes do not count twice.
        let escaped = "\\\"".repeat(MAX_STRING_LEN);
        assert_eq!(
            value(&format!("m s=\"{escaped}\"")),
            FieldValue::Text("\"".repeat(MAX_STRING_LEN))
        );
    }

    #[test]
    fn strings_may_span_lines_as_in_influxdb() {
        let body = "m s=\"one\ntwo\r\nthree\",n=1i 1\nm v=2 2\nm,t=a\"b v=\"x\" 3\nm,t=a s=\"l\n\" 4";
        let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.samples.len(), 4);
        assert_eq!(
            parsed.samples[0].fields[0].1,
            FieldValue::Text("one\ntwo\r\nthree".into())
        );
        assert_eq!(parsed.samples[1].timestamp_ns, 2);
        assert_eq!(parsed.samples[2].tags["t"], "a\"b");
        assert_eq!(parsed.samples[3].fields[0].1, FieldValue::Text("l\n".into()));
        // Line numbers count the lines inside strings.
        let body = "m s=\"a\nb\nc\" 1\nbad\nm v=1 2\n";
        let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
        assert_eq!(parsed.samples.len(), 2);
        assert_eq!(parsed.errors[0].line, 4);
        assert_eq!(parsed.errors[0].text, "bad");
    }

    #[test]
    fn an_unclosed_string_fails_alone() {
        // InfluxDB would read up to the next quote, losing the lines between.
        let body = "m s=\"abc 1\nm v=1 2\nm v=2 3\n";
        let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
        assert_eq!(parsed.samples.len(), 2, "{parsed:?}");
        assert_eq!(parsed.errors[0].line, 1);
        assert!(parsed.errors[0].reason.contains("unterminated"), "{:?}", parsed.errors);
        // A quote in a name is no string: the line ends at its newline.
        let parsed = parse(b"m,t=\"a v=1 1\nm v=2 2", Precision::Ns, NOW);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.samples.len(), 2);
        assert_eq!(parsed.samples[0].tags["t"], "\"a");
    }

    #[test]
    fn what_the_sinks_cannot_forward_is_refused() {
        for (body, words) in [
            // `\\,` is a literal backslash then an escaped comma: `a\,b`, which
            // the encoder cannot write back (it would read as an escape).
            ("m,t=a\\\\,b v=1", "backslash before ','"),
            ("m,t\\\\=x=1 v=1", "backslash before '='"),
            ("m\\\\ x v=1", "backslash before ' '"),
            ("m\\\\=x v=1", "backslash before '='"),
            ("m v\\\\\"=1", "backslash before '\"'"),
            ("m f\\\\,g=1", "backslash before ','"),
            // A trailing backslash escapes the separator, so it never ends a name.
            ("m,t=a\\ v=1 1", "unescaped '='"),
            ("m,t=a\\ ", "missing fields"),
            ("m,t=a\\\\ v=1", "unescaped '='"),
            ("m,t=a\\", "missing fields"),
            ("m v=1,\tw=2", "starts with a tab or NUL"),
            ("m v=1,\0w=2", "starts with a tab or NUL"),
            ("m v=NaN", "only finite floats"),
            ("m v=nan", "only finite floats"),
            ("m v=-inf", "only finite floats"),
            ("m v=+Inf", "only finite floats"),
            ("m v=Infinity", "only finite floats"),
            ("m v=1e309", "beyond the range"),
            ("m v=-1e400", "beyond the range"),
        ] {
            assert_bad(body, words);
        }
        // A line break ends the line: the tag value ends there and fails, and
        // what follows is a line of its own, as in InfluxDB. Escaped too
        // (InfluxDB would keep `\`+newline in the value; the sinks cannot).
        let parsed = parse(b"m,t=a\nb v=1 1", Precision::Ns, NOW);
        assert_eq!(
            (parsed.samples[0].measurement.as_str(), parsed.errors[0].line),
            ("b", 1)
        );
        let parsed = parse(b"m,t=a\\\n v=1 1", Precision::Ns, NOW);
        assert_eq!((parsed.samples.len(), parsed.error_count), (0, 2));
    }

    // ------------------------------------------------------------ values

    #[test]
    fn floats() {
        for (text, want) in [
            ("1", 1.0),
            ("-1.5", -1.5),
            ("1e3", 1e3),
            ("1E3", 1e3),
            ("1e+3", 1e3),
            ("-1e-3", -1e-3),
            (".5", 0.5),
            ("-.5", -0.5),
            ("1.", 1.0),
            ("1.e2", 100.0),
            (".5e1", 5.0),
            ("007.5", 7.5),
            ("0", 0.0),
            ("1e-400", 0.0),
            ("1.7976931348623157e308", f64::MAX),
            ("5e-324", 5e-324),
        ] {
            assert_eq!(value(&format!("m v={text}")), FieldValue::Float(want), "{text}");
        }
        match value("m v=-0") {
            FieldValue::Float(f) => assert!(f == 0.0 && f.is_sign_negative()),
            other => panic!("{other:?}"),
        }
        let long = format!("1{}", "0".repeat(300));
        assert_eq!(value(&format!("m v={long}")), FieldValue::Float(1e300));
        for text in [
            "1.2.3", "1e", "1e+", "e5", "E5", "-", ".", "-.", "+1", "1-2", "--1", "0x10", "1_000", "1.5x", "1e5.5", "١",
        ] {
            let reason = bad(&format!("m v={text} 1"));
            assert!(reason.contains("field \"v\""), "{text}: {reason}");
        }
        assert_bad("m v=1.5x", "invalid value \"1.5x\"");
    }

    #[test]
    fn integers() {
        assert_eq!(value("m v=123i"), FieldValue::Int(123));
        assert_eq!(value("m v=-123i"), FieldValue::Int(-123));
        assert_eq!(value("m v=0i"), FieldValue::Int(0));
        assert_eq!(value("m v=-0i"), FieldValue::Int(0));
        assert_eq!(value("m v=0042i"), FieldValue::Int(42));
        assert_eq!(value(&format!("m v={}i", i64::MAX)), FieldValue::Int(i64::MAX));
        assert_eq!(value(&format!("m v={}i", i64::MIN)), FieldValue::Int(i64::MIN));
        assert_bad("m v=9223372036854775808i", "overflows");
        assert_bad("m v=-9223372036854775809i", "overflows");
        assert_bad("m v=99999999999999999999999999i", "overflows");
        for text in ["1.5i", "1e3i", "i", "-i", "12ii", "+1i", "0x1i", "1ui"] {
            let reason = bad(&format!("m v={text}"));
            assert!(reason.contains("field \"v\""), "{text}: {reason}");
        }
        assert_bad("m v=1.5i", "invalid integer \"1.5i\"");
    }

    #[test]
    fn unsigned_integers() {
        assert_eq!(value("m v=123u"), FieldValue::Uint(123));
        assert_eq!(value("m v=0u"), FieldValue::Uint(0));
        assert_eq!(value(&format!("m v={}u", u64::MAX)), FieldValue::Uint(u64::MAX));
        assert_bad("m v=18446744073709551616u", "overflows");
        for text in ["-1u", "-0u", "1.5u", "u", "1e3u", "+1u", "12uu", "1iu"] {
            let reason = bad(&format!("m v={text}"));
            assert!(reason.contains("field \"v\""), "{text}: {reason}");
        }
        assert_bad("m v=-1u", "invalid unsigned integer \"-1u\"");
    }

    #[test]
    fn booleans() {
        for t in ["t", "T", "true", "True", "TRUE"] {
            assert_eq!(value(&format!("m v={t}")), FieldValue::Boolean(true), "{t}");
        }
        for f in ["f", "F", "false", "False", "FALSE"] {
            assert_eq!(value(&format!("m v={f}")), FieldValue::Boolean(false), "{f}");
        }
        for b in ["tRUE", "yes", "tr", "truee", "FaLse", "falsey", "1b", "on"] {
            assert_bad(&format!("m v={b}"), &format!("invalid value \"{b}\""));
        }
        let s = one("m a=t,b=F,c=true 1");
        assert_eq!(s.fields[2].1, FieldValue::Boolean(true));
    }

    // ------------------------------------------------------------ bytes

    #[test]
    fn invalid_utf8_fails_its_line_only() {
        for (body, words) in [
            (&b"m\xff v=1"[..], "measurement \"m\u{fffd}\" is not valid UTF-8"),
            (b"m,t\xc3=a v=1", "tag key"),
            (b"m,t=a\xe2\x82 v=1", "tag \"t\": the value"),
            (b"m v\x80=1", "field key"),
            (b"m v=\"\xff\"", "the string is not valid UTF-8"),
            (b"m v=1\xff", "invalid value"),
            (b"m v=1 1\xff", "invalid timestamp"),
        ] {
            let reason = bad_bytes(body);
            assert!(reason.contains(words), "{body:?}: {reason:?} lacks {words:?}");
        }
        let parsed = parse(b"m v=1 1\nm\xff\xfe v=1 2\nm v=3 3", Precision::Ns, NOW);
        assert_eq!(parsed.samples.len(), 2);
        assert_eq!(parsed.errors[0].line, 2);
        assert_eq!(parsed.errors[0].text, "m\u{fffd}\u{fffd} v=1 2");
    }

    #[test]
    fn garbage_never_panics() {
        let nasty: &[&[u8]] = &[
            b"\\",
            b"\\\\",
            b"\"",
            b"=",
            b",",
            b" ",
            b"m \"",
            b"m v=\"",
            b"m v=\"\\",
            b"m,\\",
            b"m,t=\\",
            b"m v\\",
            b"m v=1 \\",
            b"\xff\xfe\xfd",
            b"\xc3",
            b"m v=\xc3",
            b"m,\xc3=\xc3 \xc3=\xc3 \xc3",
            b"\0\0\0",
            b"m v=1\0",
            b"#",
            b"m\r",
            b"\r",
            b"m v=1 1\r\r",
            b"m v=\"\r\n",
            b"m v=\"a\" \"",
            b"m v=-",
            b"m v=.e",
            b"m v=1e-",
        ];
        for body in nasty {
            let parsed = parse(body, Precision::H, NOW);
            assert!(parsed.samples.len() + parsed.error_count <= 1, "{body:?}: {parsed:?}");
        }
    }

    // ------------------------------------------------------------ partial writes

    #[test]
    fn good_lines_are_kept_and_bad_ones_numbered() {
        let body = "m v=1 1\nm v= 2\n\n# c\nm v=3 3\nm,t= v=4 4\r\nm v=5 5";
        let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
        let ts: Vec<i64> = parsed.samples.iter().map(|s| s.timestamp_ns).collect();
        assert_eq!(ts, [1, 3, 5]);
        assert_eq!(parsed.error_count, 2);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 6]);
        assert_eq!(parsed.errors[0].text, "m v= 2");
        assert_eq!(parsed.errors[1].text, "m,t= v=4 4");
        assert_eq!(
            parsed.errors[1].to_string(),
            "unable to parse 'm,t= v=4 4': tag \"t\" has an empty value, which InfluxDB refuses; leave the tag out"
        );
    }

    #[test]
    fn errors_are_capped_but_counted() {
        let mut body = String::new();
        for i in 0..250 {
            body.push_str(if i % 2 == 0 { "bad\n" } else { "m v=1 1\n" });
        }
        let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
        assert_eq!(parsed.samples.len(), 125);
        assert_eq!(parsed.error_count, 125);
        assert_eq!(parsed.errors.len(), MAX_ERRORS);
        assert_eq!(parsed.errors[99].line, 199);
    }

    #[test]
    fn error_text_is_cut_on_a_character_boundary() {
        // An odd prefix puts byte 200 inside an "é".
        let line = format!("m,tt={} v=", "é".repeat(300));
        let parsed = parse(line.as_bytes(), Precision::Ns, NOW);
        let text = &parsed.errors[0].text;
        assert!(text.len() <= EXCERPT_BYTES + '…'.len_utf8(), "{}", text.len());
        assert!(
            text.starts_with("m,tt=éé") && text.ends_with('…') && !text.contains('\u{fffd}'),
            "{text}"
        );
        // Short lines are quoted whole.
        assert_eq!(parse(b"  m v=x\r\n", Precision::Ns, NOW).errors[0].text, "m v=x");
    }

    #[test]
    fn messages_quote_long_names_briefly() {
        let key = "é".repeat(1000);
        let reason = bad(&format!("m {key}=x"));
        assert!(
            reason.len() < 300 && reason.contains("éé\"…: invalid value \"x\""),
            "{reason}"
        );
        let reason = bad(&format!("m,t={key}\\\\,x v=1"));
        assert!(
            reason.len() < 300 && reason.contains("backslash before ','"),
            "{reason}"
        );
    }

    #[test]
    fn key_length_limit() {
        let long = "m".repeat(MAX_KEY_LEN + 1);
        assert_bad(&format!("{long} v=1"), "max key length exceeded");
        let fits = "m".repeat(MAX_KEY_LEN - 5);
        assert_eq!(one(&format!("{fits} v=1")).measurement.len(), MAX_KEY_LEN - 5);
        assert_bad(&format!("{fits} vv=1"), "max key length exceeded");
    }

    // ------------------------------------------------------------ round trips

    #[test]
    fn what_the_sinks_write_reads_back_the_same() {
        let cases = [
            sample("system", &[("host", "pi")], vec![("load1", FieldValue::Float(0.5))], 7),
            sample(
                "my meas,x=y",
                &[("room name", "lab, 2=b"), ("a=b", "c")],
                vec![("f,1 =", FieldValue::Int(-1)), ("q\"", FieldValue::Uint(u64::MAX))],
                -1,
            ),
            sample(
                "C:\\m",
                &[("k", "a\\b\\\\c\\\"")],
                vec![
                    ("f\\x", FieldValue::Text("end\\".into())),
                    ("g", FieldValue::Boolean(false)),
                ],
                MIN_TIMESTAMP_NS,
            ),
            sample(
                "a=\\b",
                &[("k", "\\\"q")],
                vec![("f", FieldValue::Text("\\\n\"\r\n".into()))],
                MAX_TIMESTAMP_NS,
            ),
            sample(
                "m",
                &[],
                vec![
                    ("f", FieldValue::Float(-0.0)),
                    ("g", FieldValue::Float(1e300)),
                    ("h", FieldValue::Float(5e-324)),
                    ("i", FieldValue::Float(-2.5e-7)),
                    ("j", FieldValue::Int(i64::MIN)),
                ],
                0,
            ),
            sample(
                " x",
                &[("\"", "日本🙂")],
                vec![("\r", FieldValue::Text(String::new()))],
                1,
            ),
        ];
        for s in &cases {
            check_sample(s).unwrap();
            let body = encoded(s);
            let back = parse(body.as_bytes(), Precision::Ns, NOW);
            assert!(back.errors.is_empty(), "{body:?}: {:?}", back.errors);
            assert_eq!(back.samples, std::slice::from_ref(s), "{body:?}");
        }
        // All in one body, line numbers and all.
        let body: String = cases.iter().map(encoded).collect();
        let back = parse(body.as_bytes(), Precision::Ns, NOW);
        assert_eq!(back.samples, cases);
    }

    /// Characters line protocol treats specially, and some that are not
    /// (the e2e round-trip test's alphabet).
    const ALPHABET: &[char] = &[
        'a', 'b', 'Z', '0', '_', '-', ',', ' ', '=', '"', '\'', '\\', '\\', '\n', '\r', '\t', '#', '\0', 'é', '日',
        '🙂',
    ];

    fn random_text(rng: &mut fastrand::Rng, max: usize) -> String {
        (0..rng.usize(0..=max))
            .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
            .collect()
    }

    fn random_name(rng: &mut fastrand::Rng) -> String {
        match rng.u8(..4) {
            0 => random_text(rng, 5),
            _ => {
                let plain = |rng: &mut fastrand::Rng| -> String {
                    (0..rng.usize(0..3)).map(|_| ALPHABET[rng.usize(..5)]).collect()
                };
                format!("{}{}{}", plain(rng), ALPHABET[rng.usize(..ALPHABET.len())], plain(rng))
            }
        }
    }

    fn random_value(rng: &mut fastrand::Rng) -> FieldValue {
        match rng.u8(..7) {
            0 => FieldValue::Float(f64::from_bits(rng.u64(..))),
            1 => FieldValue::Float([0.0, -0.0, 1e300, 5e-324, 0.1, -1.5][rng.usize(..6)]),
            2 => FieldValue::Int(rng.i64(..)),
            3 => FieldValue::Uint(rng.u64(..)),
            4 => FieldValue::Boolean(rng.bool()),
            _ => FieldValue::Text(random_text(rng, 8)),
        }
    }

    fn random_sample(rng: &mut fastrand::Rng) -> Sample {
        Sample {
            measurement: random_name(rng),
            tags: (0..rng.usize(0..3))
                .map(|_| (random_name(rng), random_name(rng)))
                .collect(),
            fields: (0..rng.usize(1..4))
                .map(|_| (random_name(rng), random_value(rng)))
                .collect(),
            timestamp_ns: match rng.u8(..4) {
                0 => MIN_TIMESTAMP_NS,
                1 => MAX_TIMESTAMP_NS,
                _ => rng.i64(MIN_TIMESTAMP_NS..=MAX_TIMESTAMP_NS),
            },
        }
    }

    /// What the parser must hold for whatever it accepts: the sinks can write
    /// it, and what they write reads back as the same sample.
    fn assert_forwardable(s: &Sample) {
        check_sample(s).unwrap_or_else(|e| panic!("accepted {s:?}, which the sinks refuse: {e}"));
        assert!(s.tags.values().all(|v| !v.is_empty()), "{s:?}");
        let body = encoded(s);
        let back = parse(body.as_bytes(), Precision::Ns, NOW);
        assert_eq!(back.samples, std::slice::from_ref(s), "{body:?}: {:?}", back.errors);
    }

    /// Property (fixed seed): every sample the sinks can write reads back
    /// identically, alone or among others; none is refused wrongly.
    #[test]
    fn random_samples_round_trip_through_the_encoder() {
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut tried, mut body, mut all) = (0, String::new(), Vec::new());
        while tried < 3000 {
            let mut s = random_sample(&mut rng);
            if let Some(FieldValue::Float(f)) = s.fields.first().map(|(_, v)| v.clone()) {
                if !f.is_finite() {
                    s.fields[0].1 = FieldValue::Float(1.0);
                }
            }
            // The encoder leaves empty tag values out; names must be distinct.
            s.tags.retain(|_, v| !v.is_empty());
            let mut names: Vec<&str> = s.fields.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let reserved = s.tags.keys().any(|k| REFUSED_TAG_KEYS.contains(&k.as_str()))
                || s.fields.iter().any(|(k, _)| RESERVED_FIELD_NAMES.contains(&k.as_str()));
            if names.len() != s.fields.len() || reserved || check_sample(&s).is_err() {
                continue;
            }
            tried += 1;
            let line = encoded(&s);
            let back = parse(line.as_bytes(), Precision::Ns, NOW);
            assert!(back.errors.is_empty(), "{line:?}: {:?}", back.errors);
            assert_eq!(back.samples, std::slice::from_ref(&s), "{line:?}");
            for (a, b) in back.samples[0].fields.iter().zip(&s.fields) {
                if let (FieldValue::Float(x), FieldValue::Float(y)) = (&a.1, &b.1) {
                    assert_eq!(x.to_bits(), y.to_bits(), "{line:?}");
                }
            }
            body.push_str(&line);
            all.push(s);
        }
        let back = parse(body.as_bytes(), Precision::Ns, NOW);
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.samples, all);
    }

    /// Property (fixed seed): whatever the bytes, no panic, and whatever is
    /// accepted can be forwarded and reads back the same.
    #[test]
    fn random_bytes_and_mutations_stay_forwardable() {
        let mut rng = fastrand::Rng::with_seed(11);
        let bytes: &[u8] = b"ab=, \\\"\n\r\t#\0iu.-+e19tTfF\xff\xc3\xa9";
        let pieces: &[&[u8]] = &[
            b"m",
            b"a",
            b",",
            b"=",
            b" ",
            b"1",
            b"-1.5",
            b"2i",
            b"3u",
            b"t",
            b"\"",
            b"\\",
            b"\n",
            b"\r",
            b"\t",
            b"#",
            b"\0",
            b"\xff",
            b"\xc3",
            b"x=1",
            b" v=1",
            b"\"s\"",
            b" 123",
            b"m v=1",
            b"\nm v=1",
            b"\nm,t=a v=1",
            b",t=a",
        ];
        let (mut accepted, mut refused) = ([0; 2], [0; 2]);
        for round in 0..6000 {
            let body: Vec<u8> = match round % 2 {
                // Pieces of line protocol in any order.
                0 => (0..rng.usize(0..12))
                    .flat_map(|_| pieces[rng.usize(..pieces.len())].iter().copied())
                    .collect(),
                _ => {
                    // A valid body with a few bytes changed, inserted or removed.
                    let mut b: Vec<u8> = (0..3)
                        .map(|_| encoded_or_plain(&mut rng))
                        .collect::<String>()
                        .into_bytes();
                    for _ in 0..rng.usize(1..4) {
                        let at = rng.usize(..=b.len());
                        match rng.u8(..3) {
                            0 if at < b.len() => b[at] = bytes[rng.usize(..bytes.len())],
                            1 if at < b.len() => {
                                b.remove(at);
                            }
                            _ => b.insert(at, bytes[rng.usize(..bytes.len())]),
                        }
                    }
                    b
                }
            };
            let parsed = parse(&body, Precision::Ns, NOW);
            let lines = body.iter().filter(|&&c| c == b'\n').count() + 1;
            assert!(parsed.samples.len() + parsed.error_count <= lines, "{body:?}");
            assert!(parsed.errors.len() <= MAX_ERRORS);
            for e in &parsed.errors {
                assert!((1..=lines).contains(&e.line), "{body:?}: {e:?}");
                assert!(!e.reason.is_empty());
            }
            for s in &parsed.samples {
                assert_forwardable(s);
            }
            accepted[round % 2] += parsed.samples.len();
            refused[round % 2] += parsed.error_count;
        }
        eprintln!("random bytes: {accepted:?} samples accepted, {refused:?} lines refused");
        // Not vacuous: both kinds of body give both outcomes.
        assert!(
            accepted.iter().chain(&refused).all(|&n| n >= 200),
            "{accepted:?} {refused:?}"
        );
    }

    fn encoded_or_plain(rng: &mut fastrand::Rng) -> String {
        loop {
            let s = random_sample(rng);
            if check_sample(&s).is_ok() {
                return encoded(&s);
            }
        }
    }

    /// `cargo test --release -p datalogger --lib sources::line_protocol -- --ignored --nocapture`
    #[test]
    #[ignore = "prints a throughput figure; run in release"]
    fn throughput() {
        let shapes = [
            "cpu,host=server01,region=us-west usage_idle=98.5,usage_user=1.25,procs=312i 1700000000000000000\n",
            "m v=1.5 1700000000000000000\n",
            "weather,site=roof temperature=21.5,humidity=40i,note=\"clear sky\",ok=true 1700000000000000000\n",
        ];
        for shape in shapes {
            let n = 500_000;
            let body = shape.repeat(n);
            // The best of three: the first run also pays for fresh memory.
            let secs = (0..3)
                .map(|_| {
                    let start = std::time::Instant::now();
                    let parsed = parse(body.as_bytes(), Precision::Ns, NOW);
                    let secs = start.elapsed().as_secs_f64();
                    assert_eq!(parsed.samples.len(), n);
                    drop(parsed); // not timed: freeing is the store's side
                    secs
                })
                .fold(f64::INFINITY, f64::min);
            println!(
                "{:>10.0} lines/s, {:>6.1} MB/s: {}",
                n as f64 / secs,
                body.len() as f64 / secs / 1e6,
                shape.trim_end()
            );
        }
    }
}
