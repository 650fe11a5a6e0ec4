using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Ext4;

/// <summary>Feature bits (kernel fs/ext4/ext4.h) the driver knows about.</summary>
internal static class Features
{
    // compat
    public const uint HasJournal = 0x4, ExtAttr = 0x8, ResizeInode = 0x10, DirIndex = 0x20, SparseSuper2 = 0x200,
        FastCommit = 0x400, StableInodes = 0x800, OrphanFile = 0x1000;
    // incompat
    public const uint FileType = 0x2, Recover = 0x4, JournalDev = 0x8, MetaBg = 0x10, Extents = 0x40, Bit64 = 0x80,
        Mmp = 0x100, FlexBg = 0x200, EaInode = 0x400, DirData = 0x1000, CsumSeed = 0x2000, LargeDir = 0x4000,
        InlineData = 0x8000, Encrypt = 0x10000, Casefold = 0x20000;
    // ro_compat
    public const uint SparseSuper = 0x1, LargeFile = 0x2, HugeFile = 0x8, GdtCsum = 0x10, DirNlink = 0x20,
        ExtraIsize = 0x40, Quota = 0x100, BigAlloc = 0x200, MetadataCsum = 0x400, ReadOnly = 0x1000, Project = 0x2000,
        Verity = 0x8000, OrphanPresent = 0x10000;

    /// <summary>Incompat features this driver can read; any other incompat bit refuses the mount (by name).</summary>
    public const uint IncompatReadable = FileType | Recover | Extents | Bit64 | Mmp | FlexBg | EaInode | CsumSeed | LargeDir
        | InlineData | Encrypt | Casefold;

    /// <summary>Incompat features compatible with this driver's write path.</summary>
    public const uint IncompatWritable = FileType | Extents | Bit64 | FlexBg | CsumSeed | LargeDir;

    /// <summary>ro_compat features whose invariants the write path maintains (or does not affect).</summary>
    public const uint RoCompatWritable = SparseSuper | LargeFile | HugeFile | DirNlink | ExtraIsize | MetadataCsum;

    /// <summary>compat features the write path keeps valid (an empty journal, xattrs untouched, resize inode untouched).</summary>
    public const uint CompatWritable = HasJournal | ExtAttr | ResizeInode | DirIndex | StableInodes | OrphanFile | 0x1 | 0x2;

    // mke2fs's names (lib/e2p/feature.c), so a refusal names the feature the user passed to `mkfs.ext4 -O`.
    private static readonly (uint Bit, string Name)[] CompatNames =
    [
        (0x1, "dir_prealloc"), (0x2, "imagic_inodes"), (HasJournal, "has_journal"), (ExtAttr, "ext_attr"), (ResizeInode, "resize_inode"),
        (DirIndex, "dir_index"), (0x40, "lazy_bg"), (0x100, "snapshot_bitmap"), (SparseSuper2, "sparse_super2"),
        (FastCommit, "fast_commit"), (StableInodes, "stable_inodes"), (OrphanFile, "orphan_file"),
    ];
    private static readonly (uint Bit, string Name)[] IncompatNames =
    [
        (0x1, "compression"), (FileType, "filetype"), (Recover, "needs_recovery"), (JournalDev, "journal_dev"), (MetaBg, "meta_bg"),
        (Extents, "extent"), (Bit64, "64bit"), (Mmp, "mmp"), (FlexBg, "flex_bg"), (EaInode, "ea_inode"), (DirData, "dirdata"),
        (CsumSeed, "metadata_csum_seed"), (LargeDir, "large_dir"), (InlineData, "inline_data"), (Encrypt, "encrypt"),
        (Casefold, "casefold"),
    ];
    private static readonly (uint Bit, string Name)[] RoCompatNames =
    [
        (SparseSuper, "sparse_super"), (LargeFile, "large_file"), (0x4, "btree_dir"), (HugeFile, "huge_file"), (GdtCsum, "uninit_bg"),
        (DirNlink, "dir_nlink"), (ExtraIsize, "extra_isize"), (0x80, "has_snapshot"), (Quota, "quota"), (BigAlloc, "bigalloc"),
        (MetadataCsum, "metadata_csum"), (0x800, "replica"), (ReadOnly, "read-only"), (Project, "project"), (0x4000, "shared_blocks"),
        (Verity, "verity"), (OrphanPresent, "orphan_present"),
    ];

    /// <summary>The mke2fs names of the bits in <paramref name="mask"/>, e.g. "bigalloc, quota"; unknown bits as hex.</summary>
    public static string Names(uint mask, FeatureSet set)
    {
        var table = set switch { FeatureSet.Compat => CompatNames, FeatureSet.Incompat => IncompatNames, _ => RoCompatNames };
        var names = new List<string>();
        foreach (var (bit, name) in table)
            if ((mask & bit) != 0) { names.Add(name); mask &= ~bit; }
        if (mask != 0) names.Add($"unknown 0x{mask:X}");
        return string.Join(", ", names);
    }
}

/// <summary>The three feature words of the superblock.</summary>
internal enum FeatureSet { Compat, Incompat, RoCompat }

/// <summary>The 1024-byte ext4 superblock at byte 1024, kept raw so unknown fields survive a rewrite.</summary>
internal sealed class Superblock
{
    public const int ByteOffset = 1024, Size = 1024;
    public const ushort Magic = 0xEF53;
    public readonly byte[] Raw;

    public Superblock(byte[] raw) => Raw = raw;

    private uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(Raw.AsSpan(o));
    private ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(Raw.AsSpan(o));
    private void W32(int o, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Raw.AsSpan(o), v);

    public uint InodesCount => U32(0x0);
    public bool Is64Bit => (Incompat & Features.Bit64) != 0;
    public ulong BlocksCount => U32(0x4) | (Is64Bit ? (ulong)U32(0x150) << 32 : 0);
    public ulong ReservedBlocks => U32(0x8) | (Is64Bit ? (ulong)U32(0x154) << 32 : 0);

    public ulong FreeBlocks
    {
        get => U32(0xC) | (Is64Bit ? (ulong)U32(0x158) << 32 : 0);
        set { W32(0xC, (uint)value); if (Is64Bit) W32(0x158, (uint)(value >> 32)); }
    }

    public uint FreeInodes { get => U32(0x10); set => W32(0x10, value); }
    public uint FirstDataBlock => U32(0x14);
    public uint LogBlockSize => U32(0x18);
    public uint LogClusterSize => U32(0x1C);
    public uint BlocksPerGroup => U32(0x20);
    public uint ClustersPerGroup => U32(0x24);
    public uint InodesPerGroup => U32(0x28);
    public ushort MagicValue => U16(0x38);
    public ushort State => U16(0x3A);
    public uint RevLevel => U32(0x4C);
    public uint FirstIno => RevLevel == 0 ? 11 : U32(0x54);
    public int InodeSize => RevLevel == 0 ? 128 : U16(0x58);
    public uint Compat => U32(0x5C);
    public uint Incompat => U32(0x60);
    public uint RoCompat => U32(0x64);
    public ReadOnlySpan<byte> Uuid => Raw.AsSpan(0x68, 16);
    public ushort ReservedGdtBlocks => U16(0xCE);
    public uint JournalInode => U32(0xE0);
    public uint LastOrphan => U32(0xE8);
    public uint HashSeed(int i) => U32(0xEC + 4 * i);
    public byte DefaultHashVersion => Raw[0xFC];
    public int DescSize => Is64Bit ? U16(0xFE) : 32;
    public uint Flags => U32(0x160);
    public byte ChecksumType => Raw[0x175];
    public uint ChecksumSeedField => U32(0x270);
    public uint StoredChecksum => U32(0x3FC);

    public bool HasMetadataCsum => (RoCompat & Features.MetadataCsum) != 0;

    public uint ComputeChecksum() => Crc32C.Update(~0u, Raw.AsSpan(0, 0x3FC));

    public void UpdateChecksum() { if (HasMetadataCsum) W32(0x3FC, ComputeChecksum()); }

    /// <summary>The seed every other metadata checksum starts from: crc32c(~0, uuid) unless the superblock stores one.</summary>
    public uint ChecksumSeed => (Incompat & Features.CsumSeed) != 0 ? ChecksumSeedField : Crc32C.Update(~0u, Uuid);
}

/// <summary>Geometry derived from a validated superblock.</summary>
internal sealed class Geometry
{
    public required int BlockSize { get; init; }
    public required ulong BlocksCount { get; init; }
    public required uint FirstDataBlock { get; init; }
    public required uint BlocksPerGroup { get; init; }
    public required uint InodesPerGroup { get; init; }
    public required uint InodesCount { get; init; }
    public required int InodeSize { get; init; }
    public required uint GroupCount { get; init; }
    public required int DescSize { get; init; }
    public required long GdtBlocks { get; init; }
    /// <summary>The block holding the superblock (1 with 1 KiB blocks, else 0); the descriptor table follows it.</summary>
    public required uint SuperblockBlock { get; init; }
    /// <summary>Blocks per allocation cluster (1 unless bigalloc); bitmaps and free counts are in clusters.</summary>
    public required int ClusterRatio { get; init; }
    public long GdtStart => SuperblockBlock + 1L;
    public required int InodeTableBlocks { get; init; }

    /// <summary>Validates every superblock field the driver relies on; the message names the first bad one.</summary>
    public static Result<Geometry> From(Superblock sb, long deviceBytes, bool verifyChecksum = true)
    {
        static Result<Geometry> Bad(string m) => Result<Geometry>.Fail(ErrorCode.Corrupted, "ext4 superblock: " + m);
        if (sb.MagicValue != Superblock.Magic) return Bad($"bad magic 0x{sb.MagicValue:X4}");
        if (sb.RevLevel > 1) return Bad($"unknown revision {sb.RevLevel}");
        if (sb.HasMetadataCsum)
        {
            if (sb.ChecksumType != 1) return Bad($"unknown checksum type {sb.ChecksumType}");
            if (verifyChecksum && sb.ComputeChecksum() != sb.StoredChecksum) return Bad("checksum mismatch");
        }
        if (sb.LogBlockSize > 6) return Bad($"absurd block size 2^{10 + sb.LogBlockSize}");
        int bs = 1024 << (int)sb.LogBlockSize;
        bool bigalloc = (sb.RoCompat & Features.BigAlloc) != 0;
        // bigalloc: the first cluster starts at block 0 even with 1 KiB blocks (the kernel's ext4_fill_super check).
        uint firstData = bs == 1024 && !bigalloc ? 1u : 0u;
        if (sb.FirstDataBlock != firstData) return Bad($"first data block {sb.FirstDataBlock} for {bs}-byte blocks");
        uint sbBlock = bs == 1024 ? 1u : 0u;
        int ratio = 1;
        if (bigalloc)
        {
            if (sb.LogClusterSize < sb.LogBlockSize || sb.LogClusterSize - sb.LogBlockSize > 16)
                return Bad($"cluster size 2^{10 + sb.LogClusterSize} for {bs}-byte blocks");
            ratio = 1 << (int)(sb.LogClusterSize - sb.LogBlockSize);
        }
        else if (sb.LogClusterSize != sb.LogBlockSize) return Bad("cluster size differs from block size without bigalloc");
        ulong blocks = sb.BlocksCount;
        if (blocks <= sb.FirstDataBlock + 1) return Bad($"block count {blocks}");
        if ((ulong)deviceBytes / (ulong)bs < blocks) return Bad($"{blocks} blocks of {bs} bytes do not fit the {deviceBytes}-byte device");
        uint bpg = sb.BlocksPerGroup, ipg = sb.InodesPerGroup;
        // Bitmaps hold one bit per cluster, so the bound is on clusters per group; blocks per group is that times the ratio.
        uint cpg = sb.ClustersPerGroup;
        if (cpg == 0 || cpg > (uint)bs * 8 || cpg % 8 != 0) return Bad($"clusters per group {cpg}");
        if ((ulong)bpg != (ulong)cpg * (ulong)ratio) return Bad($"blocks per group {bpg} is not {cpg} clusters x {ratio}");
        if (ipg == 0 || ipg > (uint)bs * 8 || ipg % 8 != 0) return Bad($"inodes per group {ipg}");
        int isz = sb.InodeSize;
        if (isz < 128 || isz > bs || (isz & (isz - 1)) != 0) return Bad($"inode size {isz}");
        if ((long)ipg * isz % bs != 0) return Bad("inode table does not fill whole blocks");
        ulong groups = (blocks - sb.FirstDataBlock + bpg - 1) / bpg;
        if (groups == 0 || groups > uint.MaxValue / 2) return Bad($"group count {groups}");
        if ((ulong)sb.InodesCount != groups * ipg) return Bad($"inode count {sb.InodesCount} != {groups} groups x {ipg}");
        int ds = sb.DescSize;
        if (ds < 32 || ds > 1024 || (ds & (ds - 1)) != 0 || (sb.Is64Bit && ds < 64)) return Bad($"descriptor size {ds}");
        long gdtBlocks = (long)(((ulong)groups * (ulong)ds + (ulong)bs - 1) / (ulong)bs);
        if ((ulong)gdtBlocks + sbBlock + 1 >= blocks) return Bad("group descriptor table exceeds the filesystem");
        if (sb.FirstIno < 11 || sb.FirstIno >= sb.InodesCount) return Bad($"first inode {sb.FirstIno}");
        if (sb.FreeInodes > sb.InodesCount) return Bad("free inode count exceeds inode count");
        if (sb.FreeBlocks > blocks) return Bad("free block count exceeds block count");
        return new Geometry
        {
            BlockSize = bs, BlocksCount = blocks, FirstDataBlock = sb.FirstDataBlock, BlocksPerGroup = bpg,
            InodesPerGroup = ipg, InodesCount = sb.InodesCount, InodeSize = isz, GroupCount = (uint)groups, DescSize = ds,
            GdtBlocks = gdtBlocks, SuperblockBlock = sbBlock, ClusterRatio = ratio, InodeTableBlocks = (int)((long)ipg * isz / bs),
        };
    }

    public long GroupFirstBlock(uint g) => (long)FirstDataBlock + (long)g * BlocksPerGroup;

    /// <summary>Blocks in group <paramref name="g"/> (the last group may be short).</summary>
    public int BlocksInGroup(uint g) => (int)Math.Min(BlocksPerGroup, (long)BlocksCount - GroupFirstBlock(g));
}
