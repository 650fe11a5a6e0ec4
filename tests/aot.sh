#!/usr/bin/env bash
# The ahead-of-time build of photon (NativeAOT): publish it, then check it does the jobs it is meant for.
#   tests/aot.sh            # publish to artifacts/aot/photon and run the checks
#   tests/aot.sh --no-build # check an existing artifacts/aot/photon
# NativeAOT cannot load module code, so this build has the shipped modules (FAT, ext4) built in (ShippedModules.BuiltIns:
# started and confined like loaded ones, never unloaded) and refuses any other module typed. Its point is start-up and
# steady CPU: no JIT, so `photon fs cp` of a large file costs mostly the kernel's own copying (bench/fscopy.sh --aot).
# Checks: fs cp into FAT32 and ext4 images made by mkfs, byte-compared with mtools/debugfs and fsck-clean; `boot`, whose
# report checks every step and which starts both filesystem modules through the module loader (built in here).
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/aot
if [ "${1:-}" != "--no-build" ]; then
  log=$(mktemp)
  dotnet publish src/Photon.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$out" -nologo -clp:ErrorsOnly > "$log" 2>&1 ||
    { cat "$log" >&2; rm -f "$log"; echo "aot: publish failed" >&2; exit 1; }
  rm -f "$log"
fi
photon=$PWD/$out/photon
[ -x "$photon" ] || { echo "aot: $photon is missing" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/photon-aot.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c $((24 * 1024 * 1024 + 4321)) /dev/urandom > src.bin
truncate -s 96M fat.img && mkfs.vfat -F 32 fat.img > /dev/null
truncate -s 96M ext4.img && mkfs.ext4 -q -F ext4.img
fail() { echo "aot: FAIL: $*" >&2; exit 1; }

"$photon" fs cp fat.img host:src.bin /src.bin > /dev/null || fail "fs cp into FAT32"
mcopy -n -i fat.img ::/src.bin fat.out && cmp -s src.bin fat.out || fail "FAT32 copy differs"
fsck.vfat -n fat.img > /dev/null || fail "fsck.vfat after fs cp"
"$photon" fs cp ext4.img host:src.bin /src.bin > /dev/null || fail "fs cp into ext4"
debugfs -R "dump /src.bin ext4.out" ext4.img 2> /dev/null && cmp -s src.bin ext4.out || fail "ext4 copy differs"
e2fsck -fn ext4.img > /dev/null 2>&1 || fail "e2fsck after fs cp"
echo "aot: fs cp into FAT32 and ext4: identical, fsck clean"

"$photon" boot > boot.log 2>&1 || { tail -40 boot.log >&2; fail "boot"; }
grep -q "built in: Photon.FileSystems.Fat, Photon.FileSystems.Ext4" boot.log || { grep -i module boot.log >&2; fail "boot did not start the built-in modules"; }
echo "aot: boot: every step as expected, FAT and ext4 modules built in"
echo "aot: ok ($(du -h "$photon" | cut -f1) binary)"
