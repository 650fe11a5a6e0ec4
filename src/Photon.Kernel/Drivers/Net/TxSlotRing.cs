namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// The transmit queue's DMA pool as a ring of fixed-size slots handed out in contiguous runs, first in first out: a
/// frame (its virtio_net_hdr and all its bytes) takes consecutive slots, so it is one descriptor whatever its size, and
/// the pool can be larger than the virtqueue — a 64 KiB TSO frame is one ring entry, not 33 (issue #17, vm16). A run
/// that would cross the pool's end starts at slot 0 instead, and the slots it skipped belong to it (freed with it).
/// Runs may be freed in any order; the space is reused as the oldest runs are freed. Not thread-safe: the queue's
/// sender lock guards it.
/// </summary>
internal sealed class TxSlotRing
{
    private readonly int[] _span;    // per run, at the slot the run is recorded at: slots it holds (with any skipped ones)
    private readonly bool[] _freed;  // per run: freed, waiting for the runs before it
    private int _head, _tail, _used;

    public TxSlotRing(int slots)
    {
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), $"{slots} slots");
        Slots = slots;
        _span = new int[slots];
        _freed = new bool[slots];
    }

    public int Slots { get; }
    /// <summary>Slots held by runs not yet given back (freed runs behind an older one still count).</summary>
    public int Used => _used;

    /// <summary>Takes <paramref name="count"/> consecutive slots; returns the run's id (give it to <see cref="Free"/>) and
    /// the first slot of its bytes, or false when they are not free now.</summary>
    public bool TryTake(int count, out int run, out int first)
    {
        run = first = -1;
        if (count < 1 || count > Slots) return false;
        if (_used == 0) _head = _tail = 0; // an empty pool: start over, the whole of it contiguous
        int skip = 0;
        if (_used > 0 && _head <= _tail)
        {
            if (_tail - _head < count) return false; // the free gap lies between head and tail
        }
        else if (Slots - _head < count)
        {
            if (_tail < count) return false;           // neither the end nor the start has room
            skip = Slots - _head;
        }
        run = _head;
        first = skip > 0 ? 0 : _head;
        _span[run] = skip + count;
        _freed[run] = false;
        _used += skip + count;
        _head = (first + count) % Slots;
        return true;
    }

    /// <summary>Whether <paramref name="count"/> consecutive slots could be taken now.</summary>
    public bool CanTake(int count)
    {
        if (count < 1 || count > Slots) return false;
        if (_used == 0) return true;
        if (_head <= _tail) return _tail - _head >= count;
        return Slots - _head >= count || _tail >= count;
    }

    /// <summary>Gives back run <paramref name="run"/> (from <see cref="TryTake"/>); the slots are reused once every run
    /// taken before it is given back too.</summary>
    public void Free(int run)
    {
        if ((uint)run >= (uint)Slots || _span[run] == 0 || _freed[run])
            throw new InvalidOperationException($"slot run {run} is not held");
        _freed[run] = true;
        while (_used > 0 && _freed[_tail])
        {
            int span = _span[_tail];
            _freed[_tail] = false;
            _span[_tail] = 0;
            _used -= span;
            _tail = (_tail + span) % Slots;
        }
    }
}
