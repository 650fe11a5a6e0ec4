using Photon.Kernel.Hal;

namespace Photon.Kernel.Io;

/// <summary>
/// The simplest <see cref="IBlockDevice"/>: sector reads and writes passed straight to HAL storage, with every bound
/// checked. Used by tools and tests that need no queueing; the NVMe-style driver in Drivers/Block is the kernel's.
/// </summary>
public sealed class StorageBlockDevice : IBlockDevice
{
    private readonly IBlockStorage _storage;

    public StorageBlockDevice(IBlockStorage storage, int sectorSize = 512)
    {
        if (sectorSize is not (512 or 4096)) throw new ArgumentOutOfRangeException(nameof(sectorSize), "sector size must be 512 or 4096");
        _storage = storage;
        SectorSize = sectorSize;
        SectorCount = storage.Length / sectorSize;
    }

    public string Name => _storage.Name;
    public int SectorSize { get; }
    public long SectorCount { get; }
    public bool IsReadOnly => _storage.IsReadOnly;

    public async ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, buffer.Length, SectorSize, SectorCount);
        if (!check.IsOk) return check;
        try
        {
            int n = await _storage.ReadAsync(lba * SectorSize, buffer, cancellationToken).ConfigureAwait(false);
            return n == buffer.Length ? Result.Ok : Result.Fail(ErrorCode.IoError, $"short read at lba {lba}: {n}/{buffer.Length}");
        }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "read cancelled"); }
    }

    public async ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (IsReadOnly) return Result.Fail(ErrorCode.ReadOnly, $"{Name} is read-only");
        var check = BlockRange.Validate(lba, data.Length, SectorSize, SectorCount);
        if (!check.IsOk) return check;
        try
        {
            await _storage.WriteAsync(lba * SectorSize, data, cancellationToken).ConfigureAwait(false);
            return Result.Ok;
        }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "write cancelled"); }
    }

    public async ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default)
    {
        try { await _storage.FlushAsync(cancellationToken).ConfigureAwait(false); return Result.Ok; }
        catch (KernelException e) { return e.Error; }
    }
}

public static class BlockRange
{
    /// <summary>Rejects misaligned lengths and any range that is not wholly on the device.</summary>
    public static Result Validate(long lba, int length, int sectorSize, long sectorCount)
    {
        if (length <= 0 || length % sectorSize != 0)
            return Result.Fail(ErrorCode.InvalidArgument, $"length {length} is not a positive multiple of the {sectorSize}-byte sector");
        long sectors = length / sectorSize;
        if (lba < 0 || lba > sectorCount || sectors > sectorCount - lba)
            return Result.Fail(ErrorCode.OutOfRange, $"sectors {lba}..{lba + sectors} are outside the device's {sectorCount}");
        return Result.Ok;
    }
}
