//! The plugin's small key-value cache in the host: shared by its items, kept
//! across calls and plugin reloads, lost when the logger restarts. Use it for
//! hints (where a device was last found), never for data. At most 64 KiB per
//! plugin, keys and values counted.
//!
//! Natively (unit tests) it is a per-thread map, so logic that uses it can be
//! tested without the host.

use crate::CapError;

/// The value stored under `key`, if the host still has it.
pub fn get(key: &str) -> Option<String> {
    crate::sys::cache_get(key)
}

/// Stores `value` under `key`; over the size limit this fails with
/// [`CapError::Invalid`].
pub fn set(key: &str, value: &str) -> Result<(), CapError> {
    crate::sys::cache_set(key, Some(value))
}

/// Removes `key`.
pub fn remove(key: &str) -> Result<(), CapError> {
    crate::sys::cache_set(key, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_cache_round_trip() {
        assert_eq!(get("k"), None);
        set("k", "v").unwrap();
        assert_eq!(get("k").as_deref(), Some("v"));
        remove("k").unwrap();
        assert_eq!(get("k"), None);
    }
}
