#!/usr/bin/env bash
# vm/bench.sh — Photon's drivers against Linux's own, in the same QEMU VM (README "Benchmarks" and "Machine").
# Boots vm/run.sh --bench: two identical NVMe controllers on identical images; the guest (`photon vm guest --bench`,
# src/Photon.Cli/Commands/VmBenchCommand.cs) binds the first to vfio-pci for Photon's driver and leaves the second to
# Linux's nvme driver, runs 4 KiB random reads at QD1 and QD32 on both (Photon with MSI-X and polled completions,
# Linux with vm/bench/randread.c), in interleaved rounds, and prints a table of ratios that lands in
# vm/.build/bench-table.md. Under TCG both sides are emulated alike: read the ratios, not the absolute figures.
# Linux's drivers get iommu.passthrough=1 (no per-I/O IOMMU map/unmap: their best case); Photon maps its DMA
# buffers once through VFIO. Then the paired comparison (vm13): per target (QD1 latency and QD32 IOPS, the default
# async path and the polled loop) N pairs of short slices, Linux and Photon back to back in alternating order, and the
# median of the per-pair ratios with its spread; the last lines are one "SUMMARY" per target with the load.
# Options: --seconds S per run (default 4), --rounds N (default 1; 0: pairs only), --pairs N (default 20),
# --pair-seconds S (default 1), --pair-targets KEY:QD,... (only those paired targets, e.g. pollq:32,pollq-r0:32), --command-timeout-ms T
# (the NVMe driver's hung-command timeout), --watchdog-tick-ms M (how often its watchdog reaps every queue; default
# T/4 within 10-250 ms), and any run.sh option. Photon runs as a NativeAOT build (run.sh --aot: no tier-up JIT in the
# guest, which was 15-39% of its CPU in vm11's profile); --r2r runs the ReadyToRun publish instead (what photon vm boots).
# Not part of CI (a few minutes under TCG).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench_args=(--rounds 1 --pairs 20 --pair-seconds 1); pass=(); aot=(--aot)
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds|--rounds|--pairs|--pair-seconds|--command-timeout-ms|--watchdog-tick-ms|--pair-targets) bench_args+=("$1" "$2"); shift ;;
    --r2r) aot=() ;;
    *) pass+=("$1") ;;
  esac
  shift
done
exec "$here/run.sh" --bench --linux-iommu iommu.passthrough=1 --bench-args "${bench_args[*]:-}" --timeout 1800 "${aot[@]}" "${pass[@]}"
