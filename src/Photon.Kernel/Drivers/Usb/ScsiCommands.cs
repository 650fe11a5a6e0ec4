using System.Buffers.Binary;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>The SCSI commands a USB stick needs (SPC-4, SBC-3), as command descriptor blocks, and their replies.</summary>
public static class ScsiCommands
{
    public const byte TestUnitReady = 0x00, RequestSense = 0x03, Inquiry = 0x12, ReadCapacity10 = 0x25, Read10 = 0x28, Write10 = 0x2A,
        SynchronizeCache10 = 0x35;

    public static byte[] TestUnitReadyCdb() => new byte[6];
    public static byte[] InquiryCdb(byte length = 36) => [Inquiry, 0, 0, 0, length, 0];
    public static byte[] RequestSenseCdb(byte length = 18) => [RequestSense, 0, 0, 0, length, 0];
    public static byte[] ReadCapacityCdb() => [ReadCapacity10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    public static byte[] SynchronizeCacheCdb() => [SynchronizeCache10, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static byte[] ReadWrite10Cdb(bool write, uint lba, ushort blocks)
    {
        var cdb = new byte[10];
        cdb[0] = write ? Write10 : Read10;
        BinaryPrimitives.WriteUInt32BigEndian(cdb.AsSpan(2), lba);
        BinaryPrimitives.WriteUInt16BigEndian(cdb.AsSpan(7), blocks);
        return cdb;
    }

    /// <summary>READ CAPACITY(10): the last LBA and the block length; <c>Corrupted</c> for a block length that is not
    /// 512 or 4096 or a zero-sized medium.</summary>
    public static Result<(long Blocks, int BlockSize)> ParseCapacity(ReadOnlySpan<byte> reply)
    {
        if (reply.Length < 8) return Errors.Of(ErrorCode.Corrupted, "short READ CAPACITY reply");
        uint last = BinaryPrimitives.ReadUInt32BigEndian(reply);
        uint size = BinaryPrimitives.ReadUInt32BigEndian(reply[4..]);
        if (size is not (512 or 4096)) return Errors.Of(ErrorCode.NotSupported, $"block size {size}");
        if (last == 0xFFFFFFFF) return Errors.Of(ErrorCode.NotSupported, "medium larger than READ CAPACITY(10) can describe");
        return ((long)last + 1, (int)size);
    }

    /// <summary>Sense key, additional sense code and qualifier of fixed-format sense data.</summary>
    public static (byte Key, byte Asc, byte Ascq) ParseSense(ReadOnlySpan<byte> sense) =>
        sense.Length >= 14 && (sense[0] & 0x7F) is 0x70 or 0x71 ? ((byte)(sense[2] & 0x0F), sense[12], sense[13]) : ((byte)0, (byte)0, (byte)0);
}
