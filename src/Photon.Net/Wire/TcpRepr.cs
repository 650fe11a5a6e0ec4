using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Photon.Net.Tcp;

namespace Photon.Net.Wire;

[Flags]
public enum TcpFlags : byte { None = 0, Fin = 1, Syn = 2, Rst = 4, Psh = 8, Ack = 16, Urg = 32 }

/// <summary>SACK blocks (RFC 2018) kept inline: at most four fit in the 40 bytes of TCP options.</summary>
[InlineArray(TcpRepr.MaxSackBlocks)]
public struct SackBlocks
{
    private (SeqNumber Left, SeqNumber Right) _block;
}

/// <summary>
/// A TCP segment (RFC 9293) parsed from the wire or to be emitted — smoltcp's <c>TcpRepr</c>. <see cref="TryParse"/>
/// checks the header length and the checksum over the IPv4 or IPv6 pseudo-header and reads the options Photon understands
/// (MSS, window scale, SACK-permitted, SACK blocks, timestamps; others are skipped, a malformed option list rejects the
/// segment); the payload stays in the received frame. <see cref="EmitHeader"/> writes the header and options in front
/// of a payload the caller puts at <see cref="HeaderLength"/>, and <see cref="FillChecksum"/> finishes the segment.
/// </summary>
public ref struct TcpRepr
{
    public const int MinHeaderLength = 20, MaxSackBlocks = 4, MaxSentSackBlocks = 4;
    /// <summary>Bytes a SACK option takes: its kind and length, then 8 per block.</summary>
    public const int SackOptionHeader = 4, SackBlockLength = 8, TimestampOptionLength = 12;
    private const int SourcePortAt = 0, DestinationPortAt = 2, SeqAt = 4, AckAt = 8, DataOffsetAt = 12, FlagsAt = 13, WindowAt = 14,
        ChecksumAt = 16, UrgentAt = 18;
    private const byte OptEnd = 0, OptNop = 1, OptMss = 2, OptWindowScale = 3, OptSackPermitted = 4, OptSack = 5, OptTimestamp = 8;
    private const int MaxWindowScale = 14;

    public IpAddress Source;
    public IpAddress Destination;
    public ushort SourcePort;
    public ushort DestinationPort;
    public SeqNumber Seq;
    public SeqNumber Ack;
    public TcpFlags Flags;
    public ushort Window;
    /// <summary>0 when absent.</summary>
    public ushort Mss;
    /// <summary>The window scale option's shift (RFC 7323), null when absent.</summary>
    public int? WindowScale;
    public bool SackPermitted;
    /// <summary>RFC 7323 timestamps: the sender's clock and the echo of ours (valid when <see cref="HasTimestamp"/>).</summary>
    public bool HasTimestamp;
    public uint TsVal;
    public uint TsEcr;
    /// <summary>[Left, Right) ranges the peer holds above its cumulative ACK (the first <see cref="SackCount"/>).</summary>
    public SackBlocks Sack;
    public int SackCount;
    public ReadOnlySpan<byte> Payload;

    public readonly bool Has(TcpFlags f) => (Flags & f) != 0;

    /// <summary>Sequence space the segment occupies (SYN and FIN count one each).</summary>
    public readonly int Length => Payload.Length + (Has(TcpFlags.Syn) ? 1 : 0) + (Has(TcpFlags.Fin) ? 1 : 0);

    public static bool TryParse(ReadOnlySpan<byte> t, IpAddress src, IpAddress dst, out TcpRepr segment, out DropReason why,
        bool verifyChecksum = true)
    {
        segment = default;
        why = DropReason.Truncated;
        if (t.Length < MinHeaderLength) return false;
        int dataOffset = (t[DataOffsetAt] >> 4) * 4;
        why = DropReason.BadLength;
        if (dataOffset < MinHeaderLength || dataOffset > t.Length) return false;
        why = DropReason.BadChecksum;
        if (verifyChecksum && InternetChecksum.Transport(src, dst, IpProtocol.Tcp, t) != 0) return false;
        segment = default;
        why = DropReason.BadTcpOptions;
        if (!ParseOptions(t[MinHeaderLength..dataOffset], ref segment)) return false;
        var flags = (TcpFlags)(t[FlagsAt] & 0x3F);
        const TcpFlags synFin = TcpFlags.Syn | TcpFlags.Fin, synRst = TcpFlags.Syn | TcpFlags.Rst;
        why = DropReason.BadHeader;
        if ((flags & synFin) == synFin || (flags & synRst) == synRst) return false;
        ushort srcPort = BinaryPrimitives.ReadUInt16BigEndian(t[SourcePortAt..]), dstPort = BinaryPrimitives.ReadUInt16BigEndian(t[DestinationPortAt..]);
        if (srcPort == 0 || dstPort == 0) return false;
        segment.Source = src;
        segment.Destination = dst;
        segment.SourcePort = srcPort;
        segment.DestinationPort = dstPort;
        segment.Seq = new SeqNumber(BinaryPrimitives.ReadUInt32BigEndian(t[SeqAt..]));
        segment.Ack = new SeqNumber(BinaryPrimitives.ReadUInt32BigEndian(t[AckAt..]));
        segment.Flags = flags;
        segment.Window = BinaryPrimitives.ReadUInt16BigEndian(t[WindowAt..]);
        segment.Payload = t[dataOffset..];
        return true;
    }

    private static bool ParseOptions(ReadOnlySpan<byte> opts, ref TcpRepr s)
    {
        for (int i = 0; i < opts.Length;)
        {
            byte kind = opts[i];
            if (kind == OptEnd) break;
            if (kind == OptNop) { i++; continue; }
            if (i + 1 >= opts.Length) return false;
            int len = opts[i + 1];
            if (len < 2 || i + len > opts.Length) return false;
            var body = opts.Slice(i + 2, len - 2);
            switch (kind)
            {
                case OptMss:
                    if (len != 4) return false;
                    s.Mss = BinaryPrimitives.ReadUInt16BigEndian(body);
                    break;
                case OptWindowScale:
                    if (len != 3) return false;
                    s.WindowScale = Math.Min((int)body[0], MaxWindowScale);
                    break;
                case OptSackPermitted:
                    if (len != 2) return false;
                    s.SackPermitted = true;
                    break;
                case OptTimestamp:
                    if (len != 10) return false;
                    s.HasTimestamp = true;
                    s.TsVal = BinaryPrimitives.ReadUInt32BigEndian(body);
                    s.TsEcr = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
                    break;
                case OptSack:
                    if (body.Length == 0 || body.Length % SackBlockLength != 0 || body.Length / SackBlockLength > MaxSackBlocks) return false;
                    s.SackCount = body.Length / SackBlockLength;
                    for (int b = 0; b < s.SackCount; b++)
                        s.Sack[b] = (new SeqNumber(BinaryPrimitives.ReadUInt32BigEndian(body[(b * SackBlockLength)..])),
                            new SeqNumber(BinaryPrimitives.ReadUInt32BigEndian(body[(b * SackBlockLength + 4)..])));
                    break;
            }
            i += len;
        }
        return true;
    }

    /// <summary>Header and options length of the segment as <see cref="EmitHeader"/> writes it.</summary>
    public readonly int HeaderLength => MinHeaderLength + FixedOptionsLength + (SentSackBlocks > 0 ? SackOptionHeader + SackBlockLength * SentSackBlocks : 0);

    private const int MaxOptionsLength = 40; // the data offset counts at most 15 words

    private readonly int FixedOptionsLength =>
        (Mss != 0 ? 4 : 0) + (WindowScale is null ? 0 : 4) + (SackPermitted ? 4 : 0) + (HasTimestamp ? TimestampOptionLength : 0);

    /// <summary>SACK blocks sent: at most four, and only as many as fit in the option space left (three beside timestamps).</summary>
    private readonly int SentSackBlocks =>
        Math.Clamp(Math.Min(SackCount, (MaxOptionsLength - FixedOptionsLength - SackOptionHeader) / SackBlockLength), 0, MaxSentSackBlocks);

    /// <summary>Writes the header and options into <paramref name="segment"/>; the checksum field is left zero.</summary>
    public readonly void EmitHeader(Span<byte> segment)
    {
        int headerLength = HeaderLength;
        BinaryPrimitives.WriteUInt16BigEndian(segment[SourcePortAt..], SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(segment[DestinationPortAt..], DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(segment[SeqAt..], Seq.Value);
        BinaryPrimitives.WriteUInt32BigEndian(segment[AckAt..], Ack.Value);
        segment[DataOffsetAt] = (byte)(headerLength / 4 << 4);
        segment[FlagsAt] = (byte)Flags;
        BinaryPrimitives.WriteUInt16BigEndian(segment[WindowAt..], Window);
        BinaryPrimitives.WriteUInt16BigEndian(segment[ChecksumAt..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(segment[UrgentAt..], 0);
        var o = segment[MinHeaderLength..headerLength];
        if (Mss != 0) { o[0] = OptMss; o[1] = 4; BinaryPrimitives.WriteUInt16BigEndian(o[2..], Mss); o = o[4..]; }
        if (WindowScale is { } shift) { o[0] = OptNop; o[1] = OptWindowScale; o[2] = 3; o[3] = (byte)shift; o = o[4..]; }
        if (SackPermitted) { o[0] = OptNop; o[1] = OptNop; o[2] = OptSackPermitted; o[3] = 2; o = o[4..]; }
        if (HasTimestamp)
        {
            o[0] = OptNop; o[1] = OptNop; o[2] = OptTimestamp; o[3] = 10;
            BinaryPrimitives.WriteUInt32BigEndian(o[4..], TsVal);
            BinaryPrimitives.WriteUInt32BigEndian(o[8..], TsEcr);
            o = o[TimestampOptionLength..];
        }
        int blocks = SentSackBlocks;
        if (blocks > 0)
        {
            o[0] = OptNop; o[1] = OptNop; o[2] = OptSack; o[3] = (byte)(2 + SackBlockLength * blocks);
            o = o[SackOptionHeader..];
            for (int b = 0; b < blocks; b++, o = o[SackBlockLength..])
            {
                BinaryPrimitives.WriteUInt32BigEndian(o, Sack[b].Left.Value);
                BinaryPrimitives.WriteUInt32BigEndian(o[4..], Sack[b].Right.Value);
            }
        }
    }

    /// <summary>Fills in the checksum of a complete segment (header and payload) over the pseudo-header of the
    /// addresses' family (IPv4's, or IPv6's of RFC 8200 §8.1).</summary>
    public static void FillChecksum(Span<byte> segment, IpAddress src, IpAddress dst) =>
        BinaryPrimitives.WriteUInt16BigEndian(segment[ChecksumAt..], InternetChecksum.Transport(src, dst, IpProtocol.Tcp, segment));

    /// <summary>Where the checksum sits in the TCP header (virtio's csum_offset).</summary>
    public const ushort ChecksumOffset = ChecksumAt;

    /// <summary>Leaves the checksum for the NIC (Linux's CHECKSUM_PARTIAL): the field holds the folded, uncomplemented
    /// pseudo-header sum over the whole segment's length, and the NIC adds the bytes from the TCP header on and
    /// complements. For TSO the NIC adjusts it per segment.</summary>
    public static void FillPartialChecksum(Span<byte> segment, IpAddress src, IpAddress dst) =>
        FillPartialChecksum(segment, src, dst, segment.Length);

    /// <summary>As above for a segment of <paramref name="segmentLength"/> bytes of which <paramref name="segment"/> holds
    /// only the start (the header; the payload follows by reference, see <c>TxPayload</c>).</summary>
    public static void FillPartialChecksum(Span<byte> segment, IpAddress src, IpAddress dst, int segmentLength) =>
        BinaryPrimitives.WriteUInt16BigEndian(segment[ChecksumAt..],
            (ushort)~InternetChecksum.Finish(InternetChecksum.PseudoHeader(src, dst, IpProtocol.Tcp, segmentLength)));

    /// <summary>Finishes a checksum <see cref="FillPartialChecksum"/> left for the NIC, as the NIC would: the sum of the
    /// whole segment (the field holding the pseudo-header sum), complemented. For a segment that must be fragmented after
    /// all (the NIC would checksum each fragment alone).</summary>
    public static void FinishPartialChecksum(Span<byte> segment) =>
        BinaryPrimitives.WriteUInt16BigEndian(segment[ChecksumAt..], InternetChecksum.Compute(segment));

    /// <summary>The ports of a segment quoted in an ICMP error (its first 8 bytes are all a quote must carry).</summary>
    public static bool TryReadQuotedPorts(ReadOnlySpan<byte> quoted, out ushort sourcePort, out ushort destinationPort)
    {
        sourcePort = destinationPort = 0;
        if (quoted.Length < 8) return false;
        sourcePort = BinaryPrimitives.ReadUInt16BigEndian(quoted[SourcePortAt..]);
        destinationPort = BinaryPrimitives.ReadUInt16BigEndian(quoted[DestinationPortAt..]);
        return true;
    }
}
