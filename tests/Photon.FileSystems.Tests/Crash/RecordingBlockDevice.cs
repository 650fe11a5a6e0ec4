using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>One entry of a recorded block-device log: a write (byte offset and the bytes) or a flush (<see cref="Data"/> null).</summary>
public sealed record BlockLogEntry(long Offset, byte[]? Data)
{
    public bool IsFlush => Data is null;
}

/// <summary>
/// An in-memory block device that records every acknowledged write and every flush in order (CrashMonkey's
/// recording layer). The live image always holds every write; <see cref="Base"/> is the image before recording began.
/// </summary>
public sealed class RecordingBlockDevice : IBlockDevice
{
    private readonly byte[] _image;
    private readonly List<BlockLogEntry> _log = new();

    public RecordingBlockDevice(byte[] image, int sectorSize = 512)
    {
        _image = (byte[])image.Clone();
        Base = (byte[])image.Clone();
        SectorSize = sectorSize;
    }

    public byte[] Base { get; }
    public IReadOnlyList<BlockLogEntry> Log => _log;
    public string Name => "recorder";
    public int SectorSize { get; }
    public long SectorCount => _image.Length / SectorSize;
    public bool IsReadOnly => false;

    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, buffer.Length, SectorSize, SectorCount);
        if (!check.IsOk) return ValueTask.FromResult(check);
        _image.AsMemory((int)(lba * SectorSize), buffer.Length).CopyTo(buffer);
        return ValueTask.FromResult(Result.Ok);
    }

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, data.Length, SectorSize, SectorCount);
        if (!check.IsOk) return ValueTask.FromResult(check);
        data.CopyTo(_image.AsMemory((int)(lba * SectorSize)));
        _log.Add(new BlockLogEntry(lba * SectorSize, data.ToArray()));
        return ValueTask.FromResult(Result.Ok);
    }

    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default)
    {
        _log.Add(new BlockLogEntry(0, null));
        return ValueTask.FromResult(Result.Ok);
    }
}
