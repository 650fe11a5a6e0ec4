# Sourced by vm/run.sh --netbench while it builds the initramfs ($root, $kroot, $kver, $mdir set): Linux's own
# virtio-net driver (virtio core, virtio-pci, failover, virtio_net, in insmod order, appended to /etc/modules after VFIO)
# and /etc/netbench.sh, which vm/init runs before Photon to bring Linux's NIC up and start its servers.
netbench_mods=(kernel/drivers/virtio/virtio_ring kernel/drivers/virtio/virtio kernel/drivers/virtio/virtio_pci_legacy_dev
               kernel/drivers/virtio/virtio_pci_modern_dev kernel/drivers/virtio/virtio_pci kernel/net/core/failover
               kernel/drivers/net/net_failover kernel/drivers/net/virtio_net)
for m in "${netbench_mods[@]}"; do
  src=$(ls "$kroot/lib/modules/$kver/$m".ko* 2>/dev/null | head -1 || true)
  if [ -z "$src" ]; then grep -q "$m.ko" "$kroot/lib/modules/$kver/modules.builtin" 2>/dev/null && continue; skip "kernel $kver lacks $m (needed for the Linux side of the network benchmark)"; fi
  mkdir -p "$mdir/$(dirname "$m")"
  case "$src" in
    *.xz) xz -dc "$src" > "$mdir/$m.ko" ;;
    *.zst) zstd -qdc "$src" > "$mdir/$m.ko" ;;
    *) cp "$src" "$mdir/$m.ko" ;;
  esac
  echo "/lib/modules/$kver/$m.ko" >> "$root/etc/modules"
done
cp "$repo/vm/netbench/guest.sh" "$root/etc/netbench.sh"
chmod +x "$root/etc/netbench.sh"
