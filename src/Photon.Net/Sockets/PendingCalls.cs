namespace Photon.Net.Sockets;

/// <summary>
/// The calls of one kind parked on one socket (receives, accepts, sends waiting for room). Each holds a task, the
/// caller's continuation and a cancellation registration: memory a tenant could pile up without bound by parking call
/// after call on a socket nothing arrives at (issue #15). So a socket parks at most <c>limit</c> calls of a kind (beyond
/// it: <see cref="ErrorCode.Busy"/>, as a full queue answers), each parked call beyond the first is charged
/// <see cref="Cost"/> bytes to the owning tenant's memory quota (refused: <see cref="ErrorCode.QuotaExceeded"/>, nothing
/// parked), and a call leaves
/// the list — its charge refunded exactly once — when it is woken, failed, or cancelled (at once, not when data next
/// comes). The first parked call goes with the socket, as the socket's own object does: a tenant whose quota its buffers
/// filled can still wait for its one receive or accept, and only piling calls up costs it. An intrusive list: parking
/// allocates only the call itself. Guarded by the stack's lock.
/// </summary>
internal sealed class PendingCalls<T>(int limit, string what)
{
    /// <summary>What one parked call costs its tenant: its completion source and task, the chain of async state
    /// machines from the syscall down, and a cancellation registration (about 1.1 KiB per parked syscall receive;
    /// PendingCallTests asserts the charge covers it).</summary>
    public const int Cost = 1536;

    private Call? _first, _last;

    /// <summary>Calls parked now.</summary>
    public int Count { get; private set; }

    public int Limit => limit;

    /// <summary>The tenant parked calls are charged to from now on (null: nobody's; the kernel's own sockets).</summary>
    public SocketAccount? Account { get; set; }

    /// <summary>Parks a call (under the lock): <see cref="ErrorCode.Busy"/> at the limit, the quota's error when the
    /// tenant has no room for it; then await it with <see cref="AwaitAsync"/> outside the lock. An
    /// <paramref name="inline"/> call is resumed on the thread that wakes it, never under the lock: see
    /// <see cref="WakeAll(T, List{Call}?)"/>.</summary>
    public Result<Call> Park(bool inline = false)
    {
        if (Count >= limit) return Errors.Of(ErrorCode.Busy, $"{limit} {what}s already pending on this socket");
        var chargeTo = Count == 0 ? null : Account;
        if (chargeTo?.Charge(Cost) is { IsOk: false } refused) return refused.Error;
        var call = new Call(chargeTo, inline) { Prev = _last };
        if (_last is null) _first = call; else _last.Next = call;
        _last = call;
        Count++;
        return call;
    }

    /// <summary>The oldest parked call, or null (under the lock).</summary>
    public Call? Oldest => _first;

    /// <summary>Wakes one parked call with <paramref name="value"/> (under the lock; not an inline one).</summary>
    public void Wake(Call call, T value)
    {
        Leave(call);
        call.TrySetResult(value);
    }

    /// <summary>Hands <paramref name="value"/> to the oldest parked call; false when none is parked.</summary>
    public bool TryWakeOldest(T value)
    {
        while (_first is { } call)
        {
            Leave(call);
            if (call.TrySetResult(value)) return true; // a cancelled call is skipped, the value is not lost
        }
        return false;
    }

    /// <summary>Wakes every parked call with <paramref name="value"/>. Called under the lock, so an inline call is not
    /// completed here (its continuation would run under the lock): it goes to <paramref name="resumeAfterLock"/>, which
    /// the receive burst that woke it completes on its own thread once the lock is released (<see cref="ResumeAll"/>),
    /// or, outside a burst (null), it is completed from a fresh work item as every other call is.</summary>
    public void WakeAll(T value, List<Call>? resumeAfterLock = null)
    {
        while (_first is { } call)
        {
            Leave(call);
            if (!call.Inline) call.TrySetResult(value);
            else if (resumeAfterLock is not null) { call.WokenWith = value; resumeAfterLock.Add(call); }
            else ResumeLater(call, value);
        }
    }

    /// <summary>Completes calls <see cref="WakeAll"/> deferred, outside the lock, on this thread: the first
    /// <paramref name="inlineBudget"/> run their continuations here and now (the kernel's own short socket loops: what
    /// they do before their next await is all this thread runs for them); the rest are resumed from fresh work items, so
    /// one burst cannot keep the receiving thread from the next. Returns how many ran inline.</summary>
    public static int ResumeAll(List<Call> calls, int inlineBudget)
    {
        int inline = 0;
        foreach (var call in calls)
        {
            if (inline < inlineBudget) { inline++; call.TrySetResult(call.WokenWith); }
            else ResumeLater(call, call.WokenWith);
        }
        calls.Clear();
        return inline;
    }

    /// <summary>An inline call's completion posted off the waking thread (what RunContinuationsAsynchronously does for the
    /// others): to the waker's scheduler when it is a kernel task, to the thread pool otherwise.</summary>
    private static async void ResumeLater(Call call, T value)
    {
        await Task.Yield();
        call.TrySetResult(value);
    }

    /// <summary>Awaits a parked call outside the lock. Cancelled, it completes with <paramref name="cancelled"/> and
    /// leaves the list at once, so a tenant cancelling call after call holds nothing.
    /// A <see cref="ValueTask{T}"/> whose state machine box is pooled: a socket receive parks and awaits once per
    /// round trip, and this frame's box was a fresh allocation each time (issue #11's round-trip heap count).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<T> AwaitAsync(Call call, CancellationToken ct, T cancelled, object gate)
    {
        T result;
        if (!ct.CanBeCanceled) result = await call.Task.ConfigureAwait(false);
        else
            using (ct.Register(static s => { var (c, v) = ((Call, T))s!; c.TrySetResult(v); }, (call, cancelled)))
                result = await call.Task.ConfigureAwait(false);
        if (call.Parked) lock (gate) Leave(call); // woken calls left under the lock before they completed
        return result;
    }

    private void Leave(Call call)
    {
        if (!call.Parked) return;
        if (call.Prev is null) _first = call.Next; else call.Prev.Next = call.Next;
        if (call.Next is null) _last = call.Prev; else call.Next.Prev = call.Prev;
        call.Prev = call.Next = null;
        call.Parked = false;
        Count--;
        call.ChargedTo?.Refund(Cost);
    }

    /// <summary>One parked call: its completion, its place in the list, and whom its <see cref="Cost"/> was charged to
    /// (null: nobody, the socket's first). An inline call's continuation runs on the thread that completes it: it is
    /// only ever completed outside the lock (<see cref="WakeAll"/>).</summary>
    internal sealed class Call(SocketAccount? chargedTo, bool inline)
        : TaskCompletionSource<T>(inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public readonly SocketAccount? ChargedTo = chargedTo;
        public readonly bool Inline = inline;
        /// <summary>The value an inline call was woken with, kept until it is completed after the lock.</summary>
        public T WokenWith = default!;
        /// <summary>A parked receive's buffer, which arriving data may be copied straight into (under the lock, only while
        /// the call is parked), and how many bytes were (see <c>TcpConnection.DeliverToParkedReader</c>).</summary>
        public Memory<byte> Into;
        public int Filled;
        /// <summary>A parked send's remaining bytes, which the stack may take into the send buffer as ACKs free room
        /// (under the lock, only while the call is parked), and how many it took (see
        /// <c>TcpConnection.TakeFromParkedWriters</c>).</summary>
        public ReadOnlyMemory<byte> From;
        public int Taken;
        public Call? Prev, Next;
        public bool Parked = true;
    }
}
