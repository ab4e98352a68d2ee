#!/usr/bin/env bash
# Builds the JavaScript example plugin into OUT_DIR/webstats.wasm:
#
#   plugins/examples/js/build.sh OUT_DIR        (scripts/build-examples js does this)
#
# Needs Node 18+ and npm (installed from Debian when missing). The tools come
# from npm exactly as package-lock.json pins them (names, versions and
# integrity hashes), into node_modules/ here, and are installed again only when
# the lockfile changes. Then the logic's unit tests run under Node, and
# componentize-js (SpiderMonkey compiled to WebAssembly) turns src/webstats.js
# into a component of world `collector` from the repository's wit/. The
# `http` and `fetch-event` features of its engine are disabled so that the
# component imports no wasi:http: the plugin reaches the network only through
# the host's own `http` capability.
set -euo pipefail

out=${1:?usage: $0 OUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wit=$(cd "$here/../../../wit" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "installing Node.js and npm (Debian packages)"
    apt-get update
    apt-get install -y --no-install-recommends nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "Node.js $(node --version) is too old; componentize-js needs Node 18 or newer" >&2
    exit 1
fi

# The pinned tools, reinstalled only when the lockfile changed.
installed=node_modules/.datalogger-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$installed" 2>/dev/null)" != "$want" ]; then
    echo "installing componentize-js and its dependencies as package-lock.json pins them"
    npm ci --no-audit --no-fund --ignore-scripts
    echo "$want" >"$installed"
fi

# Rebuild only when an input changed (componentizing takes several seconds).
target="$out/webstats.wasm"
stamp="$out/.webstats.wasm.inputs"
inputs=$(cat build.sh package.json package-lock.json src/*.js test/*.js "$wit"/*.wit | sha256sum | cut -d' ' -f1)
if [ -f "$target" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
    echo "webstats.wasm is up to date"
    exit 0
fi

node --test --test-reporter=dot test/

rm -f "$stamp"
node_modules/.bin/componentize-js src/webstats.js \
    --wit "$wit" --world-name collector \
    --disable http fetch-event \
    --out "$target.tmp"
mv "$target.tmp" "$target"
echo "$inputs" >"$stamp"
echo "built $target ($(stat -c %s "$target") bytes)"
