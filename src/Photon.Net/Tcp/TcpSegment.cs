using System.Buffers.Binary;

namespace Photon.Net.Tcp;

[Flags]
public enum TcpFlags : byte { None = 0, Fin = 1, Syn = 2, Rst = 4, Psh = 8, Ack = 16, Urg = 32 }

/// <summary>A parsed, checksum-verified TCP segment (RFC 9293). Options understood: MSS, window scale, SACK-permitted,
/// SACK blocks and timestamps; others are skipped, malformed option lists reject the segment.</summary>
internal readonly struct TcpSegment
{
    public Ipv4Address Source { get; init; }
    public Ipv4Address Destination { get; init; }
    public ushort SourcePort { get; init; }
    public ushort DestinationPort { get; init; }
    public uint Seq { get; init; }
    public uint Ack { get; init; }
    public TcpFlags Flags { get; init; }
    public ushort Window { get; init; }
    public ushort Mss { get; init; }          // 0 when absent
    public int WindowScale { get; init; }     // -1 when absent
    public bool SackPermitted { get; init; }
    /// <summary>RFC 7323 timestamps: the sender's clock and the echo of ours (valid when <see cref="HasTimestamp"/>).</summary>
    public bool HasTimestamp { get; init; }
    public uint TsVal { get; init; }
    public uint TsEcr { get; init; }
    /// <summary>SACK blocks (RFC 2018): [Left, Right) ranges the peer holds above its cumulative ACK.</summary>
    public (uint Left, uint Right)[]? Sack { get; init; }
    public byte[] Payload { get; init; }

    public bool Has(TcpFlags f) => (Flags & f) != 0;
    /// <summary>Sequence space the segment occupies (SYN and FIN count one each).</summary>
    public int Length => Payload.Length + (Has(TcpFlags.Syn) ? 1 : 0) + (Has(TcpFlags.Fin) ? 1 : 0);

    public static bool TryParse(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> t, out TcpSegment segment, out DropReason why)
    {
        segment = default;
        why = DropReason.Truncated;
        if (t.Length < 20) return false;
        int dataOffset = (t[12] >> 4) * 4;
        why = DropReason.BadLength;
        if (dataOffset < 20 || dataOffset > t.Length) return false;
        why = DropReason.BadChecksum;
        if (InternetChecksum.Transport(src, dst, 6, t) != 0) return false;
        ushort mss = 0;
        int wscale = -1;
        bool sackOk = false, hasTs = false;
        uint tsVal = 0, tsEcr = 0;
        (uint, uint)[]? sack = null;
        var opts = t[20..dataOffset];
        why = DropReason.BadTcpOptions;
        for (int i = 0; i < opts.Length;)
        {
            byte kind = opts[i];
            if (kind == 0) break;
            if (kind == 1) { i++; continue; }
            if (i + 1 >= opts.Length) return false;
            int len = opts[i + 1];
            if (len < 2 || i + len > opts.Length) return false;
            if (kind == 2) { if (len != 4) return false; mss = BinaryPrimitives.ReadUInt16BigEndian(opts[(i + 2)..]); }
            else if (kind == 3) { if (len != 3) return false; wscale = Math.Min((int)opts[i + 2], 14); }
            else if (kind == 4) { if (len != 2) return false; sackOk = true; }
            else if (kind == 8)
            {
                if (len != 10) return false;
                hasTs = true;
                tsVal = BinaryPrimitives.ReadUInt32BigEndian(opts[(i + 2)..]);
                tsEcr = BinaryPrimitives.ReadUInt32BigEndian(opts[(i + 6)..]);
            }
            else if (kind == 5)
            {
                if ((len - 2) % 8 != 0 || len == 2) return false;
                sack = new (uint, uint)[(len - 2) / 8];
                for (int b = 0; b < sack.Length; b++)
                    sack[b] = (BinaryPrimitives.ReadUInt32BigEndian(opts[(i + 2 + 8 * b)..]), BinaryPrimitives.ReadUInt32BigEndian(opts[(i + 6 + 8 * b)..]));
            }
            i += len;
        }
        var flags = (TcpFlags)(t[13] & 0x3F);
        if ((flags & (TcpFlags.Syn | TcpFlags.Fin)) == (TcpFlags.Syn | TcpFlags.Fin) || (flags & (TcpFlags.Syn | TcpFlags.Rst)) == (TcpFlags.Syn | TcpFlags.Rst))
        { why = DropReason.BadHeader; return false; }
        ushort srcPort = BinaryPrimitives.ReadUInt16BigEndian(t), dstPort = BinaryPrimitives.ReadUInt16BigEndian(t[2..]);
        if (srcPort == 0 || dstPort == 0) { why = DropReason.BadHeader; return false; }
        segment = new TcpSegment
        {
            Source = src, Destination = dst, SourcePort = srcPort, DestinationPort = dstPort,
            Seq = BinaryPrimitives.ReadUInt32BigEndian(t[4..]), Ack = BinaryPrimitives.ReadUInt32BigEndian(t[8..]),
            Flags = flags, Window = BinaryPrimitives.ReadUInt16BigEndian(t[14..]), Mss = mss, WindowScale = wscale,
            SackPermitted = sackOk, Sack = sack, HasTimestamp = hasTs, TsVal = tsVal, TsEcr = tsEcr,
            Payload = t[dataOffset..].ToArray(),
        };
        return true;
    }
}

/// <summary>Modular 32-bit sequence-number comparisons.</summary>
internal static class Seq
{
    public static bool Lt(uint a, uint b) => (int)(a - b) < 0;
    public static bool Le(uint a, uint b) => (int)(a - b) <= 0;
    public static bool Gt(uint a, uint b) => (int)(a - b) > 0;
    public static bool Ge(uint a, uint b) => (int)(a - b) >= 0;
    /// <summary>lo ≤ x &lt; hi.</summary>
    public static bool InRange(uint x, uint lo, uint hi) => Le(lo, x) && Lt(x, hi);
}

/// <summary>A fixed-capacity byte ring for socket buffers.</summary>
internal sealed class ByteRing(int capacity)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _head;

    public int Count { get; private set; }
    public int Capacity => _buffer.Length;
    public int Free => _buffer.Length - Count;

    public int Write(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, Free);
        int tail = (_head + Count) % _buffer.Length;
        int first = Math.Min(n, _buffer.Length - tail);
        data[..first].CopyTo(_buffer.AsSpan(tail));
        data[first..n].CopyTo(_buffer);
        Count += n;
        return n;
    }

    /// <summary>Copies bytes starting <paramref name="offset"/> past the head without consuming them.</summary>
    public void Peek(int offset, Span<byte> destination)
    {
        int start = (_head + offset) % _buffer.Length;
        int first = Math.Min(destination.Length, _buffer.Length - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    public void Discard(int n)
    {
        n = Math.Min(n, Count);
        _head = (_head + n) % _buffer.Length;
        Count -= n;
    }

    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, Count);
        Peek(0, destination[..n]);
        Discard(n);
        return n;
    }
}
