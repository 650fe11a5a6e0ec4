#!/usr/bin/env bash
# Coverage-guided fuzzing of Photon with SharpFuzz + AFL++ (Debian package afl++).
#   fuzz/run.sh TARGET [seconds]      one target, long run (default 3600 s); findings in fuzz/out/findings/TARGET
#   fuzz/run.sh --smoke [seconds]     CI (test.sh): every target replays its seed corpus, then fuzzes for a few
#                                     seconds (default 10 each); fails on any crash or hang
# Targets: fat, ext4, frames, http, audit, journal, wasm, dns, dhcp, ipv6, vnethdr (fuzz/Photon.Fuzz/Targets). The Photon assemblies are instrumented in a
# copy of the build output (fuzz/out/bin) with the `sharpfuzz` tool (.config/dotnet-tools.json); the harness runs
# in AFL persistent mode (SharpFuzz Fuzzer.Run). Each run prints one line: executions, edges, crashes, hangs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_ROLL_FORWARD=Major DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
targets=(fat ext4 frames http audit journal wasm dns dhcp ipv6 vnethdr)
out=fuzz/out
bin=$out/bin                                   # instrumented: runs only under afl-fuzz (SharpFuzz's shared memory)
plain=fuzz/Photon.Fuzz/bin/Release/net10.0     # not instrumented: corpus replay and crash triage

command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz not found: apt-get install afl++ (no coverage-guided run possible)"; exit 1; }

build() {
  dotnet tool restore >/dev/null
  dotnet build fuzz/Photon.Fuzz -c Release -warnaserror -nologo -clp:ErrorsOnly >/dev/null
  rm -rf "$bin"; mkdir -p "$bin"
  cp -r fuzz/Photon.Fuzz/bin/Release/net10.0/. "$bin"
  # Instrument the code under test (not the harness, not the unsafe native-memory assembly).
  for dll in Photon.Kernel Photon.Net Photon.FileSystems.Fat Photon.FileSystems.Ext4 Photon.Sandbox; do
    dotnet sharpfuzz "$bin/$dll.dll" >/dev/null
  done
}

stat() { grep -E "^$2 +:" "$1/default/fuzzer_stats" | sed 's/.*: *//'; }

fuzz() {  # fuzz TARGET SECONDS: prints the summary line; returns 1 on crashes or hangs
  local t=$1 seconds=$2 findings=$out/findings/$1
  local replay
  replay=$(dotnet "$plain/Photon.Fuzz.dll" "$t" --replay "fuzz/corpus/$t" 2>&1) || { echo "$replay"; echo "fuzz: $t: a seed crashes"; return 1; }
  rm -rf "$findings"; mkdir -p "$findings"
  AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_FORKSRV_INIT_TMOUT=60000 AFL_QUIET=1 \
    timeout $((seconds + 120)) afl-fuzz -i "fuzz/corpus/$t" -o "$findings" -t 5000 -m none -V "$seconds" \
      -- dotnet "$bin/Photon.Fuzz.dll" "$t" >"$findings/afl.log" 2>&1 || { tail -20 "$findings/afl.log"; echo "fuzz: $t: afl-fuzz failed"; return 1; }
  local crashes hangs
  crashes=$(stat "$findings" saved_crashes); hangs=$(stat "$findings" saved_hangs)
  echo "fuzz: $t: $(stat "$findings" execs_done) executions in $(stat "$findings" run_time) s," \
       "$(stat "$findings" edges_found) edges ($(stat "$findings" bitmap_cvg) of the map), corpus $(stat "$findings" corpus_count)," \
       "$crashes crashes, $hangs hangs"
  if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
    for f in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:*; do
      [ -e "$f" ] || continue
      echo "fuzz: $t: finding $f"; dotnet "$plain/Photon.Fuzz.dll" "$t" --replay "$f" 2>&1 | head -15 || true
    done
    return 1
  fi
}

# FUZZ_NO_BUILD=1 reuses fuzz/out/bin (several runs after one build).
[ "${FUZZ_NO_BUILD:-0}" = 1 ] && [ -f "$bin/Photon.Fuzz.dll" ] || build
if [ "${1:-}" = --smoke ]; then
  seconds=${2:-10}; status=0
  for t in "${targets[@]}"; do fuzz "$t" "$seconds" || status=1; done
  exit $status
fi
t=${1:?usage: fuzz/run.sh TARGET [seconds] | --smoke [seconds]}
[[ " ${targets[*]} " == *" $t "* ]] || { echo "unknown target $t (${targets[*]})"; exit 2; }
fuzz "$t" "${2:-3600}"
