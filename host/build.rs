//! Generates the list of the Rust SDK's files that `datalogger plugin new
//! --lang rust` copies into a new project (`scaffold.rs`): `Cargo.toml` and
//! every `.rs` file under `plugins/sdk/src/`, so a new SDK module is shipped
//! without editing a hand-kept list. The SDK's `wit` symlink is left out: the
//! scaffold writes the host's WIT there itself.

use std::path::{Path, PathBuf};

fn main() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk");
    let mut files = vec![sdk.join("Cargo.toml")];
    collect_rs(&sdk.join("src"), &mut files);
    files.sort();
    let mut out =
        String::from("/// The SDK's files: (path in the project, contents).\nconst SDK_FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let rel = file
            .strip_prefix(&sdk)
            .expect("inside the SDK")
            .to_str()
            .expect("UTF-8 path");
        let abs = file.canonicalize().expect("SDK file exists");
        out.push_str(&format!("    ({:?}, include_str!({:?})),\n", format!("sdk/{rel}"), abs));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("sdk_files.rs");
    std::fs::write(dest, out).expect("write sdk_files.rs");
    println!("cargo:rerun-if-changed=../plugins/sdk/src");
    println!("cargo:rerun-if-changed=../plugins/sdk/Cargo.toml");
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read SDK folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
