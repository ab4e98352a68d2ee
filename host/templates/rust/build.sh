#!/usr/bin/env bash
# Builds OUT_DIR/{{name}}.wasm (default: this folder): cargo build for
# wasm32-wasip2 (the target is added with rustup when missing).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
out=${1:-$here}
mkdir -p "$out"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cd "$here"
cargo build --release --target wasm32-wasip2
cp "target/wasm32-wasip2/release/{{name}}.wasm" "$out/{{name}}.wasm"
echo "built $out/{{name}}.wasm"
