namespace Photon.Kernel.Scheduling;

/// <summary>
/// One queued unit of work. <see cref="Callback"/> is a <see cref="KernelTask"/> (first run of its body), a
/// <see cref="Task"/> (queued through the kernel <see cref="TaskScheduler"/>), a <see cref="SendOrPostCallback"/>
/// (an <c>await</c> continuation posted to a task's <see cref="SynchronizationContext"/>), an <see cref="Action"/>
/// (a yield continuation) or an <see cref="IKernelWorkItem"/> (a pooled waiter queueing itself). A struct, so queueing a continuation allocates nothing.
/// </summary>
internal readonly struct WorkItem(object callback, object? state, KernelTask? owner)
{
    public readonly object Callback = callback;
    public readonly object? State = state;
    /// <summary>The kernel task this work belongs to (its priority, name and context), if any.</summary>
    public readonly KernelTask? Owner = owner;
}

/// <summary>
/// A FIFO of work items for one priority: a growable ring buffer behind a lock. The owning CPU pops from the front and
/// so do thieves (oldest first keeps stolen work fair). Locks are uncontended unless someone is stealing.
/// </summary>
internal sealed class RunLane
{
    private const int InitialCapacity = 64;
    private const int ShrinkAbove = 4096;
    private readonly Lock _lock = new();
    private WorkItem[] _items = new WorkItem[InitialCapacity];
    private int _head;
    private int _count;

    /// <summary>Racy length for cheap emptiness checks; exact under the lock.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Push(in WorkItem item)
    {
        lock (_lock)
        {
            if (_count == _items.Length) Grow();
            _items[(_head + _count) & (_items.Length - 1)] = item;
            Volatile.Write(ref _count, _count + 1);
        }
    }

    /// <summary>Appends <paramref name="items"/> under one lock acquisition (a stolen batch).</summary>
    public void PushRange(ReadOnlySpan<WorkItem> items)
    {
        if (items.IsEmpty) return;
        lock (_lock)
        {
            while (_count + items.Length > _items.Length) Grow();
            foreach (ref readonly var item in items)
            {
                _items[(_head + _count) & (_items.Length - 1)] = item;
                _count++;
            }
            Volatile.Write(ref _count, _count);
        }
    }

    public bool TryPop(out WorkItem item)
    {
        if (Volatile.Read(ref _count) == 0) { item = default; return false; }
        lock (_lock)
        {
            if (_count == 0) { item = default; return false; }
            item = _items[_head];
            _items[_head] = default;
            _head = (_head + 1) & (_items.Length - 1);
            Volatile.Write(ref _count, _count - 1);
            // A burst (a million spawns) must not pin a huge array for the rest of the run.
            if (_count == 0 && _items.Length > ShrinkAbove) { _items = new WorkItem[InitialCapacity]; _head = 0; }
            return true;
        }
    }

    /// <summary>Takes up to half of the items (at most <paramref name="max"/>) from the front; returns how many.</summary>
    public int StealHalf(WorkItem[] into, int max)
    {
        if (Volatile.Read(ref _count) == 0) return 0;
        lock (_lock)
        {
            int n = Math.Min(Math.Min((_count + 1) / 2, max), into.Length);
            for (int i = 0; i < n; i++)
            {
                into[i] = _items[_head];
                _items[_head] = default;
                _head = (_head + 1) & (_items.Length - 1);
            }
            Volatile.Write(ref _count, _count - n);
            return n;
        }
    }

    /// <summary>
    /// Drops a grown array once the lane is empty; called by a CPU about to park. The shared injection queue is only
    /// emptied by batch takes, which never shrink it (shrinking there reallocated the array through every doubling
    /// each time a million-spawn burst momentarily drained it: +33 B per spawn), so a burst of spawns from outside
    /// pinned its peak array (24 B a slot) until now. Trimming when idle keeps the burst fast and frees the memory.
    /// </summary>
    public void TrimIfIdle()
    {
        if (Volatile.Read(ref _count) != 0 || Volatile.Read(ref _items).Length <= ShrinkAbove) return;
        lock (_lock)
        {
            if (_count == 0 && _items.Length > ShrinkAbove) { _items = new WorkItem[InitialCapacity]; _head = 0; }
        }
    }

    /// <summary>Removes and returns everything (shutdown).</summary>
    public WorkItem[] Drain()
    {
        lock (_lock)
        {
            var all = new WorkItem[_count];
            for (int i = 0; i < _count; i++) all[i] = _items[(_head + i) & (_items.Length - 1)];
            _items = new WorkItem[InitialCapacity];
            _head = 0;
            Volatile.Write(ref _count, 0);
            return all;
        }
    }

    private void Grow()
    {
        var bigger = new WorkItem[_items.Length * 2];
        for (int i = 0; i < _count; i++) bigger[i] = _items[(_head + i) & (_items.Length - 1)];
        _items = bigger;
        _head = 0;
    }
}
