using System.Buffers;
using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>Locked memory the device reaches at its physical address (<see cref="DeviceAddress"/>, from
/// <c>/proc/self/pagemap</c>). Disposing replaces the CPU pages with zero pages (the hugepage goes back to the pool), or,
/// for a piece of a shared hugepage, zeroes it.</summary>
// Scrub swaps the pages in place, it never unmaps them.
// Safety: _base maps MappedLength bytes for the life of the process and every access is bounds-checked against Length.
internal sealed unsafe class UioDmaBuffer : MemoryManager<byte>, IDmaBuffer
{
    private readonly UioPciFunction _owner;
    private readonly byte* _base;
    private int _disposed;

    private readonly UioHugepageArena? _arena;

    internal UioDmaBuffer(UioPciFunction owner, nint address, int length, nuint mappedLength, ulong physical, UioHugepageArena? arena = null)
    {
        _arena = arena;
        _owner = owner;
        _base = (byte*)address;
        Length = length;
        MappedLength = mappedLength;
        DeviceAddress = physical;
    }

    public int Length { get; }
    internal nuint MappedLength { get; }
    public ulong DeviceAddress { get; }

    public override Span<byte> GetSpan() => new(_base, Length);
    public override MemoryHandle Pin(int elementIndex = 0) =>
        (uint)elementIndex <= (uint)Length ? new MemoryHandle(_base + elementIndex) : throw new ArgumentOutOfRangeException(nameof(elementIndex));
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
        return _base + offset;
    }

    /// <summary>A buffer of its own is scrubbed (its pages replaced by zero pages); a piece of a shared hugepage is
    /// zeroed and the hugepage scrubbed when its last piece goes.</summary>
    internal void Release()
    {
        if (_arena is null) VfioNative.Scrub((nint)_base, MappedLength);
        else
        {
            new Span<byte>(_base, (int)MappedLength).Clear();
            _arena.Return();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _owner.Release(this);
    }
}
