namespace Photon.Kernel.Hal.Pci;

/// <summary>
/// One opened PCI function: config space, memory BARs, DMA memory the device may reach (and only that: the IOMMU
/// maps exactly the buffers allocated here), and MSI-X interrupts. Disposing it unmaps everything and hands the
/// function back; a driver must not touch its regions or buffers afterwards (they fail with <c>Closed</c>).
/// </summary>
public interface IPciFunction : IDisposable
{
    PciFunctionInfo Info { get; }

    uint ReadConfig32(int offset);
    ushort ReadConfig16(int offset);
    byte ReadConfig8(int offset);
    void WriteConfig32(int offset, uint value);
    void WriteConfig16(int offset, ushort value);

    /// <summary>Maps memory BAR <paramref name="index"/> (0–5); <c>NotFound</c> for an absent or I/O-port BAR.</summary>
    Result<IMmioRegion> MapBar(int index);

    /// <summary>Allocates <paramref name="bytes"/> (rounded up to whole pages) of zeroed, physically pinned memory
    /// mapped for the device's DMA; <c>OutOfRange</c> for a non-positive or oversized request.</summary>
    Result<IDmaBuffer> AllocateDma(int bytes);

    /// <summary>Enables <paramref name="vectors"/> MSI-X vectors (the device must have an MSI-X capability);
    /// returns one interrupt source per vector. <c>NotSupported</c> where the backend can only poll.</summary>
    Result<IReadOnlyList<IDeviceInterrupt>> EnableMsix(int vectors);

    /// <summary>A function-level reset, where the device supports one.</summary>
    Result Reset();
}
