using System.Buffers.Binary;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// Mounts ext4 (and extent-based ext2/3-compatible) volumes. Read-write mounts require a clean, empty journal and only
/// features whose invariants the write path maintains; a journal that needs recovery is refused for read-write with
/// <see cref="ErrorCode.NotSupported"/> (it is not replayed) but may still be mounted read-only.
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
            var vol = await Volume.OpenAsync(device, VerifyChecksums, ct).ConfigureAwait(false);
            var sb = vol.Sb;
            bool readOnly = options.ReadOnly;
            if (!readOnly)
            {
                string? why = WriteBlocker(vol, device);
                if (why is null) why = await JournalBlockerAsync(vol, ct).ConfigureAwait(false);
                if (why is not null)
                    return Result<IFileSystem>.Fail(why.StartsWith("device", StringComparison.Ordinal) ? ErrorCode.ReadOnly : ErrorCode.NotSupported,
                        $"ext4: cannot mount read-write: {why}");
            }
            var fs = new Ext4FileSystem(vol, readOnly, _now);
            // The root must be a readable directory, or nothing else will work.
            var root = await fs.StatAsync("/", ct).ConfigureAwait(false);
            if (!root.IsOk) return Result<IFileSystem>.Fail(root.Error);
            if (root.Value.Kind != FileKind.Directory) return Result<IFileSystem>.Fail(ErrorCode.Corrupted, "ext4: root inode is not a directory");
            return fs;
        }
        catch (KernelException e) { return Result<IFileSystem>.Fail(e.Error); }
        catch (OperationCanceledException) { return Result<IFileSystem>.Fail(ErrorCode.Cancelled, "mount cancelled"); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Result<IFileSystem>.Fail(ErrorCode.Corrupted, $"ext4: malformed volume: {e.GetType().Name}: {e.Message}");
        }
    }

    private static string? WriteBlocker(Volume vol, IBlockDevice device)
    {
        var sb = vol.Sb;
        if (device.IsReadOnly) return "device is read-only";
        if ((sb.Incompat & Features.Recover) != 0) return "the journal needs recovery (replay is not implemented; run e2fsck or mount read-only)";
        if ((sb.Incompat & ~Features.IncompatWritable) != 0) return $"incompatible features 0x{sb.Incompat & ~Features.IncompatWritable:X} are read-only in this driver";
        if ((sb.RoCompat & ~Features.RoCompatWritable) != 0) return $"ro_compat features 0x{sb.RoCompat & ~Features.RoCompatWritable:X} are not supported for writing";
        if ((sb.Compat & ~Features.CompatWritable) != 0) return $"compat features 0x{sb.Compat & ~Features.CompatWritable:X} are not supported for writing";
        if (!sb.HasMetadataCsum && (sb.RoCompat & Features.GdtCsum) != 0) return "gdt_csum (crc16) descriptors are read-only in this driver";
        if ((sb.State & 0x2) != 0) return "the filesystem has recorded errors; run e2fsck";
        if (sb.LastOrphan != 0) return "the orphan list is not empty; run e2fsck";
        return null;
    }

    /// <summary>Writing in place is only safe if the journal holds nothing to replay (s_start == 0).</summary>
    private static async ValueTask<string?> JournalBlockerAsync(Volume vol, CancellationToken ct)
    {
        if ((vol.Sb.Compat & Features.HasJournal) == 0) return null;
        if (vol.Sb.JournalInode == 0) return "external journals are not supported";
        var journal = await vol.ReadInodeAsync(vol.Sb.JournalInode, ct).ConfigureAwait(false);
        var map = await ExtentTree.LoadAsync(vol, journal, ct).ConfigureAwait(false);
        vol.EndOperation();
        int i = map.Find(0);
        if (i < 0) return "the journal inode maps no superblock";
        var jsb = new byte[vol.BlockSize];
        await vol.ReadDataAsync(map.Extents[i].Physical + (0 - map.Extents[i].Logical), jsb, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32BigEndian(jsb) != 0xC03B3998) return "the journal superblock is invalid";
        if (BinaryPrimitives.ReadUInt32BigEndian(jsb.AsSpan(28)) != 0) return "the journal is not empty (needs replay)";
        return null;
    }
}
