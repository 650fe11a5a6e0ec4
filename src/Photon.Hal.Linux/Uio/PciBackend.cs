using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>Which Linux mechanism gives Photon its PCI functions.</summary>
public enum PciBackendKind { Vfio, Uio }

/// <summary>
/// Chooses the PCI backend when the machine boots: VFIO when an IOMMU is active (it has IOMMU groups and
/// <c>/dev/vfio/vfio</c>) — the device reaches only the buffers mapped for it. Otherwise <c>uio_pci_generic</c> with
/// physical addresses from <c>/proc/self/pagemap</c> (DPDK's fallback), but only when explicitly allowed
/// (<c>photon vm guest --allow-no-iommu</c>, which <c>vm/run.sh --no-iommu</c> passes): without an IOMMU a device, or a
/// driver bug that programs a wrong address, can DMA anywhere in physical memory, so the fallback is refused
/// (<see cref="Refused"/>) unless the operator accepted that. <see cref="Reason"/> says which and why, for the console.
/// </summary>
public sealed record PciBackend(PciBackendKind Kind, string Reason, bool Refused = false)
{
    /// <summary>The flag that accepts the uio fallback's trade-off.</summary>
    public const string AllowNoIommuFlag = "--allow-no-iommu";

    /// <summary>The decision from what the machine has (pure: the tests feed it every combination).</summary>
    public static PciBackend Choose(int iommuGroups, bool vfioDevice, bool uioDriver, bool allowNoIommu)
    {
        if (iommuGroups > 0 && vfioDevice) return new(PciBackendKind.Vfio, $"IOMMU active ({iommuGroups} groups): VFIO, DMA confined to mapped buffers");
        string why = iommuGroups == 0 ? "no IOMMU" : "no /dev/vfio/vfio";
        if (uioDriver && allowNoIommu)
            return new(PciBackendKind.Uio, $"{why}: falling back to uio_pci_generic with physical addresses from /proc/self/pagemap, as {AllowNoIommuFlag} allows (devices can DMA anywhere; no MSI-X, drivers poll)");
        if (uioDriver)
            return new(PciBackendKind.Uio, $"{why}: refusing the uio_pci_generic fallback (a device could DMA anywhere in memory); {AllowNoIommuFlag} accepts it", Refused: true);
        return new(PciBackendKind.Vfio, iommuGroups == 0 ? "no IOMMU and no uio_pci_generic: VFIO will refuse to open devices" : "VFIO");
    }

    /// <summary>Looks at this machine (<c>/sys/kernel/iommu_groups</c>, <c>/dev/vfio/vfio</c>,
    /// <c>/sys/bus/pci/drivers/uio_pci_generic</c>).</summary>
    public static PciBackend Detect(bool allowNoIommu, string sysRoot = "/sys", string devRoot = "/dev")
    {
        var groups = Path.Combine(sysRoot, "kernel", "iommu_groups");
        int count = Directory.Exists(groups) ? Directory.GetDirectories(groups).Length : 0;
        return Choose(count, File.Exists(Path.Combine(devRoot, "vfio", "vfio")), Directory.Exists(Path.Combine(sysRoot, "bus", "pci", "drivers", "uio_pci_generic")),
            allowNoIommu);
    }

    /// <summary>The bus of the chosen kind (none for a refused fallback).</summary>
    public IPciBus CreateBus(string sysfsPci = "/sys/bus/pci") =>
        Refused ? throw new InvalidOperationException(Reason) : Kind == PciBackendKind.Uio ? new UioPciBus(sysfsPci) : new VfioPciBus(sysfsPci);
}
