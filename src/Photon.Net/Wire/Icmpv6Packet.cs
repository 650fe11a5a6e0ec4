using System.Buffers.Binary;

namespace Photon.Net.Wire;

public static class Icmpv6Type
{
    public const byte DestinationUnreachable = 1, PacketTooBig = 2, TimeExceeded = 3, ParameterProblem = 4,
        EchoRequest = 128, EchoReply = 129,
        RouterSolicitation = 133, RouterAdvertisement = 134, NeighborSolicitation = 135, NeighborAdvertisement = 136, Redirect = 137;

    /// <summary>Codes of <see cref="DestinationUnreachable"/> (RFC 4443 §3.1).</summary>
    public const byte NoRoute = 0, AddressUnreachable = 3, PortUnreachable = 4;

    /// <summary>Error messages have types 0..127 (RFC 4443 §2.1): never answered with another error.</summary>
    public static bool IsError(byte type) => type < 128;
}

/// <summary>A checked view of an ICMPv6 message (RFC 4443): at least the 4-byte header plus the 4-byte type-specific
/// word, and a valid checksum over the IPv6 pseudo-header and the whole message.</summary>
public readonly ref struct Icmpv6Packet
{
    public const int HeaderLength = 8;
    private const int TypeAt = 0, CodeAt = 1, ChecksumAt = 2, IdentifierAt = 4, SequenceAt = 6, WordAt = 4;

    private readonly ReadOnlySpan<byte> _buffer;

    private Icmpv6Packet(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, Ipv6Address src, Ipv6Address dst, out Icmpv6Packet packet, out DropReason error)
    {
        packet = default;
        error = DropReason.Truncated;
        if (buffer.Length < HeaderLength) return false;
        error = DropReason.BadChecksum;
        if (Ipv6Checksum.Compute(src, dst, Ipv6NextHeader.Icmpv6, buffer) != 0) return false;
        packet = new Icmpv6Packet(buffer);
        return true;
    }

    public byte Type => _buffer[TypeAt];
    public byte Code => _buffer[CodeAt];
    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(_buffer[IdentifierAt..]);
    public ushort SequenceNumber => BinaryPrimitives.ReadUInt16BigEndian(_buffer[SequenceAt..]);
    /// <summary>The type-specific 32-bit word: the MTU of a packet too big, the pointer of a parameter problem.</summary>
    public uint Word => BinaryPrimitives.ReadUInt32BigEndian(_buffer[WordAt..]);
    /// <summary>Echo data, an error's quoted packet, or an NDP message's body after the first 8 bytes.</summary>
    public ReadOnlySpan<byte> Data => _buffer[HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;

    public static void EmitEcho(Span<byte> message, byte type, ushort identifier, ushort sequence, ReadOnlySpan<byte> data)
    {
        message[TypeAt] = type;
        message[CodeAt] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message[IdentifierAt..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(message[SequenceAt..], sequence);
        data.CopyTo(message[HeaderLength..]);
    }

    /// <summary>Writes an error with its type-specific <paramref name="word"/> (MTU, pointer or 0) and quote.</summary>
    public static void EmitError(Span<byte> message, byte type, byte code, uint word, ReadOnlySpan<byte> quote)
    {
        message[TypeAt] = type;
        message[CodeAt] = code;
        BinaryPrimitives.WriteUInt32BigEndian(message[WordAt..], word);
        quote.CopyTo(message[HeaderLength..]);
    }

    /// <summary>Fills the checksum of a finished message sent from <paramref name="src"/> to <paramref name="dst"/>.</summary>
    public static void FillChecksum(Span<byte> message, Ipv6Address src, Ipv6Address dst)
    {
        BinaryPrimitives.WriteUInt16BigEndian(message[ChecksumAt..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(message[ChecksumAt..], Ipv6Checksum.Compute(src, dst, Ipv6NextHeader.Icmpv6, message));
    }
}
