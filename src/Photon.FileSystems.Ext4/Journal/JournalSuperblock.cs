using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Ext4.Journal;

/// <summary>jbd2 on-disk constants (Linux include/linux/jbd2.h). Every journal field is big-endian.</summary>
internal static class Jbd2
{
    public const uint Magic = 0xC03B3998;
    public const uint Descriptor = 1, Commit = 2, SuperblockV1 = 3, SuperblockV2 = 4, Revoke = 5;

    // s_feature_compat / s_feature_incompat
    public const uint CompatChecksum = 0x1;
    public const uint IncompatRevoke = 0x1, Incompat64Bit = 0x2, IncompatAsyncCommit = 0x4, IncompatCsumV2 = 0x8,
        IncompatCsumV3 = 0x10, IncompatFastCommit = 0x20;
    public const uint IncompatKnown = IncompatRevoke | Incompat64Bit | IncompatAsyncCommit | IncompatCsumV2 | IncompatCsumV3;

    // journal_block_tag flags
    public const uint FlagEscape = 1, FlagSameUuid = 2, FlagDeleted = 4, FlagLastTag = 8;

    public const byte ChecksumTypeCrc32C = 4;
    public const int HeaderSize = 12, TailSize = 4, UuidSize = 16;

    public static uint Be32(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt32BigEndian(s[o..]);
    public static void Be32(Span<byte> s, int o, uint v) => BinaryPrimitives.WriteUInt32BigEndian(s[o..], v);

    /// <summary>tid_gt/tid_geq of jbd2: sequence numbers wrap, so compare by signed difference.</summary>
    public static bool After(uint a, uint b) => (int)(a - b) > 0;

    public static void WriteHeader(Span<byte> block, uint type, uint sequence)
    {
        Be32(block, 0, Magic); Be32(block, 4, type); Be32(block, 8, sequence);
    }
}

/// <summary>
/// The journal superblock (block 0 of the journal), kept raw so fields this driver does not use survive a rewrite.
/// <see cref="Parse"/> validates every field replay and the writer rely on against the journal's mapped length.
/// </summary>
internal sealed class JournalSuperblock
{
    public const int Size = 1024;
    private const int OffBlockSize = 12, OffMaxLen = 16, OffFirst = 20, OffSequence = 24, OffStart = 28, OffErrno = 32,
        OffCompat = 36, OffIncompat = 40, OffRoCompat = 44, OffUuid = 48, OffNrUsers = 64, OffChecksumType = 80,
        OffChecksum = 0xFC;

    public readonly byte[] Raw;

    private JournalSuperblock(byte[] raw) => Raw = raw;

    public uint BlockType => Jbd2.Be32(Raw, 4);
    public uint BlockSize => Jbd2.Be32(Raw, OffBlockSize);
    public uint MaxLen => Jbd2.Be32(Raw, OffMaxLen);
    public uint First => Jbd2.Be32(Raw, OffFirst);
    public uint Sequence { get => Jbd2.Be32(Raw, OffSequence); set => Jbd2.Be32(Raw, OffSequence, value); }
    public uint Start { get => Jbd2.Be32(Raw, OffStart); set => Jbd2.Be32(Raw, OffStart, value); }
    public int Errno => (int)Jbd2.Be32(Raw, OffErrno);
    public bool IsV2 => BlockType == Jbd2.SuperblockV2;
    public uint Compat => IsV2 ? Jbd2.Be32(Raw, OffCompat) : 0;
    public uint Incompat { get => IsV2 ? Jbd2.Be32(Raw, OffIncompat) : 0; set => Jbd2.Be32(Raw, OffIncompat, value); }
    public uint RoCompat => IsV2 ? Jbd2.Be32(Raw, OffRoCompat) : 0;
    public ReadOnlySpan<byte> Uuid => Raw.AsSpan(OffUuid, Jbd2.UuidSize);
    public uint NrUsers => Jbd2.Be32(Raw, OffNrUsers);
    public byte ChecksumType { get => Raw[OffChecksumType]; set => Raw[OffChecksumType] = value; }
    public uint StoredChecksum => Jbd2.Be32(Raw, OffChecksum);

    public bool CsumV2OrV3 => (Incompat & (Jbd2.IncompatCsumV2 | Jbd2.IncompatCsumV3)) != 0;
    public bool CsumV3 => (Incompat & Jbd2.IncompatCsumV3) != 0;
    public bool Has64Bit => (Incompat & Jbd2.Incompat64Bit) != 0;

    /// <summary>Seed of every v2/v3 journal checksum: crc32c(~0, s_uuid).</summary>
    public uint ChecksumSeed => Crc32C.Update(~0u, Uuid);

    public uint ComputeChecksum()
    {
        var copy = Raw.AsSpan(0, Size).ToArray();
        Jbd2.Be32(copy, OffChecksum, 0);
        return Crc32C.Update(~0u, copy);
    }

    public void UpdateChecksum() { if (CsumV2OrV3) Jbd2.Be32(Raw, OffChecksum, ComputeChecksum()); }

    /// <summary>Bytes of a descriptor tag: jbd2's journal_tag_bytes().</summary>
    public int TagBytes => CsumV3 ? 16 : 8 + ((Incompat & Jbd2.IncompatCsumV2) != 0 ? 2 : 0) + (Has64Bit ? 4 : 0);

    /// <summary>Validates the journal superblock of a journal with <paramref name="mappedBlocks"/> blocks of <paramref name="fsBlockSize"/>.</summary>
    public static Result<JournalSuperblock> Parse(ReadOnlySpan<byte> block, int fsBlockSize, long mappedBlocks)
    {
        static Result<JournalSuperblock> Bad(string m) => Result<JournalSuperblock>.Fail(ErrorCode.Corrupted, "ext4 journal superblock: " + m);
        if (block.Length < Size) return Bad("short block");
        var jsb = new JournalSuperblock(block[..Size].ToArray());
        if (Jbd2.Be32(jsb.Raw, 0) != Jbd2.Magic) return Bad("bad magic");
        if (jsb.BlockType is not (Jbd2.SuperblockV1 or Jbd2.SuperblockV2)) return Bad($"unknown block type {jsb.BlockType}");
        if (jsb.BlockSize != (uint)fsBlockSize) return Bad($"block size {jsb.BlockSize} differs from the filesystem's {fsBlockSize}");
        if (jsb.MaxLen < 8 || jsb.MaxLen > mappedBlocks) return Bad($"length {jsb.MaxLen} (the journal inode maps {mappedBlocks} blocks)");
        if (jsb.First == 0 || jsb.First >= jsb.MaxLen) return Bad($"first log block {jsb.First}");
        if (jsb.Start != 0 && (jsb.Start < jsb.First || jsb.Start >= jsb.MaxLen)) return Bad($"log start {jsb.Start} outside [{jsb.First}, {jsb.MaxLen})");
        if (jsb.IsV2)
        {
            if (jsb.NrUsers > 1) return Bad($"{jsb.NrUsers} users (shared external journals are not supported)");
            uint unknown = jsb.Incompat & ~Jbd2.IncompatKnown;
            if (unknown != 0) return Result<JournalSuperblock>.Fail(ErrorCode.NotSupported, $"ext4 journal: unsupported incompatible features 0x{unknown:X}");
            if ((jsb.Incompat & Jbd2.IncompatCsumV2) != 0 && jsb.CsumV3) return Bad("both checksum v2 and v3 are set");
            if (jsb.CsumV2OrV3)
            {
                if (jsb.ChecksumType != Jbd2.ChecksumTypeCrc32C) return Bad($"checksum type {jsb.ChecksumType}");
                if (jsb.ComputeChecksum() != jsb.StoredChecksum) return Bad("checksum mismatch");
            }
        }
        return jsb;
    }

    /// <summary>Turns on the features this writer emits, as Linux's ext4 does when it mounts: revoke, 64-bit tags, and
    /// checksum v3 when the filesystem has metadata_csum.</summary>
    public void EnableWriterFeatures(bool metadataCsum, bool bit64)
    {
        if (!IsV2) return;
        uint inc = Incompat | Jbd2.IncompatRevoke;
        if (bit64) inc |= Jbd2.Incompat64Bit;
        if (metadataCsum && !CsumV2OrV3) inc |= Jbd2.IncompatCsumV3;
        Incompat = inc;
        if (CsumV2OrV3) ChecksumType = Jbd2.ChecksumTypeCrc32C;
    }
}
