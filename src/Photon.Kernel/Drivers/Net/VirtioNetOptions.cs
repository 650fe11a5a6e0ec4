namespace Photon.Kernel.Drivers.Net;

/// <summary>Tuning for <see cref="VirtioNetDevice"/>: how many queue pairs to use at most (the device may offer
/// fewer), ring size (capped by the device), receive/transmit buffer size (a whole 1514-byte frame plus the 12-byte
/// header must fit when MRG_RXBUF is not negotiated), the tick of polling mode, whether to poll even when MSI-X is
/// available, whether to take the transmit offloads the device offers (CSUM, HOST_TSO4), and whether to take
/// EVENT_IDX (notification and interrupt suppression by ring index).</summary>
/// <param name="LargeReceive">Take GUEST_TSO4 when offered with GUEST_CSUM: the host hands over TCP segments of up to
/// 64 KiB (fewer frames, interrupts and ACKs per byte received). Each receive buffer then holds 64 KiB (virtio 1.2
/// §5.1.6.3.1: 65,562 bytes without MRG_RXBUF) and only <see cref="LargeReceiveBuffers"/> are posted. Off by default:
/// only a consumer that reads frames in the device's buffers (the stack's DMA-loan receive) can take such frames; the
/// copying receive path drops a frame that does not fit the caller's buffer.</param>
/// <param name="LargeReceiveBuffers">Receive buffers posted per queue with <paramref name="LargeReceive"/>: 30 of 64 KiB
/// fit in one 2 MiB hugepage, the largest DMA buffer of the uio fallback.</param>
/// <param name="ReceiveOnInterruptLine">With MSI-X on a backend that runs a handler on the vector's own thread (VFIO's
/// eventfd line): a receive queue's consumer resumes on that thread when the vector fires, so the stack handles the
/// burst and sends its ACKs (and the data they let out) on the interrupt's delivery instead of after a thread-pool wake
/// (<see cref="Virtio.DeviceWait"/>). Elsewhere it has no effect.</param>
/// <param name="MergeableReceive">Take MRG_RXBUF when offered: receive buffers are one page each, a ring entry each, and a
/// frame may fill several (a 64 KiB segment 17) — no 64 KiB buffer per descriptor with <paramref name="LargeReceive"/>, and
/// a full ring of buffers for small frames. A frame in consecutive pages is lent in place; the copying receive path
/// copies the pieces.</param>
public sealed record VirtioNetOptions(int MaxQueuePairs = 4, int QueueSize = 256, int BufferSize = 2048,
    TimeSpan? PollInterval = null, bool ForcePolling = false, bool Offloads = true, bool EventIndex = true,
    bool LargeReceive = false, int LargeReceiveBuffers = 30, bool ReceiveOnInterruptLine = true, bool MergeableReceive = true)
{
    /// <summary>A receive buffer with GUEST_TSO4 and no MRG_RXBUF: the 12-byte header and a 65,550-byte frame, rounded
    /// to 8 bytes.</summary>
    public const int LargeReceiveBufferSize = 65_568;

    public TimeSpan Poll => PollInterval ?? TimeSpan.FromMilliseconds(1);
}
