# Sourced by vm/run.sh --bench while it builds the initramfs ($root, $kroot, $kver, $mdir set): Linux's own NVMe driver
# (nvme and what it needs, in insmod order, appended to /etc/modules after VFIO) and the static randread tool.
bench_mods=(kernel/lib/crc64 kernel/crypto/crct10dif_common kernel/crypto/crct10dif_generic kernel/crypto/crc64_rocksoft_generic
            kernel/lib/crc-t10dif kernel/lib/crc64-rocksoft kernel/block/t10-pi kernel/drivers/nvme/host/nvme-core
            kernel/drivers/nvme/host/nvme)
for m in "${bench_mods[@]}"; do
  src=$(ls "$kroot/lib/modules/$kver/$m".ko* 2>/dev/null | head -1 || true)
  [ -n "$src" ] || skip "kernel $kver lacks $m (needed for the Linux side of the benchmark)"
  mkdir -p "$mdir/$(dirname "$m")"
  case "$src" in
    *.xz) xz -dc "$src" > "$mdir/$m.ko" ;;
    *.zst) zstd -qdc "$src" > "$mdir/$m.ko" ;;
    *) cp "$src" "$mdir/$m.ko" ;;
  esac
  echo "/lib/modules/$kver/$m.ko" >> "$root/etc/modules"
done
command -v gcc >/dev/null || skip "gcc is needed to build vm/bench/randread.c"
gcc -O2 -static -pthread -Wall -Wextra -Werror -o "$root/bin/randread" "$repo/vm/bench/randread.c" || skip "cannot build randread (static glibc: libc6-dev)"
