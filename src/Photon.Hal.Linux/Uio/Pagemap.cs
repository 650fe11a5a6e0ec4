namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>
/// Virtual-to-physical translation through <c>/proc/self/pagemap</c> (Linux Documentation/admin-guide/mm/pagemap.rst),
/// DPDK's method when there is no IOMMU: one 64-bit entry per virtual page — bit 63 present, bit 62 swapped, bits 0–54
/// the page frame number. Without CAP_SYS_ADMIN the kernel reports every PFN as 0, which is refused, not used.
/// </summary>
public static class Pagemap
{
    public const int PageSize = 4096;
    private const ulong Present = 1UL << 63, Swapped = 1UL << 62, PfnMask = (1UL << 55) - 1;

    /// <summary>The physical address of <paramref name="virtualAddress"/> given its page's pagemap entry.</summary>
    public static Result<ulong> PhysicalAddress(ulong entry, ulong virtualAddress)
    {
        if ((entry & Present) == 0)
            return Errors.Of(ErrorCode.InvalidArgument, (entry & Swapped) != 0 ? "the page is swapped out (not locked)" : "the page is not present (not populated)");
        ulong pfn = entry & PfnMask;
        if (pfn == 0) return Errors.Of(ErrorCode.AccessDenied, "pagemap hides page frame numbers (needs CAP_SYS_ADMIN)");
        return pfn * PageSize + virtualAddress % PageSize;
    }

    /// <summary>Reads the entry of the page holding <paramref name="virtualAddress"/> from <paramref name="path"/>.</summary>
    public static Result<ulong> Entry(ulong virtualAddress, string path = "/proc/self/pagemap")
    {
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            Span<byte> entry = stackalloc byte[8];
            int n = RandomAccess.Read(file, entry, (long)(virtualAddress / PageSize * 8));
            if (n != 8) return Errors.Of(ErrorCode.IoError, $"{path}: short read at page 0x{virtualAddress / PageSize:x}");
            return BitConverter.ToUInt64(entry);
        }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, $"{path}: {e.Message}"); }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, $"{path}: {e.Message}"); }
    }

    /// <summary>The physical address of <paramref name="virtualAddress"/> (its page must be present: locked memory).</summary>
    public static Result<ulong> Translate(ulong virtualAddress, string path = "/proc/self/pagemap")
    {
        var e = Entry(virtualAddress, path);
        return e.IsOk ? PhysicalAddress(e.Value, virtualAddress) : e.Error;
    }

    /// <summary>The physical address of <paramref name="length"/> bytes from <paramref name="virtualAddress"/> when every
    /// page of them follows the previous one physically (a device sees one contiguous range); NotSupported otherwise.</summary>
    public static Result<ulong> TranslateContiguous(ulong virtualAddress, long length, string path = "/proc/self/pagemap")
    {
        if (virtualAddress % PageSize != 0 || length <= 0) return Errors.Of(ErrorCode.InvalidArgument, "a page-aligned, non-empty range");
        var first = Translate(virtualAddress, path);
        if (!first.IsOk) return first;
        for (long off = PageSize; off < length; off += PageSize)
        {
            var next = Translate(virtualAddress + (ulong)off, path);
            if (!next.IsOk) return next;
            if (next.Value != first.Value + (ulong)off)
                return Errors.Of(ErrorCode.NotSupported, $"{length} bytes are not physically contiguous (page {off / PageSize} is at 0x{next.Value:x})");
        }
        return first;
    }
}
