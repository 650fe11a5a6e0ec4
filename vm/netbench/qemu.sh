# Sourced by vm/run.sh --netbench after the first NIC is set up ($netns, $qemu set): a second, identical virtio-net
# device for Linux's virtio_net, on its own TAP (pvm1, host end 10.78.0.1) in the same netns, so one host peer talks to
# both. Its PCI slot (0x10) sorts after the first NIC's, so Photon's driver takes the first and leaves this one to Linux.
ip -n $netns tuntap add dev pvm1 mode tap
ip -n $netns addr add 10.78.0.1/24 dev pvm1
ip -n $netns link set pvm1 up
qemu+=(-netdev "tap,id=net1,ifname=pvm1,script=no,downscript=no"
       -device "virtio-net-pci,netdev=net1,disable-legacy=on,iommu_platform=on,mac=52:54:00:12:34:57,romfile=,addr=0x10")
