#!/usr/bin/env bash
# bench/fscopy.sh — `photon fs cp` of one large host file into an empty image against Linux's own tools doing the same
# (issue #16 item 3): FAT32 against `mcopy`, ext4 against `debugfs -w -R write`. Each side starts from a fresh copy of
# the same empty image and is timed from process start to the end of a following `sync` (Photon fsyncs the image
# itself; the tools leave their writes in the page cache), so start-up and durability are counted on both sides.
# Sides alternate within a round (ABBA order across rounds) and the table reports medians and the ratio
# tool/Photon (> 1: Photon is faster). Usage: bench/fscopy.sh [--rounds N] [--mib M] [--photon PATH | --aot]
# Needs dosfstools, mtools, e2fsprogs; PATH defaults to the Release build of src/Photon.Cli (JIT); --aot measures the
# NativeAOT build (tests/aot.sh publishes it to artifacts/aot/photon; built here if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 mib=200 photon="$here/src/Photon.Cli/bin/Release/net10.0/photon"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --photon) photon=$2; shift 2 ;;
    --aot) photon="$here/artifacts/aot/photon"; [ -x "$photon" ] || "$here/tests/aot.sh" >&2; shift ;;
    *) echo "usage: $0 [--rounds N] [--mib M] [--photon PATH | --aot]" >&2; exit 2 ;;
  esac
done
[ -x "$photon" ] || { echo "fscopy: $photon not built (dotnet build src/Photon.Cli -c Release)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/photon-fscopy.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c $((mib * 1024 * 1024)) /dev/urandom > src.bin
img_mib=$((mib * 2 + 64))
truncate -s ${img_mib}M fat.empty && mkfs.vfat -F 32 fat.empty > /dev/null
truncate -s ${img_mib}M ext4.empty && mkfs.ext4 -q -F -b 4096 ext4.empty  # the default block size of volumes from 512 MiB up

# Seconds (wall) for one command followed by sync.
timed() { local t0 t1; sync; t0=$(date +%s.%N); "$@" > /dev/null 2>&1 || { echo "fscopy: failed: $*" >&2; exit 1; }; sync; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
photon_fat()  { cp fat.empty a.img;  timed "$photon" fs cp a.img host:src.bin /src.bin; }
mcopy_fat()   { cp fat.empty b.img;  timed mcopy -i b.img src.bin ::/src.bin; }
photon_ext4() { cp ext4.empty a.img; timed "$photon" fs cp a.img host:src.bin /src.bin; }
debugfs_ext4(){ cp ext4.empty b.img; timed debugfs -w -R "write src.bin src.bin" b.img; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: > pf; : > mf; : > pe; : > de
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then photon_fat >> pf; mcopy_fat >> mf; photon_ext4 >> pe; debugfs_ext4 >> de
  else mcopy_fat >> mf; photon_fat >> pf; debugfs_ext4 >> de; photon_ext4 >> pe; fi
done
# The copies must be the file itself, or the timing means nothing.
cp fat.empty a.img; "$photon" fs cp a.img host:src.bin /src.bin > /dev/null; mtype -i a.img ::/src.bin | cmp - src.bin
fsck.vfat -n a.img > /dev/null || { echo "fscopy: fsck.vfat -n found errors after photon fs cp" >&2; exit 1; }
cp ext4.empty a.img; "$photon" fs cp a.img host:src.bin /src.bin > /dev/null; e2fsck -fn a.img > /dev/null 2>&1 || { echo "fscopy: e2fsck -fn found errors after photon fs cp" >&2; exit 1; }
debugfs -R "dump src.bin out.bin" a.img 2> /dev/null; cmp out.bin src.bin

row() { local p b; p=$(median < "$2"); b=$(median < "$3"); printf '| %s | %.2f s | %s %.2f s | %.2fx |\n' "$1" "$p" "$4" "$b" "$(echo "$b / $p" | bc -l)"; }
echo "storage backend: $("$photon" fs info a.img 2>/dev/null | grep -o 'storage backend.*' | sed 's/storage backend *//')"
echo "| ${mib} MiB into an empty image, + sync (median of $rounds, load $(cut -d' ' -f1 /proc/loadavg)) | photon fs cp | Linux tool | tool/Photon |"
echo "|---|---|---|---|"
row FAT32 pf mf mcopy
row ext4 pe de "debugfs write"
