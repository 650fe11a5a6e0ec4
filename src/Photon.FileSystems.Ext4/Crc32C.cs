using System.Buffers.Binary;
using System.Numerics;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// CRC-32C (Castagnoli) as ext4 uses it: the raw register update with no final inversion, so a checksum over data
/// seeded with ~0 is <c>Update(~0u, data)</c>. BitOperations uses the CPU's crc32 instruction when it has one.
/// </summary>
internal static class Crc32C
{
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    /// <summary>Feeds one little-endian 32-bit value (inode numbers, group numbers, generations).</summary>
    public static uint UpdateLe32(uint crc, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Update(crc, b);
    }
}
