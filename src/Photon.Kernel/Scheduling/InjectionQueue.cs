namespace Photon.Kernel.Scheduling;

/// <summary>
/// The shared queue of kernel tasks' first runs for one priority, intrusive (a task is its own node, linked through
/// <see cref="KernelTask.NextInjected"/>: no queue slot or segment per spawn). Spawners from outside the CPUs, and a
/// CPU whose ring is full, push with one compare-and-swap onto a lock-free stack (no lock on the spawn path); a CPU
/// takes a batch under a lock, first moving the whole stack, reversed into spawn order, onto the FIFO chain it takes
/// from. So a burst of a million spawns costs one CAS per spawn and one lock round trip per batch of first runs.
/// </summary>
internal sealed class InjectionQueue
{
    private KernelTask? _pushed; // newest first; producers CAS, a taker swaps it out whole
    private readonly Lock _lock = new();
    private KernelTask? _head, _tail; // spawn order, under the lock
    private int _count; // tasks on the chain (written under the lock)

    /// <summary>Racy: a non-empty stack counts as one.</summary>
    public int Count => Volatile.Read(ref _count) + (Volatile.Read(ref _pushed) is null ? 0 : 1);

    /// <summary>Any thread: queues <paramref name="task"/>'s first run. True if the stack was empty, i.e. this push
    /// starts a burst (a CPU must be told; for the rest of the burst whoever takes the stack takes this task too).</summary>
    public bool Push(KernelTask task)
    {
        var head = Volatile.Read(ref _pushed);
        while (true)
        {
            task.NextInjected = head;
            var seen = Interlocked.CompareExchange(ref _pushed, task, head); // full fence: publishes the task's fields
            if (ReferenceEquals(seen, head)) return head is null;
            head = seen;
        }
    }

    /// <summary>Takes up to <paramref name="max"/> first runs (at most a <paramref name="shares"/>-th of the backlog,
    /// at least one) in spawn order, as a detached chain; returns its first task (null if none) and its length.</summary>
    public KernelTask? TakeBatch(int max, int shares, out int count)
    {
        count = 0;
        if (Count == 0) return null;
        lock (_lock)
        {
            if (_count < max) MoveStack();
            if (_count == 0) return null;
            int n = Math.Min(max, Math.Max(1, _count / shares));
            var first = _head!;
            var last = first;
            for (int i = 1; i < n; i++) last = last.NextInjected!;
            _head = last.NextInjected;
            if (_head is null) _tail = null;
            last.NextInjected = null;
            Volatile.Write(ref _count, _count - n);
            count = n;
            return first;
        }
    }

    /// <summary>Removes and returns every queued task (shutdown: they are canceled).</summary>
    public List<KernelTask> Drain()
    {
        var all = new List<KernelTask>();
        lock (_lock)
        {
            MoveStack();
            for (var t = _head; t is not null;)
            {
                var next = t.NextInjected;
                t.NextInjected = null;
                all.Add(t);
                t = next;
            }
            _head = _tail = null;
            Volatile.Write(ref _count, 0);
        }
        return all;
    }

    /// <summary>Under the lock: appends the pushed stack, reversed into spawn order, to the chain.</summary>
    private void MoveStack()
    {
        var stack = Interlocked.Exchange(ref _pushed, null);
        if (stack is null) return;
        KernelTask? reversed = null;
        var last = stack; // the stack's top is the newest push: the tail once reversed
        int n = 0;
        while (stack is not null)
        {
            var next = stack.NextInjected;
            stack.NextInjected = reversed;
            reversed = stack;
            stack = next;
            n++;
        }
        if (_tail is null) _head = reversed; else _tail.NextInjected = reversed;
        _tail = last;
        Volatile.Write(ref _count, _count + n);
    }
}
