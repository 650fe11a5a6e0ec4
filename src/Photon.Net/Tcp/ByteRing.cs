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

    public int Count { get; private set; }
    public int Capacity => _capacity;

    /// <summary>Raises the capacity to <paramref name="newCapacity"/> (never lowers it). Storage is not allocated here:
    /// it still grows by doubling as data arrives, so a bigger limit costs memory only once it is used.</summary>
    public void GrowCapacity(int newCapacity)
    {
        if (newCapacity > _capacity) _capacity = newCapacity;
    }

    /// <summary>Bytes that can be written now: up to the capacity, or only within the storage held while growing it
    /// is refused by the account's quota.</summary>
    public int Free => (IsQuotaLimited ? Storage : _capacity) - Count;

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
        if (n == 0) return 0;
        var buffer = Reserve(Count + n);
        n = Math.Min(n, (buffer?.Length ?? 0) - Count); // growth refused: what the storage held takes
        if (n <= 0) return 0;
        int size = buffer!.Length;
        int tail = (_head + Count) % size;
        int first = Math.Min(n, size - tail);
        PieceCopy.Copy(data[..first], buffer.AsSpan(tail));
        PieceCopy.Copy(data[first..n], buffer);
        Count += n;
        return n;
    }

    /// <summary>Storage for at least <paramref name="needed"/> bytes: the contents move to the start of a larger array.
    /// When the account refuses the growth the current storage (possibly none) is returned unchanged.</summary>
    private byte[]? Reserve(int needed)
    {
        if (_buffer is { } b && b.Length >= needed) return b;
        int size = GrownSize(needed);
        if (size >= growInPlaceBelow) return _buffer; // too big for the lock: see StorageWanted
        return Charge(size) ? Replace(new byte[size]) : _buffer;
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
        if (Count > 0) Peek(0, grown.AsSpan(0, Count));
        _buffer = grown;
        _head = 0;
        return grown;
    }

    /// <summary>The storage size <see cref="Write"/> would not allocate itself but that <paramref name="pending"/> more
    /// bytes need (0: none needed, or the quota refused the last growth and nothing was refunded since).</summary>
    public int StorageWanted(int pending)
    {
        if (IsQuotaLimited || pending <= 0) return 0;
        int needed = (int)Math.Min((long)Count + pending, _capacity);
        if (needed <= Storage) return 0;
        int size = GrownSize(needed);
        return size >= growInPlaceBelow ? size : 0;
    }

    /// <summary>Charges, under the lock, the whole of a storage of <paramref name="size"/> bytes (from
    /// <see cref="StorageWanted"/>) that the caller is about to allocate outside it — before it exists, so a tenant's
    /// sockets can never hold more large storage in flight than its quota allows (the old array stays charged until the
    /// new one is adopted: both are live meanwhile). When the quota has no room for that size, the smaller doubling
    /// steps down to twice the storage held are tried, so a ring grows as far as the quota allows. Returns the size
    /// reserved — the one to allocate — or 0 (remembered, see <see cref="IsQuotaLimited"/>) when even the smallest is
    /// refused: then nothing is allocated. The reservation ends in <see cref="Adopt"/> or
    /// <see cref="CancelReservation"/>, exactly once.</summary>
    public int ReserveStorage(int size)
    {
        if (Account is not { } account) return size;
        int refunds = account.Refunds;
        for (int step = size; step > Storage && step >= growInPlaceBelow; step = step == size ? SmallerStep(size) : step / 2)
        {
            if (!account.Charge(step).IsOk) continue;
            _refusedAt = null;
            return step;
        }
        _refusedAt = refunds;
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
    public void CancelReservation(int size) => Account?.Refund(size);

    /// <summary>Takes <paramref name="storage"/>, reserved with <see cref="ReserveStorage"/> and allocated by the caller
    /// outside the lock, as the ring's storage if it is larger than what the ring holds and within the capacity: the
    /// contents move into it, the reservation becomes the ring's charge and the old storage's charge is refunded. False
    /// when it is not (a concurrent growth got there first): the reservation is refunded. Either way the reservation
    /// ends here.</summary>
    public bool Adopt(byte[] storage)
    {
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
        int size = _buffer!.Length;
        int start = (_head + offset) % size;
        int first = Math.Min(destination.Length, size - start);
        PieceCopy.Copy(_buffer.AsSpan(start, first), destination);
        PieceCopy.Copy(_buffer.AsSpan(0, destination.Length - first), destination[first..]);
    }

    /// <summary>The bytes <see cref="Peek"/> would copy, by reference: one or two slices of the storage (the second when
    /// the range wraps). Valid until those bytes are discarded; see <see cref="Device.TxPayload"/> for why a frame may
    /// still hold them then.</summary>
    public Device.TxPayload PeekByReference(int offset, int length)
    {
        if ((uint)offset > (uint)Count || (uint)length > (uint)(Count - offset))
            throw new ArgumentOutOfRangeException(nameof(offset), $"{length} bytes at {offset} of {Count}");
        if (length == 0) return default;
        var buffer = _buffer!;
        int start = (_head + offset) % buffer.Length;
        int first = Math.Min(length, buffer.Length - start);
        return new Device.TxPayload(buffer.AsMemory(start, first), buffer.AsMemory(0, length - first));
    }

    public void Discard(int n)
    {
        n = Math.Clamp(n, 0, Count);
        if (n == 0) return;
        _head = (_head + n) % _buffer!.Length;
        Count -= n;
    }

    /// <summary>Drops the contents and the storage and refunds the account; the ring may be written again (and charged
    /// again) afterwards. Safe to call any number of times.</summary>
    public void Release()
    {
        _buffer = null;
        _head = 0;
        Count = 0;
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
