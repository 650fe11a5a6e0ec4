using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Ext4;

/// <summary>One leaf extent: <see cref="Length"/> logical blocks from <see cref="Logical"/> stored at <see cref="Physical"/>.</summary>
internal record struct Extent(uint Logical, long Physical, int Length, bool Uninit)
{
    public long LogicalEnd => (long)Logical + Length;
}

/// <summary>
/// A file's whole block map, loaded from its extent tree. Writers edit <see cref="Extents"/> and call
/// <see cref="ExtentTree.StoreAsync"/>, which rebuilds the tree (depth 0 in the inode, or index/leaf blocks as needed).
/// </summary>
internal sealed class ExtentMap
{
    public List<Extent> Extents { get; } = new();
    public List<long> TreeBlocks { get; } = new();
    public int Depth { get; set; }
    public bool Changed { get; set; }

    /// <summary>Index of the extent containing <paramref name="lb"/>, or ~(index of the next extent) if unmapped.</summary>
    public int Find(long lb)
    {
        int lo = 0, hi = Extents.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var e = Extents[mid];
            if (lb < e.Logical) hi = mid - 1;
            else if (lb >= e.LogicalEnd) lo = mid + 1;
            else return mid;
        }
        return ~lo;
    }

    public long MappedBlocks => Extents.Sum(e => (long)e.Length);

    /// <summary>Adds a new mapping (which must not overlap) and merges it with contiguous neighbours.</summary>
    public void Insert(Extent ext)
    {
        int i = Find(ext.Logical);
        if (i >= 0) throw new InvalidOperationException("overlapping extent insert");
        i = ~i;
        Extents.Insert(i, ext);
        Changed = true;
        MergeAround(i);
    }

    private static int MaxLen(bool uninit) => uninit ? 32767 : 32768;

    public void MergeAround(int i)
    {
        if (i + 1 < Extents.Count && CanMerge(Extents[i], Extents[i + 1]))
        {
            Extents[i] = Extents[i] with { Length = Extents[i].Length + Extents[i + 1].Length };
            Extents.RemoveAt(i + 1);
        }
        if (i > 0 && CanMerge(Extents[i - 1], Extents[i]))
        {
            Extents[i - 1] = Extents[i - 1] with { Length = Extents[i - 1].Length + Extents[i].Length };
            Extents.RemoveAt(i);
        }
    }

    private static bool CanMerge(Extent a, Extent b) =>
        a.Uninit == b.Uninit && a.LogicalEnd == b.Logical && a.Physical + a.Length == b.Physical && a.Length + b.Length <= MaxLen(a.Uninit);
}

internal static class ExtentTree
{
    public const ushort Magic = 0xF30A;
    private const int MaxDepth = 5;

    private static ushort U16(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt16LittleEndian(s[o..]);
    private static uint U32(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt32LittleEndian(s[o..]);

    public static bool HasExtents(Inode inode) => (inode.Flags & Inode.FlagExtents) != 0;

    /// <summary>Reads and validates the whole extent tree: magic, counts, depth, ordering, ranges, checksums, no shared blocks.</summary>
    public static async ValueTask<Result<ExtentMap>> LoadAsync(Volume vol, Inode inode, CancellationToken ct)
    {
        if ((inode.Flags & Inode.FlagInlineData) != 0)
            return Result<ExtentMap>.Fail(ErrorCode.NotSupported, $"ext4: inode {inode.Number} stores inline data (inline_data has no block map)");
        if ((inode.Flags & Inode.FlagEncrypt) != 0)
            return Result<ExtentMap>.Fail(ErrorCode.NotSupported, $"ext4: inode {inode.Number} is encrypted (feature encrypt: no keys here)");
        if (!HasExtents(inode))
            return Result<ExtentMap>.Fail(ErrorCode.NotSupported, $"ext4: inode {inode.Number} uses indirect block maps");
        var map = new ExtentMap();
        var root = inode.BlockArea60.ToArray();
        var depth = CheckHeader(root, 4, inode.Number, "inode");
        if (!depth.IsOk) return depth.Error;
        if (depth.Value > MaxDepth) return Volume.Corrupt($"inode {inode.Number}: extent depth {depth.Value}");
        map.Depth = depth.Value;
        var seen = new HashSet<long>();
        var walked = await WalkAsync(vol, inode, root, depth.Value, 0, uint.MaxValue + 1L, map, seen, ct).ConfigureAwait(false);
        if (!walked.IsOk) return walked.Error;
        for (int i = 1; i < map.Extents.Count; i++)
            if (map.Extents[i].Logical < map.Extents[i - 1].LogicalEnd) return Volume.Corrupt($"inode {inode.Number}: overlapping extents");
        return map;
    }

    private static Result<int> CheckHeader(ReadOnlySpan<byte> node, int capacity, uint ino, string where)
    {
        if (U16(node, 0) != Magic) return Volume.Corrupt($"inode {ino}: bad extent magic in {where}");
        int entries = U16(node, 2), max = U16(node, 4);
        if (max > capacity || entries > max) return Volume.Corrupt($"inode {ino}: extent node in {where} has {entries}/{max} entries (room for {capacity})");
        return (int)U16(node, 6);
    }

    private static async ValueTask<Result> WalkAsync(Volume vol, Inode inode, byte[] node, int depth, long lo, long hi, ExtentMap map,
        HashSet<long> seen, CancellationToken ct)
    {
        int entries = U16(node, 2);
        long prev = -1;
        for (int i = 0; i < entries; i++)
        {
            int o = 12 + 12 * i;
            uint first = U32(node, o);
            if (first < prev || first < lo || first >= hi) return Volume.Corrupt($"inode {inode.Number}: extent keys out of order");
            prev = first;
            if (depth == 0)
            {
                int len = U16(node, o + 4);
                bool uninit = len > 32768;
                if (uninit) len -= 32768;
                long phys = ((long)U16(node, o + 6) << 32) | U32(node, o + 8);
                if (len == 0) return Volume.Corrupt($"inode {inode.Number}: zero-length extent");
                if (first + (long)len > hi) return Volume.Corrupt($"inode {inode.Number}: extent overruns its index range");
                var range = vol.CheckRange(phys, len, $"inode {inode.Number} extent");
                if (!range.IsOk) return range;
                if (vol.OverlapsMetadata(phys, len)) return Volume.Corrupt($"inode {inode.Number}: extent maps filesystem metadata");
                map.Extents.Add(new Extent(first, phys, len, uninit));
            }
            else
            {
                long child = ((long)U16(node, o + 8) << 32) | U32(node, o + 4);
                var range = vol.CheckRange(child, 1, $"inode {inode.Number} extent index");
                if (!range.IsOk) return range;
                if (vol.OverlapsMetadata(child, 1)) return Volume.Corrupt($"inode {inode.Number}: extent index points at metadata");
                if (!seen.Add(child)) return Volume.Corrupt($"inode {inode.Number}: extent tree block {child} referenced twice (loop)");
                long next = i + 1 < entries ? U32(node, o + 12) : hi;
                var read = await vol.GetBlockAsync(child, ct).ConfigureAwait(false);
                if (!read.IsOk) return read.Error;
                var blk = read.Value;
                int capacity = (vol.BlockSize - 12) / 12;
                var childDepth = CheckHeader(blk, capacity, inode.Number, $"block {child}");
                if (!childDepth.IsOk) return childDepth.Error;
                if (childDepth.Value != depth - 1) return Volume.Corrupt($"inode {inode.Number}: extent block {child} has depth {childDepth.Value}, expected {depth - 1}");
                if (vol.VerifyCsum)
                {
                    int tail = 12 + 12 * U16(blk, 4);
                    if (tail + 4 > blk.Length || U32(blk, tail) != Crc32C.Update(InodeSeed(vol, inode), blk.AsSpan(0, tail)))
                        return Volume.Corrupt($"inode {inode.Number}: extent block {child} checksum mismatch");
                }
                map.TreeBlocks.Add(child);
                var walked = await WalkAsync(vol, inode, blk, depth - 1, first, next, map, seen, ct).ConfigureAwait(false);
                if (!walked.IsOk) return walked;
            }
        }
        return Result.Ok;
    }

    public static uint InodeSeed(Volume vol, Inode inode) => Inode.Seed(vol.Seed, inode.Number, inode.Generation);

    public static void InitEmpty(Inode inode)
    {
        var a = inode.BlockArea60;
        a.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(a, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(a[4..], 4);
        inode.Flags |= Inode.FlagExtents;
    }

    /// <summary>
    /// Rewrites the inode's extent tree from <paramref name="map"/>: frees the old index/leaf blocks, then packs the
    /// extents into leaves and index levels until at most four entries remain for the inode. Adjusts i_blocks.
    /// </summary>
    public static async ValueTask<Result> StoreAsync(Volume vol, Inode inode, ExtentMap map, CancellationToken ct)
    {
        int bs = vol.BlockSize;
        long oldTree = map.TreeBlocks.Count;
        foreach (long b in map.TreeBlocks)
        {
            var freed = await vol.FreeBlocksAsync(b, 1, ct).ConfigureAwait(false);
            if (!freed.IsOk) return freed;
        }
        map.TreeBlocks.Clear();

        // Entries of the current level: (first logical block, 12-byte record).
        var level = new List<(uint First, byte[] Rec)>();
        foreach (var e in map.Extents)
        {
            var rec = new byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(rec, e.Logical);
            BinaryPrimitives.WriteUInt16LittleEndian(rec.AsSpan(4), (ushort)(e.Length + (e.Uninit ? 32768 : 0)));
            BinaryPrimitives.WriteUInt16LittleEndian(rec.AsSpan(6), (ushort)(e.Physical >> 32));
            BinaryPrimitives.WriteUInt32LittleEndian(rec.AsSpan(8), (uint)e.Physical);
            level.Add((e.Logical, rec));
        }
        int depth = 0, perBlock = (bs - 12) / 12;
        long goal = map.Extents.Count > 0 ? map.Extents[0].Physical : vol.Geo.GroupFirstBlock(vol.GroupOfInode(inode.Number));
        uint seed = InodeSeed(vol, inode);
        while (level.Count > 4)
        {
            var upper = new List<(uint, byte[])>();
            for (int i = 0; i < level.Count; i += perBlock)
            {
                int n = Math.Min(perBlock, level.Count - i);
                var allocated = await vol.AllocateBlocksAsync(goal, 1, ct).ConfigureAwait(false);
                if (!allocated.IsOk) return allocated.Error;
                long blk = allocated.Value.Start;
                map.TreeBlocks.Add(blk);
                var node = new byte[bs];
                WriteHeader(node, n, perBlock, depth);
                for (int k = 0; k < n; k++) level[i + k].Rec.CopyTo(node, 12 + 12 * k);
                if (vol.VerifyCsum)
                {
                    int tail = 12 + 12 * perBlock;
                    BinaryPrimitives.WriteUInt32LittleEndian(node.AsSpan(tail), Crc32C.Update(seed, node.AsSpan(0, tail)));
                }
                var put = vol.PutBlock(blk, node);
                if (!put.IsOk) return put;
                var idx = new byte[12];
                BinaryPrimitives.WriteUInt32LittleEndian(idx, level[i].First);
                BinaryPrimitives.WriteUInt32LittleEndian(idx.AsSpan(4), (uint)blk);
                BinaryPrimitives.WriteUInt16LittleEndian(idx.AsSpan(8), (ushort)(blk >> 32));
                upper.Add((level[i].First, idx));
            }
            level = upper;
            depth++;
        }
        var root = inode.BlockArea60;
        root.Clear();
        WriteHeader(root, level.Count, 4, depth);
        for (int k = 0; k < level.Count; k++) level[k].Rec.CopyTo(root[(12 + 12 * k)..]);
        inode.Flags |= Inode.FlagExtents;
        map.Depth = depth;
        AdjustBlocks(vol, inode, map.TreeBlocks.Count - oldTree);
        map.Changed = false;
        vol.MarkInodeDirty(inode);
        return Result.Ok;
    }

    private static void WriteHeader(Span<byte> node, int entries, int max, int depth)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(node, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(node[2..], (ushort)entries);
        BinaryPrimitives.WriteUInt16LittleEndian(node[4..], (ushort)max);
        BinaryPrimitives.WriteUInt16LittleEndian(node[6..], (ushort)depth);
        BinaryPrimitives.WriteUInt32LittleEndian(node[8..], 0);
    }

    /// <summary>Adds <paramref name="deltaBlocks"/> filesystem blocks to i_blocks in the inode's unit.</summary>
    public static void AdjustBlocks(Volume vol, Inode inode, long deltaBlocks)
    {
        long unit = (inode.Flags & Inode.FlagHugeFile) != 0 ? 1 : vol.BlockSize / 512;
        long v = (long)inode.BlocksRaw + deltaBlocks * unit;
        if (v < 0) v = 0;
        inode.BlocksRaw = (ulong)v;
    }
}
