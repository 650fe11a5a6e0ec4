namespace Photon.Kernel.Drivers.Virtio;

/// <summary>Device status bits (virtio 1.2 §2.1).</summary>
[Flags]
public enum VirtioStatus : byte
{
    Reset = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    NeedsReset = 64,
    Failed = 128,
}

/// <summary>Feature bits the drivers here use (virtio 1.2 §5.1.3, §6).</summary>
public static class VirtioFeatures
{
    public const ulong NetCsum = 1UL << 0;
    public const ulong NetGuestCsum = 1UL << 1;
    public const ulong NetMtu = 1UL << 3;
    public const ulong NetMac = 1UL << 5;
    /// <summary>VIRTIO_NET_F_GUEST_TSO4: the device may hand the driver TCP/IPv4 frames of up to 64 KiB, unsegmented
    /// (the host's TSO or GRO super-packets; needs GUEST_CSUM).</summary>
    public const ulong NetGuestTso4 = 1UL << 7;
    /// <summary>VIRTIO_NET_F_GUEST_TSO6: the same for TCP/IPv6 frames (gso_type TCPV6; needs GUEST_CSUM).</summary>
    public const ulong NetGuestTso6 = 1UL << 8;
    /// <summary>VIRTIO_NET_F_HOST_TSO4: the device segments TCP/IPv4 frames of up to 64 KiB (needs CSUM).</summary>
    public const ulong NetHostTso4 = 1UL << 11;
    /// <summary>VIRTIO_NET_F_HOST_TSO6: the device segments TCP/IPv6 frames of up to 64 KiB (needs CSUM).</summary>
    public const ulong NetHostTso6 = 1UL << 12;
    /// <summary>VIRTIO_NET_F_MRG_RXBUF: the device may spread one received frame over several posted buffers; the first
    /// buffer's header says how many (num_buffers).</summary>
    public const ulong NetMrgRxbuf = 1UL << 15;
    public const ulong NetStatus = 1UL << 16;
    public const ulong NetCtrlVq = 1UL << 17;
    public const ulong NetMq = 1UL << 22;
    public const ulong RingEventIdx = 1UL << 29;
    public const ulong Version1 = 1UL << 32;
    /// <summary>VIRTIO_F_ACCESS_PLATFORM: the device's DMA goes through the platform's IOMMU (QEMU: <c>iommu_platform=on</c>).
    /// A driver that hands out IOVAs (VFIO) needs it: without it QEMU's virtio devices take addresses as guest-physical.</summary>
    public const ulong AccessPlatform = 1UL << 33;
}

/// <summary>The virtio PCI vendor capability types (virtio 1.2 §4.1.4).</summary>
public enum VirtioPciCapType : byte
{
    Common = 1,
    Notify = 2,
    Isr = 3,
    Device = 4,
    PciConfig = 5,
}
