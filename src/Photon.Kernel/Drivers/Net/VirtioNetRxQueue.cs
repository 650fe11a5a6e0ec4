using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One receive virtqueue: a DMA pool of one buffer per ring entry, all posted to the device; completed buffers are
/// copied out and re-posted at once (refill), with one notification per batch. Interrupts stay suppressed while the
/// consumer is draining and are re-enabled only before it sleeps (then the ring is checked once more, so a frame that
/// landed in between is not missed). One consumer at a time. Zero-copy receive (<see cref="TakeLentAsync"/>) lends a
/// completed buffer in place instead: it stays out of the ring until given back, and at most half the ring is lent, so
/// the device always has buffers to receive into. The pool outlives the queue while any buffer is still lent.
/// Each frame's virtio-net header is checked (<see cref="VirtioNetHeader.ReadReceived"/>): a frame whose header breaks
/// the contract is dropped and counted (<see cref="BadHeaders"/>); with GUEST_CSUM a lent frame carries the device's
/// word on its checksum, and a copied NEEDS_CSUM frame has its checksum finished in the copy. With GUEST_TSO4
/// (<c>largeSegments</c>) the buffers are 64 KiB and fewer than the ring's entries, and a frame may be one TCP segment
/// of up to 64 KiB (<see cref="LargeFrames"/>); the copying path drops a frame longer than the caller's buffer rather
/// than hand over a cut one.
/// </summary>
internal sealed class VirtioNetRxQueue : IDisposable
{
    private const int MtuFrame = 1514;
    private readonly SplitVirtqueue _vq;
    private readonly IDmaBuffer _pool;
    private readonly int _bufferSize;
    private readonly VirtioNotifier _notifier;
    private readonly DeviceWait _wait;
    private readonly Stack<int> _idle = new();
    private readonly VirtqCompletion[] _scratch;
    private readonly bool _guestChecksum, _largeSegments;
    private readonly int _buffers;
    private readonly Lock _lock = new();
    private long _frames, _bursts, _dropped, _badHeaders, _checksumsVerified, _largeFrames, _largestFrame;
    private int _lent, _refillHeld;
    private bool _disposed;

    private VirtioNetRxQueue(SplitVirtqueue vq, IDmaBuffer pool, int bufferSize, int buffers, VirtioNotifier notifier, DeviceWait wait,
        bool guestChecksum, bool largeSegments)
    {
        _guestChecksum = guestChecksum;
        _largeSegments = largeSegments;
        _buffers = buffers;
        _vq = vq;
        _pool = pool;
        _bufferSize = bufferSize;
        _notifier = notifier;
        _wait = wait;
        _scratch = new VirtqCompletion[vq.Size];
        for (int i = buffers - 1; i >= 0; i--) _idle.Push(i);
    }

    /// <param name="buffers">Receive buffers posted (default: one per ring entry).</param>
    /// <param name="largeSegments">GUEST_TSO4 was negotiated: frames may be TCP/IPv4 segments of up to 64 KiB.</param>
    public static Result<VirtioNetRxQueue> Create(VirtioPciTransport transport, int index, ushort size, int bufferSize, ushort vector, DeviceWait wait,
        bool eventIndex = false, bool guestChecksum = false, bool largeSegments = false, int buffers = 0)
    {
        if (buffers <= 0 || buffers > size) buffers = size;
        var vq = SplitVirtqueue.Create(transport.Function, index, size, eventIndex);
        if (!vq.TryGet(out var ring)) return vq.Error;
        var pool = transport.Function.AllocateDma(buffers * bufferSize);
        if (!pool.IsOk) { ring.Dispose(); return pool.Error; }
        var enabled = transport.EnableQueue(index, size, ring.DescriptorAddress, ring.DriverAreaAddress, ring.DeviceAreaAddress, vector);
        if (!enabled.TryGet(out var notifier)) { ring.Dispose(); pool.Value.Dispose(); return enabled.Error; }
        var q = new VirtioNetRxQueue(ring, pool.Value, bufferSize, buffers, notifier, wait, guestChecksum, largeSegments);
        ring.SuppressInterrupts(true);
        q.Refill();
        return q;
    }

    public long Frames => Interlocked.Read(ref _frames);
    public long Bursts => Interlocked.Read(ref _bursts);
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Frames dropped because their virtio-net header broke the contract (also counted in <see cref="Dropped"/>).</summary>
    public long BadHeaders => Interlocked.Read(ref _badHeaders);
    /// <summary>Frames whose transport checksum the device vouched for (GUEST_CSUM), so nobody verified it in software.</summary>
    public long ChecksumsVerified => Interlocked.Read(ref _checksumsVerified);

    /// <summary>Frames longer than an MTU-sized frame (GUEST_TSO4: the host's unsegmented TCP segments), and the longest.</summary>
    public long LargeFrames => Interlocked.Read(ref _largeFrames);
    public long LargestFrame => Interlocked.Read(ref _largestFrame);

    public VirtioNetRxStats Stats => new(Frames, Bursts, _notifier.Notifications, _wait.Wakeups, ChecksumsVerified, BadHeaders, LargeFrames, LargestFrame,
        _wait.LineResumes);

    /// <summary>Buffers lent out now, and the most that may be (half the buffers).</summary>
    public int Lent { get { lock (_lock) return _lent; } }
    public int MaxLent => _buffers / 2;

    /// <summary>Posts every idle buffer (called once the device is live, and after each batch).</summary>
    public void Refill()
    {
        lock (_lock) RefillLocked();
    }

    private void RefillLocked()
    {
        if (_disposed) return;
        int added = 0;
        while (_idle.Count > 0 && _vq.FreeDescriptors > 0)
        {
            int b = _idle.Peek();
            var seg = new VirtqSegment(_pool.DeviceAddress + (ulong)(b * _bufferSize), (uint)_bufferSize, DeviceWrites: true);
            if (!_vq.Add([seg], b).IsOk) break;
            _idle.Pop();
            added++;
        }
        if (added == 0) return;
        if (_vq.Publish()) _notifier.Notify();
    }

    /// <summary>Waits for frames and copies up to <paramref name="buffers"/>.Count of them out (see
    /// <c>INetworkQueues.ReceiveBatchAsync</c>). Throws <see cref="KernelException"/> (<c>Corrupted</c>) once the device
    /// broke the ring.</summary>
    public async ValueTask<int> ReceiveAsync(IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct)
    {
        if (buffers.Count == 0 || lengths.Length < buffers.Count) throw new KernelException(ErrorCode.InvalidArgument, "no receive buffers");
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            int n = TryTake(buffers, lengths.Span);
            if (n > 0)
            {
                Interlocked.Add(ref _frames, n);
                Interlocked.Increment(ref _bursts);
                return n;
            }
            await WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Sleeps until the device may have completed buffers: interrupts on, one more look at the ring, then the
    /// wait; interrupts off again afterwards.</summary>
    public async ValueTask WaitAsync(CancellationToken ct)
    {
        bool pending;
        lock (_lock)
        {
            if (_disposed) throw new KernelException(ErrorCode.Closed, "receive queue closed");
            _vq.SuppressInterrupts(false);
            pending = _vq.HasCompletions;
        }
        try
        {
            if (!pending)
            {
                NetPathTimeline.Mark(NetPathEvent.RxSleep);
                int woke = await _wait.WaitAsync(ct).ConfigureAwait(false);
                NetPathTimeline.Mark(NetPathEvent.RxWake, woke);
            }
        }
        finally
        {
            lock (_lock) if (!_disposed) _vq.SuppressInterrupts(true);
        }
    }

    /// <summary>Takes what the device has finished without waiting; frames shorter than the header are dropped.</summary>
    public int TryTake(IReadOnlyList<Memory<byte>> buffers, Span<int> lengths)
    {
        lock (_lock)
        {
            if (_disposed) throw new KernelException(ErrorCode.Closed, "receive queue closed");
            var polled = _vq.Poll(_scratch.AsSpan(0, Math.Min(buffers.Count, _scratch.Length)));
            if (!polled.TryGet(out int count)) throw polled.Error.ToException();
            int n = 0;
            var pool = _pool.Memory.Span;
            for (int i = 0; i < count; i++)
            {
                var c = _scratch[i];
                int written = (int)c.Written;
                if (written < VirtioNetHeader.Size + 14) Interlocked.Increment(ref _dropped);
                else if (ReadHeader(pool.Slice(c.Cookie * _bufferSize, VirtioNetHeader.Size), written - VirtioNetHeader.Size) is { } info)
                {
                    var frame = pool.Slice(c.Cookie * _bufferSize + VirtioNetHeader.Size, written - VirtioNetHeader.Size);
                    var into = buffers[n].Span;
                    // A cut frame would reach the stack as a short, bad one: drop it whole (a large segment needs lending).
                    if (frame.Length > into.Length) Interlocked.Increment(ref _dropped);
                    else
                    {
                        frame.CopyTo(into);
                        // The copy's consumer verifies checksums itself: finish a partial one.
                        if (info.State == RxChecksum.Partial) VirtioNetHeader.FinishChecksum(into[..frame.Length], info);
                        lengths[n++] = frame.Length;
                    }
                }
                _idle.Push(c.Cookie);
            }
            if (count > 0)
            {
                NetPathTimeline.Mark(NetPathEvent.RxTake, count);
                RefillLocked();
            }
            return n;
        }
    }

    /// <summary>Waits for the next frame and lends it in the buffer the device wrote (no copy); frames shorter than the
    /// header are dropped as on the copying path. Busy at <see cref="MaxLent"/>; Closed once the queue is closed.</summary>
    public async ValueTask<Result<LentFrame>> TakeLentAsync(CancellationToken ct)
    {
        while (true)
        {
            var taken = TryTakeLent();
            if (taken.IsOk || taken.Code != ErrorCode.WouldBlock) return taken;
            try { await WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "receive cancelled"); }
            catch (KernelException e) { return e.Error; }
        }
    }

    /// <summary>Lends the next completed frame without waiting: WouldBlock when the ring has none, Busy at
    /// <see cref="MaxLent"/>, Closed once the queue is closed.</summary>
    public Result<LentFrame> TryTakeLent()
    {
        lock (_lock)
        {
            if (_disposed) return Errors.Of(ErrorCode.Closed, "receive queue closed");
            if (_lent >= MaxLent) return Errors.Of(ErrorCode.Busy, $"{_lent} receive buffers are lent (at most {MaxLent})");
            while (true)
            {
                var polled = _vq.Poll(_scratch.AsSpan(0, 1));
                if (!polled.TryGet(out int count)) return polled.Error;
                if (count == 0) return Errors.Of(ErrorCode.WouldBlock, "no frame received");
                var c = _scratch[0];
                int written = (int)c.Written;
                var header = ReadHeaderLent(c.Cookie, written);
                if (header is not { } info)
                {
                    _idle.Push(c.Cookie);
                    RefillLocked();
                    continue;
                }
                _lent++;
                Interlocked.Increment(ref _frames);
                Interlocked.Increment(ref _bursts);
                int slot = c.Cookie;
                var frame = new Dma.DmaBufferSlice(_pool, slot * _bufferSize + VirtioNetHeader.Size, written - VirtioNetHeader.Size);
                return new LentFrame(frame, () => GiveBack(slot), info.Verified);
            }
        }
    }

    /// <summary>The header of a lent frame: null (dropped and counted) when the frame is too short or the header bad.</summary>
    private RxChecksumInfo? ReadHeaderLent(int slot, int written)
    {
        if (written < VirtioNetHeader.Size + 14) { Interlocked.Increment(ref _dropped); return null; }
        return ReadHeader(_pool.Memory.Span.Slice(slot * _bufferSize, VirtioNetHeader.Size), written - VirtioNetHeader.Size);
    }

    private RxChecksumInfo? ReadHeader(ReadOnlySpan<byte> header, int frameLength)
    {
        var read = VirtioNetHeader.ReadReceived(header, frameLength, _guestChecksum, _largeSegments);
        if (!read.TryGet(out var info))
        {
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _badHeaders);
            return null;
        }
        if (info.Verified) Interlocked.Increment(ref _checksumsVerified);
        if (frameLength > MtuFrame)
        {
            Interlocked.Increment(ref _largeFrames);
            if (frameLength > Interlocked.Read(ref _largestFrame)) Interlocked.Exchange(ref _largestFrame, frameLength);
        }
        return info;
    }

    /// <summary>A lent buffer comes back: posted to the device again, or — after close — the pool freed with the last one.</summary>
    private void GiveBack(int slot)
    {
        lock (_lock)
        {
            _lent--;
            if (_disposed)
            {
                if (_lent == 0) _pool.Dispose();
                return;
            }
            _idle.Push(slot);
            if (_refillHeld == 0) RefillLocked();
        }
    }

    /// <summary>While held, returned buffers wait to be posted; the release posts them all with one publish (and at
    /// most one notification) — a burst of loans given back together costs the device one kick, not one each.</summary>
    public void HoldRefill(bool hold)
    {
        lock (_lock)
        {
            if (hold) { _refillHeld++; return; }
            if (_refillHeld > 0) _refillHeld--;
            if (_refillHeld == 0) RefillLocked();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _vq.Dispose();
            if (_lent == 0) _pool.Dispose(); // else the last GiveBack frees it: a consumer may still be reading
        }
    }
}
