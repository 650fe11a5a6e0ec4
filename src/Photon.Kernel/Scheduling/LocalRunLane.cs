namespace Photon.Kernel.Scheduling;

/// <summary>
/// One CPU's run lane for one priority: a lock-free <see cref="RunRing"/> in front of a locked overflow
/// <see cref="RunLane"/>. Only the owning CPU pushes (its spawns, wake-ups, stolen and injected batches): into the ring
/// while the overflow is empty and the ring has room, else into the overflow, so every item in the ring is older than
/// every item in the overflow and the owner's order stays FIFO. The owner refills the empty ring from the overflow's
/// front. Thieves take from the ring and, when it is empty, from the overflow. A short burst (a wake-up, a few
/// spawns) never touches a lock; a deep one (a million spawns from one kernel task) costs the overflow's lock per
/// push, as before.
/// </summary>
internal sealed class LocalRunLane
{
    private readonly RunRing _ring;
    private readonly RunLane _overflow = new(singleProducer: true);

    public LocalRunLane(int ringCapacity = RunRing.DefaultCapacity) => _ring = new RunRing(ringCapacity);

    /// <summary>Racy length for cheap emptiness checks.</summary>
    public int Count => _ring.Count + _overflow.Count;

    /// <summary>Racy length of the ring alone.</summary>
    public int RingCount => _ring.Count;

    /// <summary>Owner only.</summary>
    public void Push(in WorkItem item)
    {
        // Others only ever take from the overflow, so an empty one seen here stays empty until this CPU pushes.
        if (_overflow.Count == 0 && _ring.TryPush(in item)) return;
        _overflow.Push(in item);
    }

    /// <summary>Owner only: appends a batch (stolen or injected), the ring first while the overflow is empty.</summary>
    public void PushRange(ReadOnlySpan<WorkItem> items)
    {
        if (items.IsEmpty) return;
        int n = _overflow.Count == 0 ? _ring.TryPushRange(items) : 0;
        if (n < items.Length) _overflow.PushRange(items[n..]);
    }

    /// <summary>Owner only: the oldest item; an empty ring is refilled from the overflow's front first.</summary>
    public bool TryPop(out WorkItem item)
    {
        if (_ring.TryPop(out item)) return true;
        if (_overflow.Count == 0) return false;
        return _overflow.TakeRefilling(out item, _ring);
    }

    /// <summary>Owner only: takes a batch of up to <paramref name="max"/> items from the front of <paramref name="shared"/>
    /// (the shared injection queue): the first to run now, the rest moved straight into the ring behind what it holds.
    /// False, taking nothing, when the overflow holds items (they must stay ahead of the batch) or the shared lane is
    /// empty: the caller then takes the batch the old way, through a staging array.</summary>
    public bool TryTakeBatch(RunLane shared, int max, out WorkItem item)
    {
        if (_overflow.Count != 0) { item = default; return false; }
        return shared.TakeRefilling(out item, _ring, max);
    }

    /// <summary>Owner only, as a thief of <paramref name="victim"/> whose ring is empty (its owner is busy, e.g. a
    /// kernel task spawning past it): up to half of the victim's overflow, at most <paramref name="max"/> items, the
    /// first to run now and the rest moved straight into this lane's ring (each written once, under the victim's take
    /// lock: no staging array). False, taking nothing, when the victim's ring holds items (a thief takes those first),
    /// its overflow is empty, or this lane's overflow holds items (they must stay ahead of the batch).</summary>
    public bool TryStealOverflowInto(LocalRunLane victim, int max, out WorkItem item)
    {
        int queued = victim._overflow.Count;
        if (queued == 0 || victim._ring.Count != 0 || _overflow.Count != 0) { item = default; return false; }
        return victim._overflow.TakeRefilling(out item, _ring, Math.Min(max, (queued + 1) / 2));
    }

    /// <summary>Any CPU: up to half of the ring's items, or of the overflow's when the ring is empty.</summary>
    public int StealHalf(WorkItem[] into, int max)
    {
        int got = _ring.StealHalf(into, max);
        return got > 0 ? got : _overflow.StealHalf(into, max);
    }

    /// <summary>Owner only, going idle.</summary>
    public void TrimIfIdle()
    {
        _ring.ClearIfEmpty();
        _overflow.TrimIfIdle();
    }

    /// <summary>Removes and returns everything (shutdown: no CPU runs any more).</summary>
    public WorkItem[] Drain()
    {
        var ring = new List<WorkItem>();
        while (_ring.TryPop(out var item)) ring.Add(item);
        return [.. ring, .. _overflow.Drain()];
    }
}
