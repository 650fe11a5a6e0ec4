using Photon.Kernel.Drivers.Net;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// What every host network device shares once its queues are open: each queue is a <see cref="HostFrameQueue"/>
/// (descriptor + HAL receive thread + RX ring), and the <see cref="INetworkQueues"/> contract is served from them the
/// same way. Subclasses only open the queues (and keep what is theirs: TAP vs AF_PACKET, MAC, promiscuous mode) and say
/// which frame lengths they accept. The stack drives it as <see cref="INetworkBatches"/>: received frames are lent in
/// the RX ring's buffers (no second copy), and with offloads negotiated (<see cref="Offloads"/>: every frame carries a
/// virtio_net_hdr) it sends 64 KiB TSO segments with partial checksums and takes coalesced segments the host vouched for.
/// </summary>
/// <remarks>Public only because the public devices derive from it (C# needs a base at least as accessible); the
/// constructor is private protected, so no device is defined outside this assembly. Not generic over the queue type: the
/// queue types are private and <see cref="HostFrameQueue"/> internal, which a public base cannot name.</remarks>
public abstract class HostNetworkDevice : INetworkQueues, INetworkBatches, INetworkOffloads
{
    /// <summary>The largest frame an offloaded (TSO) send may hand the host: an Ethernet header and a 64 KiB IP packet.</summary>
    public const int MaxSegmentFrame = 14 + ushort.MaxValue;

    /// <summary>The same over IPv6, whose payload length (up to 65,535) leaves out its 40-byte header — and so the largest
    /// frame the host may hand over (a coalesced TCP/IPv6 segment), which receive buffers must hold.</summary>
    public const int MaxSegmentFrame6 = 14 + 40 + ushort.MaxValue;

    private readonly HostFrameQueue[] _queues;
    private readonly HostRxBatch[] _batches;
    private readonly byte[] _mac;
    private int _disposed;

    private protected HostNetworkDevice(string name, byte[] mac, HostFrameQueue[] queues, NetworkOffloads offloads = NetworkOffloads.None)
    {
        Name = name;
        _mac = mac;
        _queues = queues;
        _batches = queues.Select(_ => new HostRxBatch()).ToArray();
        Offloads = offloads;
        foreach (var q in queues) q.Start();
    }

    public string Name { get; }
    public ReadOnlyMemory<byte> MacAddress => _mac;
    public abstract int Mtu { get; }
    public int QueueCount => _queues.Length;
    public long ReceivedFrames => _queues.Sum(q => q.Counters.RxFrames);
    public long DroppedFrames => _queues.Sum(q => q.Counters.RxDropped);

    /// <summary>What the host agreed to do: None, or TCP checksum and segmentation offload through a virtio_net_hdr on
    /// every frame (TSO4 for the stack; the host also hands over coalesced TCP segments when it was allowed to).</summary>
    public NetworkOffloads Offloads { get; }

    /// <summary>With offloads the host may hand over coalesced segments up to a 64 KiB IP packet; without, MTU-sized frames.</summary>
    public int LargestReceivedFrame => Offloads != NetworkOffloads.None ? MaxSegmentFrame6 : Mtu + 14;

    /// <summary>Received frames dropped because their virtio_net_hdr was malformed (counted in <see cref="DroppedFrames"/> too).</summary>
    public long MalformedOffloadHeaders => _queues.Sum(q => q.RxBadHeaders);
    /// <summary>Received frames longer than a plain frame may be: coalesced TCP segments (GRO, or Linux's own TSO frames).</summary>
    public long LargeFramesReceived => _queues.Sum(q => q.RxLargeFrames);
    /// <summary>Sent frames longer than a plain frame may be: TSO segments the host cut into MTU-sized frames.</summary>
    public long LargeFramesSent => _queues.Sum(q => q.TxLargeFrames);

    /// <summary>Ethernet frames carry a 14-byte header and at most <see cref="Mtu"/> bytes of payload (no FCS).</summary>
    private protected bool IsValidFrame(int length) => length >= 14 && length <= Mtu + 14;

    /// <summary>The message of the <see cref="ErrorCode.InvalidArgument"/> error for a frame of a length not accepted.</summary>
    private protected virtual string BadFrameMessage(int length) => $"frame of {length} bytes";

    private void CheckFrame(ReadOnlyMemory<byte> frame)
    {
        if (CheckOffloaded(frame) is { } message) throw new KernelException(ErrorCode.InvalidArgument, message);
    }

    private bool IsValidFrame(ReadOnlyMemory<byte> frame) => CheckOffloaded(frame) is null;

    /// <summary>Why <paramref name="frame"/> cannot be sent, or null: a plain frame is bounded by the MTU; an offloaded one
    /// (<see cref="OffloadedFrame"/>) needs a device with offloads, and its checksum and header positions must lie in it.</summary>
    private string? CheckOffloaded(ReadOnlyMemory<byte> frame)
    {
        int length = frame.Length;
        var request = OffloadedFrame.TryGet(frame);
        if (!request.IsOk) return request.Error.Message;
        var o = request.Value;
        if (o.IsNone) return IsValidFrame(length) ? null : BadFrameMessage(length);
        if ((Offloads & NetworkOffloads.TcpChecksum) == 0) return $"{Name} offers no offloads";
        if (o.SegmentSize != 0 && (Offloads & (o.Ipv6 ? NetworkOffloads.Tcp6Segmentation : NetworkOffloads.TcpSegmentation)) == 0)
            return $"{Name} offers no segmentation offload{(o.Ipv6 ? " over IPv6" : "")}";
        int limit = o.SegmentSize == 0 ? Mtu + 14 : o.Ipv6 ? MaxSegmentFrame6 : MaxSegmentFrame;
        if (length < 14 || length > limit) return $"offloaded frame of {length} bytes (limit {limit})";
        if (o.ChecksumOffset != 0 && (o.ChecksumStart < 14 || o.ChecksumStart + o.ChecksumOffset + 2 > length))
            return $"checksum at {o.ChecksumStart}+{o.ChecksumOffset} outside a {length}-byte frame";
        if (o.SegmentSize != 0 && o.HeaderLength > length) return $"header length {o.HeaderLength} past a {length}-byte frame";
        return null;
    }

    /// <summary>Closes queues opened so far when opening a device fails part-way.</summary>
    private protected static void CloseAll(IEnumerable<HostFrameQueue> queues)
    {
        foreach (var q in queues) q.Close();
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        CheckFrame(frame);
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
        while (valid < frames.Count && IsValidFrame(frames[valid])) valid++;
        if (valid == 0 && frames.Count > 0) CheckFrame(frames[0]);
        if (valid == 0) return ValueTask.FromResult(0);
        return ValueTask.FromResult(_queues[queue].SendBatch(valid == frames.Count ? frames : frames.Take(valid).ToArray()));
    }

    public ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct = default)
    {
        CheckQueue(queue);
        return _queues[queue].ReceiveBatchAsync(buffers, lengths, ct);
    }

    public ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, Memory<bool> checksumVerified,
        CancellationToken ct = default)
    {
        CheckQueue(queue);
        return _queues[queue].ReceiveBatchAsync(buffers, lengths, checksumVerified, ct);
    }

    // ---- INetworkBatches: how the stack drives the device ----

    ValueTask<Result<IRxBatch>> INetworkBatches.ReceiveAsync(int queue, CancellationToken ct)
    {
        if ((uint)queue >= (uint)_queues.Length) return ValueTask.FromResult<Result<IRxBatch>>(Errors.Of(ErrorCode.OutOfRange, $"{Name} has no queue {queue}"));
        var batch = _batches[queue];
        batch.Release(); // the contract says the previous one was released; make it so either way
        return _queues[queue].LendBatchAsync(batch, ct);
    }

    ValueTask<Result<int>> INetworkBatches.TransmitAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct)
    {
        try { return ValueTask.FromResult<Result<int>>(SendBatchAsync(0, frames, ct).Result); }
        catch (KernelException e) { return ValueTask.FromResult<Result<int>>(e.Error); }
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

    /// <summary>The longest busy-poll window: a millisecond, so a stray setting cannot turn a receive thread into a spinner.</summary>
    public const int MaxBusyPollMicroseconds = 1000;

    /// <summary>Opt-in bounded busy-poll on every queue (SO_BUSY_POLL-like; 0, the default, is off; at most
    /// <see cref="MaxBusyPollMicroseconds"/>): after each burst the queue's receive thread reads without
    /// blocking for this long before it sleeps in poll(2), trading CPU for the request/response round trip's wake-up.</summary>
    public int BusyPollMicroseconds
    {
        get => _queues[0].BusyPollMicroseconds;
        set
        {
            if (value is < 0 or > MaxBusyPollMicroseconds)
                throw new ArgumentOutOfRangeException(nameof(value), $"0..{MaxBusyPollMicroseconds} µs");
            foreach (var q in _queues) q.BusyPollMicroseconds = value;
        }
    }

    /// <summary>Busy-poll windows, summed over the queues, that found frames, and that ran out and fell back to poll(2).</summary>
    public (long Hits, long Misses) BusyPolls => (_queues.Sum(q => q.BusyPolls.Hits), _queues.Sum(q => q.BusyPolls.Misses));

    /// <summary>Host system calls made by every queue so far: waits (poll), reads (recvmmsg on AF_PACKET, read on a TAP;
    /// with AF_PACKET a read may also be the wait) and writes (sendmmsg, write/writev).</summary>
    public (long Waits, long Reads, long Writes) HostCalls =>
        (_queues.Sum(q => q.HostCalls.Waits), _queues.Sum(q => q.HostCalls.Reads), _queues.Sum(q => q.HostCalls.Writes));

    /// <summary>Stops and closes every queue (for AF_PACKET this also leaves the fanout group and promiscuous mode).</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return ValueTask.CompletedTask;
        foreach (var q in _queues) q.RequestStop(); // all threads wind down together, then each is joined
        foreach (var q in _queues) q.Close();
        return ValueTask.CompletedTask;
    }
}
