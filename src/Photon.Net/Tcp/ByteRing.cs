using Photon.Kernel.Hal;
using Photon.Kernel.Memory;
using Photon.Net.Sockets;

namespace Photon.Net.Tcp;

/// <summary>
/// A byte ring of bounded capacity for socket buffers (smoltcp's <c>RingBuffer</c>): the send buffer keeps unacknowledged
/// bytes at its head and is read in place by offset (<see cref="Peek"/>), so a segment's payload is copied once, from
/// here into the frame. The storage is allocated on first write and grows by doubling (from <see cref="InitialStorage"/>)
/// up to the capacity as data needs it: a connection that never carries data (half-open in a SYN flood, waiting to be
/// accepted) costs no buffer memory, and one that carries a short request and response costs a few KiB — not two
/// 512 KiB arrays on the large-object heap per connection, whose zeroing and collection dominated short requests.
/// The capacity itself may grow (<see cref="GrowCapacity"/>, buffer autotuning) but never shrinks below what is held.
/// With an <see cref="Account"/> (the owning tenant's) every growth is charged to its memory quota first; a refused
/// growth leaves the ring at the size it has — <see cref="Free"/> then counts only that storage, so a sender waits and
/// a receiver's window shrinks — until the account refunds something. <see cref="Release"/> frees the storage and
/// refunds it, once. A ring made with a <c>growInPlaceBelow</c> limit (the send buffer's) does not allocate storage of
/// that size or more in <see cref="Write"/>, which runs under the stack's lock: the caller allocates it outside the lock
/// (<see cref="StorageWanted"/>, <see cref="Prefaulted"/>) and hands it over under the lock (<see cref="Adopt"/>) —
/// charged to the account before it is allocated (<see cref="ReserveStorage"/>), never after.
/// A send buffer may also hold bytes it does not own (<see cref="Lend"/>, issue #17 vm17): extents of a sender's own
/// memory queued after the ring's bytes, read in place by <see cref="Peek"/>/<see cref="PeekByReference"/> and dropped by
/// <see cref="Discard"/> as they are acknowledged, so a large send's bytes are not first copied into a ring that must
/// grow for them. Frames carry them by reference only with the lender's <see cref="TxLease"/> (<see cref="CanGatherByReference"/>).
/// Lent bytes are never charged (nothing is allocated for them) and nothing is written to the ring while any are held,
/// so the order of bytes is the order they were queued.
/// </summary>
internal sealed class ByteRing(int capacity, int growInPlaceBelow = int.MaxValue)
{
    private int _capacity = capacity;

    public const int InitialStorage = 4096;

    /// <summary>The send buffer's <c>growInPlaceBelow</c>: smaller arrays are cheap enough to allocate under the lock;
    /// multi-MiB ones are not — fresh pages fault in on first touch, and under TCG each fault is tens of µs, so one
    /// 4 MiB growth held the lock (and every ACK behind it) for milliseconds.</summary>
    public const int LargeStorage = 64 * 1024;

    private byte[]? _buffer;
    private int _head;
    private long _charged;
    private int? _refusedAt; // the account's refund count when a growth was refused
    private int _reserved;   // the size of the one growth reserved and not yet adopted or cancelled (0: none)

    private readonly Queue<LentExtent> _lent = new(); // extents lent by senders, oldest first

    /// <summary>A sender's memory held by reference, and the lease frames that carry it by reference hold (null: frames
    /// copy it).</summary>
    private readonly record struct LentExtent(ReadOnlyMemory<byte> Bytes, TxLease? Lease)
    {
        public int Length => Bytes.Length;
    }
    private int _lentHead;   // bytes of the oldest extent already discarded
    private int _lentBytes;  // bytes lent and not yet discarded
    private long _lentDiscarded;

    /// <summary>Bytes held: the ring's own, then the lent ones.</summary>
    public int Count => _owned + _lentBytes;
    private int _owned;
    public int Capacity => _capacity;

    /// <summary>Lent bytes not yet discarded (<see cref="Lend"/>).</summary>
    public int LentBytes => _lentBytes;

    /// <summary>Lent bytes discarded since the ring was made: the position in the stream of lent bytes that
    /// <see cref="Lend"/>'s return values are compared with.</summary>
    public long LentDiscarded => _lentDiscarded;

    /// <summary>Raises the capacity to <paramref name="newCapacity"/> (never lowers it). Storage is not allocated here:
    /// it still grows by doubling as data arrives, so a bigger limit costs memory only once it is used.</summary>
    public void GrowCapacity(int newCapacity)
    {
        if (newCapacity > _capacity) _capacity = newCapacity;
    }

    /// <summary>Bytes that can be written now: up to the capacity, or only within the storage held while growing it
    /// is refused by the account's quota.</summary>
    public int Free => _lentBytes > 0 ? 0 : (IsQuotaLimited ? Storage : _capacity) - _owned;

    /// <summary>The tenant whose memory quota pays for the storage (null: the kernel's, uncharged). Set before the
    /// first write.</summary>
    internal SocketAccount? Account { get; set; }

    /// <summary>The last growth was refused and the account has refunded nothing since.</summary>
    public bool IsQuotaLimited => _refusedAt is { } at && Account is { } a && a.Refunds == at;

    /// <summary>Bytes charged to <see cref="Account"/> for this ring now.</summary>
    public long ChargedBytes => _charged;

    /// <summary>Bytes of storage allocated now (at most <see cref="Capacity"/>).</summary>
    public int Storage => _buffer?.Length ?? 0;

    public int Write(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, Free);
        if (n <= 0) return 0;
        var buffer = Reserve(_owned + n);
        n = Math.Min(n, (buffer?.Length ?? 0) - _owned); // growth refused: what the storage held takes
        if (n <= 0) return 0;
        AppendOwned(data[..n]);
        return n;
    }

    /// <summary>Copies <paramref name="data"/> after the ring's own bytes, wrapping at the storage's end; the storage
    /// must have room for it.</summary>
    private void AppendOwned(ReadOnlySpan<byte> data)
    {
        var buffer = _buffer!;
        int tail = (_head + _owned) % buffer.Length;
        int first = Math.Min(data.Length, buffer.Length - tail);
        PieceCopy.Copy(data[..first], buffer.AsSpan(tail));
        PieceCopy.Copy(data[first..], buffer);
        _owned += data.Length;
    }

    /// <summary>Queues <paramref name="extent"/> after everything held, by reference: the caller's memory, which must
    /// stay unchanged until its bytes are discarded (<see cref="LentDiscarded"/> reaches the returned position) or the ring
    /// is released — and, with a <paramref name="lease"/>, until the caller has revoked it: frames then carry these bytes
    /// by reference, each holding the lease, and may outlive the discard. Returns the position of the extent's end in
    /// the stream of lent bytes, or -1 (nothing lent) when it is empty or would take <see cref="Count"/> past
    /// <see cref="int.MaxValue"/>.</summary>
    public long Lend(ReadOnlyMemory<byte> extent, TxLease? lease = null)
    {
        if (extent.IsEmpty || extent.Length > int.MaxValue - Count) return -1;
        _lent.Enqueue(new LentExtent(extent, lease));
        _lentBytes += extent.Length;
        return _lentDiscarded + _lentBytes;
    }

    /// <summary>Drops the last <paramref name="count"/> lent bytes (never the ring's own): a cancelled lent send's bytes
    /// that were never sent. Rare (a cancellation), so the extents are rebuilt.</summary>
    public void TruncateLent(int count)
    {
        count = Math.Clamp(count, 0, _lentBytes);
        if (count == 0) return;
        var kept = new List<LentExtent>(_lent);
        int keep = _lentBytes - count + _lentHead; // bytes of the extents, the discarded head included, that stay
        _lent.Clear();
        foreach (var extent in kept)
        {
            if (keep <= 0) break;
            _lent.Enqueue(extent.Length <= keep ? extent : extent with { Bytes = extent.Bytes[..keep] });
            keep -= extent.Length;
        }
        _lentBytes -= count;
        if (_lentBytes == 0) { _lent.Clear(); _lentHead = 0; }
    }

    /// <summary>Makes every lent byte the ring's own: copies them after its own bytes, in the stream's order, and lets
    /// their lenders go (they count as discarded, <see cref="LentDiscarded"/>, so every lent send may end). For a lent
    /// send cut short whose sent bytes the peer has not acknowledged: its memory is freed at once instead of when a peer
    /// — which may never acknowledge — does. Rare (a cancellation or the last handle closing), so the storage is grown
    /// here, under the lock, charged first. False, with nothing changed, when the capacity or the quota has no room.</summary>
    public bool TakeLentBytes()
    {
        if (_lentBytes == 0) return true;
        long need = (long)_owned + _lentBytes;
        if (need > _capacity) return false;
        if (need > Storage)
        {
            int size = GrownSize((int)need);
            if (!Charge(size)) return false;
            Replace(new byte[size]);
        }
        int skip = _lentHead; // the oldest extent's bytes already discarded
        foreach (var extent in _lent)
        {
            AppendOwned(extent.Bytes.Span[skip..]);
            skip = 0;
        }
        _lentDiscarded += _lentBytes;
        _lent.Clear(); // no reference to the lenders' memory is kept
        _lentBytes = _lentHead = 0;
        return true;
    }

    /// <summary>Storage for at least <paramref name="needed"/> bytes: the contents move to the start of a larger array.
    /// When the account refuses the growth the current storage (possibly none) is returned unchanged.</summary>
    private byte[]? Reserve(int needed)
    {
        if (_buffer is { } b && b.Length >= needed) return b;
        int size = GrownSize(needed);
        if (size >= growInPlaceBelow)
        {
            // Too big for the lock (see StorageWanted): only the largest step still cheap here, which a quota that refused
            // every large step may have room for — the bytes it holds go now, the rest wait, instead of the send failing.
            size = LargestInPlaceStep();
            if (size <= Storage) return _buffer;
        }
        return Charge(size) ? Replace(new byte[size]) : _buffer;
    }

    /// <summary>The largest doubling step below <c>growInPlaceBelow</c> (and within the capacity): the most
    /// <see cref="Write"/> allocates under the lock.</summary>
    private int LargestInPlaceStep()
    {
        int step = Math.Min(InitialStorage, _capacity);
        while ((long)step * 2 < growInPlaceBelow && (long)step * 2 <= _capacity) step *= 2;
        return step;
    }

    /// <summary>The doubling step's size that holds <paramref name="needed"/> bytes (at most the capacity).</summary>
    private int GrownSize(int needed)
    {
        int size = Math.Max(_buffer?.Length ?? 0, Math.Min(InitialStorage, _capacity));
        while (size < needed) size = (int)Math.Min((long)size * 2, _capacity);
        return size;
    }

    /// <summary>Charges the growth to <paramref name="size"/> bytes of storage to the account; false (remembered, see
    /// <see cref="IsQuotaLimited"/>) when the quota refuses it.</summary>
    private bool Charge(int size)
    {
        if (Account is not { } account) return true;
        int refunds = account.Refunds;
        if (!account.Charge(size - Storage).IsOk) { _refusedAt = refunds; return false; }
        _refusedAt = null;
        _charged += size - Storage;
        return true;
    }

    private byte[] Replace(byte[] grown)
    {
        if (_owned > 0) PeekOwned(0, grown.AsSpan(0, _owned));
        _buffer = grown;
        _head = 0;
        return grown;
    }

    /// <summary>The storage size <see cref="Write"/> would not allocate itself but that <paramref name="pending"/> more
    /// bytes need (0: none needed, the quota refused the last growth and nothing was refunded since, or a growth is
    /// already reserved — it serves these bytes too, so a ring never holds two new arrays at once).</summary>
    public int StorageWanted(int pending)
    {
        if (IsQuotaLimited || pending <= 0 || _lentBytes > 0 || _reserved > 0) return 0;
        int needed = (int)Math.Min((long)_owned + pending, _capacity);
        if (needed <= Storage) return 0;
        int size = GrownSize(needed);
        return size >= growInPlaceBelow ? size : 0;
    }

    /// <summary>Charges, under the lock, the whole of a storage of <paramref name="size"/> bytes (from
    /// <see cref="StorageWanted"/>) that the caller is about to allocate outside it — before it exists, so a tenant's
    /// sockets can never hold more large storage in flight than its quota allows (the old array stays charged until the
    /// new one is adopted: both are live meanwhile). When the quota has no room for that size, the smaller doubling
    /// steps down to twice the storage held are tried, so a ring grows as far as the quota allows. Returns the size
    /// reserved — the one to allocate — or 0 when even the smallest is refused: then nothing is allocated, and
    /// <see cref="Write"/> may still grow the storage under the lock to the largest step that is cheap there, if that is
    /// a growth; if it is not, the refusal is remembered (see <see cref="IsQuotaLimited"/>). The reservation ends in
    /// <see cref="Adopt"/> or <see cref="CancelReservation"/>, exactly once. One reservation per ring at a time: while
    /// one is outstanding another is refused (0) without marking the ring quota-limited — the writer's loop and the
    /// stack's growth for a parked remainder would otherwise each allocate a new array, and the loser's would be live
    /// and charged for nothing.</summary>
    public int ReserveStorage(int size)
    {
        if (_reserved > 0) return 0;
        if (Account is not { } account) return _reserved = size;
        int refunds = account.Refunds;
        for (int step = size; step > Storage && step >= growInPlaceBelow; step = step == size ? SmallerStep(size) : step / 2)
        {
            if (!account.Charge(step).IsOk) continue;
            _refusedAt = null;
            return _reserved = step;
        }
        if (LargestInPlaceStep() <= Storage) _refusedAt = refunds; // else Write's smaller growth decides
        return 0;
    }

    /// <summary>The doubling step below <paramref name="size"/> (which may be the capacity, not itself a step).</summary>
    private int SmallerStep(int size)
    {
        int step = Math.Max(Storage, Math.Min(InitialStorage, _capacity));
        while ((long)step * 2 < size) step *= 2;
        return step;
    }

    /// <summary>Gives back a reservation whose storage will not be adopted (the connection closed, or the allocation
    /// failed).</summary>
    public void CancelReservation(int size)
    {
        _reserved = 0;
        Account?.Refund(size);
    }

    /// <summary>Takes <paramref name="storage"/>, reserved with <see cref="ReserveStorage"/> and allocated by the caller
    /// outside the lock, as the ring's storage if it is larger than what the ring holds and within the capacity: the
    /// contents move into it, the reservation becomes the ring's charge and the old storage's charge is refunded. False
    /// when it is not (a concurrent growth got there first): the reservation is refunded. Either way the reservation
    /// ends here.</summary>
    public bool Adopt(byte[] storage)
    {
        _reserved = 0;
        if (storage.Length <= Storage || storage.Length > _capacity)
        {
            CancelReservation(storage.Length);
            return false;
        }
        Replace(storage);
        if (Account is { } account)
        {
            long old = _charged;
            _charged = storage.Length;
            account.Refund(old);
        }
        return true;
    }

    /// <summary>An array whose pages have all been touched, so that copying into it later (under the lock) takes no page
    /// faults: the runtime may hand out freshly mapped, untouched pages for a large array. Not zeroed (the runtime's
    /// clearing of a multi-MiB array is a C-library memset, slow under TCG): the ring reads back only bytes it wrote.</summary>
    public static byte[] Prefaulted(int size)
    {
        var a = GC.AllocateUninitializedArray<byte>(size);
        for (int i = 0; i < a.Length; i += 4096) Volatile.Write(ref a[i], 0); // a store the compiler keeps
        return a;
    }

    /// <summary>Copies bytes starting <paramref name="offset"/> past the head without consuming them.</summary>
    public void Peek(int offset, Span<byte> destination)
    {
        if ((uint)offset > (uint)Count || destination.Length > Count - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{destination.Length} bytes at {offset} of {Count}");
        if (destination.IsEmpty) return;
        int own = Math.Clamp(_owned - offset, 0, destination.Length);
        if (own > 0) PeekOwned(offset, destination[..own]);
        if (own == destination.Length) return;
        int at = offset + own - _owned; // into the lent bytes
        destination = destination[own..];
        while (!destination.IsEmpty)
        {
            var piece = LentSlice(at, destination.Length).Bytes;
            PieceCopy.Copy(piece.Span, destination);
            destination = destination[piece.Length..];
            at += piece.Length;
        }
    }

    private void PeekOwned(int offset, Span<byte> destination)
    {
        if (destination.IsEmpty) return;
        int size = _buffer!.Length;
        int start = (_head + offset) % size;
        int first = Math.Min(destination.Length, size - start);
        PieceCopy.Copy(_buffer.AsSpan(start, first), destination);
        PieceCopy.Copy(_buffer.AsSpan(0, destination.Length - first), destination[first..]);
    }

    /// <summary>The lent bytes from <paramref name="at"/> (past the discarded ones) up to the end of the extent they lie
    /// in, at most <paramref name="length"/> of them, with that extent's lease.</summary>
    private LentExtent LentSlice(int at, int length)
    {
        int skip = at + _lentHead;
        foreach (var extent in _lent)
        {
            if (skip >= extent.Length) { skip -= extent.Length; continue; }
            return extent with { Bytes = extent.Bytes.Slice(skip, Math.Min(length, extent.Length - skip)) };
        }
        throw new InvalidOperationException($"lent byte {at} of {_lentBytes}");
    }

    /// <summary>Whether a frame may carry these bytes by reference (<see cref="PeekByReference"/>) rather than a copy: when
    /// they lie in at most two pieces, of which at most one is lent and that one was lent with a <see cref="TxLease"/>.
    /// Lent bytes are the sender's memory, handed back when its send ends — and a frame may still be queued at the
    /// device then (a retransmission behind a slow queue, or a frame a peer acknowledged before it left: an optimistic
    /// ACK is the peer's to send); read then, it would put what the owner, or whoever its pooled buffer went to next
    /// (another tenant), wrote there afterwards on the wire. The lease the frame carries makes the device drop it
    /// instead once the send has ended (see <see cref="Device.TxPayload"/>); bytes lent without one are copied. The
    /// ring's own storage is never pooled or handed on.</summary>
    public bool CanGatherByReference(int offset, int length)
    {
        if (offset < 0 || length < 0 || (long)offset + length > Count || !CanLendPieces(offset, length)) return false;
        int own = Math.Clamp(_owned - offset, 0, length);
        if (own == length) return true;
        var lent = LentSlice(offset + own - _owned, length - own);
        return lent.Lease is not null && lent.Length == length - own; // one extent, leased
    }

    /// <summary>Whether <see cref="PeekByReference"/> can give these bytes (they lie in at most two pieces: the ring's
    /// own wrap, or its end and a lent extent, or two lent extents); a caller that gets false copies them with
    /// <see cref="Peek"/>.</summary>
    public bool CanLendPieces(int offset, int length)
    {
        if ((uint)offset > (uint)Count || (uint)length > (uint)(Count - offset)) return false;
        int pieces = 0;
        int own = Math.Clamp(_owned - offset, 0, length);
        if (own > 0) pieces += (_head + offset) % _buffer!.Length + own > _buffer.Length ? 2 : 1;
        if (own < length)
        {
            int at = offset + own - _owned, skip = at + _lentHead, left = length - own;
            foreach (var extent in _lent)
            {
                if (left == 0 || pieces > 2) break;
                if (skip >= extent.Length) { skip -= extent.Length; continue; }
                left -= Math.Min(left, extent.Length - skip);
                skip = 0;
                pieces++;
            }
        }
        return pieces <= 2;
    }

    /// <summary>The bytes <see cref="Peek"/> would copy, by reference: one or two slices of the storage or the lent
    /// extents (<see cref="CanLendPieces"/> says whether two suffice). Valid until those bytes are discarded; see
    /// <see cref="Device.TxPayload"/> for why a frame may still hold them then.</summary>
    public Device.TxPayload PeekByReference(int offset, int length)
    {
        if ((uint)offset > (uint)Count || (uint)length > (uint)(Count - offset))
            throw new ArgumentOutOfRangeException(nameof(offset), $"{length} bytes at {offset} of {Count}");
        if (length == 0) return default;
        if (!CanLendPieces(offset, length)) throw new InvalidOperationException($"{length} bytes at {offset} lie in more than two pieces");
        ReadOnlyMemory<byte> one = default, two = default;
        int own = Math.Clamp(_owned - offset, 0, length);
        if (own > 0)
        {
            var buffer = _buffer!;
            int start = (_head + offset) % buffer.Length;
            int first = Math.Min(own, buffer.Length - start);
            one = buffer.AsMemory(start, first);
            if (own > first) two = buffer.AsMemory(0, own - first);
        }
        TxLease? lease = null;
        for (int at = offset + own - _owned, left = length - own; left > 0;)
        {
            var piece = LentSlice(at, left);
            if (one.IsEmpty) one = piece.Bytes; else two = piece.Bytes;
            lease ??= piece.Lease; // at most one lent piece goes by reference (CanGatherByReference)
            at += piece.Length;
            left -= piece.Length;
        }
        return new Device.TxPayload(one, two, lease);
    }

    public void Discard(int n)
    {
        n = Math.Clamp(n, 0, Count);
        if (n == 0) return;
        int own = Math.Min(n, _owned);
        if (own > 0)
        {
            _head = (_head + own) % _buffer!.Length;
            _owned -= own;
        }
        int lent = n - own;
        _lentBytes -= lent;
        _lentDiscarded += lent;
        while (lent > 0)
        {
            int left = _lent.Peek().Length - _lentHead;
            if (lent < left) { _lentHead += lent; break; }
            lent -= left;
            _lent.Dequeue();
            _lentHead = 0;
        }
    }

    /// <summary>Drops the contents and the storage and refunds the account; the ring may be written again (and charged
    /// again) afterwards. Safe to call any number of times.</summary>
    public void Release()
    {
        _buffer = null;
        _head = 0;
        _owned = 0;
        _lent.Clear(); // the lenders' memory is theirs again: no reference kept (and never counted as acknowledged)
        _lentBytes = _lentHead = 0;
        _refusedAt = null;
        long charged = _charged;
        _charged = 0;
        Account?.Refund(charged);
    }

    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, Count);
        Peek(0, destination[..n]);
        Discard(n);
        return n;
    }
}
