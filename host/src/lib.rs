//! datalogger: samples come from sources (the poll scheduler, which calls
//! sandboxed WebAssembly collector plugins), go into the embedded store, and
//! sinks forward them to time-series databases; a REST API sits beside.
//!
//! Reading order: `wit` (the contract) → `app` (wiring) → `config` →
//! `sources` → `plugins` with `capabilities` (the sandbox and what it grants)
//! → `store` → `sinks`, with `api` beside. Below `config`, no module imports
//! `config`; each part defines its own settings and `config` composes them.

pub mod access;
pub mod api;
pub mod app;
pub mod atomic_file;
pub mod capabilities;
pub mod compat;
pub mod config;
pub mod influxql;
pub mod plugins;
pub mod sample;
pub mod scaffold;
pub mod secret;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod wit;

/// The pipeline's layering, checked on the sources: each module may import
/// only the modules listed for it, so there are no cycles among `config`,
/// `capabilities`, `plugins`, `store` and `sinks`, and nothing below `config`
/// reads the config.
#[cfg(test)]
mod layers {
    use std::path::Path;

    const ALLOWED: [(&str, &[&str]); 17] = [
        ("wit", &[]),
        ("sample", &[]),
        ("atomic_file", &[]),
        ("scaffold", &[]),
        ("secret", &[]),
        ("access", &[]),
        ("server", &[]),
        ("capabilities", &["wit", "sample"]),
        ("plugins", &["capabilities", "wit", "sample", "atomic_file"]),
        ("store", &["sample"]),
        ("sinks", &["store", "sample", "secret"]),
        ("influxql", &["store", "sample"]),
        ("compat", &["store", "sample", "sources"]),
        ("sources", &["plugins", "store", "sinks", "sample", "secret", "wit"]),
        (
            "config",
            &[
                "access",
                "capabilities",
                "compat",
                "influxql",
                "plugins",
                "store",
                "sinks",
                "sources",
                "atomic_file",
                "secret",
            ],
        ),
        (
            "api",
            &[
                "access", "compat", "config", "influxql", "plugins", "sinks", "sources", "store", "sample",
            ],
        ),
        (
            "app",
            &[
                "api",
                "capabilities",
                "config",
                "plugins",
                "server",
                "sinks",
                "sources",
                "store",
            ],
        ),
    ];

    /// Every `crate::name` in the Rust files at `path` (a file or a folder).
    fn imports(path: &Path, found: &mut Vec<(String, String)>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap().flatten() {
                imports(&entry.path(), found);
            }
            return;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            return;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let ident = |s: &str| -> String {
            s.trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + 7..];
            // `crate::{a, b::c}` names several modules.
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').map(ident).collect(),
                None => vec![ident(rest)],
            };
            for name in names.into_iter().filter(|n| !n.is_empty()) {
                found.push((path.display().to_string(), name));
            }
        }
    }

    #[test]
    fn modules_import_only_what_their_layer_allows() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut modules = 0;
        for entry in std::fs::read_dir(&src).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            if name == "main" || name == "lib" {
                continue; // the CLI over the library, and this list itself
            }
            let (_, allowed) = ALLOWED
                .iter()
                .find(|(m, _)| *m == name)
                .unwrap_or_else(|| panic!("module {name} has no entry in layers::ALLOWED; add it"));
            let mut found = Vec::new();
            imports(&path, &mut found);
            for (file, import) in found {
                assert!(
                    import == name || allowed.contains(&import.as_str()),
                    "{file} imports crate::{import}, which module {name} may not use (allowed: {allowed:?})"
                );
            }
            modules += 1;
        }
        assert!(modules >= 14, "only {modules} modules found in {}", src.display());
    }
}
