using Photon.Net.Wire;
using static Photon.Net.Tests.Frames6;

namespace Photon.Net.Tests;

/// <summary>The IPv6 wire views: addresses, the fixed header, the extension header chain walk with its RFC 8200 limits,
/// ICMPv6 checksums and Neighbor Discovery validation — hostile inputs give a typed drop or a parameter problem.</summary>
public sealed class Ipv6WireTests
{
    private static readonly Ipv6Address A = Ip6("fd00::1"), B = Ip6("fd00::2"), LinkLocalA = Ip6("fe80::1");

    [Fact]
    public void Addresses_parse_print_and_derive_link_local_and_solicited_node_forms()
    {
        Assert.Equal("2001:db8::1", Ip6("2001:DB8:0:0::1").ToString());
        Assert.False(Ipv6Address.Parse("10.0.0.1").IsOk);
        Assert.False(Ipv6Address.Parse("fe80::1%eth0").IsOk);
        Assert.False(Ipv6Address.Parse("1::2::3").IsOk);
        Assert.Equal(Ip6("fe80::50:48ff:fe00:2"), Ipv6Address.LinkLocal([2, 0x50, 0x48, 0, 0, 2]));
        Assert.True(Ip6("fe80::1").IsLinkLocal);
        Assert.False(Ip6("fec0::1").IsLinkLocal);
        Assert.Equal(Ip6("ff02::1:ff00:2"), Ip6("fe80::50:48ff:fe00:2").SolicitedNode);
        Assert.Equal(new byte[] { 0x33, 0x33, 0xff, 0, 0, 2 }, Ip6("ff02::1:ff00:2").MulticastMac());
        Assert.True(Ipv6Cidr.Parse("2001:db8:1::/48").Value.Contains(Ip6("2001:db8:1:ffff::9")));
        Assert.False(Ipv6Cidr.Parse("2001:db8:1::/48").Value.Contains(Ip6("2001:db8:2::9")));
        Assert.False(Ipv6Cidr.Parse("fd00::1/129").IsOk);
    }

    [Fact]
    public void The_fixed_header_must_be_whole_version_6_and_within_the_buffer()
    {
        var packet = Packet(new byte[6], A, B, 59, new byte[8]).AsSpan(14).ToArray();
        Assert.True(Ipv6Packet.TryParse(packet.Concat(new byte[10]).ToArray(), out var ip, out _));
        Assert.Equal(8, ip.Payload.Length); // link padding trimmed
        Assert.Equal((A, B, (byte)59), (ip.Source, ip.Destination, ip.NextHeader));
        Assert.False(Ipv6Packet.TryParse(packet[..39], out _, out var why));
        Assert.Equal(DropReason.Truncated, why);
        Assert.False(Ipv6Packet.TryParse(packet[..47], out _, out why)); // payload length says 8, 7 there
        Assert.Equal(DropReason.BadLength, why);
        packet[0] = 0x40;
        Assert.False(Ipv6Packet.TryParse(packet, out _, out why));
        Assert.Equal(DropReason.BadVersion, why);
    }

    [Fact]
    public void A_chain_of_options_headers_is_walked_to_the_upper_layer()
    {
        byte[] chain = [.. Options(60, 5), .. Options(58), 1, 2, 3, 4]; // hop-by-hop (router alert), destination options, ICMPv6
        var walk = Ipv6HeaderChain.Walk(chain, 0, false);
        Assert.Equal((Ipv6ChainOutcome.UpperLayer, (byte)58, 16, 2), (walk.Outcome, walk.NextHeader, walk.Offset, walk.HeaderCount));
        Assert.Equal(40 + 8, walk.ProblemPointer); // the field naming ICMPv6, for an "unknown next header" answer
    }

    [Fact]
    public void Hop_by_hop_options_anywhere_but_first_are_a_parameter_problem()
    {
        var walk = Ipv6HeaderChain.Walk([.. Options(0), .. Options(58)], 60, false);
        Assert.Equal(Ipv6ChainOutcome.ParameterProblem, walk.Outcome);
        Assert.Equal((Ipv6HeaderChain.UnrecognizedNextHeader, 40), (walk.ProblemCode, walk.ProblemPointer));
    }

    [Fact]
    public void A_chain_longer_than_the_limit_is_dropped_not_walked_to_the_end()
    {
        var headers = Enumerable.Range(0, Ipv6HeaderChain.MaxExtensionHeaders + 1).SelectMany(_ => Options(60)).ToArray();
        var walk = Ipv6HeaderChain.Walk(headers, 60, false);
        Assert.Equal((Ipv6ChainOutcome.Drop, DropReason.BadExtensionHeader), (walk.Outcome, walk.Why));
        Assert.Equal(Ipv6HeaderChain.MaxExtensionHeaders, walk.HeaderCount);
        // Exactly at the limit it passes.
        var ok = Ipv6HeaderChain.Walk([.. Enumerable.Range(0, Ipv6HeaderChain.MaxExtensionHeaders - 1).SelectMany(_ => Options(60)), .. Options(59)], 60, false);
        Assert.Equal(Ipv6ChainOutcome.UpperLayer, ok.Outcome);
    }

    [Fact]
    public void Options_act_on_their_type_bits_and_padding_and_counts_are_bounded()
    {
        Assert.Equal(Ipv6ChainOutcome.UpperLayer, Ipv6HeaderChain.Walk(Options(59, 0x1E), 60, false).Outcome);   // 00: skipped
        Assert.Equal(Ipv6ChainOutcome.Drop, Ipv6HeaderChain.Walk(Options(59, 0x5E), 60, false).Outcome);         // 01: discard
        var problem = Ipv6HeaderChain.Walk(Options(59, 0x9E), 60, true);                                          // 10: always answered
        Assert.Equal((Ipv6ChainOutcome.ParameterProblem, Ipv6HeaderChain.UnrecognizedOption, 42), (problem.Outcome, problem.ProblemCode, problem.ProblemPointer));
        Assert.Equal(Ipv6ChainOutcome.ParameterProblem, Ipv6HeaderChain.Walk(Options(59, 0xDE), 60, false).Outcome); // 11: unicast only
        Assert.Equal(Ipv6ChainOutcome.Drop, Ipv6HeaderChain.Walk(Options(59, 0xDE), 60, true).Outcome);
        // Eight bytes of Pad1 is more padding than any alignment needs: a covert channel or a slow path, dropped.
        Assert.Equal(Ipv6ChainOutcome.Drop, Ipv6HeaderChain.Walk([59, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 60, false).Outcome);
        // Nine tiny skippable options in one header: over the per-header count.
        byte[] many = [59, 2, .. Enumerable.Range(0, 9).SelectMany(_ => new byte[] { 0x1E, 0 }), 0, 0, 0, 0];
        Assert.Equal(Ipv6ChainOutcome.Drop, Ipv6HeaderChain.Walk(many, 60, false).Outcome);
        // An option running past its header.
        Assert.Equal(Ipv6ChainOutcome.Drop, Ipv6HeaderChain.Walk([59, 0, 0x1E, 9, 0, 0, 0, 0], 60, false).Outcome);
    }

    [Fact]
    public void Truncated_headers_routing_headers_with_segments_left_and_fragments_are_told_apart()
    {
        Assert.Equal((Ipv6ChainOutcome.Drop, DropReason.Truncated), Ipv6HeaderChain.Walk([59, 1, 0, 0, 0, 0, 0, 0], 60, false) is var t ? (t.Outcome, t.Why) : default);
        var routing = Ipv6HeaderChain.Walk([59, 0, 0, 1, 0, 0, 0, 0], 43, false); // type 0, one segment left
        Assert.Equal((Ipv6ChainOutcome.ParameterProblem, Ipv6HeaderChain.ErroneousField, 42), (routing.Outcome, routing.ProblemCode, routing.ProblemPointer));
        Assert.Equal(Ipv6ChainOutcome.UpperLayer, Ipv6HeaderChain.Walk([59, 0, 4, 0, 0, 0, 0, 0], 43, false).Outcome); // no segments left: skipped
        var fragment = Ipv6HeaderChain.Walk(Fragment(58, 1208, true, 77, new byte[16]), 44, false);
        Assert.Equal((Ipv6ChainOutcome.Fragment, (byte)58, 8, 1208, true, 77u), (fragment.Outcome, fragment.NextHeader, fragment.Offset, fragment.FragmentOffset, fragment.MoreFragments, fragment.FragmentId));
        var atomic = Ipv6HeaderChain.Walk(Fragment(58, 0, false, 78, new byte[16]), 44, false); // RFC 6946: processed in place
        Assert.Equal((Ipv6ChainOutcome.UpperLayer, (byte)58, 8), (atomic.Outcome, atomic.NextHeader, atomic.Offset));
    }

    [Fact]
    public void Icmpv6_needs_the_pseudo_header_checksum()
    {
        var echo = Echo(A, B, 16);
        Assert.True(Icmpv6Packet.TryParse(echo, A, B, out var m, out _));
        Assert.Equal((Icmpv6Type.EchoRequest, (ushort)0x1234, (ushort)1), (m.Type, m.Identifier, m.SequenceNumber));
        Assert.False(Icmpv6Packet.TryParse(echo, A, Ip6("fd00::3"), out _, out var why)); // same bytes, other destination
        Assert.Equal(DropReason.BadChecksum, why);
        Assert.False(Icmpv6Packet.TryParse(echo[..7], A, B, out _, out why));
        Assert.Equal(DropReason.Truncated, why);
        // What the stack emits checks out with the independent checksum here.
        var reply = new byte[8 + 16];
        Icmpv6Packet.EmitEcho(reply, Icmpv6Type.EchoReply, 7, 9, echo.AsSpan(8));
        Icmpv6Packet.FillChecksum(reply, B, A);
        Assert.Equal(Icmp(B, A, 129, 0, reply.AsSpan(4).ToArray()), reply);
    }

    private static bool ParseNdp(Ipv6Address src, Ipv6Address dst, byte type, byte[] body, byte hopLimit, out NdpMessage? ndp, byte code = 0) =>
        NdpMessage.TryParse(Icmp(src, dst, type, code, body), src, dst, hopLimit, out ndp, out _);

    [Fact]
    public void Neighbor_discovery_messages_must_come_with_hop_limit_255_and_code_0()
    {
        byte[] mac = [2, 0, 0, 0, 0, 9];
        Assert.True(ParseNdp(A, B, 135, NsBody(B, mac), 255, out var ns));
        Assert.Equal((B, "02:00:00:00:00:09"), (ns!.Target, Mac.Format(ns.LinkAddress)));
        Assert.False(ParseNdp(A, B, 135, NsBody(B, mac), 254, out _)); // forwarded by a router: off-link, a spoof
        Assert.False(ParseNdp(A, B, 135, NsBody(B, mac), 255, out _, code: 1));
        Assert.False(ParseNdp(A, B, 135, NsBody(Ip6("ff02::1"), mac), 255, out _)); // multicast target
        Assert.False(ParseNdp(A, B, 135, NsBody(B, mac)[..19], 255, out _)); // shorter than 24 bytes
    }

    [Fact]
    public void Dad_probes_and_advertisements_follow_the_address_rules()
    {
        byte[] mac = [2, 0, 0, 0, 0, 9];
        Assert.True(ParseNdp(Ipv6Address.Unspecified, SolicitedNode(B), 135, NsBody(B, null), 255, out _));
        Assert.False(ParseNdp(Ipv6Address.Unspecified, SolicitedNode(B), 135, NsBody(B, mac), 255, out _)); // DAD with a source address option
        Assert.False(ParseNdp(Ipv6Address.Unspecified, Ipv6Address.AllNodes, 135, NsBody(B, null), 255, out _)); // DAD not to the solicited-node group
        Assert.True(ParseNdp(A, Ipv6Address.AllNodes, 136, NaBody(A, mac, solicited: false, @override: true), 255, out var na));
        Assert.Equal((false, true, "02:00:00:00:00:09"), (na!.Solicited, na.Override, Mac.Format(na.LinkAddress)));
        Assert.False(ParseNdp(A, Ipv6Address.AllNodes, 136, NaBody(A, mac, solicited: true, @override: true), 255, out _)); // solicited, to multicast
    }

    [Fact]
    public void Router_advertisements_only_from_link_local_sources_with_bounded_options()
    {
        var body = RaBody(Ip6("2001:db8:1::"), 64, 86400, 14400, mtu: 1400, sourceMac: [2, 0, 0, 0, 0, 9]);
        Assert.True(ParseNdp(LinkLocalA, Ipv6Address.AllNodes, 134, body, 255, out var ra));
        Assert.Equal((ushort)1800, ra!.RouterLifetime);
        Assert.Equal(1400u, ra.Mtu);
        Assert.Equal(new NdpPrefix(Ip6("2001:db8:1::"), 64, true, true, 86400, 14400), Assert.Single(ra.Prefixes));
        Assert.False(ParseNdp(A, Ipv6Address.AllNodes, 134, body, 255, out _)); // a global source: not a router on this link
        Assert.False(ParseNdp(LinkLocalA, Ipv6Address.AllNodes, 134, body, 64, out _));
        // An option of length 0 would loop a naive parser forever: the whole message is invalid (RFC 4861 §4.6).
        Assert.False(ParseNdp(LinkLocalA, Ipv6Address.AllNodes, 134, [.. body, 9, 0, 0, 0, 0, 0, 0, 0], 255, out _));
        // Forty prefix options: at most MaxPrefixes kept.
        var many = Enumerable.Range(0, 40).SelectMany(i => RaBody(new Ipv6Address(0x20010db8_0000_0000UL | (ulong)i << 16, 0), 64, 100, 50)[12..]);
        Assert.True(ParseNdp(LinkLocalA, Ipv6Address.AllNodes, 134, [.. body[..12], .. many], 255, out var big));
        Assert.Equal(NdpMessage.MaxPrefixes, big!.Prefixes.Count);
        // More than MaxOptions options (unknown type 9, 8 bytes each): refused.
        var tooMany = Enumerable.Range(0, NdpMessage.MaxOptions + 1).SelectMany(_ => new byte[] { 9, 1, 0, 0, 0, 0, 0, 0 });
        Assert.False(ParseNdp(LinkLocalA, Ipv6Address.AllNodes, 134, [.. body[..12], .. tooMany], 255, out _));
    }
}
