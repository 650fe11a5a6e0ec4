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
/// A FIFO of work items for one priority: a queue of fixed-size segments. A CPU's own overflow lane has one producer,
/// that CPU, which appends without any lock and publishes each item with one release store of the pushed count, while
/// consumers (the owning CPU and thieves) take from the front under the take lock, oldest first: a kernel task spawning
/// past its ring no longer takes a lock per spawn, nor waits for a thief's batch. A lane with many producers (the
/// shared injection queue) has them append under the consumers' lock, as before (see the constructor for why).
/// Segments, not one growable array: a burst (a million spawns into the shared injection queue) links a segment per
/// <see cref="SegmentSlots"/> references and recycles each as it drains (up to <see cref="MaxFreeSegments"/> kept), so a
/// burst allocates about its peak depth once — no array regrown through every doubling and copied, on the
/// large-object heap — and a CPU going idle drops the kept segments but one (no peak pinned after the burst).
/// <para>
/// A segment holds references, not <see cref="WorkItem"/>s: a kernel task's first run (callback and owner the task, no
/// state — every spawn) takes one slot, 8 bytes, and any other item three (callback, state, owner). A callback is never
/// a <see cref="KernelTask"/> otherwise, so the first slot of an entry tells its length. A spawn's slot was 24 bytes
/// written and cleared as three references; a backlog of a million spawns allocated 24 MB of segments for them.
/// A three-slot entry never straddles two segments: the unused slots it leaves at a segment's end stay null, and a
/// null where an entry should start means "the rest of this segment is unused".
/// </para>
/// <para>
/// Publication: a producer writes an entry's slots (and links a new segment, when it needs one) with plain stores, then
/// raises <see cref="_pushed"/> with a release store; a consumer reads the pushed count (acquire) before it reads any
/// slot or link, so it only ever reads entries whose writes it sees. The producer never writes a segment again once it
/// linked the next one, and a consumer recycles a segment only after it left it, so the two sides never write the same
/// slot; the list of drained segments between them has its own lock, taken once per segment.
/// </para>
/// </summary>
internal sealed class RunLane
{
    /// <summary>References per segment: 6 KiB, under the large-object threshold (85,000 B); 768 spawns or 256 other items.</summary>
    internal const int SegmentSlots = 768;
    /// <summary>Items of three slots (anything but a spawn's first run) that fill one segment.</summary>
    internal const int SegmentSize = SegmentSlots / 3;
    /// <summary>Drained segments kept for reuse (384 KiB of slots at most per lane) until the CPU goes idle: a depth
    /// that rises and falls within a burst reuses them instead of allocating on every rise.</summary>
    internal const int MaxFreeSegments = 64;
    /// <summary>Drained segments an idle CPU leaves kept: a shallow queue cycles through two segments without
    /// allocating (the producer fills one while the consumers finish the other).</summary>
    internal const int IdleFreeSegments = 1;

    private readonly int _segmentSlots;
    private readonly Lock? _pushLock; // null: one producer only (a CPU's own overflow lane); else the take lock
    private readonly Lock _takeLock = new();
    private readonly Lock _freeLock = new();
    // Producer side: written under the push lock (or by the one producer).
    private Segment _tail;
    private int _tailIndex; // next free slot in _tail
    private PaddedCounter _pushed; // items appended: raised (release) after their slots are written
    // Consumer side: written under the take lock.
    private Segment _head;
    private int _headIndex; // next slot to take in _head
    private PaddedCounter _taken; // items taken
    // Drained segments, linked through Next: under the free lock.
    private Segment? _free;
    private int _freeCount;

    private sealed class Segment(int slots)
    {
        public readonly object?[] Slots = new object?[slots];
        public Segment? Next;
    }

    /// <param name="singleProducer">Only one thread ever pushes (a CPU's overflow lane): pushes take no lock.</param>
    /// <param name="segmentSlots">References per segment (tests use small segments to cross their ends often).</param>
    public RunLane(bool singleProducer = false, int segmentSlots = SegmentSlots)
    {
        if (segmentSlots < 3) throw new ArgumentOutOfRangeException(nameof(segmentSlots));
        _segmentSlots = segmentSlots;
        // Many producers share the consumers' lock: spawners from outside then wait while a CPU takes a batch, which
        // keeps a burst's backlog (and the tasks the pool cannot supply for it) small. Given a lock of their own,
        // they ran ahead: the backlog of a 1M burst from outside rose from 0–24% to 25–59% of it, and its CPU per spawn
        // by a fifth (fresh tasks past the pool's bound, their collections, cold objects on the CPUs).
        if (!singleProducer) _pushLock = _takeLock;
        _head = _tail = new Segment(segmentSlots);
    }

    /// <summary>Drained segments kept for the next rise (racy; a test's view of what an idle CPU trims).</summary>
    internal int KeptSegments => Volatile.Read(ref _freeCount);

    /// <summary>Racy length for cheap emptiness checks (never negative: taken is read before pushed); exact when no
    /// one pushes or takes meanwhile.</summary>
    public int Count
    {
        get
        {
            long taken = Volatile.Read(ref _taken.Value);
            return (int)(Volatile.Read(ref _pushed.Value) - taken);
        }
    }

    public void Push(in WorkItem item)
    {
        if (_pushLock is null) { Append(in item); Publish(1); return; }
        lock (_pushLock)
        {
            Append(in item);
            Publish(1);
        }
    }

    /// <summary>Appends <paramref name="items"/> with one publication (a stolen or injected batch).</summary>
    public void PushRange(ReadOnlySpan<WorkItem> items)
    {
        if (items.IsEmpty) return;
        if (_pushLock is null) { AppendAll(items); return; }
        lock (_pushLock) AppendAll(items);
    }

    private void AppendAll(ReadOnlySpan<WorkItem> items)
    {
        foreach (ref readonly var item in items) Append(in item);
        Publish(items.Length);
    }

    /// <summary>Producer: makes the entries appended since the last publication visible to consumers (release).</summary>
    private void Publish(int count) => Volatile.Write(ref _pushed.Value, _pushed.Value + count);

    /// <summary>Consumer, under the take lock: items published and not yet taken (acquire: their slots are visible).</summary>
    private int Available => (int)(Volatile.Read(ref _pushed.Value) - _taken.Value);

    /// <summary>Consumer, under the take lock: <paramref name="count"/> items were taken.</summary>
    private void Took(int count) => Volatile.Write(ref _taken.Value, _taken.Value + count);

    public bool TryPop(out WorkItem item)
    {
        if (Count == 0) { item = default; return false; }
        lock (_takeLock)
        {
            if (Available == 0) { item = default; return false; }
            item = TakeHead();
            Took(1);
            return true;
        }
    }

    /// <summary>The owner of <paramref name="ring"/>, with nothing queued behind the ring elsewhere: takes the oldest
    /// item and moves the next ones, as many as the ring has room for and at most <paramref name="max"/> items in all,
    /// into it (one lock round trip per batch, oldest first). Each moved item is written once, into its ring slot: no
    /// staging array between the lanes.</summary>
    public bool TakeRefilling(out WorkItem item, RunRing ring, int max = int.MaxValue)
    {
        if (Count == 0) { item = default; return false; }
        lock (_takeLock)
        {
            int available = Available;
            if (available == 0) { item = default; return false; }
            item = TakeHead();
            int n = Math.Min(Math.Min(available - 1, ring.Free), max - 1);
            for (int i = 0; i < n; i++) ring.WriteAppended(i, TakeHead());
            ring.PublishAppended(n); // before the count drops, so a racy look at both never misses the moved items
            Took(1 + n);
            return true;
        }
    }

    /// <summary>Takes up to half of the items (at most <paramref name="max"/>) from the front; returns how many.</summary>
    public int StealHalf(WorkItem[] into, int max)
    {
        if (Count == 0) return 0;
        lock (_takeLock)
        {
            int n = Math.Min(Math.Min((Available + 1) / 2, max), into.Length);
            for (int i = 0; i < n; i++) into[i] = TakeHead();
            Took(n);
            return n;
        }
    }

    /// <summary>Going idle: a burst is over, so the drained segments kept for it go (but <see cref="IdleFreeSegments"/>).</summary>
    public void TrimIfIdle()
    {
        if (Volatile.Read(ref _freeCount) <= IdleFreeSegments) return;
        lock (_freeLock)
        {
            while (_freeCount > IdleFreeSegments)
            {
                var dropped = _free!;
                _free = dropped.Next;
                dropped.Next = null;
                _freeCount--;
            }
        }
    }

    /// <summary>Removes and returns everything (shutdown; a single-producer lane's producer must have stopped).</summary>
    public WorkItem[] Drain()
    {
        lock (_takeLock) // the producers' lock too, when there may be more than one
        {
            var all = new WorkItem[Available];
            for (int i = 0; i < all.Length; i++) all[i] = TakeHead();
            Took(all.Length);
            return all;
        }
    }

    /// <summary>Producer: writes <paramref name="item"/> at the tail (one slot for a spawn's first run, three for
    /// anything else), linking a segment when the tail has no room for it. Published by the caller.</summary>
    private void Append(in WorkItem item)
    {
        if (item.Callback is KernelTask task)
        {
            System.Diagnostics.Debug.Assert(item.State is null && ReferenceEquals(item.Owner, task), "a task's callback is only its first run");
            if (_tailIndex == _segmentSlots) LinkSegment();
            _tail.Slots[_tailIndex++] = task;
            return;
        }
        if (_tailIndex > _segmentSlots - 3) LinkSegment(); // the slots left stay null: the reader skips them
        var slots = _tail.Slots;
        slots[_tailIndex] = item.Callback;
        slots[_tailIndex + 1] = item.State;
        slots[_tailIndex + 2] = item.Owner;
        _tailIndex += 3;
    }

    /// <summary>Producer: moves the tail to a new segment (a drained one when kept). The old tail is never written
    /// again; the link is published with the next entry.</summary>
    private void LinkSegment()
    {
        Segment? next = null;
        if (Volatile.Read(ref _freeCount) > 0)
        {
            lock (_freeLock)
            {
                next = _free;
                if (next is not null)
                {
                    _free = next.Next;
                    _freeCount--;
                    next.Next = null;
                }
            }
        }
        next ??= new Segment(_segmentSlots);
        _tail.Next = next;
        _tail = next;
        _tailIndex = 0;
    }

    /// <summary>Consumer, under the take lock, with an item published: takes the head item (its slots cleared in place,
    /// so the queue holds no reference to finished work), moving to the next segment at the end of one.</summary>
    private WorkItem TakeHead()
    {
        var slots = _head.Slots;
        if (_headIndex == _segmentSlots || slots[_headIndex] is null) // the end of a segment, or its unused rest
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
        return item;
    }

    /// <summary>Consumer, under the take lock: the head segment is done (the item published next is in the one after
    /// it, so the producer linked it and will not write the drained one again); keep it for the producer's next link.</summary>
    private void NextHeadSegment()
    {
        var drained = _head;
        _head = drained.Next!;
        _headIndex = 0;
        drained.Next = null;
        lock (_freeLock)
        {
            if (_freeCount >= MaxFreeSegments) return; // left to the GC
            drained.Next = _free;
            _free = drained;
            _freeCount++;
        }
    }
}
