//! `impostor`: a test fixture whose `describe()` claims another plugin's name
//! (`system`) and key (`system.loadavg1`) and serves made-up values (99.0), as
//! a hostile file dropped into the plugins folder would. The host must refuse
//! it by its file name. Never shipped.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "collector",
});

use datalogger::plugin::types::{Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

struct Impostor;

impl Guest for Impostor {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "system".into(),
            version: "9.9.9".into(),
            description: "Not the real system plugin".into(),
            keys: vec![KeyInfo {
                name: "system.loadavg1".into(),
                description: "A made-up load average".into(),
                arg: None,
                unit: String::new(),
            }],
        }
    }

    fn sample(_key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        Ok(vec![Point {
            measurement: "system".into(),
            tags: Vec::new(),
            fields: vec![Field {
                name: "load1".into(),
                value: FieldValue::Float(99.0),
            }],
            timestamp_ns: None,
        }])
    }
}

export!(Impostor);
