using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.Fuzz.Targets;

/// <summary>A fuzz input as a block device: the bytes padded to whole 512-byte sectors, bounds-checked like a real
/// device (BlockRange), so a driver reaching outside the volume gets OutOfRange — which the targets treat as a bug.</summary>
internal sealed class MemoryDisk(byte[] input) : IBlockDevice
{
    private readonly byte[] _data = Padded(input);

    private static byte[] Padded(byte[] input)
    {
        var data = new byte[Math.Max(512, (input.Length + 511) / 512 * 512)];
        input.CopyTo(data, 0);
        return data;
    }

    public string Name => "fuzz";
    public int SectorSize => 512;
    public long SectorCount => _data.Length / SectorSize;
    public bool IsReadOnly => false;

    /// <summary>Writes that reached the device (a read-only mount must make none).</summary>
    public int Writes { get; private set; }

    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, buffer.Length, SectorSize, SectorCount);
        if (check.IsOk) _data.AsMemory((int)(lba * SectorSize), buffer.Length).CopyTo(buffer);
        return ValueTask.FromResult(check);
    }

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, data.Length, SectorSize, SectorCount);
        if (check.IsOk) data.CopyTo(_data.AsMemory((int)(lba * SectorSize)));
        Writes++;
        return ValueTask.FromResult(check);
    }

    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Result.Ok);
}
