using Photon.Kernel.Diagnostics;
using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Io;

/// <summary>One submitted request as the device sees it: a tag to complete it by, and the payload.</summary>
public readonly record struct Submission<TRequest>(ushort Tag, TRequest Request);

/// <summary>Counters of one queue pair.</summary>
public sealed record QueuePairStats(long Submitted, long Completed, long Cancelled, long Denied, long RingFull, int InFlight, int Depth);

/// <summary>
/// The unified submission/completion queue pair every Photon driver uses, in the spirit of NVMe queue pairs and
/// io_uring: a fixed-size power-of-two submission ring that callers fill (one by one or as a batch) and ring a
/// doorbell for; a device side that drains submissions in batches and posts completions by tag; and a completion
/// ring whose entries wake the submitting kernel task. Every request is capability-checked before it enters the ring;
/// a full ring is back-pressure (<see cref="ErrorCode.WouldBlock"/> from TrySubmit, or SubmitAsync waits for a slot);
/// a cancelled request completes at once with <see cref="ErrorCode.Cancelled"/> and its late device completion is
/// ignored.
/// </summary>
public sealed class QueuePair<TRequest, TResult>
{
    private sealed class Slot
    {
        public TaskCompletionSource<Result<TResult>>? Waiter;
        public IQueueCompletionSink<TResult>? Sink; // instead of a waiter: told the cookie and the result
        public int Cookie;
        public CancellationTokenRegistration Cancellation;
        public bool InUse;
        public bool Abandoned; // cancelled by the submitter; the device still owns the tag until it completes
        public bool CompletionQueued; // answered, waiting in the completion ring: a second answer is a duplicate
    }

    private readonly Lock _lock = new();
    private readonly Slot[] _slots;
    private readonly Stack<ushort> _freeTags;
    private readonly Submission<TRequest>[] _sq;
    private int _sqHead, _sqCount;
    private readonly (ushort Tag, Result<TResult> Result)[] _cq;
    private int _cqHead, _cqCount;
    private readonly SemaphoreSlim _space;
    private readonly SemaphoreSlim _doorbell = new(0, int.MaxValue);
    private readonly CapabilityManager _caps;
    private readonly KernelObject _device;
    private long _submitted, _completed, _cancelled, _denied, _ringFull;
    private bool _closed;
    private Action? _inlineDevice;

    /// <param name="depth">Ring size: a power of two from 2 to 32768.</param>
    /// <param name="device">The kernel object requests must hold a capability to.</param>
    public QueuePair(int depth, CapabilityManager caps, KernelObject device)
    {
        if (depth < 2 || depth > 32768 || (depth & (depth - 1)) != 0)
            throw new KernelException(ErrorCode.InvalidArgument, $"queue depth {depth} must be a power of two between 2 and 32768");
        Depth = depth;
        _caps = caps;
        _device = device;
        _slots = new Slot[depth];
        _freeTags = new Stack<ushort>(depth);
        for (int i = depth - 1; i >= 0; i--) { _slots[i] = new Slot(); _freeTags.Push((ushort)i); }
        _sq = new Submission<TRequest>[depth];
        _cq = new (ushort, Result<TResult>)[depth];
        _space = new SemaphoreSlim(depth, depth);
    }

    public int Depth { get; }

    public QueuePairStats Stats
    {
        get
        {
            lock (_lock)
                return new QueuePairStats(_submitted, _completed, _cancelled, _denied, _ringFull, Depth - _freeTags.Count, Depth);
        }
    }

    /// <summary>Submits without waiting: fails with <see cref="ErrorCode.WouldBlock"/> when the ring is full.</summary>
    public Result<Task<Result<TResult>>> TrySubmit(TRequest request, CapabilityToken capability, Rights needed, Principal actor = default,
        CancellationToken ct = default)
    {
        var check = Check(capability, needed, actor);
        if (!check.IsOk) return check.Error;
        if (!_space.Wait(0))
        {
            Interlocked.Increment(ref _ringFull);
            return Errors.Of(ErrorCode.WouldBlock, "submission ring is full");
        }
        var t = Enqueue(request, ct);
        if (t.IsOk) Notify();
        return t;
    }

    /// <summary>Submits, waiting for ring space if needed, and completes when the device completes the request.
    /// Continuations don't return to the caller's context (ConfigureAwait(false)): the I/O path never needs a kernel
    /// CPU to make progress, so a caller that must block on it (a synchronous Wasm host call) cannot deadlock.</summary>
    public async Task<Result<TResult>> SubmitAsync(TRequest request, CapabilityToken capability, Rights needed, Principal actor = default,
        CancellationToken ct = default)
    {
        var check = Check(capability, needed, actor);
        if (!check.IsOk) return check.Error;
        if (!_space.Wait(0))
        {
            Interlocked.Increment(ref _ringFull);
            try { await _space.WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "cancelled while waiting for ring space"); }
        }
        var t = Enqueue(request, ct);
        if (!t.IsOk) return t.Error;
        Notify();
        return await t.Value.ConfigureAwait(false);
    }

    /// <summary>Submits a batch with one capability check and one doorbell; stops at the first full ring. With
    /// <paramref name="resumeInline"/> the requests' completions resume their awaiters on the thread that completes them
    /// (the device's), not through the thread pool: for a consumer whose continuation is short and never blocks (the
    /// network stack's receive loop, which answers a burst on the device's receive thread as it does on a host device).</summary>
    public Result<IReadOnlyList<Task<Result<TResult>>>> SubmitBatch(IReadOnlyList<TRequest> requests, CapabilityToken capability, Rights needed,
        Principal actor = default, CancellationToken ct = default, bool resumeInline = false)
    {
        var check = Check(capability, needed, actor);
        if (!check.IsOk) return check.Error;
        var tasks = new List<Task<Result<TResult>>>(requests.Count);
        foreach (var r in requests)
        {
            if (!_space.Wait(0)) { Interlocked.Increment(ref _ringFull); break; }
            var t = Enqueue(r, ct, resumeInline);
            if (!t.IsOk) break;
            tasks.Add(t.Value);
        }
        if (tasks.Count > 0) Notify();
        if (tasks.Count == 0 && requests.Count > 0) return Errors.Of(ErrorCode.WouldBlock, "submission ring is full");
        return tasks;
    }

    /// <summary>
    /// Submits a batch whose completions go to <paramref name="sink"/>, each named by its cookie (one per request), with
    /// one capability check and one doorbell, and nothing allocated: no task and no cancellation registration per
    /// request. Such a request cannot be cancelled here; the device side withdraws it by its own rule (a NIC's
    /// <c>RxRequest.Abandon</c>), or <see cref="Close"/> completes it with <see cref="ErrorCode.Closed"/>. Stops at the
    /// first full ring; returns how many went in (WouldBlock when none did, Closed once closed).
    /// </summary>
    public Result<int> SubmitBatch(ReadOnlySpan<TRequest> requests, ReadOnlySpan<int> cookies, IQueueCompletionSink<TResult> sink,
        CapabilityToken capability, Rights needed, Principal actor = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (cookies.Length != requests.Length) throw new ArgumentException("one cookie per request");
        var check = Check(capability, needed, actor);
        if (!check.IsOk) return check.Error;
        int n = 0;
        KernelError? closed = null;
        for (; n < requests.Length; n++)
        {
            if (!_space.Wait(0)) { Interlocked.Increment(ref _ringFull); break; }
            lock (_lock)
            {
                if (_closed)
                {
                    _space.Release();
                    closed = Errors.Of(ErrorCode.Closed, "device closed");
                    break;
                }
                ushort tag = _freeTags.Pop();
                var slot = _slots[tag];
                slot.InUse = true;
                slot.Sink = sink;
                slot.Cookie = cookies[n];
                _sq[(_sqHead + _sqCount) & (Depth - 1)] = new Submission<TRequest>(tag, requests[n]);
                _sqCount++;
                _submitted++;
            }
        }
        if (n > 0) Notify();
        if (n == 0 && requests.Length > 0) return closed ?? Errors.Of(ErrorCode.WouldBlock, "submission ring is full");
        return n;
    }

    // ---- device side ----

    /// <summary>
    /// Makes submitters run the device side themselves: after a submission is in the ring, the submitting thread calls
    /// <paramref name="device"/> instead of ringing the doorbell (an emulated device whose work never blocks: it drains
    /// the ring, and a request the storage finishes at once is complete before its submitter awaits it — no wakeup and
    /// no thread hop). The device must leave nothing in the ring unseen: whatever it does not drain it hands to its
    /// loop with <see cref="RingDoorbell"/>. Set once, before the first submission.
    /// </summary>
    public void DriveInline(Action device) => _inlineDevice = device;

    /// <summary>Tags free right now (a racy snapshot: a hint for choosing among pairs, not a reservation).</summary>
    public int FreeSlots => _space.CurrentCount;

    /// <summary>Submissions in the ring not yet drained by the device.</summary>
    public int PendingSubmissions => Volatile.Read(ref _sqCount);

    /// <summary>Wakes the device's loop (<see cref="WaitForDoorbellAsync"/>).</summary>
    public void RingDoorbell() => _doorbell.Release();

    /// <summary>Waits until the doorbell rings (there may be submissions), or the token is cancelled.</summary>
    public Task WaitForDoorbellAsync(CancellationToken ct) => _doorbell.WaitAsync(ct);

    /// <summary>Takes up to destination.Length submissions off the ring (the device's batched fetch).</summary>
    public int DrainSubmissions(Span<Submission<TRequest>> destination)
    {
        lock (_lock)
        {
            int n = Math.Min(destination.Length, _sqCount);
            for (int i = 0; i < n; i++)
            {
                destination[i] = _sq[_sqHead];
                _sq[_sqHead] = default;
                _sqHead = (_sqHead + 1) & (Depth - 1);
            }
            _sqCount -= n;
            return n;
        }
    }

    /// <summary>Posts a completion for <paramref name="tag"/> and reaps the completion ring, waking submitters.</summary>
    public void Complete(ushort tag, Result<TResult> result)
    {
        lock (_lock)
        {
            // A stray or duplicate completion from a confused device: a tag not in use, or one already answered and
            // not yet reaped (freeing it twice would hand it to two requests and overfill the ring and the semaphore).
            if (tag >= Depth || !_slots[tag].InUse || _slots[tag].CompletionQueued) return;
            _slots[tag].CompletionQueued = true;
            _cq[(_cqHead + _cqCount) & (Depth - 1)] = (tag, result);
            _cqCount++;
        }
        InterleavingSeam.Point();
        Reap();
    }

    /// <summary>
    /// Completes several requests at once (a device's burst): every slot is freed first, then the waiters are woken
    /// newest first, so an awaiter resumed inline by the oldest (<see cref="SubmitBatch"/>'s resumeInline) finds the
    /// whole burst already complete. Stray or duplicate tags are ignored, as in <see cref="Complete(ushort, Result{TResult})"/>.
    /// </summary>
    public void Complete(ReadOnlySpan<ushort> tags, ReadOnlySpan<Result<TResult>> results)
    {
        if (tags.Length != results.Length) throw new ArgumentException("one result per tag");
        if (tags.Length == 0) return;
        if (tags.Length == 1) // a burst of one (a request/response round trip): no pooled array
        {
            Freed one;
            lock (_lock)
            {
                ushort tag = tags[0];
                if (tag >= Depth || !_slots[tag].InUse || _slots[tag].CompletionQueued) return;
                one = FreeSlotLocked(tag);
            }
            InterleavingSeam.Point();
            one.Reg.Dispose();
            _space.Release();
            one.Wake(results[0]);
            return;
        }
        var woken = System.Buffers.ArrayPool<(Freed Freed, Result<TResult> Result)>.Shared.Rent(tags.Length);
        int n = 0, freed = 0;
        try
        {
            lock (_lock)
            {
                for (int i = 0; i < tags.Length; i++)
                {
                    ushort tag = tags[i];
                    if (tag >= Depth || !_slots[tag].InUse || _slots[tag].CompletionQueued) continue;
                    woken[n++] = (FreeSlotLocked(tag), results[i]);
                    freed++;
                }
            }
            InterleavingSeam.Point();
            for (int i = 0; i < n; i++) woken[i].Freed.Reg.Dispose();
            if (freed > 0) _space.Release(freed);
            for (int i = n - 1; i >= 0; i--) woken[i].Freed.Wake(woken[i].Result);
        }
        finally
        {
            Array.Clear(woken, 0, n);
            System.Buffers.ArrayPool<(Freed, Result<TResult>)>.Shared.Return(woken);
        }
    }

    /// <summary>Fails every outstanding request with <see cref="ErrorCode.Closed"/> (device removed or shut down).</summary>
    public void Close()
    {
        List<Freed> waiters = new();
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            foreach (var s in _slots)
                if (s.InUse && (s.Waiter is not null || s.Sink is not null))
                {
                    waiters.Add(new Freed(s.Waiter, s.Sink, s.Cookie, default));
                    s.Waiter = null;
                    s.Sink = null;
                }
        }
        InterleavingSeam.Point();
        foreach (var w in waiters) w.Wake(Errors.Of(ErrorCode.Closed, "device closed"));
        _doorbell.Release();
    }

    public bool IsClosed { get { lock (_lock) return _closed; } }

    private void Reap()
    {
        while (true)
        {
            Freed freed;
            Result<TResult> result;
            lock (_lock)
            {
                if (_cqCount == 0) return;
                var (tag, r) = _cq[_cqHead];
                _cq[_cqHead] = default;
                _cqHead = (_cqHead + 1) & (Depth - 1);
                _cqCount--;
                freed = FreeSlotLocked(tag);
                result = r;
            }
            InterleavingSeam.Point();
            freed.Reg.Dispose();
            _space.Release();
            freed.Wake(result);
        }
    }

    /// <summary>What to tell once a request's tag is free: its waiter (unless the submitter abandoned it) or its sink
    /// and cookie; and its cancellation registration, to dispose outside the lock.</summary>
    private readonly record struct Freed(TaskCompletionSource<Result<TResult>>? Waiter, IQueueCompletionSink<TResult>? Sink, int Cookie,
        CancellationTokenRegistration Reg)
    {
        public void Wake(Result<TResult> result)
        {
            if (Sink is not null) Sink.OnCompleted(Cookie, result);
            else Waiter?.TrySetResult(result);
        }
    }

    /// <summary>Frees an answered request's tag (under the lock) and hands back what to wake.</summary>
    private Freed FreeSlotLocked(ushort tag)
    {
        var slot = _slots[tag];
        var freed = new Freed(slot.Abandoned ? null : slot.Waiter, slot.Sink, slot.Cookie, slot.Cancellation);
        slot.Waiter = null;
        slot.Sink = null;
        slot.Cookie = 0;
        slot.InUse = false;
        slot.Abandoned = false;
        slot.CompletionQueued = false;
        slot.Cancellation = default;
        _freeTags.Push(tag);
        _completed++;
        return freed;
    }

    private Result<Task<Result<TResult>>> Enqueue(TRequest request, CancellationToken ct, bool resumeInline = false)
    {
        var tcs = new TaskCompletionSource<Result<TResult>>(resumeInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
        ushort tag;
        lock (_lock)
        {
            if (_closed)
            {
                _space.Release();
                return Errors.Of(ErrorCode.Closed, "device closed");
            }
            tag = _freeTags.Pop();
            var slot = _slots[tag];
            slot.InUse = true;
            slot.Waiter = tcs;
            _sq[(_sqHead + _sqCount) & (Depth - 1)] = new Submission<TRequest>(tag, request);
            _sqCount++;
            _submitted++;
        }
        InterleavingSeam.Point(); // the device may complete, or the token fire, before the registration below
        if (ct.CanBeCanceled)
        {
            var reg = ct.Register(() => Cancel(tag, tcs));
            lock (_lock)
                if (_slots[tag].Waiter == tcs) _slots[tag].Cancellation = reg;
                else reg.Dispose();
        }
        return tcs.Task;
    }

    private void Cancel(ushort tag, TaskCompletionSource<Result<TResult>> tcs)
    {
        lock (_lock)
        {
            var slot = _slots[tag];
            if (slot.Waiter != tcs) return; // already completed
            slot.Abandoned = true;
            slot.Waiter = null;
            _cancelled++;
        }
        InterleavingSeam.Point();
        tcs.TrySetResult(Errors.Of(ErrorCode.Cancelled, "request cancelled"));
    }

    /// <summary>The capability check every submission passes (a denial is counted in <see cref="Stats"/>), for a device
    /// that serves a request without putting it in the ring (a request its storage finishes on the submitter's thread).</summary>
    public Result Authorize(CapabilityToken capability, Rights needed, Principal actor = default) => Check(capability, needed, actor);

    private Result Check(CapabilityToken capability, Rights needed, Principal actor)
    {
        var r = _caps.Check(capability, needed, actor);
        if (r.IsOk && !ReferenceEquals(r.Value, _device))
            r = Errors.Of(ErrorCode.WrongObjectType, $"capability names {r.Value}, not {_device}");
        if (r.IsOk) return Result.Ok;
        Interlocked.Increment(ref _denied);
        return r.Error;
    }

    /// <summary>Tells the device there are submissions: it runs inline when set up so (<see cref="DriveInline"/>), else its loop wakes.
    /// The doorbell is rung only when no ring is pending: a device loop drains the whole ring on each wake, so a pending
    /// ring already covers these submissions (they are in the ring before the count is read) — and a loop that rarely
    /// waits (a NIC's RX controller with buffers posted) would otherwise see the count grow by one per post until
    /// <see cref="SemaphoreSlim.Release()"/> overflows.</summary>
    private void Notify()
    {
        if (_inlineDevice is { } device) device();
        else if (_doorbell.CurrentCount == 0) _doorbell.Release();
    }
}
