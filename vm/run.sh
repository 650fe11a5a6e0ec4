#!/usr/bin/env bash
# photon vm — assemble a bootable VM around Photon and boot it under QEMU (README "Machine" has the walkthrough).
#
#   1. kernel:    the Debian kernel .deb (apt-get download linux-image-<version>-amd64, cached in vm/.cache), extracted
#                 with dpkg-deb; the uncompressed vmlinux is cut out of the bzImage (PVH direct boot, ~2x faster under
#                 TCG), falling back to the bzImage.
#   2. initramfs: busybox-static, the VFIO modules in insmod order (vfio, vfio_iommu_type1, irqbypass, vfio_virqfd,
#                 vfio-pci-core, vfio-pci; decompressed, depmod'ed), a self-contained ReadyToRun publish of photon and
#                 the native libraries ldd finds for it, and vm/init (busybox sh: mounts, insmod, runs `photon vm guest`,
#                 powers off). Uncompressed cpio: decompressing under TCG costs more than reading it.
#   3. disk:      an ext4 image (mkfs.ext4 -d, with from-host.txt) on QEMU's emulated NVMe controller.
#   4. QEMU:      q35 + emulated Intel IOMMU, TCG (KVM only with --kvm and a usable /dev/kvm), serial console on stdio.
#   5. during:    the host acts on PHOTON-VM: lines from the guest: NET-READY -> ping and curl the guest from netns
#                 photonvm, then GET /done; USB-REMOVE -> device_del the USB stick on QEMU's monitor.
#   6. after:     the serial log must end with PHOTON-VM: PASS; e2fsck -fn on the image must be clean and debugfs must
#                 show the file Photon wrote (and fsck.vfat -n / mtype for the USB stick, curl's page for --net).
# Exit: 0 pass, 1 fail, 77 QEMU cannot run here (prints SKIPPED LOUDLY: <reason>).
set -euo pipefail
orig_args=("$@")   # a rerun after a QEMU crash (step 5) starts over with these
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/vm/.build"
cache="$repo/vm/.cache"
image=""; perf=0; guest_env=(); net=0; usb=0; faults=0; timeout_s=900; publish=1; smp=2; mem=2048; guest_args=(); accel=tcg; bench=0; netbench=0; iommu=1; iommu_mode=iommu.strict=1; assemble_only=0; aot=0
usage() { sed -n '2,17p' "$0"; echo "options: --image FILE (ext4 disk; default a fresh 64 MiB one) --net (virtio-net on a TAP in netns photonvm; root)"
          echo "         --usb (qemu-xhci + usb-storage on a FAT image) --timeout S (default 900) --no-publish (reuse the last publish)"
          echo "         --faults (USB stick removed while mounted, with --usb; NVMe controller reset mid-I/O on a second, scratch NVMe)"
          echo "         --smp N (default 2) --mem MiB (default 2048) --polling (NVMe driver polls instead of MSI-X) --kvm (use KVM if it works) --out DIR"
          echo "         --no-iommu (no emulated IOMMU: Photon falls back to uio_pci_generic; devices can DMA anywhere) --netbench (see vm/netbench.sh)"
          echo "         --assemble-only (build the initramfs and disks, print the QEMU command, do not boot)"
          echo "         --aot (a NativeAOT publish of photon instead of ReadyToRun: no JIT in the guest; FAT and ext4 built in)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$(realpath "$2"); shift ;;
    --net) net=1 ;;
    --usb) usb=1 ;;
    --faults) faults=1; guest_args+=(--faults) ;;
    --timeout) timeout_s=$2; shift ;;
    --no-publish) publish=0 ;;
    --smp) smp=$2; shift ;;
    --mem) mem=$2; shift ;;
    --polling) guest_args+=(--polling) ;;
    --perf) perf=1 ;;
    --guest-arg) guest_args+=("$2"); shift ;;    # one more argument for `photon vm guest` (A/B runs: --no-mrg-rxbuf)
    --guest-env) guest_env+=("$2"); shift ;;     # NAME=VALUE exported before Photon starts (A/B runs of runtime settings)                            # Debian's perf in the initramfs: profiles of Photon's process (Vm/GuestProfile.cs)
    --kvm) accel=kvm ;;
    --bench) bench=1; guest_args+=(--bench) ;;   # vm/bench.sh: a second NVMe left to Linux, randread, the ratio table
    --bench-args) read -r -a extra <<< "$2"; guest_args+=("${extra[@]}"); shift ;;
    --no-iommu) iommu=0; guest_args+=(--allow-no-iommu) ;;   # no emulated IOMMU: Photon, told so, falls back to uio_pci_generic + pagemap
    --assemble-only) assemble_only=1 ;;          # everything but the boot (VmTests' smoke check of --no-iommu)
    --netbench) netbench=1; net=1; guest_args+=(--netbench) ;;   # vm/netbench.sh: a second virtio-net left to Linux
    --linux-iommu) iommu_mode=$2; shift ;;       # kernel command line IOMMU mode for Linux's own drivers (bench: iommu.passthrough=1)
    --out) out=$(realpath -m "$2"); shift ;;
    --aot) aot=1 ;;                              # NativeAOT photon: no tier-up JIT in the guest (vm11's profile: 15-39% of its CPU)
    -h|--help) usage; exit 0 ;;
    *) echo "photon vm: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
say() { echo "photon vm: $*" >&2; }
skip() { echo "SKIPPED LOUDLY: $*"; exit 77; }

# --- tools ------------------------------------------------------------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
# busybox-static: a static /bin/busybox (busybox's dynamic build would need its libraries in the initramfs too).
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then need_pkgs+=(busybox-static); fi
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v depmod >/dev/null || need_pkgs+=(kmod)
command -v debugfs >/dev/null || need_pkgs+=(e2fsprogs)
if [ $usb = 1 ] && ! command -v mkfs.vfat >/dev/null; then need_pkgs+=(dosfstools); fi
if [ $usb = 1 ] && ! command -v mtype >/dev/null; then need_pkgs+=(mtools); fi
if [ $faults = 1 ] && ! command -v nc >/dev/null; then need_pkgs+=(netcat-openbsd); fi   # device_del on the monitor socket
if [ $net = 1 ] && ! command -v curl >/dev/null; then need_pkgs+=(curl); fi
if [ $net = 1 ] && ! command -v ping >/dev/null; then need_pkgs+=(iputils-ping); fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing ${need_pkgs[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}") >&2 \
      || skip "cannot install ${need_pkgs[*]}"
  else
    skip "missing ${need_pkgs[*]} and not root to install them"
  fi
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
mkdir -p "$out" "$cache"

# --- 1. kernel ---------------------------------------------------------------------------------------------------------
kroot="$cache/kernel"
if [ ! -d "$kroot/lib/modules" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2}' | sed -n 1p || true)
  [ -n "$pkg" ] || { apt-get update -qq >&2 || true; pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2}' | sed -n 1p || true); }
  [ -n "$pkg" ] || skip "cannot resolve the Debian kernel package (apt-cache depends linux-image-amd64)"
  say "downloading $pkg"
  (cd "$cache" && apt-get download "$pkg" >&2) || skip "apt-get download $pkg failed"
  rm -rf "$kroot.tmp" && dpkg-deb -x "$(ls "$cache"/"$pkg"_*.deb | head -1)" "$kroot.tmp" && mv "$kroot.tmp" "$kroot"
fi
kver=$(ls "$kroot/lib/modules" | head -1)
bzimage="$kroot/boot/vmlinuz-$kver"
kernel="$bzimage"
vmlinux="$cache/vmlinux-$kver"
if [ ! -s "$vmlinux" ]; then
  # The bzImage carries the kernel as an xz stream (CONFIG_KERNEL_XZ): find its magic, decompress to the ELF vmlinux.
  off=$(grep -abo $'\xfd7zXZ\x00' "$bzimage" | head -1 | cut -d: -f1 || true)
  if [ -n "$off" ]; then tail -c +$((off + 1)) "$bzimage" | xz -dc --single-stream > "$vmlinux.tmp" 2>/dev/null || true; fi
  if [ -s "$vmlinux.tmp" ] && head -c 4 "$vmlinux.tmp" | grep -q ELF; then mv "$vmlinux.tmp" "$vmlinux"; else rm -f "$vmlinux.tmp"; fi
fi
[ -s "$vmlinux" ] && kernel="$vmlinux"

# --- 2. photon publish + initramfs ------------------------------------------------------------------------------------
pub="$out/publish"
[ $aot = 1 ] && pub="$out/publish-aot"
if [ $aot = 1 ] && { [ $publish = 1 ] || [ ! -x "$pub/photon" ]; }; then
  # NativeAOT (tests/aot.sh's build): no JIT at all in the guest, the FAT and ext4 modules built in (ShippedModules);
  # symbols kept in the binary so the guest's perf names Photon's frames.
  say "publishing photon (NativeAOT)"
  dotnet publish "$repo/src/Photon.Cli" -c Release -r linux-x64 -p:PublishAot=true -p:StripSymbols=false -o "$pub" -nologo -clp:ErrorsOnly >&2
elif [ $publish = 1 ] || [ ! -x "$pub/photon" ]; then
  say "publishing photon (self-contained, ReadyToRun)"
  dotnet publish "$repo/src/Photon.Cli" -c Release -r linux-x64 --self-contained -p:PublishReadyToRun=true -o "$pub" -nologo -clp:ErrorsOnly >&2
fi
root="$out/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root,etc,opt}
cp /bin/busybox "$root/bin/busybox"
for a in sh mount umount mkdir insmod poweroff sync sleep cat echo ls mknod; do ln -s busybox "$root/bin/$a"; done
mdir="$root/lib/modules/$kver"
mkdir -p "$mdir"
mods=(kernel/drivers/vfio/vfio kernel/drivers/vfio/vfio_iommu_type1 kernel/virt/lib/irqbypass kernel/drivers/vfio/vfio_virqfd
      kernel/drivers/vfio/pci/vfio-pci-core kernel/drivers/vfio/pci/vfio-pci)
[ $iommu = 0 ] && mods+=(kernel/drivers/uio/uio kernel/drivers/uio/uio_pci_generic)   # the fallback's driver
: > "$root/etc/modules"
for m in "${mods[@]}"; do
  src=$(ls "$kroot/lib/modules/$kver/$m".ko* 2>/dev/null | head -1 || true)
  [ -n "$src" ] || { [ "$m" = kernel/drivers/vfio/vfio_virqfd ] && continue; skip "kernel $kver lacks $m"; }
  mkdir -p "$mdir/$(dirname "$m")"
  case "$src" in
    *.xz) xz -dc "$src" > "$mdir/$m.ko" ;;
    *.zst) zstd -qdc "$src" > "$mdir/$m.ko" ;;
    *) cp "$src" "$mdir/$m.ko" ;;
  esac
  echo "/lib/modules/$kver/$m.ko" >> "$root/etc/modules"
done
[ $bench = 1 ] && . "$repo/vm/bench/initramfs.sh"   # Linux's nvme driver and the randread tool
[ $netbench = 1 ] && . "$repo/vm/netbench/initramfs.sh"   # Linux's virtio_net and its side of the network benchmark
cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$mdir/" 2>/dev/null || true
depmod -b "$root" "$kver"
cp -a "$pub" "$root/opt/photon"
[ $aot = 1 ] && find "$root/opt/photon" \( -name '*.pdb' -o -name '*.dbg' \) -delete   # debug files: not run, 20+ MiB
cp "$repo/vm/init" "$root/init"
chmod +x "$root/init"
# Native libraries: everything ldd resolves for photon and the publish's .so files (and the loader itself).
{ ldd "$pub/photon" || true; find "$pub" -name '*.so' -exec ldd {} \; || true; } 2>/dev/null |
  awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}' | sort -u > "$out/libs.txt"
while read -r lib; do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done < "$out/libs.txt"
# .NET dlopens OpenSSL (the CSPRNG behind capability tokens, SHA-256 module pins, HMAC audit keys): ldd cannot see it.
for name in libssl.so.3 libcrypto.so.3; do
  lib=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ {print $NF}' | sed -n 1p || true)
  [ -n "$lib" ] && echo "$lib" >> "$out/libs.txt" && { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
done
for lib in /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libm.so.6; do [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }; done
for l in libc libm libdl libpthread librt; do
  f=$(ls "$root"/lib/x86_64-linux-gnu/$l.so.* 2>/dev/null | head -1 || true)
  [ -n "$f" ] && ln -sf "$(basename "$f")" "$root/lib/x86_64-linux-gnu/$l.so"
done
mkdir -p "$root/lib64" && [ -e "$root/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
printf '%s\n' "${guest_args[@]:-}" > "$root/etc/photon-args"
if [ $perf = 1 ]; then
  # --perf: the host's perf binary (Debian linux-perf; it reads any 6.x kernel's events) and the libraries ldd finds for
  # it; Photon then runs with perf maps for its JIT-compiled code and records itself (GuestProfile).
  perfbin=$(command -v perf) || skip "--perf needs perf on the host (apt-get install linux-perf)"
  cp -L "$perfbin" "$root/bin/perf"
  ldd "$perfbin" 2>/dev/null | awk '/=> \// {print $3}' | while read -r lib; do [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }; done
  printf 'export DOTNET_PerfMapEnabled=1 PHOTON_VM_PERF=1\n' >> "$root/etc/photon-env"
fi
for kv in "${guest_env[@]:-}"; do [ -n "$kv" ] && printf 'export %q\n' "$kv" >> "$root/etc/photon-env"; done
(cd "$root" && find . | cpio -o -H newc --quiet) > "$out/initramfs.cpio"
say "initramfs $(du -m "$out/initramfs.cpio" | cut -f1) MiB, kernel $kver ($(basename "$kernel"))"

# --- 3. disks ----------------------------------------------------------------------------------------------------------
if [ -z "$image" ]; then
  image="$out/nvme.img"
  seed="$out/seed"; rm -rf "$seed"; mkdir -p "$seed"
  echo "Hello from the host, written by mkfs.ext4 -d" > "$seed/from-host.txt"
  rm -f "$image"; truncate -s 64M "$image"
  mkfs.ext4 -q -F -L photon-nvme -d "$seed" "$image"
fi
usbimg="$out/usb.img"
if [ $usb = 1 ] && [ ! -f "$usbimg" ]; then truncate -s 32M "$usbimg"; mkfs.vfat -n PHOTONUSB "$usbimg" >/dev/null; fi

# --- 4. QEMU -----------------------------------------------------------------------------------------------------------
if [ $accel = kvm ] && ! { [ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo; }; then say "KVM not usable here (no VT-x/AMD-V or no /dev/kvm): using TCG"; accel=tcg; fi
qemu=(qemu-system-x86_64
  -machine q35,kernel-irqchip=split           # q35 chipset (PCIe); split irqchip: required by intremap
  -accel "$accel"                             # TCG (KVM here is kvm_pvm and cannot run an unmodified guest)
  -cpu max -smp "$smp" -m "$mem"
  -device intel-iommu,intremap=on,caching-mode=on   # emulated VT-d: VFIO's type-1 IOMMU, interrupt remapping for MSI-X
  -kernel "$kernel" -initrd "$out/initramfs.cpio"   # direct boot, no firmware
  -append "console=ttyS0 intel_iommu=on $iommu_mode rdinit=/init panic=-1 loglevel=4 tsc=reliable no_timer_check"
  -nographic -nodefaults -serial stdio        # serial console on stdio, no VGA/default NIC
  -monitor "unix:$out/monitor.sock,server,nowait"   # QEMU monitor (device_del for removal tests)
  -no-reboot                                  # a guest reboot/panic ends QEMU
  -drive "file=$image,if=none,id=nvm0,format=raw,cache=writeback"
  -device nvme,serial=photon0,drive=nvm0      # the NVMe controller Photon's driver owns
)
if [ $faults = 1 ]; then
  # A second NVMe controller on a scratch image: the reset-mid-I/O fault test writes raw blocks there, never on ext4.
  # Writes throttled to 8/s, so a burst is still inside the device when the driver resets the controller.
  rm -f "$out/scratch.img"; truncate -s 16M "$out/scratch.img"
  qemu+=(-drive "file=$out/scratch.img,if=none,id=nvm1,format=raw,cache=writeback,throttling.iops-write=8" -device nvme,serial=photon1,drive=nvm1)
fi
if [ $bench = 1 ]; then
  # An identical second controller on an identical copy of the disk, left to Linux's nvme driver.
  cp --sparse=always "$image" "$out/nvme-linux.img"
  qemu+=(-drive "file=$out/nvme-linux.img,if=none,id=nvm2,format=raw,cache=writeback" -device nvme,serial=linux0,drive=nvm2)
fi
netns=${PHOTON_VM_NETNS:-photonvm}; tap=pvm0   # PHOTON_VM_NETNS: another name, so two runs (CI, vm/netbench.sh) do not collide
if [ $net = 1 ]; then
  [ "$(id -u)" = 0 ] || skip "--net needs root (TAP device and network namespace)"
  ip netns del $netns 2>/dev/null || true
  ip netns add $netns
  ip -n $netns tuntap add dev $tap mode tap
  ip -n $netns addr add 10.77.0.1/24 dev $tap
  ip -n $netns link set $tap up
  ip -n $netns link set lo up
  # virtio-net, modern only (virtio 1.x over PCI), on the TAP whose host end (10.77.0.1) is in netns photonvm.
  qemu+=(-netdev "tap,id=net0,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on,mac=52:54:00:12:34:56,romfile=")
  [ $netbench = 1 ] && . "$repo/vm/netbench/qemu.sh"   # the second virtio-net, for Linux, on TAP pvm1
  qemu=(ip netns exec $netns "${qemu[@]}")
fi
if [ $usb = 1 ]; then
  # xHCI controller with a USB mass-storage stick backed by a FAT image.
  qemu+=(-device qemu-xhci,id=xhci -drive "file=$usbimg,if=none,id=usbstick,format=raw" -device usb-storage,bus=xhci.0,drive=usbstick,id=usbstick0)
fi
if [ $iommu = 0 ]; then
  # --no-iommu: no emulated VT-d, no intel_iommu=on, no iommu_platform on virtio devices — VFIO cannot work, so Photon
  # takes its devices through uio_pci_generic and physical addresses; hugepages=64 reserves the fallback's DMA memory.
  for i in "${!qemu[@]}"; do
    case "${qemu[$i]}" in
      intel-iommu,intremap=on,caching-mode=on) unset "qemu[$i]"; unset "qemu[$((i - 1))]" ;;
      *intel_iommu=on*) qemu[$i]=${qemu[$i]/intel_iommu=on/hugepages=64} ;;
      *iommu_platform=on*) qemu[$i]=${qemu[$i]/,iommu_platform=on/} ;;
    esac
  done
  qemu=("${qemu[@]}")
fi
if [ $assemble_only = 1 ]; then say "assembled, not booted: ${qemu[*]}"; exit 0; fi
log="$out/serial.log"
: > "$log"
# --- 5. the host's side of the demo, driven by PHOTON-VM: lines on the serial console --------------------------------
guest=10.77.0.2
host_side() {
  local net_done=0 usb_done=0
  while sleep 1; do
    if [ $net = 1 ] && [ $net_done = 0 ] && grep -q '^PHOTON-VM: NET-READY' "$log"; then
      net_done=1
      ip netns exec $netns ping -c 3 -i 0.5 -W 10 $guest > "$out/ping.log" 2>&1; echo "ping exit $?" >> "$out/ping.log"
      ip netns exec $netns curl -sS --max-time 120 "http://$guest/" > "$out/curl.html" 2> "$out/curl.err"; echo $? > "$out/curl.rc"
      [ $netbench = 1 ] && { . "$repo/vm/netbench/host.sh"; netbench_run; }
      ip netns exec $netns curl -sS --max-time 120 "http://$guest/done" > /dev/null 2>> "$out/curl.err" || true
      say "host side: ping $(grep -o '[0-9]* received' "$out/ping.log" || echo 'no reply'), curl exit $(cat "$out/curl.rc")"
    fi
    if [ $faults = 1 ] && [ $usb = 1 ] && [ $usb_done = 0 ] && grep -q '^PHOTON-VM: USB-REMOVE' "$log"; then
      usb_done=1
      printf 'device_del usbstick0\n' | nc -U -q 2 "$out/monitor.sock" > "$out/monitor.log" 2>&1 || true
      say "host side: device_del usbstick0 sent on the QEMU monitor"
    fi
  done
}
say "booting: ${qemu[*]}"
host_side & host_pid=$!
set +e
booted_at=$SECONDS
# QEMU runs in $out with core dumps on, so a crash of QEMU itself leaves a core to take a backtrace from.
(cd "$out" && rm -f core core.* && ulimit -c unlimited && exec timeout --foreground -k 10 "$timeout_s" "${qemu[@]}") < /dev/null 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
say "QEMU ran $((SECONDS - booted_at)) s"
kill "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true
[ $net = 1 ] && ip netns del $netns 2>/dev/null || true
# QEMU 7.2 itself crashed once in CI (SIGSEGV while the guest shut its devices down; the guest had passed every check
# it had reached). An emulator crash is not a verdict on Photon: say so loudly with QEMU's backtrace, and boot once
# more from fresh images. A second crash fails the run.
if [ $rc = 134 ] || [ $rc = 135 ] || [ $rc = 139 ]; then
  say "QEMU CRASHED (signal $((rc - 128))) after: $(grep -v '^$' "$log" | tail -1 | cut -c1-160)"
  core=$(ls -t "$out"/core* 2>/dev/null | head -1 || true)
  if [ -n "$core" ] && command -v gdb >/dev/null; then
    gdb -q -batch -ex 'bt 25' -ex 'info threads' /usr/bin/qemu-system-x86_64 "$core" > "$out/qemu-crash.txt" 2>&1 || true
    say "QEMU's backtrace ($out/qemu-crash.txt):"; grep -E '^#|^\*? +[0-9]+ +Thread' "$out/qemu-crash.txt" | head -30 >&2 || true
  fi
  rm -f "$out"/core*
  if [ -z "${PHOTON_VM_RERUN:-}" ]; then
    say "booting again once: the crash was QEMU's"
    cp "$log" "$out/serial-crashed.log"; rm -f "$usbimg"   # fresh stick; the NVMe image is made afresh (or is --image)
    PHOTON_VM_RERUN=1 exec "$0" "${orig_args[@]}" --no-publish
  fi
  say "QEMU crashed on the rerun too"
fi
if [ $rc = 124 ]; then say "QEMU timed out after ${timeout_s}s"; exit 1; fi
if grep -q "Could not access KVM\|failed to initialize\|qemu-system-x86_64: " "$log" && ! grep -q "vm: " "$log"; then
  skip "QEMU could not start: $(grep -m1 'qemu-system-x86_64: ' "$log")"
fi

# --- 6. check ----------------------------------------------------------------------------------------------------------
if [ $bench = 1 ]; then
  sed -n '/^BENCH-TABLE-BEGIN/,/^BENCH-TABLE-END/p' "$log" | sed '1d;$d' > "$out/bench-table.md"
  grep -q "^PHOTON-BENCH: PASS" "$log" && [ -s "$out/bench-table.md" ] || { say "FAIL: the benchmark did not complete"; exit 1; }
  say "benchmark table ($out/bench-table.md):"; cat "$out/bench-table.md"
  # The paired comparison's verdicts, one line per target, last (what a quick re-run reads).
  grep "^BENCH-SUMMARY: " "$log" | tr -d '\r' | sed "s/^BENCH-SUMMARY: /photon vm: SUMMARY (load $(cut -d' ' -f1-3 /proc/loadavg)): /" | tee "$out/bench-summary.txt"
  exit 0
fi
status=0
grep -q "^PHOTON-VM: PASS" "$log" || { say "FAIL: the guest did not report PHOTON-VM: PASS"; status=1; }
if e2fsck -fn "$image" > "$out/e2fsck.log" 2>&1; then say "e2fsck -fn: clean"; else say "FAIL: e2fsck -fn: $(tail -5 "$out/e2fsck.log")"; status=1; fi
# sed reads to the end (head would close the pipe early, and pipefail would count debugfs's SIGPIPE as a failure).
first=$(debugfs -R "cat /photon-vm.txt" "$image" 2>/dev/null | sed -n 1p || true)
if [[ "$first" == "Written by Photon"* ]]; then say "debugfs: /photon-vm.txt = \"$first\""
else say "FAIL: /photon-vm.txt is not on the image"; status=1; fi
if [ $usb = 1 ]; then
  if fsck.vfat -n "$usbimg" > "$out/fsck-usb.log" 2>&1; then say "fsck.vfat -n (USB stick): clean"; else say "FAIL: fsck.vfat -n: $(tail -5 "$out/fsck-usb.log")"; status=1; fi
  usbfirst=$(mtype -i "$usbimg" ::photon-usb.txt 2>/dev/null | sed -n 1p || true)
  if [[ "$usbfirst" == "Written by Photon"* ]]; then say "mtype: photon-usb.txt = \"$usbfirst\""
  else say "FAIL: photon-usb.txt is not on the USB stick"; status=1; fi
fi
if [ $net = 1 ]; then
  if grep -q "Hello from Photon" "$out/curl.html" 2>/dev/null; then say "curl http://$guest/ from netns $netns: \"$(head -c 60 "$out/curl.html")...\""
  else say "FAIL: curl http://$guest/ did not get Photon's page: $(cat "$out/curl.err" 2>/dev/null)"; status=1; fi
  if grep -q "ping exit 0" "$out/ping.log" 2>/dev/null; then say "ping $guest from netns $netns: $(grep -o '[0-9]* packets transmitted, [0-9]* received' "$out/ping.log")"
  else say "FAIL: ping $guest from netns $netns: $(tail -3 "$out/ping.log" 2>/dev/null)"; status=1; fi
fi
if [ $netbench = 1 ]; then
  if [ -s "$out/netbench-table.md" ]; then say "network benchmark:"; cat "$out/netbench-table.md"; else say "FAIL: the network benchmark did not run"; status=1; fi
  [ -s "$out/netbench-summary.txt" ] && sed "s/^/photon vm: SUMMARY (load $(cut -d' ' -f1-3 /proc/loadavg)): /" "$out/netbench-summary.txt"
fi
[ $status = 0 ] && echo "photon vm: PASS" || echo "photon vm: FAIL"
exit $status
