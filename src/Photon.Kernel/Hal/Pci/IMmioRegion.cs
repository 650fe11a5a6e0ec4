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

    /// <summary>A single 16-bit load. Some register files need the natural width (virtio's common configuration: QEMU
    /// decodes by address and refuses unaligned wider accesses). A backend that cannot issue narrow accesses keeps this
    /// default, which fails with <see cref="ErrorCode.NotSupported"/> instead of emulating it with a wider access that
    /// would hit the neighbouring register.</summary>
    ushort Read16(long offset) => throw new KernelException(ErrorCode.NotSupported, "this MMIO backend has no 16-bit access");

    /// <summary>A single 16-bit store (see <see cref="Read16"/>).</summary>
    void Write16(long offset, ushort value) => throw new KernelException(ErrorCode.NotSupported, "this MMIO backend has no 16-bit access");

    /// <summary>A single 8-bit load (see <see cref="Read16"/>).</summary>
    byte Read8(long offset) => throw new KernelException(ErrorCode.NotSupported, "this MMIO backend has no 8-bit access");

    /// <summary>A single 8-bit store (see <see cref="Read16"/>).</summary>
    void Write8(long offset, byte value) => throw new KernelException(ErrorCode.NotSupported, "this MMIO backend has no 8-bit access");
}
