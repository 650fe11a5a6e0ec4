using System.Buffers.Binary;

namespace Photon.Net.Wire;

/// <summary>
/// A checked, zero-copy view of an IPv6 packet's fixed header (RFC 8200 §3). <see cref="TryParse"/> checks the version and
/// the payload length against the buffer and trims link-layer padding (the payload length is the truth). Jumbograms
/// (RFC 2675) are not supported: no link Photon drives carries them, and their payload length of 0 leaves the hop-by-hop
/// header outside the packet, which the chain walk refuses. The extension header chain is walked by
/// <see cref="Ipv6HeaderChain"/>.
/// </summary>
public readonly ref struct Ipv6Packet
{
    public const int HeaderLength = 40;
    /// <summary>The minimum link MTU every IPv6 link carries (RFC 8200 §5).</summary>
    public const int MinimumMtu = 1280;
    public const int MaxPayloadLength = 65535;
    private const int VersionAt = 0, PayloadLengthAt = 4, NextHeaderAt = 6, HopLimitAt = 7, SourceAt = 8, DestinationAt = 24;
    /// <summary>Where the fixed header's next-header field sits (the pointer of a parameter problem about it).</summary>
    public const int NextHeaderOffset = NextHeaderAt;

    private readonly ReadOnlySpan<byte> _buffer;

    private Ipv6Packet(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out Ipv6Packet packet, out DropReason error)
    {
        packet = default;
        error = DropReason.Truncated;
        if (buffer.Length < HeaderLength) return false;
        error = DropReason.BadVersion;
        if (buffer[VersionAt] >> 4 != 6) return false;
        int payload = BinaryPrimitives.ReadUInt16BigEndian(buffer[PayloadLengthAt..]);
        error = DropReason.BadLength;
        if (HeaderLength + payload > buffer.Length) return false;
        packet = new Ipv6Packet(buffer[..(HeaderLength + payload)]);
        return true;
    }

    /// <summary>The IPv6 header quoted in an ICMPv6 error: only the fixed header must be there.</summary>
    public static bool TryParseQuote(ReadOnlySpan<byte> buffer, out Ipv6Packet packet)
    {
        packet = default;
        if (buffer.Length < HeaderLength || buffer[VersionAt] >> 4 != 6) return false;
        packet = new Ipv6Packet(buffer);
        return true;
    }

    public int PayloadLength => BinaryPrimitives.ReadUInt16BigEndian(_buffer[PayloadLengthAt..]);
    public byte NextHeader => _buffer[NextHeaderAt];
    public byte HopLimit => _buffer[HopLimitAt];
    public Ipv6Address Source => Ipv6Address.Read(_buffer[SourceAt..]);
    public Ipv6Address Destination => Ipv6Address.Read(_buffer[DestinationAt..]);
    /// <summary>The whole packet (the header and what is there of the payload).</summary>
    public ReadOnlySpan<byte> Bytes => _buffer;
    /// <summary>Everything after the fixed header: extension headers, then the upper-layer data.</summary>
    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];
}

/// <summary>The fields of an IPv6 header Photon sends (traffic class and flow label 0), written by <see cref="Emit"/>.</summary>
public readonly record struct Ipv6Repr(Ipv6Address Source, Ipv6Address Destination, byte NextHeader, int PayloadLength, byte HopLimit)
{
    public void Emit(Span<byte> header)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, 6u << 28);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], (ushort)PayloadLength);
        header[6] = NextHeader;
        header[7] = HopLimit;
        Source.Write(header[8..]);
        Destination.Write(header[24..]);
    }
}

/// <summary>Where the layers of an outgoing IPv6 frame sit: protocol code writes its message at
/// <see cref="TransportAt"/> and the IPv6 and Ethernet headers are filled in in front of it, in place.</summary>
public static class Ipv6Frame
{
    public const int Ipv6At = EthernetFrame.HeaderLength;
    public const int TransportAt = EthernetFrame.HeaderLength + Ipv6Packet.HeaderLength;

    public static byte[] New(int transportLength) => new byte[TransportAt + transportLength];

    /// <summary>As <see cref="New"/>, zeroing only the headers and the first <paramref name="clearedTransport"/> bytes of
    /// the transport part (see <see cref="Ipv4Frame.NewForPayload"/>).</summary>
    public static byte[] NewForPayload(int transportLength, int clearedTransport)
    {
        var frame = GC.AllocateUninitializedArray<byte>(TransportAt + transportLength);
        frame.AsSpan(0, TransportAt + Math.Min(clearedTransport, transportLength)).Clear();
        return frame;
    }

    public static Span<byte> Transport(byte[] frame) => frame.AsSpan(TransportAt);
    public static int TransportLength(byte[] frame) => frame.Length - TransportAt;
    public static Span<byte> Ipv6Header(byte[] frame) => frame.AsSpan(Ipv6At, Ipv6Packet.HeaderLength);
}
