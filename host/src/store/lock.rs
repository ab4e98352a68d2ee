//! One process per store: the store's writer assumes it is the only one (it
//! probes before inserting, keeps the dictionary and the newest rows in
//! memory), so a second `datalogger run` or an `import` beside a running
//! logger must be refused, not allowed to interleave. An advisory `flock` on
//! `<store>.lock` (not on the database file: closing any descriptor of that
//! would drop SQLite's own POSIX locks) held for as long as the writer runs;
//! the kernel releases it when the process dies, so `kill -9` leaves no stale lock.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Held while the store's writer runs.
pub struct StoreLock {
    _file: File,
}

/// A store just dropped in this process releases its lock when its writer
/// thread ends, a moment later: wait that long before calling it busy.
pub const WAIT_FOR_RELEASE: Duration = Duration::from_secs(5);

pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the store's lock, waiting up to `wait` for a holder to let go.
pub fn acquire(store: &Path, wait: Duration) -> anyhow::Result<StoreLock> {
    use rustix::fs::{flock, FlockOperation};
    let path = lock_path(store);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot create the store's lock file {}: {e}", path.display()))?;
    let start = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(StoreLock { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(rustix::io::Errno::WOULDBLOCK) => anyhow::bail!(
                "the store {} is in use by another datalogger process (it holds {}); \
                 stop that one first (e.g. `systemctl stop datalogger`), or give this one another \"store\": \"path\"",
                store.display(),
                path.display()
            ),
            Err(e) => anyhow::bail!("cannot lock {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        let first = acquire(&store, Duration::ZERO).unwrap();
        // Another open file description, as another process would have.
        let err = acquire(&store, Duration::from_millis(100))
            .err()
            .expect("the lock is held")
            .to_string();
        assert!(err.contains("in use by another datalogger"), "{err}");
        assert!(err.contains("s.db.lock"), "{err}");
        drop(first);
        acquire(&store, Duration::ZERO).expect("free again once the holder is gone");
    }
}
