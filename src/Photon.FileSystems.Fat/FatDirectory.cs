using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Fat;

/// <summary>Directory entry attribute bits.</summary>
[Flags]
internal enum FatAttributes : byte
{
    ReadOnly = 0x01,
    Hidden = 0x02,
    System = 0x04,
    VolumeId = 0x08,
    Directory = 0x10,
    Archive = 0x20,
    LongName = 0x0F,
}

/// <summary>One named entry of a directory: its slots (LFN entries then the short entry) and the short entry's fields.</summary>
internal sealed class FatNode
{
    public required string Name { get; init; }
    /// <summary>First slot of the entry (its first LFN entry, or the short entry when it has no long name).</summary>
    public required int FirstSlot { get; init; }
    public required int ShortSlot { get; init; }
    public required byte[] ShortEntry { get; init; }

    public FatAttributes Attributes => (FatAttributes)ShortEntry[11];
    public bool IsDirectory => (Attributes & FatAttributes.Directory) != 0;
    public uint FirstCluster => FatDirectory.ReadCluster(ShortEntry);
    public uint Size => BinaryPrimitives.ReadUInt32LittleEndian(ShortEntry.AsSpan(28));
    public DateTimeOffset Modified => FatTime.Decode(
        BinaryPrimitives.ReadUInt16LittleEndian(ShortEntry.AsSpan(24)), BinaryPrimitives.ReadUInt16LittleEndian(ShortEntry.AsSpan(22)), 0);
}

/// <summary>
/// A directory's raw contents loaded into memory together with the sectors they came from, so entries can be edited in
/// place and written back slot by slot. <see cref="Id"/> is 0 for the root directory, else its first cluster.
/// </summary>
internal sealed class FatDirectory
{
    public const int EntrySize = 32;
    /// <summary>The FAT specification caps a directory at 65536 entries.</summary>
    public const int MaxEntries = 65536;

    public required uint Id { get; init; }
    /// <summary>Cluster chain for chained directories; empty for the fixed FAT12/16 root.</summary>
    public required List<uint> Clusters { get; init; }
    public required List<long> Sectors { get; init; }
    public required byte[] Data { get; set; }

    public bool IsFixedRoot => Clusters.Count == 0;
    public int SlotCount => Data.Length / EntrySize;

    public Span<byte> Slot(int index) => Data.AsSpan(index * EntrySize, EntrySize);

    public static uint ReadCluster(ReadOnlySpan<byte> entry) =>
        (uint)(BinaryPrimitives.ReadUInt16LittleEndian(entry[20..]) << 16) | BinaryPrimitives.ReadUInt16LittleEndian(entry[26..]);

    public static void WriteCluster(Span<byte> entry, uint cluster)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(entry[20..], (ushort)(cluster >> 16));
        BinaryPrimitives.WriteUInt16LittleEndian(entry[26..], (ushort)cluster);
    }

    private static bool IsDotEntry(ReadOnlySpan<byte> entry) =>
        entry[0] == '.' && (entry[1..11].SequenceEqual("          "u8) || (entry[1] == '.' && entry[2..11].SequenceEqual("         "u8)));

    /// <summary>
    /// Decodes the named entries. A long name is used only when its LFN run is complete, in order and carries the
    /// short entry's checksum; otherwise the short name stands (as Windows and Linux do with orphaned LFN entries).
    /// </summary>
    public List<FatNode> ReadEntries()
    {
        var nodes = new List<FatNode>();
        var longName = new char[20 * 13];
        int expected = 0, runStart = -1, runCount = 0;
        byte checksum = 0;

        for (int i = 0; i < SlotCount; i++)
        {
            var entry = Slot(i);
            if (entry[0] == 0x00) break;
            if (entry[0] == 0xE5) { expected = 0; continue; }
            if ((entry[11] & 0x3F) == (byte)FatAttributes.LongName)
            {
                int ordinal = entry[0] & 0x1F;
                if ((entry[0] & 0x40) != 0)
                {
                    if (ordinal is 0 or > 20) { expected = 0; continue; }
                    expected = ordinal;
                    runCount = ordinal;
                    runStart = i;
                    checksum = entry[13];
                    Array.Fill(longName, '\uFFFF');
                }
                else if (expected == 0 || ordinal != expected - 1 || entry[13] != checksum)
                {
                    expected = 0;
                    continue;
                }
                else
                {
                    expected = ordinal;
                }
                int at = (ordinal - 1) * 13;
                for (int j = 0; j < 13; j++) longName[at + j] = (char)BinaryPrimitives.ReadUInt16LittleEndian(entry[LfnCharOffset(j)..]);
                continue;
            }

            bool hasLong = expected == 1 && FatNames.Checksum(entry) == checksum;
            int firstSlot = hasLong ? runStart : i;
            expected = 0;
            if ((entry[11] & (byte)FatAttributes.VolumeId) != 0 || IsDotEntry(entry)) continue;

            string? name = null;
            if (hasLong)
            {
                int length = Array.IndexOf(longName, '\0', 0, runCount * 13);
                if (length < 0) length = runCount * 13;
                string candidate = new(longName, 0, length);
                if (FatNames.IsReachable(candidate) && candidate.IndexOf('\uFFFF') < 0) name = candidate;
            }
            if (name is null)
            {
                firstSlot = i;
                name = FatNames.DisplayShortName(entry);
            }
            if (!FatNames.IsReachable(name)) continue;
            nodes.Add(new FatNode { Name = name, FirstSlot = firstSlot, ShortSlot = i, ShortEntry = entry.ToArray() });
        }
        return nodes;
    }

    public FatNode? Find(string name) =>
        ReadEntries().FirstOrDefault(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase)
                                          || string.Equals(FatNames.DisplayShortName(n.ShortEntry), name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every short name in use (including "." and ".." and volume labels), to keep generated aliases unique.</summary>
    public HashSet<string> ShortNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < SlotCount; i++)
        {
            var entry = Slot(i);
            if (entry[0] == 0x00) break;
            if (entry[0] == 0xE5 || (entry[11] & 0x3F) == (byte)FatAttributes.LongName) continue;
            names.Add(FatNames.ShortKey(entry));
        }
        return names;
    }

    /// <summary>True when the directory holds nothing but "." and "..".</summary>
    public bool IsEmpty()
    {
        for (int i = 0; i < SlotCount; i++)
        {
            var entry = Slot(i);
            if (entry[0] == 0x00) return true;
            if (entry[0] == 0xE5 || (entry[11] & 0x3F) == (byte)FatAttributes.LongName || IsDotEntry(entry)) continue;
            if ((entry[11] & (byte)FatAttributes.VolumeId) != 0) continue;
            return false;
        }
        return true;
    }

    /// <summary>First index of <paramref name="count"/> consecutive free slots, or -1.</summary>
    public int FindFreeRun(int count)
    {
        int runStart = -1, run = 0;
        bool pastEnd = false;
        for (int i = 0; i < SlotCount; i++)
        {
            byte first = Data[i * EntrySize];
            if (first == 0x00) pastEnd = true;
            bool free = pastEnd || first == 0xE5;
            if (!free) { run = 0; continue; }
            if (run == 0) runStart = i;
            if (++run == count) return runStart;
        }
        return -1;
    }

    /// <summary>The byte offset of the j-th UTF-16 unit (0..12) inside an LFN entry.</summary>
    public static int LfnCharOffset(int j) => j < 5 ? 1 + 2 * j : j < 11 ? 14 + 2 * (j - 5) : 28 + 2 * (j - 11);

    /// <summary>Builds the LFN entries for <paramref name="name"/> in on-disk order (highest ordinal first).</summary>
    public static List<byte[]> BuildLongEntries(string name, byte checksum)
    {
        int count = (name.Length + 12) / 13;
        var entries = new List<byte[]>(count);
        for (int ordinal = count; ordinal >= 1; ordinal--)
        {
            var entry = new byte[EntrySize];
            entry[0] = (byte)(ordinal | (ordinal == count ? 0x40 : 0));
            entry[11] = (byte)FatAttributes.LongName;
            entry[13] = checksum;
            for (int j = 0; j < 13; j++)
            {
                int index = (ordinal - 1) * 13 + j;
                ushort unit = index < name.Length ? name[index] : index == name.Length ? (ushort)0 : (ushort)0xFFFF;
                BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(LfnCharOffset(j)), unit);
            }
            entries.Add(entry);
        }
        return entries;
    }
}

/// <summary>FAT date/time fields (2-second resolution, plus a 10 ms creation field).</summary>
internal static class FatTime
{
    public static readonly DateTimeOffset Epoch = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static (ushort Date, ushort Time, byte Tenths) Encode(DateTimeOffset when)
    {
        var t = when.UtcDateTime;
        if (t.Year < 1980) return (0x21, 0, 0);
        if (t.Year > 2107) return ((127 << 9) | (12 << 5) | 31, (23 << 11) | (59 << 5) | 29, 199);
        ushort date = (ushort)(((t.Year - 1980) << 9) | (t.Month << 5) | t.Day);
        ushort time = (ushort)((t.Hour << 11) | (t.Minute << 5) | (t.Second / 2));
        byte tenths = (byte)((t.Second % 2) * 100 + t.Millisecond / 10);
        return (date, time, tenths);
    }

    public static DateTimeOffset Decode(ushort date, ushort time, byte tenths)
    {
        int year = 1980 + (date >> 9), month = (date >> 5) & 0xF, day = date & 0x1F;
        int hour = time >> 11, minute = (time >> 5) & 0x3F, second = (time & 0x1F) * 2;
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
            return Epoch;
        return new DateTimeOffset(year, month, day, hour, minute, second, TimeSpan.Zero).AddMilliseconds(Math.Min((int)tenths, 199) * 10);
    }
}
