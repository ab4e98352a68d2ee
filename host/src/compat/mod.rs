//! The read APIs of the tools this logger replaces, served from the store so
//! their apps keep working unchanged: `isems` (the ISEMS collector's
//! `/measurements`, read by the isems-app). Each is off unless the config's
//! `"compat"` section names it; the routes are in `api/compat.rs`.

pub mod isems;

use serde::Deserialize;

/// The config's `"compat"` section: which old APIs are served.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatSettings {
    /// The ISEMS collector's `/measurements` routes (on when present).
    pub isems: Option<isems::IsemsSettings>,
}

impl CompatSettings {
    /// What is wrong with the section, each with its fix.
    pub fn problems(&self) -> Vec<String> {
        self.isems.as_ref().map(|i| i.problems()).unwrap_or_default()
    }
}
