//! Samples: [`Point`] and its field [`Value`]s.

/// The value of one field of a sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A 64-bit float (an InfluxDB float field).
    Float(f64),
    /// A signed integer (InfluxDB `i` suffix).
    Int(i64),
    /// An unsigned integer (InfluxDB `u` suffix; not every InfluxDB 1.x accepts these).
    Uint(u64),
    Bool(bool),
    Text(String),
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v.into())
    }
}

/// Integer types that fit an `i64` become [`Value::Int`]; `u64` becomes [`Value::Uint`].
macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(v.into())
            }
        }
    )*};
}
int_value!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Uint(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.into())
    }
}

/// One sample: a point of a time series (InfluxDB's "point").
///
/// Built with chained calls; fields keep the order they were added in, and the
/// FIRST field is the item's primary value (`last_value` in the REST API):
///
/// ```
/// use datalogger_sdk::{Point, Value};
///
/// let p = Point::new("ping")
///     .tag("url", "10.0.0.1")
///     .float("average_response_ms", 1.25)
///     .int("packets_received", 3)
///     .optional("maximum_response_ms", None::<f64>);
/// assert_eq!(p.primary(), Some(("average_response_ms", &Value::Float(1.25))));
/// assert_eq!(p.fields.len(), 2);
/// assert_eq!(p.timestamp_ns, None); // the host stamps it with the tick time
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name, e.g. `loadavg`.
    pub measurement: String,
    /// Tags as (key, value), in the order added.
    pub tags: Vec<(String, String)>,
    /// Fields as (name, value); the first is the primary value. A point needs
    /// at least one.
    pub fields: Vec<(String, Value)>,
    /// Nanoseconds since the Unix epoch; `None` (the default) lets the host
    /// stamp the sample with the poll's tick time. A point that carries its own
    /// time is idempotent: the host keeps one sample per series and timestamp.
    pub timestamp_ns: Option<i64>,
}

impl Point {
    /// A point of `measurement` with no tags, no fields and no timestamp.
    pub fn new(measurement: impl Into<String>) -> Self {
        Point {
            measurement: measurement.into(),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp_ns: None,
        }
    }

    /// Adds a tag; a tag with the same key is replaced in place.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.tags.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.tags.push((key, value)),
        }
        self
    }

    /// Adds every (key, value) of `tags`, as [`Point::tag`] does.
    pub fn tags<K: Into<String>, V: Into<String>>(self, tags: impl IntoIterator<Item = (K, V)>) -> Self {
        tags.into_iter().fold(self, |p, (k, v)| p.tag(k, v))
    }

    /// Adds a field of any type that converts into a [`Value`]; a field with
    /// the same name is replaced in place (keeping its position).
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let (name, value) = (name.into(), value.into());
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
        self
    }

    /// Adds every (name, value) of `fields`, in order, as [`Point::field`] does.
    pub fn fields<N: Into<String>, V: Into<Value>>(self, fields: impl IntoIterator<Item = (N, V)>) -> Self {
        fields.into_iter().fold(self, |p, (n, v)| p.field(n, v))
    }

    /// Adds the field only when `value` is `Some`.
    pub fn optional(self, name: impl Into<String>, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.field(name, v),
            None => self,
        }
    }

    /// Adds a float field.
    pub fn float(self, name: impl Into<String>, value: f64) -> Self {
        self.field(name, Value::Float(value))
    }

    /// Adds a signed integer field.
    pub fn int(self, name: impl Into<String>, value: i64) -> Self {
        self.field(name, Value::Int(value))
    }

    /// Adds an unsigned integer field.
    pub fn uint(self, name: impl Into<String>, value: u64) -> Self {
        self.field(name, Value::Uint(value))
    }

    /// Adds a boolean field.
    pub fn boolean(self, name: impl Into<String>, value: bool) -> Self {
        self.field(name, Value::Bool(value))
    }

    /// Adds a string field.
    pub fn text(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.field(name, Value::Text(value.into()))
    }

    /// Stamps the point with the device's own time (ns since the Unix epoch).
    pub fn at_ns(mut self, timestamp_ns: i64) -> Self {
        self.timestamp_ns = Some(timestamp_ns);
        self
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of tag `key`.
    pub fn tag_value(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The primary (first) field.
    pub fn primary(&self) -> Option<(&str, &Value)> {
        self.fields.first().map(|(n, v)| (n.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_keeps_order_and_types() {
        let p = Point::new("m")
            .tag("b", "2")
            .tag("a", "1")
            .float("f", 1.5)
            .int("i", -3)
            .uint("u", 7)
            .boolean("b", true)
            .text("t", "x")
            .field("n", 5u32)
            .at_ns(42);
        assert_eq!(p.measurement, "m");
        assert_eq!(p.tags, vec![("b".into(), "2".into()), ("a".into(), "1".into())]);
        let names: Vec<&str> = p.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["f", "i", "u", "b", "t", "n"]);
        assert_eq!(p.get("f"), Some(&Value::Float(1.5)));
        assert_eq!(p.get("i"), Some(&Value::Int(-3)));
        assert_eq!(p.get("u"), Some(&Value::Uint(7)));
        assert_eq!(p.get("b"), Some(&Value::Bool(true)));
        assert_eq!(p.get("t"), Some(&Value::Text("x".into())));
        assert_eq!(p.get("n"), Some(&Value::Int(5)));
        assert_eq!(p.get("missing"), None);
        assert_eq!(p.primary(), Some(("f", &Value::Float(1.5))));
        assert_eq!(p.tag_value("a"), Some("1"));
        assert_eq!(p.timestamp_ns, Some(42));
    }

    #[test]
    fn same_name_replaces_in_place() {
        let p = Point::new("m")
            .float("a", 1.0)
            .float("b", 2.0)
            .int("a", 3)
            .tag("t", "x")
            .tag("t", "y");
        assert_eq!(
            p.fields,
            vec![("a".into(), Value::Int(3)), ("b".into(), Value::Float(2.0))]
        );
        assert_eq!(p.tags, vec![("t".into(), "y".into())]);
    }

    #[test]
    fn optional_and_bulk_fields() {
        let p = Point::new("m")
            .optional("none", None::<f64>)
            .optional("some", Some(2.5))
            .fields([("x", Value::Int(1)), ("y", Value::Bool(false))])
            .tags([("k", String::from("v"))]);
        assert_eq!(
            p.fields,
            vec![
                ("some".into(), Value::Float(2.5)),
                ("x".into(), Value::Int(1)),
                ("y".into(), Value::Bool(false))
            ]
        );
        assert_eq!(p.tag_value("k"), Some("v"));
        assert_eq!(Point::new("empty").primary(), None);
    }

    #[test]
    fn value_conversions() {
        assert_eq!(Value::from(1.5f32), Value::Float(1.5));
        assert_eq!(Value::from(-1i8), Value::Int(-1));
        assert_eq!(Value::from(u32::MAX), Value::Int(u32::MAX.into()));
        assert_eq!(Value::from(u64::MAX), Value::Uint(u64::MAX));
        assert_eq!(Value::from("s"), Value::Text("s".into()));
        assert_eq!(Value::from(true), Value::Bool(true));
    }
}
