namespace Photon.Kernel.Drivers.Net;

/// <summary>Tuning for <see cref="VirtioNetDevice"/>: how many queue pairs to use at most (the device may offer
/// fewer), ring size (capped by the device), receive/transmit buffer size (a whole 1514-byte frame plus the 12-byte
/// header must fit: MRG_RXBUF is not negotiated), the tick of polling mode, and whether to poll even when MSI-X is
/// available.</summary>
public sealed record VirtioNetOptions(int MaxQueuePairs = 4, int QueueSize = 256, int BufferSize = 2048,
    TimeSpan? PollInterval = null, bool ForcePolling = false)
{
    public TimeSpan Poll => PollInterval ?? TimeSpan.FromMilliseconds(1);
}
