namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// What every host network device shares once its queues are open: each queue is a <see cref="HostFrameQueue"/>
/// (descriptor + HAL receive thread + RX ring), and the <see cref="INetworkQueues"/> contract is served from them the
/// same way. Subclasses only open the queues (and keep what is theirs: TAP vs AF_PACKET, MAC, promiscuous mode) and say
/// which frame lengths they accept.
/// </summary>
/// <remarks>Public only because the public devices derive from it (C# needs a base at least as accessible); the
/// constructor is private protected, so no device is defined outside this assembly. Not generic over the queue type: the
/// queue types are private and <see cref="HostFrameQueue"/> internal, which a public base cannot name.</remarks>
public abstract class HostNetworkDevice : INetworkQueues
{
    private readonly HostFrameQueue[] _queues;
    private readonly byte[] _mac;
    private int _disposed;

    private protected HostNetworkDevice(string name, byte[] mac, HostFrameQueue[] queues)
    {
        Name = name;
        _mac = mac;
        _queues = queues;
        foreach (var q in queues) q.Start();
    }

    public string Name { get; }
    public ReadOnlyMemory<byte> MacAddress => _mac;
    public abstract int Mtu { get; }
    public int QueueCount => _queues.Length;
    public long ReceivedFrames => _queues.Sum(q => q.Counters.RxFrames);
    public long DroppedFrames => _queues.Sum(q => q.Counters.RxDropped);

    /// <summary>Ethernet frames carry a 14-byte header and at most <see cref="Mtu"/> bytes of payload (no FCS).</summary>
    private protected bool IsValidFrame(int length) => length >= 14 && length <= Mtu + 14;

    /// <summary>The message of the <see cref="ErrorCode.InvalidArgument"/> error for a frame of a length not accepted.</summary>
    private protected virtual string BadFrameMessage(int length) => $"frame of {length} bytes";

    private void CheckFrame(int length)
    {
        if (!IsValidFrame(length)) throw new KernelException(ErrorCode.InvalidArgument, BadFrameMessage(length));
    }

    /// <summary>Closes queues opened so far when opening a device fails part-way.</summary>
    private protected static void CloseAll(IEnumerable<HostFrameQueue> queues)
    {
        foreach (var q in queues) q.Close();
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        CheckFrame(frame.Length);
        _queues[0].SendBatch([frame]);
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) =>
        HostFrameQueue.ReceiveAnyAsync(_queues, buffer, ct);

    public ValueTask<int> SendBatchAsync(int queue, IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default)
    {
        CheckQueue(queue);
        // Like sendmmsg: send the valid prefix; only a batch whose first frame is bad is an error.
        int valid = 0;
        while (valid < frames.Count && IsValidFrame(frames[valid].Length)) valid++;
        if (valid == 0 && frames.Count > 0) CheckFrame(frames[0].Length);
        if (valid == 0) return ValueTask.FromResult(0);
        return ValueTask.FromResult(_queues[queue].SendBatch(valid == frames.Count ? frames : frames.Take(valid).ToArray()));
    }

    public ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct = default)
    {
        CheckQueue(queue);
        return _queues[queue].ReceiveBatchAsync(buffers, lengths, ct);
    }

    public NetworkQueueCounters Counters(int queue)
    {
        CheckQueue(queue);
        return _queues[queue].Counters;
    }

    private void CheckQueue(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length)
            throw new KernelException(ErrorCode.OutOfRange, $"{Name} has queues 0..{_queues.Length - 1}, not {queue}");
    }

    /// <summary>Stops and closes every queue (for AF_PACKET this also leaves the fanout group and promiscuous mode).</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return ValueTask.CompletedTask;
        foreach (var q in _queues) q.RequestStop(); // all threads wind down together, then each is joined
        foreach (var q in _queues) q.Close();
        return ValueTask.CompletedTask;
    }
}
