using System.Buffers.Binary;
using System.Net;

namespace Photon.Net;

/// <summary>An IPv6 address (RFC 4291) as two host-order halves, so it compares, hashes and masks without allocating.</summary>
public readonly record struct Ipv6Address(ulong High, ulong Low)
{
    public const int Length = 16;
    public static readonly Ipv6Address Unspecified = new(0, 0);
    public static readonly Ipv6Address Loopback = new(0, 1);
    /// <summary>ff02::1 and ff02::2 (RFC 4291 §2.7.1).</summary>
    public static readonly Ipv6Address AllNodes = new(0xFF02UL << 48, 1), AllRouters = new(0xFF02UL << 48, 2);

    /// <summary>Parses the text forms of RFC 4291 §2.2 (RFC 5952 on output); a zone (<c>%eth0</c>) is refused: Photon
    /// picks the interface itself.</summary>
    public static Result<Ipv6Address> Parse(string? text)
    {
        Span<byte> b = stackalloc byte[Length];
        // An IPv4 address (and "::ffff:…" text is IPv6) writes 4 bytes: only a 16-byte address is one.
        if (text is null || text.Contains('%') || !text.Contains(':') || !IPAddress.TryParse(text, out var ip)
            || !ip.TryWriteBytes(b, out int written) || written != Length)
            return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not an IPv6 address");
        return Read(b);
    }

    public static Ipv6Address Read(ReadOnlySpan<byte> s) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(s), BinaryPrimitives.ReadUInt64BigEndian(s[8..]));

    public void Write(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64BigEndian(s, High);
        BinaryPrimitives.WriteUInt64BigEndian(s[8..], Low);
    }

    public bool IsUnspecified => High == 0 && Low == 0;
    public bool IsLoopback => High == 0 && Low == 1;
    /// <summary>ff00::/8.</summary>
    public bool IsMulticast => High >> 56 == 0xFF;
    /// <summary>fe80::/10.</summary>
    public bool IsLinkLocal => High >> 54 == 0xFE80 >> 6;
    /// <summary>::ffff:0:0/96, IPv4 addresses in IPv6 form: never a source on an IPv6 wire (RFC 4291 §2.5.5.2).</summary>
    public bool IsIpv4Mapped => High == 0 && Low >> 32 == 0xFFFF;

    /// <summary>ff02::1:ffXX:XXXX, the solicited-node group of this address (RFC 4291 §2.7.1): neighbour solicitations for
    /// it go there, so a host only hears the ones that may concern it.</summary>
    public Ipv6Address SolicitedNode => new(0xFF02UL << 48, 0x1_FF00_0000UL | (Low & 0xFF_FFFF));

    /// <summary>The Ethernet group a multicast address maps to: 33:33 and its last 32 bits (RFC 2464 §7).</summary>
    public byte[] MulticastMac() =>
        [0x33, 0x33, (byte)(Low >> 24), (byte)(Low >> 16), (byte)(Low >> 8), (byte)Low];

    /// <summary>A modified EUI-64 interface identifier from a MAC (RFC 4291 appendix A: ff:fe in the middle, the
    /// universal/local bit flipped).</summary>
    public static ulong InterfaceId(ReadOnlySpan<byte> mac) =>
        (ulong)(mac[0] ^ 0x02) << 56 | (ulong)mac[1] << 48 | (ulong)mac[2] << 40 | 0xFFUL << 32 | 0xFEUL << 24
        | (ulong)mac[3] << 16 | (ulong)mac[4] << 8 | mac[5];

    /// <summary>fe80::/64 with the EUI-64 identifier of <paramref name="mac"/> (RFC 4862 §5.3).</summary>
    public static Ipv6Address LinkLocal(ReadOnlySpan<byte> mac) => new(0xFE80UL << 48, InterfaceId(mac));

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[Length];
        Write(b);
        return new IPAddress(b).ToString();
    }
}

/// <summary>An IPv6 address with its prefix length, e.g. fd00::2/64.</summary>
public readonly record struct Ipv6Cidr(Ipv6Address Address, int PrefixLength)
{
    public static Result<Ipv6Cidr> Parse(string? text)
    {
        var slash = text?.IndexOf('/') ?? -1;
        if (text is null || slash < 0) return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not address/prefix");
        var ip = Ipv6Address.Parse(text[..slash]);
        if (!ip.IsOk) return ip.Error;
        var len = text[(slash + 1)..];
        if (len.Length is 0 or > 3 || !int.TryParse(len, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture,
                out var prefix) || prefix > 128)
            return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' has a bad prefix length");
        return new Ipv6Cidr(ip.Value, prefix);
    }

    public Ipv6Address Network => Mask(Address, PrefixLength);
    public bool Contains(Ipv6Address a) => Mask(a, PrefixLength) == Network;

    public static Ipv6Address Mask(Ipv6Address a, int prefixLength) => prefixLength switch
    {
        <= 0 => Ipv6Address.Unspecified,
        < 64 => new(a.High & ulong.MaxValue << (64 - prefixLength), 0),
        64 => new(a.High, 0),
        < 128 => new(a.High, a.Low & ulong.MaxValue << (128 - prefixLength)),
        _ => a,
    };

    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>The ICMPv6, UDP and TCP checksum over the IPv6 pseudo-header (RFC 8200 §8.1): both addresses, the upper-layer
/// length as 32 bits and the next header.</summary>
public static class Ipv6Checksum
{
    public static ulong PseudoHeader(Ipv6Address src, Ipv6Address dst, byte nextHeader, int length) =>
        Words(src.High) + Words(src.Low) + Words(dst.High) + Words(dst.Low) + ((uint)length >> 16) + ((uint)length & 0xFFFF) + nextHeader;

    /// <summary>The checksum of <paramref name="segment"/> (0 when a received segment's checksum field is right).</summary>
    public static ushort Compute(Ipv6Address src, Ipv6Address dst, byte nextHeader, ReadOnlySpan<byte> segment) =>
        InternetChecksum.Finish(InternetChecksum.Sum(segment, PseudoHeader(src, dst, nextHeader, segment.Length)));

    private static ulong Words(ulong v) => (v >> 48) + ((v >> 32) & 0xFFFF) + ((v >> 16) & 0xFFFF) + (v & 0xFFFF);
}
