using System.Buffers.Binary;

namespace Photon.Net.Tests;

/// <summary>Builds raw frames for injection tests (independently of the stack's own builders).</summary>
public static class Frames
{
    public static readonly byte[] StrangerMac = [2, 0, 0, 0, 0, 0x99];

    public static byte[] Ipv4(byte[] dstMac, Ipv4Address src, Ipv4Address dst, byte protocol, ReadOnlySpan<byte> payload,
        ushort id = 1, int fragOffset = 0, bool more = false, byte ttl = 64)
    {
        var f = new byte[34 + payload.Length];
        dstMac.CopyTo(f, 0);
        StrangerMac.CopyTo(f, 6);
        f[12] = 8;
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(20 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), id);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), (ushort)((more ? 0x2000 : 0) | fragOffset / 8));
        f[22] = ttl;
        f[23] = protocol;
        src.Write(f.AsSpan(26));
        dst.Write(f.AsSpan(30));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), InternetChecksum.Compute(f.AsSpan(14, 20)));
        payload.CopyTo(f.AsSpan(34));
        return f;
    }

    public static byte[] Tcp(Ipv4Address src, Ipv4Address dst, ushort sport, ushort dport, uint seq, uint ack, byte flags, ushort window,
        ReadOnlySpan<byte> data = default, byte[]? options = null)
    {
        int header = 20 + (options?.Length ?? 0);
        var t = new byte[header + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = (byte)(header / 4 << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), window);
        options?.CopyTo(t, 20);
        data.CopyTo(t.AsSpan(header));
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16),
            InternetChecksum.Transport(src, dst, 6, t));
        return t;
    }

    public static byte[] IcmpEcho(int payload, ushort seq = 1)
    {
        var m = new byte[8 + payload];
        m[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), seq);
        for (int i = 8; i < m.Length; i++) m[i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), InternetChecksum.Compute(m));
        return m;
    }

    /// <summary>NOP, NOP, timestamps(val, ecr): 12 bytes of TCP options.</summary>
    public static byte[] TimestampOption(uint val, uint ecr)
    {
        var o = new byte[12];
        o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(4), val);
        BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(8), ecr);
        return o;
    }
}
