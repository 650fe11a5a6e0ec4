using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Dma;

/// <summary>
/// A window on part of a larger DMA buffer (one receive slot of a NIC's pool), so a <see cref="DmaLoan"/> can lend
/// exactly the bytes the device wrote there. It owns nothing: disposing it leaves the pool alone.
/// </summary>
internal sealed class DmaBufferSlice : IDmaBuffer
{
    private readonly IDmaBuffer _pool;
    private readonly int _offset;

    public DmaBufferSlice(IDmaBuffer pool, int offset, int length)
    {
        if (offset < 0 || length < 0 || offset > pool.Length - length) throw new ArgumentOutOfRangeException(nameof(length), "the slice must lie inside its pool");
        _pool = pool;
        _offset = offset;
        Length = length;
    }

    public int Length { get; }
    public ulong DeviceAddress => _pool.DeviceAddress + (ulong)_offset;
    public Memory<byte> Memory => _pool.Memory.Slice(_offset, Length);

    private int At(int offset, int size) =>
        offset >= 0 && offset <= Length - size ? _offset + offset : throw new ArgumentOutOfRangeException(nameof(offset));

    public uint ReadVolatile32(int offset) => _pool.ReadVolatile32(At(offset, 4));
    public void WriteVolatile32(int offset, uint value) => _pool.WriteVolatile32(At(offset, 4), value);
    public ushort ReadVolatile16(int offset) => _pool.ReadVolatile16(At(offset, 2));
    public void WriteVolatile16(int offset, ushort value) => _pool.WriteVolatile16(At(offset, 2), value);
    public ulong ReadVolatile64(int offset) => _pool.ReadVolatile64(At(offset, 8));
    public void WriteVolatile64(int offset, ulong value) => _pool.WriteVolatile64(At(offset, 8), value);

    public void Dispose() { }
}
