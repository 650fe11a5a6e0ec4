#!/usr/bin/env bash
# vm/netbench.sh — Photon's virtio-net driver + TCP/IP stack against Linux's virtio_net, in the same QEMU VM (README
# "Benchmarks" and "Machine"). Boots vm/run.sh --netbench: two identical virtio-net devices on two TAPs whose host ends
# (10.77.0.1, 10.78.0.1) are in netns photonvm-bench (PHOTON_VM_NETNS); Photon's driver owns the first (10.77.0.2), Linux's virtio_net the
# second (10.78.0.2, vm/netbench/guest.sh). The host times curl downloads and nc uploads against both in interleaved
# rounds (vm/netbench/host.sh) and prints the Photon/Linux ratios (vm/.build/netbench-table.md). Under TCG both sides
# are emulated alike: read the ratios, not the absolute figures. Linux gets iommu.passthrough=1 (its best case: no
# per-packet IOMMU map/unmap); Photon maps its rings and buffers once through VFIO. NETBENCH_ROUNDS=N (default 3).
# Needs root (TAPs, netns). Not part of CI (several minutes under TCG). Any run.sh option passes through. Photon runs as a
# NativeAOT build (run.sh --aot: no JIT in the guest); --r2r runs the ReadyToRun publish instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
aot=(--aot); pass=()
for a in "$@"; do if [ "$a" = --r2r ]; then aot=(); else pass+=("$a"); fi; done
PHOTON_VM_NETNS=${PHOTON_VM_NETNS:-photonvm-bench} exec "$here/run.sh" --netbench --linux-iommu iommu.passthrough=1 --timeout 1800 "${aot[@]}" "${pass[@]}"
