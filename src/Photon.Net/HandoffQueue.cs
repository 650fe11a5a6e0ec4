namespace Photon.Net;

/// <summary>
/// A bounded queue whose items go straight to a waiting receiver when there is one (a UDP socket's datagrams, a
/// listener's accepted connections). Guarded by the stack's lock; waiters complete asynchronously, outside it.
/// </summary>
internal sealed class HandoffQueue<T>(int capacity)
{
    private readonly Queue<T> _items = new();
    private readonly Queue<TaskCompletionSource<Result<T>>> _waiters = new();

    public int Count => _items.Count;

    /// <summary>Hands the item to the oldest live waiter, or queues it; false when the queue is full.</summary>
    public bool TryDeliver(T item)
    {
        while (_waiters.TryDequeue(out var w))
            if (w.TrySetResult(item)) return true; // a cancelled waiter is skipped, the item is not lost
        if (_items.Count >= capacity) return false;
        _items.Enqueue(item);
        return true;
    }

    public bool TryTake(out T item) => _items.TryDequeue(out item!);

    /// <summary>Registers a waiter (under the lock); await it with <see cref="AwaitAsync"/> outside the lock.</summary>
    public TaskCompletionSource<Result<T>> Wait()
    {
        var w = new TaskCompletionSource<Result<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Enqueue(w);
        return w;
    }

    public static async Task<Result<T>> AwaitAsync(TaskCompletionSource<Result<T>> waiter, CancellationToken ct, string what)
    {
        using var reg = ct.Register(() => waiter.TrySetResult(Errors.Of(ErrorCode.Cancelled, $"{what} cancelled")));
        return await waiter.Task.ConfigureAwait(false);
    }

    public void FailWaiters(KernelError error)
    {
        while (_waiters.TryDequeue(out var w)) w.TrySetResult(error);
    }
}
