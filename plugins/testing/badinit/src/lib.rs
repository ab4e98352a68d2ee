//! `badinit`: a test fixture whose `describe()` traps, so the host must skip
//! the file with a reason. Never shipped.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "collector",
});

use datalogger::plugin::types::{PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

struct BadInit;

impl Guest for BadInit {
    fn describe() -> PluginInfo {
        panic!("badinit: describe always fails")
    }

    fn sample(_key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        Err(SampleError::Failed("never loaded".into()))
    }
}

export!(BadInit);
