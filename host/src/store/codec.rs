//! How a sample is kept in a row: tags as a JSON object, fields as a JSON
//! object plus one type letter per field, so integers, unsigned integers and
//! floats come back exactly as the plugin gave them.

use super::Row;
use crate::sample::{FieldValue, Sample};
use std::collections::BTreeMap;

pub(super) fn encode_fields(fields: &[(String, FieldValue)]) -> (String, String) {
    let mut map = serde_json::Map::new();
    let mut types = String::with_capacity(fields.len());
    for (name, value) in fields {
        types.push(match value {
            FieldValue::Float(_) => 'f',
            FieldValue::Int(_) => 'i',
            FieldValue::Uint(_) => 'u',
            FieldValue::Boolean(_) => 'b',
            FieldValue::Text(_) => 's',
        });
        map.insert(name.clone(), value.to_json());
    }
    (serde_json::Value::Object(map).to_string(), types)
}

/// Reads the fields JSON straight into typed values, guided by the type
/// letters (no intermediate JSON map: this is the hot path of forwarding).
fn decode_fields(json: &str, types: &str) -> Result<Vec<(String, FieldValue)>, String> {
    use serde::de::{DeserializeSeed, Error, MapAccess, Visitor};

    struct Fields<'a>(&'a [u8]);

    impl<'de> DeserializeSeed<'de> for Fields<'_> {
        type Value = Vec<(String, FieldValue)>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Fields<'_> {
        type Value = Vec<(String, FieldValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of fields")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(self.0.len());
            while let Some(name) = map.next_key::<String>()? {
                let value = match self.0.get(out.len()) {
                    Some(b'f') => FieldValue::Float(map.next_value()?),
                    Some(b'i') => FieldValue::Int(map.next_value()?),
                    Some(b'u') => FieldValue::Uint(map.next_value()?),
                    Some(b'b') => FieldValue::Boolean(map.next_value()?),
                    Some(b's') => FieldValue::Text(map.next_value()?),
                    _ => return Err(A::Error::custom(format!("field {name} has no valid type letter"))),
                };
                out.push((name, value));
            }
            Ok(out)
        }
    }

    let mut de = serde_json::Deserializer::from_str(json);
    Fields(types.as_bytes()).deserialize(&mut de).map_err(|e| e.to_string())
}

/// Collects rows, skipping (and logging) any that cannot be decoded, so one
/// damaged row never blocks an item's history or an output's progress.
pub(super) fn readable(rows: impl Iterator<Item = rusqlite::Result<anyhow::Result<Row>>>) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for row in rows {
        match row? {
            Ok(r) => out.push(r),
            Err(e) => tracing::error!("skipping an unreadable stored sample: {e:#}"),
        }
    }
    Ok(out)
}

pub(super) fn row_from_sql(r: &rusqlite::Row) -> rusqlite::Result<anyhow::Result<Row>> {
    let seq: i64 = r.get(0)?;
    let item: String = r.get(1)?;
    let measurement: String = r.get(2)?;
    let tags: String = r.get(3)?;
    let fields: String = r.get(4)?;
    let types: String = r.get(5)?;
    let timestamp_ns: i64 = r.get(6)?;
    Ok((|| {
        let tags: BTreeMap<String, String> = serde_json::from_str(&tags)?;
        let fields = decode_fields(&fields, &types).map_err(|e| anyhow::anyhow!("sample {seq}: {e}"))?;
        Ok(Row {
            seq,
            item,
            sample: Sample {
                measurement,
                tags,
                fields,
                timestamp_ns,
            },
        })
    })())
}
