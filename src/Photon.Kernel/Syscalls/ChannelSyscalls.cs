using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// IPC system calls: channels (bounded, carrying bytes and capabilities), request/reply, and listeners that clients
/// reach by a name in their own namespace. Each call resolves the caller's handles with the rights it needs and then
/// acts on the object; the caller is the principal for audit and quotas.
/// </summary>
public sealed class ChannelSyscalls(IpcManager ipc)
{
    internal IpcManager Ipc => ipc;

    /// <summary>Creates a channel; both endpoints land in the caller's handle table (hand one on with a message).</summary>
    public Result<(Handle A, Handle B)> CreateChannel(Process caller, int depth = IpcManager.DefaultDepth)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.create_channel");
        var pair = ipc.CreatePair(caller.Principal, depth, CapabilityToken.None, $"chan@{caller.Principal.Name}");
        if (!pair.IsOk) return pair.Error;
        var a = caller.AddHandle(pair.Value.A);
        if (!a.IsOk) { ipc.Capabilities.Revoke(pair.Value.B, caller.Principal); return a.Error; }
        var b = caller.AddHandle(pair.Value.B);
        if (!b.IsOk) { caller.Close(a.Value); return b.Error; }
        return (a.Value, b.Value);
    }

    /// <summary>Sends without waiting (needs Write on the endpoint); a full peer inbox gives <see cref="ErrorCode.WouldBlock"/>.</summary>
    public Result TrySend(Process caller, Handle endpoint, ReadOnlySpan<byte> data, IReadOnlyList<HandleTransfer>? handles = null)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_send");
        var ep = Open(caller, endpoint, Rights.Write);
        if (!ep.IsOk) return ep.Error;
        return ipc.Send(caller, ep.Value, endpoint, data, handles ?? []);
    }

    /// <summary>Sends, waiting while the peer's inbox is full.</summary>
    public Task<Result> SendAsync(Process caller, Handle endpoint, ReadOnlyMemory<byte> data, IReadOnlyList<HandleTransfer>? handles = null,
        CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.send");
        // A send that needs no wait completes with a shared task (no state machine or task per message).
        var r = TrySend(caller, endpoint, data.Span, handles);
        if (r.IsOk) return s_sent;
        return r.Code == ErrorCode.WouldBlock ? SendWhenWritableAsync(caller, endpoint, data, handles, ct) : Task.FromResult(r);
    }

    private static readonly Task<Result> s_sent = Task.FromResult(Result.Ok);

    private async Task<Result> SendWhenWritableAsync(Process caller, Handle endpoint, ReadOnlyMemory<byte> data,
        IReadOnlyList<HandleTransfer>? handles, CancellationToken ct)
    {
        while (true)
        {
            var ep = Open(caller, endpoint, Rights.Write);
            if (!ep.IsOk) return ep.Error;
            if (ep.Value.Peer is not { } peer) return Result.Fail(ErrorCode.Closed, "channel is closed");
            if (!await peer.WaitWritableAsync(ct).ConfigureAwait(true)) return Result.Fail(ErrorCode.Cancelled, "send cancelled");
            var r = TrySend(caller, endpoint, data.Span, handles);
            if (r.Code != ErrorCode.WouldBlock) return r;
        }
    }

    /// <summary>Takes the next message if there is one (needs Read; <see cref="ErrorCode.WouldBlock"/> if none).</summary>
    public Result<IpcMessage> TryReceive(Process caller, Handle endpoint)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_receive");
        var ep = Open(caller, endpoint, Rights.Read);
        return ep.IsOk ? ipc.Receive(caller, ep.Value) : ep.Error;
    }

    /// <summary>Waits for the next message; <see cref="ErrorCode.Closed"/> once the peer is gone and the inbox is empty.
    /// From a kernel task, a receive that must wait parks a reused waiter that a byte-only send completes directly on
    /// the task's CPU (no queue, no allocation but the message); await the result once, as any
    /// <see cref="ValueTask{TResult}"/>.</summary>
    public ValueTask<Result<IpcMessage>> ReceiveAsync(Process caller, Handle endpoint, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.ipc.receive", Receive(caller, endpoint, ct));

    private ValueTask<Result<IpcMessage>> Receive(Process caller, Handle endpoint, CancellationToken ct)
    {
        var ep = Open(caller, endpoint, Rights.Read);
        if (!ep.IsOk) return new(ep.Error);
        var r = ipc.Receive(caller, ep.Value);
        if (r.Code != ErrorCode.WouldBlock) return new(r);
        // Code outside the kernel's CPUs (host threads, tests) has no CPU to be resumed on: it waits on a promise.
        if (KernelTask.Current is not { } owner) return new(ReceiveWhenReadableAsync(caller, endpoint, ct));
        return ep.Value.RentReceiver().Start(caller, endpoint, _retryReceive ??= TryReceive, owner, ct);
    }

    // The receive a parked waiter re-runs after a wake-up that was not a hand-off (cached: no delegate per wait).
    private Func<Process, Handle, Result<IpcMessage>>? _retryReceive;

    private Task<Result<IpcMessage>> ReceiveWhenReadableAsync(Process caller, Handle endpoint, CancellationToken ct) =>
        WaitAndRetryAsync<ReceiveRetry, IpcMessage>(caller, endpoint, Readiness.Readable, new(caller, endpoint), ct);

    private readonly record struct ReceiveRetry(Process Caller, Handle Endpoint) : IRetry<IpcMessage>
    {
        public Result<IpcMessage> Attempt(ChannelSyscalls self)
        {
            var ep = self.Open(Caller, Endpoint, Rights.Read);
            return ep.IsOk ? self.Ipc.Receive(Caller, ep.Value) : ep.Error;
        }

        public Result<IpcMessage> Failed(KernelError error) => error;
    }

    /// <summary>Takes the next message into <paramref name="buffer"/> if there is one (needs Read;
    /// <see cref="ErrorCode.WouldBlock"/> if none). A message longer than the buffer stays queued:
    /// <see cref="ErrorCode.OutOfRange"/> (a buffer of <see cref="IpcManager.MaxMessageBytes"/> always fits).</summary>
    public Result<IpcReceipt> TryReceiveInto(Process caller, Handle endpoint, Span<byte> buffer)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_receive_into");
        var ep = Open(caller, endpoint, Rights.Read);
        return ep.IsOk ? ipc.ReceiveInto(caller, ep.Value, buffer) : ep.Error;
    }

    /// <summary>
    /// Waits for the next message and receives it into the caller's <paramref name="buffer"/>: no byte array per
    /// message. From a kernel task, a receive that must wait parks a reused waiter, and a byte-only send copies its bytes
    /// straight into the buffer (direct hand-off), so a round trip between two kernel tasks allocates nothing. Do not
    /// touch the buffer until the returned <see cref="ValueTask{TResult}"/> completes; await it once. Errors as
    /// <see cref="TryReceiveInto"/>, and <see cref="ErrorCode.Closed"/> once the peer is gone and the inbox is empty.
    /// </summary>
    public ValueTask<Result<IpcReceipt>> ReceiveIntoAsync(Process caller, Handle endpoint, Memory<byte> buffer, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.ipc.receive_into", ReceiveInto(caller, endpoint, buffer, ct));

    private ValueTask<Result<IpcReceipt>> ReceiveInto(Process caller, Handle endpoint, Memory<byte> buffer, CancellationToken ct)
    {
        var ep = Open(caller, endpoint, Rights.Read);
        if (!ep.IsOk) return new(ep.Error);
        var r = ipc.ReceiveInto(caller, ep.Value, buffer.Span);
        if (r.Code != ErrorCode.WouldBlock) return new(r);
        if (KernelTask.Current is not { } owner) return new(ReceiveIntoWhenReadableAsync(caller, endpoint, buffer, ct));
        return ep.Value.RentReceiver().StartInto(caller, endpoint, buffer, _retryReceiveInto ??= (p, h, b) => TryReceiveInto(p, h, b.Span), owner, ct);
    }

    private Func<Process, Handle, Memory<byte>, Result<IpcReceipt>>? _retryReceiveInto;

    private Task<Result<IpcReceipt>> ReceiveIntoWhenReadableAsync(Process caller, Handle endpoint, Memory<byte> buffer, CancellationToken ct) =>
        WaitAndRetryAsync<ReceiveIntoRetry, IpcReceipt>(caller, endpoint, Readiness.Readable, new(caller, endpoint, buffer), ct);

    private readonly record struct ReceiveIntoRetry(Process Caller, Handle Endpoint, Memory<byte> Buffer) : IRetry<IpcReceipt>
    {
        public Result<IpcReceipt> Attempt(ChannelSyscalls self)
        {
            var ep = self.Open(Caller, Endpoint, Rights.Read);
            return ep.IsOk ? self.Ipc.ReceiveInto(Caller, ep.Value, Buffer.Span) : ep.Error;
        }

        public Result<IpcReceipt> Failed(KernelError error) => error;
    }

    /// <summary>
    /// Sends a batch of byte-only messages without waiting (needs Write): one rights check, one reservation, one
    /// quota charge and one wake-up for the whole batch. Returns how many were queued, in order (fewer than given when
    /// the peer's inbox fills up; <see cref="ErrorCode.WouldBlock"/> when it is already full).
    /// </summary>
    public Result<int> TrySendBatch(Process caller, Handle endpoint, IReadOnlyList<ReadOnlyMemory<byte>> messages)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_send_batch");
        var ep = Open(caller, endpoint, Rights.Write);
        return ep.IsOk ? ipc.SendBatch(caller, ep.Value, messages) : ep.Error;
    }

    /// <summary>Sends every message of the batch, waiting while the peer's inbox is full; returns how many were sent
    /// (all of them unless an error or cancellation stopped it first, which is then reported if nothing was sent).</summary>
    public async Task<Result<int>> SendBatchAsync(Process caller, Handle endpoint, IReadOnlyList<ReadOnlyMemory<byte>> messages,
        CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.send_batch");
        var rest = new BatchSendRetry(caller, endpoint, messages as ReadOnlyMemory<byte>[] ?? messages.ToArray());
        var r = rest.Attempt(this);
        return r.Code == ErrorCode.WouldBlock
            ? await WaitAndRetryAsync<BatchSendRetry, int>(caller, endpoint, Readiness.Writable, rest, ct).ConfigureAwait(true)
            : r;
    }

    /// <summary>A batch send's progress: each try sends what is left; WouldBlock until all of it is queued.</summary>
    private record struct BatchSendRetry(Process Caller, Handle Endpoint, ReadOnlyMemory<byte>[] All) : IRetry<int>
    {
        private int _sent;

        public Result<int> Attempt(ChannelSyscalls self)
        {
            var r = self.TrySendBatch(Caller, Endpoint, new ArraySegment<ReadOnlyMemory<byte>>(All, _sent, All.Length - _sent));
            if (!r.IsOk) return r.Code == ErrorCode.WouldBlock ? r : Failed(r.Error);
            _sent += r.Value;
            return _sent == All.Length ? _sent : Errors.Of(ErrorCode.WouldBlock, "the rest of the batch waits for room");
        }

        public readonly Result<int> Failed(KernelError error) => _sent > 0 ? _sent : error;
    }

    /// <summary>Takes up to <paramref name="max"/> queued messages at once (needs Read; <see cref="ErrorCode.WouldBlock"/>
    /// if none).</summary>
    public Result<IReadOnlyList<IpcMessage>> TryReceiveBatch(Process caller, Handle endpoint, int max)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_receive_batch");
        var ep = Open(caller, endpoint, Rights.Read);
        return ep.IsOk ? ipc.ReceiveBatch(caller, ep.Value, max) : ep.Error;
    }

    /// <summary>Waits until at least one message is queued, then takes up to <paramref name="max"/>.</summary>
    public async Task<Result<IReadOnlyList<IpcMessage>>> ReceiveBatchAsync(Process caller, Handle endpoint, int max, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.receive_batch");
        var receive = new ReceiveBatchRetry(caller, endpoint, max);
        var r = receive.Attempt(this);
        return r.Code == ErrorCode.WouldBlock
            ? await WaitAndRetryAsync<ReceiveBatchRetry, IReadOnlyList<IpcMessage>>(caller, endpoint, Readiness.Readable, receive, ct).ConfigureAwait(true)
            : r;
    }

    private readonly record struct ReceiveBatchRetry(Process Caller, Handle Endpoint, int Max) : IRetry<IReadOnlyList<IpcMessage>>
    {
        public Result<IReadOnlyList<IpcMessage>> Attempt(ChannelSyscalls self)
        {
            var ep = self.Open(Caller, Endpoint, Rights.Read);
            return ep.IsOk ? self.Ipc.ReceiveBatch(Caller, ep.Value, Max) : ep.Error;
        }

        public Result<IReadOnlyList<IpcMessage>> Failed(KernelError error) => error;
    }

    /// <summary>
    /// Sends a batch of byte-only messages packed back to back in one buffer (message i is the next
    /// <c>lengths[i]</c> bytes of <paramref name="packed"/>) without waiting (needs Write): one handle lookup and rights
    /// check, one quota charge, one lock and one wake-up for the batch, and no allocation per message in a steady
    /// stream (envelopes the receiver gave back are refilled). Returns how many were queued — the first ones, in order;
    /// fewer than given when the peer's inbox fills; <see cref="ErrorCode.WouldBlock"/> when it is already full. Bad
    /// lengths (negative, over <see cref="IpcManager.MaxMessageBytes"/>, adding up to more than the buffer, more than
    /// <see cref="IpcManager.MaxBatch"/>) give <see cref="ErrorCode.InvalidArgument"/> and send nothing.
    /// </summary>
    public Result<int> TrySendPacked(Process caller, Handle endpoint, ReadOnlySpan<byte> packed, ReadOnlySpan<int> lengths)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_send_packed");
        var ep = Open(caller, endpoint, Rights.Write);
        return ep.IsOk ? ipc.SendPacked(caller, ep.Value, packed, lengths) : ep.Error;
    }

    /// <summary>Sends every message of a packed batch, waiting while the peer's inbox is full; returns how many were
    /// sent (all unless an error or cancellation stopped it first — reported only if nothing was sent).</summary>
    public ValueTask<Result<int>> SendPackedAsync(Process caller, Handle endpoint, ReadOnlyMemory<byte> packed, ReadOnlyMemory<int> lengths,
        CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.ipc.send_packed", SendPacked(caller, endpoint, packed, lengths, ct));

    private ValueTask<Result<int>> SendPacked(Process caller, Handle endpoint, ReadOnlyMemory<byte> packed, ReadOnlyMemory<int> lengths,
        CancellationToken ct)
    {
        var r = TrySendPacked(caller, endpoint, packed.Span, lengths.Span);
        // All taken at once (the common case): no state machine, no task.
        if (r.IsOk && r.Value == lengths.Length) return new(r);
        if (!r.IsOk && r.Code != ErrorCode.WouldBlock) return new(r);
        return new(WaitAndRetryAsync<PackedSendRetry, int>(caller, endpoint, Readiness.Writable,
            new(caller, endpoint, packed, lengths, r.IsOk ? r.Value : 0), ct));
    }

    /// <summary>A packed send's progress: each try sends what is left of the batch; WouldBlock until all of it is
    /// queued. What was sent is reported instead of a later failure.</summary>
    private record struct PackedSendRetry(Process Caller, Handle Endpoint, ReadOnlyMemory<byte> Packed, ReadOnlyMemory<int> Lengths, int Sent)
        : IRetry<int>
    {
        private int _offset = Offset(Lengths.Span[..Sent]);

        private static int Offset(ReadOnlySpan<int> lengths)
        {
            int offset = 0;
            foreach (int l in lengths) offset += l;
            return offset;
        }

        public Result<int> Attempt(ChannelSyscalls self)
        {
            var r = self.TrySendPacked(Caller, Endpoint, Packed.Span[_offset..], Lengths.Span[Sent..]);
            if (!r.IsOk) return r.Code == ErrorCode.WouldBlock ? r : Failed(r.Error);
            _offset += Offset(Lengths.Span.Slice(Sent, r.Value));
            Sent += r.Value;
            return Sent == Lengths.Length ? Sent : Errors.Of(ErrorCode.WouldBlock, "the rest of the batch waits for room");
        }

        public readonly Result<int> Failed(KernelError error) => Sent > 0 ? Sent : error;
    }

    /// <summary>
    /// Takes queued byte-only messages into <paramref name="buffer"/>, back to back, each one's length into
    /// <paramref name="lengths"/> (1 to <see cref="IpcManager.MaxBatch"/> entries), under one lock (needs Read): as many
    /// as are queued and fit. Returns how many; <see cref="ErrorCode.WouldBlock"/> if none is queued,
    /// <see cref="ErrorCode.OutOfRange"/> if the first is longer than the buffer and <see cref="ErrorCode.NotSupported"/>
    /// if it carries capabilities (both leave it queued: receive it with <see cref="TryReceiveInto"/>). A message with
    /// capabilities later in the inbox ends the batch before it.
    /// </summary>
    public Result<int> TryReceiveBatchInto(Process caller, Handle endpoint, Span<byte> buffer, Span<int> lengths)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.try_receive_batch_into");
        var ep = Open(caller, endpoint, Rights.Read);
        return ep.IsOk ? ipc.ReceiveBatchInto(caller, ep.Value, buffer, lengths) : ep.Error;
    }

    /// <summary>Waits until a message is queued (or the channel closes), then as <see cref="TryReceiveBatchInto"/>. Do
    /// not touch the buffers until the returned <see cref="ValueTask{TResult}"/> completes; await it once.</summary>
    public ValueTask<Result<int>> ReceiveBatchIntoAsync(Process caller, Handle endpoint, Memory<byte> buffer, Memory<int> lengths,
        CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.ipc.receive_batch_into", ReceiveBatchInto(caller, endpoint, buffer, lengths, ct));

    private ValueTask<Result<int>> ReceiveBatchInto(Process caller, Handle endpoint, Memory<byte> buffer, Memory<int> lengths,
        CancellationToken ct)
    {
        var r = TryReceiveBatchInto(caller, endpoint, buffer.Span, lengths.Span);
        if (r.Code != ErrorCode.WouldBlock) return new(r);
        // From a kernel task: the endpoint's reused waiter (no promise, no task per wait), woken by the next send.
        if (KernelTask.Current is { } owner && caller.Get<ChannelEndpoint>(endpoint, Rights.Read) is { IsOk: true } ep)
            return ep.Value.RentReceiver().StartBatchInto(caller, endpoint, buffer, lengths,
                _retryBatchInto ??= (p, h, b, l) => TryReceiveBatchInto(p, h, b.Span, l.Span), owner, ct);
        return new(ReceiveBatchIntoWhenReadableAsync(caller, endpoint, buffer, lengths, ct));
    }

    private Func<Process, Handle, Memory<byte>, Memory<int>, Result<int>>? _retryBatchInto;

    private Task<Result<int>> ReceiveBatchIntoWhenReadableAsync(Process caller, Handle endpoint, Memory<byte> buffer, Memory<int> lengths,
        CancellationToken ct) =>
        WaitAndRetryAsync<ReceiveBatchIntoRetry, int>(caller, endpoint, Readiness.Readable, new(caller, endpoint, buffer, lengths), ct);

    private readonly record struct ReceiveBatchIntoRetry(Process Caller, Handle Endpoint, Memory<byte> Buffer, Memory<int> Lengths) : IRetry<int>
    {
        public Result<int> Attempt(ChannelSyscalls self) => self.TryReceiveBatchInto(Caller, Endpoint, Buffer.Span, Lengths.Span);
        public Result<int> Failed(KernelError error) => error;
    }

    private enum Readiness { Readable, Writable }

    /// <summary>A blocking call between its tries (a struct, kept in the waiting state machine: no closure or delegate
    /// per wait).</summary>
    private interface IRetry<T>
    {
        /// <summary>Tries once more; <see cref="ErrorCode.WouldBlock"/> waits again. May record progress (a batch
        /// sent in part).</summary>
        Result<T> Attempt(ChannelSyscalls self);

        /// <summary>What the call reports when the wait itself ends it (handle gone, channel closed, cancelled).</summary>
        Result<T> Failed(KernelError error);
    }

    /// <summary>
    /// The wait every blocking call shares once its first try would block (host threads and tests; kernel tasks'
    /// receives park a reused waiter instead): checks the handle again (Read to wait for a message, Write to wait for
    /// room in the peer's inbox), waits, and runs <paramref name="attempt"/> again until it no longer gives
    /// <see cref="ErrorCode.WouldBlock"/>. A handle closed or revoked meanwhile, a closed channel and a cancellation end
    /// it typed.
    /// </summary>
    private async Task<Result<T>> WaitAndRetryAsync<TRetry, T>(Process caller, Handle endpoint, Readiness readiness, TRetry call,
        CancellationToken ct) where TRetry : struct, IRetry<T>
    {
        while (true)
        {
            var ep = Open(caller, endpoint, readiness == Readiness.Readable ? Rights.Read : Rights.Write);
            if (!ep.IsOk) return call.Failed(ep.Error);
            Task<bool> ready;
            if (readiness == Readiness.Readable) ready = ep.Value.WaitReadableAsync(ct);
            else if (ep.Value.Peer is { } peer) ready = peer.WaitWritableAsync(ct);
            else return call.Failed(Errors.Of(ErrorCode.Closed, "channel is closed"));
            if (!await ready.ConfigureAwait(true))
                return call.Failed(Errors.Of(ErrorCode.Cancelled, readiness == Readiness.Readable ? "receive cancelled" : "send cancelled"));
            var r = call.Attempt(this); // the state machine's own copy: progress is kept from one try to the next
            if (r.Code != ErrorCode.WouldBlock) return r;
        }
    }

    /// <summary>Waits until one of <paramref name="endpoints"/> has a message (or is closed); returns its index.</summary>
    public async Task<Result<int>> WaitAnyAsync(Process caller, IReadOnlyList<Handle> endpoints, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.wait_any");
        if (endpoints.Count == 0 || endpoints.Count > 1024) return Errors.Of(ErrorCode.InvalidArgument, "wait on 1 to 1024 endpoints");
        var eps = new ChannelEndpoint[endpoints.Count];
        for (int i = 0; i < endpoints.Count; i++)
        {
            var ep = Open(caller, endpoints[i], Rights.Read);
            if (!ep.IsOk) return ep.Error;
            eps[i] = ep.Value;
        }
        while (true)
        {
            var registered = new TaskCompletionSource<bool>?[eps.Length];
            try
            {
                for (int i = 0; i < eps.Length; i++)
                {
                    registered[i] = eps[i].RegisterReadable();
                    if (registered[i] is null) return i;
                }
                try { await Task.WhenAny(registered.Select(t => t!.Task)).WaitAsync(ct).ConfigureAwait(true); }
                catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "wait cancelled"); }
            }
            finally
            {
                // Whatever happened, leave no waiter behind on any endpoint.
                for (int i = 0; i < eps.Length; i++)
                    if (registered[i] is { } tcs) eps[i].UnregisterReadable(tcs);
            }
        }
    }

    /// <summary>Closes the caller's endpoint handle; when no capability to the endpoint remains the peer sees Closed.</summary>
    public Result Close(Process caller, Handle endpoint)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.close");
        var ep = caller.Get<ChannelEndpoint>(endpoint, Rights.None);
        return ep.IsOk ? caller.Close(endpoint) : ep.Error;
    }

    // ---- request/reply ----

    /// <summary>
    /// Sends a request carrying a fresh reply endpoint (moved as the message's first handle) and waits for the reply,
    /// at most <paramref name="timeout"/> (kernel timers) — <see cref="ErrorCode.TimedOut"/> otherwise.
    /// </summary>
    public async Task<Result<IpcMessage>> CallAsync(Process caller, Handle endpoint, ReadOnlyMemory<byte> request, TimeSpan timeout,
        IReadOnlyList<HandleTransfer>? handles = null, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.call");
        var reply = CreateChannel(caller, depth: 1);
        if (!reply.IsOk) return reply.Error;
        var (mine, theirs) = reply.Value;
        try
        {
            var all = new List<HandleTransfer> { new(theirs, TransferMode.Move) };
            if (handles is not null) all.AddRange(handles);
            var sent = await SendAsync(caller, endpoint, request, all, ct).ConfigureAwait(true);
            if (!sent.IsOk) { caller.Close(theirs); return sent.Error; }
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var receive = ReceiveAsync(caller, mine, deadline.Token).AsTask();
            var timer = ipc.Timers.Delay(timeout, deadline.Token);
            var first = await Task.WhenAny(receive, timer).ConfigureAwait(true);
            deadline.Cancel();
            var result = await receive.ConfigureAwait(true);
            if (first != receive && !result.IsOk)
                return Errors.Of(ErrorCode.TimedOut, $"no reply within {timeout.TotalMilliseconds} ms");
            if (!result.IsOk && result.Code == ErrorCode.Closed) return Errors.Of(ErrorCode.Closed, "the server dropped the request without replying");
            return result;
        }
        finally { caller.Close(mine); }
    }

    /// <summary>Replies to a request received from <see cref="CallAsync"/> (its first handle is the reply endpoint).</summary>
    public async Task<Result> ReplyAsync(Process caller, IpcMessage request, ReadOnlyMemory<byte> reply, IReadOnlyList<HandleTransfer>? handles = null)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.reply");
        if (request.Handles.Count == 0) return Result.Fail(ErrorCode.InvalidArgument, "request carries no reply endpoint");
        var replyEndpoint = request.Handles[0];
        var r = await SendAsync(caller, replyEndpoint, reply, handles).ConfigureAwait(true);
        caller.Close(replyEndpoint);
        return r;
    }

    // ---- listeners, connect, accept ----

    /// <summary>Creates a listener owned by the caller; bind it into a namespace (with Connect) to publish it.</summary>
    public Result<Handle> Listen(Process caller, int backlog = 16)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.listen");
        var cap = ipc.CreateListener(caller.Principal, backlog);
        return cap.IsOk ? caller.AddHandle(cap.Value) : cap.Error;
    }

    /// <summary>
    /// Connects to the listener bound at <paramref name="path"/> in the caller's own namespace (needs Connect on the
    /// binding). The caller gets its endpoint at once; the server gets the other end from <see cref="AcceptAsync"/>.
    /// </summary>
    public Result<Handle> Connect(Process caller, string path, int depth = IpcManager.DefaultDepth)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.connect");
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var bound = ipc.Namespaces.Lookup(caller.NamespaceCapability, path, Rights.Connect, caller.Principal);
        if (!bound.IsOk) return bound.Error;
        var listener = ipc.Capabilities.Check<IpcListener>(bound.Value, Rights.Connect, caller.Principal);
        if (!listener.IsOk) return listener.Error;
        return ipc.Connect(caller, listener.Value, bound.Value, path, depth);
    }

    /// <summary>Waits for the next connection on a listener the caller holds (needs Read) and returns its endpoint.</summary>
    public async Task<Result<(Handle Endpoint, Principal Client)>> AcceptAsync(Process caller, Handle listener, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ipc.accept");
        while (true)
        {
            var l = caller.Get<IpcListener>(listener, Rights.Read);
            if (!l.IsOk) return l.Error;
            var r = ipc.TryAccept(caller, l.Value);
            if (r.Code != ErrorCode.WouldBlock) return r;
            if (!await l.Value.WaitAsync(ct).ConfigureAwait(true)) return Errors.Of(ErrorCode.Cancelled, "accept cancelled");
        }
    }

    private Result<ChannelEndpoint> Open(Process caller, Handle h, Rights rights)
    {
        // Every message's call starts here: the common case (a live endpoint handle with the rights, made directly, not
        // through a namespace binding) in the two tables' lock-free reads, without the generic typed check and its
        // Results; anything else takes the full path below, which names the error and audits a denial.
        if (caller.TryGetFast(h, rights, out var o) && o is ChannelEndpoint fast && fast.Via.IsNone && !fast.DroppedFromBacklog)
            return fast;
        var ep = caller.Get<ChannelEndpoint>(h, rights);
        if (!ep.IsOk) return ep.Error;
        // A connection the server never accepted is closed with its listener (which takes the binding with it): the
        // operation itself reports Closed.
        if (ep.Value.DroppedFromBacklog) return ep.Value;
        // A connection made through a namespace binding lives only as long as that binding (the tenant bridge).
        if (!ep.Value.Via.IsNone && !ipc.Capabilities.Check(ep.Value.Via, Rights.None, caller.Principal).IsOk)
        {
            ipc.CloseBoth(ep.Value);
            return Errors.Of(ErrorCode.Revoked, "the namespace binding this connection was made through has been revoked");
        }
        return ep.Value;
    }
}
