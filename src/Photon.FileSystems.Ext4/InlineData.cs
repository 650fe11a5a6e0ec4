using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// inline_data (kernel fs/ext4/inline.c): a small file's bytes live in the inode, the first 60 in i_block and the rest in
/// the value of the in-inode extended attribute "system.data". A small directory keeps its parent's inode number in the
/// first 4 bytes of i_block and its records (no "." or "..") in the rest of i_block, then in system.data.
/// Read-only here: volumes with inline_data are mounted read-only (writes are refused naming the feature).
/// </summary>
internal static class InlineData
{
    private const uint XattrMagic = 0xEA020000;
    private const byte SystemIndex = 7;
    private static ReadOnlySpan<byte> DataName => "data"u8;

    public static bool Has(Inode inode) => (inode.Flags & Inode.FlagInlineData) != 0;

    /// <summary>The value of system.data (empty when the attribute is absent), bounds-checked against the inode.</summary>
    public static Result<byte[]> SystemData(Inode inode)
    {
        var raw = inode.Raw;
        if (raw.Length <= 128) return Array.Empty<byte>();
        int start = 128 + inode.ExtraIsize;
        if (start + 4 > raw.Length || BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(start)) != XattrMagic) return Array.Empty<byte>();
        int first = start + 4, off = first;
        // Entries end at 4 zero bytes; each is 16 bytes of header and the name padded to 4 bytes.
        while (off + 4 <= raw.Length && BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(off)) != 0)
        {
            if (off + 16 > raw.Length) return Volume.Corrupt($"inode {inode.Number}: truncated in-inode xattr entry");
            int nameLen = raw[off], index = raw[off + 1];
            int valueOffs = BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(off + 2));
            uint valueInum = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(off + 4));
            uint valueSize = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(off + 8));
            int entryLen = (16 + nameLen + 3) & ~3;
            if (off + entryLen > raw.Length) return Volume.Corrupt($"inode {inode.Number}: in-inode xattr name overruns the inode");
            if (index == SystemIndex && raw.AsSpan(off + 16, nameLen).SequenceEqual(DataName))
            {
                if (valueInum != 0) return Volume.Corrupt($"inode {inode.Number}: system.data stored in an EA inode");
                if (valueSize > (uint)raw.Length || first + valueOffs + (long)valueSize > raw.Length)
                    return Volume.Corrupt($"inode {inode.Number}: system.data value overruns the inode");
                return raw.AsSpan(first + valueOffs, (int)valueSize).ToArray();
            }
            off += entryLen;
        }
        return Array.Empty<byte>();
    }

    /// <summary>A regular file's or symlink's whole contents (i_size bytes).</summary>
    public static Result<byte[]> ReadFile(Inode inode)
    {
        var extra = SystemData(inode);
        if (!extra.IsOk) return extra;
        ulong capacity = (ulong)Inode.BlockAreaSize + (ulong)extra.Value.Length;
        if (inode.Size > capacity) return Volume.Corrupt($"inode {inode.Number}: inline size {inode.Size} exceeds the {capacity} bytes stored");
        var data = new byte[inode.Size];
        int head = Math.Min(data.Length, Inode.BlockAreaSize);
        inode.BlockArea60[..head].CopyTo(data);
        extra.Value.AsSpan(0, data.Length - head).CopyTo(data.AsSpan(head));
        return data;
    }

    /// <summary>The parent's inode number and the two record areas (rest of i_block, then system.data) of an inline directory.</summary>
    public static Result<(uint Parent, byte[] Head, byte[] Tail)> ReadDirectory(Inode dir)
    {
        var extra = SystemData(dir);
        if (!extra.IsOk) return extra.Error;
        uint parent = BinaryPrimitives.ReadUInt32LittleEndian(dir.BlockArea60);
        return (parent, dir.BlockArea60[4..].ToArray(), extra.Value);
    }
}
