#!/bin/sh
# Builds the native addon from native/ and binding.gyp as they are at a git ref, into <dir>/build/Release, for
# bench/ab-decode.ts (two builds in one process). Usage: bench/native/build-addon.sh <ref> <dir>
set -e
[ $# -eq 2 ] || { echo "usage: $0 <git ref> <dir>" >&2; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$2"
git -C "$root" archive "$1" native binding.gyp | tar -x -C "$2"
nodedir=$(cd "$(dirname "$(command -v node)")/.." && pwd)
gyp="$nodedir/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
cd "$2"
node "$gyp" rebuild --nodedir="$nodedir" > build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
echo "built $2/build/Release/lmforge_native.node ($1)"
