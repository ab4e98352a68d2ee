//! `slowdescribe`: a test fixture whose `describe()` spins forever, so the
//! host must cut it off at its describe deadline without holding up the API
//! or the other plugins' items. Never shipped.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "collector",
});

use datalogger::plugin::types::{PluginInfo, Point, SampleError};
use exports::datalogger::plugin::sampling::Guest;

struct SlowDescribe;

impl Guest for SlowDescribe {
    fn describe() -> PluginInfo {
        let mut counter = 0u64;
        loop {
            // SAFETY: `counter` is a live local; volatile only forbids eliding the access.
            unsafe {
                let c = core::ptr::read_volatile(&counter);
                core::ptr::write_volatile(&mut counter, c.wrapping_add(1));
            }
        }
    }

    fn sample(_key: String, _arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        Err(SampleError::Failed("never loaded".into()))
    }
}

export!(SlowDescribe);
