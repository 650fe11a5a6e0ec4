using Photon.Kernel.Diagnostics;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// An awaitable auto-reset event: what a kernel task awaits for I/O-like readiness. <see cref="Wake"/> may be called
/// from any thread (a device interrupt, a host I/O completion); it releases exactly one waiter, or, if nobody waits,
/// stays signaled so the next <see cref="WaitAsync"/> completes at once (a wake is never lost). Waiters are released
/// in FIFO order; each waiting task costs one small node, so a million waiters fit in a few hundred megabytes.
/// </summary>
public sealed class Waker
{
    private readonly Lock _lock = new();
    private WaitNode? _head, _tail;
    private bool _signaled;
    private int _waiters;

    public Waker(bool initiallySignaled = false) => _signaled = initiallySignaled;

    /// <summary>Whether a wake is pending (no waiter consumed it yet).</summary>
    public bool IsSignaled { get { lock (_lock) return _signaled; } }

    /// <summary>Tasks currently waiting.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>
    /// Completes when woken (consuming the wake); canceled with <see cref="OperationCanceledException"/> if
    /// <paramref name="cancellationToken"/> fires first. A canceled wait never consumes a wake.
    /// </summary>
    public Task WaitAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled(cancellationToken);
        WaitNode node;
        lock (_lock)
        {
            if (_signaled) { _signaled = false; return Task.CompletedTask; }
            node = new WaitNode(this);
            node.Prev = _tail;
            if (_tail is null) _head = node; else _tail.Next = node;
            _tail = node;
            node.Linked = true;
            _waiters++;
        }
        InterleavingSeam.Point(); // a Wake or a cancellation may land before the registration below
        if (cancellationToken.CanBeCanceled)
        {
            node.Token = cancellationToken;
            node.Registration = cancellationToken.UnsafeRegister(static s => ((WaitNode)s!).Owner.CancelWait((WaitNode)s!), node);
        }
        return node.Task;
    }

    /// <summary>Releases the longest-waiting task, or leaves the waker signaled if none waits. Safe from any thread.</summary>
    public void Wake()
    {
        WaitNode? node;
        lock (_lock)
        {
            node = _head;
            if (node is null) { _signaled = true; return; }
            Unlink(node);
        }
        InterleavingSeam.Point();
        node.Registration.Unregister();
        node.TrySetResult(); // continuation is posted to the waiter's CPU queue, never run on the waking thread
    }

    /// <summary>Releases every task waiting now (a broadcast); does not leave the waker signaled. Returns how many.</summary>
    public int WakeAll()
    {
        WaitNode? list;
        lock (_lock)
        {
            list = _head;
            for (var n = list; n is not null; n = n.Next) n.Linked = false;
            _head = _tail = null;
            _waiters = 0;
        }
        int released = 0;
        while (list is not null)
        {
            var next = list.Next;
            list.Next = list.Prev = null;
            list.Registration.Unregister();
            list.TrySetResult();
            released++;
            list = next;
        }
        return released;
    }

    private void CancelWait(WaitNode node)
    {
        lock (_lock)
        {
            if (!node.Linked) return; // already woken
            Unlink(node);
        }
        InterleavingSeam.Point();
        node.TrySetCanceled(node.Token);
    }

    private void Unlink(WaitNode node)
    {
        if (node.Prev is null) _head = node.Next; else node.Prev.Next = node.Next;
        if (node.Next is null) _tail = node.Prev; else node.Next.Prev = node.Prev;
        node.Next = node.Prev = null;
        node.Linked = false;
        _waiters--;
    }

    private sealed class WaitNode(Waker owner) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public readonly Waker Owner = owner;
        public WaitNode? Next, Prev;
        public bool Linked;
        public CancellationToken Token;
        public CancellationTokenRegistration Registration;
    }
}
