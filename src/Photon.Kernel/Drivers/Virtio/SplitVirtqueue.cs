using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Virtio;

/// <summary>One segment of a buffer handed to the device: device address, length, and whether the device writes it.</summary>
public readonly record struct VirtqSegment(ulong Address, uint Length, bool DeviceWrites);

/// <summary>A buffer the device has finished with: the cookie the driver gave it and the bytes the device wrote.</summary>
public readonly record struct VirtqCompletion(int Cookie, uint Written);

/// <summary>
/// A split virtqueue (virtio 1.2 §2.7): the descriptor table, the available ring the driver fills and the used ring the
/// device fills, laid out in one DMA buffer. The driver's own view of which descriptors are in flight, how they chain
/// and what each may receive lives in managed memory, never read back from the shared rings, so a device that
/// scribbles on them cannot redirect the driver: a used index that runs more than a ring ahead, a used id that is not
/// the head of an in-flight chain, or a written length beyond what the chain offered makes the queue
/// <see cref="IsBroken"/> and every call fail with <see cref="ErrorCode.Corrupted"/> — until the device is reset.
/// Not thread-safe: one owner (a queue's lock) drives it.
/// </summary>
public sealed class SplitVirtqueue : IDisposable
{
    private const int DescSize = 16;
    private const ushort DescNext = 1, DescWrite = 2;
    private const ushort AvailNoInterrupt = 1, UsedNoNotify = 1;

    private readonly IDmaBuffer _ring;
    private readonly int _availOffset, _usedOffset;
    private readonly ushort[] _next;        // driver's shadow of each descriptor's chain link
    private readonly int[] _chainLength;    // per head: descriptors in the chain (0: not in flight)
    private readonly uint[] _writable;      // per head: bytes the device may write
    private readonly int[] _cookie;
    private readonly Stack<ushort> _free;
    private ushort _availIdx, _publishedIdx, _lastUsed;
    private KernelError? _broken;

    private SplitVirtqueue(int index, ushort size, IDmaBuffer ring, int availOffset, int usedOffset, bool eventIndex)
    {
        EventIndex = eventIndex;
        Index = index;
        Size = size;
        _ring = ring;
        _availOffset = availOffset;
        _usedOffset = usedOffset;
        _next = new ushort[size];
        _chainLength = new int[size];
        _writable = new uint[size];
        _cookie = new int[size];
        _free = new Stack<ushort>(size);
        for (int i = size - 1; i >= 0; i--) _free.Push((ushort)i);
    }

    public int Index { get; }
    /// <summary>VIRTIO_F_EVENT_IDX was negotiated: notifications and interrupts are steered by avail_event/used_event
    /// (§2.7.10) instead of the ring flags.</summary>
    public bool EventIndex { get; }
    public ushort Size { get; }
    public int FreeDescriptors => _free.Count;
    public int InFlight { get; private set; }
    public bool IsBroken => _broken is not null;
    public ulong DescriptorAddress => _ring.DeviceAddress;
    public ulong DriverAreaAddress => _ring.DeviceAddress + (ulong)_availOffset;
    public ulong DeviceAreaAddress => _ring.DeviceAddress + (ulong)_usedOffset;

    /// <summary>Allocates the rings for a queue of <paramref name="size"/> entries (a power of two, 1 to 32768);
    /// <paramref name="eventIndex"/> when VIRTIO_F_EVENT_IDX was negotiated.</summary>
    public static Result<SplitVirtqueue> Create(IPciFunction function, int index, ushort size, bool eventIndex = false)
    {
        if (size == 0 || size > 32768 || (size & (size - 1)) != 0)
            return Errors.Of(ErrorCode.InvalidArgument, $"virtqueue size {size} is not a power of two up to 32768");
        int availOffset = DescSize * size;
        int usedOffset = (availOffset + 6 + 2 * size + 3) & ~3;
        int total = usedOffset + 6 + 8 * size;
        var ring = function.AllocateDma(total);
        if (!ring.TryGet(out var buffer)) return ring.Error;
        return new SplitVirtqueue(index, size, buffer, availOffset, usedOffset, eventIndex);
    }

    private int UsedEventAt => _availOffset + 4 + 2 * Size;   // used_event: the last field of the available ring
    private int AvailEventAt => _usedOffset + 4 + 8 * Size;   // avail_event: the last field of the used ring

    /// <summary>Asks the device not to interrupt when it uses buffers (a hint the device may ignore), or to interrupt
    /// again. A driver that sleeps turns them on, then polls once more before waiting, so no completion is missed.
    /// Without EVENT_IDX this is VIRTQ_AVAIL_F_NO_INTERRUPT. With it the flags stay 0 (§2.7.7.2) and turning on sets
    /// used_event to the next used entry, or <paramref name="after"/> entries later (Linux's enable_cb_delayed: one
    /// interrupt for a run of transmit completions); turning off sets it to the entry just taken, which the device's used
    /// index would have to go all the way round its 16 bits to pass again.</summary>
    public void SuppressInterrupts(bool suppress, int after = 0)
    {
        if (!EventIndex) { _ring.WriteVolatile16(_availOffset, suppress ? AvailNoInterrupt : (ushort)0); return; }
        _ring.WriteVolatile16(UsedEventAt, suppress ? (ushort)(_lastUsed - 1)
            : (ushort)(_lastUsed + Math.Clamp(after, 0, Math.Max(0, InFlight - 1))));
    }

    /// <summary>Whether the device asked not to be notified (VIRTQ_USED_F_NO_NOTIFY; meaningless with EVENT_IDX,
    /// where <see cref="Publish"/> decides).</summary>
    public bool DeviceWantsNotify => (_ring.ReadVolatile16(_usedOffset) & UsedNoNotify) == 0;

    /// <summary>Writes a descriptor chain for <paramref name="segments"/> and places its head in the available ring
    /// (not yet visible to the device: <see cref="Publish"/> does that). <c>WouldBlock</c> when descriptors run out.</summary>
    public Result Add(ReadOnlySpan<VirtqSegment> segments, int cookie)
    {
        if (_broken is { } e) return e;
        if (segments.Length == 0) return Result.Fail(ErrorCode.InvalidArgument, "empty virtqueue buffer");
        if (segments.Length > _free.Count) return Result.Fail(ErrorCode.WouldBlock, $"virtqueue {Index} is full");
        var mem = _ring.Memory.Span;
        ushort head = 0, prev = 0;
        uint writable = 0;
        for (int i = 0; i < segments.Length; i++)
        {
            ushort d = _free.Pop();
            if (i == 0) head = d;
            else
            {
                _next[prev] = d;
                var prevFlags = (ushort)(DescNext | (segments[i - 1].DeviceWrites ? DescWrite : 0));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(mem[(prev * DescSize + 12)..], prevFlags);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(mem[(prev * DescSize + 14)..], d);
            }
            var s = segments[i];
            var desc = mem.Slice(d * DescSize, DescSize);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(desc, s.Address);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(desc[8..], s.Length);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(desc[12..], s.DeviceWrites ? DescWrite : (ushort)0);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(desc[14..], 0);
            if (s.DeviceWrites) writable += s.Length;
            prev = d;
        }
        _chainLength[head] = segments.Length;
        _writable[head] = writable;
        _cookie[head] = cookie;
        InFlight++;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(mem[(_availOffset + 4 + 2 * (_availIdx % Size))..], head);
        _availIdx++;
        return Result.Ok;
    }

    /// <summary>Makes every added buffer visible to the device (the index store is a full fence, so the descriptors and
    /// ring entries written before it are seen first) and says whether the device must be notified: with EVENT_IDX
    /// only when this publish moved the index past avail_event (vring_need_event, §2.7.10), else unless the device
    /// set VIRTQ_USED_F_NO_NOTIFY. The caller notifies when it returns true.</summary>
    public bool Publish()
    {
        ushort old = _publishedIdx;
        _publishedIdx = _availIdx;
        _ring.WriteVolatile16(_availOffset + 2, _availIdx);
        if (!EventIndex) return DeviceWantsNotify;
        Interlocked.MemoryBarrier(); // the index store before the avail_event load, as Linux's virtio_mb
        ushort ev = _ring.ReadVolatile16(AvailEventAt);
        return (ushort)(_availIdx - ev - 1) < (ushort)(_availIdx - old);
    }

    /// <summary>Takes up to <paramref name="into"/>.Length completed buffers off the used ring and frees their descriptors;
    /// returns how many. <c>Corrupted</c> (and the queue broken) when the device broke the ring's invariants; a bad
    /// entry after good ones in the same call breaks the queue but still returns the good ones first (their buffers are
    /// done and their owners — a TX queue's slots — must get them back), and the next call fails. A buffer the device
    /// only reads may come back with any length (virtio 1.2 §2.7.8: the driver must not rely on it; QEMU writes 0): it
    /// is reported as 0.</summary>
    public Result<int> Poll(Span<VirtqCompletion> into)
    {
        if (_broken is { } e) return e;
        ushort usedIdx = _ring.ReadVolatile16(_usedOffset + 2);
        int pending = (ushort)(usedIdx - _lastUsed);
        if (pending > InFlight)
            return Break($"used index {usedIdx} is {pending} ahead of {_lastUsed} with {InFlight} buffers in flight");
        int n = Math.Min(pending, into.Length);
        for (int i = 0; i < n; i++)
        {
            int entry = _usedOffset + 4 + 8 * (_lastUsed % Size);
            uint id = _ring.ReadVolatile32(entry);
            uint len = _ring.ReadVolatile32(entry + 4);
            string? bad = id >= Size || _chainLength[id] == 0 ? $"used id {id} is not an in-flight buffer"
                : _writable[id] > 0 && len > _writable[id] ? $"used length {len} exceeds the {_writable[id]} writable bytes of buffer {id}"
                : null;
            if (bad is not null)
            {
                var broken = Break(bad);
                return i > 0 ? i : broken;
            }
            if (_writable[id] == 0) len = 0;
            into[i] = new VirtqCompletion(_cookie[id], len);
            ushort d = (ushort)id;
            for (int k = _chainLength[id]; k > 0; k--)
            {
                _free.Push(d);
                d = _next[d];
            }
            _chainLength[id] = 0;
            InFlight--;
            _lastUsed++;
        }
        return n;
    }

    /// <summary>Whether the used ring has entries the driver has not taken (for the check before sleeping).</summary>
    public bool HasCompletions => _broken is null && _ring.ReadVolatile16(_usedOffset + 2) != _lastUsed;

    private Result<int> Break(string why)
    {
        _broken = new KernelError(ErrorCode.Corrupted, $"virtqueue {Index}: {why}");
        return _broken.Value;
    }

    public void Dispose() => _ring.Dispose();
}
