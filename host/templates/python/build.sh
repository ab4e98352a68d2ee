#!/usr/bin/env bash
# Builds OUT_DIR/{{name}}.wasm (default: this folder) from app.py with componentize-py.
#
#   ./build.sh [OUT_DIR]
#
# Needs python3 (3.11 or newer) with pip. componentize-py is installed with pip,
# once, into ~/.cache/datalogger-tools (or $DATALOGGER_TOOLS).
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
tools=${DATALOGGER_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/datalogger-tools}
prefix="$tools/componentize-py-$COMPONENTIZE_PY_VERSION"

if ! [ -f "$prefix/.complete" ]; then
    echo "installing componentize-py $COMPONENTIZE_PY_VERSION into $prefix" >&2
    rm -rf "$prefix"
    "$python" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
        --only-binary :all: --target "$prefix" "componentize-py==$COMPONENTIZE_PY_VERSION"
    touch "$prefix/.complete"
fi

# componentize-py writes __pycache__ into the folder it takes modules from, and
# without VIRTUAL_ENV it bundles this machine's site-packages too: build from a
# copy, with an empty environment.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/env/lib/python/site-packages"
cp "$here"/*.py "$work/src/"
VIRTUAL_ENV="$work/env" PYTHONPATH="$prefix" "$python" "$prefix/bin/componentize-py" --quiet \
    -d "$here/wit" -w collector componentize -p "$work/src" app -o "$out/{{name}}.wasm"
echo "built $out/{{name}}.wasm"
