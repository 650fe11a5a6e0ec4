#!/usr/bin/env bash
# Builds the C examples to wasm32-wasi with Debian's clang, lld and wasi-libc (packages clang, lld, wasi-libc,
# libclang-rt-14-dev-wasm32; test.sh installs them) into examples/out/ (not committed). Run by test.sh before the tests;
# the WASI tests in tests/Photon.Kernel.Tests run what it leaves there.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
# Debian's wasi-libc installs into /usr/lib/wasm32-wasi and /usr/include/wasm32-wasi: the sysroot is /usr.
cc=(clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -I sdk)
for prog in cat ls wc sha256sum tee kv; do
  "${cc[@]}" -o "out/$prog.wasm" "$prog.c"
done
echo "examples: built $(ls out/*.wasm | wc -l) programs into $(pwd)/out"
