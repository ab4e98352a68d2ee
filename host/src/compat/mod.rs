//! The read APIs of the tools this logger replaces, served from the store so
//! their apps keep working unchanged: `isems` (the ISEMS collector's
//! `/measurements`, read by the isems-app) and `iot` (the IoT collector's
//! `/devicedata`, `/dashboard` and histogram). Each is off unless the config's
//! `"compat"` section names it; the routes are in `api/compat.rs`.

pub mod iot;
pub mod isems;
pub mod isems_import;

use chrono::{DateTime, TimeZone};
use serde::Deserialize;

/// The config's `"compat"` section: which old APIs are served.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatSettings {
    /// The ISEMS collector's `/measurements` routes (on when present).
    pub isems: Option<isems::IsemsSettings>,
    /// The IoT collector's routes (on when present).
    pub iot: Option<iot::IotSettings>,
}

impl CompatSettings {
    /// What is wrong with the section, each with its fix.
    pub fn problems(&self) -> Vec<String> {
        let mut out = self.isems.as_ref().map(|i| i.problems()).unwrap_or_default();
        out.extend(self.iot.as_ref().map(|i| i.problems()).unwrap_or_default());
        out
    }
}

/// Python's `datetime.isoformat()` (what both originals answered): fractional
/// seconds only when there are any, the offset only if asked for.
pub fn isoformat<Tz: TimeZone>(t: &DateTime<Tz>, offset: bool) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let micros = t.timestamp_subsec_micros();
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    if offset {
        out.push_str(&t.format("%:z").to_string());
    }
    out
}
