//! The compiled-code cache: compiling a component takes from tens of
//! milliseconds (Rust) to seconds (Python, JavaScript), so compiled code is kept
//! on disk, keyed by the file's SHA-256 and the engine's compatibility hash (the
//! wasmtime version and every codegen setting). A restart with unchanged files
//! compiles nothing.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

pub struct CodeCache {
    dir: PathBuf,
    engine_key: String,
}

/// Where a component's code came from, for the log and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Compiled,
}

impl CodeCache {
    pub fn new(dir: &Path, engine: &Engine) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CodeCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// Whether compiled code for this content is in the cache.
    pub fn has(&self, sha256: &str) -> bool {
        self.entry(sha256).exists()
    }

    /// Returns the component for `bytes`, from the cache when possible. A cache
    /// entry that does not load (truncated, other engine) is replaced.
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8], sha256: &str) -> anyhow::Result<(Component, Origin)> {
        let entry = self.entry(sha256);
        if entry.exists() {
            // SAFETY: entries are only ever written by `store` below from
            // `Component::serialize`, named by content hash, in the operator's
            // own cache folder; wasmtime also checks the header and engine
            // compatibility before using the code.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(c) => return Ok((c, Origin::Cache)),
                Err(e) => {
                    tracing::warn!("ignoring unusable cache entry {}: {e:#}", entry.display())
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&entry, &component) {
            tracing::warn!("could not write compiled-code cache {}: {e:#}", entry.display());
        }
        Ok((component, Origin::Compiled))
    }

    fn store(&self, entry: &Path, component: &Component) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        crate::atomic_file::write_atomically(entry, &component.serialize()?)?;
        Ok(())
    }
}
