namespace Photon.Kernel.Ipc;

/// <summary>
/// Tasks parked until an IPC object changes state. Guarded by the owning object's lock. A waiter that gives up
/// (cancellation) removes itself, so abandoned waits cannot pile up.
/// </summary>
internal sealed class WaiterSet
{
    private readonly HashSet<TaskCompletionSource<bool>> _waiters = new(ReferenceEqualityComparer.Instance);

    public int Count => _waiters.Count;

    /// <summary>Registers a waiter. Call under the owner's lock after re-checking the condition.</summary>
    public TaskCompletionSource<bool> Add()
    {
        var tcs = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Add(tcs);
        return tcs;
    }

    /// <summary>Wakes every waiter. Call under the owner's lock.</summary>
    public void WakeAll()
    {
        if (_waiters.Count == 0) return;
        foreach (var w in _waiters) w.TrySetResult(true);
        _waiters.Clear();
    }

    /// <summary>Waits for <paramref name="tcs"/>: true when woken; on cancellation unregisters it (under
    /// <paramref name="gate"/>) and returns false.</summary>
    public Task<bool> WaitAsync(Lock gate, TaskCompletionSource<bool> tcs, CancellationToken ct) =>
        // A wait that cannot be cancelled is the promise itself: no wrapper state machine per wait (the IPC fast path).
        ct.CanBeCanceled ? WaitCancellableAsync(gate, tcs, ct) : tcs.Task;

    private async Task<bool> WaitCancellableAsync(Lock gate, TaskCompletionSource<bool> tcs, CancellationToken ct)
    {
        try
        {
            return await tcs.Task.WaitAsync(ct).ConfigureAwait(true);
        }
        catch (OperationCanceledException)
        {
            Remove(gate, tcs);
            return false;
        }
    }

    public void Remove(Lock gate, TaskCompletionSource<bool> tcs)
    {
        lock (gate) _waiters.Remove(tcs);
    }
}
