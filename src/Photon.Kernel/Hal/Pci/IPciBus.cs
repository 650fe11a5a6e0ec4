namespace Photon.Kernel.Hal.Pci;

/// <summary>
/// The machine's PCI functions (VFIO on the Linux backend, DPDK/SPDK-style). Opening a function takes it from
/// whatever host driver had it and gives the caller exclusive use of its config space, BARs, DMA and interrupts.
/// </summary>
public interface IPciBus
{
    IReadOnlyList<PciFunctionInfo> Enumerate();

    /// <summary>Opens <paramref name="address"/> for a driver: <c>NotFound</c>, <c>Busy</c> (already open),
    /// <c>NotSupported</c> (no IOMMU/VFIO) or <c>AccessDenied</c>.</summary>
    Result<IPciFunction> Open(PciAddress address);
}
