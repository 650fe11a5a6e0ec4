namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>Anonymous shared memory mapped into the function's IOMMU container at <see cref="PinnedDmaBuffer.DeviceAddress"/>.
/// Disposing unmaps it from the IOMMU first (the device loses it), then replaces the CPU pages with zero pages.</summary>
// Scrub swaps the pages in place (after the IOMMU unmap), it never unmaps them.
// Safety: Base maps MappedLength bytes for the life of the process (PinnedDmaBuffer).
internal sealed unsafe class VfioDmaBuffer(VfioPciFunction owner, nint address, int length, nuint mappedLength, ulong iova)
    : PinnedDmaBuffer(address, length, mappedLength, iova)
{
    internal void Scrub() => VfioNative.Scrub((nint)Base, MappedLength);

    protected override void ReturnToOwner() => owner.Release(this);
}
