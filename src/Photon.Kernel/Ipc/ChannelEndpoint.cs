using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Ipc;

/// <summary>
/// One end of a channel, like a Zircon channel dispatcher: it owns its lock, its inbox (bounded: the depth is the
/// back-pressure point) and its waiters, and does no rights checks — the syscall layer has done those before calling
/// it. Reached only through capabilities: Write on an endpoint sends to its peer, Read receives from it.
/// </summary>
public sealed class ChannelEndpoint : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Channel;

    private readonly Lock _gate = new();
    private readonly Queue<IpcEnvelope> _inbox = new();
    private readonly WaiterSet _readable = new();
    private readonly WaiterSet _writable = new();
    // Kernel tasks parked by ReceiveAsync, oldest first (usually one): a byte-only send hands its message to the first.
    private readonly List<PendingReceive> _receivers = new(1);
    private PendingReceive? _spareReceiver;
    private int _reserved;
    // Byte-only envelopes that a receive into a caller's buffer gave back, newest first, for the next send of the same
    // size: a steady stream of one message size allocates nothing. At most PoolBytes kept (message bytes plus
    // MessageOverheadBytes each: 256 messages of 64 B, a full default-depth bench inbox), so a burst of big messages is
    // not pinned. A pooled envelope stays charged to the tenant whose message it carried (the receive does not refund
    // it) until a send reuses it (that send refunds it, then charges its own sender) or the pool is released: when this
    // end closes or its peer does (no send can reach it then). So the pool is memory a tenant pays for, never free.
    private const int PoolBytes = 32 * 1024;
    private IpcEnvelope? _freeEnvelopes;
    private int _pooledBytes;
    // Packed batches whose last message was taken, newest first, for the next batched send of the same shape (as many
    // messages, as many bytes), kept like single envelopes: at most PoolBytes (bytes plus overhead per message), still
    // charged to their sender until reused or released.
    private IpcEnvelope? _freePacked;
    private int _pooledPackedBytes;
    // One received message (IpcMessage) its receiver disposed, kept for the next receive by the same process of a
    // message of the same size (a ping-pong or stream received one message at a time then allocates nothing). Bounded:
    // one per endpoint, at most KeptMessageBytes of bytes — fixed overhead of the endpoint (whose capabilities the
    // tenant's quota counts), like its cached receive waiter; dropped when either end closes. Uncharged because it
    // holds no sender's bytes any more: the sender's charge was refunded at the receive, so a message never disposed
    // leaks no quota either (it is ordinary garbage).
    internal const int KeptMessageBytes = 256;
    private IpcMessage? _keptMessage;
    // Messages queued (a packed batch is one entry of the inbox holding many): what Depth bounds.
    private int _queued;
    private bool _peerClosed; // the pool is released and never refilled once no send can reach this end

    internal ChannelEndpoint(string label, int depth, CapabilityToken via) : base(label)
    {
        Depth = depth;
        Via = via;
    }

    public int Depth { get; }
    internal ChannelEndpoint? Peer { get; set; }
    /// <summary>Read without the lock: an endpoint holding its own lock reads its peer's (deadlock otherwise, when
    /// both ends are used at once). The flag only ever goes from false to true.</summary>
    public bool IsClosed => _closed;
    public int Pending { get { lock (_gate) return _queued; } }

    /// <summary>Parked receivers and senders (tests check that cancelled waits leave none behind).</summary>
    public int Waiters { get { lock (_gate) return _readable.Count + _writable.Count + _receivers.Count; } }

    private volatile bool _closed;

    /// <summary>The namespace binding this connection was opened through (None for direct channels). When it is
    /// revoked — the bridge between tenants is taken down — the connection closes.</summary>
    internal CapabilityToken Via { get; }

    private volatile bool _droppedFromBacklog;

    /// <summary>Set on both ends of a connection that was still in a listener's backlog when the listener closed: it
    /// was never accepted, so its client sees Closed (not Revoked, although the binding died with the listener).</summary>
    internal bool DroppedFromBacklog { get => _droppedFromBacklog; set => _droppedFromBacklog = value; }

    /// <summary>Set by the IPC manager so the last revocation closes the channel (peers see Closed).</summary>
    internal Action<ChannelEndpoint>? OnDestroyed { get; set; }

    protected override void OnLastCapabilityRevoked() => OnDestroyed?.Invoke(this);

    /// <summary>Reserves room for one message in this endpoint's inbox (a sender does this before it takes any handle
    /// out of its table, so a full or closed inbox changes nothing).</summary>
    internal Result Reserve() => Reserve(-1, out _);

    /// <summary>As <see cref="Reserve()"/>, also taking a pooled byte-only envelope of exactly
    /// <paramref name="length"/> bytes if the newest free one has that size (null otherwise).</summary>
    internal Result Reserve(int length, out IpcEnvelope? pooled)
    {
        pooled = null;
        lock (_gate)
        {
            if (_closed) return Result.Fail(ErrorCode.Closed, "peer endpoint is closed");
            if (_queued + _reserved >= Depth) return Result.Fail(ErrorCode.WouldBlock, $"peer inbox is full ({Depth})");
            _reserved++;
            if (_freeEnvelopes is { } free && free.Data.Length == length)
            {
                _freeEnvelopes = free.NextFree;
                free.NextFree = null;
                _pooledBytes -= length + IpcManager.MessageOverheadBytes;
                pooled = free;
            }
            return Result.Ok;
        }
    }

    /// <summary>One lock round trip for a byte-only send: the oldest parked receiver, taken off the list, when
    /// <see cref="TakeParkedReceiver"/> would give one (no place is reserved then: the caller hands the message over);
    /// else as <see cref="Reserve(int, out IpcEnvelope?)"/>.</summary>
    internal Result ReserveOrTakeReceiver(int length, out PendingReceive? parked, out IpcEnvelope? pooled)
    {
        lock (_gate)
        {
            if (_receivers.Count > 0 && _inbox.Count == 0 && _reserved == 0 && !_closed && _receivers[0].TakesHandOff)
            {
                parked = _receivers[0];
                _receivers.RemoveAt(0);
                pooled = null;
                return Result.Ok;
            }
            parked = null;
            return Reserve(length, out pooled); // the lock is re-entrant
        }
    }

    /// <summary>
    /// A byte-only send's common case under one lock (instead of a reservation and a commit): the oldest parked
    /// receiver, taken off the list, when a message sent now would be the next one received (the caller hands it over,
    /// as <see cref="ReserveOrTakeReceiver"/>); else, when the inbox has room and the newest pooled envelope has the
    /// message's size and was charged to <paramref name="sender"/> — so it is charged exactly what this message costs
    /// (length plus <see cref="IpcManager.MessageOverheadBytes"/>), and the charge carries over with no quota call and
    /// the tenant's usage never moves — the bytes are copied into it and it is queued, woken readers and all
    /// (<see cref="SendFast.Queued"/>). Otherwise nothing changed (<see cref="SendFast.NotTaken"/>: the caller takes
    /// the reserving path, which reports Closed and WouldBlock).
    /// </summary>
    internal SendFast TrySendBytesOneLock(ReadOnlySpan<byte> data, Principal sender, out PendingReceive? parked)
    {
        parked = null;
        lock (_gate)
        {
            if (_closed) return SendFast.NotTaken;
            if (_receivers.Count > 0 && _inbox.Count == 0 && _reserved == 0 && _receivers[0].TakesHandOff)
            {
                parked = _receivers[0];
                _receivers.RemoveAt(0);
                return SendFast.Parked;
            }
            if (_queued + _reserved >= Depth) return SendFast.NotTaken;
            if (_freeEnvelopes is not { } free || free.Data.Length != data.Length || free.ChargedTo != sender
                || free.ChargedBytes != data.Length + IpcManager.MessageOverheadBytes)
                return SendFast.NotTaken;
            _freeEnvelopes = free.NextFree;
            free.NextFree = null;
            _pooledBytes -= data.Length + IpcManager.MessageOverheadBytes;
            data.CopyTo(free.Data); // every byte overwritten: nothing of an earlier message shows
            _inbox.Enqueue(free);
            _queued++;
            WakeReadable();
            return SendFast.Queued;
        }
    }

    internal enum SendFast { NotTaken, Parked, Queued }

    /// <summary>
    /// For a receive into a caller's buffer, under one lock: takes the head message if it carries no capabilities,
    /// copies its bytes into <paramref name="buffer"/> and keeps its envelope for reuse; returns its length and what it
    /// was charged (the caller refunds that; 0 when the envelope went to the pool, which keeps the charge). Errors as <see cref="Dequeue(bool, int, out bool)"/>;
    /// <paramref name="carriesCapabilities"/> set when the head carries capabilities (left in place).
    /// </summary>
    internal Result<int> DequeueBytesInto(Span<byte> buffer, out Principal chargedTo, out long chargedBytes, out bool carriesCapabilities)
    {
        chargedTo = default;
        chargedBytes = 0;
        lock (_gate)
        {
            if (_inbox.Count > 0 && _inbox.Peek() is { Lengths: { } packedLengths } batch)
            {
                // The next message of a packed batch: copied out in place; the batch keeps its charge until its last.
                carriesCapabilities = false;
                int length = packedLengths[batch.Cursor];
                if (length > buffer.Length)
                    return Errors.Of(ErrorCode.OutOfRange, $"the next message has {length} bytes; the buffer holds {buffer.Length}");
                batch.Data.AsSpan(batch.Offset, length).CopyTo(buffer);
                batch.Offset += length;
                batch.Cursor++;
                _queued--;
                chargedTo = batch.ChargedTo;
                if (batch.Cursor == batch.Count)
                {
                    _inbox.Dequeue();
                    chargedBytes = RetirePackedLocked(batch);
                }
                _writable.WakeAll();
                return length;
            }
            var head = Dequeue(bytesOnly: true, buffer.Length, out carriesCapabilities); // the lock is re-entrant
            if (!head.IsOk) return head.Error;
            var e = head.Value;
            e.Data.CopyTo(buffer);
            chargedTo = e.ChargedTo;
            chargedBytes = e.ChargedBytes;
            int size = e.Data.Length + IpcManager.MessageOverheadBytes;
            if (!_closed && !_peerClosed && _pooledBytes + size <= PoolBytes)
            {
                e.NextFree = _freeEnvelopes;
                _freeEnvelopes = e;
                _pooledBytes += size;
                chargedBytes = 0; // the pooled envelope keeps its sender's charge
            }
            return e.Data.Length;
        }
    }

    /// <summary>
    /// A message of <paramref name="length"/> bytes for <paramref name="receiver"/> to be received into (its bytes are
    /// overwritten next): the kept one when it was that process's and has that size, else a new one — lent (its Dispose
    /// hands it back) when it is short enough to keep.
    /// </summary>
    internal IpcMessage RentMessage(Process receiver, int length) =>
        TakeKeptMessage(receiver, length) ?? (length <= KeptMessageBytes ? new IpcMessage(new byte[length], this, receiver) : new IpcMessage(new byte[length], []));

    /// <summary>The kept message, lent again, if it was <paramref name="receiver"/>'s and has <paramref name="length"/>
    /// bytes; null otherwise (a kept message of another size or process is dropped: the newest size wins).</summary>
    private IpcMessage? TakeKeptMessage(Process receiver, int length)
    {
        if (length > KeptMessageBytes || Volatile.Read(ref _keptMessage) is null) return null;
        if (Interlocked.Exchange(ref _keptMessage, null) is not { } kept || !kept.FitsFor(receiver, length)) return null;
        kept.Relend();
        return kept;
    }

    /// <summary>Whether a disposed message is kept for the next receive (tests).</summary>
    internal bool KeepsMessage => Volatile.Read(ref _keptMessage) is not null;

    /// <summary>A lent message disposed by its receiver: kept for the next receive unless the slot is taken or no
    /// receive can come any more (a closed end, or a closed peer: nothing more can be sent here).</summary>
    internal void KeepMessage(IpcMessage message)
    {
        if (_closed || Volatile.Read(ref _peerClosed)) return;
        Interlocked.CompareExchange(ref _keptMessage, message, null);
    }

    /// <summary>Why a receive found the inbox empty: the channel is closed (this end, or the peer gone), or nothing yet.
    /// Under <c>_gate</c>.</summary>
    private KernelError EmptyInboxLocked() =>
        _closed || Peer is null or { IsClosed: true }
            ? Errors.Of(ErrorCode.Closed, "channel is closed")
            : Errors.Of(ErrorCode.WouldBlock, "no message");

    /// <summary>
    /// For a receive that returns a new message (<see cref="IpcMessage"/>), under one lock: takes the head message if
    /// it carries no capabilities — copied into the message the receiver disposed last when that has its size (nothing
    /// allocated), else its own bytes become the message's (no copy; lent, so its Dispose keeps it, when short enough).
    /// Returns what it was charged (the caller refunds all of it: receiving refunds the sender, and no envelope is
    /// pooled on this path). Errors as <see cref="Dequeue(bool, int, out bool)"/>; <paramref name="carriesCapabilities"/>
    /// set when the head carries capabilities (left in place).
    /// </summary>
    internal Result<IpcMessage> DequeueBytesAsMessage(Process receiver, out Principal chargedTo, out long chargedBytes, out bool carriesCapabilities)
    {
        chargedTo = default;
        chargedBytes = 0;
        carriesCapabilities = false;
        lock (_gate)
        {
            if (_inbox.Count == 0) return EmptyInboxLocked();
            var head = _inbox.Peek();
            if (head.Objects.Length != 0)
            {
                carriesCapabilities = true;
                return Errors.Of(ErrorCode.WouldBlock, "message carries capabilities");
            }
            int length = head.Lengths is { } packedLengths ? packedLengths[head.Cursor] : head.Data.Length;
            IpcMessage message;
            if (TakeKeptMessage(receiver, length) is { } kept)
            {
                // Copied out of the head entry, which is then no longer referenced by the inbox once fully taken.
                chargedTo = head.ChargedTo;
                _queued--;
                if (head.Lengths is null)
                {
                    _inbox.Dequeue();
                    head.Data.CopyTo(kept.Data);
                    chargedBytes = head.ChargedBytes;
                }
                else
                {
                    head.Data.AsSpan(head.Offset, length).CopyTo(kept.Data);
                    head.Offset += length;
                    head.Cursor++;
                    // A packed batch stays charged its whole cost until its last message (as TakeOneLocked).
                    if (head.Cursor == head.Count)
                    {
                        _inbox.Dequeue();
                        chargedBytes = head.ChargedBytes;
                    }
                }
                message = kept;
            }
            else
            {
                var whole = TakeOneLocked();
                chargedTo = whole.ChargedTo;
                chargedBytes = whole.ChargedBytes;
                message = length <= KeptMessageBytes ? new IpcMessage(whole.Data, this, receiver) : new IpcMessage(whole.Data, []);
            }
            _writable.WakeAll();
            return message;
        }
    }

    /// <summary>Reserves room for up to <paramref name="max"/> messages at once (a batched send); returns how many
    /// places it got (0 when full: <see cref="ErrorCode.WouldBlock"/>).</summary>
    internal Result<int> ReserveMany(int max)
    {
        lock (_gate)
        {
            if (_closed) return Errors.Of(ErrorCode.Closed, "peer endpoint is closed");
            int room = Depth - _queued - _reserved;
            if (room <= 0) return Errors.Of(ErrorCode.WouldBlock, $"peer inbox is full ({Depth})");
            int n = Math.Min(room, max);
            _reserved += n;
            return n;
        }
    }

    internal void CancelReservation() => CancelReservations(1);

    internal void CancelReservations(int count)
    {
        lock (_gate)
        {
            _reserved -= count;
            _writable.WakeAll();
        }
    }

    /// <summary>Queues a message into a reserved place; false if the endpoint closed meanwhile (the caller drops it).</summary>
    internal bool CommitReserved(IpcEnvelope envelope)
    {
        lock (_gate)
        {
            _reserved--;
            if (_closed) return false;
            _inbox.Enqueue(envelope);
            _queued++;
            WakeReadable();
            return true;
        }
    }

    /// <summary>Queues reserved messages under one lock and one wake-up; false if the endpoint closed meanwhile (the
    /// caller drops them all).</summary>
    internal bool CommitReservedMany(ReadOnlySpan<IpcEnvelope> envelopes)
    {
        lock (_gate)
        {
            _reserved -= envelopes.Length;
            if (_closed) return false;
            foreach (var e in envelopes) _inbox.Enqueue(e);
            _queued += envelopes.Length;
            WakeReadable();
            return true;
        }
    }

    /// <summary>Takes up to <paramref name="max"/> messages under one lock (a batched receive): WouldBlock when empty,
    /// Closed when empty and closed.</summary>
    internal Result<int> DequeueMany(int max, List<IpcEnvelope> into)
    {
        lock (_gate)
        {
            if (_inbox.Count == 0) return EmptyInboxLocked();
            int n = Math.Min(max, _queued);
            for (int i = 0; i < n; i++) into.Add(TakeOneLocked());
            _writable.WakeAll();
            return n;
        }
    }

    /// <summary>
    /// A packed batched send under one lock and one wake-up: queues the byte-only messages that
    /// <paramref name="lengths"/> cuts from <paramref name="packed"/> (checked by the caller), as many as the inbox has
    /// room for — or exactly <paramref name="reserved"/> when the caller already reserved places — as one inbox entry (a
    /// packed <see cref="IpcEnvelope"/>: the bytes in one block, the lengths alongside; no envelope, queue slot or copy
    /// call per message). It refills the newest pooled packed batch when that has the same shape (its old charge is
    /// gathered into <paramref name="refunds"/>), so a steady stream allocates nothing. Returns how many were queued, the first ones in order, and in
    /// <paramref name="charged"/> what they cost the sender (0 when nothing was queued); WouldBlock when the inbox is
    /// full, Closed when this end is (nothing queued then).
    /// </summary>
    internal Result<int> EnqueuePacked(ReadOnlySpan<byte> packed, ReadOnlySpan<int> lengths, Principal sender, int reserved,
        ref ChargeRefunds refunds, out long charged)
    {
        charged = 0;
        lock (_gate)
        {
            _reserved -= reserved;
            if (_closed)
            {
                if (reserved > 0) _writable.WakeAll(); // the released places are free again for other senders
                return Errors.Of(ErrorCode.Closed, "peer endpoint is closed");
            }
            int n = reserved > 0 ? reserved : Math.Min(Depth - _queued - _reserved, lengths.Length);
            if (n <= 0) return Errors.Of(ErrorCode.WouldBlock, $"peer inbox is full ({Depth})");
            // One queue entry for the n messages: their bytes copied in one block, their lengths alongside.
            int bytes = 0;
            foreach (int length in lengths[..n]) bytes += length; // checked by the caller: at most the buffer's length
            charged = bytes + (long)n * IpcManager.MessageOverheadBytes;
            IpcEnvelope batch;
            if (_freePacked is { } free && free.Data.Length == bytes && free.Lengths!.Length == n)
            {
                _freePacked = free.NextFree;
                free.NextFree = null;
                _pooledPackedBytes -= PooledSize(free);
                refunds.Add(free.ChargedTo, free.ChargedBytes);
                free.RefillPacked(packed[..bytes], lengths[..n], sender, charged); // every byte and length overwritten
                batch = free;
            }
            else
            {
                // Another shape: the pooled batches wait for a send of theirs that may never come, and would keep a new
                // shape's batches out of the pool (bounded by bytes) — released, their charges refunded.
                for (var old = _freePacked; old is not null; old = old.NextFree) refunds.Add(old.ChargedTo, old.ChargedBytes);
                _freePacked = null;
                _pooledPackedBytes = 0;
                batch = IpcEnvelope.Packed(packed[..bytes].ToArray(), lengths[..n].ToArray(), sender, charged);
            }
            _inbox.Enqueue(batch);
            _queued += n;
            WakeReadable();
            return n;
        }
    }

    /// <summary>
    /// A batched receive into the caller's buffer under one lock: copies queued byte-only messages back to back into
    /// <paramref name="buffer"/>, each one's length into <paramref name="lengths"/>, until either is full or the next
    /// message carries capabilities (left queued); a packed batch's messages are copied out as one block. Envelopes go
    /// to the pool as <see cref="DequeueBytesInto"/>'s do, a packed batch when its last message is taken; the charges
    /// of the others are gathered into <paramref name="refunds"/>. Returns how many were taken; when the
    /// first message itself cannot be taken: WouldBlock (empty), Closed (empty and closed), OutOfRange (longer than
    /// the buffer) or NotSupported (it carries capabilities: receive it singly) — it stays queued.
    /// </summary>
    internal Result<int> DequeueBatchInto(Span<byte> buffer, Span<int> lengths, ref ChargeRefunds refunds)
    {
        lock (_gate)
        {
            if (_inbox.Count == 0) return EmptyInboxLocked();
            int n = 0, offset = 0;
            var pool = _freeEnvelopes; // stored once after the loop (one reference write per batch)
            while (n < lengths.Length && _inbox.Count > 0)
            {
                var head = _inbox.Peek();
                if (head.Lengths is { } packedLengths)
                {
                    // As many of the batch's messages as fit, copied out as one block.
                    int k = 0, bytes = 0, room = lengths.Length - n, space = buffer.Length - offset;
                    while (k < room && head.Cursor + k < head.Count && packedLengths[head.Cursor + k] <= space - bytes)
                        bytes += packedLengths[head.Cursor + k++];
                    if (k == 0)
                    {
                        if (n > 0) break;
                        return Errors.Of(ErrorCode.OutOfRange, $"the next message has {packedLengths[head.Cursor]} bytes; the buffer holds {buffer.Length}");
                    }
                    head.Data.AsSpan(head.Offset, bytes).CopyTo(buffer.Slice(offset));
                    packedLengths.AsSpan(head.Cursor, k).CopyTo(lengths.Slice(n));
                    head.Cursor += k;
                    head.Offset += bytes;
                    offset += bytes;
                    n += k;
                    _queued -= k;
                    if (head.Cursor < head.Count) break; // the buffer or the lengths array is full
                    _inbox.Dequeue();
                    refunds.Add(head.ChargedTo, RetirePackedLocked(head));
                    continue;
                }
                if (head.Objects.Length != 0)
                {
                    if (n > 0) break;
                    return Errors.Of(ErrorCode.NotSupported, "the next message carries capabilities: receive it with TryReceiveInto");
                }
                int length = head.Data.Length;
                if (length > buffer.Length - offset)
                {
                    if (n > 0) break;
                    return Errors.Of(ErrorCode.OutOfRange, $"the next message has {length} bytes; the buffer holds {buffer.Length}");
                }
                _inbox.Dequeue();
                _queued--;
                head.Data.CopyTo(buffer.Slice(offset));
                offset += length;
                lengths[n++] = length;
                int size = length + IpcManager.MessageOverheadBytes;
                if (!_closed && !_peerClosed && _pooledBytes + size <= PoolBytes)
                {
                    head.NextFree = pool;
                    pool = head;
                    _pooledBytes += size; // the pooled envelope keeps its sender's charge
                }
                else refunds.Add(head.ChargedTo, head.ChargedBytes);
            }
            _freeEnvelopes = pool;
            _writable.WakeAll();
            return n;
        }
    }

    /// <summary>Takes the next message: WouldBlock when empty, Closed when empty and closed (or the peer is).</summary>
    internal Result<IpcEnvelope> Dequeue() => Dequeue(bytesOnly: false, int.MaxValue, out _);

    /// <summary>As <see cref="Dequeue()"/>; with <paramref name="bytesOnly"/>, a message that carries capabilities is
    /// left at the head and <paramref name="carriesCapabilities"/> is set (the caller retakes it under the IPC
    /// manager's transit lock). A head message longer than <paramref name="maxBytes"/> stays queued:
    /// <see cref="ErrorCode.OutOfRange"/>.</summary>
    internal Result<IpcEnvelope> Dequeue(bool bytesOnly, int maxBytes, out bool carriesCapabilities)
    {
        carriesCapabilities = false;
        lock (_gate)
        {
            if (_inbox.Count == 0) return EmptyInboxLocked();
            var head = _inbox.Peek();
            int length = head.Lengths is { } packedLengths ? packedLengths[head.Cursor] : head.Data.Length;
            if (length > maxBytes)
                return Errors.Of(ErrorCode.OutOfRange, $"the next message has {length} bytes; the buffer holds {maxBytes}");
            if (bytesOnly && head.Objects.Length != 0)
            {
                carriesCapabilities = true;
                return Errors.Of(ErrorCode.WouldBlock, "message carries capabilities");
            }
            var env = TakeOneLocked();
            _writable.WakeAll();
            return env;
        }
    }

    /// <summary>True when a receive would not block (a message waits, or the channel is closed).</summary>
    internal bool IsReadable
    {
        get { lock (_gate) return _inbox.Count > 0 || _closed || Peer is { IsClosed: true }; }
    }

    /// <summary>Waits until a receive would not block. False if cancelled (the waiter is unregistered).</summary>
    internal Task<bool> WaitReadableAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> tcs;
        lock (_gate)
        {
            if (_inbox.Count > 0 || _closed || Peer is { IsClosed: true }) return Task.FromResult(true);
            tcs = _readable.Add();
        }
        return _readable.WaitAsync(_gate, tcs, ct);
    }

    /// <summary>Waits until this inbox has room (or closes). False if cancelled.</summary>
    internal Task<bool> WaitWritableAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> tcs;
        lock (_gate)
        {
            if (_queued + _reserved < Depth || _closed) return Task.FromResult(true);
            tcs = _writable.Add();
        }
        return _writable.WaitAsync(_gate, tcs, ct);
    }

    /// <summary>Registers a readability waiter without awaiting it (for waiting on several endpoints at once).</summary>
    internal TaskCompletionSource<bool>? RegisterReadable()
    {
        lock (_gate)
        {
            if (_inbox.Count > 0 || _closed || Peer is { IsClosed: true }) return null;
            return _readable.Add();
        }
    }

    internal void UnregisterReadable(TaskCompletionSource<bool> tcs) => _readable.Remove(_gate, tcs);

    /// <summary>Wakes readability waiters, and has parked receivers re-run their receive on their own CPUs. Call
    /// under the lock.</summary>
    private void WakeReadable()
    {
        _readable.WakeAll();
        if (_receivers.Count == 0) return;
        foreach (var r in _receivers) r.Wake();
        _receivers.Clear();
    }

    /// <summary>A receive waiter for this endpoint: the cached one when free (the common single-receiver case
    /// allocates nothing per wait), else a new one.</summary>
    internal PendingReceive RentReceiver() => Interlocked.Exchange(ref _spareReceiver, null) ?? new PendingReceive(this);

    internal void ReturnReceiver(PendingReceive r) => Interlocked.CompareExchange(ref _spareReceiver, r, null);

    /// <summary>Parks <paramref name="r"/> unless a receive would not block now (a message, a close) or its wait was
    /// cancelled: false then, and the caller receives (or reports the cancellation) itself.</summary>
    internal bool TryPark(PendingReceive r)
    {
        lock (_gate)
        {
            if (_inbox.Count > 0 || _closed || Peer is { IsClosed: true } || r.CancellationRequested) return false;
            _receivers.Add(r);
            return true;
        }
    }

    /// <summary>Takes <paramref name="r"/> off the parked list; false if someone else took it first (and so owns its
    /// completion).</summary>
    internal bool Unpark(PendingReceive r)
    {
        lock (_gate) return _receivers.Remove(r);
    }

    /// <summary>For a direct hand-off: the oldest parked receiver, taken off the list, if a message sent now would be
    /// the next one received — the inbox is empty, no other send holds a reservation, the endpoint is open. The
    /// caller then owns it: it completes it or wakes it.</summary>
    internal PendingReceive? TakeParkedReceiver()
    {
        lock (_gate)
        {
            if (_receivers.Count == 0 || _inbox.Count > 0 || _reserved > 0 || _closed || !_receivers[0].TakesHandOff) return null;
            var r = _receivers[0];
            _receivers.RemoveAt(0);
            return r;
        }
    }

    /// <summary>Closes this end, wakes everyone, and hands back what was queued (the caller drops it) and the pooled
    /// envelopes (the caller refunds their charges).</summary>
    internal IpcEnvelope[] CloseAndDrain(out IpcEnvelope? pool)
    {
        lock (_gate)
        {
            _closed = true;
            pool = TakePoolLocked();
            _keptMessage = null;
            var undelivered = _inbox.ToArray();
            _inbox.Clear();
            _queued = 0;
            WakeReadable();
            _writable.WakeAll();
            return undelivered;
        }
    }

    /// <summary>Wakes waiters because the peer closed (they will now see Closed).</summary>
    internal void PeerClosed(out IpcEnvelope? pool)
    {
        lock (_gate)
        {
            _peerClosed = true; // nothing can be sent here any more: the pool is released and never refilled
            pool = TakePoolLocked();
            _keptMessage = null;
            WakeReadable();
            _writable.WakeAll();
        }
    }

    /// <summary>Empties the envelope pool (the caller refunds its charges): a tenant at its quota limit sends with
    /// the memory its pooled envelopes held.</summary>
    internal IpcEnvelope? ReleasePool()
    {
        lock (_gate) return TakePoolLocked();
    }

    private IpcEnvelope? TakePoolLocked()
    {
        var pool = _freeEnvelopes;
        _freeEnvelopes = null;
        _pooledBytes = 0;
        // The packed batches' pool follows the single envelopes' in one chain (the caller refunds every link).
        if (_freePacked is { } packed)
        {
            _freePacked = null;
            _pooledPackedBytes = 0;
            if (pool is null) return packed;
            var last = pool;
            while (last.NextFree is { } next) last = next;
            last.NextFree = packed;
        }
        return pool;
    }

    /// <summary>What a pooled packed batch counts against the pool's bound: its bytes and the overhead per message
    /// (what it is charged).</summary>
    private static int PooledSize(IpcEnvelope batch) => batch.Data.Length + batch.Count * IpcManager.MessageOverheadBytes;

    /// <summary>A packed batch whose last message was taken (already off the inbox): pooled for the next batched send
    /// of its shape, keeping its charge (returns 0), or — pool full, or no send can reach this end — the charge the
    /// caller refunds.</summary>
    private long RetirePackedLocked(IpcEnvelope batch)
    {
        int size = PooledSize(batch);
        if (_closed || _peerClosed || _pooledPackedBytes + size > PoolBytes) return batch.ChargedBytes;
        batch.NextFree = _freePacked;
        _freePacked = batch;
        _pooledPackedBytes += size;
        return 0;
    }

    /// <summary>Takes the head message as an envelope of its own (a packed batch's next message is copied out into a
    /// new one, carrying the batch's whole charge when it is the last — so the receive refunds it — and none before).</summary>
    private IpcEnvelope TakeOneLocked()
    {
        var head = _inbox.Peek();
        _queued--;
        if (head.Lengths is not { } packedLengths)
        {
            _inbox.Dequeue();
            return head;
        }
        int length = packedLengths[head.Cursor];
        var bytes = head.Data.AsSpan(head.Offset, length).ToArray();
        head.Offset += length;
        head.Cursor++;
        if (head.Cursor < head.Count) return new IpcEnvelope(bytes, [], [], head.ChargedTo, 0);
        _inbox.Dequeue();
        return new IpcEnvelope(bytes, [], [], head.ChargedTo, head.ChargedBytes);
    }

    /// <summary>What is queued now (for the unreachable-cycle collector).</summary>
    internal IpcEnvelope[] SnapshotInbox()
    {
        lock (_gate) return _inbox.ToArray();
    }

    /// <summary>Empties the inbox without closing (the collector drops messages nobody can ever receive).</summary>
    internal IpcEnvelope[] DrainInbox()
    {
        lock (_gate)
        {
            var all = _inbox.ToArray();
            _inbox.Clear();
            _queued = 0;
            _writable.WakeAll();
            return all;
        }
    }
}
