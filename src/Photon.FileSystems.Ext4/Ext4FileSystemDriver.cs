using System.Buffers.Binary;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Io;
using Photon.FileSystems.Ext4.Journal;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// Mounts ext4 (and extent-based ext2/3-compatible) volumes. A journal that needs recovery is replayed first (onto the
/// disk for a read-write mount, in memory for a read-only one); read-write mounts then journal every operation
/// (<see cref="Journal.JournalWriter"/>) and require only features whose invariants the write path maintains.
/// </summary>
public sealed class Ext4FileSystemDriver : IFileSystemDriver
{
    private readonly Func<DateTimeOffset> _now;

    /// <summary>Timestamps come from <see cref="TimeProvider.System"/>.</summary>
    public Ext4FileSystemDriver() : this(() => TimeProvider.System.GetUtcNow()) { }

    /// <summary>Timestamps come from the HAL wall clock.</summary>
    public Ext4FileSystemDriver(IClock clock) : this(() => clock.WallClock) { }

    private Ext4FileSystemDriver(Func<DateTimeOffset> now) => _now = now;

    public string TypeName => "ext4";

    /// <summary>Off only in tests that fuzz the structures behind the checksums.</summary>
    internal bool VerifyChecksums { get; init; } = true;

    public async ValueTask<bool> ProbeAsync(IBlockDevice device, CancellationToken ct = default)
    {
        try
        {
            if (device.SectorCount * device.SectorSize < 2048) return false;
            int ss = device.SectorSize;
            var buf = new byte[Math.Max(ss, 2048 / ss * ss)];
            long lba = 1024 / ss;
            var r = await device.ReadAsync(lba, buf.AsMemory(0, ss >= 2048 ? ss : 2048 - (int)lba * ss), ct).ConfigureAwait(false);
            if (!r.IsOk) return false;
            int at = 1024 - (int)lba * ss;
            return BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(at + 0x38)) == Superblock.Magic;
        }
        catch (OperationCanceledException) { return false; }
    }

    public async ValueTask<Result<IFileSystem>> MountAsync(IBlockDevice device, MountOptions options, CancellationToken ct = default)
    {
        try
        {
            var opened = await Volume.OpenAsync(device, VerifyChecksums, ct).ConfigureAwait(false);
            if (!opened.IsOk) return opened.Error;
            var vol = opened.Value;
            bool readOnly = options.ReadOnly;
            if (!readOnly && WriteBlocker(vol, device) is { } before) return CannotWrite(before);
            // A read-write mount first replays in memory and validates the result, so nothing is written to a
            // volume that will not mount.
            if (!readOnly)
            {
                var view = await JournalMount.PrepareAsync(vol, device, true, VerifyChecksums, _now, ct).ConfigureAwait(false);
                if (!view.IsOk) return view.Error;
                var check = await RootCheckAsync(new Ext4FileSystem(view.Value.Volume, true, _now), ct).ConfigureAwait(false);
                if (!check.IsOk) return Result<IFileSystem>.Fail(check.Error);
            }
            // Replay a journal that needs recovery (onto the disk, or in memory for a read-only mount) and open the
            // journal writer; the volume is reopened from the replayed state.
            var journal = await JournalMount.PrepareAsync(vol, device, readOnly, VerifyChecksums, _now, ct).ConfigureAwait(false);
            if (!journal.IsOk) return journal.Error;
            vol = journal.Value.Volume;
            vol.Journal = journal.Value.Writer;
            if (!readOnly && WriteBlocker(vol, device) is { } after) return CannotWrite(after);
            var fs = new Ext4FileSystem(vol, readOnly, _now);
            var root = await RootCheckAsync(fs, ct).ConfigureAwait(false);
            if (!root.IsOk) return Result<IFileSystem>.Fail(root.Error);
            return fs;
        }
        catch (OperationCanceledException) { return Result<IFileSystem>.Fail(ErrorCode.Cancelled, "mount cancelled"); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not an error path: a parser bug on a hostile image is reported as corruption rather than escaping.
            return Result<IFileSystem>.Fail(ErrorCode.Corrupted, $"ext4: malformed volume: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The root must be a readable directory, or nothing else will work.</summary>
    private static async ValueTask<Result> RootCheckAsync(Ext4FileSystem fs, CancellationToken ct)
    {
        var root = await fs.StatAsync("/", ct).ConfigureAwait(false);
        if (!root.IsOk) return Result.Fail(root.Error);
        if (root.Value.Kind != FileKind.Directory) return Result.Fail(ErrorCode.Corrupted, "ext4: root inode is not a directory");
        return Result.Ok;
    }

    private static Result<IFileSystem> CannotWrite(string why) =>
        Result<IFileSystem>.Fail(why.StartsWith("device", StringComparison.Ordinal) ? ErrorCode.ReadOnly : ErrorCode.NotSupported,
            $"ext4: cannot mount read-write: {why}");

    private static string? WriteBlocker(Volume vol, IBlockDevice device)
    {
        var sb = vol.Sb;
        if (device.IsReadOnly) return "device is read-only";
        uint incompat = sb.Incompat & ~(Features.IncompatWritable | Features.Recover);
        if (incompat != 0) return $"features are read-only in this driver: {Features.Names(incompat, FeatureSet.Incompat)}";
        uint roCompat = sb.RoCompat & ~Features.RoCompatWritable;
        if (roCompat != 0) return $"features are read-only in this driver: {Features.Names(roCompat, FeatureSet.RoCompat)}";
        uint compat = sb.Compat & ~Features.CompatWritable;
        if (compat != 0) return $"features are read-only in this driver: {Features.Names(compat, FeatureSet.Compat)}";
        if (!sb.HasMetadataCsum && (sb.RoCompat & Features.GdtCsum) != 0) return "features are read-only in this driver: uninit_bg (crc16 descriptors)";
        if ((sb.State & 0x2) != 0) return "the filesystem has recorded errors; run e2fsck";
        if (sb.LastOrphan != 0) return "the orphan list is not empty; run e2fsck";
        return null;
    }
}
