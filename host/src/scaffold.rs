//! `datalogger plugin new NAME --lang LANG`: writes a plugin project that
//! builds and passes `datalogger plugin inspect` as it is. The templates live
//! in `host/templates/<lang>/` and are compiled into the binary, with a copy
//! of the WIT, so a project can be started anywhere, offline.

use std::path::{Path, PathBuf};

/// The WIT every template builds against: the one this host implements.
const WIT: &str = include_str!("../../wit/datalogger.wit");

/// One file of a template: path in the project, contents, executable.
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

pub const LANGUAGES: [&str; 4] = ["rust", "python", "js", "c"];

// The list is made by `build.rs` from `plugins/sdk/`.
include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

fn template(lang: &str) -> Option<Vec<File>> {
    Some(match lang {
        // The SDK is not in the Rust crate registry: the project gets it as
        // source, beside the plugin, at the version this host was built with.
        "rust" => [
            file("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
            file(
                ".cargo/config.toml",
                include_str!("../templates/rust/cargo/config.toml"),
            ),
            file(".gitignore", include_str!("../templates/rust/gitignore")),
            file("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
            script("build.sh", include_str!("../templates/rust/build.sh")),
            file("sdk/wit/datalogger.wit", WIT),
        ]
        .into_iter()
        .chain(SDK_FILES.iter().map(|(path, text)| file(path, text)))
        .collect(),
        "python" => vec![
            file("app.py", include_str!("../templates/python/app.py")),
            script("build.sh", include_str!("../templates/python/build.sh")),
            file("wit/datalogger.wit", WIT),
        ],
        "js" => vec![
            file("package.json", include_str!("../templates/js/package.json")),
            file(".npmrc", include_str!("../templates/js/npmrc")),
            file(".gitignore", include_str!("../templates/js/gitignore")),
            file("src/plugin.js", include_str!("../templates/js/src/plugin.js")),
            script("build.sh", include_str!("../templates/js/build.sh")),
            file("wit/datalogger.wit", WIT),
        ],
        "c" => vec![
            file("plugin.c", include_str!("../templates/c/plugin.c")),
            script("build.sh", include_str!("../templates/c/build.sh")),
            file("wit/datalogger.wit", WIT),
        ],
        _ => return None,
    })
}

/// The next steps printed after the project is written.
pub fn next_steps(name: &str, dir: &Path) -> String {
    format!(
        "created {dir}\nnext:\n  cd {dir} && ./build.sh\n  datalogger plugin inspect {name}.wasm\n  \
         datalogger plugin test {name}.wasm {name}.hello\n  cp {name}.wasm <the logger's plugins folder>  # picked up within a second; Python/JS then compile for seconds",
        dir = dir.display()
    )
}

/// Writes the project for plugin `name` in `lang` into `dir` (which must not
/// exist yet) and returns the files written.
pub fn create(name: &str, lang: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
    check_name(name)?;
    let files =
        template(lang).ok_or_else(|| format!("unknown language {lang:?}; choose one of {}", LANGUAGES.join(", ")))?;
    if dir.exists() {
        return Err(format!(
            "{} already exists; choose another name or --dir",
            dir.display()
        ));
    }
    let mut written = Vec::new();
    for f in files {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, f.text.replace("{{name}}", name))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("cannot make {} executable: {e}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// A plugin name is the prefix of its keys and an identifier in every language.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "plugin name {name:?} must start with a lowercase letter and use only a-z, 0-9 and _ (at most 32); \
             it becomes the prefix of every key, e.g. {}.hello",
            if name.is_empty() { "mysensor" } else { name }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_writes_a_project_with_the_name_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        for lang in LANGUAGES {
            let project = dir.path().join(lang);
            let files = create("greeter", lang, &project).unwrap();
            let wit = if lang == "rust" {
                "sdk/wit/datalogger.wit"
            } else {
                "wit/datalogger.wit"
            };
            assert_eq!(std::fs::read_to_string(project.join(wit)).unwrap(), WIT, "{lang}");
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(!text.contains("{{name}}"), "{} keeps a placeholder", f.display());
            }
            assert!(create("greeter", lang, &project)
                .unwrap_err()
                .contains("already exists"));
        }
    }

    #[test]
    fn the_rust_project_gets_every_sdk_source_file() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk/src");
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        create("greeter", "rust", &project).unwrap();
        let mut count = 0;
        for entry in std::fs::read_dir(&sdk).unwrap().flatten() {
            let name = entry.file_name();
            let copied = std::fs::read_to_string(project.join("sdk/src").join(&name)).unwrap();
            assert_eq!(copied, std::fs::read_to_string(entry.path()).unwrap(), "{name:?}");
            count += 1;
        }
        assert!(count >= 10, "only {count} SDK files");
        assert!(project.join("sdk/Cargo.toml").is_file());
    }

    #[test]
    fn bad_names_and_languages_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "My", "a.b", "a-b", "1x"] {
            assert!(create(bad, "python", &dir.path().join("x")).is_err(), "{bad}");
        }
        assert!(create("ok", "cobol", &dir.path().join("y"))
            .unwrap_err()
            .contains("python"));
    }
}
