using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>Which Linux mechanism gives Photon its PCI functions.</summary>
public enum PciBackendKind { Vfio, Uio }

/// <summary>
/// Chooses the PCI backend when the machine boots: VFIO when an IOMMU is active (it has IOMMU groups and
/// <c>/dev/vfio/vfio</c>) — the device reaches only the buffers mapped for it; otherwise <c>uio_pci_generic</c> with
/// physical addresses from <c>/proc/self/pagemap</c> (DPDK's fallback) if that driver is loaded — the device can DMA
/// anywhere, which <see cref="Reason"/> says so the console shows it. Without either, VFIO (its errors explain why).
/// </summary>
public sealed record PciBackend(PciBackendKind Kind, string Reason)
{
    /// <summary>The decision from what the machine has (pure: the tests feed it every combination).</summary>
    public static PciBackend Choose(int iommuGroups, bool vfioDevice, bool uioDriver)
    {
        if (iommuGroups > 0 && vfioDevice) return new(PciBackendKind.Vfio, $"IOMMU active ({iommuGroups} groups): VFIO, DMA confined to mapped buffers");
        if (uioDriver)
            return new(PciBackendKind.Uio, iommuGroups == 0
                ? "no IOMMU: falling back to uio_pci_generic with physical addresses from /proc/self/pagemap (devices can DMA anywhere; no MSI-X, drivers poll)"
                : "no /dev/vfio/vfio: falling back to uio_pci_generic with physical addresses from /proc/self/pagemap (devices can DMA anywhere; no MSI-X, drivers poll)");
        return new(PciBackendKind.Vfio, iommuGroups == 0 ? "no IOMMU and no uio_pci_generic: VFIO will refuse to open devices" : "VFIO");
    }

    /// <summary>Looks at this machine (<c>/sys/kernel/iommu_groups</c>, <c>/dev/vfio/vfio</c>,
    /// <c>/sys/bus/pci/drivers/uio_pci_generic</c>).</summary>
    public static PciBackend Detect(string sysRoot = "/sys", string devRoot = "/dev")
    {
        var groups = Path.Combine(sysRoot, "kernel", "iommu_groups");
        int count = Directory.Exists(groups) ? Directory.GetDirectories(groups).Length : 0;
        return Choose(count, File.Exists(Path.Combine(devRoot, "vfio", "vfio")), Directory.Exists(Path.Combine(sysRoot, "bus", "pci", "drivers", "uio_pci_generic")));
    }

    /// <summary>The bus of the chosen kind.</summary>
    public IPciBus CreateBus(string sysfsPci = "/sys/bus/pci") => Kind == PciBackendKind.Uio ? new UioPciBus(sysfsPci) : new VfioPciBus(sysfsPci);
}
