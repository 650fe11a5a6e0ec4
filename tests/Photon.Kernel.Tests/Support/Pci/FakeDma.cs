using System.Buffers.Binary;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Tests.Support.Pci;

/// <summary>A device model touched an address no live DMA buffer maps: what an IOMMU turns into a DMAR fault.</summary>
public sealed class DmaFaultException(ulong address, int length) : Exception($"DMA fault at 0x{address:x} (+{length})")
{
    public ulong Address { get; } = address;
}

/// <summary>
/// The test IOMMU: hands out IOVAs for managed buffers and translates a device model's accesses back, refusing any
/// that leave a live buffer. Models read and write rings only through it, after a full fence, as a device would.
/// </summary>
public sealed class FakeDmaSpace
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ulong, FakeDmaBuffer> _mapped = new();
    private ulong _next = 0x1_0000_0000;

    public int LiveBuffers { get { lock (_lock) return _mapped.Count; } }
    /// <summary>Bytes of every buffer ever allocated (pages, rounded up): what a driver asked the platform for.</summary>
    public long AllocatedBytes { get { lock (_lock) return _allocated; } }
    private long _allocated;

    internal FakeDmaBuffer Allocate(int bytes)
    {
        int rounded = (bytes + 4095) & ~4095;
        lock (_lock)
        {
            _allocated += rounded;
            var b = new FakeDmaBuffer(this, _next, new byte[rounded]);
            _mapped[_next] = b;
            _next += (ulong)rounded + 0x10000; // a guard gap between buffers
            return b;
        }
    }

    internal void Unmap(ulong address)
    {
        lock (_lock) _mapped.Remove(address);
    }

    /// <summary>The bytes at <paramref name="address"/>; throws <see cref="DmaFaultException"/> outside a mapped buffer.</summary>
    public Memory<byte> Translate(ulong address, int length)
    {
        lock (_lock)
        {
            foreach (var (start, b) in _mapped)
            {
                if (address < start) break;
                if (length >= 0 && address + (ulong)length <= start + (ulong)b.Length)
                    return b.Memory.Slice((int)(address - start), length);
            }
        }
        throw new DmaFaultException(address, length);
    }

    public ushort Read16(ulong a) { Interlocked.MemoryBarrier(); return BinaryPrimitives.ReadUInt16LittleEndian(Translate(a, 2).Span); }
    public uint Read32(ulong a) { Interlocked.MemoryBarrier(); return BinaryPrimitives.ReadUInt32LittleEndian(Translate(a, 4).Span); }
    public ulong Read64(ulong a) { Interlocked.MemoryBarrier(); return BinaryPrimitives.ReadUInt64LittleEndian(Translate(a, 8).Span); }
    public void Write16(ulong a, ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(Translate(a, 2).Span, v); Interlocked.MemoryBarrier(); }
    public void Write32(ulong a, uint v) { BinaryPrimitives.WriteUInt32LittleEndian(Translate(a, 4).Span, v); Interlocked.MemoryBarrier(); }
    public void Write64(ulong a, ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(Translate(a, 8).Span, v); Interlocked.MemoryBarrier(); }
    public byte[] ReadBytes(ulong a, int length) { Interlocked.MemoryBarrier(); return Translate(a, length).ToArray(); }
    public void WriteBytes(ulong a, ReadOnlySpan<byte> data) { data.CopyTo(Translate(a, data.Length).Span); Interlocked.MemoryBarrier(); }
}

/// <summary>A managed-memory DMA buffer; after disposal every access fails with <c>Closed</c>, as the HAL promises.</summary>
public sealed class FakeDmaBuffer : IDmaBuffer
{
    private readonly FakeDmaSpace _space;
    private readonly byte[] _data;
    private bool _disposed;

    internal FakeDmaBuffer(FakeDmaSpace space, ulong address, byte[] data)
    {
        _space = space;
        DeviceAddress = address;
        _data = data;
    }

    public int Length => _data.Length;
    public ulong DeviceAddress { get; }
    public Memory<byte> Memory => _disposed ? throw new KernelException(ErrorCode.Closed, "DMA buffer freed") : _data;

    private Span<byte> At(int offset, int size)
    {
        if (_disposed) throw new KernelException(ErrorCode.Closed, "DMA buffer freed");
        return _data.AsSpan(offset, size);
    }

    public uint ReadVolatile32(int offset) { Interlocked.MemoryBarrier(); return BinaryPrimitives.ReadUInt32LittleEndian(At(offset, 4)); }
    public void WriteVolatile32(int offset, uint value) { BinaryPrimitives.WriteUInt32LittleEndian(At(offset, 4), value); Interlocked.MemoryBarrier(); }
    public ushort ReadVolatile16(int offset) { Interlocked.MemoryBarrier(); return BinaryPrimitives.ReadUInt16LittleEndian(At(offset, 2)); }
    public void WriteVolatile16(int offset, ushort value) { BinaryPrimitives.WriteUInt16LittleEndian(At(offset, 2), value); Interlocked.MemoryBarrier(); }
    public ulong ReadVolatile64(int offset) { Interlocked.MemoryBarrier(); return BinaryPrimitives.ReadUInt64LittleEndian(At(offset, 8)); }
    public void WriteVolatile64(int offset, ulong value) { BinaryPrimitives.WriteUInt64LittleEndian(At(offset, 8), value); Interlocked.MemoryBarrier(); }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _space.Unmap(DeviceAddress);
    }
}
