//! InfluxDB line protocol: `measurement,tag=v field=1.5,n=3i 1700000000000000000`.
//!
//! Escaping follows the protocol reference: measurements escape commas and
//! spaces; tag keys, tag values and field keys also escape `=`; string field
//! values escape `"` and `\`. Newlines cannot appear anywhere in a line, so they
//! are written as the two characters `\n`. Timestamps are nanoseconds.
//!
//! Shared by the InfluxDB sinks: `encode_rows` shapes stored rows in a
//! `Schema` and encodes them.

use crate::sample::FieldValue;
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

/// The rows as line protocol, one line each, in `schema`.
pub fn encode_rows(rows: &[&Row], schema: Schema, unsigned: Unsigned) -> String {
    let mut body = String::with_capacity(rows.len() * 80);
    for row in rows {
        let s = &row.sample;
        let line = match schema {
            Schema::Default => Line {
                measurement: &s.measurement,
                tags: s
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .chain([("item", row.item.as_str())])
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
        };
        encode(&line, unsigned, &mut body);
    }
    body
}

/// How one point is written; both schemas feed the same encoder.
pub struct Line<'a> {
    pub measurement: &'a str,
    /// Sorted by key (InfluxDB's fastest path); empty values are left out,
    /// since line protocol cannot express them.
    pub tags: Vec<(&'a str, &'a str)>,
    pub fields: Vec<(&'a str, &'a FieldValue)>,
    pub timestamp_ns: i64,
}

/// Whether the server understands the `u` suffix (InfluxDB 2.x, 3.x and
/// VictoriaMetrics do; InfluxDB 1.x rejects it, so unsigned values go as `i`
/// when they fit, else as floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsigned {
    Supported,
    AsInteger,
}

pub fn encode(line: &Line, unsigned: Unsigned, out: &mut String) {
    escape(line.measurement, &[',', ' '], out);
    let mut tags = line.tags.clone();
    tags.sort_unstable();
    for (k, v) in tags.into_iter().filter(|(k, v)| !k.is_empty() && !v.is_empty()) {
        out.push(',');
        escape(k, &[',', '=', ' '], out);
        out.push('=');
        escape(v, &[',', '=', ' '], out);
    }
    for (i, (name, value)) in line.fields.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        escape(name, &[',', '=', ' '], out);
        out.push('=');
        field_value(value, unsigned, out);
    }
    let _ = write!(out, " {}", line.timestamp_ns);
    out.push('\n');
}

fn field_value(value: &FieldValue, unsigned: Unsigned, out: &mut String) {
    let _ = match value {
        // `{}` prints the shortest string that reads back as the same f64; a
        // bare number without suffix is a float to InfluxDB.
        FieldValue::Float(f) => write!(out, "{f}"),
        FieldValue::Int(i) => write!(out, "{i}i"),
        FieldValue::Uint(u) => match unsigned {
            Unsigned::Supported => write!(out, "{u}u"),
            Unsigned::AsInteger if *u <= i64::MAX as u64 => write!(out, "{u}i"),
            Unsigned::AsInteger => write!(out, "{}", *u as f64),
        },
        FieldValue::Boolean(b) => write!(out, "{b}"),
        FieldValue::Text(s) => {
            out.push('"');
            escape(s, &['"', '\\'], out);
            out.push('"');
            Ok(())
        }
    };
}

/// Writes `s`, backslash-escaping `special` characters and any backslash
/// that would otherwise escape one of them; newlines become `\n`.
fn escape(s: &str, special: &[char], out: &mut String) {
    if !s.contains(|c: char| c == '\n' || c == '\r' || special.contains(&c)) {
        out.push_str(s); // the common case: nothing to escape
        return;
    }
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if special.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
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
        let fields = [("a", FieldValue::Uint(5)), ("b", FieldValue::Uint(u64::MAX))];
        let s = one("m", &[], &fields, Unsigned::AsInteger);
        assert_eq!(s, "m a=5i,b=18446744073709552000 1700000000000000000\n");
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
    fn newlines_never_break_a_line_and_empty_tags_are_left_out() {
        let s = one(
            "m",
            &[("t", "a\nb"), ("empty", "")],
            &[("s", FieldValue::Text("x\ny".into()))],
            Unsigned::Supported,
        );
        assert_eq!(s, "m,t=a\\nb s=\"x\\ny\" 1700000000000000000\n");
        assert_eq!(s.matches('\n').count(), 1);
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
