using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Photon.Net;

/// <summary>An IPv4 address in host order.</summary>
public readonly record struct Ipv4Address(uint Value)
{
    public static readonly Ipv4Address Any = new(0);
    public static readonly Ipv4Address Broadcast = new(0xFFFFFFFF);

    public static Result<Ipv4Address> Parse(string? text)
    {
        var parts = text?.Split('.') ?? [];
        if (parts.Length != 4) return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not an IPv4 address");
        uint v = 0;
        foreach (var p in parts)
        {
            if (p.Length is 0 or > 3 || !byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var b))
                return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not an IPv4 address");
            v = (v << 8) | b;
        }
        return new Ipv4Address(v);
    }

    /// <summary>224.0.0.0/4.</summary>
    public bool IsMulticast => Value >> 28 == 0xE;

    public static Ipv4Address Read(ReadOnlySpan<byte> s) => new(BinaryPrimitives.ReadUInt32BigEndian(s));
    public void Write(Span<byte> s) => BinaryPrimitives.WriteUInt32BigEndian(s, Value);
    public override string ToString() => $"{Value >> 24}.{(Value >> 16) & 255}.{(Value >> 8) & 255}.{Value & 255}";
}

public static class Mac
{
    public static readonly byte[] Broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    /// <summary>A multicast or broadcast address (the I/G bit): never a sender's.</summary>
    public static bool IsGroup(ReadOnlySpan<byte> mac) => (mac[0] & 1) != 0;

    public static string Format(ReadOnlySpan<byte> mac) => Convert.ToHexString(mac).ToLowerInvariant() is var h
        ? string.Join(':', Enumerable.Range(0, mac.Length).Select(i => h.Substring(i * 2, 2))) : "";
}

/// <summary>An address with its prefix length, e.g. 10.0.0.2/24.</summary>
public readonly record struct Ipv4Cidr(Ipv4Address Address, int PrefixLength)
{
    public static Result<Ipv4Cidr> Parse(string? text)
    {
        var slash = text?.IndexOf('/') ?? -1;
        if (text is null || slash < 0) return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not address/prefix");
        var ip = Ipv4Address.Parse(text[..slash]);
        if (!ip.IsOk) return ip.Error;
        var len = text[(slash + 1)..];
        if (len.Length is 0 or > 2 || !int.TryParse(len, NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 32)
            return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' has a bad prefix length");
        return new Ipv4Cidr(ip.Value, prefix);
    }

    public uint Mask => PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);
    public Ipv4Address Network => new(Address.Value & Mask);
    public Ipv4Address DirectedBroadcast => new(Address.Value | ~Mask);
    public bool Contains(Ipv4Address a) => (a.Value & Mask) == (Address.Value & Mask);
    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>The Internet checksum (RFC 1071), with the pseudo-header sum UDP and TCP need.</summary>
public static class InternetChecksum
{
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Sum(data, 0));

    /// <summary>Adds 16-bit big-endian words of <paramref name="data"/> to a running (unfolded) sum.</summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong sum)
    {
        int i = 0;
        if (data.Length >= VectorMinimum && BitConverter.IsLittleEndian && Vector256.IsHardwareAccelerated)
        {
            sum += SumVectors(data, out i);
        }
        for (; i + 8 <= data.Length; i += 8) // four words per step; folding is deferred, 64-bit cannot overflow here
        {
            ulong w = BinaryPrimitives.ReadUInt64BigEndian(data[i..]);
            sum += (w >> 48) + ((w >> 32) & 0xFFFF) + ((w >> 16) & 0xFFFF) + (w & 0xFFFF);
        }
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    /// <summary>Below this many bytes the scalar loop is as fast (headers, small datagrams).</summary>
    private const int VectorMinimum = 256;

    /// <summary>The whole 32-byte blocks of <paramref name="data"/>, summed as little-endian 32-bit lanes widened into
    /// 64-bit accumulators (no carry is lost: 2^32 blocks would be needed to overflow), folded to 16 bits and byte-swapped:
    /// the ones' complement sum does not depend on byte order (RFC 1071 §2(B)), so this equals the big-endian word sum
    /// modulo 0xFFFF — what the checksum keeps. The software path with offloads off checksums every byte sent and
    /// received (issue #11: 0.28x of Linux there).</summary>
    private static ulong SumVectors(ReadOnlySpan<byte> data, out int consumed)
    {
        var blocks = MemoryMarshal.Cast<byte, Vector256<uint>>(data);
        consumed = blocks.Length * Vector256<byte>.Count;
        Vector256<ulong> a = Vector256<ulong>.Zero, b = Vector256<ulong>.Zero;
        foreach (var block in blocks)
        {
            var (lower, upper) = Vector256.Widen(block);
            a += lower;
            b += upper;
        }
        ulong s = Vector256.Sum(a + b);
        s = (s & 0xFFFFFFFF) + (s >> 32);
        s = (s & 0xFFFFFFFF) + (s >> 32);
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return BinaryPrimitives.ReverseEndianness((ushort)s);
    }

    public static ulong PseudoHeader(Ipv4Address src, Ipv4Address dst, byte protocol, int length) =>
        (src.Value >> 16) + (src.Value & 0xFFFF) + (dst.Value >> 16) + (dst.Value & 0xFFFF) + protocol + (uint)length;

    /// <summary>The pseudo-header sum of either family: IPv4's, or IPv6's (RFC 8200 §8.1) — the one place TCP picks.</summary>
    public static ulong PseudoHeader(IpAddress src, IpAddress dst, byte protocol, int length) => src.IsV6
        ? Ipv6Checksum.PseudoHeader(src.V6, dst.V6, protocol, length)
        : PseudoHeader(src.V4, dst.V4, protocol, length);

    public static ushort Transport(IpAddress src, IpAddress dst, byte protocol, ReadOnlySpan<byte> segment) =>
        Finish(Sum(segment, PseudoHeader(src, dst, protocol, segment.Length)));

    /// <summary>The UDP/TCP checksum of <paramref name="segment"/> over the IPv4 pseudo-header (0 when a received
    /// segment's checksum field is correct).</summary>
    public static ushort Transport(Ipv4Address src, Ipv4Address dst, byte protocol, ReadOnlySpan<byte> segment) =>
        Finish(Sum(segment, PseudoHeader(src, dst, protocol, segment.Length)));

    public static ushort Finish(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
