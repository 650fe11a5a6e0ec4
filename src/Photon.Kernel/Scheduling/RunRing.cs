namespace Photon.Kernel.Scheduling;

/// <summary>
/// A CPU's lock-free run ring (Go's per-P <c>runq</c>): a fixed ring of work items that only the owning CPU pushes
/// (plain slot write, then a release store of the tail: no atomic instruction) and that the owner and thieves take
/// from the front with one compare-and-swap of the head. A taker reads the slot first and then claims it by moving the
/// head: the owner overwrites a slot only after the head has moved past it, so a taker whose read raced that write
/// fails its CAS and retries (a torn read of the three references is never used). Item order is FIFO.
/// <para>
/// A taken slot keeps its (finished) item until the owner writes the slot again or clears the ring when idle
/// (<see cref="ClearIfEmpty"/>): a taker cannot clear it, since by then the owner may already be reusing it.
/// </para>
/// <para>
/// No interleaving seam points: its volatile and atomic accesses are the points Coyote interleaves in the ring's own
/// race tests, and in the scheduler's park-protocol tests the extra points only multiplied every path's length (those
/// tests explored 12 paths in 30 s instead of 334).
/// </para>
/// </summary>
internal sealed class RunRing
{
    /// <summary>Slots per ring (a power of two): 6 KiB, allocated once per CPU and priority.</summary>
    internal const int DefaultCapacity = 256;
    private readonly WorkItem[] _slots;
    private readonly uint _mask;
    private uint _head; // next to take; moved by CAS (owner and thieves)
    private uint _tail; // next free slot; written by the owner only
    private uint _clean; // owner only: every slot from here up to the tail may hold an item (those before it are cleared)

    public RunRing(int capacity = DefaultCapacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(capacity));
        _slots = new WorkItem[capacity];
        _mask = (uint)capacity - 1;
    }

    public int Capacity => _slots.Length;

    /// <summary>Racy length (exact when only the owner runs). Head is read first, so it never exceeds the tail read after it.</summary>
    public int Count
    {
        get
        {
            uint head = Volatile.Read(ref _head);
            uint tail = Volatile.Read(ref _tail);
            return (int)(tail - head);
        }
    }

    /// <summary>Owner only: appends <paramref name="item"/>, or returns false when the ring is full.</summary>
    public bool TryPush(in WorkItem item)
    {
        uint tail = _tail;
        if (tail - Volatile.Read(ref _head) >= (uint)_slots.Length) return false;
        _slots[tail & _mask] = item;
        Volatile.Write(ref _tail, tail + 1); // publishes the slot to takers (release)
        return true;
    }

    /// <summary>Owner only: appends as many of <paramref name="items"/> as fit, in order, with one tail publication;
    /// returns how many.</summary>
    public int TryPushRange(ReadOnlySpan<WorkItem> items)
    {
        uint tail = _tail;
        uint free = (uint)_slots.Length - (tail - Volatile.Read(ref _head));
        int n = (int)Math.Min(free, (uint)items.Length);
        for (int i = 0; i < n; i++) _slots[(tail + (uint)i) & _mask] = items[i];
        Volatile.Write(ref _tail, tail + (uint)n);
        return n;
    }

    /// <summary>Owner only, with room checked by the caller (<see cref="Free"/>): writes the slot <paramref name="offset"/>
    /// places past the tail, published later by <see cref="PublishAppended"/>. No interleaving point: the overflow
    /// lane calls it under its lock.</summary>
    public void WriteAppended(int offset, in WorkItem item) => _slots[(_tail + (uint)offset) & _mask] = item;

    /// <summary>Owner only: publishes <paramref name="count"/> slots written by <see cref="WriteAppended"/>.</summary>
    public void PublishAppended(int count) => Volatile.Write(ref _tail, _tail + (uint)count);

    /// <summary>Owner only: free slots (exact or an underestimate: takers only make more).</summary>
    public int Free => _slots.Length - (int)(_tail - Volatile.Read(ref _head));

    /// <summary>Any CPU: takes the oldest item.</summary>
    public bool TryPop(out WorkItem item)
    {
        while (true)
        {
            uint head = Volatile.Read(ref _head); // acquire: before the tail, so tail - head is never negative
            uint tail = Volatile.Read(ref _tail); // acquire: the slots below it are written
            if (head == tail) { item = default; return false; }
            item = _slots[head & _mask];
            if (Interlocked.CompareExchange(ref _head, head + 1, head) == head) return true; // full fence: the read above stays before it
        }
    }

    /// <summary>Any CPU (a thief): takes up to half of the items (at most <paramref name="max"/>) from the front into
    /// <paramref name="into"/> with one CAS; returns how many.</summary>
    public int StealHalf(WorkItem[] into, int max)
    {
        while (true)
        {
            uint head = Volatile.Read(ref _head);
            uint tail = Volatile.Read(ref _tail);
            uint available = tail - head;
            if (available == 0) return 0;
            // A head read long before the tail can see more than a ring's worth (the owner refilled slots meanwhile):
            // that read is stale, and so is every slot it would copy.
            if (available > (uint)_slots.Length) continue;
            int n = (int)Math.Min(Math.Min((available + 1) / 2, (uint)max), (uint)into.Length);
            for (int i = 0; i < n; i++) into[i] = _slots[(head + (uint)i) & _mask];
            if (Interlocked.CompareExchange(ref _head, head + (uint)n, head) == head) return n;
        }
    }

    /// <summary>Owner only, going idle: when nothing is queued, drops the finished items the taken slots still hold
    /// (a late taker with a stale head reads a cleared slot and fails its CAS). Only the slots written since the last
    /// clear: a CPU that ran a few items between parks clears those, not the whole ring (6 KiB per lane per park).</summary>
    public void ClearIfEmpty()
    {
        uint tail = _tail;
        if (Volatile.Read(ref _head) != tail) return;
        uint used = tail - _clean;
        if (used == 0) return;
        if (used >= (uint)_slots.Length) Array.Clear(_slots);
        else
        {
            int from = (int)(_clean & _mask);
            int first = Math.Min((int)used, _slots.Length - from);
            Array.Clear(_slots, from, first);
            if (first < (int)used) Array.Clear(_slots, 0, (int)used - first); // wrapped past the end
        }
        _clean = tail;
    }

    /// <summary>Owner only (tests): how many slots the next <see cref="ClearIfEmpty"/> would clear.</summary>
    internal int WrittenSinceClear => (int)Math.Min(_tail - _clean, (uint)_slots.Length);
}
