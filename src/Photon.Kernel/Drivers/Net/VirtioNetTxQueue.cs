using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One transmit virtqueue: a DMA pool of one slot per ring entry; a frame is copied behind its virtio_net_hdr into free
/// slots — one for an MTU-sized frame, a chain of them (one descriptor each) for a TSO frame of up to 64 KiB — and a
/// batch is published with at most one notification (none when EVENT_IDX says the device is still busy with the ring).
/// Sent slots are reclaimed lazily, on the next send, with TX interrupts suppressed; only a sender that finds the ring
/// full turns them on (with EVENT_IDX: for when three quarters of the ring is done) and sleeps. Offload requests are
/// checked against what was negotiated: a frame asking for an offload the device did not agree to is refused, never
/// sent with a checksum left partial.
/// </summary>
internal sealed class VirtioNetTxQueue : IDisposable
{
    /// <summary>The largest frame without TSO (Ethernet header + 1500), and with it (Ethernet header + a 64 KiB IPv4 packet).</summary>
    public const int MaxPlainFrame = 14 + 1500, MaxTsoFrame = 14 + ushort.MaxValue;
    private readonly SplitVirtqueue _vq;
    private readonly IDmaBuffer _pool;
    private readonly int _slotSize;
    private readonly VirtioNotifier _notifier;
    private readonly DeviceWait _wait;
    private readonly NetworkOffloads _offloads;
    private readonly Stack<int> _idle = new();
    private readonly int[] _chainNext;       // per slot: the next slot of its frame's chain, -1 at the end
    private readonly VirtqCompletion[] _scratch;
    private readonly VirtqSegment[] _segments;
    private readonly SemaphoreSlim _senders = new(1, 1);
    private long _frames, _errors, _bytes, _publishes, _descriptors, _reclaimed, _fullWaits, _largest, _csumOffloads, _tsoFrames;
    private bool _disposed;

    private VirtioNetTxQueue(SplitVirtqueue vq, IDmaBuffer pool, int slotSize, VirtioNotifier notifier, DeviceWait wait, NetworkOffloads offloads)
    {
        _vq = vq;
        _pool = pool;
        _slotSize = slotSize;
        _notifier = notifier;
        _wait = wait;
        _offloads = offloads;
        _scratch = new VirtqCompletion[vq.Size];
        _chainNext = new int[vq.Size];
        _segments = new VirtqSegment[(VirtioNetHeader.Size + MaxTsoFrame + slotSize - 1) / slotSize];
        for (int i = vq.Size - 1; i >= 0; i--) _idle.Push(i);
    }

    public static Result<VirtioNetTxQueue> Create(VirtioPciTransport transport, int index, ushort size, int slotSize, ushort vector, DeviceWait wait,
        NetworkOffloads offloads = NetworkOffloads.None, bool eventIndex = false)
    {
        var vq = SplitVirtqueue.Create(transport.Function, index, size, eventIndex);
        if (!vq.TryGet(out var ring)) return vq.Error;
        var pool = transport.Function.AllocateDma(size * slotSize);
        if (!pool.TryGet(out var slots)) { ring.Dispose(); return pool.Error; }
        var enabled = transport.EnableQueue(index, size, ring.DescriptorAddress, ring.DriverAreaAddress, ring.DeviceAreaAddress, vector);
        if (!enabled.TryGet(out var notifier)) { ring.Dispose(); slots.Dispose(); return enabled.Error; }
        ring.SuppressInterrupts(true);
        return new VirtioNetTxQueue(ring, slots, slotSize, notifier, wait, offloads);
    }

    public long Frames => Interlocked.Read(ref _frames);
    public long Errors => Interlocked.Read(ref _errors);
    /// <summary>The largest frame this queue takes: a TSO frame needs that many slots free in a ring of this size.</summary>
    public int MaxFrame => (_offloads & (NetworkOffloads.TcpSegmentation | NetworkOffloads.Tcp6Segmentation)) != 0
        ? Math.Min(MaxTsoFrame, _vq.Size * _slotSize - VirtioNetHeader.Size) : Math.Min(MaxPlainFrame, _slotSize - VirtioNetHeader.Size);

    /// <summary>Queues <paramref name="frames"/> in order; see <c>INetworkQueues.SendBatchAsync</c> for the contract.</summary>
    public async ValueTask<int> SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct)
    {
        if (frames.Count == 0) return 0;
        await _senders.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (true)
            {
                if (_disposed) throw new KernelException(ErrorCode.Closed, "transmit queue closed");
                int sent = TrySend(frames);
                if (sent > 0) return sent;
                // Interrupts on (armed from the used entries taken so far), then one more look: a completion that raced
                // the arming is seen here, and any later one crosses the armed index and interrupts.
                _vq.SuppressInterrupts(false, after: _vq.InFlight * 3 / 4);
                try
                {
                    if (Reclaim() == 0 && _idle.Count < SlotsFor(frames[0].Length))
                    {
                        Interlocked.Increment(ref _fullWaits);
                        await _wait.WaitAsync(ct).ConfigureAwait(false);
                    }
                }
                finally { _vq.SuppressInterrupts(true); }
            }
        }
        finally { _senders.Release(); }
    }

    private int SlotsFor(int frameLength) => (VirtioNetHeader.Size + frameLength + _slotSize - 1) / _slotSize;

    /// <summary>The frame's offload request, checked against the frame and what was negotiated.</summary>
    private Result<TxOffload> OffloadOf(ReadOnlyMemory<byte> frame)
    {
        var got = OffloadedFrame.TryGet(frame);
        if (!got.TryGet(out var o) || o.IsNone) return got;
        if ((_offloads & NetworkOffloads.TcpChecksum) == 0) return Photon.Kernel.Errors.Of(ErrorCode.InvalidArgument, "checksum offload was not negotiated");
        if (o.ChecksumOffset == 0 || o.ChecksumStart < 14 || o.ChecksumStart + o.ChecksumOffset + 2 > frame.Length)
            return Photon.Kernel.Errors.Of(ErrorCode.InvalidArgument, $"checksum at {o.ChecksumStart}+{o.ChecksumOffset} outside a {frame.Length}-byte frame");
        if (o.SegmentSize == 0) return o;
        if (!o.Ipv6 && (_offloads & NetworkOffloads.TcpSegmentation) == 0) return Photon.Kernel.Errors.Of(ErrorCode.InvalidArgument, "TSO was not negotiated");
        if (o.Ipv6 && (_offloads & NetworkOffloads.Tcp6Segmentation) == 0) return Photon.Kernel.Errors.Of(ErrorCode.InvalidArgument, "TSO over IPv6 (HOST_TSO6) was not negotiated");
        if (o.HeaderLength <= o.ChecksumStart || o.HeaderLength >= frame.Length || o.HeaderLength + o.SegmentSize > MaxPlainFrame)
            return Photon.Kernel.Errors.Of(ErrorCode.InvalidArgument, $"TSO headers of {o.HeaderLength} bytes, segments of {o.SegmentSize}, in a {frame.Length}-byte frame");
        return o;
    }

    private int TrySend(IReadOnlyList<ReadOnlyMemory<byte>> frames)
    {
        _ = Reclaim();
        int sent = 0;
        var pool = _pool.Memory.Span;
        Span<byte> header = stackalloc byte[VirtioNetHeader.Size];
        foreach (var frame in frames)
        {
            var offload = OffloadOf(frame);
            int max = offload.IsOk && offload.Value.SegmentSize != 0 ? MaxFrame : Math.Min(MaxPlainFrame, MaxFrame);
            if (frame.Length < 14 || frame.Length > max || !offload.IsOk)
            {
                Interlocked.Increment(ref _errors);
                if (sent == 0)
                    throw offload.IsOk ? new KernelException(ErrorCode.InvalidArgument, $"frame of {frame.Length} bytes (14 to {max})") : offload.Error.ToException();
                break;
            }
            int need = SlotsFor(frame.Length);
            if (_idle.Count < need || _vq.FreeDescriptors < need) break;
            VirtioNetHeader.Write(header, offload.Value);
            // Header then frame, poured slot by slot; each slot is one descriptor of the chain. A gathered frame is
            // poured from its pieces — headers, then the payload where it lies in the socket's send buffer — so the
            // payload is copied once, into the DMA slots, not first into a frame (issue #17).
            ReadOnlySpan<byte> a, b = default, c = default;
            if (OffloadedFrame.TryGetGathered(frame, out var headers, out var p1, out var p2)) { a = headers; b = p1.Span; c = p2.Span; }
            else a = frame.Span;
            int first = -1, prev = -1;
            for (int i = 0; i < need; i++)
            {
                int slot = _idle.Pop();
                var into = pool.Slice(slot * _slotSize, _slotSize);
                int used = 0;
                if (i == 0) { header.CopyTo(into); used = VirtioNetHeader.Size; first = slot; }
                used += Pour(into[used..], ref a);
                used += Pour(into[used..], ref b);
                used += Pour(into[used..], ref c);
                _segments[i] = new VirtqSegment(_pool.DeviceAddress + (ulong)(slot * _slotSize), (uint)used, DeviceWrites: false);
                if (prev >= 0) _chainNext[prev] = slot;
                _chainNext[slot] = -1;
                prev = slot;
            }
            var added = _vq.Add(_segments.AsSpan(0, need), first);
            if (!added.IsOk)
            {
                for (int s = first; s >= 0; s = _chainNext[s]) _idle.Push(s);
                if (sent == 0 && added.Code != ErrorCode.WouldBlock) throw added.Error.ToException();
                break;
            }
            sent++;
            _bytes += frame.Length;
            _descriptors += need;
            if (frame.Length > _largest) _largest = frame.Length;
            if (offload.Value.ChecksumOffset != 0) _csumOffloads++;
            if (offload.Value.SegmentSize != 0) _tsoFrames++;
        }
        if (sent > 0)
        {
            _publishes++;
            bool kick = _vq.Publish();
            if (kick) _notifier.Notify();
            NetPathTimeline.Mark(NetPathEvent.TxPublish, kick ? 1 : 0);
            Interlocked.Add(ref _frames, sent);
        }
        return sent;
    }

    /// <summary>Copies what fits of <paramref name="src"/> into <paramref name="into"/> and advances it; returns the bytes copied.</summary>
    private static int Pour(Span<byte> into, ref ReadOnlySpan<byte> src)
    {
        int n = Math.Min(into.Length, src.Length);
        src[..n].CopyTo(into);
        src = src[n..];
        return n;
    }

    private int Reclaim()
    {
        var polled = _vq.Poll(_scratch);
        if (!polled.TryGet(out int n)) throw polled.Error.ToException();
        for (int i = 0; i < n; i++)
            for (int s = _scratch[i].Cookie; s >= 0; s = _chainNext[s]) _idle.Push(s);
        _reclaimed += n;
        return n;
    }

    /// <summary>What this queue did so far (read without the senders' lock: each figure is a plain 64-bit counter).</summary>
    public VirtioNetTxStats Stats => new(Frames, Volatile.Read(ref _bytes), Volatile.Read(ref _publishes), _notifier.Notifications,
        Volatile.Read(ref _descriptors), Volatile.Read(ref _reclaimed), Volatile.Read(ref _fullWaits), _wait.Wakeups, Volatile.Read(ref _largest),
        Volatile.Read(ref _csumOffloads), Volatile.Read(ref _tsoFrames));

    /// <summary>Frees the rings once no sender is inside (senders blocked on a full ring must have been cancelled).</summary>
    public async ValueTask CloseAsync()
    {
        await _senders.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            _vq.Dispose();
            _pool.Dispose();
        }
        finally { _senders.Release(); }
    }

    public void Dispose() => CloseAsync().AsTask().GetAwaiter().GetResult();
}
