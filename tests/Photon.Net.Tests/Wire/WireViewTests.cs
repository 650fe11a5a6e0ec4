using System.Buffers.Binary;
using Photon.Net.Tcp;
using Photon.Net.Wire;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>The header views accept well-formed headers in place and reject truncated or inconsistent ones with the
/// drop reason the stack counts; what the emitters write parses back to the same fields.</summary>
public sealed class WireViewTests
{
    private static readonly Ipv4Address A = Ip("10.1.0.1"), B = Ip("10.1.0.2");

    [Fact]
    public void Ethernet_frames_need_a_whole_header()
    {
        Assert.False(EthernetFrame.TryParse(new byte[13], out _, out var why));
        Assert.Equal(DropReason.Truncated, why);
        var f = new byte[60];
        EthernetFrame.SetDestination(f, Mac.Broadcast);
        EthernetFrame.SetSource(f, [2, 0, 0, 0, 0, 9]);
        EthernetFrame.SetEtherType(f, EtherType.Arp);
        Assert.True(EthernetFrame.TryParse(f, out var frame, out _));
        Assert.Equal(EtherType.Arp, frame.EtherType);
        Assert.True(frame.Destination.SequenceEqual(Mac.Broadcast));
        Assert.Equal(9, frame.Source[5]);
        Assert.Equal(46, frame.Payload.Length);
    }

    [Fact]
    public void Arp_is_only_ipv4_over_ethernet_requests_and_replies()
    {
        Assert.False(ArpPacket.TryParse(new byte[ArpPacket.Length - 1], out _, out var why));
        Assert.Equal(DropReason.Truncated, why);
        var p = new byte[ArpPacket.Length];
        ArpPacket.Emit(p, ArpOperation.Reply, [2, 0, 0, 0, 0, 1], A, [2, 0, 0, 0, 0, 2], B);
        Assert.True(ArpPacket.TryParse(p, out var arp, out _));
        Assert.Equal((ArpOperation.Reply, A, B), (arp.Operation, arp.SenderIp, arp.TargetIp));
        Assert.Equal(2, arp.TargetMac[5]);
        foreach (var (at, value) in new[] { (0, (byte)9), (3, (byte)0xDD), (4, (byte)8), (5, (byte)16), (7, (byte)3) })
        {
            var bad = (byte[])p.Clone();
            bad[at] = value;
            Assert.False(ArpPacket.TryParse(bad, out _, out why));
            Assert.Equal(DropReason.BadArp, why);
        }
    }

    private static byte[] Ipv4(int payload, Ipv4Repr? repr = null)
    {
        var p = new byte[Ipv4Packet.HeaderLength + payload];
        (repr ?? new Ipv4Repr(A, B, IpProtocol.Udp, payload, 64, 7)).Emit(p);
        return p;
    }

    [Fact]
    public void Ipv4_rejects_truncated_headers_bad_versions_lengths_and_checksums()
    {
        void Rejects(byte[] p, DropReason expected)
        {
            Assert.False(Ipv4Packet.TryParse(p, out _, out var why));
            Assert.Equal(expected, why);
        }
        Rejects(new byte[19], DropReason.Truncated);
        var v6 = Ipv4(8); v6[0] = 0x65; Rejects(v6, DropReason.BadVersion);
        var shortIhl = Ipv4(8); shortIhl[0] = 0x44; Rejects(shortIhl, DropReason.BadLength);
        var longIhl = Ipv4(8); longIhl[0] = 0x4F; Rejects(longIhl, DropReason.BadLength); // 60-byte header in 28 bytes
        var lying = Ipv4(8); BinaryPrimitives.WriteUInt16BigEndian(lying.AsSpan(2), 100); Rejects(lying, DropReason.BadLength);
        var tiny = Ipv4(8); BinaryPrimitives.WriteUInt16BigEndian(tiny.AsSpan(2), 10); Rejects(tiny, DropReason.BadLength);
        var flipped = Ipv4(8); flipped[15] ^= 1; Rejects(flipped, DropReason.BadChecksum);
    }

    [Fact]
    public void Ipv4_headers_round_trip_and_link_padding_is_trimmed()
    {
        var repr = new Ipv4Repr(A, B, IpProtocol.Tcp, 16, 33, 0xBEEF, DontFragment: false, MoreFragments: true, FragmentOffset: 1480);
        var p = new byte[Ipv4Packet.HeaderLength + 16 + 10]; // 10 bytes of Ethernet padding
        repr.Emit(p);
        Assert.True(Ipv4Packet.TryParse(p, out var ip, out _));
        Assert.Equal((A, B, IpProtocol.Tcp, (byte)33, (ushort)0xBEEF), (ip.Source, ip.Destination, ip.Protocol, ip.Ttl, ip.Identification));
        Assert.True(ip.MoreFragments && ip.IsFragment && !ip.DontFragment);
        Assert.Equal(1480, ip.FragmentOffset);
        Assert.Equal(16, ip.Payload.Length);
        // The header an ICMP error quotes is cut short by design; only the header itself must be there.
        Assert.True(Ipv4Packet.TryParseQuote(p.AsSpan(0, 28), out var quote));
        Assert.Equal(8, quote.Payload.Length);
        Assert.False(Ipv4Packet.TryParseQuote(p.AsSpan(0, 19), out _));
        // A router's TTL decrement keeps the header valid.
        Ipv4Packet.DecrementTtl(p);
        Assert.True(Ipv4Packet.TryParse(p, out ip, out _));
        Assert.Equal(32, ip.Ttl);
    }

    [Fact]
    public void Icmp_needs_its_header_and_a_valid_checksum_and_echoes_round_trip()
    {
        Assert.False(IcmpPacket.TryParse(new byte[7], out _, out var why));
        Assert.Equal(DropReason.Truncated, why);
        var m = new byte[IcmpPacket.HeaderLength + 5];
        IcmpPacket.EmitEcho(m, IcmpType.EchoRequest, 0x1234, 9, "hello"u8);
        Assert.True(IcmpPacket.TryParse(m, out var echo, out _));
        Assert.Equal((IcmpType.EchoRequest, (ushort)0x1234, (ushort)9), (echo.Type, echo.Identifier, echo.SequenceNumber));
        Assert.True(echo.Data.SequenceEqual("hello"u8));
        m[^1] ^= 0x40;
        Assert.False(IcmpPacket.TryParse(m, out _, out why));
        Assert.Equal(DropReason.BadChecksum, why);
        Assert.True(IcmpType.IsError(IcmpType.DestinationUnreachable) && !IcmpType.IsError(IcmpType.EchoReply));
    }

    [Fact]
    public void Udp_rejects_bad_lengths_and_checksums_and_accepts_no_checksum()
    {
        var d = new byte[UdpPacket.HeaderLength + 3];
        UdpPacket.Emit(d, 5000, 53, "abc"u8, A, B);
        Assert.True(UdpPacket.TryParse(d, A, B, out var u, out _));
        Assert.Equal((5000, 53), (u.SourcePort, u.DestinationPort));
        Assert.True(u.Payload.SequenceEqual("abc"u8));
        Assert.False(UdpPacket.TryParse(d, A, Ip("10.1.0.3"), out _, out var why)); // the pseudo-header counts
        Assert.Equal(DropReason.BadChecksum, why);
        Assert.False(UdpPacket.TryParse(d.AsSpan(0, 7), A, B, out _, out why));
        Assert.Equal(DropReason.Truncated, why);
        var lying = (byte[])d.Clone(); BinaryPrimitives.WriteUInt16BigEndian(lying.AsSpan(4), 12);
        Assert.False(UdpPacket.TryParse(lying, A, B, out _, out why));
        Assert.Equal(DropReason.BadLength, why);
        var tiny = (byte[])d.Clone(); BinaryPrimitives.WriteUInt16BigEndian(tiny.AsSpan(4), 7);
        Assert.False(UdpPacket.TryParse(tiny, A, B, out _, out why));
        Assert.Equal(DropReason.BadLength, why);
        var unchecked_ = (byte[])d.Clone(); unchecked_[6] = unchecked_[7] = 0; // zero: the sender computed none
        Assert.True(UdpPacket.TryParse(unchecked_, A, B, out _, out _));
        var padded = new byte[d.Length + 4]; d.CopyTo(padded, 0);
        Assert.True(UdpPacket.TryParse(padded, A, B, out u, out _));
        Assert.Equal(3, u.Payload.Length); // the length field, not the buffer, bounds the datagram
    }

    private static byte[] Segment(TcpRepr h, ReadOnlySpan<byte> payload)
    {
        var s = new byte[h.HeaderLength + payload.Length];
        h.EmitHeader(s);
        payload.CopyTo(s.AsSpan(h.HeaderLength));
        TcpRepr.FillChecksum(s, A, B);
        return s;
    }

    [Fact]
    public void Tcp_segments_round_trip_with_every_option_and_the_payload_stays_in_the_buffer()
    {
        var syn = new TcpRepr
        {
            SourcePort = 40000, DestinationPort = 80, Seq = new SeqNumber(0xFFFFFFF0), Flags = TcpFlags.Syn,
            Window = 1234, Mss = 1460, WindowScale = 7, SackPermitted = true, HasTimestamp = true, TsVal = 11, TsEcr = 22,
        };
        Assert.Equal(TcpRepr.MinHeaderLength + 4 + 4 + 4 + 12, syn.HeaderLength);
        Assert.True(TcpRepr.TryParse(Segment(syn, default), A, B, out var p, out _));
        Assert.Equal((40000, 80, 0xFFFFFFF0u, (ushort)1234), (p.SourcePort, p.DestinationPort, p.Seq.Value, p.Window));
        Assert.Equal((1460, (int?)7, true, true, 11u, 22u, 0), (p.Mss, p.WindowScale, p.SackPermitted, p.HasTimestamp, p.TsVal, p.TsEcr, p.SackCount));
        Assert.Equal(1, p.Length); // the SYN takes a sequence number

        var data = new TcpRepr { SourcePort = 1, DestinationPort = 2, Seq = new SeqNumber(5), Ack = new SeqNumber(7), Flags = TcpFlags.Ack | TcpFlags.Psh,
            HasTimestamp = true, TsVal = 3, SackCount = 3 };
        for (int i = 0; i < 3; i++) data.Sack[i] = (new SeqNumber((uint)(100 * i)), new SeqNumber((uint)(100 * i + 50)));
        Assert.Equal(TcpRepr.MinHeaderLength + 40, data.HeaderLength); // timestamps and three blocks fill the option space
        var s = Segment(data, "payload"u8);
        Assert.True(TcpRepr.TryParse(s, A, B, out p, out _));
        Assert.Equal((5u, 7u, 3, (int?)null), (p.Seq.Value, p.Ack.Value, p.SackCount, p.WindowScale));
        Assert.Equal((new SeqNumber(200), new SeqNumber(250)), p.Sack[2]);
        Assert.True(p.Has(TcpFlags.Psh) && !p.Has(TcpFlags.Syn));
        Assert.Equal(7, p.Length);
        Assert.True(p.Payload.Overlaps(s) && p.Payload.SequenceEqual("payload"u8)); // parsed in place, not copied

        // More than the option space holds: SACK blocks are dropped until the header fits its 4-bit data offset.
        data.Mss = 1460;
        data.WindowScale = 7;
        Assert.Equal(TcpRepr.MinHeaderLength + 4 + 4 + 12 + 4 + 16, data.HeaderLength);
        Assert.True(TcpRepr.TryParse(Segment(data, default), A, B, out p, out _));
        Assert.Equal(2, p.SackCount);
    }

    [Fact]
    public void Tcp_rejects_truncated_headers_lying_offsets_bad_checksums_options_and_flag_combinations()
    {
        void Rejects(byte[] s, DropReason expected)
        {
            Assert.False(TcpRepr.TryParse(s, A, B, out _, out var why));
            Assert.Equal(expected, why);
        }
        var ok = Segment(new TcpRepr { SourcePort = 1, DestinationPort = 2, Flags = TcpFlags.Ack }, "x"u8);
        Assert.True(TcpRepr.TryParse(ok, A, B, out _, out _));
        Rejects(ok[..19], DropReason.Truncated);
        var shortOffset = (byte[])ok.Clone(); shortOffset[12] = 4 << 4; Rejects(Refill(shortOffset), DropReason.BadLength);
        var longOffset = (byte[])ok.Clone(); longOffset[12] = 15 << 4; Rejects(Refill(longOffset), DropReason.BadLength);
        var flipped = (byte[])ok.Clone(); flipped[^1] ^= 1; Rejects(flipped, DropReason.BadChecksum);
        Rejects(WithOptions([2, 3, 5, 0]), DropReason.BadTcpOptions);        // MSS of the wrong length
        Rejects(WithOptions([1, 1, 5, 6, 0, 0, 0, 0]), DropReason.BadTcpOptions);  // SACK of half a block
        Rejects(WithOptions([8, 40, 0, 0]), DropReason.BadTcpOptions);       // an option running past the header
        Rejects(WithOptions([1, 1, 1, 3]), DropReason.BadTcpOptions);        // a kind with no length byte
        Rejects(Segment(new TcpRepr { SourcePort = 1, DestinationPort = 2, Flags = TcpFlags.Syn | TcpFlags.Fin }, default), DropReason.BadHeader);
        Rejects(Segment(new TcpRepr { SourcePort = 1, DestinationPort = 2, Flags = TcpFlags.Syn | TcpFlags.Rst }, default), DropReason.BadHeader);
        Rejects(Segment(new TcpRepr { SourcePort = 0, DestinationPort = 2, Flags = TcpFlags.Ack }, default), DropReason.BadHeader);
        Assert.True(TcpRepr.TryReadQuotedPorts(ok.AsSpan(0, 8), out var sp, out var dp) && sp == 1 && dp == 2);
        Assert.False(TcpRepr.TryReadQuotedPorts(ok.AsSpan(0, 7), out _, out _));
    }

    private static byte[] Refill(byte[] s)
    {
        s[16] = s[17] = 0;
        TcpRepr.FillChecksum(s, A, B);
        return s;
    }

    private static byte[] WithOptions(byte[] options)
    {
        var s = new byte[TcpRepr.MinHeaderLength + options.Length];
        new TcpRepr { SourcePort = 1, DestinationPort = 2, Flags = TcpFlags.Ack }.EmitHeader(s);
        s[12] = (byte)(s.Length / 4 << 4);
        options.CopyTo(s, TcpRepr.MinHeaderLength);
        return Refill(s);
    }
}
