namespace Photon.Kernel.Io;

/// <summary>The one bounds check every block device applies before a request touches storage.</summary>
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
