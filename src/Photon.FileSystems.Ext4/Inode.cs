using System.Buffers.Binary;

namespace Photon.FileSystems.Ext4;

/// <summary>One on-disk inode, kept raw (inode_size bytes) so fields this driver does not touch survive.</summary>
internal sealed class Inode
{
    public const ushort TypeMask = 0xF000, TypeFile = 0x8000, TypeDir = 0x4000, TypeSymlink = 0xA000;
    public const uint FlagEncrypt = 0x800, FlagIndex = 0x1000, FlagHugeFile = 0x40000, FlagExtents = 0x80000, FlagInlineData = 0x10000000;
    public const int BlockArea = 0x28, BlockAreaSize = 60;

    public uint Number { get; }
    public byte[] Raw { get; }

    public Inode(uint number, byte[] raw) { Number = number; Raw = raw; }

    private uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(Raw.AsSpan(o));
    private ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(Raw.AsSpan(o));
    private void W32(int o, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Raw.AsSpan(o), v);
    private void W16(int o, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Raw.AsSpan(o), v);

    public ushort Mode { get => U16(0x0); set => W16(0x0, value); }
    public bool IsDirectory => (Mode & TypeMask) == TypeDir;
    public bool IsFile => (Mode & TypeMask) == TypeFile;
    public bool IsSymlink => (Mode & TypeMask) == TypeSymlink;

    public ulong Size
    {
        get => U32(0x4) | (ulong)U32(0x6C) << 32;
        set { W32(0x4, (uint)value); W32(0x6C, (uint)(value >> 32)); }
    }

    public uint ATime { get => U32(0x8); set => W32(0x8, value); }
    public uint CTime { get => U32(0xC); set => W32(0xC, value); }
    public uint MTime { get => U32(0x10); set => W32(0x10, value); }
    public uint DTime { get => U32(0x14); set => W32(0x14, value); }
    public ushort LinksCount { get => U16(0x1A); set => W16(0x1A, value); }
    public uint Flags { get => U32(0x20); set => W32(0x20, value); }
    public uint Generation { get => U32(0x64); set => W32(0x64, value); }
    public ulong FileAcl => U32(0x68) | (ulong)U16(0x76) << 32;
    public ushort ExtraIsize => Raw.Length > 128 ? U16(0x80) : (ushort)0;

    /// <summary>i_blocks in 512-byte units (or filesystem blocks with HUGE_FILE_FL), 48 bits.</summary>
    public ulong BlocksRaw
    {
        get => U32(0x1C) | (ulong)U16(0x74) << 32;
        set { W32(0x1C, (uint)value); W16(0x74, (ushort)(value >> 32)); }
    }

    public Span<byte> BlockArea60 => Raw.AsSpan(BlockArea, BlockAreaSize);

    private bool HasChecksumHi => Raw.Length > 128 && ExtraIsize >= 4;

    /// <summary>Per-inode checksum seed: crc32c(fs seed, inode number, generation); also seeds extent and dir tails.</summary>
    public static uint Seed(uint fsSeed, uint number, uint generation) => Crc32C.UpdateLe32(Crc32C.UpdateLe32(fsSeed, number), generation);

    public uint ComputeChecksum(uint fsSeed)
    {
        uint c = Seed(fsSeed, Number, Generation);
        Span<byte> zero = stackalloc byte[2];
        c = Crc32C.Update(c, Raw.AsSpan(0, 0x7C));
        c = Crc32C.Update(c, zero);
        c = Crc32C.Update(c, Raw.AsSpan(0x7E, 128 - 0x7E));
        if (Raw.Length > 128)
        {
            c = Crc32C.Update(c, Raw.AsSpan(128, 2));
            int rest = 0x82;
            if (HasChecksumHi) { c = Crc32C.Update(c, zero); rest = 0x84; }
            c = Crc32C.Update(c, Raw.AsSpan(rest));
        }
        return c;
    }

    public bool ChecksumMatches(uint fsSeed)
    {
        uint c = ComputeChecksum(fsSeed);
        uint stored = U16(0x7C) | (HasChecksumHi ? (uint)U16(0x82) << 16 : 0);
        return HasChecksumHi ? stored == c : stored == (c & 0xFFFF);
    }

    public void UpdateChecksum(uint fsSeed)
    {
        uint c = ComputeChecksum(fsSeed);
        W16(0x7C, (ushort)c);
        if (HasChecksumHi) W16(0x82, (ushort)(c >> 16));
    }
}
