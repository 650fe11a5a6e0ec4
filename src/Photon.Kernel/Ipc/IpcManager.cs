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

        if (handles.Count == 0) return SendBytes(sender, peer, data);

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
        if (peer.TakeParkedReceiver() is { } parked)
        {
            if (HandOff(sender, parked, peer, data)) return Result.Ok;
            // Its handle no longer reads this endpoint: the message is queued instead, and the re-run receive says why.
            parked.Wake();
        }
        var reserved = peer.Reserve();
        if (!reserved.IsOk) return reserved;
        long bytes = data.Length + MessageOverheadBytes;
        if (MemoryQuota is { } mq)
        {
            var q = mq(sender.Principal, bytes);
            if (!q.IsOk) { peer.CancelReservation(); return q; }
        }
        var envelope = new IpcEnvelope(data.ToArray(), [], [], sender.Principal, bytes);
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
        var ep = receiver.Get<ChannelEndpoint>(parked.Handle, Rights.Read);
        if (!ep.IsOk || !ReferenceEquals(ep.Value, peer) || peer.DroppedFromBacklog) return false;
        if (!peer.Via.IsNone && !_caps.Check(peer.Via, Rights.None, receiver.Principal).IsOk) return false;
        Interlocked.Increment(ref _sent);
        Interlocked.Increment(ref _received);
        if (KernelTrace.Enabled)
        {
            KernelTrace.Instant(TracePoint.IpcSend, data.Length, 0, sender.Principal.Name);
            KernelTrace.Instant(TracePoint.IpcReceive, data.Length, 0, receiver.Principal.Name);
        }
        parked.Complete(new IpcMessage(data.ToArray(), []));
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
        // A byte-only message at the head is taken without the transit lock (no capability crosses the inbox's edge);
        // one that carries capabilities is left in place and taken below under the lock.
        var env = endpoint.Dequeue(bytesOnly: true, out bool carriesCapabilities);
        if (!carriesCapabilities)
        {
            if (!env.IsOk) return env.Error;
            return Deliver(receiver, env.Value);
        }
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

    /// <summary>Re-issues a dequeued message's capabilities to the receiver and refunds the sender's charge.</summary>
    private IpcMessage Deliver(Process receiver, IpcEnvelope e)
    {
        Handle[] handles = e.Capabilities.Length == 0 ? [] : new Handle[e.Capabilities.Length];
        int dropped = 0;
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
        MemoryQuota?.Invoke(e.ChargedTo, -e.ChargedBytes);
        Interlocked.Increment(ref _received);
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.IpcReceive, e.Data.Length, handles.Length, receiver.Principal.Name);
        return new IpcMessage(e.Data, handles) { DroppedHandles = dropped };
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
        Interlocked.Increment(ref _dropped);
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
        foreach (var env in ep.CloseAndDrain()) Drop(env);
        InterleavingSeam.Point();
        var peer = ep.Peer;
        if (peer is null) return;
        if (!ep.Via.IsNone)
        {
            foreach (var env in peer.CloseAndDrain()) Drop(env);
        }
        else peer.PeerClosed();
    }
}
