//! Passwords and tokens in the config: inline, or read at startup from an
//! environment variable, a file, or a systemd credential. Never printed.
//! A leaf: the sinks' passwords and the API token both use it.

use serde::Deserialize;
use std::fmt;

/// A password or token: inline (`"s3cret"`), or read at startup from an
/// environment variable (`{"env": "INFLUX_TOKEN"}`), a file
/// (`{"file": "/etc/datalogger/token"}`) or a systemd credential
/// (`{"credential": "api-token"}`: `$CREDENTIALS_DIRECTORY/api-token`, as
/// `LoadCredential=` provides it). Never printed: `Debug` and the API show `***`.
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
    Credential { credential: String },
}

/// Where systemd puts the credentials of `LoadCredential=` / `SetCredential=`.
const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// A secret file's text, without the trailing newline editors add.
fn read_file(path: &std::path::Path) -> std::io::Result<Secret> {
    std::fs::read_to_string(path).map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let source = SecretSource::deserialize(d).map_err(|_| {
            D::Error::custom(
                "a secret is a string, {\"env\": \"VARIABLE\"}, {\"file\": \"/path\"} or {\"credential\": \"name\"} (systemd)",
            )
        })?;
        match source {
            SecretSource::Inline(s) => Ok(Secret(s)),
            SecretSource::Env { env } => std::env::var(&env)
                .map(Secret)
                .map_err(|_| D::Error::custom(format!("environment variable {env} is not set"))),
            SecretSource::File { file } => {
                read_file(file.as_ref()).map_err(|e| D::Error::custom(format!("cannot read secret file {file}: {e}")))
            }
            SecretSource::Credential { credential } => {
                if credential.is_empty() || credential.contains('/') || credential == ".." {
                    return Err(D::Error::custom(format!(
                        "credential {credential:?} must be a plain name, as in LoadCredential={}:/path",
                        if credential.is_empty() { "NAME" } else { &credential }
                    )));
                }
                let dir = std::env::var_os(CREDENTIALS_DIRECTORY).ok_or_else(|| {
                    D::Error::custom(format!(
                        "credential {credential:?}: ${CREDENTIALS_DIRECTORY} is not set; systemd sets it for a unit \
                         with LoadCredential={credential}:/path (or use {{\"file\": \"/path\"}})"
                    ))
                })?;
                let path = std::path::Path::new(&dir).join(&credential);
                read_file(&path)
                    .map_err(|e| D::Error::custom(format!("cannot read credential {}: {e}", path.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_come_from_the_systemd_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api-token"), "from-systemd\n").unwrap();
        // Tests in this binary share the environment; this variable is read only here.
        std::env::set_var(CREDENTIALS_DIRECTORY, dir.path());
        let s: Secret = serde_json::from_value(json!({"credential": "api-token"})).unwrap();
        assert_eq!(s.expose(), "from-systemd");
        assert_eq!(format!("{s:?}"), "***");
        let e = serde_json::from_value::<Secret>(json!({"credential": "nope"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read credential") && e.contains("nope"), "{e}");
        let e = serde_json::from_value::<Secret>(json!({"credential": "../etc/passwd"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain name"), "{e}");
        let e = serde_json::from_value::<Secret>(json!({"vault": "x"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"credential\""), "{e}");
    }
}
