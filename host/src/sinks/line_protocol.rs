//! InfluxDB line protocol: `measurement,tag=v field=1.5,n=3i 1700000000000000000`.
//!
//! Escaping follows InfluxDB 1.x's parser (checked against a real 1.6 by the
//! e2e property test `line_protocol_round_trips_through_influxdb`): a
//! backslash escapes the next character where that character is special, and
//! is kept literally everywhere else (`\\` stays two backslashes):
//!
//! | position | escaped | |
//! |---|---|---|
//! | measurement | `,` space | |
//! | tag key, tag value | `,` `=` space | |
//! | field key | `,` `=` space `"` | |
//! | string field value | `"` `\` | newlines are written as they are (the parser allows them inside quotes) |
//!
//! A measurement is read back with `\=` and `\"` unescaped too.
//! What the parser cannot read back exactly is refused (`check_sample`,
//! `refusal`) rather than sent: a backslash at the end of a name or right
//! before a character escaped there (the parser treats any such backslash as
//! an escape), newlines in names, a measurement starting with `#` (a comment
//! line) or whitespace, a field key starting with a tab or NUL, empty names,
//! non-finite floats, and, for InfluxDB 1.x, unsigned values above i64::MAX.
//! VictoriaMetrics reads a doubled backslash as one; InfluxDB does not.
//!
//! Shared by the InfluxDB sinks: `encode_rows` shapes stored rows in a
//! `Schema` and encodes them. Timestamps are nanoseconds.

use crate::sample::{FieldValue, Sample};
use crate::store::Row;
use serde::Deserialize;
use std::fmt::Write;

/// How rows are shaped into points (an InfluxDB sink's `"schema"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schema {
    /// measurement = the sample's, tags = the sample's plus `item=<name>`.
    #[default]
    Default,
    /// What the Python logger wrote: measurement `rpdemo`, field key = item
    /// name, value = the primary field, no tags.
    Rpdemo,
}

impl Schema {
    pub fn name(self) -> &'static str {
        match self {
            Schema::Default => "default",
            Schema::Rpdemo => "rpdemo",
        }
    }
}

/// The point `row` becomes in `schema`.
pub fn line(row: &Row, schema: Schema) -> Line<'_> {
    let s = &row.sample;
    match schema {
        Schema::Default => Line {
            measurement: &s.measurement,
            tags: s
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                // A point's own `item` tag (a pushed point may have one) wins
                // over the host's; the store keeps both apart.
                .chain((!s.tags.contains_key("item")).then_some(("item", row.item.as_str())))
                .collect(),
            fields: s.fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            timestamp_ns: s.timestamp_ns,
        },
        Schema::Rpdemo => Line {
            measurement: "rpdemo",
            tags: Vec::new(),
            fields: vec![(row.item.as_str(), &s.fields[0].1)],
            timestamp_ns: s.timestamp_ns,
        },
    }
}

/// The rows as line protocol, one line each, in `schema`. Rows `refusal`
/// refuses must be left out by the caller.
pub fn encode_rows(rows: &[&Row], schema: Schema, unsigned: Unsigned) -> String {
    let mut body = String::with_capacity(rows.len() * 80);
    for row in rows {
        encode(&line(row, schema), unsigned, &mut body);
    }
    body
}

/// Why `row` cannot be sent in `schema` so that the server reads back
/// exactly what was stored, if it cannot.
pub fn refusal(row: &Row, schema: Schema, unsigned: Unsigned) -> Option<String> {
    check_line(&line(row, schema), unsigned).err()
}

/// Whether `sample` can be written as line protocol and read back identically
/// by InfluxDB (names, tags and values; the sink adds its `item` tag). For
/// sample validation, so that a plugin's unwritable sample is an `invalid
/// result` at once; the sinks check each row again (`refusal`), including
/// what only some servers refuse (unsigned values above i64::MAX for 1.x).
pub fn check_sample(sample: &Sample) -> Result<(), String> {
    let line = Line {
        measurement: &sample.measurement,
        tags: sample.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        fields: sample.fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        timestamp_ns: sample.timestamp_ns,
    };
    check_line(&line, Unsigned::Supported)
}

/// How one point is written; both schemas feed the same encoder.
pub struct Line<'a> {
    pub measurement: &'a str,
    /// Sorted by key (InfluxDB's fastest path); empty values are left out,
    /// since line protocol cannot express them (InfluxDB treats a tag with an
    /// empty value as no tag).
    pub tags: Vec<(&'a str, &'a str)>,
    pub fields: Vec<(&'a str, &'a FieldValue)>,
    pub timestamp_ns: i64,
}

/// Whether the server understands the `u` suffix (InfluxDB 2.x, 3.x and
/// VictoriaMetrics do; InfluxDB 1.x rejects it, so unsigned values go as `i`,
/// and those above i64::MAX are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsigned {
    Supported,
    AsInteger,
}

/// Characters escaped with a backslash, by position.
const MEASUREMENT: &[char] = &[',', ' '];
/// What InfluxDB 1.x unescapes in a measurement when it reads it: more than
/// needs escaping there, so a backslash before these cannot be written.
const MEASUREMENT_READ: &[char] = &[',', ' ', '=', '"'];
const TAG: &[char] = &[',', '=', ' '];
const FIELD_KEY: &[char] = &[',', '=', ' ', '"'];
const STRING_VALUE: &[char] = &['"', '\\'];

/// Writes one point and its newline. The line must have passed `check_line`.
pub fn encode(line: &Line, unsigned: Unsigned, out: &mut String) {
    escape(line.measurement, MEASUREMENT, out);
    let mut tags = line.tags.clone();
    tags.sort_unstable();
    for (k, v) in tags.into_iter().filter(|(_, v)| !v.is_empty()) {
        out.push(',');
        escape(k, TAG, out);
        out.push('=');
        escape(v, TAG, out);
    }
    for (i, (name, value)) in line.fields.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        escape(name, FIELD_KEY, out);
        out.push('=');
        field_value(value, unsigned, out);
    }
    let _ = write!(out, " {}", line.timestamp_ns);
    out.push('\n');
}

/// Why InfluxDB would not read `line` back as it is, if so.
fn check_line(line: &Line, unsigned: Unsigned) -> Result<(), String> {
    let m = line.measurement;
    check_name("measurement", m, MEASUREMENT_READ)?;
    if m.starts_with(['#', '\t', '\0']) {
        return Err(format!(
            "measurement {m:?} starts with {:?}, which InfluxDB reads as a comment or skips",
            m.chars().next().unwrap_or_default()
        ));
    }
    for (k, v) in &line.tags {
        check_name("tag key", k, TAG)?;
        if !v.is_empty() {
            check_name(&format!("tag {k:?}: the value"), v, TAG)?;
        }
    }
    if line.fields.is_empty() {
        return Err(format!("measurement {m:?}: a point needs at least one field"));
    }
    for (k, value) in &line.fields {
        check_name("field key", k, FIELD_KEY)?;
        if k.starts_with(['\t', '\0']) {
            return Err(format!(
                "field key {k:?} starts with a tab or NUL, which InfluxDB skips"
            ));
        }
        match value {
            FieldValue::Float(f) if !f.is_finite() => {
                return Err(format!("field {k:?} is {f}; InfluxDB stores only finite floats"))
            }
            FieldValue::Uint(u) if unsigned == Unsigned::AsInteger && *u > i64::MAX as u64 => {
                return Err(format!(
                    "field {k:?} is {u}, above the largest integer InfluxDB 1.x stores ({})",
                    i64::MAX
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A name is writable if it is not empty, has no line break, and every
/// backslash in it is followed by a character that is not escaped in this
/// position (InfluxDB's parser takes a backslash before one as an escape and
/// keeps every other backslash as it is, so there is no way to write one).
fn check_name(what: &str, s: &str, special: &[char]) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if s.contains('\n') {
        return Err(format!(
            "{what} {s:?} contains a line break, which line protocol cannot carry"
        ));
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        match chars.peek() {
            None => {
                return Err(format!(
                    "{what} {s:?} ends with a backslash, which line protocol cannot write (it would escape the separator after it)"
                ))
            }
            Some(next) if special.contains(next) => {
                return Err(format!(
                    "{what} {s:?} has a backslash before {next:?}, which line protocol cannot write (it reads as an escape)"
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn field_value(value: &FieldValue, unsigned: Unsigned, out: &mut String) {
    let _ = match value {
        // `{}` prints the shortest string that reads back as the same f64; a
        // bare number without suffix is a float to InfluxDB.
        FieldValue::Float(f) => write!(out, "{f}"),
        FieldValue::Int(i) => write!(out, "{i}i"),
        FieldValue::Uint(u) => match unsigned {
            Unsigned::Supported => write!(out, "{u}u"),
            // Above i64::MAX is refused by `check_line`.
            Unsigned::AsInteger => write!(out, "{u}i"),
        },
        FieldValue::Boolean(b) => write!(out, "{b}"),
        FieldValue::Text(s) => {
            out.push('"');
            escape(s, STRING_VALUE, out);
            out.push('"');
            Ok(())
        }
    };
}

/// Writes `s`, backslash-escaping `special` characters; every other
/// character, backslashes and newlines included, goes as it is.
fn escape(s: &str, special: &[char], out: &mut String) {
    if !s.contains(special) {
        out.push_str(s); // the common case: nothing to escape
        return;
    }
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;
    use std::collections::BTreeMap;

    fn row(item: &str, measurement: &str, ts: i64) -> Row {
        Row {
            seq: 1,
            item: item.into(),
            sample: Sample {
                measurement: measurement.into(),
                tags: BTreeMap::from([("host".into(), "pi".into())]),
                fields: vec![
                    ("load1".into(), FieldValue::Float(0.5)),
                    ("n".into(), FieldValue::Int(2)),
                ],
                timestamp_ns: ts,
            },
        }
    }

    #[test]
    fn default_schema_adds_the_item_tag() {
        let body = encode_rows(&[&row("l1", "system", 7)], Schema::Default, Unsigned::Supported);
        assert_eq!(body, "system,host=pi,item=l1 load1=0.5,n=2i 7\n");
    }

    #[test]
    fn rpdemo_schema_writes_what_the_python_logger_wrote() {
        let rows = [row("l1", "system", 7), row("l2", "system", 8)];
        let body = encode_rows(&[&rows[0], &rows[1]], Schema::Rpdemo, Unsigned::Supported);
        assert_eq!(body, "rpdemo l1=0.5 7\nrpdemo l2=0.5 8\n");
    }

    fn one(measurement: &str, tags: &[(&str, &str)], fields: &[(&str, FieldValue)], unsigned: Unsigned) -> String {
        let line = Line {
            measurement,
            tags: tags.to_vec(),
            fields: fields.iter().map(|(k, v)| (*k, v)).collect(),
            timestamp_ns: 1_700_000_000_000_000_000,
        };
        let mut out = String::new();
        encode(&line, unsigned, &mut out);
        out
    }

    #[test]
    fn plain_point() {
        let s = one(
            "system",
            &[("item", "load1")],
            &[("load1", FieldValue::Float(0.5))],
            Unsigned::Supported,
        );
        assert_eq!(s, "system,item=load1 load1=0.5 1700000000000000000\n");
    }

    #[test]
    fn every_field_type() {
        let s = one(
            "m",
            &[],
            &[
                ("f", FieldValue::Float(1.0)),
                ("g", FieldValue::Float(-2.5e-7)),
                ("i", FieldValue::Int(-3)),
                ("u", FieldValue::Uint(7)),
                ("t", FieldValue::Boolean(true)),
                ("b", FieldValue::Boolean(false)),
                ("s", FieldValue::Text("on".into())),
            ],
            Unsigned::Supported,
        );
        assert_eq!(
            s,
            "m f=1,g=-0.00000025,i=-3i,u=7u,t=true,b=false,s=\"on\" 1700000000000000000\n"
        );
    }

    #[test]
    fn unsigned_for_servers_without_u() {
        let fields = [("a", FieldValue::Uint(5)), ("b", FieldValue::Uint(i64::MAX as u64))];
        let s = one("m", &[], &fields, Unsigned::AsInteger);
        assert_eq!(s, "m a=5i,b=9223372036854775807i 1700000000000000000\n");
        let too_big = FieldValue::Uint(u64::MAX);
        let line = Line {
            measurement: "m",
            tags: vec![],
            fields: vec![("b", &too_big)],
            timestamp_ns: 0,
        };
        let e = check_line(&line, Unsigned::AsInteger).unwrap_err();
        assert!(e.contains("\"b\"") && e.contains("InfluxDB 1.x"), "{e}");
        assert!(check_line(&line, Unsigned::Supported).is_ok());
    }

    #[test]
    fn measurement_escapes_comma_and_space_only() {
        let s = one("my meas,x=y", &[], &[("v", FieldValue::Int(1))], Unsigned::Supported);
        assert_eq!(s, "my\\ meas\\,x=y v=1i 1700000000000000000\n");
    }

    #[test]
    fn tag_and_field_keys_and_values_escape_comma_equals_space() {
        let s = one(
            "m",
            &[("room name", "lab, 2=b"), ("a=b", "c")],
            &[("f,1 =", FieldValue::Int(1))],
            Unsigned::Supported,
        );
        assert_eq!(
            s,
            "m,a\\=b=c,room\\ name=lab\\,\\ 2\\=b f\\,1\\ \\==1i 1700000000000000000\n"
        );
    }

    #[test]
    fn string_values_escape_quotes_and_backslashes_not_commas() {
        let s = one(
            "m",
            &[],
            &[("s", FieldValue::Text(r#"say "hi", C:\dir=x"#.into()))],
            Unsigned::Supported,
        );
        assert_eq!(s, "m s=\"say \\\"hi\\\", C:\\\\dir=x\" 1700000000000000000\n");
    }

    #[test]
    fn backslashes_stay_literal_except_before_what_they_escape() {
        let s = one(
            "C:\\m",
            &[("k", "a\\b\\\\c\\\"")],
            &[("f\\x", FieldValue::Text("end\\".into())), ("q\"", FieldValue::Int(1))],
            Unsigned::Supported,
        );
        assert_eq!(
            s,
            "C:\\m,k=a\\b\\\\c\\\" f\\x=\"end\\\\\",q\\\"=1i 1700000000000000000\n"
        );
    }

    #[test]
    fn string_values_keep_newlines_and_empty_tags_are_left_out() {
        let s = one(
            "m",
            &[("t", "a"), ("empty", "")],
            &[("s", FieldValue::Text("x\ny".into()))],
            Unsigned::Supported,
        );
        assert_eq!(s, "m,t=a s=\"x\ny\" 1700000000000000000\n");
    }

    fn refused(measurement: &str, tags: &[(&str, &str)], fields: &[(&str, FieldValue)]) -> String {
        let line = Line {
            measurement,
            tags: tags.to_vec(),
            fields: fields.iter().map(|(k, v)| (*k, v)).collect(),
            timestamp_ns: 0,
        };
        check_line(&line, Unsigned::Supported).expect_err("should be refused")
    }

    #[test]
    fn what_line_protocol_cannot_carry_is_refused() {
        let v = || [("v", FieldValue::Int(1))];
        for (e, words) in [
            (refused("inj\\", &[], &v()), "ends with a backslash"),
            (refused("m", &[("a", "x\\")], &v()), "ends with a backslash"),
            (refused("m", &[("a\\", "x")], &v()), "ends with a backslash"),
            (
                refused("m", &[], &[("f\\", FieldValue::Int(2))]),
                "ends with a backslash",
            ),
            (refused("a\\,b", &[], &v()), "backslash before ','"),
            (refused("\\=", &[], &v()), "backslash before '='"),
            (refused("m", &[("a", "x\\=y")], &v()), "backslash before '='"),
            (
                refused("m", &[], &[("f\\\"", FieldValue::Int(2))]),
                "backslash before '\"'",
            ),
            (refused("m", &[("t", "a\nb")], &v()), "line break"),
            (refused("#m", &[], &v()), "comment"),
            (refused("\tm", &[], &v()), "skips"),
            (refused("m", &[], &[("\0f", FieldValue::Int(2))]), "tab or NUL"),
            (refused("", &[], &v()), "measurement is empty"),
            (refused("m", &[("", "x")], &v()), "tag key is empty"),
            (refused("m", &[], &[]), "at least one field"),
            (refused("m", &[], &[("f", FieldValue::Float(f64::NAN))]), "finite"),
        ] {
            assert!(e.contains(words), "{e:?} lacks {words:?}");
        }
        // Allowed: a backslash before anything not escaped there, `=` in a
        // measurement, a quote in a tag, an empty tag value (left out).
        let line = Line {
            measurement: "a=\\b",
            tags: vec![("k", "\\\"q"), ("e", "")],
            fields: vec![],
            timestamp_ns: 0,
        };
        let one_field = FieldValue::Text("\\\n\"".into());
        let line = Line {
            fields: vec![("f", &one_field)],
            ..line
        };
        assert_eq!(check_line(&line, Unsigned::AsInteger), Ok(()));
    }

    #[test]
    fn tags_are_sorted() {
        let s = one(
            "m",
            &[("z", "1"), ("a", "2")],
            &[("v", FieldValue::Int(1))],
            Unsigned::Supported,
        );
        assert!(s.starts_with("m,a=2,z=1 "), "{s}");
    }
}
