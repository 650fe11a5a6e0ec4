using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4.Journal;

/// <summary>
/// The journal inode's blocks: journal block n (0 = the journal superblock) maps to a filesystem block through the
/// inode's extents, all checked once to lie inside the filesystem and outside fixed metadata.
/// </summary>
internal sealed class JournalArea
{
    private readonly IBlockDevice _device;
    private readonly Extent[] _extents;
    public int BlockSize { get; }
    public long Length { get; }

    private JournalArea(IBlockDevice device, Extent[] extents, int blockSize, long length)
    {
        _device = device; _extents = extents; BlockSize = blockSize; Length = length;
    }

    /// <summary>Loads the journal inode's map; the journal must be mapped contiguously from logical block 0 with no holes.</summary>
    public static async ValueTask<Result<JournalArea>> LoadAsync(Volume vol, IBlockDevice device, CancellationToken ct)
    {
        if (vol.Sb.JournalInode == 0) return Result<JournalArea>.Fail(ErrorCode.NotSupported, "ext4: external journals are not supported");
        var inode = await vol.ReadInodeAsync(vol.Sb.JournalInode, ct).ConfigureAwait(false);
        if (!inode.IsOk) return inode.Error;
        if (!inode.Value.IsFile) return Volume.Corrupt("the journal inode is not a regular file");
        var map = await ExtentTree.LoadAsync(vol, inode.Value, ct).ConfigureAwait(false);
        vol.EndOperation();
        if (!map.IsOk) return map.Error;
        long next = 0;
        foreach (var e in map.Value.Extents)
        {
            if (e.Logical != next || e.Uninit) break;
            var range = vol.CheckRange(e.Physical, e.Length, "journal");
            if (!range.IsOk) return range.Error;
            if (vol.OverlapsMetadata(e.Physical, e.Length)) return Volume.Corrupt("the journal overlaps fixed metadata");
            next = e.LogicalEnd;
        }
        if (next == 0) return Volume.Corrupt("the journal inode maps no superblock");
        return new JournalArea(device, map.Value.Extents.Where(e => e.LogicalEnd <= next).ToArray(), vol.BlockSize, next);
    }

    /// <summary>The filesystem block holding journal block <paramref name="n"/>.</summary>
    public Result<long> Physical(long n)
    {
        if (n < 0 || n >= Length) return Volume.Corrupt($"journal block {n} is outside the journal");
        int lo = 0, hi = _extents.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var e = _extents[mid];
            if (n < e.Logical) hi = mid - 1;
            else if (n >= e.LogicalEnd) lo = mid + 1;
            else return e.Physical + (n - e.Logical);
        }
        return Volume.Corrupt($"journal block {n} is not mapped");
    }

    /// <summary>True if filesystem block <paramref name="block"/> belongs to the journal itself.</summary>
    public bool Contains(long block) => _extents.Any(e => block >= e.Physical && block < e.Physical + e.Length);

    public ValueTask<Result> ReadAsync(long n, Memory<byte> block, CancellationToken ct)
    {
        var at = Physical(n);
        return at.IsOk ? Volume.ReadBytesAsync(_device, at.Value * BlockSize, block[..BlockSize], ct) : ValueTask.FromResult(at.AsResult());
    }

    public ValueTask<Result> WriteAsync(long n, ReadOnlyMemory<byte> block, CancellationToken ct)
    {
        var at = Physical(n);
        return at.IsOk ? Volume.WriteBytesAsync(_device, at.Value * BlockSize, block[..BlockSize], ct) : ValueTask.FromResult(at.AsResult());
    }
}
