using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>A BAR mmapped from the VFIO device: every access is one volatile load or store of its width.</summary>
// Scrub replaces the mapping in place (same size) with zero pages, never unmaps it.
// Safety: _base maps Length bytes for the life of the process, so every bounds-checked access stays inside a mapping.
internal sealed unsafe class VfioMmioRegion(nint address, long length) : IMmioRegion
{
    private readonly byte* _base = (byte*)address;

    public long Length { get; } = length;

    public uint Read32(long offset) => Volatile.Read(ref *(uint*)At(offset, 4));
    public ulong Read64(long offset) => Volatile.Read(ref *(ulong*)At(offset, 8));
    public void Write32(long offset, uint value) => Volatile.Write(ref *(uint*)At(offset, 4), value);
    public void Write64(long offset, ulong value) => Volatile.Write(ref *(ulong*)At(offset, 8), value);
    // Virtio's common configuration is accessed at each field's natural width (QEMU rejects wider accesses).
    public ushort Read16(long offset) => Volatile.Read(ref *(ushort*)At(offset, 2));
    public void Write16(long offset, ushort value) => Volatile.Write(ref *(ushort*)At(offset, 2), value);
    public byte Read8(long offset) => Volatile.Read(ref *At(offset, 1));
    public void Write8(long offset, byte value) => Volatile.Write(ref *At(offset, 1), value);

    private byte* At(long offset, int width)
    {
        if (offset < 0 || offset > Length - width || offset % width != 0) throw new ArgumentOutOfRangeException(nameof(offset));
        return _base + offset;
    }

    internal void Scrub() => VfioNative.Scrub((nint)_base, (nuint)Length);
}
