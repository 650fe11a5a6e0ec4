namespace Photon.Kernel.Hal.Pci;

/// <summary>A mapped device register window. Every access is a single volatile load or store of the given width, in
/// program order (device registers have side effects: never combine, split or reorder them). Offsets outside the
/// window throw <see cref="ArgumentOutOfRangeException"/> — a driver bug, not a device condition.</summary>
public interface IMmioRegion
{
    long Length { get; }
    uint Read32(long offset);
    ulong Read64(long offset);
    void Write32(long offset, uint value);
    void Write64(long offset, ulong value);
}
