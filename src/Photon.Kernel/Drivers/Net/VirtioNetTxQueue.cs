using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One transmit virtqueue: a DMA pool of 2 KiB slots (<see cref="PoolBytes"/>, at least one per ring entry); a frame is
/// copied behind its virtio_net_hdr into consecutive free slots (<see cref="TxSlotRing"/>) — one for an MTU-sized frame,
/// 33 for a TSO frame of up to 64 KiB — and goes to the device as one descriptor, so the ring holds as many TSO frames
/// as the pool does (31 in 2 MiB, not the 7 that 256 one-slot descriptors held; issue #17, vm16). A batch is published
/// with at most one notification (none when EVENT_IDX says the device is still busy with the ring).
/// Sent slots are reclaimed lazily, on the next send, with TX interrupts suppressed; only a sender that finds the ring
/// full turns them on (with EVENT_IDX: for when three quarters of the ring is done) and sleeps. Offload requests are
/// checked against what was negotiated: a frame asking for an offload the device did not agree to is refused, never
/// sent with a checksum left partial.
/// </summary>
internal sealed class VirtioNetTxQueue : IDisposable
{
    /// <summary>The largest frame without TSO (Ethernet header + 1500), and with it (Ethernet header + a 64 KiB IPv4 packet).</summary>
    public const int MaxPlainFrame = 14 + 1500, MaxTsoFrame = 14 + ushort.MaxValue;
    /// <summary>The pool's size when the ring's own slots come to less: 2 MiB, one hugepage (the uio fallback's largest
    /// DMA buffer), room for 31 TSO frames in flight.</summary>
    public const int PoolBytes = 2 << 20;
    private readonly SplitVirtqueue _vq;
    private readonly IDmaBuffer _pool;
    private readonly int _slotSize;
    private readonly VirtioNotifier _notifier;
    private readonly DeviceWait _wait;
    private readonly NetworkOffloads _offloads;
    private readonly TxSlotRing _slots;
    private readonly VirtqCompletion[] _scratch;
    private readonly VirtqSegment[] _segment = new VirtqSegment[1];
    private readonly SemaphoreSlim _senders = new(1, 1);
    private long _frames, _errors, _bytes, _publishes, _descriptors, _reclaimed, _fullWaits, _largest, _csumOffloads, _tsoFrames, _withdrawn;
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
        _slots = new TxSlotRing(pool.Length / slotSize);
    }

    public static Result<VirtioNetTxQueue> Create(VirtioPciTransport transport, int index, ushort size, int slotSize, ushort vector, DeviceWait wait,
        NetworkOffloads offloads = NetworkOffloads.None, bool eventIndex = false)
    {
        var vq = SplitVirtqueue.Create(transport.Function, index, size, eventIndex);
        if (!vq.TryGet(out var ring)) return vq.Error;
        var pool = transport.Function.AllocateDma(Math.Max(size, PoolBytes / slotSize) * slotSize);
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
        ? Math.Min(MaxTsoFrame, _slots.Slots * _slotSize - VirtioNetHeader.Size) : Math.Min(MaxPlainFrame, _slotSize - VirtioNetHeader.Size);

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
                    // Full: no run of slots for the next frame, or (many small frames) no descriptor.
                    if (Reclaim() == 0 && (!_slots.CanTake(SlotsFor(frames[0].Length)) || _vq.FreeDescriptors == 0))
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
        int sent = 0, queued = 0; // sent: frames taken (queued on the ring, or dropped as withdrawn)
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
            if (_vq.FreeDescriptors < 1 || !_slots.CanTake(need)) break;
            bool gathered = OffloadedFrame.TryGetGathered(frame, out var headers, out var p1, out var p2, out var lease);
            if (lease is not null && !lease.TryEnter())
            {
                // Its lent payload went back to its sender (the send ended — acknowledged, or the connection gone — while
                // the frame waited): dropped unread, never sent with whatever that memory holds now (TxLease).
                sent++;
                _withdrawn++;
                continue;
            }
            _slots.TryTake(need, out int run, out int first); // CanTake said yes, and this queue's lock is held
            VirtioNetHeader.Write(header, offload.Value);
            // Header then frame, into consecutive slots: one descriptor. A gathered frame is poured from its pieces —
            // headers, then the payload where it lies in the socket's send buffer or a sender's lent memory — so the
            // payload is copied once, into the DMA slots, not first into a frame (issue #17); in pieces the runtime
            // copies itself (PieceCopy). The copy is the last read of the payload: the device reads only the slots.
            int length = VirtioNetHeader.Size + frame.Length;
            long began = NetPathCosts.Begin();
            var into = pool.Slice(first * _slotSize, length);
            header.CopyTo(into);
            if (gathered)
            {
                try
                {
                    headers.CopyTo(into[VirtioNetHeader.Size..]);
                    PieceCopy.Copy(p1.Span, into[(VirtioNetHeader.Size + headers.Length)..]);
                    PieceCopy.Copy(p2.Span, into[(VirtioNetHeader.Size + headers.Length + p1.Length)..]);
                }
                finally { lease?.Exit(); }
            }
            else PieceCopy.Copy(frame.Span, into[VirtioNetHeader.Size..]);
            NetPathCosts.End(NetPathCost.DmaSlotCopy, began, length);
            _segment[0] = new VirtqSegment(_pool.DeviceAddress + (ulong)(first * _slotSize), (uint)length, DeviceWrites: false);
            var added = _vq.Add(_segment, run);
            if (!added.IsOk)
            {
                _slots.Free(run);
                if (sent == 0 && added.Code != ErrorCode.WouldBlock) throw added.Error.ToException();
                break;
            }
            sent++;
            queued++;
            _bytes += frame.Length;
            _descriptors++;
            if (frame.Length > _largest) _largest = frame.Length;
            if (offload.Value.ChecksumOffset != 0) _csumOffloads++;
            if (offload.Value.SegmentSize != 0) _tsoFrames++;
        }
        if (queued > 0)
        {
            _publishes++;
            bool kick = _vq.Publish();
            if (kick)
            {
                long began = NetPathCosts.Begin();
                _notifier.Notify();
                NetPathCosts.End(NetPathCost.TxKick, began, 0);
            }
            NetPathTimeline.Mark(NetPathEvent.TxPublish, kick ? 1 : 0);
            Interlocked.Add(ref _frames, queued);
        }
        return sent;
    }

    private int Reclaim()
    {
        var polled = _vq.Poll(_scratch);
        if (!polled.TryGet(out int n)) throw polled.Error.ToException();
        for (int i = 0; i < n; i++) _slots.Free(_scratch[i].Cookie);
        _reclaimed += n;
        return n;
    }

    /// <summary>What this queue did so far (read without the senders' lock: each figure is a plain 64-bit counter).</summary>
    public VirtioNetTxStats Stats => new(Frames, Volatile.Read(ref _bytes), Volatile.Read(ref _publishes), _notifier.Notifications,
        Volatile.Read(ref _descriptors), Volatile.Read(ref _reclaimed), Volatile.Read(ref _fullWaits), _wait.Wakeups, Volatile.Read(ref _largest),
        Volatile.Read(ref _csumOffloads), Volatile.Read(ref _tsoFrames), Volatile.Read(ref _withdrawn));

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
