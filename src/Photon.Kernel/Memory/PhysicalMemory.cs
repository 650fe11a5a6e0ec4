using Photon.Memory.Native;

namespace Photon.Kernel.Memory;

/// <summary>
/// The machine's physical memory as the kernel sees it: one <see cref="NativeArena"/> taken at boot, carved into
/// 4 KiB frames by a binary buddy allocator. Blocks of any page count can be allocated (a power-of-two block is taken
/// and its unused tail handed back) and freed (the run is split into aligned power-of-two blocks that coalesce with
/// their buddies). A per-frame bitmap detects double frees and frees of frames never allocated: it is the kernel's one
/// double-free detector (the memory manager reports a second free of a region through it, not through a set of its own).
/// <para>
/// Small aligned blocks (up to <see cref="CacheMaxOrder"/>) that are freed park in a per-order frame cache instead of
/// coalescing, and an allocation of the same size takes one back, so the common allocate/free pair costs a stack push
/// and pop instead of a split and a merge through every order of the buddy tree (Linux's per-CPU page lists). Cached
/// frames are free in the bitmap (a second free of them is still caught) and counted in <see cref="FreeFrames"/>; when
/// the buddy lists cannot satisfy a request the caches are drained back into them first, so caching never causes an
/// out-of-memory. Frames are zeroed when handed out, whether they come from the cache or the buddy lists — but only
/// those written since they were last zeroed (see <c>_dirty</c>).
/// </para>
/// The pointer arithmetic lives in the arena (Photon.Memory.Native); this class only does the frame bookkeeping.
/// </summary>
public sealed class PhysicalMemory : IDisposable
{
    public const int PageSize = 4096;
    public const int MaxOrder = 20; // 2^20 frames = 4 GiB blocks at most

    private readonly NativeArena _arena;
    private readonly long _frames;
    private readonly int _topOrder;
    // Free lists per order, as sets so that a buddy can be removed in O(1) when coalescing.
    private readonly HashSet<long>[] _freeLists;
    private readonly ulong[] _allocated; // 1 bit per frame
    // 1 bit per frame: set when the frame may hold nonzero bytes. Clear means "known zero": the arena starts zeroed,
    // Allocate zeroes only frames whose bit is set, and every way of writing a frame (WritableFrames) sets its bit
    // before the span is handed out. Windows keeps a zeroed-page list for the same reason: a region freed without
    // having been written needs no zeroing before its next owner gets it. Set lock-free (Interlocked.Or, writers hold
    // no allocator lock); cleared under _lock only for frames being handed out, which nobody else can write.
    private readonly ulong[] _dirty;
    /// <summary>Largest block order kept in the frame cache (2^4 frames = 64 KiB).</summary>
    public const int CacheMaxOrder = 4;
    private const int CacheDepth = 64;
    private readonly long[][] _cache = new long[CacheMaxOrder + 1][];
    private readonly int[] _cached = new int[CacheMaxOrder + 1];
    private readonly AllocatorSpinLock _lock = new();
    private long _freeFrames;
    private bool _disposed;

    public PhysicalMemory(long bytes)
    {
        if (bytes < PageSize || bytes % PageSize != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "arena size must be a positive multiple of 4096");
        _frames = bytes / PageSize;
        _arena = new NativeArena(bytes, PageSize); // zeroed
        _topOrder = (int)Math.Min(MaxOrder, 63 - long.LeadingZeroCount(_frames));
        _freeLists = new HashSet<long>[_topOrder + 1];
        for (int i = 0; i <= _topOrder; i++) _freeLists[i] = new HashSet<long>();
        _allocated = new ulong[(_frames + 63) / 64];
        _dirty = new ulong[(_frames + 63) / 64];
        for (int i = 0; i <= CacheMaxOrder; i++) _cache[i] = new long[CacheDepth];
        // Seed the free lists with the largest aligned blocks that cover the arena.
        long frame = 0;
        while (frame < _frames)
        {
            int order = _topOrder;
            while (order > 0 && ((frame & ((1L << order) - 1)) != 0 || frame + (1L << order) > _frames)) order--;
            _freeLists[order].Add(frame);
            frame += 1L << order;
        }
        _freeFrames = _frames;
    }

    public long TotalFrames => _frames;
    public long FreeFrames { get { using (_lock.Enter()) return _freeFrames; } }
    public long TotalBytes => _frames * PageSize;

    /// <summary>Allocates <paramref name="pages"/> contiguous zeroed frames; returns the first frame number.</summary>
    internal Result<long> Allocate(long pages)
    {
        if (pages <= 0) return Errors.Of(ErrorCode.InvalidArgument, "page count must be positive");
        if (pages > _frames) return Errors.Of(ErrorCode.OutOfMemory, $"{pages} pages exceed physical memory ({_frames})");
        int order = pages == 1 ? 0 : (int)(64 - long.LeadingZeroCount(pages - 1)); // ceil(log2(pages))
        if (order > _topOrder) return Errors.Of(ErrorCode.OutOfMemory, $"no block of {pages} contiguous pages");
        long start;
        using (_lock.Enter())
        {
            ThrowIfDisposed();
            if (order <= CacheMaxOrder && pages == 1L << order && _cached[order] > 0)
            {
                start = _cache[order][--_cached[order]];
                SetAllocated(start, pages, true);
                _freeFrames -= pages;
                goto zero;
            }
            int o = FirstNonEmptyOrder(order);
            if (o > _topOrder)
            {
                DrainCachesLocked();
                o = FirstNonEmptyOrder(order);
            }
            if (o > _topOrder) return Errors.Of(ErrorCode.OutOfMemory, $"out of memory: no {pages} contiguous free pages ({_freeFrames} free)");
            start = TakeAny(_freeLists[o]);
            // Split down to the requested order, freeing upper halves.
            while (o > order)
            {
                o--;
                _freeLists[o].Add(start + (1L << o));
            }
            // Give back the tail beyond what was asked for.
            long blockPages = 1L << order;
            FreeRunLocked(start + pages, blockPages - pages);
            SetAllocated(start, pages, true);
            _freeFrames -= pages;
        }
    zero:
        ZeroDirty(start, pages);
        return start;
    }

    /// <summary>Zeroes the frames of a run being handed out that may have been written since they were last zero
    /// (runs of dirty frames at a time), and marks them known-zero. The run is allocated and not yet visible to anyone,
    /// so no writer can set these bits meanwhile; neighbours in the same word can, hence the atomic clear.</summary>
    private void ZeroDirty(long start, long pages)
    {
        long end = start + pages;
        if (!AnyBitSet(_dirty, start, end)) return; // known zero: the common case for a region freed unwritten
        for (long f = start; f < end;)
        {
            if (!IsDirty(f)) { f++; continue; }
            long runStart = f;
            while (f < end && IsDirty(f)) f++;
            _arena.Clear(runStart, f - runStart);
        }
        // One atomic per 64 frames, not per frame.
        for (long f = start; f < end;)
        {
            var (word, mask, n) = WordMask(f, end);
            Interlocked.And(ref _dirty[word], ~mask);
            f += n;
        }
    }

    /// <summary>The bitmap word holding frame <paramref name="f"/>, the mask of the frames of [f, end) in it, and how
    /// many they are.</summary>
    private static (long Word, ulong Mask, int Count) WordMask(long f, long end)
    {
        int bit = (int)(f & 63);
        int n = (int)Math.Min(64 - bit, end - f);
        ulong mask = (n == 64 ? ulong.MaxValue : (1UL << n) - 1) << bit;
        return (f >> 6, mask, n);
    }

    private static bool AnyBitSet(ulong[] bitmap, long start, long end)
    {
        for (long f = start; f < end;)
        {
            var (word, mask, n) = WordMask(f, end);
            if ((Volatile.Read(ref bitmap[word]) & mask) != 0) return true;
            f += n;
        }
        return false;
    }

    private bool IsDirty(long f) => (Volatile.Read(ref _dirty[f >> 6]) & (1UL << (int)(f & 63))) != 0;

    /// <summary>Frames that may hold nonzero bytes (written since they were last zeroed); the rest are known zero.</summary>
    public long DirtyFrames
    {
        get
        {
            long n = 0;
            foreach (var word in _dirty) n += System.Numerics.BitOperations.PopCount(Volatile.Read(in word));
            return n;
        }
    }

    /// <summary>Frames parked in the frame cache (free, but not yet merged back into the buddy lists).</summary>
    public long CachedFrames
    {
        get
        {
            using (_lock.Enter())
            {
                long n = 0;
                for (int o = 0; o <= CacheMaxOrder; o++) n += (long)_cached[o] << o;
                return n;
            }
        }
    }

    private int FirstNonEmptyOrder(int order)
    {
        int o = order;
        while (o <= _topOrder && _freeLists[o].Count == 0) o++;
        return o;
    }

    /// <summary>Removes <paramref name="block"/> from the order's cache if it is there.</summary>
    private bool TakeCached(int order, long block)
    {
        var cache = _cache[order];
        for (int i = _cached[order] - 1; i >= 0; i--)
        {
            if (cache[i] != block) continue;
            cache[i] = cache[--_cached[order]];
            return true;
        }
        return false;
    }

    /// <summary>Merges every cached block back into the buddy lists (coalescing with its buddies).</summary>
    private void DrainCachesLocked()
    {
        for (int o = 0; o <= CacheMaxOrder; o++)
        {
            while (_cached[o] > 0) FreeRunLocked(_cache[o][--_cached[o]], 1L << o);
        }
    }

    /// <summary>Frees a run of frames previously allocated (or a sub-run of one, after a split).</summary>
    internal Result Free(long firstFrame, long pages)
    {
        if (pages <= 0 || firstFrame < 0 || firstFrame > _frames - pages)
            return Result.Fail(ErrorCode.OutOfRange, $"frames {firstFrame}+{pages} are outside physical memory");
        using (_lock.Enter())
        {
            ThrowIfDisposed();
            if (!AllAllocated(firstFrame, pages))
                for (long f = firstFrame; f < firstFrame + pages; f++)
                    if (!IsAllocated(f)) return Result.Fail(ErrorCode.DoubleFree, $"frame {f} is not allocated (double free?)");
            SetAllocated(firstFrame, pages, false);
            _freeFrames += pages;
            // An aligned power-of-two block of cacheable size parks in the cache (merging with its buddy when that is
            // cached too, so a freed split comes back whole); anything else coalesces into the buddy lists now.
            if ((pages & (pages - 1)) == 0 && (firstFrame & (pages - 1)) == 0)
            {
                long block = firstFrame;
                int order = 63 - (int)long.LeadingZeroCount(pages);
                while (order <= CacheMaxOrder && order < _topOrder && TakeCached(order, block ^ (1L << order)))
                {
                    block &= ~(1L << order);
                    order++;
                }
                if (order <= CacheMaxOrder && order <= _topOrder && _cached[order] < CacheDepth)
                {
                    _cache[order][_cached[order]++] = block;
                    return Result.Ok;
                }
                FreeRunLocked(block, 1L << order);
                return Result.Ok;
            }
            FreeRunLocked(firstFrame, pages);
        }
        return Result.Ok;
    }

    /// <summary>A read-only span over allocated frames. The caller (the memory manager) has already checked the capability.</summary>
    internal ReadOnlySpan<byte> Frames(long firstFrame, long pages, long offset, int length)
    {
        CheckAccess(firstFrame, pages, offset, length);
        return _arena.Pages(firstFrame, pages, offset, length);
    }

    /// <summary>A writable span over allocated frames: the frames it covers are marked dirty first, so they are
    /// zeroed before they are handed out again. The only way to write a frame.</summary>
    internal Span<byte> WritableFrames(long firstFrame, long pages, long offset, int length)
    {
        CheckAccess(firstFrame, pages, offset, length);
        if (length > 0)
        {
            long first = firstFrame + offset / PageSize, end = firstFrame + (offset + length - 1) / PageSize + 1;
            for (long f = first; f < end;)
            {
                // One atomic per 64 frames, and none when they are all dirty already (bits are cleared only for frames
                // being handed out, which no one can be writing).
                var (word, mask, n) = WordMask(f, end);
                if ((Volatile.Read(ref _dirty[word]) & mask) != mask) Interlocked.Or(ref _dirty[word], mask);
                f += n;
            }
        }
        return _arena.Pages(firstFrame, pages, offset, length);
    }

    private void CheckAccess(long firstFrame, long pages, long offset, int length)
    {
        long limit = pages * PageSize;
        if (firstFrame < 0 || pages <= 0 || firstFrame > _frames - pages || offset < 0 || length < 0 || offset > limit - length)
            throw new KernelException(ErrorCode.OutOfRange, "frame access outside the block");
    }

    private void FreeRunLocked(long start, long pages)
    {
        // Split [start, start+pages) into maximal aligned power-of-two blocks and coalesce each with its buddy.
        while (pages > 0)
        {
            int order = 0;
            while (order < _topOrder && (start & ((1L << (order + 1)) - 1)) == 0 && (1L << (order + 1)) <= pages) order++;
            long block = start;
            int o = order;
            while (o < _topOrder)
            {
                long buddy = block ^ (1L << o);
                if (!_freeLists[o].Remove(buddy)) break;
                block = Math.Min(block, buddy);
                o++;
            }
            _freeLists[o].Add(block);
            start += 1L << order;
            pages -= 1L << order;
        }
    }

    private static long TakeAny(HashSet<long> set)
    {
        using var e = set.GetEnumerator();
        e.MoveNext();
        long v = e.Current;
        set.Remove(v);
        return v;
    }

    private bool IsAllocated(long f) => (_allocated[f >> 6] & (1UL << (int)(f & 63))) != 0;

    private bool AllAllocated(long start, long pages)
    {
        for (long f = start, end = start + pages; f < end;)
        {
            var (word, mask, n) = WordMask(f, end);
            if ((_allocated[word] & mask) != mask) return false;
            f += n;
        }
        return true;
    }

    private void SetAllocated(long start, long pages, bool value)
    {
        for (long f = start, end = start + pages; f < end;)
        {
            var (word, mask, n) = WordMask(f, end);
            if (value) _allocated[word] |= mask;
            else _allocated[word] &= ~mask;
            f += n;
        }
    }

    /// <summary>
    /// Checks the invariant verification/BuddyAllocator.dfy proves for the model of this allocator: the blocks on the
    /// free lists and in the frame cache lie inside the arena and never overlap each other or an allocated frame,
    /// together with the allocated frames they cover every frame, and <see cref="FreeFrames"/> counts the frames not
    /// allocated. O(frames): for tests, which run it after every step of random operation sequences.
    /// </summary>
    internal Result VerifyInvariants()
    {
        using (_lock.Enter())
        {
            ThrowIfDisposed();
            var covered = new bool[_frames];
            for (int o = 0; o <= _topOrder; o++)
                foreach (var block in _freeLists[o])
                    if (CheckBlockLocked(covered, block, o, "free list") is { } e) return e;
            for (int o = 0; o <= CacheMaxOrder; o++)
                for (int i = 0; i < _cached[o]; i++)
                    if (CheckBlockLocked(covered, _cache[o][i], o, "frame cache") is { } e) return e;
            long notAllocated = 0;
            for (long f = 0; f < _frames; f++)
            {
                bool allocated = IsAllocated(f);
                if (!allocated) notAllocated++;
                if (allocated == covered[f])
                    return Result.Fail(ErrorCode.Corrupted, allocated
                        ? $"frame {f} is both allocated and in a free block"
                        : $"frame {f} is neither allocated nor in a free block (leaked)");
            }
            if (notAllocated != _freeFrames)
                return Result.Fail(ErrorCode.Corrupted, $"free counter {_freeFrames} but {notAllocated} frames are not allocated");
            return Result.Ok;
        }
    }

    private Result? CheckBlockLocked(bool[] covered, long block, int order, string where)
    {
        long size = 1L << order;
        if (block < 0 || block > _frames - size || (block & (size - 1)) != 0)
            return Result.Fail(ErrorCode.Corrupted, $"{where} block {block} of order {order} is outside the arena or unaligned");
        for (long f = block; f < block + size; f++)
        {
            if (covered[f]) return Result.Fail(ErrorCode.Corrupted, $"frame {f} is in two free blocks ({where}, order {order})");
            covered[f] = true;
        }
        return null;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(PhysicalMemory));
    }

    public void Dispose()
    {
        using (_lock.Enter())
        {
            if (_disposed) return;
            _disposed = true;
            _arena.Dispose();
        }
    }
}
