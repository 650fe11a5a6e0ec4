using System.Collections.Concurrent;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// A host queue's RX ring: bounded (a full ring drops, as a NIC's does), written by the queue's receive thread and read
/// by the kernel side. Unlike a <c>Channel</c>, readers are woken once per burst (<see cref="Publish"/>), not per frame,
/// and the wake runs the reader's continuation on the receive thread itself, as NAPI runs the stack in the poll: the
/// stack takes the whole burst and answers it without a hop to the thread pool (one thread wake per burst fewer —
/// issue #11's profile of the bulk sender and the 64-byte round trip). Readers that cancel are woken and forgotten.
/// </summary>
internal sealed class HostRxRing(int capacity)
{
    private readonly ConcurrentQueue<HostRxFrame> _frames = new();
    private readonly List<Waiter> _waiters = new();
    private Waiter? _spare; // the last wait's waiter, for the next (swapped atomically)
    private int _count;
    private volatile bool _completed;

    /// <summary>Queues a frame (not yet visible to a waiting reader until <see cref="Publish"/>); false when full.</summary>
    public bool TryWrite(HostRxFrame frame)
    {
        if (_completed) return false;
        if (Interlocked.Increment(ref _count) > capacity)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }
        _frames.Enqueue(frame);
        return true;
    }

    public bool TryRead(out HostRxFrame frame)
    {
        if (!_frames.TryDequeue(out frame)) return false;
        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>Wakes the readers waiting, on this thread (their continuations run inline): the end of a burst.</summary>
    public void Publish()
    {
        Waiter one;
        int oneGeneration;
        (Waiter, int)[]? woken = null;
        lock (_waiters)
        {
            if (_waiters.Count == 0) return;
            // One reader per queue is the rule: wake it without copying the list into an array (one per burst). Each
            // wake names the generation it was taken for: a waiter may be reused once its reader is done with it.
            one = _waiters[0];
            oneGeneration = one.Generation;
            if (_waiters.Count > 1) woken = _waiters.Select(w => (w, w.Generation)).ToArray();
            _waiters.Clear();
        }
        if (woken is null) one.TrySetResult(oneGeneration);
        else foreach (var (w, g) in woken) w.TrySetResult(g);
    }

    /// <summary>No more frames will come: readers drain what is left, then see false.</summary>
    public void Complete()
    {
        _completed = true;
        Publish();
    }

    /// <summary>True once a frame can be read; false once completed and drained. Throws when cancelled.</summary>
    /// <remarks>The state machine box is pooled and the waiter reused: the stack waits here once per burst (per request
    /// on a round trip), and a fresh completion source and task were ~76 B of each round trip's heap (tcp16).</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WaitToReadAsync(CancellationToken ct)
    {
        while (true)
        {
            if (!_frames.IsEmpty) return true;
            if (_completed) return !_frames.IsEmpty;
            ct.ThrowIfCancellationRequested();
            // Not run asynchronously: Publish resumes the reader on the receive thread.
            var waiter = Interlocked.Exchange(ref _spare, null) ?? new Waiter();
            int generation = waiter.Arm();
            lock (_waiters) _waiters.Add(waiter);
            // Re-check after registering: a burst published in between would otherwise go unnoticed until the next one.
            if (!_frames.IsEmpty || _completed) waiter.TrySetResult(generation);
            bool cancelled = false;
            await using (ct.CanBeCanceled ? ct.Register(static w => ((Waiter)w!).TryCancel(), waiter) : default(CancellationTokenRegistration))
                cancelled = !await waiter.AsValueTask().ConfigureAwait(false);
            // The registration is disposed (a running callback waited for), the result taken: the waiter is free once it
            // is off the list, where only a cancelled one can still be.
            if (cancelled) lock (_waiters) _waiters.Remove(waiter);
            Volatile.Write(ref _spare, waiter);
            if (cancelled) throw new OperationCanceledException(ct);
        }
    }

    /// <summary>A reader's wait, reusable (<see cref="GenerationalCompletion{T}"/>): true for a wake, false for a
    /// cancellation.</summary>
    private sealed class Waiter : Photon.Kernel.Scheduling.GenerationalCompletion<bool>
    {
        /// <summary>A new generation for one wait (by its reader, before it is listed); continuations run on the waker.</summary>
        public int Arm() => Arm(runContinuationsAsynchronously: false);

        public bool TrySetResult(int generation) => TrySetResult(true, generation);

        public void TryCancel() => TrySetResult(false, Generation);
    }
}
