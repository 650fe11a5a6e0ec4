using System.Buffers.Binary;
using System.Text;
using Photon.Kernel;

namespace Photon.FileSystems.Ext4;

/// <summary>One directory record as found in a leaf block.</summary>
internal readonly record struct DirRecord(long Block, int Offset, uint Inode, int RecLen, int NameLen, byte FileType, byte[] Name)
{
    public string NameString => Encoding.UTF8.GetString(Name);
}

/// <summary>
/// Directory blocks: linear leaves (with the metadata_csum tail) and htree (dx_root / dx_node) index blocks. Lookups
/// scan the leaves linearly, which works for indexed directories too because index blocks are skipped.
/// </summary>
internal static class DirectoryBlocks
{
    public const int TailSize = 12;
    public const byte FtUnknown = 0, FtFile = 1, FtDir = 2, FtSymlink = 7;

    private static ushort U16(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt16LittleEndian(s[o..]);
    private static uint U32(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt32LittleEndian(s[o..]);

    public static int RecLenNeeded(int nameLen) => (8 + nameLen + 3) & ~3;

    private static int DecodeRecLen(int raw, int bs) => bs >= 65536 && (raw == 0 || raw == 65535) ? 65536 : raw;
    private static ushort EncodeRecLen(int len) => len >= 65536 ? (ushort)65535 : (ushort)len;

    /// <summary>A directory's blocks in logical order, and which of them are htree index blocks.</summary>
    public sealed class Layout
    {
        public required ExtentMap Map { get; init; }
        public required long[] Physical { get; init; }
        public required HashSet<int> IndexBlocks { get; init; }
    }

    public static async ValueTask<Result<Layout>> LoadLayoutAsync(Volume vol, Inode dir, CancellationToken ct)
    {
        int bs = vol.BlockSize;
        var loaded = await ExtentTree.LoadAsync(vol, dir, ct).ConfigureAwait(false);
        if (!loaded.IsOk) return loaded.Error;
        var map = loaded.Value;
        ulong size = dir.Size;
        if (size % (ulong)bs != 0) return Volume.Corrupt($"directory inode {dir.Number}: size {size} is not whole blocks");
        ulong count = size / (ulong)bs;
        if (count == 0 || count > (ulong)map.MappedBlocks) return Volume.Corrupt($"directory inode {dir.Number}: size {size} exceeds its mapped blocks");
        var phys = new long[count];
        for (long lb = 0; lb < (long)count; lb++)
        {
            int i = map.Find(lb);
            if (i < 0 || map.Extents[i].Uninit) return Volume.Corrupt($"directory inode {dir.Number}: hole at block {lb}");
            phys[lb] = map.Extents[i].Physical + (lb - map.Extents[i].Logical);
        }
        var index = new HashSet<int>();
        if ((dir.Flags & Inode.FlagIndex) != 0)
        {
            var collected = await CollectIndexAsync(vol, dir, phys, index, ct).ConfigureAwait(false);
            if (!collected.IsOk) return collected.Error;
        }
        return new Layout { Map = map, Physical = phys, IndexBlocks = index };
    }

    /// <summary>Validates the htree root and interior nodes (structure and dx tail checksums) and records their blocks.</summary>
    private static async ValueTask<Result> CollectIndexAsync(Volume vol, Inode dir, long[] phys, HashSet<int> index, CancellationToken ct)
    {
        int bs = vol.BlockSize;
        var read = await vol.GetBlockAsync(phys[0], ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        var root = read.Value;
        if (U32(root, 0) != dir.Number || U16(root, 4) != 12 || root[6] != 1 || root[8] != '.'
            || U16(root, 12 + 4) != bs - 12 || root[12 + 6] != 2 || root[20] != '.' || root[21] != '.')
            return Volume.Corrupt($"directory inode {dir.Number}: malformed htree root");
        if (U32(root, 0x18) != 0 || root[0x1D] != 8) return Volume.Corrupt($"directory inode {dir.Number}: malformed dx_root_info");
        int levels = root[0x1E];
        int maxLevels = (vol.Sb.Incompat & Features.LargeDir) != 0 ? 3 : 2;
        if (levels >= maxLevels) return Volume.Corrupt($"directory inode {dir.Number}: htree depth {levels}");
        index.Add(0);
        var pending = new List<(int Lb, int Level)>();
        var checkedRoot = CheckDxNode(vol, dir, root, 0x20, 0, phys.Length, pending, levels);
        if (!checkedRoot.IsOk) return checkedRoot;
        for (int i = 0; i < pending.Count; i++)
        {
            var (lb, level) = pending[i];
            if (!index.Add(lb)) return Volume.Corrupt($"directory inode {dir.Number}: htree block {lb} referenced twice");
            var nodeRead = await vol.GetBlockAsync(phys[lb], ct).ConfigureAwait(false);
            if (!nodeRead.IsOk) return nodeRead.Error;
            var node = nodeRead.Value;
            if (U32(node, 0) != 0 || DecodeRecLen(U16(node, 4), bs) != bs)
                return Volume.Corrupt($"directory inode {dir.Number}: malformed htree node at block {lb}");
            var checkedNode = CheckDxNode(vol, dir, node, 8, level, phys.Length, pending, levels);
            if (!checkedNode.IsOk) return checkedNode;
        }
        return Result.Ok;
    }

    private static Result CheckDxNode(Volume vol, Inode dir, byte[] blk, int countOffset, int level, int blocks, List<(int, int)> pending, int levels)
    {
        int bs = vol.BlockSize;
        int limit = U16(blk, countOffset), count = U16(blk, countOffset + 2);
        int expected = (bs - countOffset - (vol.Csum ? 8 : 0)) / 8;
        if (limit != expected || count == 0 || count > limit) return Volume.Corrupt($"directory inode {dir.Number}: htree count/limit {count}/{limit}");
        if (vol.VerifyCsum)
        {
            int size = countOffset + count * 8, tail = countOffset + limit * 8;
            uint c = Crc32C.Update(ExtentTree.InodeSeed(vol, dir), blk.AsSpan(0, size));
            c = Crc32C.Update(c, blk.AsSpan(tail, 4));
            c = Crc32C.Update(c, stackalloc byte[4]);
            if (c != U32(blk, tail + 4)) return Volume.Corrupt($"directory inode {dir.Number}: htree checksum mismatch");
        }
        if (level >= levels) return Result.Ok;
        for (int i = 0; i < count; i++)
        {
            uint child = U32(blk, countOffset + 4 + 8 * i);
            if (child == 0 || child >= blocks) return Volume.Corrupt($"directory inode {dir.Number}: htree points at block {child}");
            pending.Add(((int)child, level + 1));
        }
        return Result.Ok;
    }

    /// <summary>Parses and validates one leaf block (record bounds and the checksum tail).</summary>
    public static Result<List<DirRecord>> ParseLeaf(Volume vol, Inode dir, long block, byte[] blk)
    {
        int bs = vol.BlockSize;
        int limit = vol.Csum ? bs - TailSize : bs;
        if (vol.Csum)
        {
            if (U32(blk, limit) != 0 || U16(blk, limit + 4) != TailSize || blk[limit + 6] != 0 || blk[limit + 7] != 0xDE)
                return Volume.Corrupt($"directory inode {dir.Number}: block {block} has no checksum tail");
            if (vol.VerifyCsum && U32(blk, bs - 4) != Crc32C.Update(ExtentTree.InodeSeed(vol, dir), blk.AsSpan(0, limit)))
                return Volume.Corrupt($"directory inode {dir.Number}: block {block} checksum mismatch");
        }
        return ParseRecords(vol, dir, block, blk, limit);
    }

    /// <summary>Parses the records packed into <paramref name="blk"/>[0, <paramref name="limit"/>) (a leaf, or an inline area).</summary>
    private static Result<List<DirRecord>> ParseRecords(Volume vol, Inode dir, long block, byte[] blk, int limit)
    {
        int bs = vol.BlockSize;
        var list = new List<DirRecord>();
        int off = 0;
        while (off < limit)
        {
            if (off + 8 > limit) return Volume.Corrupt($"directory inode {dir.Number}: truncated record in block {block}");
            uint ino = U32(blk, off);
            int rec = DecodeRecLen(U16(blk, off + 4), bs);
            int nameLen = blk[off + 6];
            if (rec < 12 || rec % 4 != 0 || rec > limit - off || (ino != 0 && RecLenNeeded(nameLen) > rec))
                return Volume.Corrupt($"directory inode {dir.Number}: bad record length {rec} at {block}:{off}");
            if (ino > vol.Geo.InodesCount) return Volume.Corrupt($"directory inode {dir.Number}: entry names inode {ino}");
            if (ino != 0 && nameLen == 0) return Volume.Corrupt($"directory inode {dir.Number}: empty name at {block}:{off}");
            list.Add(new DirRecord(block, off, ino, rec, nameLen, blk[off + 7], blk.AsSpan(off + 8, ino != 0 ? nameLen : 0).ToArray()));
            off += rec;
        }
        return list;
    }

    /// <summary>Every live record in the directory, in on-disk order, including "." and "..".</summary>
    public static async ValueTask<Result<List<DirRecord>>> ReadAllAsync(Volume vol, Inode dir, CancellationToken ct)
    {
        if (InlineData.Has(dir)) return ReadInline(vol, dir);
        var loaded = await LoadLayoutAsync(vol, dir, ct).ConfigureAwait(false);
        if (!loaded.IsOk) return loaded.Error;
        var layout = loaded.Value;
        var all = new List<DirRecord>();
        for (int lb = 0; lb < layout.Physical.Length; lb++)
        {
            ct.ThrowIfCancellationRequested();
            bool index = layout.IndexBlocks.Contains(lb);
            if (index && lb != 0) continue;
            var blk = await vol.GetBlockAsync(layout.Physical[lb], ct).ConfigureAwait(false);
            if (!blk.IsOk) return blk.Error;
            if (index)
            {
                var dots = RootDots(vol, dir, layout.Physical[0], blk.Value);
                if (!dots.IsOk) return dots.Error;
                all.AddRange(dots.Value);
                continue;
            }
            var records = ParseLeaf(vol, dir, layout.Physical[lb], blk.Value);
            if (!records.IsOk) return records;
            foreach (var r in records.Value) if (r.Inode != 0) all.Add(r);
        }
        return all;
    }

    /// <summary>An inline directory's records, with "." and ".." made up from the inode (block -1: not in any block).</summary>
    private static Result<List<DirRecord>> ReadInline(Volume vol, Inode dir)
    {
        var inline = InlineData.ReadDirectory(dir);
        if (!inline.IsOk) return inline.Error;
        var (parent, head, tail) = inline.Value;
        if (parent == 0 || parent > vol.Geo.InodesCount) return Volume.Corrupt($"directory inode {dir.Number}: bad inline parent {parent}");
        var all = new List<DirRecord>
        {
            new(-1, 0, dir.Number, 12, 1, FtDir, "."u8.ToArray()),
            new(-1, 0, parent, 12, 2, FtDir, ".."u8.ToArray()),
        };
        foreach (var area in new[] { head, tail })
        {
            if (area.Length == 0) continue;
            var records = ParseRecords(vol, dir, -1, area, area.Length);
            if (!records.IsOk) return records;
            foreach (var r in records.Value) if (r.Inode != 0) all.Add(r);
        }
        return all;
    }

    private static Result<DirRecord[]> RootDots(Volume vol, Inode dir, long block, byte[] root)
    {
        uint parent = U32(root, 12);
        if (parent == 0 || parent > vol.Geo.InodesCount) return Volume.Corrupt($"directory inode {dir.Number}: bad '..' entry");
        return new[]
        {
            new DirRecord(block, 0, U32(root, 0), 12, 1, FtDir, "."u8.ToArray()),
            new DirRecord(block, 12, parent, vol.BlockSize - 12, 2, FtDir, ".."u8.ToArray()),
        };
    }

    /// <summary>The record named <paramref name="name"/>, or null when there is none.</summary>
    public static async ValueTask<Result<DirRecord?>> LookupAsync(Volume vol, Inode dir, byte[] name, CancellationToken ct)
    {
        var all = await ReadAllAsync(vol, dir, ct).ConfigureAwait(false);
        if (!all.IsOk) return all.Error;
        foreach (var r in all.Value)
            if (r.Name.AsSpan().SequenceEqual(name)) return r;
        return Result<DirRecord?>.Success(null);
    }

    private static void SetTail(Volume vol, Inode dir, byte[] blk)
    {
        if (!vol.Csum) return;
        int bs = blk.Length, limit = bs - TailSize;
        blk.AsSpan(limit, TailSize).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(blk.AsSpan(limit + 4), TailSize);
        blk[limit + 7] = 0xDE;
        BinaryPrimitives.WriteUInt32LittleEndian(blk.AsSpan(bs - 4), Crc32C.Update(ExtentTree.InodeSeed(vol, dir), blk.AsSpan(0, limit)));
    }

    private static void WriteRecord(byte[] blk, int off, uint ino, int recLen, ReadOnlySpan<byte> name, byte type)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(blk.AsSpan(off), ino);
        BinaryPrimitives.WriteUInt16LittleEndian(blk.AsSpan(off + 4), EncodeRecLen(recLen));
        blk[off + 6] = (byte)name.Length;
        blk[off + 7] = type;
        name.CopyTo(blk.AsSpan(off + 8));
        int pad = RecLenNeeded(name.Length) - 8 - name.Length;
        blk.AsSpan(off + 8 + name.Length, pad).Clear();
    }

    /// <summary>A fresh directory block holding "." and "..".</summary>
    public static byte[] NewDirectoryBlock(Volume vol, Inode dir, uint parent)
    {
        int bs = vol.BlockSize, limit = vol.Csum ? bs - TailSize : bs;
        var blk = new byte[bs];
        WriteRecord(blk, 0, dir.Number, 12, "."u8, FtDir);
        WriteRecord(blk, 12, parent, limit - 12, ".."u8, FtDir);
        SetTail(vol, dir, blk);
        return blk;
    }

    /// <summary>
    /// Turns an htree directory back into a linear one: the root becomes "." and ".." and each interior node an
    /// empty leaf, all with checksum tails, and the index flag is cleared. Leaves are untouched.
    /// </summary>
    private static Result DropIndex(Volume vol, Inode dir, Layout layout, uint parent)
    {
        int bs = vol.BlockSize, limit = vol.Csum ? bs - TailSize : bs;
        foreach (int lb in layout.IndexBlocks)
        {
            var blk = new byte[bs];
            if (lb == 0) blk = NewDirectoryBlock(vol, dir, parent);
            else
            {
                WriteRecord(blk, 0, 0, limit, ReadOnlySpan<byte>.Empty, 0);
                SetTail(vol, dir, blk);
            }
            var put = vol.PutBlock(layout.Physical[lb], blk);
            if (!put.IsOk) return put;
        }
        dir.Flags &= ~Inode.FlagIndex;
        vol.MarkInodeDirty(dir);
        layout.IndexBlocks.Clear();
        return Result.Ok;
    }

    public static async ValueTask<Result> AddEntryAsync(Volume vol, Inode dir, byte[] name, uint ino, byte type, uint now, CancellationToken ct)
    {
        int bs = vol.BlockSize, limit = vol.Csum ? bs - TailSize : bs;
        int need = RecLenNeeded(name.Length);
        var loaded = await LoadLayoutAsync(vol, dir, ct).ConfigureAwait(false);
        if (!loaded.IsOk) return loaded.Error;
        var layout = loaded.Value;
        if (layout.IndexBlocks.Count > 0)
        {
            var root = await vol.GetBlockAsync(layout.Physical[0], ct).ConfigureAwait(false);
            if (!root.IsOk) return root.Error;
            var dropped = DropIndex(vol, dir, layout, U32(root.Value, 12));
            if (!dropped.IsOk) return dropped;
        }
        dir.MTime = dir.CTime = now;
        vol.MarkInodeDirty(dir);
        for (int lb = 0; lb < layout.Physical.Length; lb++)
        {
            long pb = layout.Physical[lb];
            var read = await vol.GetBlockAsync(pb, ct).ConfigureAwait(false);
            if (!read.IsOk) return read.Error;
            var blk = read.Value;
            var records = ParseLeaf(vol, dir, pb, blk);
            if (!records.IsOk) return records.Error;
            foreach (var r in records.Value)
            {
                int used = r.Inode == 0 ? 0 : RecLenNeeded(r.NameLen);
                if (r.RecLen - used < need) continue;
                if (used == 0) WriteRecord(blk, r.Offset, ino, r.RecLen, name, type);
                else
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(blk.AsSpan(r.Offset + 4), EncodeRecLen(used));
                    WriteRecord(blk, r.Offset + used, ino, r.RecLen - used, name, type);
                }
                SetTail(vol, dir, blk);
                vol.MarkDirty(pb);
                return Result.Ok;
            }
        }
        // No room: append a block.
        long newLb = layout.Physical.Length;
        if (newLb >= uint.MaxValue) return Result.Fail(ErrorCode.NoSpace, "ext4: directory is full");
        long goal = layout.Physical[^1] + 1;
        var allocated = await vol.AllocateBlocksAsync(goal, 1, ct).ConfigureAwait(false);
        if (!allocated.IsOk) return allocated.Error;
        long nb = allocated.Value.Start;
        var fresh = new byte[bs];
        WriteRecord(fresh, 0, ino, limit, name, type);
        SetTail(vol, dir, fresh);
        var put = vol.PutBlock(nb, fresh);
        if (!put.IsOk) return put;
        layout.Map.Insert(new Extent((uint)newLb, nb, 1, false));
        ExtentTree.AdjustBlocks(vol, dir, 1);
        dir.Size += (ulong)bs;
        return await ExtentTree.StoreAsync(vol, dir, layout.Map, ct).ConfigureAwait(false);
    }

    /// <summary>Removes the record found by a lookup: merged into its predecessor, or emptied if first in its block.</summary>
    public static async ValueTask<Result> RemoveEntryAsync(Volume vol, Inode dir, DirRecord rec, uint now, CancellationToken ct)
    {
        var read = await vol.GetBlockAsync(rec.Block, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        var blk = read.Value;
        var parsed = ParseLeaf(vol, dir, rec.Block, blk);
        if (!parsed.IsOk) return parsed.Error;
        var records = parsed.Value;
        int i = records.FindIndex(r => r.Offset == rec.Offset);
        if (i < 0 || records[i].Inode != rec.Inode) return Volume.Corrupt($"directory inode {dir.Number}: entry moved during removal");
        if (i == 0) BinaryPrimitives.WriteUInt32LittleEndian(blk.AsSpan(rec.Offset), 0);
        else BinaryPrimitives.WriteUInt16LittleEndian(blk.AsSpan(records[i - 1].Offset + 4), EncodeRecLen(records[i - 1].RecLen + records[i].RecLen));
        SetTail(vol, dir, blk);
        vol.MarkDirty(rec.Block);
        dir.MTime = dir.CTime = now;
        vol.MarkInodeDirty(dir);
        return Result.Ok;
    }

    /// <summary>Points an existing record (".." when a directory moves) at another inode.</summary>
    public static async ValueTask<Result> RetargetAsync(Volume vol, Inode dir, DirRecord rec, uint ino, CancellationToken ct)
    {
        if ((dir.Flags & Inode.FlagIndex) != 0)
        {
            var loaded = await LoadLayoutAsync(vol, dir, ct).ConfigureAwait(false);
            if (!loaded.IsOk) return loaded.Error;
            var layout = loaded.Value;
            // ".." lives in the htree root, whose dx checksum covers it: drop the index and rewrite the root linear.
            if (rec.Block == layout.Physical[0] && layout.IndexBlocks.Contains(0)) return DropIndex(vol, dir, layout, ino);
        }
        var read = await vol.GetBlockAsync(rec.Block, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        BinaryPrimitives.WriteUInt32LittleEndian(read.Value.AsSpan(rec.Offset), ino);
        SetTail(vol, dir, read.Value);
        vol.MarkDirty(rec.Block);
        return Result.Ok;
    }
}
