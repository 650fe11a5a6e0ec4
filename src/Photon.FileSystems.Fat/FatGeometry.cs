using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Fat;

/// <summary>The FAT variant, decided only by the data-cluster count (Microsoft FAT specification, section 3.5).</summary>
public enum FatType { Fat12, Fat16, Fat32 }

/// <summary>The validated layout of a FAT volume, derived from its BIOS parameter block.</summary>
internal sealed class FatGeometry
{
    public required FatType Type { get; init; }
    public required int BytesPerSector { get; init; }
    public required int SectorsPerCluster { get; init; }
    public required int ReservedSectors { get; init; }
    public required int NumberOfFats { get; init; }
    public required int RootEntryCount { get; init; }
    public required long TotalSectors { get; init; }
    public required long FatSectors { get; init; }
    public required long RootDirSectors { get; init; }
    public required long FirstDataSector { get; init; }
    public required long ClusterCount { get; init; }
    /// <summary>FAT32 only: first cluster of the root directory.</summary>
    public required uint RootCluster { get; init; }
    /// <summary>FAT32 only: sector of the FSInfo structure, or -1 when the volume has none.</summary>
    public required int FsInfoSector { get; init; }
    /// <summary>False when FAT32 extended flags say only <see cref="ActiveFat"/> is in use.</summary>
    public required bool Mirroring { get; init; }
    public required int ActiveFat { get; init; }

    public int ClusterBytes => BytesPerSector * SectorsPerCluster;
    public uint MaxCluster => (uint)(ClusterCount + 1);
    public long FirstRootDirSector => ReservedSectors + (long)NumberOfFats * FatSectors;
    public long ActiveFatStart => ReservedSectors + (long)ActiveFat * FatSectors;

    public long ClusterToSector(uint cluster) => FirstDataSector + (long)(cluster - 2) * SectorsPerCluster;

    public bool IsValidCluster(uint cluster) => cluster >= 2 && cluster <= MaxCluster;

    /// <summary>
    /// Parses and validates the boot sector. <paramref name="deviceBytes"/> bounds the volume: an image shorter than the
    /// BPB claims is rejected rather than read past its end.
    /// </summary>
    public static Result<FatGeometry> Parse(ReadOnlySpan<byte> boot, int deviceSectorSize, long deviceBytes)
    {
        static Result<FatGeometry> Bad(string why) => Result<FatGeometry>.Fail(ErrorCode.Corrupted, "FAT boot sector: " + why);

        if (boot.Length < 512) return Bad("shorter than 512 bytes");
        if (boot[510] != 0x55 || boot[511] != 0xAA) return Bad("missing 0x55AA signature");
        if (boot[0] != 0xEB && boot[0] != 0xE9) return Bad("no x86 jump instruction");

        int bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(boot[11..]);
        if (bytesPerSector is not (512 or 1024 or 2048 or 4096)) return Bad($"bytes per sector {bytesPerSector} invalid");
        if (bytesPerSector < deviceSectorSize || bytesPerSector % deviceSectorSize != 0)
            return Result<FatGeometry>.Fail(ErrorCode.NotSupported, $"FAT sector size {bytesPerSector} below device sector size {deviceSectorSize}");

        int sectorsPerCluster = boot[13];
        if (sectorsPerCluster == 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) != 0) return Bad($"sectors per cluster {sectorsPerCluster} not a power of two");
        if (bytesPerSector * sectorsPerCluster > 256 * 1024) return Bad("cluster larger than 256 KiB");

        int reserved = BinaryPrimitives.ReadUInt16LittleEndian(boot[14..]);
        if (reserved == 0) return Bad("zero reserved sectors");
        int fats = boot[16];
        if (fats is 0 or > 16) return Bad($"FAT count {fats} invalid");
        int rootEntries = BinaryPrimitives.ReadUInt16LittleEndian(boot[17..]);
        long total = BinaryPrimitives.ReadUInt16LittleEndian(boot[19..]);
        if (total == 0) total = BinaryPrimitives.ReadUInt32LittleEndian(boot[32..]);
        if (total == 0) return Bad("zero total sectors");
        byte media = boot[21];
        if (media != 0xF0 && media < 0xF8) return Bad($"media byte 0x{media:X2} invalid");
        long fatSize = BinaryPrimitives.ReadUInt16LittleEndian(boot[22..]);
        bool fat32Layout = fatSize == 0;
        if (fat32Layout) fatSize = BinaryPrimitives.ReadUInt32LittleEndian(boot[36..]);
        if (fatSize == 0) return Bad("zero FAT size");

        long rootDirSectors = ((long)rootEntries * 32 + bytesPerSector - 1) / bytesPerSector;
        long firstData = reserved + fats * fatSize + rootDirSectors;
        if (firstData >= total) return Bad("metadata larger than the volume");
        long clusters = (total - firstData) / sectorsPerCluster;
        if (clusters < 1) return Bad("no data clusters");
        FatType type = clusters < 4085 ? FatType.Fat12 : clusters < 65525 ? FatType.Fat16 : FatType.Fat32;
        if (clusters > 0x0FFFFFF5) return Bad("too many clusters");

        if (total * bytesPerSector > deviceBytes)
            return Bad($"volume of {total} sectors is larger than the device ({deviceBytes} bytes): truncated image?");

        // The FAT must have an entry for every cluster (plus the two reserved ones).
        int bitsPerEntry = type switch { FatType.Fat12 => 12, FatType.Fat16 => 16, _ => 32 };
        if (fatSize * bytesPerSector * 8 < (clusters + 2) * bitsPerEntry) return Bad("FAT too small for the cluster count");

        uint rootCluster = 0;
        int fsInfo = -1;
        bool mirroring = true;
        int activeFat = 0;
        if (type == FatType.Fat32)
        {
            if (!fat32Layout) return Bad("FAT32 volume with a 16-bit FAT size");
            if (rootEntries != 0) return Bad("FAT32 volume with a fixed root directory");
            ushort version = BinaryPrimitives.ReadUInt16LittleEndian(boot[42..]);
            if (version != 0) return Result<FatGeometry>.Fail(ErrorCode.NotSupported, $"FAT32 version {version:X4}");
            ushort extFlags = BinaryPrimitives.ReadUInt16LittleEndian(boot[40..]);
            if ((extFlags & 0x80) != 0)
            {
                mirroring = false;
                activeFat = extFlags & 0x0F;
                if (activeFat >= fats) return Bad("active FAT index beyond FAT count");
            }
            rootCluster = BinaryPrimitives.ReadUInt32LittleEndian(boot[44..]);
            if (rootCluster < 2 || rootCluster > clusters + 1) return Bad($"root cluster {rootCluster} out of range");
            int fsInfoField = BinaryPrimitives.ReadUInt16LittleEndian(boot[48..]);
            if (fsInfoField >= 1 && fsInfoField < reserved) fsInfo = fsInfoField;
        }
        else if (rootEntries == 0)
        {
            return Bad("FAT12/16 volume without root directory entries");
        }

        return new FatGeometry
        {
            Type = type,
            BytesPerSector = bytesPerSector,
            SectorsPerCluster = sectorsPerCluster,
            ReservedSectors = reserved,
            NumberOfFats = fats,
            RootEntryCount = rootEntries,
            TotalSectors = total,
            FatSectors = fatSize,
            RootDirSectors = rootDirSectors,
            FirstDataSector = firstData,
            ClusterCount = clusters,
            RootCluster = rootCluster,
            FsInfoSector = fsInfo,
            Mirroring = mirroring,
            ActiveFat = activeFat,
        };
    }
}
