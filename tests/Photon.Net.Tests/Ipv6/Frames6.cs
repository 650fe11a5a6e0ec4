using System.Buffers.Binary;

namespace Photon.Net.Tests;

/// <summary>Builds raw IPv6 frames for injection tests, with its own checksum code (independent of the stack's).</summary>
public static class Frames6
{
    public static Ipv6Address Ip6(string s) => Ipv6Address.Parse(s).Value;

    public static byte[] Bytes(Ipv6Address a)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(b, a.High);
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(8), a.Low);
        return b;
    }

    /// <summary>An Ethernet frame carrying an IPv6 packet with <paramref name="payload"/> after the fixed header.</summary>
    public static byte[] Packet(byte[] dstMac, Ipv6Address src, Ipv6Address dst, byte nextHeader, ReadOnlySpan<byte> payload, byte hopLimit = 64,
        byte[]? srcMac = null)
    {
        var f = new byte[14 + 40 + payload.Length];
        dstMac.CopyTo(f, 0);
        (srcMac ?? Frames.StrangerMac).CopyTo(f, 6);
        f[12] = 0x86;
        f[13] = 0xDD;
        f[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), (ushort)payload.Length);
        f[20] = nextHeader;
        f[21] = hopLimit;
        Bytes(src).CopyTo(f, 22);
        Bytes(dst).CopyTo(f, 38);
        payload.CopyTo(f.AsSpan(54));
        return f;
    }

    /// <summary>An ICMPv6 message with its checksum over the pseudo-header, computed byte by byte.</summary>
    public static byte[] Icmp(Ipv6Address src, Ipv6Address dst, byte type, byte code, ReadOnlySpan<byte> body)
    {
        var m = new byte[4 + body.Length];
        m[0] = type;
        m[1] = code;
        body.CopyTo(m.AsSpan(4));
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), Checksum(src, dst, 58, m));
        return m;
    }

    /// <summary>The checksum of an upper-layer message over the IPv6 pseudo-header (RFC 8200 §8.1), byte by byte.</summary>
    private static ushort Checksum(Ipv6Address src, Ipv6Address dst, byte nextHeader, byte[] m)
    {
        var pseudo = new List<byte>();
        pseudo.AddRange(Bytes(src));
        pseudo.AddRange(Bytes(dst));
        pseudo.AddRange(new byte[] { (byte)(m.Length >> 24), (byte)(m.Length >> 16), (byte)(m.Length >> 8), (byte)m.Length, 0, 0, 0, nextHeader });
        pseudo.AddRange(m);
        if (pseudo.Count % 2 == 1) pseudo.Add(0);
        uint sum = 0;
        for (int i = 0; i < pseudo.Count; i += 2) sum += (uint)(pseudo[i] << 8 | pseudo[i + 1]);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>A TCP segment with its checksum over the IPv6 pseudo-header, computed byte by byte.</summary>
    public static byte[] TcpSegment(Ipv6Address src, Ipv6Address dst, ushort sport, ushort dport, uint seq, uint ack, byte flags, ushort window,
        ReadOnlySpan<byte> data = default)
    {
        var t = new byte[20 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = 5 << 4;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), window);
        data.CopyTo(t.AsSpan(20));
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), Checksum(src, dst, 6, t));
        return t;
    }

    public static byte[] EchoBody(int payload, ushort seq = 1, ushort id = 0x1234)
    {
        var b = new byte[4 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(b, id);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), seq);
        for (int i = 4; i < b.Length; i++) b[i] = (byte)i;
        return b;
    }

    public static byte[] Echo(Ipv6Address src, Ipv6Address dst, int payload, ushort seq = 1) =>
        Icmp(src, dst, 128, 0, EchoBody(payload, seq));

    /// <summary>Neighbour solicitation body (after type/code/checksum): reserved, target, optional source link address.</summary>
    public static byte[] NsBody(Ipv6Address target, byte[]? sourceMac)
    {
        var b = new List<byte>(new byte[4]);
        b.AddRange(Bytes(target));
        if (sourceMac is not null) { b.Add(1); b.Add(1); b.AddRange(sourceMac); }
        return b.ToArray();
    }

    /// <summary>Neighbour advertisement body: R/S/O flags, target, optional target link address.</summary>
    public static byte[] NaBody(Ipv6Address target, byte[]? targetMac, bool solicited, bool @override, bool router = false)
    {
        var b = new List<byte> { (byte)((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (@override ? 0x20 : 0)), 0, 0, 0 };
        b.AddRange(Bytes(target));
        if (targetMac is not null) { b.Add(2); b.Add(1); b.AddRange(targetMac); }
        return b.ToArray();
    }

    /// <summary>Router advertisement body with one prefix information option, an MTU option and the source link address.</summary>
    public static byte[] RaBody(Ipv6Address prefix, byte prefixLength, uint valid, uint preferred, ushort routerLifetime = 1800, uint mtu = 0,
        byte[]? sourceMac = null, byte curHopLimit = 64, byte prefixFlags = 0xC0)
    {
        var b = new List<byte> { curHopLimit, 0, (byte)(routerLifetime >> 8), (byte)routerLifetime, 0, 0, 0, 0, 0, 0, 0, 0 };
        b.AddRange(new byte[] { 3, 4, prefixLength, prefixFlags });
        var w = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(w, valid);
        BinaryPrimitives.WriteUInt32BigEndian(w.AsSpan(4), preferred);
        b.AddRange(w);
        b.AddRange(new byte[4]);
        b.AddRange(Bytes(prefix));
        if (mtu != 0)
        {
            b.AddRange(new byte[] { 5, 1, 0, 0 });
            var m = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(m, mtu);
            b.AddRange(m);
        }
        if (sourceMac is not null) { b.Add(1); b.Add(1); b.AddRange(sourceMac); }
        return b.ToArray();
    }

    public static byte[] SolicitedNodeMac(Ipv6Address a) => [0x33, 0x33, 0xFF, (byte)(a.Low >> 16), (byte)(a.Low >> 8), (byte)a.Low];

    public static Ipv6Address SolicitedNode(Ipv6Address a) => new(0xFF02UL << 48, 0x1FF000000UL | (a.Low & 0xFFFFFF));

    /// <summary>A fragment header (8 bytes) followed by <paramref name="data"/>.</summary>
    public static byte[] Fragment(byte next, int offset, bool more, uint id, ReadOnlySpan<byte> data)
    {
        var f = new byte[8 + data.Length];
        f[0] = next;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(2), (ushort)((offset / 8) << 3 | (more ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(4), id);
        data.CopyTo(f.AsSpan(8));
        return f;
    }

    /// <summary>A destination options (or hop-by-hop) header of 8 bytes: next header, length 0, then one option
    /// <paramref name="optionType"/> with 4 bytes of data (or PadN when it is 1).</summary>
    public static byte[] Options(byte next, byte optionType = 1) => [next, 0, optionType, 4, 0, 0, 0, 0];
}
