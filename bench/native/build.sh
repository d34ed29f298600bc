#!/bin/sh
# Builds the GEMM harness: the working tree's native/gemm.cc ("new") beside the same file from a git ref
# ("base", default HEAD) compiled into namespace lmf_base, so both run in one process.
# Usage: bench/native/build.sh [ref]   ->  bench/native/gemm_harness (not part of npm install)
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ref=${1:-HEAD}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$root"/native/*.h "$tmp"/
git -C "$root" show "$ref:native/gemm.cc" > "$tmp/gemm.cc"
git -C "$root" show "$ref:native/gemm.h" > "$tmp/gemm.h"
cp "$root/native/pool.cc" "$tmp/pool.cc"
# Flags of binding.gyp (kernels pick their ISA with target attributes, not -march).
flags="-O3 -std=c++17 -fno-math-errno -fno-trapping-math -Wno-psabi -pthread"
g++ $flags -Dlmf=lmf_base -c "$tmp/gemm.cc" -o "$tmp/base_gemm.o"
g++ $flags -Dlmf=lmf_base -c "$tmp/pool.cc" -o "$tmp/base_pool.o"
g++ $flags -I"$root/native" "$here/gemm_harness.cc" "$root/native/gemm.cc" "$root/native/pool.cc" \
  "$tmp/base_gemm.o" "$tmp/base_pool.o" -ldl -o "$here/gemm_harness"
echo "built $here/gemm_harness (base: $ref)"
