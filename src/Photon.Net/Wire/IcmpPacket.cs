using System.Buffers.Binary;

namespace Photon.Net.Wire;

public static class IcmpType
{
    public const byte EchoReply = 0, DestinationUnreachable = 3, EchoRequest = 8, TimeExceeded = 11;
    /// <summary>Codes of <see cref="DestinationUnreachable"/>.</summary>
    public const byte NetUnreachable = 0, PortUnreachable = 3;

    public static bool IsError(byte type) => type is not (EchoReply or EchoRequest);
}

/// <summary>A checked view of an ICMP message (RFC 792): at least the 8-byte header, a valid checksum over the whole.</summary>
public readonly ref struct IcmpPacket
{
    public const int HeaderLength = 8;
    private const int TypeAt = 0, CodeAt = 1, ChecksumAt = 2, IdentifierAt = 4, SequenceAt = 6;

    private readonly ReadOnlySpan<byte> _buffer;

    private IcmpPacket(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out IcmpPacket packet, out DropReason error)
    {
        packet = default;
        error = DropReason.Truncated;
        if (buffer.Length < HeaderLength) return false;
        error = DropReason.BadChecksum;
        if (InternetChecksum.Compute(buffer) != 0) return false;
        packet = new IcmpPacket(buffer);
        return true;
    }

    public byte Type => _buffer[TypeAt];

    /// <summary>The type of a message that may be cut short (quoted in an error), without checking it.</summary>
    public static bool TryPeekType(ReadOnlySpan<byte> message, out byte type)
    {
        type = message.IsEmpty ? (byte)0 : message[TypeAt];
        return !message.IsEmpty;
    }
    public byte Code => _buffer[CodeAt];
    /// <summary>Echo identifier and sequence number (echo messages).</summary>
    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(_buffer[IdentifierAt..]);
    public ushort SequenceNumber => BinaryPrimitives.ReadUInt16BigEndian(_buffer[SequenceAt..]);
    /// <summary>Echo data, or for an error the quoted IPv4 header and the first bytes of its payload.</summary>
    public ReadOnlySpan<byte> Data => _buffer[HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;

    /// <summary>Writes an echo request or reply around <paramref name="data"/> (already at
    /// <c>message[HeaderLength..]</c> when the spans overlap) and its checksum.</summary>
    public static void EmitEcho(Span<byte> message, byte type, ushort identifier, ushort sequence, ReadOnlySpan<byte> data)
    {
        message[TypeAt] = type;
        message[CodeAt] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message[IdentifierAt..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(message[SequenceAt..], sequence);
        data.CopyTo(message[HeaderLength..]);
        FillChecksum(message);
    }

    /// <summary>Writes an error message quoting <paramref name="quote"/> (RFC 792: the offending header plus 8 bytes).</summary>
    public static void EmitError(Span<byte> message, byte type, byte code, ReadOnlySpan<byte> quote)
    {
        message[TypeAt] = type;
        message[CodeAt] = code;
        message.Slice(IdentifierAt, 4).Clear(); // unused
        quote.CopyTo(message[HeaderLength..]);
        FillChecksum(message);
    }

    private static void FillChecksum(Span<byte> message)
    {
        BinaryPrimitives.WriteUInt16BigEndian(message[ChecksumAt..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(message[ChecksumAt..], InternetChecksum.Compute(message));
    }
}
