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
/// A FIFO of work items for one priority: a queue of fixed-size segments behind a lock. The owning CPU pops from the
/// front and so do thieves (oldest first keeps stolen work fair). Locks are uncontended unless someone is stealing.
/// Segments, not one growable array: a burst (a million spawns into the shared injection queue) links a segment per
/// <see cref="SegmentSlots"/> references and recycles each as it drains (up to <see cref="MaxFreeSegments"/> kept), so a
/// burst allocates about its peak depth once — no array regrown through every doubling and copied, on the
/// large-object heap — and a CPU going idle drops the kept segments (no peak pinned after the burst).
/// <para>
/// A segment holds references, not <see cref="WorkItem"/>s: a kernel task's first run (callback and owner the task, no
/// state — every spawn) takes one slot, 8 bytes, and any other item three (callback, state, owner). A callback is never
/// a <see cref="KernelTask"/> otherwise, so the first slot of an entry tells its length. A spawn's slot was 24 bytes
/// written and cleared as three references; a backlog of a million spawns allocated 24 MB of segments for them.
/// A three-slot entry never straddles two segments: the unused slots it leaves at a segment's end stay null, and a
/// null where an entry should start means "the rest of this segment is unused".
/// </para>
/// </summary>
internal sealed class RunLane
{
    /// <summary>References per segment: 6 KiB, under the large-object threshold (85,000 B); 768 spawns or 256 other items.</summary>
    internal const int SegmentSlots = 768;
    /// <summary>Items of three slots (anything but a spawn's first run) that fill one segment.</summary>
    internal const int SegmentSize = SegmentSlots / 3;
    private readonly Lock _lock = new();
    /// <summary>Drained segments kept for reuse (384 KiB of slots at most per lane) until the CPU goes idle: a depth
    /// that rises and falls within a burst reuses them instead of allocating on every rise.</summary>
    internal const int MaxFreeSegments = 64;
    private Segment _head = new(), _tail;
    private int _headIndex, _tailIndex; // next slot to take in _head; next free slot in _tail
    private Segment? _free; // drained segments, linked through Next
    private int _freeCount;
    private int _count; // items, not slots

    private sealed class Segment
    {
        public readonly object?[] Slots = new object?[SegmentSlots];
        public Segment? Next;
    }

    public RunLane() => _tail = _head;

    /// <summary>Drained segments kept for the next rise (racy; a test's view of what an idle CPU trims).</summary>
    internal int KeptSegments => Volatile.Read(ref _freeCount);

    /// <summary>Racy length for cheap emptiness checks; exact under the lock.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Push(in WorkItem item)
    {
        lock (_lock)
        {
            Append(in item);
            Volatile.Write(ref _count, _count + 1);
        }
    }

    /// <summary>Appends <paramref name="items"/> under one lock acquisition (a stolen batch).</summary>
    public void PushRange(ReadOnlySpan<WorkItem> items)
    {
        if (items.IsEmpty) return;
        lock (_lock)
        {
            foreach (ref readonly var item in items) Append(in item);
            Volatile.Write(ref _count, _count + items.Length);
        }
    }

    public bool TryPop(out WorkItem item)
    {
        if (Volatile.Read(ref _count) == 0) { item = default; return false; }
        lock (_lock)
        {
            if (_count == 0) { item = default; return false; }
            item = TakeHead();
            Volatile.Write(ref _count, _count - 1);
            return true;
        }
    }

    /// <summary>The owner of <paramref name="ring"/>, with nothing queued behind the ring elsewhere: takes the oldest
    /// item and moves the next ones, as many as the ring has room for and at most <paramref name="max"/> items in all,
    /// into it (one lock round trip per batch, oldest first). Each moved item is written once, into its ring slot: no
    /// staging array between the lanes.</summary>
    public bool TakeRefilling(out WorkItem item, RunRing ring, int max = int.MaxValue)
    {
        if (Volatile.Read(ref _count) == 0) { item = default; return false; }
        lock (_lock)
        {
            if (_count == 0) { item = default; return false; }
            item = TakeHead();
            int n = Math.Min(Math.Min(_count - 1, ring.Free), max - 1);
            for (int i = 0; i < n; i++) ring.WriteAppended(i, TakeHead());
            ring.PublishAppended(n); // before the count drops, so a racy look at both never misses the moved items
            Volatile.Write(ref _count, _count - 1 - n);
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
            for (int i = 0; i < n; i++) into[i] = TakeHead();
            Volatile.Write(ref _count, _count - n);
            return n;
        }
    }

    /// <summary>Going idle: a burst is over, so the drained segments kept for it go.</summary>
    public void TrimIfIdle()
    {
        if (Volatile.Read(ref _free) is null) return;
        lock (_lock)
        {
            _free = null;
            _freeCount = 0;
        }
    }

    /// <summary>Removes and returns everything (shutdown).</summary>
    public WorkItem[] Drain()
    {
        lock (_lock)
        {
            var all = new WorkItem[_count];
            for (int i = 0; i < all.Length; i++) all[i] = TakeHead();
            Volatile.Write(ref _count, 0);
            return all;
        }
    }

    /// <summary>Under the lock: writes <paramref name="item"/> at the tail (one slot for a spawn's first run, three
    /// for anything else), linking a segment when the tail has no room for it.</summary>
    private void Append(in WorkItem item)
    {
        if (item.Callback is KernelTask task)
        {
            System.Diagnostics.Debug.Assert(item.State is null && ReferenceEquals(item.Owner, task), "a task's callback is only its first run");
            if (_tailIndex == SegmentSlots) LinkSegment();
            _tail.Slots[_tailIndex++] = task;
            return;
        }
        if (_tailIndex > SegmentSlots - 3) LinkSegment(); // the slots left stay null: the reader skips them
        var slots = _tail.Slots;
        slots[_tailIndex] = item.Callback;
        slots[_tailIndex + 1] = item.State;
        slots[_tailIndex + 2] = item.Owner;
        _tailIndex += 3;
    }

    private void LinkSegment()
    {
        var next = _free;
        if (next is null) next = new Segment();
        else
        {
            _free = next.Next;
            _freeCount--;
            next.Next = null;
        }
        _tail.Next = next;
        _tail = next;
        _tailIndex = 0;
    }

    /// <summary>Under the lock, with an item queued: takes the head item (its slots cleared in place, so the queue holds
    /// no reference to finished work); an emptied head segment is unlinked, and an emptied queue starts its segment over.</summary>
    private WorkItem TakeHead()
    {
        var slots = _head.Slots;
        if (_headIndex == SegmentSlots || slots[_headIndex] is null) // the end of a segment, or its unused rest
        {
            NextHeadSegment();
            slots = _head.Slots;
        }
        WorkItem item;
        if (slots[_headIndex] is KernelTask task)
        {
            item = new WorkItem(task, null, task);
            slots[_headIndex++] = null;
        }
        else
        {
            item = new WorkItem(slots[_headIndex]!, slots[_headIndex + 1], (KernelTask?)slots[_headIndex + 2]);
            slots[_headIndex] = null;
            slots[_headIndex + 1] = null;
            slots[_headIndex + 2] = null;
            _headIndex += 3;
        }
        if (_head == _tail && _headIndex == _tailIndex) _headIndex = _tailIndex = 0; // empty: reuse the one segment from its start
        return item;
    }

    /// <summary>Under the lock: the head segment is done (the item queued next is in the one after it).</summary>
    private void NextHeadSegment()
    {
        var drained = _head;
        _head = drained.Next!;
        _headIndex = 0;
        drained.Next = null;
        if (_freeCount < MaxFreeSegments)
        {
            drained.Next = _free;
            _free = drained;
            _freeCount++;
        }
    }
}
