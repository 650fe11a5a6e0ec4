using Photon.Net.Sockets;

namespace Photon.Net;

/// <summary>
/// A bounded queue whose items go straight to a waiting receiver when there is one (a UDP socket's datagrams, a
/// listener's accepted connections). Its receivers are <see cref="PendingCalls{T}"/>: bounded per socket, charged to the
/// tenant, gone at once when cancelled. Guarded by the stack's lock (<paramref name="gate"/>); waiters complete
/// asynchronously, outside it.
/// </summary>
internal sealed class HandoffQueue<T>(int capacity, int maxWaiters, string what, object gate)
{
    private readonly Queue<T> _items = new();
    private readonly PendingCalls<Result<T>> _waiters = new(maxWaiters, what);

    public int Count => _items.Count;

    /// <summary>The tenant whose receivers are charged (null: the kernel's socket).</summary>
    public SocketAccount? Account { get => _waiters.Account; set => _waiters.Account = value; }

    /// <summary>Hands the item to the oldest live waiter, or queues it; false when the queue is full.</summary>
    public bool TryDeliver(T item) => TryHandOff(item) || TryEnqueue(item);

    /// <summary>Hands the item to the oldest live waiter; false when nobody waits (then nothing was taken).</summary>
    public bool TryHandOff(T item) => _waiters.TryWakeOldest(item);

    /// <summary>Queues the item; false when the queue holds <c>capacity</c> items already.</summary>
    public bool TryEnqueue(T item)
    {
        if (_items.Count >= capacity) return false;
        _items.Enqueue(item);
        return true;
    }

    public bool TryTake(out T item) => _items.TryDequeue(out item!);

    /// <summary>Parks a receiver (under the lock): Busy at the per-socket limit, QuotaExceeded when its tenant has no
    /// room; await it with <see cref="AwaitAsync"/> outside the lock.</summary>
    public Result<PendingCalls<Result<T>>.Call> Wait() => _waiters.Park();

    /// <summary>Receivers parked now.</summary>
    public int Waiters => _waiters.Count;

    public Task<Result<T>> AwaitAsync(PendingCalls<Result<T>>.Call waiter, CancellationToken ct) =>
        _waiters.AwaitAsync(waiter, ct, Errors.Of(ErrorCode.Cancelled, $"{what} cancelled"), gate).AsTask();

    public void FailWaiters(KernelError error) => _waiters.WakeAll(error);
}
