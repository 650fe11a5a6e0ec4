#!/usr/bin/env bash
# The one test command (README and CI both call it). On a fresh Debian machine it first installs the real tools the
# tests check Photon against (mkfs/fsck for FAT and ext4, mtools, iproute2 for network namespaces, ping, curl, nc, dnsmasq),
# QEMU, busybox-static, cpio and kmod for the VM test (vm/run.sh: it downloads the Debian kernel .deb itself), and
# clang, lld, wasi-libc and the wasm32 compiler runtime for the C examples run as WASI programs, and tmux (a pseudo-terminal
# for the interactive `photon shell` test); then builds everything
# with warnings as errors, builds the examples (examples/build.sh) and runs every test project.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
need=(dosfstools e2fsprogs mtools iproute2 iputils-ping curl netcat-openbsd dnsmasq-base iperf3 ethtool z3 qemu-system-x86 busybox-static cpio kmod afl++
  clang lld wasi-libc libclang-rt-14-dev-wasm32 tmux)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
dotnet build Photon.sln -c Release -warnaserror -nologo -clp:ErrorsOnly
# The C examples as wasm32-wasi programs (examples/out/), which the WASI tests run on Photon.
examples/build.sh
# The Dafny proofs (verification/, README "Verification"): a proof that no longer verifies fails the run.
verification/verify.sh
# Test projects run one after another so the timing-sensitive ones (scheduler, TCP) are not starved of the 2 cores.
log=$(mktemp)
status=0
dotnet test Photon.sln -c Release --no-build -m:1 --logger "console;verbosity=normal" 2>&1 | tee "$log" || status=$?
# Systematic concurrency tests (Coyote): up to 300 iterations and 10 s per test here (CI stays under 20 minutes); `tests/coyote.sh 100000` is the long run.
tests/coyote.sh 300 10 || status=1
# Coverage-guided fuzz smoke (SharpFuzz + AFL++): seed corpora replayed, then 10 s of afl-fuzz per target; `fuzz/run.sh TARGET 3600` is the long run.
fuzz/run.sh --smoke 10 || status=1
# The dotnet new templates (templates/): each instantiated against this checkout, built, its tests and program run.
templates/check.sh || status=1
# One plain closing line summed over every test project ("Total tests" blocks of the console logger).
summary=$(awk '/^ +Passed: +[0-9]+/ {p+=$2} /^ +Failed: +[0-9]+/ {f+=$2} /^ +Skipped: +[0-9]+/ {s+=$2}
  END {printf "%d passed, %d failed, %d skipped", p, f, s}' "$log")
echo "$summary"
# Each failed test with its message and the top of its stack, last, so that the tail of a CI log names what failed.
awk '/^ +Failed [A-Za-z_]/ {n=40} n>0 {print; n--}' "$log" | head -n 400
rm -f "$log"
exit $status
