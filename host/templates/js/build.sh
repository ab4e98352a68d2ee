#!/usr/bin/env bash
# Builds OUT_DIR/{{name}}.wasm (default: this folder) from src/plugin.js.
# Needs Node 18+ and npm; installs the pinned tools into node_modules/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here}
mkdir -p "$out"
cd "$here"
if [ ! -x node_modules/.bin/componentize-js ]; then
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --ignore-scripts
    else
        npm install --no-audit --no-fund --ignore-scripts  # writes package-lock.json: commit it
    fi
fi
# --disable http fetch-event: no wasi:http import; use the host's `http` capability instead.
node_modules/.bin/componentize-js src/plugin.js \
    --wit wit --world-name collector \
    --disable http fetch-event \
    --out "$out/{{name}}.wasm"
echo "built $out/{{name}}.wasm"
