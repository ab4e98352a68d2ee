#!/usr/bin/env bash
# Builds the Python example plugin: OUT_DIR/httpjson.wasm, with componentize-py.
#
#   plugins/examples/python/build.sh OUT_DIR
#
# Needs python3 (3.11 or newer) with pip. componentize-py (pinned below) is
# installed from PyPI with pip into a tools folder outside the work tree
# ($DATALOGGER_TOOLS, default ~/.cache/datalogger-tools), once; later builds
# reuse it. `pip install --target` works on a Debian python too (no venv, no
# "externally managed" refusal). A componentize-py of the same version already
# on the PATH is used as is.
#
# The unit tests of the plugin's logic run first, with the build machine's python.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

out=${1:?usage: $0 OUT_DIR}
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
wit="$here/../../../wit"
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1 # keep __pycache__ out of the source folder
temps=()
trap 'rm -rf "${temps[@]}"' EXIT

# ---------------------------------------------------------------- componentize-py
tools=${DATALOGGER_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/datalogger-tools}
prefix="$tools/componentize-py-$COMPONENTIZE_PY_VERSION"

componentize_py() {
    if [ -x "$prefix/bin/componentize-py" ]; then
        PYTHONPATH="$prefix" "$python" "$prefix/bin/componentize-py" "$@"
    else
        componentize-py "$@"
    fi
}

if [ "$(componentize-py --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ] &&
    ! [ -f "$prefix/.complete" ]; then
    if ! "$python" -m pip --version >/dev/null 2>&1; then
        echo "pip is missing; installing python3-pip" >&2
        apt-get update -q && apt-get install -y --no-install-recommends python3-pip
    fi
    echo "installing componentize-py $COMPONENTIZE_PY_VERSION into $prefix" >&2
    mkdir -p "$tools"
    staging=$(mktemp -d "$tools/.componentize-py.XXXXXX")
    temps+=("$staging")
    "$python" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
        --only-binary :all: \
        --target "$staging" "componentize-py==$COMPONENTIZE_PY_VERSION"
    touch "$staging/.complete"
    rm -rf "$prefix"
    mv "$staging" "$prefix"
fi

# ---------------------------------------------------------------- test, then build
(cd "$here" && "$python" -m unittest --quiet test_httpjson)

# componentize-py bundles the modules of its -p folder and writes __pycache__
# there, so it gets a copy of the plugin's modules. Without VIRTUAL_ENV it would
# also add the build machine's site-packages to the component's path; an empty
# one keeps the build the same on every machine. -w collector makes the
# `wit_world` bindings that app.py imports.
src=$(mktemp -d)
temps+=("$src")
mkdir -p "$src/app" "$src/env/lib/python/site-packages"
cp "$here/app.py" "$here/httpjson.py" "$src/app/"
VIRTUAL_ENV="$src/env" componentize_py --quiet -d "$wit" -w collector \
    componentize -p "$src/app" app -o "$out/httpjson.wasm"
echo "built $out/httpjson.wasm ($(stat -c %s "$out/httpjson.wasm") bytes)"
