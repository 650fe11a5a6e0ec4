using Photon.Memory.Native;

namespace Photon.Kernel.Memory;

/// <summary>
/// The machine's physical memory as the kernel sees it: one <see cref="NativeArena"/> taken at boot, carved into
/// 4 KiB frames by a binary buddy allocator. Blocks of any page count can be allocated (a power-of-two block is taken
/// and its unused tail handed back) and freed (the run is split into aligned power-of-two blocks that coalesce with
/// their buddies). A per-frame bitmap detects double frees and frees of frames never allocated.
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
    private readonly Lock _lock = new();
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
    public long FreeFrames { get { lock (_lock) return _freeFrames; } }
    public long TotalBytes => _frames * PageSize;

    /// <summary>Allocates <paramref name="pages"/> contiguous zeroed frames; returns the first frame number.</summary>
    internal Result<long> Allocate(long pages)
    {
        if (pages <= 0) return Errors.Of(ErrorCode.InvalidArgument, "page count must be positive");
        if (pages > _frames) return Errors.Of(ErrorCode.OutOfMemory, $"{pages} pages exceed physical memory ({_frames})");
        int order = pages == 1 ? 0 : (int)(64 - long.LeadingZeroCount(pages - 1)); // ceil(log2(pages))
        if (order > _topOrder) return Errors.Of(ErrorCode.OutOfMemory, $"no block of {pages} contiguous pages");
        long start;
        lock (_lock)
        {
            ThrowIfDisposed();
            int o = order;
            while (o <= _topOrder && _freeLists[o].Count == 0) o++;
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
        _arena.Clear(start, pages);
        return start;
    }

    /// <summary>Frees a run of frames previously allocated (or a sub-run of one, after a split).</summary>
    internal Result Free(long firstFrame, long pages)
    {
        if (pages <= 0 || firstFrame < 0 || firstFrame > _frames - pages)
            return Result.Fail(ErrorCode.OutOfRange, $"frames {firstFrame}+{pages} are outside physical memory");
        lock (_lock)
        {
            ThrowIfDisposed();
            for (long f = firstFrame; f < firstFrame + pages; f++)
                if (!IsAllocated(f)) return Result.Fail(ErrorCode.DoubleFree, $"frame {f} is not allocated (double free?)");
            SetAllocated(firstFrame, pages, false);
            FreeRunLocked(firstFrame, pages);
            _freeFrames += pages;
        }
        return Result.Ok;
    }

    /// <summary>A span over allocated frames. The caller (the memory manager) has already checked the capability.</summary>
    internal Span<byte> Frames(long firstFrame, long pages, long offset, int length)
    {
        long limit = pages * PageSize;
        if (firstFrame < 0 || pages <= 0 || firstFrame > _frames - pages || offset < 0 || length < 0 || offset > limit - length)
            throw new KernelException(ErrorCode.OutOfRange, "frame access outside the block");
        return _arena.Pages(firstFrame, pages, offset, length);
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

    private void SetAllocated(long start, long pages, bool value)
    {
        for (long f = start; f < start + pages; f++)
        {
            if (value) _allocated[f >> 6] |= 1UL << (int)(f & 63);
            else _allocated[f >> 6] &= ~(1UL << (int)(f & 63));
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(PhysicalMemory));
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _arena.Dispose();
        }
    }
}
