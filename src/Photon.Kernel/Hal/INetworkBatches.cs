namespace Photon.Kernel.Hal;

/// <summary>
/// A burst of received frames lent by a device — smoltcp's RX token, for a batch. The frames are read in place, in
/// arrival order, and stay valid until <see cref="Release"/>, which gives their buffers back to the device. A queue
/// lends one batch at a time.
/// </summary>
public interface IRxBatch
{
    int Count { get; }

    /// <summary>Frame <paramref name="index"/> (Ethernet header included, no FCS), in the device's own buffer.</summary>
    ReadOnlySpan<byte> this[int index] { get; }

    /// <summary>Runs <paramref name="reader"/> on frame <paramref name="index"/> in place. A batch of lent DMA buffers
    /// reads through each frame's loan and answers <see cref="ErrorCode.Revoked"/> when it was revoked (the frame is
    /// gone); a batch of the device's own memory just reads.</summary>
    Result View<TState>(int index, TState state, System.Buffers.ReadOnlySpanAction<byte, TState> reader)
    {
        reader(this[index], state);
        return Result.Ok;
    }

    /// <summary>Whether the device already verified frame <paramref name="index"/>'s TCP/UDP checksum (receive checksum
    /// offload: virtio-net GUEST_CSUM), so the stack may skip its own check. False unless a driver says otherwise.</summary>
    bool ChecksumVerified(int index) => false;

    /// <summary>Hands the buffers back (a driver posts them to its receive ring again); the frames must not be read after.</summary>
    void Release();
}

/// <summary>
/// A network device the stack drives in batches, with typed results instead of exceptions: receiving lends a burst of
/// frames per hardware queue without copying them (<see cref="IRxBatch"/>); transmitting hands frames over without
/// copying them — the TX token is the frame itself: ownership of its memory passes to the device with the call, and the
/// caller never touches it again.
/// </summary>
public interface INetworkBatches
{
    /// <summary>Receive queues, numbered 0 to QueueCount - 1; each is served by its own consumer.</summary>
    int QueueCount { get; }

    /// <summary>Waits until <paramref name="queue"/> has at least one frame and lends every frame waiting (up to a
    /// device-chosen burst). <see cref="ErrorCode.Closed"/> once the device is gone, <see cref="ErrorCode.Cancelled"/>
    /// when <paramref name="ct"/> fires; the previous batch of the queue must have been released.</summary>
    ValueTask<Result<IRxBatch>> ReceiveAsync(int queue, CancellationToken ct = default);

    /// <summary>Queues <paramref name="frames"/> for transmission, in order per flow, and returns how many were taken (the
    /// rest were refused: the error is returned when none was taken). Waits only for ring space, not for the wire.</summary>
    ValueTask<Result<int>> TransmitAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default);
}
