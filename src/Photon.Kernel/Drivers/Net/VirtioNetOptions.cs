namespace Photon.Kernel.Drivers.Net;

/// <summary>Tuning for <see cref="VirtioNetDevice"/>: how many queue pairs to use at most (the device may offer
/// fewer), ring size (capped by the device), receive/transmit buffer size (a whole 1514-byte frame plus the 12-byte
/// header must fit: MRG_RXBUF is not negotiated), the tick of polling mode, whether to poll even when MSI-X is
/// available, whether to take the transmit offloads the device offers (CSUM, HOST_TSO4), and whether to take
/// EVENT_IDX (notification and interrupt suppression by ring index).</summary>
public sealed record VirtioNetOptions(int MaxQueuePairs = 4, int QueueSize = 256, int BufferSize = 2048,
    TimeSpan? PollInterval = null, bool ForcePolling = false, bool Offloads = true, bool EventIndex = true)
{
    public TimeSpan Poll => PollInterval ?? TimeSpan.FromMilliseconds(1);
}
