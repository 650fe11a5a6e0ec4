using Photon.Kernel.Scheduling;

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
    private Call? _spare; // one call given back (Return) for the next Park; swapped atomically, Return runs outside the lock

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
        var call = Interlocked.Exchange(ref _spare, null) ?? new Call();
        call.Arm(chargeTo, inline);
        call.Prev = _last;
        if (_last is null) _first = call; else _last.Next = call;
        _last = call;
        Count++;
        return call;
    }

    /// <summary>Gives a call back for the next <see cref="Park"/> to reuse, once its caller is done with it: awaited
    /// through <see cref="AwaitAsync"/> (so it left the list and its cancellation registration is disposed) and its
    /// <see cref="Call.Filled"/>/<see cref="Call.Into"/> read and cleared. A request/response connection parks one receive
    /// per round trip; reusing the call saves its completion source and task (~210 B, issue #11's round-trip heap).
    /// A completion still on its way to an older use of the call (a burst's deferred resume, a cancellation) carries
    /// that use's generation and is refused (<see cref="Call.TrySetResult(T, int)"/>).</summary>
    public void Return(Call call)
    {
        if (call.Parked || !call.Consumed) return; // not ours to reuse yet: let it go to the GC
        call.Into = default;
        call.Filled = 0;
        call.From = default;
        call.Taken = 0;
        Volatile.Write(ref _spare, call);
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
    public void WakeAll(T value, List<Resume>? resumeAfterLock = null)
    {
        while (_first is { } call)
        {
            Leave(call);
            if (!call.Inline) call.TrySetResult(value);
            else if (resumeAfterLock is not null) resumeAfterLock.Add(new Resume(call, call.Generation, value));
            else ResumeLater(call, call.Generation, value);
        }
    }

    /// <summary>An inline call woken under the lock, to complete after it: the call, the generation it was woken in (a
    /// call may be reused once its caller is done with it, <see cref="Return"/>) and the value.</summary>
    internal readonly record struct Resume(Call Call, int Generation, T Value);

    /// <summary>Completes calls <see cref="WakeAll"/> deferred, outside the lock, on this thread: the first
    /// <paramref name="inlineBudget"/> run their continuations here and now (the kernel's own short socket loops: what
    /// they do before their next await is all this thread runs for them); the rest are resumed from fresh work items, so
    /// one burst cannot keep the receiving thread from the next. Returns how many ran inline.</summary>
    public static int ResumeAll(List<Resume> calls, int inlineBudget)
    {
        int inline = 0;
        foreach (var r in calls)
        {
            if (inline < inlineBudget) { inline++; r.Call.TrySetResult(r.Value, r.Generation); }
            else ResumeLater(r.Call, r.Generation, r.Value);
        }
        calls.Clear();
        return inline;
    }

    /// <summary>An inline call's completion posted off the waking thread (what RunContinuationsAsynchronously does for the
    /// others): to the waker's scheduler when it is a kernel task, to the thread pool otherwise.</summary>
    private static async void ResumeLater(Call call, int generation, T value)
    {
        await Task.Yield();
        call.TrySetResult(value, generation);
    }

    /// <summary>Awaits a parked call outside the lock. Cancelled, it completes with <paramref name="cancelled"/> and
    /// leaves the list at once, so a tenant cancelling call after call holds nothing.
    /// A <see cref="ValueTask{T}"/> whose state machine box is pooled: a socket receive parks and awaits once per
    /// round trip, and this frame's box was a fresh allocation each time (issue #11's round-trip heap count).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<T> AwaitAsync(Call call, CancellationToken ct, T cancelled, object gate)
    {
        T result;
        if (!ct.CanBeCanceled) result = await call.AsValueTask().ConfigureAwait(false);
        else
            using (ct.Register(static s => { var (c, g, v) = ((Call, int, T))s!; c.TrySetResult(v, g); }, (call, call.Generation, cancelled)))
                result = await call.AsValueTask().ConfigureAwait(false);
        // Disposing the registration above waited for a cancellation callback already running, so nothing but a stale
        // deferred resume (refused by its generation) can touch the call once its caller gives it back.
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
    /// only ever completed outside the lock (<see cref="WakeAll"/>). Reusable (<see cref="Return"/>): each park is a new
    /// generation, and a completion is taken only for the generation it names, exactly once
    /// (<see cref="GenerationalCompletion{T}"/>).</summary>
    internal sealed class Call : GenerationalCompletion<T>
    {
        public SocketAccount? ChargedTo { get; private set; }
        public bool Inline { get; private set; }
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
        public bool Parked;
        /// <summary>Its caller has taken the result of its current generation (a call is reusable only then).</summary>
        public bool Consumed { get; private set; }

        /// <summary>A new generation for a park (under the lock, by <see cref="Park"/> only; a reused call was consumed).</summary>
        internal void Arm(SocketAccount? chargedTo, bool inline)
        {
            Arm(runContinuationsAsynchronously: !inline);
            ChargedTo = chargedTo;
            Inline = inline;
            Parked = true;
            Consumed = false;
            Prev = Next = null;
        }

        /// <summary>Completes the current generation with <paramref name="value"/>; false when it already completed.</summary>
        public bool TrySetResult(T value) => TrySetResult(value, Generation);

        protected override void OnResultTaken() => Consumed = true;
    }
}
