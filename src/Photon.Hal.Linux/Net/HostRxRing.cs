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
    private readonly List<TaskCompletionSource<bool>> _waiters = new();
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
        TaskCompletionSource<bool>? one;
        TaskCompletionSource<bool>[]? woken = null;
        lock (_waiters)
        {
            if (_waiters.Count == 0) return;
            // One reader per queue is the rule: wake it without copying the list into an array (one per burst).
            one = _waiters[0];
            if (_waiters.Count > 1) woken = _waiters.ToArray();
            _waiters.Clear();
        }
        if (woken is null) one.TrySetResult(true);
        else foreach (var w in woken) w.TrySetResult(true);
    }

    /// <summary>No more frames will come: readers drain what is left, then see false.</summary>
    public void Complete()
    {
        _completed = true;
        Publish();
    }

    /// <summary>True once a frame can be read; false once completed and drained. Throws when cancelled.</summary>
    /// <remarks>The state machine box is pooled: the stack waits here once per burst (per request on a round trip).</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WaitToReadAsync(CancellationToken ct)
    {
        while (true)
        {
            if (!_frames.IsEmpty) return true;
            if (_completed) return !_frames.IsEmpty;
            ct.ThrowIfCancellationRequested();
            // No RunContinuationsAsynchronously: Publish resumes the reader on the receive thread.
            var waiter = new TaskCompletionSource<bool>();
            lock (_waiters)
            {
                _waiters.RemoveAll(w => w.Task.IsCompleted); // cancelled readers left behind
                _waiters.Add(waiter);
            }
            // Re-check after registering: a burst published in between would otherwise go unnoticed until the next one.
            if (!_frames.IsEmpty || _completed) { waiter.TrySetResult(true); }
            await using (ct.CanBeCanceled ? ct.Register(static w => ((TaskCompletionSource<bool>)w!).TrySetCanceled(), waiter) : default(CancellationTokenRegistration))
                await waiter.Task.ConfigureAwait(false);
        }
    }
}
