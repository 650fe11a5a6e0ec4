using System.Buffers.Binary;

namespace Photon.Net.Wire;

/// <summary>A checked view of a UDP datagram (RFC 768): the length field fits the buffer (which is trimmed to it) and
/// the checksum over the IPv4 pseudo-header is right when present (zero means none in IPv4).</summary>
public readonly ref struct UdpPacket
{
    public const int HeaderLength = 8;
    /// <summary>Most payload one IPv4 datagram can carry.</summary>
    public const int MaxPayload = Ipv4Packet.MaxLength - Ipv4Packet.HeaderLength - HeaderLength;
    private const int SourcePortAt = 0, DestinationPortAt = 2, LengthAt = 4, ChecksumAt = 6;

    private readonly ReadOnlySpan<byte> _buffer;

    private UdpPacket(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, Ipv4Address source, Ipv4Address destination, out UdpPacket packet, out DropReason error)
    {
        packet = default;
        if (!TryFrame(ref buffer, out error)) return false;
        error = DropReason.BadChecksum;
        if (BinaryPrimitives.ReadUInt16BigEndian(buffer[ChecksumAt..]) != 0
            && InternetChecksum.Transport(source, destination, IpProtocol.Udp, buffer) != 0) return false;
        packet = new UdpPacket(buffer);
        return true;
    }

    /// <summary>The header's length field checked against the buffer, and the buffer cut to the datagram (both families).</summary>
    private static bool TryFrame(ref ReadOnlySpan<byte> buffer, out DropReason error)
    {
        error = DropReason.Truncated;
        if (buffer.Length < HeaderLength) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer[LengthAt..]);
        error = DropReason.BadLength;
        if (length < HeaderLength || length > buffer.Length) return false;
        buffer = buffer[..length];
        return true;
    }

    /// <summary>A datagram over IPv6: the checksum (over the IPv6 pseudo-header) is mandatory (RFC 8200 §8.1).</summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, Ipv6Address source, Ipv6Address destination, out UdpPacket packet, out DropReason error)
    {
        packet = default;
        if (!TryFrame(ref buffer, out error)) return false;
        error = DropReason.BadChecksum;
        if (BinaryPrimitives.ReadUInt16BigEndian(buffer[ChecksumAt..]) == 0
            || Ipv6Checksum.Compute(source, destination, Ipv6NextHeader.Udp, buffer) != 0) return false;
        packet = new UdpPacket(buffer);
        return true;
    }

    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_buffer[SourcePortAt..]);
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_buffer[DestinationPortAt..]);
    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;

    /// <summary>Writes a datagram carrying <paramref name="payload"/> into <paramref name="datagram"/> (exactly
    /// <see cref="HeaderLength"/> + payload bytes), with its checksum.</summary>
    public static void Emit(Span<byte> datagram, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload,
        Ipv4Address source, Ipv4Address destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(datagram[SourcePortAt..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[DestinationPortAt..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[LengthAt..], (ushort)(HeaderLength + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(datagram[ChecksumAt..], 0);
        payload.CopyTo(datagram[HeaderLength..]);
        ushort sum = InternetChecksum.Transport(source, destination, IpProtocol.Udp, datagram[..(HeaderLength + payload.Length)]);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[ChecksumAt..], sum == 0 ? (ushort)0xFFFF : sum); // 0 would mean "none"
    }

    /// <summary>Writes a datagram for IPv6, with its checksum over the IPv6 pseudo-header.</summary>
    public static void Emit(Span<byte> datagram, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload,
        Ipv6Address source, Ipv6Address destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(datagram[SourcePortAt..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[DestinationPortAt..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[LengthAt..], (ushort)(HeaderLength + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(datagram[ChecksumAt..], 0);
        payload.CopyTo(datagram[HeaderLength..]);
        ushort sum = Ipv6Checksum.Compute(source, destination, Ipv6NextHeader.Udp, datagram[..(HeaderLength + payload.Length)]);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[ChecksumAt..], sum == 0 ? (ushort)0xFFFF : sum);
    }

    /// <summary>The first 8 bytes of a datagram (what an ICMP error quotes), for rebuilding a quote.</summary>
    public static int QuotedBytes => HeaderLength;
}
