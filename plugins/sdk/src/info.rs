//! What a plugin says about itself: [`Info`] and its [`Key`]s.

use crate::SampleError;

/// A decoder a plugin provides, e.g. `isems.csvlog`: sources name it in
/// their `"decoder"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoder {
    /// Full name: `<plugin name>.<format>`.
    pub name: String,
    pub description: String,
}

impl Decoder {
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Decoder {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// The plugin's description, returned once when the host loads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// The plugin's name; every key starts with `<name>.`.
    pub name: String,
    /// The plugin's own version; pass `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    pub description: String,
    pub keys: Vec<Key>,
    /// Decoders for pushed payloads (MQTT messages, `/ingest` bodies); see
    /// [`crate::Plugin::decode`].
    pub decoders: Vec<Decoder>,
}

impl Info {
    /// A plugin with no keys yet; add them with [`Info::key`].
    pub fn new(name: impl Into<String>, version: impl Into<String>, description: impl Into<String>) -> Self {
        Info {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            keys: Vec::new(),
            decoders: Vec::new(),
        }
    }

    /// Adds a decoder: a format this plugin reads pushed payloads in.
    pub fn decoder(mut self, decoder: Decoder) -> Self {
        self.decoders.push(decoder);
        self
    }

    /// The error for a decoder this plugin does not provide.
    pub fn unknown_decoder(&self, decoder: &str) -> crate::DecodeError {
        let provided: Vec<&str> = self.decoders.iter().map(|d| d.name.as_str()).collect();
        crate::DecodeError::Failed(format!(
            "unknown decoder {decoder:?}; the {} plugin provides {}",
            self.name,
            if provided.is_empty() {
                "none".to_string()
            } else {
                provided.join(", ")
            }
        ))
    }

    /// Adds a key.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds several keys.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// The `bad-argument` error for a key this plugin does not serve, naming
    /// the ones it does: `unknown key "x.y"; the x plugin serves x.a, x.b`.
    pub fn unknown_key(&self, key: &str) -> SampleError {
        let served: Vec<&str> = self.keys.iter().map(|k| k.name.as_str()).collect();
        SampleError::BadArgument(format!(
            "unknown key {key:?}; the {} plugin serves {}",
            self.name,
            served.join(", ")
        ))
    }
}

/// One key a plugin serves, e.g. `system.loadavg1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// Full key: `<plugin name>.<metric>`.
    pub name: String,
    pub description: String,
    /// `None` when the key takes no argument.
    pub arg: Option<Arg>,
    /// Unit of the primary field, e.g. `ms`, `°C`; empty when it has none.
    pub unit: String,
}

/// What a key needs as its item's `arg`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// What the argument means, e.g. "host name or IP address to ping".
    pub description: String,
    /// Whether an item with this key must have an `arg`.
    pub required: bool,
}

impl Key {
    /// A key that takes no argument and has no unit.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Key {
            name: name.into(),
            description: description.into(),
            arg: None,
            unit: String::new(),
        }
    }

    /// The key needs an `arg`, described by `description`.
    pub fn required_arg(mut self, description: impl Into<String>) -> Self {
        self.arg = Some(Arg {
            description: description.into(),
            required: true,
        });
        self
    }

    /// The key takes an optional `arg`, described by `description`.
    pub fn optional_arg(mut self, description: impl Into<String>) -> Self {
        self.arg = Some(Arg {
            description: description.into(),
            required: false,
        });
        self
    }

    /// The unit of the primary field.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }
}

/// The item's argument, trimmed, or a `bad-argument` error saying what is
/// expected when it is missing or blank.
///
/// ```
/// use datalogger_sdk::{required_arg, SampleError};
///
/// assert_eq!(required_arg(Some(" 10.0.0.1 "), "a host name or IP address"), Ok("10.0.0.1"));
/// assert_eq!(
///     required_arg(None, "a host name or IP address"),
///     Err(SampleError::BadArgument("this key needs an arg: a host name or IP address".into()))
/// );
/// ```
pub fn required_arg<'a>(arg: Option<&'a str>, expected: &str) -> Result<&'a str, SampleError> {
    match arg.map(str::trim) {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(SampleError::BadArgument(format!("this key needs an arg: {expected}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_builder() {
        let k = Key::new("net.ping", "ICMP echo")
            .required_arg("host name or IP")
            .unit("ms");
        assert_eq!(k.name, "net.ping");
        assert_eq!(
            k.arg,
            Some(Arg {
                description: "host name or IP".into(),
                required: true
            })
        );
        assert_eq!(k.unit, "ms");
        let k = Key::new("x.y", "d").optional_arg("bus=N");
        assert!(!k.arg.unwrap().required);
        assert_eq!(Key::new("x.z", "d").arg, None);
    }

    #[test]
    fn unknown_key_names_the_served_keys() {
        let info = Info::new("x", "1.0.0", "d")
            .key(Key::new("x.a", ""))
            .keys([Key::new("x.b", "")]);
        assert_eq!(
            info.unknown_key("x.c"),
            SampleError::BadArgument("unknown key \"x.c\"; the x plugin serves x.a, x.b".into())
        );
    }

    #[test]
    fn required_arg_rejects_blank() {
        assert!(required_arg(Some("  "), "x").is_err());
        assert_eq!(required_arg(Some("a"), "x"), Ok("a"));
    }
}
