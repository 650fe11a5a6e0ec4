using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Ipc;

/// <summary>
/// The IPC mechanism behind <see cref="Syscalls.ChannelSyscalls"/>: creates channel pairs and listeners, turns the
/// handles of a message into capabilities held in flight and back into handles of the receiver, charges queued
/// messages to the sender's tenant, and collects message cycles nobody can receive any more. It takes processes and
/// capability tokens from the syscall layer, which has already checked the caller's handles.
/// </summary>
public sealed class IpcManager
{
    public const int MaxMessageBytes = 64 * 1024;
    public const int MaxHandlesPerMessage = 64;
    /// <summary>Most messages one batched send or receive moves.</summary>
    public const int MaxBatch = 1024;
    public const int DefaultDepth = 64;
    public const int MaxDepth = 4096;
    public const Rights EndpointRights = Rights.Read | Rights.Write | Rights.Transfer | Rights.Delegate | Rights.Manage;
    public const Rights ListenerRights = Rights.Read | Rights.Connect | Rights.Delegate | Rights.Manage;

    /// <summary>Kernel memory one queued message costs besides its bytes (envelope) and per capability it carries.</summary>
    public const int MessageOverheadBytes = 64, HandleOverheadBytes = 64;

    private readonly CapabilityManager _caps;
    private readonly Lock _endpointsLock = new();
    private readonly HashSet<ChannelEndpoint> _endpoints = new(ReferenceEqualityComparer.Instance);
    // Capabilities cross an inbox's edge (counted in flight and queued, or dequeued and no longer counted) under the
    // read side; the collector marks and sweeps under the write side, so it never sees a capability that is in
    // flight but in no inbox — an endpoint being delivered would look unreachable and lose its queued messages.
    private readonly ReaderWriterLockSlim _transit = new(LockRecursionPolicy.SupportsRecursion);
    private long _sent, _received, _dropped;

    public IpcManager(CapabilityManager caps, NamespaceManager namespaces, IKernelTimers timers)
    {
        _caps = caps;
        Namespaces = namespaces;
        Timers = timers;
    }

    internal CapabilityManager Capabilities => _caps;
    internal NamespaceManager Namespaces { get; }
    internal IKernelTimers Timers { get; }

    /// <summary>Optional per-tenant limit on channel queue depth (quotas): returns an error if the depth is too deep.</summary>
    internal Func<Principal, int, Result>? DepthQuota { get; set; }

    /// <summary>Optional per-tenant memory charge (bytes; negative refunds) for messages waiting in queues.</summary>
    internal Func<Principal, long, Result>? MemoryQuota { get; set; }

    public long MessagesSent => Interlocked.Read(ref _sent);
    public long MessagesReceived => Interlocked.Read(ref _received);

    /// <summary>Messages dropped unreceived (channel closed first, or unreachable cycle collected).</summary>
    public long MessagesDropped => Interlocked.Read(ref _dropped);

    /// <summary>Live channel endpoints (for teardown checks).</summary>
    public int LiveEndpoints { get { lock (_endpointsLock) return _endpoints.Count; } }

    // ---- channels ----

    internal Result<(CapabilityToken A, CapabilityToken B)> CreatePair(Principal owner, int depth, CapabilityToken via, string label)
    {
        if (depth < 1 || depth > MaxDepth) return Errors.Of(ErrorCode.InvalidArgument, $"queue depth must be 1..{MaxDepth}");
        if (DepthQuota is { } quota)
        {
            var q = quota(owner, depth);
            if (!q.IsOk) return q.Error;
        }
        var a = new ChannelEndpoint(label + "#a", depth, via) { OnDestroyed = Destroyed };
        var b = new ChannelEndpoint(label + "#b", depth, via) { OnDestroyed = Destroyed };
        a.Peer = b;
        b.Peer = a;
        var ta = _caps.Create(a, EndpointRights, owner);
        if (!ta.IsOk) return ta.Error;
        var tb = _caps.Create(b, EndpointRights, owner);
        if (!tb.IsOk) { _caps.Revoke(ta.Value, owner); return tb.Error; }
        lock (_endpointsLock)
        {
            _endpoints.Add(a);
            _endpoints.Add(b);
        }
        return (ta.Value, tb.Value);
    }

    /// <summary>
    /// Sends from <paramref name="sender"/> through its endpoint <paramref name="from"/> to the peer's inbox. Every
    /// handle named is checked first; then a place in the inbox is reserved, lent capabilities are derived, moved
    /// handles leave the sender's table in one atomic step and are re-issued to an in-flight holder, and the bytes are
    /// charged to the sender's tenant. A failure before the commit changes nothing.
    /// </summary>
    internal Result Send(Process sender, ChannelEndpoint from, Handle fromHandle, ReadOnlySpan<byte> data, IReadOnlyList<HandleTransfer> handles)
    {
        if (data.Length > MaxMessageBytes) return Result.Fail(ErrorCode.InvalidArgument, $"message of {data.Length} bytes exceeds {MaxMessageBytes}");
        if (handles.Count > MaxHandlesPerMessage) return Result.Fail(ErrorCode.InvalidArgument, $"more than {MaxHandlesPerMessage} handles in one message");
        var peer = from.Peer;
        if (peer is null || from.IsClosed) return Result.Fail(ErrorCode.Closed, "channel is closed");

        return handles.Count == 0 ? SendBytes(sender, peer, data) : SendWithHandles(sender, peer, fromHandle, data, handles);
    }

    // Apart from Send: its lambdas capture the sender, and the closure object is made on entry to the method that
    // declares them — a byte-only send would pay for it on every message.
    private Result SendWithHandles(Process sender, ChannelEndpoint peer, Handle fromHandle, ReadOnlySpan<byte> data, IReadOnlyList<HandleTransfer> handles)
    {
        // Decode: every handle must be distinct, not the sending endpoint, valid, and carry what its mode needs.
        var moves = new List<Handle>();
        for (int i = 0; i < handles.Count; i++)
        {
            var h = handles[i];
            if (h.Mode is not (TransferMode.Move or TransferMode.Derive)) return Result.Fail(ErrorCode.InvalidArgument, "unknown transfer mode");
            if (h.Handle == fromHandle) return Result.Fail(ErrorCode.InvalidArgument, "an endpoint cannot be sent through itself");
            for (int j = 0; j < i; j++)
                if (handles[j].Handle == h.Handle) return Result.Fail(ErrorCode.InvalidArgument, $"{h.Handle} appears twice in one message");
            var need = h.Mode == TransferMode.Move ? Rights.Transfer : Rights.Delegate | h.Rights;
            var o = sender.Get<KernelObject>(h.Handle, need);
            if (!o.IsOk) return o.Error;
            // A message may not carry the endpoint it is queued on: nobody could ever receive it (a cycle).
            if (ReferenceEquals(o.Value, peer))
                return Result.Fail(ErrorCode.InvalidArgument, "an endpoint cannot be sent into its own inbox");
            if (h.Mode == TransferMode.Move) moves.Add(h.Handle);
        }

        var reserved = peer.Reserve();
        if (!reserved.IsOk) return reserved;
        InterleavingSeam.Point();
        long bytes = data.Length + MessageOverheadBytes + (long)handles.Count * HandleOverheadBytes;
        if (MemoryQuota is { } mq)
        {
            var q = mq(sender.Principal, bytes);
            if (!q.IsOk) { peer.CancelReservation(); return q; }
        }

        var inFlight = new Principal($"ipc->{peer.Label}", sender.Principal.Namespace);
        var tokens = new CapabilityToken[handles.Count];
        var objects = new KernelObject?[handles.Count];
        // Lend first (reversible by revoking what was derived)…
        for (int i = 0; i < handles.Count; i++)
        {
            if (handles[i].Mode != TransferMode.Derive) continue;
            var t = sender.TokenOf(handles[i].Handle);
            var d = t.IsOk ? _caps.DeriveCharged(t.Value, handles[i].Rights, inFlight, sender.Principal, sender.Principal) : t.Error;
            if (!d.IsOk) { Abort(i); return d.Error; }
            tokens[i] = d.Value;
        }
        // …then take every moved handle out of the sender's table in one step (two racing moves cannot both win).
        var taken = sender.Handles.TakeAll(moves, (_, token) =>
            _caps.Check(token, Rights.Transfer, sender.Principal).AsResult());
        if (!taken.IsOk) { Abort(handles.Count); return taken.Error; }
        InterleavingSeam.Point(); // the moved handles are in no table yet: only in this call
        for (int i = 0, m = 0; i < handles.Count; i++)
        {
            if (handles[i].Mode != TransferMode.Move) continue;
            var token = taken.Value[m++];
            // Re-issued under a new token: a copy of the old one is dead. Still charged to the sender while queued.
            var moved = _caps.Move(token, inFlight, sender.Principal, sender.Principal);
            if (moved.IsOk) tokens[i] = moved.Value;
            else _caps.Revoke(token, sender.Principal); // revoked concurrently: it arrives as Handle.Invalid
        }
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i].IsNone) continue;
            var info = _caps.Inspect(tokens[i]);
            if (info.IsOk) objects[i] = info.Value.Object;
        }
        var envelope = new IpcEnvelope(data.ToArray(), tokens, objects, sender.Principal, bytes);
        InterleavingSeam.Point();
        bool queued;
        _transit.EnterReadLock();
        try
        {
            foreach (var o in objects) o?.AddInFlight(1);
            queued = peer.CommitReserved(envelope);
        }
        finally { _transit.ExitReadLock(); }
        if (!queued)
        {
            // The peer closed after our reservation, when the moved handles had already left the sender's table.
            // Reporting Closed would tell the sender it still holds them, which is false; instead the send takes
            // effect before the close (as if queued an instant earlier) and the close drops it, revoking what it
            // carried: each moved handle stays in exactly one place (found by Coyote,
            // IpcHandleMoveRaceTests.MoveRacingReceiveAndClose_HandleIsInExactlyOnePlace).
            Drop(envelope);
            return Result.Ok;
        }
        Interlocked.Increment(ref _sent);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcSend, data.Length, handles.Count, sender.Principal.Name);
        return Result.Ok;

        void Abort(int derivedUpTo)
        {
            for (int k = 0; k < derivedUpTo; k++)
                if (handles[k].Mode == TransferMode.Derive && !tokens[k].IsNone) _caps.Revoke(tokens[k], sender.Principal);
            MemoryQuota?.Invoke(sender.Principal, -bytes);
            peer.CancelReservation();
        }
    }

    /// <summary>A message with no handles: nothing to decode, lend or move, so no in-flight holder either.</summary>
    private Result SendBytes(Process sender, ChannelEndpoint peer, ReadOnlySpan<byte> data)
    {
        // One lock for the common cases: a parked receiver to hand the message to, or a pooled envelope already
        // charged what this message costs to this sender (a steady stream) — queued with no quota call.
        IpcEnvelope? pooled = null;
        Result reserved = default;
        switch (peer.TrySendBytesOneLock(data, sender.Principal, out var parked))
        {
            case ChannelEndpoint.SendFast.Queued:
                Interlocked.Increment(ref _sent);
                if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcSend, data.Length, 0, sender.Principal.Name);
                return Result.Ok;
            case ChannelEndpoint.SendFast.Parked:
                if (HandOff(sender, parked!, peer, data)) return Result.Ok;
                // Its handle no longer reads this endpoint: the message is queued instead, and the re-run receive says why.
                parked!.Wake();
                reserved = peer.Reserve(data.Length, out pooled);
                break;
            default:
                reserved = peer.ReserveOrTakeReceiver(data.Length, out parked, out pooled);
                if (parked is not null)
                {
                    if (HandOff(sender, parked, peer, data)) return Result.Ok;
                    parked.Wake();
                    reserved = peer.Reserve(data.Length, out pooled);
                }
                break;
        }
        if (!reserved.IsOk) return reserved;
        // A pooled envelope left the pool carrying its last sender's charge: refunded now, whatever happens next.
        if (pooled is not null) MemoryQuota?.Invoke(pooled.ChargedTo, -pooled.ChargedBytes);
        long bytes = data.Length + MessageOverheadBytes;
        if (MemoryQuota is { } mq)
        {
            var q = mq(sender.Principal, bytes);
            if (!q.IsOk) { peer.CancelReservation(); return q; }
        }
        IpcEnvelope envelope;
        if (pooled is null) envelope = new IpcEnvelope(data.ToArray(), [], [], sender.Principal, bytes);
        else
        {
            pooled.Refill(data, sender.Principal, bytes); // every byte overwritten: nothing of an earlier message shows
            envelope = pooled;
        }
        // No transit lock: that lock guards capabilities crossing an inbox's edge, and this envelope carries none.
        if (!peer.CommitReserved(envelope))
        {
            Drop(envelope);
            return Result.Fail(ErrorCode.Closed, "peer endpoint closed while sending");
        }
        Interlocked.Increment(ref _sent);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcSend, data.Length, 0, sender.Principal.Name);
        return Result.Ok;
    }

    /// <summary>
    /// Direct hand-off (as a Zircon channel write to a waiting reader): the message goes straight to a kernel task
    /// parked on an empty inbox — no reservation, no envelope, no quota charge (nothing is ever queued), one wake-up on
    /// the receiver's CPU. The receiver's handle is re-checked as its own receive would (Read on this endpoint, a live
    /// bridge binding); if that fails, false, and the caller queues the message.
    /// </summary>
    private bool HandOff(Process sender, PendingReceive parked, ChannelEndpoint peer, ReadOnlySpan<byte> data)
    {
        var receiver = parked.Receiver!;
        // The lock-free check the receive itself starts with (ChannelSyscalls.Open); anything unusual — a handle moved,
        // closed or revoked since it parked, a writer at work in either table, tracing on — takes the full check.
        if (!receiver.TryGetFast(parked.Handle, Rights.Read, out var fast) || !ReferenceEquals(fast, peer))
        {
            var ep = receiver.Get<ChannelEndpoint>(parked.Handle, Rights.Read);
            if (!ep.IsOk || !ReferenceEquals(ep.Value, peer)) return false;
        }
        if (peer.DroppedFromBacklog) return false;
        if (!peer.Via.IsNone && !_caps.Check(peer.Via, Rights.None, receiver.Principal).IsOk) return false;
        if (!parked.Fits(data.Length)) return false;
        Interlocked.Increment(ref _sent);
        Interlocked.Increment(ref _received);
        if (KernelTrace.Enabled)
        {
            KernelTrace.Instant(TracePoint.IpcSend, data.Length, 0, sender.Principal.Name);
            KernelTrace.Instant(TracePoint.IpcReceive, data.Length, 0, receiver.Principal.Name);
        }
        parked.HandOff(data);
        return true;
    }

    /// <summary>
    /// A batched send of byte-only messages (handles travel in single sends): reserves as many places as the peer's
    /// inbox has (up to the batch), charges their bytes in one quota call, and queues them under one lock with one
    /// wake-up. Returns how many were queued — the first ones, in order; WouldBlock (nothing queued) when the inbox is
    /// full. All checks happen before anything is queued: an oversized message fails the whole batch.
    /// </summary>
    internal Result<int> SendBatch(Process sender, ChannelEndpoint from, IReadOnlyList<ReadOnlyMemory<byte>> messages)
    {
        if (messages.Count == 0) return 0;
        if (messages.Count > MaxBatch) return Errors.Of(ErrorCode.InvalidArgument, $"more than {MaxBatch} messages in one batch");
        for (int i = 0; i < messages.Count; i++)
            if (messages[i].Length > MaxMessageBytes)
                return Errors.Of(ErrorCode.InvalidArgument, $"message {i} of {messages[i].Length} bytes exceeds {MaxMessageBytes}");
        var peer = from.Peer;
        if (peer is null || from.IsClosed) return Errors.Of(ErrorCode.Closed, "channel is closed");
        var reserved = peer.ReserveMany(messages.Count);
        if (!reserved.IsOk) return reserved.Error;
        int n = reserved.Value;
        long bytes = 0;
        for (int i = 0; i < n; i++) bytes += messages[i].Length + MessageOverheadBytes;
        if (MemoryQuota is { } mq)
        {
            var q = mq(sender.Principal, bytes);
            if (!q.IsOk) { peer.CancelReservations(n); return q.Error; }
        }
        var envelopes = new IpcEnvelope[n];
        for (int i = 0; i < n; i++)
            envelopes[i] = new IpcEnvelope(messages[i].ToArray(), [], [], sender.Principal, messages[i].Length + MessageOverheadBytes);
        // Byte-only envelopes: no transit lock (see SendBytes).
        if (!peer.CommitReservedMany(envelopes))
        {
            foreach (var e in envelopes) Drop(e);
            return Errors.Of(ErrorCode.Closed, "peer endpoint closed while sending");
        }
        Interlocked.Add(ref _sent, n);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcSend, bytes, 0, sender.Principal.Name);
        return n;
    }

    /// <summary>
    /// A packed batched send: message i is the next <c>lengths[i]</c> bytes of <paramref name="packed"/>. Decode first —
    /// 1 to <see cref="MaxBatch"/> lengths, each 0..<see cref="MaxMessageBytes"/>, their sum within the buffer — and a
    /// bad batch changes nothing. Then the whole batch is charged to the sender's tenant in one quota call and queued
    /// under the peer's lock with one wake-up, as many as its inbox has room for; the part not taken is refunded at
    /// once, so what stays charged is exactly what single sends of the queued messages would have charged. If the
    /// quota cannot cover the whole batch, the places are reserved first and only those are charged (two lock round
    /// trips). Returns how many were queued, the first ones in order; WouldBlock when the inbox is full. Handles never
    /// travel in a batch (the call has no place for them).
    /// </summary>
    internal Result<int> SendPacked(Process sender, ChannelEndpoint from, ReadOnlySpan<byte> packed, ReadOnlySpan<int> lengths)
    {
        if (lengths.Length is < 1 or > MaxBatch) return Errors.Of(ErrorCode.InvalidArgument, $"a batch holds 1..{MaxBatch} messages");
        long total = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            if (lengths[i] is < 0 or > MaxMessageBytes)
                return Errors.Of(ErrorCode.InvalidArgument, $"message {i}: length {lengths[i]} is outside 0..{MaxMessageBytes}");
            total += lengths[i]; // at most MaxBatch * MaxMessageBytes: no overflow in a long
        }
        if (total > packed.Length)
            return Errors.Of(ErrorCode.InvalidArgument, $"the lengths add up to {total} bytes; the buffer holds {packed.Length}");
        var peer = from.Peer;
        if (peer is null || from.IsClosed) return Errors.Of(ErrorCode.Closed, "channel is closed");

        long charge = total + (long)lengths.Length * MessageOverheadBytes;
        int reserved = 0;
        if (MemoryQuota is { } mq && !mq(sender.Principal, charge).IsOk)
        {
            // At the limit, what the pool holds is given back first (a single send's reuse refunds what it takes).
            RefundPool(peer.ReleasePool());
            var places = peer.ReserveMany(lengths.Length);
            if (!places.IsOk) return places.Error;
            var afforded = ChargeLongestPrefix(mq, sender.Principal, lengths[..places.Value], out charge);
            reserved = afforded.IsOk ? afforded.Value : 0;
            if (places.Value > reserved) peer.CancelReservations(places.Value - reserved);
            if (!afforded.IsOk) return afforded.Error;
        }
        InterleavingSeam.Point(); // charged, not yet queued: a close here must still refund every byte
        var refunds = new ChargeRefunds();
        // The queue sums what it took as it copies (each message's charge once): the rest of the batch is refunded.
        var queued = peer.EnqueuePacked(packed, lengths, sender.Principal, reserved, ref refunds, out long kept);
        refunds.Add(sender.Principal, charge - kept);
        refunds.Pay(MemoryQuota);
        if (!queued.IsOk) return queued.Error;
        Interlocked.Add(ref _sent, queued.Value);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcSend, kept, 0, sender.Principal.Name);
        return queued.Value;
    }

    /// <summary>
    /// Over quota for a whole batch: charges the longest prefix of <paramref name="lengths"/> the tenant can afford —
    /// what single sends would have queued before one failed — found by halving (each probe charged, then refunded;
    /// about ten quota calls for the largest batch, on this slow path only). Returns its length, or the quota's error
    /// when not even the first message fits (nothing charged then).
    /// </summary>
    private static Result<int> ChargeLongestPrefix(Func<Principal, long, Result> quota, Principal sender, ReadOnlySpan<int> lengths,
        out long charged)
    {
        charged = 0;
        int fits = 0, fails = lengths.Length + 1; // a prefix of `fits` is affordable; of `fails`, not (or out of range)
        Result last = Result.Fail(ErrorCode.QuotaExceeded, "over the tenant's memory quota");
        while (fails - fits > 1)
        {
            int probe = fits + (fails - fits) / 2;
            long bytes = ChargeOf(lengths[..probe]);
            var q = quota(sender, bytes);
            if (q.IsOk) { quota(sender, -bytes); fits = probe; }
            else { last = q; fails = probe; }
        }
        if (fits == 0) return last.Error;
        // Charged for real now; another send of the tenant may have taken the room since the probe.
        long prefix = ChargeOf(lengths[..fits]);
        var paid = quota(sender, prefix);
        if (!paid.IsOk) return paid.Error;
        charged = prefix;
        return fits;
    }

    private static long ChargeOf(ReadOnlySpan<int> lengths)
    {
        long bytes = (long)lengths.Length * MessageOverheadBytes;
        foreach (int l in lengths) bytes += l;
        return bytes;
    }

    /// <summary>A batched receive into the receiver's buffer (see <see cref="ChannelEndpoint.DequeueBatchInto"/>):
    /// <paramref name="lengths"/> has room for 1 to <see cref="MaxBatch"/> messages. Returns how many were taken.</summary>
    internal Result<int> ReceiveBatchInto(Process receiver, ChannelEndpoint endpoint, Span<byte> buffer, Span<int> lengths)
    {
        if (lengths.Length is < 1 or > MaxBatch) return Errors.Of(ErrorCode.InvalidArgument, $"a batch holds 1..{MaxBatch} messages");
        var refunds = new ChargeRefunds();
        // Byte-only messages only (a message with capabilities is left queued): no transit lock, as ReceiveInto.
        var got = endpoint.DequeueBatchInto(buffer, lengths, ref refunds);
        InterleavingSeam.Point(); // taken, not yet refunded
        refunds.Pay(MemoryQuota);
        if (!got.IsOk) return got.Error;
        Interlocked.Add(ref _received, got.Value);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcReceive, got.Value, 0, receiver.Principal.Name);
        return got.Value;
    }

    /// <summary>A batched receive: takes up to <paramref name="max"/> queued messages under one lock. Each is received
    /// exactly as <see cref="Receive"/> would (its capabilities re-issued to the receiver).</summary>
    internal Result<IReadOnlyList<IpcMessage>> ReceiveBatch(Process receiver, ChannelEndpoint endpoint, int max)
    {
        if (max is < 1 or > MaxBatch) return Errors.Of(ErrorCode.InvalidArgument, $"batch size must be 1..{MaxBatch}");
        var envelopes = new List<IpcEnvelope>(Math.Min(max, 64));
        Result<int> got;
        _transit.EnterReadLock();
        try
        {
            got = endpoint.DequeueMany(max, envelopes);
            foreach (var env in envelopes)
                foreach (var o in env.Objects) o?.AddInFlight(-1);
        }
        finally { _transit.ExitReadLock(); }
        if (!got.IsOk) return got.Error;
        var messages = new IpcMessage[envelopes.Count];
        for (int i = 0; i < envelopes.Count; i++) messages[i] = Deliver(receiver, envelopes[i]);
        return messages;
    }

    /// <summary>Takes the next message of <paramref name="endpoint"/> into <paramref name="receiver"/>'s handle table.
    /// Capabilities are re-issued to (and charged to) the receiver; one its tenant cannot afford is revoked and shows
    /// as <see cref="Handle.Invalid"/>.</summary>
    internal Result<IpcMessage> Receive(Process receiver, ChannelEndpoint endpoint)
    {
        // A byte-only message at the head is taken without the transit lock (no capability crosses the inbox's edge),
        // a short one copied into the message the receiver disposed last and its envelope kept for the next send; one
        // that carries capabilities is left in place and taken below under the lock.
        var bytes = endpoint.DequeueBytesAsMessage(receiver, out var chargedTo, out long chargedBytes, out bool carriesCapabilities);
        if (!carriesCapabilities)
        {
            if (!bytes.IsOk) return bytes.Error;
            Received(receiver, chargedTo, chargedBytes, bytes.Value.Data.Length, 0);
            return bytes.Value;
        }
        Result<IpcEnvelope> env;
        _transit.EnterReadLock();
        try
        {
            env = endpoint.Dequeue();
            if (env.IsOk) foreach (var o in env.Value.Objects) o?.AddInFlight(-1);
        }
        finally { _transit.ExitReadLock(); }
        if (!env.IsOk) return env.Error;
        InterleavingSeam.Point(); // dequeued, not yet in the receiver's table
        return Deliver(receiver, env.Value);
    }

    /// <summary>As <see cref="Receive"/>, into the receiver's <paramref name="buffer"/> (no byte array per message). A
    /// message longer than the buffer stays queued and the call fails with <see cref="ErrorCode.OutOfRange"/> naming its
    /// size (as Zircon's channel read with a small buffer); a buffer of <see cref="MaxMessageBytes"/> always fits.</summary>
    internal Result<IpcReceipt> ReceiveInto(Process receiver, ChannelEndpoint endpoint, Span<byte> buffer)
    {
        // A byte-only head message is copied out under the endpoint's lock alone, and its envelope kept for reuse.
        var bytes = endpoint.DequeueBytesInto(buffer, out var chargedTo, out long chargedBytes, out bool carriesCapabilities);
        if (!carriesCapabilities)
        {
            if (!bytes.IsOk) return bytes.Error;
            Received(receiver, chargedTo, chargedBytes, bytes.Value, 0);
            return new IpcReceipt(bytes.Value, []);
        }
        Result<IpcEnvelope> env;
        _transit.EnterReadLock();
        try
        {
            env = endpoint.Dequeue(bytesOnly: false, buffer.Length, out _);
            if (env.IsOk) foreach (var o in env.Value.Objects) o?.AddInFlight(-1);
        }
        finally { _transit.ExitReadLock(); }
        if (!env.IsOk) return env.Error;
        InterleavingSeam.Point(); // dequeued, not yet in the receiver's table
        var e = env.Value;
        e.Data.CopyTo(buffer);
        var handles = DeliverHandles(receiver, e, out int dropped);
        return new IpcReceipt(e.Data.Length, handles) { DroppedHandles = dropped };
    }

    /// <summary>Re-issues a dequeued message's capabilities to the receiver and refunds the sender's charge.</summary>
    private IpcMessage Deliver(Process receiver, IpcEnvelope e)
    {
        var handles = DeliverHandles(receiver, e, out int dropped);
        return new IpcMessage(e.Data, handles) { DroppedHandles = dropped };
    }

    private Handle[] DeliverHandles(Process receiver, IpcEnvelope e, out int dropped)
    {
        Handle[] handles = e.Capabilities.Length == 0 ? [] : new Handle[e.Capabilities.Length];
        dropped = 0;
        for (int i = 0; i < e.Capabilities.Length; i++)
        {
            var token = e.Capabilities[i];
            if (token.IsNone) { dropped++; continue; }
            var moved = _caps.MoveForKernel(token, receiver.Principal, receiver.Principal);
            if (!moved.IsOk)
            {
                _caps.Revoke(token, receiver.Principal);
                dropped++;
                continue;
            }
            var h = receiver.AddHandle(moved.Value); // on failure AddHandle revokes the capability
            if (h.IsOk) handles[i] = h.Value;
            else dropped++;
        }
        Received(receiver, e.ChargedTo, e.ChargedBytes, e.Data.Length, handles.Length);
        return handles;
    }

    /// <summary>A message left its inbox for a receiver: refunds the sender's charge, counts and traces it.</summary>
    private void Received(Process receiver, Principal chargedTo, long chargedBytes, int length, int handles)
    {
        MemoryQuota?.Invoke(chargedTo, -chargedBytes);
        Interlocked.Increment(ref _received);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcReceive, length, handles, receiver.Principal.Name);
    }

    // ---- listeners ----

    internal Result<CapabilityToken> CreateListener(Principal owner, int backlog)
    {
        if (backlog is < 1 or > 1024) return Errors.Of(ErrorCode.InvalidArgument, "backlog must be 1..1024");
        var listener = new IpcListener($"listener@{owner.Name}", backlog);
        listener.OnClosed = orphans =>
        {
            foreach (var t in orphans)
            {
                if (_caps.Inspect(t) is { IsOk: true, Value.Object: ChannelEndpoint server })
                {
                    server.DroppedFromBacklog = true;
                    if (server.Peer is { } client) client.DroppedFromBacklog = true;
                }
                _caps.Revoke(t, Principal.Kernel);
            }
        };
        return _caps.Create(listener, ListenerRights, owner);
    }

    /// <summary>Connects <paramref name="client"/> to a listener through the namespace binding <paramref name="via"/>.
    /// The client's end goes to its table; the server end waits in the listener's backlog (charged to the client).</summary>
    internal Result<Handle> Connect(Process client, IpcListener listener, CapabilityToken via, string path, int depth)
    {
        var pair = CreatePair(client.Principal, depth, via, $"conn:{path}");
        if (!pair.IsOk) return pair.Error;
        var queued = listener.Enqueue(pair.Value.B, client.Principal);
        if (!queued.IsOk)
        {
            _caps.Revoke(pair.Value.A, client.Principal);
            _caps.Revoke(pair.Value.B, client.Principal);
            return queued.Error;
        }
        return client.AddHandle(pair.Value.A);
    }

    /// <summary>Hands the next backlog connection to <paramref name="server"/> (re-issued to and charged to it).</summary>
    internal Result<(Handle Endpoint, Principal Client)> TryAccept(Process server, IpcListener listener)
    {
        while (true)
        {
            var next = listener.Dequeue();
            if (!next.IsOk) return next.Error;
            var moved = _caps.MoveForKernel(next.Value.ServerEnd, server.Principal, server.Principal);
            if (!moved.IsOk)
            {
                _caps.Revoke(next.Value.ServerEnd, server.Principal);
                if (moved.Code == ErrorCode.QuotaExceeded) return moved.Error;
                continue; // the client gave up (its end was revoked): take the next one
            }
            var h = server.AddHandle(moved.Value);
            return h.IsOk ? (h.Value, next.Value.Client) : h.Error;
        }
    }

    // ---- teardown and collection ----

    /// <summary>Drops a message nobody will receive: revokes its capabilities and refunds its sender.</summary>
    internal void Drop(IpcEnvelope env)
    {
        Interlocked.Add(ref _dropped, env.Remaining); // a packed batch holds what it has not yet delivered
        MemoryQuota?.Invoke(env.ChargedTo, -env.ChargedBytes);
        for (int i = 0; i < env.Capabilities.Length; i++)
        {
            env.Objects[i]?.AddInFlight(-1);
            if (!env.Capabilities[i].IsNone) _caps.Revoke(env.Capabilities[i], Principal.Kernel);
        }
    }

    /// <summary>
    /// Drops every queued message that no process can ever receive: an endpoint whose only capabilities sit inside
    /// messages queued on endpoints that are themselves unreachable (e.g. an endpoint moved into its own peer's
    /// inbox chain, then its owner destroyed). Mark from every endpoint held outside message queues, following the
    /// endpoints carried by their queued messages; sweep the rest. Run at process teardown. Returns messages dropped.
    /// </summary>
    public int CollectUnreachable()
    {
        _transit.EnterWriteLock();
        try { return CollectUnreachableExclusive(); }
        finally { _transit.ExitWriteLock(); }
    }

    private int CollectUnreachableExclusive()
    {
        ChannelEndpoint[] all;
        lock (_endpointsLock) all = _endpoints.ToArray();
        var marked = new HashSet<ChannelEndpoint>(ReferenceEqualityComparer.Instance);
        var work = new Stack<ChannelEndpoint>();
        foreach (var ep in all)
            if (ep.LiveCapabilities - ep.InFlightCapabilities > 0 && marked.Add(ep)) work.Push(ep);
        while (work.Count > 0)
        {
            var ep = work.Pop();
            foreach (var env in ep.SnapshotInbox())
                foreach (var o in env.Objects)
                    if (o is ChannelEndpoint carried && marked.Add(carried)) work.Push(carried);
        }
        int dropped = 0;
        foreach (var ep in all)
        {
            if (marked.Contains(ep)) continue;
            foreach (var env in ep.DrainInbox())
            {
                Drop(env);
                dropped++;
            }
        }
        return dropped;
    }

    private void Destroyed(ChannelEndpoint ep)
    {
        lock (_endpointsLock) _endpoints.Remove(ep);
        CloseBoth(ep);
    }

    /// <summary>Closes an endpoint (and, for a connection made through a revoked bridge, its peer too).</summary>
    internal void CloseBoth(ChannelEndpoint ep)
    {
        var undelivered = ep.CloseAndDrain(out var pool);
        foreach (var env in undelivered) Drop(env);
        RefundPool(pool);
        InterleavingSeam.Point();
        var peer = ep.Peer;
        if (peer is null) return;
        IpcEnvelope? peerPool;
        if (!ep.Via.IsNone)
        {
            foreach (var env in peer.CloseAndDrain(out peerPool)) Drop(env);
        }
        else peer.PeerClosed(out peerPool);
        RefundPool(peerPool);
    }

    /// <summary>Refunds the charges pooled envelopes kept (see <see cref="ChannelEndpoint"/>'s envelope pool).</summary>
    private void RefundPool(IpcEnvelope? pool)
    {
        for (var e = pool; e is not null; e = e.NextFree)
            MemoryQuota?.Invoke(e.ChargedTo, -e.ChargedBytes);
    }
}
