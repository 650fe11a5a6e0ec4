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
/// the device always has buffers to receive into; a tenant's loans are charged to its <see cref="TenantLoanShare"/>
/// (half of that limit and half the merge buffers), so one tenant holding its loans cannot take the rest from the others.
/// The pool outlives the queue while any buffer is still lent.
/// Each frame's virtio-net header is checked (<see cref="VirtioNetHeader.ReadReceived"/>): a frame whose header breaks
/// the contract is dropped and counted (<see cref="BadHeaders"/>); with GUEST_CSUM a lent frame carries the device's
/// word on its checksum, and a copied NEEDS_CSUM frame has its checksum finished in the copy. With GUEST_TSO4
/// (<c>largeSegments</c>) the buffers are 64 KiB and fewer than the ring's entries, and a frame may be one TCP segment
/// of up to 64 KiB (<see cref="LargeFrames"/>); the copying path drops a frame longer than the caller's buffer rather
/// than hand over a cut one. With MRG_RXBUF (<c>mergeable</c>) every buffer is one page and a frame fills as many as its
/// header's num_buffers says (Linux's mergeable receive buffers: small frames take one page, a 64 KiB segment 17, and
/// the ring holds a page per entry instead of 64 KiB): the completions are taken off the used ring into a pending
/// list, a frame's buffers are checked to be all there (num_buffers 0, more than a largest frame needs, or more than the
/// device completed: the device broke the contract — dropped and counted in <see cref="BadHeaders"/>), and a frame in
/// consecutive pages is lent in place (they were posted in ascending order); one that is not is copied into one of a
/// few 64 KiB merge buffers and lent from there.
/// </summary>
internal sealed class VirtioNetRxQueue : IDisposable
{
    private const int MtuFrame = 1514;
    private readonly SplitVirtqueue _vq;
    private readonly IDmaBuffer _pool;
    private readonly int _bufferSize;
    private readonly VirtioNotifier _notifier;
    private readonly DeviceWait _wait;
    // Buffers not posted and not lent, and where the next refill starts looking: buffers are posted in ascending order
    // around the pool (a ring of its own), so the device fills consecutive pages and a merged frame reads as one span.
    private readonly bool[] _idle;
    private int _idleCount, _postCursor;
    private readonly bool _guestChecksum, _largeSegments, _largeSegments6, _mergeable;
    private readonly int _buffers, _maxMerged;
    private readonly Lock _lock = new();
    // Completions taken off the used ring and not yet consumed: a merged frame is consumed only once all its buffers are.
    private readonly VirtqCompletion[] _pending;
    private int _pendingStart, _pendingEnd;
    // MRG_RXBUF: where a frame whose pages are not consecutive is copied to be lent whole.
    private readonly IDmaBuffer? _mergePool;
    private readonly Stack<int> _mergeIdle = new();
    private long _frames, _bursts, _dropped, _badHeaders, _checksumsVerified, _largeFrames, _largestFrame, _mergedInPlace, _mergedCopied;
    private int _lent, _mergeLent, _refillHeld;
    private bool _disposed;

    /// <summary>A page: the size of each receive buffer with MRG_RXBUF.</summary>
    public const int MergeableBufferSize = 4096;
    /// <summary>Merge buffers (64 KiB each) per queue, for frames whose pages are not consecutive.</summary>
    public const int MergeBuffers = 8;
    private const int MergeBufferSize = VirtioNetOptions.LargeReceiveBufferSize;

    private VirtioNetRxQueue(SplitVirtqueue vq, IDmaBuffer pool, int bufferSize, int buffers, VirtioNotifier notifier, DeviceWait wait,
        bool guestChecksum, bool largeSegments, bool largeSegments6, IDmaBuffer? mergePool)
    {
        _guestChecksum = guestChecksum;
        _largeSegments = largeSegments;
        _largeSegments6 = largeSegments6;
        _mergePool = mergePool;
        _mergeable = mergePool is not null;
        int largestFrame = largeSegments || largeSegments6 ? VirtioNetOptions.LargeReceiveBufferSize - VirtioNetHeader.Size : MtuFrame + 4;
        _maxMerged = _mergeable ? (VirtioNetHeader.Size + largestFrame + bufferSize - 1) / bufferSize : 1;
        for (int i = MergeBuffers - 1; i >= 0 && _mergeable; i--) _mergeIdle.Push(i);
        _pending = new VirtqCompletion[vq.Size];
        _buffers = buffers;
        _vq = vq;
        _pool = pool;
        _bufferSize = bufferSize;
        _notifier = notifier;
        _wait = wait;
        _idle = new bool[buffers];
        for (int i = 0; i < buffers; i++) Idle(i);
    }

    /// <param name="buffers">Receive buffers posted (default: one per ring entry).</param>
    /// <param name="largeSegments">GUEST_TSO4 was negotiated: frames may be TCP/IPv4 segments of up to 64 KiB.</param>
    /// <param name="largeSegments6">GUEST_TSO6 was negotiated: the same for TCP/IPv6.</param>
    /// <param name="mergeable">MRG_RXBUF was negotiated: <paramref name="bufferSize"/> is a page and a frame may fill several.</param>
    public static Result<VirtioNetRxQueue> Create(VirtioPciTransport transport, int index, ushort size, int bufferSize, ushort vector, DeviceWait wait,
        bool eventIndex = false, bool guestChecksum = false, bool largeSegments = false, int buffers = 0, bool largeSegments6 = false,
        bool mergeable = false)
    {
        if (buffers <= 0 || buffers > size) buffers = size;
        var vq = SplitVirtqueue.Create(transport.Function, index, size, eventIndex);
        if (!vq.TryGet(out var ring)) return vq.Error;
        var pool = transport.Function.AllocateDma(buffers * bufferSize);
        if (!pool.IsOk) { ring.Dispose(); return pool.Error; }
        IDmaBuffer? mergePool = null;
        if (mergeable)
        {
            var m = transport.Function.AllocateDma(MergeBuffers * MergeBufferSize);
            if (!m.IsOk) { ring.Dispose(); pool.Value.Dispose(); return m.Error; }
            mergePool = m.Value;
        }
        var enabled = transport.EnableQueue(index, size, ring.DescriptorAddress, ring.DriverAreaAddress, ring.DeviceAreaAddress, vector);
        if (!enabled.TryGet(out var notifier)) { ring.Dispose(); pool.Value.Dispose(); mergePool?.Dispose(); return enabled.Error; }
        var q = new VirtioNetRxQueue(ring, pool.Value, bufferSize, buffers, notifier, wait, guestChecksum, largeSegments, largeSegments6, mergePool);
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

    /// <summary>MRG_RXBUF: frames that filled more than one buffer, lent in place (consecutive pages) or copied whole
    /// into a merge buffer first.</summary>
    public long MergedInPlace => Interlocked.Read(ref _mergedInPlace);
    public long MergedCopied => Interlocked.Read(ref _mergedCopied);

    public VirtioNetRxStats Stats => new(Frames, Bursts, _notifier.Notifications, _wait.Wakeups, ChecksumsVerified, BadHeaders, LargeFrames, LargestFrame,
        _wait.LineResumes, MergedInPlace, MergedCopied);

    /// <summary>Buffers lent out now, and the most that may be (half the buffers).</summary>
    public int Lent { get { lock (_lock) return _lent; } }
    public int MaxLent => _buffers / 2;

    /// <summary>Merge buffers this queue has (MRG_RXBUF), none without.</summary>
    public int MergeBufferCount => _mergeable ? MergeBuffers : 0;

    /// <summary>Posts every idle buffer (called once the device is live, and after each batch).</summary>
    public void Refill()
    {
        lock (_lock) RefillLocked();
    }

    private void RefillLocked()
    {
        if (_disposed) return;
        int added = 0;
        for (int looked = 0; _idleCount > 0 && looked < _buffers && _vq.FreeDescriptors > 0; looked++)
        {
            int b = _postCursor;
            if (!_idle[b])
            {
                // MRG_RXBUF: keep the posting order strictly ascending (a merged frame then lands in consecutive pages)
                // by waiting for this page to come back rather than skipping it — unless the ring runs low, so a loan
                // held long cannot starve it. (Skipping lent pages on every refill left gaps: the second QEMU run
                // still copied 346 of 657 merged frames.)
                if (_mergeable && _vq.InFlight >= _buffers / 4) break;
                _postCursor = (b + 1) % _buffers;
                continue;
            }
            var seg = new VirtqSegment(_pool.DeviceAddress + (ulong)(b * _bufferSize), (uint)_bufferSize, DeviceWrites: true);
            if (!_vq.Add([seg], b).IsOk) break;
            _idle[b] = false;
            _idleCount--;
            _postCursor = (b + 1) % _buffers;
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
            pending = _pendingEnd > _pendingStart || _vq.HasCompletions;
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
            int n = 0, consumed = 0;
            var pool = _pool.Memory.Span;
            while (n < buffers.Count)
            {
                var next = NextFrame(ref consumed, out var info, out int length);
                if (!next.TryGet(out int count)) throw next.Error.ToException();
                if (count == 0) break;
                var into = buffers[n].Span;
                // A cut frame would reach the stack as a short, bad one: drop it whole (a large segment needs lending).
                if (length > into.Length) Interlocked.Increment(ref _dropped);
                else
                {
                    CopyFrame(pool, count, into);
                    // The copy's consumer verifies checksums itself: finish a partial one.
                    if (info.State == RxChecksum.Partial) VirtioNetHeader.FinishChecksum(into[..length], info);
                    lengths[n++] = length;
                }
                Release(count);
                consumed += count;
            }
            if (consumed > 0)
            {
                NetPathTimeline.Mark(NetPathEvent.RxTake, consumed);
                RefillLocked();
            }
            return n;
        }
    }

    /// <summary>Makes the first <paramref name="want"/> pending completions available if the device has completed them:
    /// how many are pending now.</summary>
    private Result<int> Fill(int want)
    {
        if (_pendingStart == _pendingEnd) _pendingStart = _pendingEnd = 0;
        if (_pendingEnd - _pendingStart >= want) return _pendingEnd - _pendingStart;
        if (_pendingStart > 0)
        {
            Array.Copy(_pending, _pendingStart, _pending, 0, _pendingEnd - _pendingStart);
            _pendingEnd -= _pendingStart;
            _pendingStart = 0;
        }
        var polled = _vq.Poll(_pending.AsSpan(_pendingEnd));
        if (!polled.TryGet(out int n)) return polled.Error;
        _pendingEnd += n;
        return _pendingEnd;
    }

    /// <summary>The next whole frame at the head of the pending completions: how many buffers it fills (0: none
    /// completed), its checksum state and length. Frames too short or with a bad header — with MRG_RXBUF also a
    /// num_buffers of 0, more than a largest frame needs, or more buffers than the device completed — are dropped and
    /// counted, their buffers released (<paramref name="consumed"/> counts them for the refill).</summary>
    private Result<int> NextFrame(ref int consumed, out RxChecksumInfo info, out int length)
    {
        var pool = _pool.Memory.Span;
        while (true)
        {
            info = default;
            length = 0;
            var filled = Fill(1);
            if (!filled.TryGet(out int available)) return filled.Error;
            if (available == 0) return 0;
            var first = _pending[_pendingStart];
            int written = (int)first.Written, count = 1;
            if (written < VirtioNetHeader.Size + 14) { Interlocked.Increment(ref _dropped); Release(1); consumed++; continue; }
            var header = pool.Slice(first.Cookie * _bufferSize, VirtioNetHeader.Size);
            if (_mergeable)
            {
                count = VirtioNetHeader.BuffersOf(header);
                if (count == 0 || count > _maxMerged) { DropBad(1, ref consumed); continue; }
                if (count > 1)
                {
                    var more = Fill(count);
                    if (!more.TryGet(out available)) return more.Error;
                    if (available < count) { DropBad(available, ref consumed); continue; } // the chain is shorter than it says
                    for (int i = 1; i < count; i++) written += (int)_pending[_pendingStart + i].Written;
                }
            }
            if (ReadHeader(header, written - VirtioNetHeader.Size) is not { } read) { Release(count); consumed += count; continue; }
            info = read;
            length = written - VirtioNetHeader.Size;
            return count;
        }
    }

    private void Idle(int buffer)
    {
        if (_idle[buffer]) return; // already idle: never post a buffer twice
        _idle[buffer] = true;
        _idleCount++;
    }

    private void DropBad(int buffers, ref int consumed)
    {
        Interlocked.Increment(ref _dropped);
        Interlocked.Increment(ref _badHeaders);
        Release(buffers);
        consumed += buffers;
    }

    /// <summary>Gives the first <paramref name="buffers"/> pending buffers back to the idle set.</summary>
    private void Release(int buffers)
    {
        for (int i = _pendingStart; i < _pendingStart + buffers; i++) Idle(_pending[i].Cookie);
        _pendingStart += buffers;
    }

    /// <summary>Copies the frame in the first <paramref name="count"/> pending buffers (after the first one's header) into
    /// <paramref name="into"/>, which holds it.</summary>
    private void CopyFrame(ReadOnlySpan<byte> pool, int count, Span<byte> into)
    {
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            var c = _pending[_pendingStart + i];
            int skip = i == 0 ? VirtioNetHeader.Size : 0;
            var piece = pool.Slice(c.Cookie * _bufferSize + skip, (int)c.Written - skip);
            piece.CopyTo(into[at..]);
            at += piece.Length;
        }
    }

    /// <summary>Waits for the next frame and lends it in the buffer the device wrote (no copy); frames shorter than the
    /// header are dropped as on the copying path. Busy at <see cref="MaxLent"/>; QuotaExceeded when the frame would take
    /// <paramref name="share"/>'s tenant over its share (the frame stays on the ring); Closed once the queue is closed.</summary>
    public async ValueTask<Result<LentFrame>> TakeLentAsync(CancellationToken ct, TenantLoanShare? share = null)
    {
        while (true)
        {
            var taken = TryTakeLent(share);
            if (taken.IsOk || taken.Code != ErrorCode.WouldBlock) return taken;
            try { await WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "receive cancelled"); }
            catch (KernelException e) { return e.Error; }
        }
    }

    /// <summary>Lends the next completed frame without waiting: WouldBlock when the ring has none, Busy at
    /// <see cref="MaxLent"/> (or with every merge buffer lent), QuotaExceeded when the frame would take
    /// <paramref name="share"/>'s tenant over its share (null: the kernel's own stack, bounded by the queue's limits
    /// alone), Closed once the queue is closed. A refused frame stays pending, first in line.</summary>
    public Result<LentFrame> TryTakeLent(TenantLoanShare? share = null)
    {
        lock (_lock)
        {
            if (_disposed) return Errors.Of(ErrorCode.Closed, "receive queue closed");
            if (_lent >= MaxLent) return Errors.Of(ErrorCode.Busy, $"{_lent} receive buffers are lent (at most {MaxLent})");
            if (share is not null && share.Exhausted) return share.Refusal();
            int consumed = 0;
            try
            {
                while (true)
                {
                    var next = NextFrame(ref consumed, out var info, out int length);
                    if (!next.TryGet(out int count)) return next.Error;
                    if (count == 0) return Errors.Of(ErrorCode.WouldBlock, "no frame received");
                    int slot = _pending[_pendingStart].Cookie;
                    bool inPlace = count == 1 || InConsecutivePages(count);
                    // Every page of a frame lent in place counts against MaxLent: one that would go over it waits for
                    // give-backs (stays pending, Busy); one bigger than MaxLent itself can never be lent in place and is
                    // copied into a merge buffer like a wrapped one.
                    if (inPlace && _lent + count > MaxLent)
                    {
                        if (count <= MaxLent) return Errors.Of(ErrorCode.Busy, $"{_lent} receive buffers are lent; a {count}-buffer frame would pass {MaxLent}");
                        inPlace = false;
                    }
                    if (inPlace)
                    {
                        // Charged to the tenant first: one that holds its share leaves the frame (and the ring) to others.
                        if (share is not null && !share.TryCharge(count, merge: false)) return share.Refusal();
                        // Lent in place: the buffers stay out of the ring until given back.
                        _pendingStart += count;
                        _lent += count;
                        Interlocked.Increment(ref _frames);
                        Interlocked.Increment(ref _bursts);
                        if (count > 1) Interlocked.Increment(ref _mergedInPlace);
                        var frame = new Dma.DmaBufferSlice(_pool, slot * _bufferSize + VirtioNetHeader.Size, length);
                        Action giveBack = share is not null ? () => GiveBack(slot, count, share)
                            : count == 1 ? () => GiveBack(slot) : () => GiveBack(slot, count);
                        return new LentFrame(frame, giveBack, info.Verified);
                    }
                    // Pages out of order (the ring wrapped, or a buffer was lent meanwhile), or more than MaxLent of them:
                    // copy the frame whole — once a merge buffer is free (Busy keeps the frame pending, as at MaxLent).
                    if (_mergeIdle.Count == 0 && length <= MergeBufferSize)
                        return Errors.Of(ErrorCode.Busy, $"all {MergeBuffers} merge buffers are lent");
                    if (length > MergeBufferSize)
                    {
                        Interlocked.Increment(ref _dropped);
                        Release(count);
                        consumed += count;
                        continue;
                    }
                    // A tenant holds at most its share of the merge buffers too: 8 are all a queue has.
                    if (share is not null && !share.TryCharge(0, merge: true)) return share.Refusal();
                    int merge = _mergeIdle.Pop();
                    CopyFrame(_pool.Memory.Span, count, _mergePool!.Memory.Span.Slice(merge * MergeBufferSize, MergeBufferSize));
                    Release(count);
                    consumed += count;
                    _mergeLent++;
                    Interlocked.Increment(ref _frames);
                    Interlocked.Increment(ref _bursts);
                    Interlocked.Increment(ref _mergedCopied);
                    Action giveBackMerge = share is not null ? () => GiveBackMerge(merge, share) : () => GiveBackMerge(merge);
                    return new LentFrame(new Dma.DmaBufferSlice(_mergePool, merge * MergeBufferSize, length), giveBackMerge, info.Verified);
                }
            }
            finally
            {
                if (consumed > 0 && _refillHeld == 0) RefillLocked();
            }
        }
    }

    /// <summary>Whether the frame in the first <paramref name="count"/> pending buffers lies in consecutive pages, each
    /// but the last filled, so it reads as one span of the pool.</summary>
    private bool InConsecutivePages(int count)
    {
        var first = _pending[_pendingStart];
        if (first.Cookie + count > _buffers) return false;
        for (int i = 0; i < count; i++)
        {
            var c = _pending[_pendingStart + i];
            if (c.Cookie != first.Cookie + i) return false;
            if (i < count - 1 && c.Written != (uint)_bufferSize) return false;
        }
        return true;
    }

    private RxChecksumInfo? ReadHeader(ReadOnlySpan<byte> header, int frameLength)
    {
        var read = VirtioNetHeader.ReadReceived(header, frameLength, _guestChecksum, _largeSegments, _largeSegments6);
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
            Idle(slot);
            if (_refillHeld == 0) RefillLocked();
        }
    }

    /// <summary>A merged frame lent in place comes back: its <paramref name="count"/> pages.</summary>
    private void GiveBack(int slot, int count)
    {
        lock (_lock)
        {
            _lent -= count;
            if (_disposed)
            {
                if (_lent == 0) _pool.Dispose();
                return;
            }
            for (int i = slot; i < slot + count; i++) Idle(i);
            if (_refillHeld == 0) RefillLocked();
        }
    }

    /// <summary>A tenant's loan comes back: uncharged from its share, then as any other.</summary>
    private void GiveBack(int slot, int count, TenantLoanShare share)
    {
        share.Uncharge(count, merge: false);
        GiveBack(slot, count);
    }

    private void GiveBackMerge(int merge, TenantLoanShare share)
    {
        share.Uncharge(0, merge: true);
        GiveBackMerge(merge);
    }

    private void GiveBackMerge(int merge)
    {
        lock (_lock)
        {
            _mergeLent--;
            if (_disposed)
            {
                if (_mergeLent == 0) _mergePool!.Dispose();
                return;
            }
            _mergeIdle.Push(merge);
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
            if (_mergeLent == 0) _mergePool?.Dispose();
        }
    }
}
