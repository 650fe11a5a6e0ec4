using System.Buffers.Binary;

namespace Photon.Net.Wire;

/// <summary>The IPv6 fragment header (RFC 8200 §4.5), written by a source that fragments; read by
/// <see cref="Ipv6HeaderChain"/>.</summary>
public static class Ipv6FragmentHeader
{
    public const int Length = 8;

    public static void Emit(Span<byte> header, byte nextHeader, int offset, bool moreFragments, uint identification)
    {
        header[0] = nextHeader;
        header[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(offset / 8 << 3 | (moreFragments ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], identification);
    }
}
