//! How a hot sample's fields are kept in one BLOB: for each field, in the
//! plugin's order, its interned name id, a type byte and the value — floats as
//! 8 bytes, integers as (zigzag) varints, strings with a length. Exact for every
//! type: integers, unsigned integers and floats come back as the plugin gave them.

use crate::sample::FieldValue;

const FLOAT: u8 = 0;
const INT: u8 = 1;
const UINT: u8 = 2;
const FALSE: u8 = 3;
const TRUE: u8 = 4;
const TEXT: u8 = 5;

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(super) fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// Reads what `put_varint` and friends wrote; every read is bounds-checked,
/// so a damaged blob is an error, never a panic.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn byte(&mut self) -> Result<u8, String> {
        let (&b, rest) = self.bytes.split_first().ok_or("truncated")?;
        self.bytes = rest;
        Ok(b)
    }

    pub fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    /// A varint used as a count or length, checked against what is left.
    pub fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len().max(1) * 8)
            .ok_or_else(|| format!("length {n} exceeds the data"))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err("truncated".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()? as usize;
        self.take(n)
    }

    pub fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|e| e.to_string())
    }
}

pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Fields with their interned name ids → the hot row's BLOB.
pub(super) fn encode_fields(fields: &[(u32, &FieldValue)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.len() * 10);
    for (id, value) in fields {
        put_varint(&mut out, u64::from(*id));
        match value {
            FieldValue::Float(f) => {
                out.push(FLOAT);
                out.extend_from_slice(&f.to_le_bytes());
            }
            FieldValue::Int(i) => {
                out.push(INT);
                put_varint(&mut out, zigzag(*i));
            }
            FieldValue::Uint(u) => {
                out.push(UINT);
                put_varint(&mut out, *u);
            }
            FieldValue::Boolean(b) => out.push(if *b { TRUE } else { FALSE }),
            FieldValue::Text(s) => {
                out.push(TEXT);
                put_bytes(&mut out, s.as_bytes());
            }
        }
    }
    out
}

/// The hot row's BLOB → (name id, value), in the stored order.
pub(super) fn decode_fields(blob: &[u8]) -> Result<Vec<(u32, FieldValue)>, String> {
    let mut r = Reader::new(blob);
    let mut out = Vec::new();
    while !r.is_empty() {
        let id = u32::try_from(r.varint()?).map_err(|_| "field id out of range")?;
        let value = match r.byte()? {
            FLOAT => FieldValue::Float(f64::from_le_bytes(r.take(8)?.try_into().unwrap())),
            INT => FieldValue::Int(unzigzag(r.varint()?)),
            UINT => FieldValue::Uint(r.varint()?),
            FALSE => FieldValue::Boolean(false),
            TRUE => FieldValue::Boolean(true),
            TEXT => FieldValue::Text(r.text()?),
            other => return Err(format!("unknown field type {other}")),
        };
        out.push((id, value));
    }
    Ok(out)
}

/// One numeric field of a hot row's BLOB, read without building the others
/// (a text field is skipped, not copied); `None` when absent or not numeric.
pub(super) fn numeric_field(blob: &[u8], field: u32) -> Option<f64> {
    let mut r = Reader::new(blob);
    while !r.is_empty() {
        let id = r.varint().ok()?;
        let value = match r.byte().ok()? {
            FLOAT => Some(f64::from_le_bytes(r.take(8).ok()?.try_into().ok()?)),
            INT => Some(unzigzag(r.varint().ok()?) as f64),
            UINT => Some(r.varint().ok()? as f64),
            FALSE | TRUE => None,
            TEXT => {
                r.bytes().ok()?;
                None
            }
            _ => return None,
        };
        if id == u64::from(field) {
            return value;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_exactly() {
        let values = [
            FieldValue::Float(-0.0),
            FieldValue::Float(f64::MIN_POSITIVE),
            FieldValue::Float(f64::MAX),
            FieldValue::Int(i64::MIN),
            FieldValue::Int(i64::MAX),
            FieldValue::Int(-1),
            FieldValue::Uint(u64::MAX),
            FieldValue::Uint(i64::MAX as u64 + 1),
            FieldValue::Boolean(true),
            FieldValue::Boolean(false),
            FieldValue::Text(String::new()),
            FieldValue::Text("kök ✓ \"q\"".into()),
        ];
        let fields: Vec<(u32, &FieldValue)> = values.iter().enumerate().map(|(i, v)| (i as u32 * 300, v)).collect();
        let back = decode_fields(&encode_fields(&fields)).unwrap();
        assert_eq!(back.len(), values.len());
        for ((id, v), (bid, bv)) in fields.iter().zip(&back) {
            assert_eq!(id, bid);
            match (v, bv) {
                (FieldValue::Float(a), FieldValue::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(*v, bv),
            }
        }
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let blob = encode_fields(&[(7, &FieldValue::Text("hello".into())), (8, &FieldValue::Float(1.5))]);
        for cut in 0..blob.len() {
            let _ = decode_fields(&blob[..cut]);
        }
        assert!(decode_fields(&[1, 9]).is_err());
    }
}
