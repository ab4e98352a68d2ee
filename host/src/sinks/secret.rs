//! Passwords and tokens in the config: inline, or read from an environment
//! variable or a file at startup. Never printed.

use serde::Deserialize;
use std::fmt;

/// A password or token: inline, or read from an environment variable or a
/// file at startup (`{"env": "INFLUX_TOKEN"}`, `{"file": "/etc/datalogger/token"}`).
/// Never printed: `Debug` and the API show `***`.
#[derive(Clone, Default, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: String },
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match SecretSource::deserialize(d)
            .map_err(|_| D::Error::custom("a secret is a string, {\"env\": \"VARIABLE\"} or {\"file\": \"/path\"}"))?
        {
            SecretSource::Inline(s) => Ok(Secret(s)),
            SecretSource::Env { env } => std::env::var(&env)
                .map(Secret)
                .map_err(|_| D::Error::custom(format!("environment variable {env} is not set"))),
            SecretSource::File { file } => std::fs::read_to_string(&file)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| D::Error::custom(format!("cannot read secret file {file}: {e}"))),
        }
    }
}
