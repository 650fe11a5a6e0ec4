using System.Buffers.Binary;

namespace Photon.Net.Wire;

public static class IpProtocol
{
    public const byte Icmp = 1, Tcp = 6, Udp = 17;
}

/// <summary>
/// A checked, zero-copy view of an IPv4 packet (RFC 791). <see cref="TryParse"/> checks the version, the header and
/// total lengths against the buffer and the header checksum, and trims link-layer padding (the total length is the
/// truth); <see cref="TryParseQuote"/> reads the header an ICMP error quotes, which is truncated by design.
/// </summary>
public readonly ref struct Ipv4Packet
{
    public const int HeaderLength = 20, AddressLength = 4, MaxLength = 65535;
    private const int VersionIhlAt = 0, TotalLengthAt = 2, IdAt = 4, FlagsFragmentAt = 6, TtlAt = 8, ProtocolAt = 9, ChecksumAt = 10,
        SourceAt = 12, DestinationAt = 16;
    private const ushort DontFragmentBit = 0x4000, MoreFragmentsBit = 0x2000, FragmentOffsetMask = 0x1FFF;

    private readonly ReadOnlySpan<byte> _buffer;

    private Ipv4Packet(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out Ipv4Packet packet, out DropReason error)
    {
        packet = default;
        error = DropReason.Truncated;
        if (buffer.Length < HeaderLength) return false;
        error = DropReason.BadVersion;
        if (buffer[VersionIhlAt] >> 4 != 4) return false;
        int ihl = (buffer[VersionIhlAt] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(buffer[TotalLengthAt..]);
        error = DropReason.BadLength;
        if (ihl < HeaderLength || total < ihl || total > buffer.Length) return false;
        error = DropReason.BadChecksum;
        if (InternetChecksum.Compute(buffer[..ihl]) != 0) return false;
        packet = new Ipv4Packet(buffer[..total]);
        return true;
    }

    /// <summary>The IPv4 header quoted in an ICMP error: only the header itself must be there.</summary>
    public static bool TryParseQuote(ReadOnlySpan<byte> buffer, out Ipv4Packet packet)
    {
        packet = default;
        if (buffer.Length < HeaderLength || buffer[VersionIhlAt] >> 4 != 4) return false;
        int ihl = (buffer[VersionIhlAt] & 0xF) * 4;
        if (ihl < HeaderLength || ihl > buffer.Length) return false;
        packet = new Ipv4Packet(buffer);
        return true;
    }

    public int HeaderBytes => (_buffer[VersionIhlAt] & 0xF) * 4;
    public int TotalLength => BinaryPrimitives.ReadUInt16BigEndian(_buffer[TotalLengthAt..]);
    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(_buffer[IdAt..]);
    private ushort FlagsFragment => BinaryPrimitives.ReadUInt16BigEndian(_buffer[FlagsFragmentAt..]);
    public bool DontFragment => (FlagsFragment & DontFragmentBit) != 0;
    public bool MoreFragments => (FlagsFragment & MoreFragmentsBit) != 0;
    /// <summary>Where the payload belongs in the original datagram, in bytes.</summary>
    public int FragmentOffset => (FlagsFragment & FragmentOffsetMask) * 8;
    public bool IsFragment => MoreFragments || FragmentOffset != 0;
    public byte Ttl => _buffer[TtlAt];
    public byte Protocol => _buffer[ProtocolAt];
    public Ipv4Address Source => Ipv4Address.Read(_buffer[SourceAt..]);
    public Ipv4Address Destination => Ipv4Address.Read(_buffer[DestinationAt..]);
    /// <summary>The whole packet (the header and what is there of the payload).</summary>
    public ReadOnlySpan<byte> Bytes => _buffer;
    public ReadOnlySpan<byte> Payload => _buffer[HeaderBytes..];

    /// <summary>Router path: decrements the TTL of the packet at the start of <paramref name="packet"/> and refreshes its
    /// header checksum.</summary>
    public static void DecrementTtl(Span<byte> packet)
    {
        packet[TtlAt]--;
        int ihl = (packet[VersionIhlAt] & 0xF) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(packet[ChecksumAt..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(packet[ChecksumAt..], InternetChecksum.Compute(packet[..ihl]));
    }
}

/// <summary>The fields of an IPv4 header Photon sends (no options), written by <see cref="Emit"/> with its checksum.</summary>
public readonly record struct Ipv4Repr(Ipv4Address Source, Ipv4Address Destination, byte Protocol, int PayloadLength, byte Ttl,
    ushort Identification = 0, bool DontFragment = false, bool MoreFragments = false, int FragmentOffset = 0)
{
    private const int VersionIhlAt = 0, TosAt = 1, TotalLengthAt = 2, IdAt = 4, FlagsFragmentAt = 6, TtlAt = 8, ProtocolAt = 9,
        ChecksumAt = 10, SourceAt = 12, DestinationAt = 16;
    private const byte Version4NoOptions = 0x45;

    public void Emit(Span<byte> header)
    {
        header[VersionIhlAt] = Version4NoOptions;
        header[TosAt] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[TotalLengthAt..], (ushort)(Ipv4Packet.HeaderLength + PayloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(header[IdAt..], Identification);
        BinaryPrimitives.WriteUInt16BigEndian(header[FlagsFragmentAt..],
            (ushort)((DontFragment ? 0x4000 : 0) | (MoreFragments ? 0x2000 : 0) | (FragmentOffset / 8)));
        header[TtlAt] = Ttl;
        header[ProtocolAt] = Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(header[ChecksumAt..], 0);
        Source.Write(header[SourceAt..]);
        Destination.Write(header[DestinationAt..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[ChecksumAt..], InternetChecksum.Compute(header[..Ipv4Packet.HeaderLength]));
    }
}

/// <summary>Where the layers of an outgoing IPv4 frame sit: protocol code builds its header and payload at
/// <see cref="TransportAt"/> and the IPv4 and Ethernet headers are filled in in front of it, in place.</summary>
public static class Ipv4Frame
{
    public const int Ipv4At = EthernetFrame.HeaderLength;
    public const int TransportAt = EthernetFrame.HeaderLength + Ipv4Packet.HeaderLength;

    /// <summary>A frame with room for the Ethernet and IPv4 headers before <paramref name="transportLength"/> bytes.</summary>
    public static byte[] New(int transportLength) => new byte[TransportAt + transportLength];

    /// <summary>As <see cref="New"/>, but only the headers and the first <paramref name="clearedTransport"/> bytes of the
    /// transport part are zeroed: the caller overwrites the rest (a TCP payload copied from the socket buffer). Zeroing a
    /// 64 KiB TSO frame that is overwritten at once cost ~7% of the bulk sender's CPU (issue #11, perf).</summary>
    public static byte[] NewForPayload(int transportLength, int clearedTransport)
    {
        var frame = GC.AllocateUninitializedArray<byte>(TransportAt + transportLength);
        frame.AsSpan(0, TransportAt + Math.Min(clearedTransport, transportLength)).Clear();
        return frame;
    }

    public static Span<byte> Transport(byte[] frame) => frame.AsSpan(TransportAt);
    public static int TransportLength(byte[] frame) => frame.Length - TransportAt;
    public static Span<byte> Ipv4Header(byte[] frame) => frame.AsSpan(Ipv4At, Ipv4Packet.HeaderLength);
}
