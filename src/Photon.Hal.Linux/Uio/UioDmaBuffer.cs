using Photon.Kernel.Hal.Host.Vfio;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>Locked memory the device reaches at its physical address (<see cref="PinnedDmaBuffer.DeviceAddress"/>, from
/// <c>/proc/self/pagemap</c>). Disposing replaces the CPU pages with zero pages (the hugepage goes back to the pool), or,
/// for a piece of a shared hugepage, zeroes it.</summary>
// Scrub swaps the pages in place, it never unmaps them.
// Safety: Base maps MappedLength bytes for the life of the process (PinnedDmaBuffer).
internal sealed unsafe class UioDmaBuffer(UioPciFunction owner, nint address, int length, nuint mappedLength, ulong physical, UioHugepageArena? arena = null)
    : PinnedDmaBuffer(address, length, mappedLength, physical)
{
    /// <summary>A buffer of its own is scrubbed (its pages replaced by zero pages); a piece of a shared hugepage is
    /// zeroed and the hugepage scrubbed when its last piece goes.</summary>
    internal void Release()
    {
        if (arena is null) VfioNative.Scrub((nint)Base, MappedLength);
        else
        {
            new Span<byte>(Base, (int)MappedLength).Clear();
            arena.Return();
        }
    }

    protected override void ReturnToOwner() => owner.Release(this);
}
