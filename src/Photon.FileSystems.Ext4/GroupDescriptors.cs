using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Ext4;

/// <summary>The primary group descriptor table, kept raw in memory and written back whole on commit.</summary>
internal sealed class GroupDescriptors
{
    public const ushort InodeUninit = 0x1, BlockUninit = 0x2, InodeTableZeroed = 0x4;

    private readonly Geometry _geo;
    private readonly uint _seed;
    private readonly bool _csum;
    public byte[] Raw { get; }

    public GroupDescriptors(Geometry geo, byte[] raw, bool metadataCsum, uint seed)
    {
        _geo = geo; Raw = raw; _csum = metadataCsum; _seed = seed;
    }

    private Span<byte> D(uint g) => Raw.AsSpan((int)(g * (uint)_geo.DescSize), _geo.DescSize);
    private bool Wide => _geo.DescSize >= 64;
    private uint Lo32(uint g, int o) => BinaryPrimitives.ReadUInt32LittleEndian(D(g)[o..]);
    private uint Lo16(uint g, int o) => BinaryPrimitives.ReadUInt16LittleEndian(D(g)[o..]);
    private ulong Pair32(uint g, int lo, int hi) => Lo32(g, lo) | (Wide ? (ulong)Lo32(g, hi) << 32 : 0);
    private uint Pair16(uint g, int lo, int hi) => Lo16(g, lo) | (Wide ? Lo16(g, hi) << 16 : 0u);

    private void SetPair16(uint g, int lo, int hi, uint v)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(D(g)[lo..], (ushort)v);
        if (Wide) BinaryPrimitives.WriteUInt16LittleEndian(D(g)[hi..], (ushort)(v >> 16));
    }

    public long BlockBitmap(uint g) => (long)Pair32(g, 0x0, 0x20);
    public long InodeBitmap(uint g) => (long)Pair32(g, 0x4, 0x24);
    public long InodeTable(uint g) => (long)Pair32(g, 0x8, 0x28);
    public uint FreeBlocks(uint g) => Pair16(g, 0xC, 0x2C);
    public void SetFreeBlocks(uint g, uint v) => SetPair16(g, 0xC, 0x2C, v);
    public uint FreeInodes(uint g) => Pair16(g, 0xE, 0x2E);
    public void SetFreeInodes(uint g, uint v) => SetPair16(g, 0xE, 0x2E, v);
    public uint UsedDirs(uint g) => Pair16(g, 0x10, 0x30);
    public void SetUsedDirs(uint g, uint v) => SetPair16(g, 0x10, 0x30, v);
    public ushort Flags(uint g) => (ushort)Lo16(g, 0x12);
    public void SetFlags(uint g, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(D(g)[0x12..], v);
    public uint ItableUnused(uint g) => Pair16(g, 0x1C, 0x32);
    public void SetItableUnused(uint g, uint v) => SetPair16(g, 0x1C, 0x32, v);
    public uint BlockBitmapCsum(uint g) => Pair16(g, 0x18, 0x38);
    public uint InodeBitmapCsum(uint g) => Pair16(g, 0x1A, 0x3A);

    public void SetBlockBitmapCsum(uint g, ReadOnlySpan<byte> bitmap)
    {
        if (_csum) SetPair16(g, 0x18, 0x38, BlockBitmapChecksum(bitmap));
    }

    public void SetInodeBitmapCsum(uint g, ReadOnlySpan<byte> bitmap)
    {
        if (_csum) SetPair16(g, 0x1A, 0x3A, InodeBitmapChecksum(bitmap));
    }

    public uint BlockBitmapChecksum(ReadOnlySpan<byte> bitmap) => Crc32C.Update(_seed, bitmap[..(int)(_geo.BlocksPerGroup / _geo.ClusterRatio / 8)]);
    public uint InodeBitmapChecksum(ReadOnlySpan<byte> bitmap) => Crc32C.Update(_seed, bitmap[..(int)(_geo.InodesPerGroup / 8)]);

    /// <summary>Compares a bitmap checksum with the stored one (only 16 bits are stored with 32-byte descriptors).</summary>
    public bool BitmapCsumMatches(uint stored, uint computed) => Wide ? stored == computed : stored == (computed & 0xFFFF);

    public ushort ComputeChecksum(uint g)
    {
        var d = D(g);
        uint c = Crc32C.UpdateLe32(_seed, g);
        c = Crc32C.Update(c, d[..0x1E]);
        c = Crc32C.Update(c, stackalloc byte[2]);
        c = Crc32C.Update(c, d[0x20..]);
        return (ushort)c;
    }

    public void UpdateChecksum(uint g)
    {
        if (_csum) BinaryPrimitives.WriteUInt16LittleEndian(D(g)[0x1E..], ComputeChecksum(g));
    }

    /// <summary>Checks one descriptor: checksum and that its bitmaps and inode table lie inside the filesystem.</summary>
    public Result Validate(uint g, bool verifyChecksum = true)
    {
        if (_csum && verifyChecksum && BinaryPrimitives.ReadUInt16LittleEndian(D(g)[0x1E..]) != ComputeChecksum(g))
            return Result.Fail(ErrorCode.Corrupted, $"ext4 group descriptor {g}: checksum mismatch");
        long min = _geo.GdtStart + _geo.GdtBlocks, max = (long)_geo.BlocksCount;
        if (BlockBitmap(g) < min || BlockBitmap(g) >= max || InodeBitmap(g) < min || InodeBitmap(g) >= max
            || InodeTable(g) < min || InodeTable(g) > max - _geo.InodeTableBlocks)
            return Result.Fail(ErrorCode.Corrupted, $"ext4 group descriptor {g}: metadata block outside the filesystem");
        if (FreeBlocks(g) > _geo.BlocksPerGroup || FreeInodes(g) > _geo.InodesPerGroup || UsedDirs(g) > _geo.InodesPerGroup
            || ItableUnused(g) > _geo.InodesPerGroup)
            return Result.Fail(ErrorCode.Corrupted, $"ext4 group descriptor {g}: counts out of range");
        return Result.Ok;
    }
}
