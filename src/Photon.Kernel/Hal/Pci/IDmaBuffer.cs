namespace Photon.Kernel.Hal.Pci;

/// <summary>
/// Pinned memory the device reaches at <see cref="DeviceAddress"/> (an IOVA behind the IOMMU). The CPU side is
/// <see cref="Memory"/>; rings shared with the device (queue entries, phase bits, virtqueue indexes) use the volatile
/// accessors, which are full fences, so a doorbell write is never seen before the entry it publishes.
/// </summary>
public interface IDmaBuffer : IDisposable
{
    int Length { get; }

    /// <summary>The address the device uses for byte 0 of this buffer.</summary>
    ulong DeviceAddress { get; }

    Memory<byte> Memory { get; }

    uint ReadVolatile32(int offset);
    void WriteVolatile32(int offset, uint value);
    ushort ReadVolatile16(int offset);
    void WriteVolatile16(int offset, ushort value);
    ulong ReadVolatile64(int offset);
    void WriteVolatile64(int offset, ulong value);
}
