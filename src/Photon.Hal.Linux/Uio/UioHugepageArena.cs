using Photon.Kernel.Hal.Host.Vfio;
using static Photon.Kernel.Hal.Host.Vfio.VfioNative;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>
/// One locked 2 MiB hugepage carved into page-aligned DMA buffers by a bump pointer (never reused: a freed piece is only
/// zeroed); the hugepage is scrubbed once it is retired (full, or its function closed) and its last piece returned.
/// Callers hold their function's lock.
/// Physically contiguous by construction, so a piece's physical address is the page's plus its offset.
/// </summary>
// Safety: _base maps Size bytes (one hugepage) until Scrub replaces it in place; pieces are handed out inside it.
internal sealed class UioHugepageArena
{
    private const int MAP_HUGETLB = 0x40000;
    public const int Size = 2 << 20;
    private readonly nint _base;
    private readonly ulong _physical;
    private nuint _used;
    private int _live;
    private bool _retired;

    private UioHugepageArena(nint address, ulong physical)
    {
        _base = address;
        _physical = physical;
    }

    public static Result<UioHugepageArena> Create()
    {
        var address = mmap(0, Size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED | MAP_HUGETLB, -1, 0);
        if (address == MapFailed) return Errors.Of(ErrorCode.OutOfMemory, $"no free hugepage (errno {Errno}; boot with hugepages=N)");
        var physical = Pagemap.TranslateContiguous((ulong)address, Size);
        if (!physical.IsOk)
        {
            Scrub(address, Size);
            return physical.Error;
        }
        return new UioHugepageArena(address, physical.Value);
    }

    public bool Fits(nuint bytes) => _used + bytes <= Size;

    /// <summary>The next <paramref name="bytes"/> (page-aligned, <see cref="Fits"/> checked by the caller).</summary>
    public (nint Address, ulong Physical) Take(nuint bytes)
    {
        var piece = (_base + (nint)_used, _physical + _used);
        _used += bytes;
        _live++;
        return piece;
    }

    /// <summary>A piece came back; the last one of a retired arena frees the hugepage.</summary>
    public void Return()
    {
        if (--_live == 0 && _retired) Scrub(_base, Size);
    }

    /// <summary>No more pieces will be taken (the function moved on to a new hugepage, or closed).</summary>
    public void Retire()
    {
        _retired = true;
        if (_live == 0) Scrub(_base, Size);
    }
}
