using System.Buffers.Binary;

namespace Photon.Net.Wire;

public static class EtherType
{
    public const ushort Ipv4 = 0x0800, Arp = 0x0806, Ipv6 = 0x86DD;
}

/// <summary>
/// A checked, zero-copy view of an Ethernet II frame (header included, no FCS), in the manner of smoltcp's
/// <c>EthernetFrame</c>: <see cref="TryParse"/> guarantees the header is there, the getters read it in place, and the
/// static setters write a header into a frame being built.
/// </summary>
public readonly ref struct EthernetFrame
{
    public const int HeaderLength = 14, AddressLength = 6;
    private const int DestinationAt = 0, SourceAt = 6, EtherTypeAt = 12;

    private readonly ReadOnlySpan<byte> _buffer;

    private EthernetFrame(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out EthernetFrame frame, out DropReason error)
    {
        frame = default;
        error = DropReason.Truncated;
        if (buffer.Length < HeaderLength) return false;
        frame = new EthernetFrame(buffer);
        return true;
    }

    public ReadOnlySpan<byte> Destination => _buffer.Slice(DestinationAt, AddressLength);
    public ReadOnlySpan<byte> Source => _buffer.Slice(SourceAt, AddressLength);
    public ushort EtherType => BinaryPrimitives.ReadUInt16BigEndian(_buffer[EtherTypeAt..]);
    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];

    public static void SetDestination(Span<byte> frame, ReadOnlySpan<byte> mac) => mac.CopyTo(frame.Slice(DestinationAt, AddressLength));
    public static void SetSource(Span<byte> frame, ReadOnlySpan<byte> mac) => mac.CopyTo(frame.Slice(SourceAt, AddressLength));
    public static void SetEtherType(Span<byte> frame, ushort type) => BinaryPrimitives.WriteUInt16BigEndian(frame[EtherTypeAt..], type);
    public static Span<byte> PayloadOf(Span<byte> frame) => frame[HeaderLength..];
}
