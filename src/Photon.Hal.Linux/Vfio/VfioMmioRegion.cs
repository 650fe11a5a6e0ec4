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

    private byte* At(long offset, int width)
    {
        if (offset < 0 || offset > Length - width || offset % width != 0) throw new ArgumentOutOfRangeException(nameof(offset));
        return _base + offset;
    }

    internal void Scrub() => VfioNative.Scrub((nint)_base, (nuint)Length);
}
