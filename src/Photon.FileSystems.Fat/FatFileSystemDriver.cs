using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Fat;

/// <summary>
/// Mounts FAT12, FAT16 and FAT32 volumes (with VFAT long names) from any <see cref="IBlockDevice"/>.
/// Timestamps come from the supplied clock (UTC; FAT has no time zone), or the host's UTC time by default.
/// </summary>
public sealed class FatFileSystemDriver : IFileSystemDriver
{
    internal const string Name = "vfat";

    private readonly Func<DateTimeOffset> _now;

    public FatFileSystemDriver() => _now = static () => DateTimeOffset.UtcNow;

    public FatFileSystemDriver(IClock clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _now = () => clock.WallClock;
    }

    public string TypeName => Name;

    public async ValueTask<bool> ProbeAsync(IBlockDevice device, CancellationToken ct = default)
    {
        try { return (await FatFileSystem.ReadGeometryAsync(device, ct).ConfigureAwait(false)).IsOk; }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>Validates the volume and mounts it. A volume that fails validation is never written to.</summary>
    public ValueTask<Result<IFileSystem>> MountAsync(IBlockDevice device, MountOptions options, CancellationToken ct = default)
    {
        if (device is null) return ValueTask.FromResult(Result<IFileSystem>.Fail(ErrorCode.InvalidArgument, "no device"));
        return FatFileSystem.MountAsync(device, options ?? new MountOptions(), _now, ct);
    }
}
