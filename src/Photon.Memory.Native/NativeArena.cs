using System.Numerics;
using System.Runtime.InteropServices;

namespace Photon.Memory.Native;

/// <summary>
/// One block of native memory, page-aligned and zeroed, for the kernel's physical-memory allocator to carve into
/// frames. All its pointer arithmetic is here: callers get bounds-checked <see cref="Span{T}"/>s over runs of pages.
/// </summary>
/// <remarks>
/// The one obligation the arena cannot check: <see cref="Dispose"/> frees the memory, so no span taken before may be
/// used after it (a <see cref="Span{T}"/> over native memory carries no owner). The kernel disposes its arena last at
/// shutdown, after the scheduler has stopped every CPU.
/// </remarks>
public sealed class NativeArena : IDisposable
{
    private readonly nint _base; // the arena's first byte; a pointer only inside the unsafe blocks below
    private int _disposed;

    /// <param name="bytes">Arena size: a positive multiple of <paramref name="pageSize"/>.</param>
    /// <param name="pageSize">Page size and alignment: a power of two.</param>
    public NativeArena(long bytes, int pageSize)
    {
        if (pageSize <= 0 || !BitOperations.IsPow2(pageSize))
            throw new ArgumentOutOfRangeException(nameof(pageSize), "page size must be a positive power of two");
        if (bytes < pageSize || bytes % pageSize != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"arena size must be a positive multiple of {pageSize}");
        PageSize = pageSize;
        PageCount = bytes / pageSize;
        // Safety: AlignedAlloc returns `bytes` writable bytes or throws; Clear writes exactly those bytes.
        unsafe
        {
            var p = NativeMemory.AlignedAlloc((nuint)bytes, (nuint)pageSize);
            // Zeroed so that fresh frames never leak another host allocation's bytes.
            NativeMemory.Clear(p, (nuint)bytes);
            _base = (nint)p;
        }
    }

    public int PageSize { get; }
    public long PageCount { get; }
    public long Length => PageCount * PageSize;

    /// <summary>A span over bytes [offset, offset + length) of the page run [firstPage, firstPage + pages).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The run is not inside the arena or the bytes not inside the run.</exception>
    /// <exception cref="ObjectDisposedException">The arena was freed.</exception>
    public Span<byte> Pages(long firstPage, long pages, long offset, int length)
    {
        long start = CheckRun(firstPage, pages);
        if (offset < 0 || length < 0 || offset > pages * PageSize - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes {offset}+{length} are outside the {pages}-page run");
        // Safety: the bytes lie inside the run, the run inside the arena, and the arena is not freed (checked above; see remarks).
        unsafe { return new Span<byte>((byte*)_base + start + offset, length); }
    }

    /// <summary>Zeroes the page run [firstPage, firstPage + pages) (of any size, unlike a span).</summary>
    public void Clear(long firstPage, long pages)
    {
        long start = CheckRun(firstPage, pages);
        // Safety: the run lies inside the arena and the arena is not freed (checked above).
        unsafe { NativeMemory.Clear((byte*)_base + start, (nuint)(pages * PageSize)); }
    }

    /// <summary>Frees the memory; see the remarks for the spans handed out before.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Safety: _base came from AlignedAlloc and the exchange above lets exactly one caller free it.
        unsafe { NativeMemory.AlignedFree((void*)_base); }
    }

    /// <summary>Byte offset of a page run known to lie inside the live arena.</summary>
    private long CheckRun(long firstPage, long pages)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (firstPage < 0 || pages <= 0 || firstPage > PageCount - pages)
            throw new ArgumentOutOfRangeException(nameof(firstPage), $"pages {firstPage}+{pages} are outside the arena ({PageCount} pages)");
        return firstPage * PageSize;
    }
}
