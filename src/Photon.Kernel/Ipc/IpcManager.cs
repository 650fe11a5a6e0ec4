using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Ipc;

/// <summary>
/// Namespace-aware asynchronous IPC. Channels are pairs of endpoints, each a kernel object reached through
/// capabilities; messages carry bytes and capabilities, which are moved or derived into the receiver's handle table by
/// the kernel — never copied as raw bits. Services listen by binding an <see cref="IpcListener"/> into their namespace;
/// clients connect by resolving a path through their own namespace, so tenants in sibling namespaces cannot reach each
/// other unless a parent binds the listener into both (a bridge), and taking the bridge down closes what was opened
/// through it. Every queue is bounded: a full inbox is back-pressure.
/// </summary>
public sealed class IpcManager
{
    public const int MaxMessageBytes = 64 * 1024;
    public const int MaxHandlesPerMessage = 64;
    public const int DefaultDepth = 64;
    public const int MaxDepth = 4096;
    public const Rights EndpointRights = Rights.Read | Rights.Write | Rights.Transfer | Rights.Delegate | Rights.Manage;
    public const Rights ListenerRights = Rights.Read | Rights.Connect | Rights.Delegate | Rights.Manage;

    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _namespaces;
    private readonly IKernelTimers _timers;
    private long _sent, _received, _dropped;

    public IpcManager(CapabilityManager caps, NamespaceManager namespaces, IKernelTimers timers)
    {
        _caps = caps;
        _namespaces = namespaces;
        _timers = timers;
    }

    /// <summary>Optional per-tenant limit on channel queue depth (quotas): returns an error if the depth is too deep.</summary>
    public Func<Principal, int, Result>? DepthQuota { get; set; }

    public long MessagesSent => Interlocked.Read(ref _sent);
    public long MessagesReceived => Interlocked.Read(ref _received);

    /// <summary>Capabilities revoked because their message was never received (channel closed first).</summary>
    public long MessagesDropped => Interlocked.Read(ref _dropped);

    // ---- channels ----

    /// <summary>Creates a channel; both endpoints land in <paramref name="owner"/>'s handle table (hand one on with a message).</summary>
    public Result<(Handle A, Handle B)> CreateChannel(Process owner, int depth = DefaultDepth)
    {
        var pair = CreatePair(owner.Principal, depth, CapabilityToken.None, $"chan@{owner.Principal.Name}");
        if (!pair.IsOk) return pair.Error;
        var a = owner.AddHandle(pair.Value.A);
        if (!a.IsOk) { _caps.Revoke(pair.Value.B); return a.Error; }
        var b = owner.AddHandle(pair.Value.B);
        if (!b.IsOk) { owner.Close(a.Value); return b.Error; }
        return (a.Value, b.Value);
    }

    /// <summary>Sends without waiting; a full peer inbox gives <see cref="ErrorCode.WouldBlock"/>.</summary>
    public Result TrySend(Process sender, Handle endpoint, ReadOnlySpan<byte> data, IReadOnlyList<HandleTransfer>? handles = null)
    {
        if (data.Length > MaxMessageBytes) return Result.Fail(ErrorCode.InvalidArgument, $"message of {data.Length} bytes exceeds {MaxMessageBytes}");
        handles ??= [];
        if (handles.Count > MaxHandlesPerMessage) return Result.Fail(ErrorCode.InvalidArgument, $"more than {MaxHandlesPerMessage} handles in one message");
        var ep = OpenEndpoint(sender, endpoint, Rights.Write);
        if (!ep.IsOk) return ep.Error;
        var peer = ep.Value.Peer;
        if (peer is null || ep.Value.IsClosed) return Result.Fail(ErrorCode.Closed, "channel is closed");

        // Validate every transfer before changing anything, so a bad one leaves the sender's table untouched.
        var tokens = new CapabilityToken[handles.Count];
        var seen = new HashSet<Handle>();
        for (int i = 0; i < handles.Count; i++)
        {
            var h = handles[i];
            if (!seen.Add(h.Handle)) return Result.Fail(ErrorCode.InvalidArgument, $"{h.Handle} appears twice in one message");
            if (h.Handle == endpoint) return Result.Fail(ErrorCode.InvalidArgument, "an endpoint cannot be sent through itself");
            var t = sender.Handles.Get(h.Handle);
            if (!t.IsOk) return t.Error;
            if (h.Mode is not (TransferMode.Move or TransferMode.Derive)) return Result.Fail(ErrorCode.InvalidArgument, "unknown transfer mode");
            // Moving needs Transfer; lending needs Delegate plus every right lent. Denials are audited by the check.
            var need = h.Mode == TransferMode.Move ? Rights.Transfer : Rights.Delegate | h.Rights;
            var allowed = _caps.Check(t.Value, need, sender.Principal);
            if (!allowed.IsOk) return allowed.Error;
            tokens[i] = t.Value;
        }

        lock (peer.Gate)
        {
            if (peer.IsClosed) return Result.Fail(ErrorCode.Closed, "peer endpoint is closed");
            if (peer.Inbox.Count >= peer.Depth) return Result.Fail(ErrorCode.WouldBlock, $"peer inbox is full ({peer.Depth})");
            var inFlight = new Principal($"ipc->{peer.Label}", sender.Principal.Namespace);
            for (int i = 0; i < handles.Count; i++)
            {
                if (handles[i].Mode == TransferMode.Derive)
                {
                    var d = _caps.Derive(tokens[i], handles[i].Rights, inFlight, sender.Principal);
                    if (!d.IsOk) { RevokeDerived(handles, tokens, i); return d.Error; }
                    tokens[i] = d.Value;
                }
            }
            // Moves last: nothing can fail after the handles leave the sender's table.
            for (int i = 0; i < handles.Count; i++)
            {
                if (handles[i].Mode != TransferMode.Move) continue;
                sender.Handles.Remove(handles[i].Handle);
                _caps.Transfer(tokens[i], inFlight, sender.Principal);
            }
            peer.Inbox.Enqueue(new IpcEnvelope(data.ToArray(), tokens));
            WakeAll(peer.Readable);
        }
        Interlocked.Increment(ref _sent);
        return Result.Ok;
    }

    /// <summary>Sends, waiting while the peer's inbox is full.</summary>
    public async Task<Result> SendAsync(Process sender, Handle endpoint, ReadOnlyMemory<byte> data, IReadOnlyList<HandleTransfer>? handles = null,
        CancellationToken ct = default)
    {
        while (true)
        {
            Task wait;
            var r = TrySend(sender, endpoint, data.Span, handles);
            if (r.Code != ErrorCode.WouldBlock) return r;
            var ep = OpenEndpoint(sender, endpoint, Rights.Write);
            if (!ep.IsOk) return ep.Error;
            var peer = ep.Value.Peer!;
            lock (peer.Gate)
            {
                if (peer.Inbox.Count < peer.Depth || peer.IsClosed) continue;
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                peer.Writable.Add(tcs);
                wait = tcs.Task;
            }
            try { await wait.WaitAsync(ct).ConfigureAwait(true); }
            catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "send cancelled"); }
        }
    }

    /// <summary>Takes the next message if there is one (<see cref="ErrorCode.WouldBlock"/> if not).</summary>
    public Result<IpcMessage> TryReceive(Process receiver, Handle endpoint)
    {
        var ep = OpenEndpoint(receiver, endpoint, Rights.Read);
        if (!ep.IsOk) return ep.Error;
        IpcEnvelope env;
        lock (ep.Value.Gate)
        {
            if (ep.Value.Inbox.Count == 0)
                return ep.Value.IsClosed || ep.Value.Peer is null or { IsClosed: true }
                    ? Errors.Of(ErrorCode.Closed, "channel is closed")
                    : Errors.Of(ErrorCode.WouldBlock, "no message");
            env = ep.Value.Inbox.Dequeue();
            WakeAll(ep.Value.Writable);
        }
        var handles = new List<Handle>(env.Capabilities.Length);
        foreach (var t in env.Capabilities)
        {
            var h = receiver.AddHandle(t); // on failure AddHandle revokes the capability
            if (h.IsOk) handles.Add(h.Value);
        }
        Interlocked.Increment(ref _received);
        return new IpcMessage(env.Data, handles);
    }

    /// <summary>Waits for the next message; <see cref="ErrorCode.Closed"/> once the peer is gone and the inbox is empty.</summary>
    public async Task<Result<IpcMessage>> ReceiveAsync(Process receiver, Handle endpoint, CancellationToken ct = default)
    {
        while (true)
        {
            var r = TryReceive(receiver, endpoint);
            if (r.Code != ErrorCode.WouldBlock) return r;
            var w = WaitReadable(receiver, endpoint);
            if (!w.IsOk) return w.Error;
            try { await w.Value.WaitAsync(ct).ConfigureAwait(true); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "receive cancelled"); }
        }
    }

    /// <summary>A port: waits until one of <paramref name="endpoints"/> has a message (or is closed); returns its index.</summary>
    public async Task<Result<int>> WaitAnyAsync(Process process, IReadOnlyList<Handle> endpoints, CancellationToken ct = default)
    {
        if (endpoints.Count == 0 || endpoints.Count > 1024) return Errors.Of(ErrorCode.InvalidArgument, "wait on 1 to 1024 endpoints");
        while (true)
        {
            var waits = new Task[endpoints.Count];
            for (int i = 0; i < endpoints.Count; i++)
            {
                var ep = OpenEndpoint(process, endpoints[i], Rights.Read);
                if (!ep.IsOk) return ep.Error;
                lock (ep.Value.Gate)
                    if (ep.Value.Inbox.Count > 0 || ep.Value.IsClosed || ep.Value.Peer is { IsClosed: true }) return i;
                var w = WaitReadable(process, endpoints[i]);
                if (!w.IsOk) return w.Error;
                waits[i] = w.Value;
            }
            try { await Task.WhenAny(waits).WaitAsync(ct).ConfigureAwait(true); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "wait cancelled"); }
        }
    }

    /// <summary>Closes the process's endpoint handle; when no capability to the endpoint remains the peer sees Closed.</summary>
    public Result Close(Process process, Handle endpoint)
    {
        var ep = OpenEndpoint(process, endpoint, Rights.None);
        if (!ep.IsOk) return ep.Error;
        return process.Close(endpoint);
    }

    // ---- request/reply ----

    /// <summary>
    /// Sends a request carrying a fresh reply endpoint (moved as the message's first handle) and waits for the reply,
    /// at most <paramref name="timeout"/> (kernel timers) — <see cref="ErrorCode.TimedOut"/> otherwise.
    /// </summary>
    public async Task<Result<IpcMessage>> CallAsync(Process client, Handle endpoint, ReadOnlyMemory<byte> request, TimeSpan timeout,
        IReadOnlyList<HandleTransfer>? handles = null, CancellationToken ct = default)
    {
        var reply = CreateChannel(client, depth: 1);
        if (!reply.IsOk) return reply.Error;
        var (mine, theirs) = reply.Value;
        try
        {
            var all = new List<HandleTransfer> { new(theirs, TransferMode.Move) };
            if (handles is not null) all.AddRange(handles);
            var sent = await SendAsync(client, endpoint, request, all, ct).ConfigureAwait(true);
            if (!sent.IsOk) { client.Close(theirs); return sent.Error; }
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var receive = ReceiveAsync(client, mine, deadline.Token);
            var timer = _timers.Delay(timeout, deadline.Token);
            var first = await Task.WhenAny(receive, timer).ConfigureAwait(true);
            deadline.Cancel();
            var result = await receive.ConfigureAwait(true);
            if (first != receive && !result.IsOk)
                return Errors.Of(ErrorCode.TimedOut, $"no reply within {timeout.TotalMilliseconds} ms");
            if (!result.IsOk && result.Code == ErrorCode.Closed) return Errors.Of(ErrorCode.Closed, "the server dropped the request without replying");
            return result;
        }
        finally { client.Close(mine); }
    }

    /// <summary>Replies to a request received from <see cref="CallAsync"/> (its first handle is the reply endpoint).</summary>
    public async Task<Result> ReplyAsync(Process server, IpcMessage request, ReadOnlyMemory<byte> reply, IReadOnlyList<HandleTransfer>? handles = null)
    {
        if (request.Handles.Count == 0) return Result.Fail(ErrorCode.InvalidArgument, "request carries no reply endpoint");
        var replyEndpoint = request.Handles[0];
        var r = await SendAsync(server, replyEndpoint, reply, handles).ConfigureAwait(true);
        server.Close(replyEndpoint);
        return r;
    }

    // ---- listeners, connect, accept ----

    /// <summary>Creates a listener owned by <paramref name="server"/>; bind it into a namespace (with Connect) to publish it.</summary>
    public Result<Handle> Listen(Process server, int backlog = 16)
    {
        if (backlog is < 1 or > 1024) return Errors.Of(ErrorCode.InvalidArgument, "backlog must be 1..1024");
        var listener = new IpcListener($"listener@{server.Principal.Name}", backlog);
        var cap = _caps.Create(listener, ListenerRights, server.Principal);
        return cap.IsOk ? server.AddHandle(cap.Value) : cap.Error;
    }

    /// <summary>
    /// Connects to the listener bound at <paramref name="path"/> in the client's own namespace (needs Connect on the
    /// binding). The client gets its endpoint at once; the server gets the other end from <see cref="AcceptAsync"/>.
    /// </summary>
    public Result<Handle> Connect(Process client, string path, int depth = DefaultDepth)
    {
        var bound = _namespaces.Lookup(client.NamespaceCapability, path, Rights.Connect, client.Principal);
        if (!bound.IsOk) return bound.Error;
        var listener = _caps.Check<IpcListener>(bound.Value, Rights.Connect, client.Principal);
        if (!listener.IsOk) return listener.Error;
        var pair = CreatePair(client.Principal, depth, bound.Value, $"conn:{path}");
        if (!pair.IsOk) return pair.Error;
        var serverEnd = (ChannelEndpoint)_caps.Check(pair.Value.B, Rights.None).Value;
        lock (listener.Value.Gate)
        {
            if (listener.Value.IsClosed || listener.Value.Backlog.Count >= listener.Value.BacklogLimit)
            {
                _caps.Revoke(pair.Value.A);
                _caps.Revoke(pair.Value.B);
                return Errors.Of(ErrorCode.ConnectionRefused, listener.Value.IsClosed ? "listener is closed" : "listener backlog is full");
            }
            listener.Value.Backlog.Enqueue((serverEnd, client.Principal));
            _pendingServerEnds[serverEnd] = pair.Value.B;
            WakeAll(listener.Value.Waiters);
        }
        var h = client.AddHandle(pair.Value.A);
        return h;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<ChannelEndpoint, CapabilityToken> _pendingServerEnds =
        new(ReferenceEqualityComparer.Instance);

    /// <summary>Waits for the next connection on a listener the server holds (needs Read) and returns its endpoint.</summary>
    public async Task<Result<(Handle Endpoint, Principal Client)>> AcceptAsync(Process server, Handle listenerHandle, CancellationToken ct = default)
    {
        var l = server.Check<IpcListener>(listenerHandle, Rights.Read);
        if (!l.IsOk) return l.Error;
        var listener = l.Value;
        while (true)
        {
            Task wait;
            lock (listener.Gate)
            {
                if (listener.Backlog.Count > 0)
                {
                    var (end, client) = listener.Backlog.Dequeue();
                    if (!_pendingServerEnds.TryRemove(end, out var token)) continue;
                    var h = server.AddHandle(token);
                    return h.IsOk ? (h.Value, client) : h.Error;
                }
                if (listener.IsClosed) return Errors.Of(ErrorCode.Closed, "listener is closed");
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                listener.Waiters.Add(tcs);
                wait = tcs.Task;
            }
            try { await wait.WaitAsync(ct).ConfigureAwait(true); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "accept cancelled"); }
        }
    }

    // ---- internals ----

    private Result<(CapabilityToken A, CapabilityToken B)> CreatePair(Principal owner, int depth, CapabilityToken via, string label)
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
        if (!tb.IsOk) { _caps.Revoke(ta.Value); return tb.Error; }
        return (ta.Value, tb.Value);
    }

    private Result<ChannelEndpoint> OpenEndpoint(Process p, Handle h, Rights rights)
    {
        var ep = p.Check<ChannelEndpoint>(h, rights);
        if (!ep.IsOk) return ep.Error;
        // A connection made through a namespace binding lives only as long as that binding (the tenant bridge).
        if (!ep.Value.Via.IsNone && !_caps.Check(ep.Value.Via, Rights.None).IsOk)
        {
            CloseBoth(ep.Value);
            return Errors.Of(ErrorCode.Revoked, "the namespace binding this connection was made through has been revoked");
        }
        return ep.Value;
    }

    private Result<Task> WaitReadable(Process p, Handle h)
    {
        var ep = OpenEndpoint(p, h, Rights.Read);
        if (!ep.IsOk) return ep.Error;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (ep.Value.Gate)
        {
            if (ep.Value.Inbox.Count > 0 || ep.Value.IsClosed || ep.Value.Peer is { IsClosed: true }) tcs.SetResult();
            else ep.Value.Readable.Add(tcs);
        }
        return tcs.Task;
    }

    private void Destroyed(ChannelEndpoint ep) => CloseBoth(ep);

    private void CloseBoth(ChannelEndpoint ep)
    {
        foreach (var end in new[] { ep, ep.Peer })
        {
            if (end is null) continue;
            IpcEnvelope[] undelivered;
            lock (end.Gate)
            {
                // Only the destroyed end (or both, on bridge revocation) drops its inbox; the peer keeps what it has.
                end.IsClosed |= end == ep || !ep.Via.IsNone;
                undelivered = end.IsClosed ? end.Inbox.ToArray() : [];
                if (end.IsClosed) end.Inbox.Clear();
                WakeAll(end.Readable);
                WakeAll(end.Writable);
            }
            foreach (var env in undelivered)
            {
                Interlocked.Increment(ref _dropped);
                foreach (var t in env.Capabilities) _caps.Revoke(t);
            }
        }
        _pendingServerEnds.TryRemove(ep, out _);
    }

    private void RevokeDerived(IReadOnlyList<HandleTransfer> handles, CapabilityToken[] tokens, int upTo)
    {
        for (int i = 0; i < upTo; i++)
            if (handles[i].Mode == TransferMode.Derive) _caps.Revoke(tokens[i]);
    }

    private static void WakeAll(List<TaskCompletionSource> waiters)
    {
        foreach (var w in waiters) w.TrySetResult();
        waiters.Clear();
    }
}
