//! `wrongworld`: a valid component that targets `other:thing/thing` instead of
//! `datalogger:plugin/collector`. Test fixture only; the host must refuse it.

wit_bindgen::generate!({
    path: "wit",
    world: "thing",
});

struct Thing;

impl Guest for Thing {
    fn run() -> u32 {
        42
    }
}

export!(Thing);
