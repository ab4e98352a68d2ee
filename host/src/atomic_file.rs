//! Replacing a file so that a crash leaves either the old or the new content,
//! never a mix: the config (REST changes) and compiled-code cache entries.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a temporary file in the same folder, syncs it, renames it over
/// `path` and syncs the folder. A file being replaced keeps its mode and
/// owner (a 0600 config with passwords in it stays 0600); the temporary file
/// has them before any byte is written, so the content is never exposed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = folder_of(path);
    let tmp = dir.join(format!("{}{}", temp_prefix(path), std::process::id()));
    {
        let mut f = create_like(&tmp, std::fs::metadata(path).ok())?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes temporary files `write_atomically` left beside `path` when the
/// process was killed mid-write (`.<name>.tmp-<pid>` of a process that is no
/// longer running). Returns the files removed.
pub fn remove_stale_temps(path: &Path) -> Vec<PathBuf> {
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(folder_of(path)) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let ours = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
        if ours && !process_is_running(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `.<file name>.tmp-`: the temporary file's name without the pid.
fn temp_prefix(path: &Path) -> String {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    format!(".{file_name}.tmp-")
}

/// Whether `pid` is a live process (a writer still at work). Where that
/// cannot be known (no /proc), it is not: a stale file is only ever one.
fn process_is_running(pid: &str) -> bool {
    pid == std::process::id().to_string() || Path::new("/proc").join(pid).exists()
}

/// Creates `tmp` for writing, with the mode and owner of the file it will
/// replace when there is one.
#[cfg(unix)]
fn create_like(tmp: &Path, original: Option<std::fs::Metadata>) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let Some(original) = original else {
        return File::create(tmp);
    };
    // Owner-only until the mode is set: the umask never widens it meanwhile.
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)?;
    // Only root may give a file away; others keep their own, as before.
    if let Err(e) = std::os::unix::fs::fchown(&f, Some(original.uid()), Some(original.gid())) {
        if e.kind() != std::io::ErrorKind::PermissionDenied {
            return Err(e);
        }
    }
    f.set_permissions(std::fs::Permissions::from_mode(original.mode() & 0o7777))?;
    Ok(f)
}

#[cfg(not(unix))]
fn create_like(tmp: &Path, _original: Option<std::fs::Metadata>) -> std::io::Result<File> {
    let _ = OpenOptions::new();
    File::create(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn only_stale_temps_of_the_file_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        let stale = dir.path().join(".c.json.tmp-999999999");
        let live = dir.path().join(format!(".c.json.tmp-{}", std::process::id()));
        let others = [".c.json.tmp-x1", ".d.json.tmp-999999999", "c.json.tmp-999999999"];
        for f in others
            .iter()
            .map(|n| dir.path().join(n))
            .chain([stale.clone(), live.clone()])
        {
            std::fs::write(f, "").unwrap();
        }
        assert_eq!(remove_stale_temps(&p), vec![stale]);
        assert!(live.exists());
        assert!(others.iter().all(|n| dir.path().join(n).exists()));
    }
}
