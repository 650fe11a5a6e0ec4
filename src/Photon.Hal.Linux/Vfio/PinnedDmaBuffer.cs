using System.Buffers;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>
/// The CPU side of a DMA buffer both PCI backends hand out (VFIO: an IOVA in the IOMMU container; uio: a physical
/// address): memory mapped for the life of the process, seen by the driver as a span and through fenced volatile
/// accessors, every access bounds-checked against <see cref="Length"/>. Subclasses say how the device address was made
/// and how the buffer is given back; disposing hands it to that once.
/// </summary>
// Safety: Base maps MappedLength bytes for the life of the process and every access is bounds-checked against Length.
internal abstract unsafe class PinnedDmaBuffer : MemoryManager<byte>, IDmaBuffer
{
    private int _disposed;

    protected PinnedDmaBuffer(nint address, int length, nuint mappedLength, ulong deviceAddress)
    {
        Base = (byte*)address;
        Length = length;
        MappedLength = mappedLength;
        DeviceAddress = deviceAddress;
    }

    protected byte* Base { get; }
    public int Length { get; }
    internal nuint MappedLength { get; }
    public ulong DeviceAddress { get; }

    public override Span<byte> GetSpan() => new(Base, Length);
    public override MemoryHandle Pin(int elementIndex = 0) =>
        (uint)elementIndex <= (uint)Length ? new MemoryHandle(Base + elementIndex) : throw new ArgumentOutOfRangeException(nameof(elementIndex));
    public override void Unpin() { }

    public uint ReadVolatile32(int offset) { Interlocked.MemoryBarrier(); return Volatile.Read(ref *(uint*)At(offset, 4)); }
    public void WriteVolatile32(int offset, uint value) { Volatile.Write(ref *(uint*)At(offset, 4), value); Interlocked.MemoryBarrier(); }
    public ushort ReadVolatile16(int offset) { Interlocked.MemoryBarrier(); return Volatile.Read(ref *(ushort*)At(offset, 2)); }
    public void WriteVolatile16(int offset, ushort value) { Volatile.Write(ref *(ushort*)At(offset, 2), value); Interlocked.MemoryBarrier(); }
    public ulong ReadVolatile64(int offset) { Interlocked.MemoryBarrier(); return Volatile.Read(ref *(ulong*)At(offset, 8)); }
    public void WriteVolatile64(int offset, ulong value) { Volatile.Write(ref *(ulong*)At(offset, 8), value); Interlocked.MemoryBarrier(); }

    private byte* At(int offset, int width)
    {
        if (offset < 0 || offset > Length - width) throw new ArgumentOutOfRangeException(nameof(offset));
        return Base + offset;
    }

    /// <summary>Gives the buffer back to its function (once).</summary>
    protected abstract void ReturnToOwner();

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) ReturnToOwner();
    }
}
