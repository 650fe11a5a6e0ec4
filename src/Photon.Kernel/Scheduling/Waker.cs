using System.Threading.Tasks.Sources;
using Photon.Kernel.Diagnostics;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// An awaitable auto-reset event: what a kernel task awaits for I/O-like readiness. <see cref="Wake"/> may be called
/// from any thread (a device interrupt, a host I/O completion); it releases exactly one waiter, or, if nobody waits,
/// stays signaled so the next <see cref="WaitAsync"/> completes at once (a wake is never lost). Waiters are released
/// in FIFO order; each waiting task costs one small node, so a million waiters fit in a few hundred megabytes.
/// <para>
/// A wait from a kernel task allocates nothing: its node is an <see cref="IValueTaskSource"/> reused from the waker's
/// small pool, and the wake queues the node itself on the task's kernel CPU (<see cref="IKernelWorkItem"/>). A wait
/// from outside kernel tasks (a host thread) is backed by a <see cref="Task"/> as before. Either way the continuation
/// never runs on the waking thread.
/// </para>
/// </summary>
public sealed class Waker
{
    // Nodes kept for reuse: enough for the ping-pong and fan-in patterns; a burst of waiters beyond it is not pinned.
    private const int MaxPooled = 4;

    private readonly Lock _lock = new();
    private WaitNode? _head, _tail;
    private KernelWaitNode? _pool;
    private int _pooled;
    // The last node returned, kept without the lock: a waiter's GetResult hands its node back with one CAS (the
    // ping-pong case: every wait reuses it), the lock's pool takes the rest.
    private KernelWaitNode? _spare;
    private bool _signaled;
    private int _waiters;

    public Waker(bool initiallySignaled = false) => _signaled = initiallySignaled;

    /// <summary>Whether a wake is pending (no waiter consumed it yet).</summary>
    public bool IsSignaled { get { lock (_lock) return _signaled; } }

    /// <summary>Tasks currently waiting.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>
    /// Completes when woken (consuming the wake); canceled with <see cref="OperationCanceledException"/> if
    /// <paramref name="cancellationToken"/> fires first. A canceled wait never consumes a wake. Await the result once
    /// (or call <see cref="ValueTask.AsTask"/> once), as with any <see cref="ValueTask"/>.
    /// </summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        var owner = KernelTask.Current;
        WaitNode node;
        lock (_lock)
        {
            if (_signaled) { _signaled = false; return ValueTask.CompletedTask; }
            if (owner is null) node = new TaskWaitNode(this);
            else if (Volatile.Read(ref _spare) is { } spare)
            {
                // Only a holder of the lock empties the spare slot, and Return fills it only while empty (CAS), so
                // nothing can be stored there between this read and this write.
                Volatile.Write(ref _spare, null);
                node = spare;
            }
            else if (_pool is { } pooled) { _pool = pooled.NextFree; pooled.NextFree = null; _pooled--; node = pooled; }
            else node = new KernelWaitNode(this);
            node.Prev = _tail;
            if (_tail is null) _head = node; else _tail.Next = node;
            _tail = node;
            node.Linked = true;
            _waiters++;
        }
        InterleavingSeam.Point(); // a Wake or a cancellation may land before the registration below
        return node.Start(owner, cancellationToken);
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
        node.Complete(canceled: false); // the continuation is queued on the waiter's CPU, never run on this thread
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
            list.Complete(canceled: false);
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
        node.Complete(canceled: true);
    }

    private void Unlink(WaitNode node)
    {
        if (node.Prev is null) _head = node.Next; else node.Prev.Next = node.Next;
        if (node.Next is null) _tail = node.Prev; else node.Next.Prev = node.Prev;
        node.Next = node.Prev = null;
        node.Linked = false;
        _waiters--;
    }

    private void Return(KernelWaitNode node)
    {
        if (Interlocked.CompareExchange(ref _spare, node, null) is null) return;
        lock (_lock)
        {
            if (_pooled >= MaxPooled) return;
            node.NextFree = _pool;
            _pool = node;
            _pooled++;
        }
    }

    /// <summary>One wait in the FIFO. Linked, Next and Prev are guarded by the waker's lock; whoever unlinks the node
    /// (a wake or its cancellation) is the only party that completes it.</summary>
    private abstract class WaitNode(Waker owner)
    {
        public readonly Waker Owner = owner;
        public WaitNode? Next, Prev;
        public bool Linked;

        public abstract ValueTask Start(KernelTask? owner, CancellationToken ct);
        public abstract void Complete(bool canceled);

        protected static readonly Action<object?> s_cancel = static s => ((WaitNode)s!).Owner.CancelWait((WaitNode)s!);
    }

    /// <summary>A wait from outside kernel tasks: a promise with asynchronous continuations (thread pool or the
    /// caller's context), as any host code expects.</summary>
    private sealed class TaskWaitNode(Waker owner) : WaitNode(owner)
    {
        private readonly TaskCompletionSource _promise = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;

        public override ValueTask Start(KernelTask? owner, CancellationToken ct)
        {
            if (ct.CanBeCanceled)
            {
                _token = ct;
                _registration = ct.UnsafeRegister(s_cancel, this);
            }
            return new ValueTask(_promise.Task);
        }

        public override void Complete(bool canceled)
        {
            if (canceled) { _promise.TrySetCanceled(_token); return; }
            _registration.Unregister();
            _promise.TrySetResult();
        }
    }

    /// <summary>
    /// A wait from a kernel task, reused from one wait to the next (nothing allocated per wait). Completion queues the
    /// node itself on the task's kernel CPU, where the continuation runs under the task's context
    /// (<see cref="KernelWaitCore"/>: the state machine it shares with IPC's parked receive).
    /// </summary>
    private sealed class KernelWaitNode(Waker owner) : WaitNode(owner), IValueTaskSource, IKernelWaiter
    {
        public KernelWaitNode? NextFree;
        private KernelWaitCore _core;
        private bool _canceled;
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;

        public ref KernelWaitCore Core => ref _core;

        public override ValueTask Start(KernelTask? owner, CancellationToken ct)
        {
            _core.Begin(owner!);
            if (ct.CanBeCanceled)
            {
                _token = ct;
                // Registered after linking: a token cancelled by now runs the callback at once, which finds the node linked.
                _registration = ct.UnsafeRegister(s_cancel, this);
            }
            return new ValueTask(this, _core.Version);
        }

        // The registration is released when the result is read, on the waiting task's CPU (the thread that wrote it).
        public override void Complete(bool canceled)
        {
            _canceled = canceled;
            _core.Publish(this);
        }

        /// <summary>On the owner's kernel CPU, its context installed.</summary>
        public void Execute() => _core.RunOnThisCpu(this);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token, _canceled);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            if (_core.OnCompleted(continuation, state, token, flags)) _core.Dispatch(this);
        }

        public void GetResult(short token)
        {
            _core.CheckReadable(token);
            bool canceled = _canceled;
            var ct = _token;
            Recycle();
            if (canceled) throw new OperationCanceledException(ct);
        }

        private void Recycle()
        {
            // Dispose waits for a cancellation callback that is running, so none reaches this node once it is reused.
            _registration.Dispose();
            _registration = default;
            _token = default;
            _canceled = false;
            _core.Reset();
            Owner.Return(this);
        }
    }
}
