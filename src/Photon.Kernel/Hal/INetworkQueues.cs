namespace Photon.Kernel.Hal;

/// <summary>Counters of one hardware queue of a multi-queue network device.</summary>
/// <param name="RxFrames">Frames taken off the wire into this queue's receive ring.</param>
/// <param name="RxBursts">Wakeups that found at least one frame (RxFrames / RxBursts is the receive batch size).</param>
/// <param name="RxDropped">Frames lost because the receive ring was full or the frame was larger than a ring buffer.</param>
/// <param name="TxFrames">Frames handed to the wire.</param>
/// <param name="TxErrors">Frames the platform refused.</param>
public readonly record struct NetworkQueueCounters(long RxFrames, long RxBursts, long RxDropped, long TxFrames, long TxErrors);

/// <summary>
/// A network device with several hardware queues (RSS): each queue has its own receive ring, filled by the platform
/// (frames of one flow always land in the same queue), and its own transmit path, so queues can be served
/// independently and in batches. Queue numbers run from 0 to <see cref="QueueCount"/> - 1. The plain
/// <see cref="INetworkDevice"/> members still work: receive takes a frame from whichever queue has one.
/// </summary>
public interface INetworkQueues : INetworkDevice
{
    int QueueCount { get; }

    /// <summary>
    /// Transmits <paramref name="frames"/> in order on <paramref name="queue"/> and returns how many were sent (like
    /// sendmmsg): it stops at the first frame the platform refuses, throwing a <see cref="KernelException"/> if that is
    /// the first one, otherwise returning the count so the caller retries the rest and gets the error then.
    /// </summary>
    ValueTask<int> SendBatchAsync(int queue, IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default);

    /// <summary>
    /// Waits until <paramref name="queue"/> has at least one frame, then fills as many of <paramref name="buffers"/> as
    /// there are frames waiting (one frame per buffer, truncated to the buffer) and stores each length in
    /// <paramref name="lengths"/>; returns the number of frames (like recvmmsg with MSG_WAITFORONE). Throws a
    /// <see cref="KernelException"/> with <see cref="ErrorCode.Closed"/> once the device is closed.
    /// </summary>
    ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct = default);

    /// <summary>As <see cref="ReceiveBatchAsync(int, IReadOnlyList{Memory{byte}}, Memory{int}, CancellationToken)"/>, also
    /// saying per frame whether the platform verified its TCP/UDP checksum (receive checksum offload), so a consumer that
    /// gets copies — <c>NicDriver</c> on a host device — can pass that on to the stack instead of checking every byte
    /// again. A frame the platform left with a partial checksum (NEEDS_CSUM: it was never on a wire) is reported verified
    /// and copied as it is. Devices that cannot tell report false.</summary>
    ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, Memory<bool> checksumVerified,
        CancellationToken ct = default)
    {
        checksumVerified.Span.Clear();
        return ReceiveBatchAsync(queue, buffers, lengths, ct);
    }

    /// <summary>Counters of one queue.</summary>
    NetworkQueueCounters Counters(int queue);
}
