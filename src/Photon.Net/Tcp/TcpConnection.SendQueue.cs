using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Hal;
using Photon.Net.Sockets;

namespace Photon.Net.Tcp;

/// <summary>
/// The send side of the socket API (issue #17): how an application's bytes get into the send buffer. A send queues
/// what fits and parks with the rest; from then on the stack itself takes the parked send's bytes into the buffer as
/// ACKs free room (<see cref="TakeFromParkedWriters"/>, under the lock, on the thread that handled the ACK — the mirror
/// of <see cref="DeliverToParkedReader"/>), and wakes the sender only when all of its bytes are queued (or an error or
/// close ends it). Before, the writer was woken once a third of the buffer was free and had to run again to refill it:
/// under TCG each such wake waited 40–75 ms for a vCPU while the stack, having sent everything queued, sat idle after
/// the host's ACK — the sender was paced by its own application path, not the network. Parked sends are taken in the
/// order they parked, and a new send while others are parked parks behind them, so no bytes are reordered. What is
/// taken is charged to the owner's quota as every send buffer byte is (<see cref="ByteRing.Account"/>), within the
/// buffer's capacity. Send buffer storage of <see cref="ByteRing.LargeStorage"/> or more is allocated outside the lock
/// (by the sender before it parks, or by a work item when the buffer's capacity grew under a parked sender) and adopted
/// under it, so multi-MiB allocations no longer stall ACK processing; its charge is reserved under the lock before it
/// is allocated and given back if it is not adopted, so no storage a tenant's sockets allocate is ever uncharged.
/// </summary>
public sealed partial class TcpConnection
{
    private static readonly Task<Result> Sent = Task.FromResult(Result.Ok);
    private bool _storageGrowthQueued;

    /// <summary>A send at least this long that does not fit the buffer's free room is lent, not copied.</summary>
    internal const int LendAtLeast = ByteRing.LargeStorage;

    /// <summary>Parked sends whose memory is lent to the send buffer, oldest first, with where their bytes end in the
    /// buffer's stream of lent bytes (<see cref="ByteRing.Lend"/>): each is woken when the peer has acknowledged that far.</summary>
    private readonly Queue<LentSend> _lentSends = new();

    /// <summary>A lent send (under the lock): its call, where its bytes end in the stream of lent bytes, and how long it
    /// is (less once cut).</summary>
    private sealed class LentSend(PendingCalls<bool>.Call call, long end, TxLease? lease)
    {
        public PendingCalls<bool>.Call Call { get; } = call;
        /// <summary>Held by every frame that carries this send's bytes by reference; revoked before the send ends.</summary>
        public TxLease? Lease { get; } = lease;
        public long End { get; set; } = end;
        public int Length { get; set; }
        /// <summary>Why its unsent bytes were dropped (a cancellation, or the last handle closed); null: not cut.</summary>
        public ErrorCode? CutBy { get; set; }
        /// <summary>Its caller stopped waiting (cancelled): the call left the writers' list and may be reused — never wake it.</summary>
        public bool Abandoned { get; set; }
    }

    /// <summary>Queues all of <paramref name="data"/> for sending, waiting for buffer space as the peer acknowledges. A
    /// send that would have to wait while <see cref="NetworkStackOptions.SocketMaxPendingCalls"/> sends wait already
    /// fails with <see cref="ErrorCode.Busy"/> before queuing anything. <paramref name="data"/> must stay unchanged until
    /// the task completes: the stack copies from it while the send waits. A cancelled send returns
    /// <see cref="ErrorCode.Cancelled"/>; the bytes queued before the cancellation stay queued.</summary>
    /// <remarks>A send that fits the buffer and whose frames the device takes at once (a reply on the request/response
    /// path) completes synchronously with a cached task: no state machine, no allocation.</remarks>
    public Task<Result> SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (QueueSend(ref data, first: true, out var wait, out var lent) is { } refused) return Task.FromResult(refused);
        var flush = _stack.FlushAsync();
        if (wait is null && flush.IsCompletedSuccessfully)
        {
            flush.GetAwaiter().GetResult();
            return Sent;
        }
        return SendRestAsync(data, flush, wait, lent, ct);
    }

    private async Task<Result> SendRestAsync(ReadOnlyMemory<byte> data, ValueTask flush, Result<PendingCalls<bool>.Call>? wait, LentSend? lent,
        CancellationToken ct)
    {
        await flush.ConfigureAwait(false);
        while (true)
        {
            if (wait is not { } parked) return Result.Ok;
            if (!parked.IsOk) return parked.Error; // the quota's refusal: what was written so far stays queued
            var call = parked.Value;
            if (lent is not null) return await AwaitLentAsync(lent, ct).ConfigureAwait(false);
            bool woken = await _writers.AwaitAsync(call, ct, false, _stack.Gate).ConfigureAwait(false);
            // Taken is written under the lock while the call is parked; a woken call reads it after its wake, and a
            // cancelled one left the list under the lock in AwaitAsync, so reading it under the lock is final.
            int taken;
            if (woken) taken = call.Taken;
            else lock (_stack.Gate) taken = call.Taken;
            call.From = default;
            NetPathTimeline.Mark(NetPathEvent.AppSendWake, 2);
            _stack.Count(Counter.TcpSendsWoken);
            data = data[taken..];
            if (data.IsEmpty) return Result.Ok;
            if (!woken) return Errors.Of(ErrorCode.Cancelled, "send cancelled");
            if (QueueSend(ref data, first: false, out wait, out lent) is { } refused) return refused;
            await _stack.FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A lent send ends when the peer has acknowledged its last byte (Ok) or the connection ends first (its
    /// error): only then is the sender's memory its own again (Linux's MSG_ZEROCOPY holds the pages the same way). A
    /// cancellation drops the bytes not sent yet — what was sent stays queued, an exact prefix — and ends the send at
    /// once: the bytes sent but not acknowledged are copied into the buffer's own storage (<see cref="ReleaseCutLentSends"/>),
    /// so the caller never waits on the peer (review18: a client that never acknowledged held a server's cancelled send,
    /// and the connection slot behind it, for as long as it liked).
    /// Frames may still carry its bytes by reference then (queued behind a slow device, or acknowledged by the peer
    /// before they left): the lease they hold is revoked first, and the send returns only once no device is reading
    /// one (a copy into a DMA slot, a <c>sendmmsg</c>: bounded) — frames read later are dropped (vm18), and what they
    /// carried is retransmitted from the buffer's copy if it was not acknowledged.</summary>
    private async Task<Result> AwaitLentAsync(LentSend lent, CancellationToken ct)
    {
        try { return await LentEndedAsync(lent, ct).ConfigureAwait(false); }
        finally
        {
            if (lent.Lease is { } lease)
            {
                var drained = lease.RevokeAsync();
                if (!drained.IsCompleted)
                {
                    _stack.Count(Counter.TcpLentSendsWaitedForReader);
                    await drained.ConfigureAwait(false);
                }
            }
        }
    }

    private async Task<Result> LentEndedAsync(LentSend lent, CancellationToken ct)
    {
        bool woken = await _writers.AwaitAsync(lent.Call, ct, false, _stack.Gate).ConfigureAwait(false);
        NetPathTimeline.Mark(NetPathEvent.AppSendWake, 2);
        _stack.Count(Counter.TcpSendsWoken);
        Result ended;
        lock (_stack.Gate)
        {
            if (woken || _send.LentDiscarded >= lent.End || !_lentSends.Contains(lent)) return LentEnded(lent);
            lent.Abandoned = true;
            CutLentSends(lent, ErrorCode.Cancelled); // this send's extent is the last one: nothing is lent behind a lent send (QueueSend)
            ReleaseCutLentSends();
            ended = LentEnded(lent);
        }
        await _stack.FlushAsync().ConfigureAwait(false); // what the cut let out (a FIN), or the reset
        return ended;
    }

    /// <summary>After a cut (under the lock): the lent bytes left — sent, not yet acknowledged — become the buffer's own,
    /// so no lent send waits on the peer and no sender's memory is read any more; every lent send ends. When the buffer's
    /// capacity or the owner's quota has no room for them the connection is reset instead (the stream cannot go on
    /// without those bytes): the send ends with that error, promptly either way.</summary>
    private void ReleaseCutLentSends()
    {
        if (_send.LentBytes > 0)
        {
            if (_send.TakeLentBytes()) _stack.Count(Counter.TcpLentBytesTakenOnCut);
            else
            {
                Fail(Errors.Of(ErrorCode.ConnectionReset, "a cut lent send's unacknowledged bytes had no room in the send buffer"), sendReset: true);
                return; // Finish ended every lent send and woke the writers
            }
        }
        TakeFromParkedWriters(); // ends the lent sends; sends parked behind them go into the room the cut left
        Output();
    }

    /// <summary>Drops the lent bytes never sent (past SND.MAX) of <paramref name="from"/> and every lent send after it
    /// (all of them when null), last first, so no kept byte moves; what was sent stays queued — an exact prefix — and
    /// each send ends once that is acknowledged, with <paramref name="reason"/> (under the lock).</summary>
    private void CutLentSends(LentSend? from, ErrorCode reason)
    {
        var all = _lentSends.ToArray();
        long sent = Math.Clamp(_sndMax - _sndUna, 0, _send.Count);
        long sentLentEnd = _send.LentDiscarded + Math.Max(0, sent - (_send.Count - _send.LentBytes));
        for (int i = all.Length - 1; i >= 0; i--)
        {
            var lent = all[i];
            int unsent = (int)Math.Clamp(lent.End - sentLentEnd, 0, lent.Length);
            _send.TruncateLent(unsent);
            lent.End -= unsent;
            lent.Length -= unsent;
            lent.CutBy ??= reason;
            if (ReferenceEquals(lent, from)) break;
        }
        Output(); // with the unsent bytes gone, a requested FIN may be due now
    }

    /// <summary>How a lent send ended (under the lock, once it is no longer read): Ok when all its bytes were
    /// acknowledged, the reason it was cut short (Cancelled, Closed) when those it had sent were, else the connection's
    /// error.</summary>
    private Result LentEnded(LentSend lent)
    {
        lent.Call.From = default;
        bool acked = _send.LentDiscarded >= lent.End;
        if (acked) return lent.CutBy is { } cut ? Errors.Of(cut, cut == ErrorCode.Cancelled ? "send cancelled" : "connection closed") : Result.Ok;
        return _error is { } e ? e : Errors.Of(ErrorCode.Closed, "connection closed before the peer acknowledged the send");
    }

    /// <summary>One step of a send: queues what fits of <paramref name="data"/> (advancing it) and parks the caller with
    /// the rest (<paramref name="wait"/>), which the stack then takes as room appears; returns the call's result when it
    /// ends here with an error. Storage the buffer needs for the data and that is too large to allocate under the lock is
    /// allocated here, between two turns of the lock. A send writes in one turn only, and only when no other send is
    /// parked, so its bytes stay together and in the order sends parked.</summary>
    private Result? QueueSend(ref ReadOnlyMemory<byte> data, bool first, out Result<PendingCalls<bool>.Call>? wait, out LentSend? lent)
    {
        wait = null;
        lent = null;
        byte[]? storage = null;
        while (true)
        {
            int want = 0;
            lock (_stack.Gate)
            {
                // Storage allocated on the last turn was charged before it was: it is adopted or its charge given back.
                if (storage is not null)
                {
                    if (MaySend) AdoptSendStorage(storage); // a lost race gives the charge back itself
                    else ReturnSendStorage(storage.Length);
                    storage = null;
                }
                if (_released) return Errors.Of(ErrorCode.Closed, "connection handle closed");
                if (_error is { } e) return e;
                if (_closeRequested || State is not (TcpState.Established or TcpState.CloseWait))
                    return Errors.Of(ErrorCode.Closed, "connection is closed for sending");
                if (first && data.Length > _send.Free && _writers.Count >= _writers.Limit)
                    return Errors.Of(ErrorCode.Busy, $"{_writers.Limit} sends already pending on this socket");
                // Earlier sends' bytes go first: park behind them — behind a lent send too, even a cancelled one that has
                // left the writers' list but is not cut yet (review18: a send lent then was cut with it).
                bool behind = _writers.Count > 0 || _lentSends.Count > 0;
                // A large send that would park is lent instead: the buffer reads the sender's memory in place until the
                // peer acknowledges it, so its bytes are copied straight into frames, and no storage is grown for them
                // (vm17; frames carry lent bytes under the send's lease, vm18: ByteRing.CanGatherByReference). Lent sends park
                // like others, so anything sent later goes after them.
                if (!behind && data.Length >= LendAtLeast && data.Length > _send.Free && _stack.Options.TcpLendLargeSends
                    && TryLend(data, out wait, out lent))
                {
                    data = default;
                    return null;
                }
                // Larger storage is got before anything is written, so a send's bytes are never split by another's
                // (a send arriving meanwhile goes wholly before it). Its charge is reserved here, under the lock and
                // before the allocation, so a tenant's concurrent senders cannot allocate past its quota; a refusal
                // leaves the ring quota-limited (StorageWanted is 0 then) and the send writes what the storage holds.
                if (!behind && (want = _send.StorageWanted(data.Length)) > 0) want = ReserveSendStorage(want);
                if (!behind && want == 0)
                {
                    long began = NetPathCosts.Begin();
                    int n = _send.Write(data.Span);
                    NetPathCosts.End(NetPathCost.SendBufferCopy, began, n);
                    if (n == 0 && _send.Count == 0 && _send.IsQuotaLimited && !data.IsEmpty) return SendBufferRefused();
                    if (n > 0)
                    {
                        NetPathTimeline.Mark(NetPathEvent.AppSend, n);
                        _stack.Count(Counter.TcpSendBytesQueuedByWriter, n);
                        data = data[n..];
                        Output();
                    }
                }
                if (data.IsEmpty) return null;
                if (want == 0)
                {
                    wait = _writers.Park();
                    if (wait.Value.IsOk)
                    {
                        wait.Value.Value.From = data;
                        NetPathTimeline.Mark(NetPathEvent.AppSendPark, data.Length);
                        _stack.Count(Counter.TcpSendsParked);
                        if (behind) { TakeFromParkedWriters(); Output(); } // those ahead may be cancelled ones leaving
                    }
                    return null;
                }
            }
            storage = AllocateReserved(want); // outside the lock: its page faults hold up no ACK
            first = false;
        }
    }

    /// <summary>Reserves the charge for storage of up to <paramref name="size"/> bytes; returns the size to allocate (0:
    /// the quota refused every size that would be a growth).</summary>
    private int ReserveSendStorage(int size)
    {
        int reserved = _send.ReserveStorage(size);
        if (reserved == 0) _stack.Count(Counter.TcpSendStorageRefused);
        return reserved;
    }

    /// <summary>Allocates storage whose charge <see cref="ByteRing.ReserveStorage"/> took; if the allocation itself
    /// fails the charge is given back before the failure propagates.</summary>
    private byte[] AllocateReserved(int size)
    {
        _stack.Count(Counter.TcpSendStorageAllocations);
        long began = NetPathCosts.Begin();
        try { return ByteRing.Prefaulted(size); }
        catch
        {
            lock (_stack.Gate) _send.CancelReservation(size);
            throw;
        }
        finally { NetPathCosts.End(NetPathCost.StorageAllocate, began, size); }
    }

    /// <summary>Storage allocated but not to be adopted (the connection closed): its charge goes back.</summary>
    private void ReturnSendStorage(int size)
    {
        _send.CancelReservation(size);
        _stack.Count(Counter.TcpSendStorageReturned);
    }

    /// <summary>Whether the application may still queue bytes (what <see cref="QueueSend"/> checks first).</summary>
    private bool MaySend => !_released && _error is null && !_closeRequested && State is TcpState.Established or TcpState.CloseWait;

    /// <summary>
    /// Under the lock, after an ACK freed room (or storage grew): copies parked sends' bytes into the send buffer, oldest
    /// first, and wakes each send whose bytes are all queued; the oldest that still has bytes stops the walk, so they
    /// stay in order. Calls already completed (cancelled, leaving) are skipped, and only calls still parked are read: a
    /// cancelled call leaves the list under the lock before its caller regains its memory. When the buffer could hold
    /// more but needs larger storage, a work item allocates it (<see cref="GrowSendStorage"/>).
    /// </summary>
    private void TakeFromParkedWriters()
    {
        CompleteLentSends();
        if (!MaySend || _send.LentBytes > 0) return; // nothing goes into the ring while lent bytes are queued ahead
        for (var call = _writers.Oldest; call is not null;)
        {
            var next = call.Next;
            if (call.IsCompleted) { call = next; continue; }
            var rest = call.From[call.Taken..];
            long began = NetPathCosts.Begin();
            int n = _send.Write(rest.Span);
            NetPathCosts.End(NetPathCost.SendBufferCopy, began, n);
            if (n > 0)
            {
                call.Taken += n;
                NetPathTimeline.Mark(NetPathEvent.AppSendTaken, n);
                _stack.Count(Counter.TcpSendBytesTakenFromParkedWriter, n);
            }
            if (n < rest.Length)
            {
                if (_send.StorageWanted(rest.Length - n) > 0) QueueStorageGrowth();
                return;
            }
            NetPathTimeline.Mark(NetPathEvent.AppSendWake, 1);
            _writers.Wake(call, true);
            call = next;
        }
    }

    /// <summary>Parks the send and lends all of <paramref name="data"/> to the send buffer (under the lock); false when
    /// it cannot be (parking refused, or too many bytes held), and then nothing was lent.</summary>
    private bool TryLend(ReadOnlyMemory<byte> data, out Result<PendingCalls<bool>.Call>? wait, out LentSend? lent)
    {
        wait = null;
        lent = null;
        if (data.Length > int.MaxValue - _send.Count) return false;
        var parked = _writers.Park();
        if (!parked.IsOk) return false; // the ordinary path parks (or refuses) the same way
        var call = parked.Value;
        var lease = _stack.Options.TcpLentBytesByReference ? new TxLease() : null;
        lent = new LentSend(call, _send.Lend(data, lease), lease) { Length = data.Length };
        call.From = data;
        call.Taken = data.Length; // all of it queued, by reference
        _lentSends.Enqueue(lent);
        wait = parked;
        NetPathTimeline.Mark(NetPathEvent.AppSendPark, data.Length);
        _stack.Count(Counter.TcpSendsParked);
        _stack.Count(Counter.TcpSendsLent);
        _stack.Count(Counter.TcpSendBytesLent, data.Length);
        Output();
        return true;
    }

    /// <summary>Wakes the lent sends the peer has acknowledged in full (under the lock), oldest first.</summary>
    private void CompleteLentSends()
    {
        while (_lentSends.TryPeek(out var lent) && _send.LentDiscarded >= lent.End)
        {
            _lentSends.Dequeue();
            NetPathTimeline.Mark(NetPathEvent.AppSendWake, 1);
            if (!lent.Abandoned) _writers.Wake(lent.Call, true);
        }
    }

    /// <summary>Ends parked sends on a close (under the lock), except lent ones: the buffer still reads their memory, so
    /// they end when the peer acknowledges them or the connection ends.</summary>
    private void WakeWritersNotLent()
    {
        for (var call = _writers.Oldest; call is not null;)
        {
            var next = call.Next;
            if (!IsLent(call)) _writers.Wake(call, true);
            call = next;
        }
    }

    private bool IsLent(PendingCalls<bool>.Call call)
    {
        foreach (var lent in _lentSends)
            if (ReferenceEquals(lent.Call, call)) return true;
        return false;
    }

    /// <summary>The connection ended (under the lock): the send buffer no longer reads any lent memory, so every lent
    /// send ends — parked ones by the writers' wake that follows.</summary>
    private void EndLentSends()
    {
        _lentSends.Clear();
    }

    /// <summary>Bytes parked sends still hold (under the lock).</summary>
    private int ParkedSendBytes()
    {
        long sum = 0;
        for (var call = _writers.Oldest; call is not null; call = call.Next)
            if (!call.IsCompleted) sum += call.From.Length - call.Taken;
        return (int)Math.Min(sum, int.MaxValue);
    }

    private void QueueStorageGrowth()
    {
        if (_storageGrowthQueued) return;
        _storageGrowthQueued = true;
        _ = GrowSendStorageLaterAsync();
    }

    /// <summary>Runs the growth off the caller (which holds the lock) the way the stack posts its other deferred work:
    /// to the caller's kernel scheduler when it is a kernel task, to the pool otherwise — never a host thread API here.
    /// A failed allocation has already cleared the queued flag, so the next ACK asks again.</summary>
    private async Task GrowSendStorageLaterAsync()
    {
        await Task.Yield();
        GrowSendStorage();
    }

    /// <summary>The buffer's capacity grew (autotuning) under a parked send: the larger storage is allocated here, off
    /// the lock, adopted under it, and filled from the parked sends.</summary>
    private void GrowSendStorage()
    {
        int want;
        lock (_stack.Gate)
        {
            _storageGrowthQueued = false;
            want = MaySend ? _send.StorageWanted(ParkedSendBytes()) : 0;
            if (want > 0) want = ReserveSendStorage(want); // 0, refused: the parked sends wait within what it has
        }
        if (want == 0) return;
        var storage = AllocateReserved(want);
        lock (_stack.Gate)
        {
            if (!MaySend) { ReturnSendStorage(storage.Length); return; }
            if (!AdoptSendStorage(storage)) return;
            TakeFromParkedWriters();
            Output();
        }
        _ = _stack.FlushAsync();
    }

    private bool AdoptSendStorage(byte[] storage)
    {
        long began = NetPathCosts.Begin();
        bool adopted = _send.Adopt(storage);
        NetPathCosts.End(NetPathCost.StorageAdopt, began, adopted ? _send.Count : 0);
        if (!adopted)
        {
            _stack.Count(Counter.TcpSendStorageReturned); // a concurrent growth got there first; Adopt refunded it
            return false;
        }
        NetPathTimeline.Mark(NetPathEvent.SendStorageGrown, storage.Length >> 10);
        _stack.Count(Counter.TcpSendStorageGrowths);
        return true;
    }
}
