using System.Buffers.Binary;
using System.Collections.Concurrent;
using Photon.Net.Wire;
using static Photon.Net.Tests.Frames6;
using static Photon.Net.Tests.StackTests;

namespace Photon.Net.Tests;

/// <summary>IPv6 between two stacks on the in-memory wire and against hand-made hostile frames: DAD, neighbour discovery
/// and its cache bounds, SLAAC, echo, extension headers, fragments (RFC 5722), ICMPv6 errors and path MTU.</summary>
public sealed class Ipv6StackTests
{
    private static readonly Ipv6Address LeftIp = Ip6("fd00::1"), RightIp = Ip6("fd00::2");
    private static readonly byte[] LeftMac = [2, 0, 0, 0, 0, 1], RightMac = [2, 0, 0, 0, 0, 2], AttackerMac = [2, 0, 0, 0, 0, 0x66];

    private static NetworkStackOptions StackOptions(int cacheSize = 256) => new()
    {
        TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        Ipv6RetransTimer = TimeSpan.FromMilliseconds(50), Ipv6NeighbourCacheSize = cacheSize,
    };

    internal static T Locked<T>(NetworkStack s, Func<T> f) { lock (s.Gate) return f(); }

    private static Ipv6AddressState? StateOf(NetworkStack s, Ipv6Address a) =>
        s.Ipv6Addresses.FirstOrDefault(x => x.Address.Cidr.Address == a).Address?.State;

    /// <summary>Two stacks with IPv6 on, fd00::1/64 (left) and fd00::2/64 (right), both past DAD.</summary>
    private static async Task<TwoStacks> Dual(int cacheSize = 256)
    {
        var s = new TwoStacks(options: StackOptions(cacheSize));
        s.Left.AddIpv6Address(s.Left.Interfaces[0], new Ipv6Cidr(LeftIp, 64)).Unwrap();
        s.Right.AddIpv6Address(s.Right.Interfaces[0], new Ipv6Cidr(RightIp, 64)).Unwrap();
        await WaitUntil(() => StateOf(s.Left, LeftIp) == Ipv6AddressState.Preferred && StateOf(s.Right, RightIp) == Ipv6AddressState.Preferred
            && StateOf(s.Right, Ipv6Address.LinkLocal(RightMac)) == Ipv6AddressState.Preferred
            && StateOf(s.Left, Ipv6Address.LinkLocal(LeftMac)) == Ipv6AddressState.Preferred);
        return s;
    }

    private static void Inject(TwoStacks s, byte[] frame) => s.Right.InjectFrame(s.Right.Interfaces[0], frame);

    [Fact]
    public async Task Two_stacks_find_each_other_and_ping_by_link_local_and_static_addresses()
    {
        await using var s = await Dual();
        Assert.True((await s.Left.Ping6Async(RightIp, TimeSpan.FromSeconds(2))).IsOk);
        Assert.True((await s.Left.Ping6Async(Ipv6Address.LinkLocal(RightMac), TimeSpan.FromSeconds(2))).IsOk);
        Assert.True((await s.Right.Ping6Async(LeftIp, TimeSpan.FromSeconds(2))).IsOk);
        var entry = Locked(s.Left, () => s.Left.Interfaces[0].Ipv6.Neighbours.Entries.Single(e => e.Address == RightIp));
        Assert.Equal("02:00:00:00:00:02", entry.Mac);
        Assert.Equal(NeighbourState.Reachable, entry.State);
        Assert.False((await s.Left.Ping6Async(Ip6("2001:db8::1"), TimeSpan.FromSeconds(1))).IsOk); // off-link, no router: no route
    }

    [Fact]
    public async Task Large_echoes_are_fragmented_reassembled_and_answered_in_fragments()
    {
        await using var s = await Dual();
        var rtt = await s.Left.Ping6Async(RightIp, TimeSpan.FromSeconds(3), payloadSize: 4000);
        Assert.True(rtt.IsOk, rtt.ToString());
        Assert.True(s.Left[Counter.Fragmented] >= 3 && s.Right[Counter.Fragmented] >= 3);
        Assert.Equal(1, s.Right[Counter.Reassembled]);
        Assert.Equal(1, s.Left[Counter.Reassembled]);
    }

    [Fact]
    public async Task Overlapping_fragments_drop_the_whole_datagram()
    {
        await using var s = await Dual();
        var echo = Echo(LeftIp, RightIp, 64);
        // RFC 5722: the second fragment overlaps the first by 8 bytes; nothing may be delivered.
        Inject(s, Packet(RightMac, LeftIp, RightIp, 44, Fragment(58, 0, true, 5, echo.AsSpan(0, 40))));
        Inject(s, Packet(RightMac, LeftIp, RightIp, 44, Fragment(58, 32, false, 5, echo.AsSpan(32))));
        Assert.Equal(1, s.Right.Dropped(DropReason.OverlappingFragment));
        Assert.Equal(0, s.Right[Counter.EchoRepliesSent]);
        Assert.Equal(0, Locked(s.Right, () => s.Right.Ipv6.ReassembliesInProgress));
        // The same fragments without the overlap are one echo request.
        Inject(s, Packet(RightMac, LeftIp, RightIp, 44, Fragment(58, 0, true, 6, echo.AsSpan(0, 40))));
        Inject(s, Packet(RightMac, LeftIp, RightIp, 44, Fragment(58, 40, false, 6, echo.AsSpan(40))));
        Assert.Equal(1, s.Right[Counter.EchoRepliesSent]);
    }

    [Fact]
    public async Task Tiny_middle_fragments_get_a_parameter_problem_and_are_not_held()
    {
        await using var s = await Dual();
        Inject(s, Packet(RightMac, LeftIp, RightIp, 44, Fragment(58, 0, true, 9, new byte[5])));
        Assert.Equal(1, s.Right.Dropped(DropReason.BadFragment));
        Assert.Equal(1, s.Right[Counter.Icmpv6ErrorsSent]);
        Assert.Equal(0, Locked(s.Right, () => s.Right.Ipv6.ReassembliesInProgress));
    }

    [Fact]
    public async Task A_flood_of_incomplete_first_fragments_cannot_shut_reassembly()
    {
        await using var s = await Dual();
        for (int i = 0; i < 1000; i++)
            Inject(s, Packet(RightMac, new Ipv6Address(0xfd00UL << 48, 0x1000UL + (ulong)(i % 40)), RightIp, 44, Fragment(58, 0, true, (uint)i, new byte[1200])));
        Assert.True(Locked(s.Right, () => s.Right.Ipv6.ReassembliesInProgress) <= s.Right.Options.MaxReassemblies);
        Assert.True(s.Right.Dropped(DropReason.ReassemblyEvicted) > 0);
        Assert.True((await s.Left.Ping6Async(RightIp, TimeSpan.FromSeconds(3), payloadSize: 3000)).IsOk);
    }

    [Fact]
    public async Task Atomic_fragments_are_processed_in_place()
    {
        await using var s = await Dual();
        Inject(s, Packet(RightMac, LeftIp, RightIp, 44, Fragment(58, 0, false, 11, Echo(LeftIp, RightIp, 32))));
        Assert.Equal(1, s.Right[Counter.EchoRepliesSent]);
        Assert.Equal(0, s.Right[Counter.Reassembled]);
    }

    [Fact]
    public async Task An_unknown_next_header_is_answered_with_a_rate_limited_parameter_problem()
    {
        await using var s = await Dual();
        var sent = new ConcurrentQueue<byte[]>();
        s.B.Capture = sent;
        for (int i = 0; i < 100; i++) Inject(s, Packet(RightMac, LeftIp, RightIp, 253, new byte[16]));
        Assert.Equal(100, s.Right.Dropped(DropReason.UnsupportedProtocol));
        Assert.Equal(s.Right.Options.IcmpErrorDestinationBurst, s.Right[Counter.Icmpv6ErrorsSent]);
        Assert.True(s.Right[Counter.IcmpErrorsRateLimited] > 0);
        await WaitUntil(() => sent.Any(f => f.Length > 62 && f[54] == 4));
        var problem = sent.First(f => f.Length > 62 && f[54] == 4);
        Assert.Equal((byte)1, problem[55]); // unrecognized next header
        Assert.Equal(6u, BinaryPrimitives.ReadUInt32BigEndian(problem.AsSpan(58))); // pointing at the fixed header's next header field
    }

    [Fact]
    public async Task Extension_header_chains_over_the_limit_are_dropped_without_an_answer()
    {
        await using var s = await Dual();
        var chain = Enumerable.Range(0, 9).SelectMany(_ => Options(60)).ToArray();
        chain[^8] = 58;
        Inject(s, Packet(RightMac, LeftIp, RightIp, 60, [.. chain, .. Echo(LeftIp, RightIp, 8)]));
        Assert.Equal(1, s.Right.Dropped(DropReason.BadExtensionHeader));
        Assert.Equal(0, s.Right[Counter.EchoRepliesSent] + s.Right[Counter.Icmpv6ErrorsSent]);
        // Two options headers in front of the echo are fine.
        Inject(s, Packet(RightMac, LeftIp, RightIp, 0, [.. Options(60, 5), .. Options(58), .. Echo(LeftIp, RightIp, 8)]));
        Assert.Equal(1, s.Right[Counter.EchoRepliesSent]);
    }

    private static NeighbourEntry? Neighbour(NetworkStack s, Ipv6Address a) =>
        Locked(s, () => s.Interfaces[0].Ipv6.Neighbours.Entries.FirstOrDefault(e => e.Address == a));

    [Fact]
    public async Task A_forged_advertisement_without_the_override_flag_cannot_redirect_a_neighbour()
    {
        await using var s = await Dual();
        Assert.True((await s.Right.Ping6Async(LeftIp, TimeSpan.FromSeconds(2))).IsOk);
        Assert.Equal("02:00:00:00:00:01", Neighbour(s.Right, LeftIp)!.Mac);
        Inject(s, Packet(RightMac, LeftIp, RightIp, 58, Icmp(LeftIp, RightIp, 136, 0, NaBody(LeftIp, AttackerMac, solicited: true, @override: false)), 255));
        Assert.Equal("02:00:00:00:00:01", Neighbour(s.Right, LeftIp)!.Mac);
        Assert.True((await s.Right.Ping6Async(LeftIp, TimeSpan.FromSeconds(2))).IsOk);
        // With the override flag the RFC 4861 trust model takes the new address (as every host does without SEND).
        Inject(s, Packet(RightMac, LeftIp, RightIp, 58, Icmp(LeftIp, RightIp, 136, 0, NaBody(LeftIp, AttackerMac, solicited: false, @override: true)), 255));
        Assert.Equal("02:00:00:00:00:66", Neighbour(s.Right, LeftIp)!.Mac);
    }

    [Fact]
    public async Task Unsolicited_advertisements_and_solicitation_floods_keep_the_neighbour_cache_bounded()
    {
        await using var s = await Dual(cacheSize: 32);
        Assert.True((await s.Right.Ping6Async(LeftIp, TimeSpan.FromSeconds(2))).IsOk);
        for (int i = 0; i < 2000; i++)
        {
            var forged = new Ipv6Address(0xfd00UL << 48, 0x5000UL + (ulong)i);
            Inject(s, Packet(RightMac, forged, RightIp, 58, Icmp(forged, RightIp, 136, 0, NaBody(forged, AttackerMac, false, true)), 255));
        }
        Assert.Null(Neighbour(s.Right, new Ipv6Address(0xfd00UL << 48, 0x5000UL))); // an NA creates nothing
        Assert.True(Locked(s.Right, () => s.Right.Interfaces[0].Ipv6.Neighbours.Count) <= 2);
        for (int i = 0; i < 2000; i++)
        {
            var forged = new Ipv6Address(0xfd00UL << 48, 0x9000UL + (ulong)i);
            Inject(s, Packet(SolicitedNodeMac(RightIp), forged, SolicitedNode(RightIp), 58, Icmp(forged, SolicitedNode(RightIp), 135, 0, NsBody(RightIp, AttackerMac)), 255));
        }
        Assert.True(Locked(s.Right, () => s.Right.Interfaces[0].Ipv6.Neighbours.Count) <= 32);
        Assert.Equal("02:00:00:00:00:01", Neighbour(s.Right, LeftIp)?.Mac); // the neighbour in use survived the churn
        Assert.True((await s.Right.Ping6Async(LeftIp, TimeSpan.FromSeconds(2))).IsOk);
    }

    [Fact]
    public async Task Packets_for_a_silent_neighbour_wait_in_a_bounded_queue_and_are_dropped_after_three_probes()
    {
        await using var s = await Dual();
        var silent = Ip6("fd00::77");
        var pings = Enumerable.Range(0, 20).Select(_ => s.Right.Ping6Async(silent, TimeSpan.FromMilliseconds(400))).ToList();
        await WaitUntil(() => Neighbour(s.Right, silent) is { } e && e.QueuedPackets == s.Right.Options.Ipv6NeighbourQueue);
        Assert.Equal(20 - s.Right.Options.Ipv6NeighbourQueue, s.Right[Counter.NeighbourQueueOverflow]);
        Assert.All(await Task.WhenAll(pings), r => Assert.False(r.IsOk));
        await WaitUntil(() => Neighbour(s.Right, silent) is null);
        Assert.True(s.Right[Counter.NeighbourFailed] >= 1);
    }

    /// <summary>Router solicitation (RFC 4861 §6.3.7): once the link-local address has passed DAD, turning IPv6 on asks
    /// the all-routers group for an advertisement from that address, with hop limit 255 and our link-layer address in
    /// the source option (so a router can answer by unicast), rather than waiting for the next periodic RA.</summary>
    [Fact]
    public async Task Enabling_ipv6_solicits_routers_from_the_link_local_address_once_it_passed_dad()
    {
        await using var s = new TwoStacks(options: StackOptions());
        var sent = new ConcurrentQueue<byte[]>();
        s.B.Capture = sent;
        var linkLocal = Frames6.Bytes(Ipv6Address.LinkLocal(RightMac));
        static bool IsSolicitation(byte[] f) => f.Length >= 62 && f[12] == 0x86 && f[13] == 0xDD && f[20] == 58 && f[54] == 133;
        s.Right.EnableIpv6(s.Right.Interfaces[0]).Unwrap();
        await WaitUntil(() => sent.Any(f => IsSolicitation(f) && f.AsSpan(22, 16).SequenceEqual(linkLocal)), ms: 30_000);
        var rs = sent.First(f => IsSolicitation(f) && f.AsSpan(22, 16).SequenceEqual(linkLocal));
        Assert.Equal(new byte[] { 0x33, 0x33, 0, 0, 0, 2 }, rs.AsSpan(0, 6).ToArray()); // ff02::2's multicast MAC
        Assert.Equal(Frames6.Bytes(Ipv6Address.AllRouters), rs.AsSpan(38, 16).ToArray());
        Assert.Equal(255, rs[21]); // hop limit
        Assert.Equal(0, rs[55]); // code
        // Source link-layer address option (type 1, 8 bytes) after the 8-byte solicitation header.
        Assert.Equal((byte[])[1, 1, .. RightMac], rs.AsSpan(62, 8).ToArray());
        // Every solicitation before DAD finished came from the unspecified address and carried no option (§4.1).
        Assert.All(sent.Where(IsSolicitation).TakeWhile(f => !f.AsSpan(22, 16).SequenceEqual(linkLocal)),
            f => Assert.Equal(new byte[16], f.AsSpan(22, 16).ToArray()));
    }

    [Fact]
    public async Task Router_advertisements_configure_an_address_a_default_router_and_the_link_mtu()
    {
        await using var s = await Dual();
        var router = Ip6("fe80::99");
        var prefix = Ip6("2001:db8:1::");
        Inject(s, Packet(Ipv6Address.AllNodes.MulticastMac(), router, Ipv6Address.AllNodes, 58,
            Icmp(router, Ipv6Address.AllNodes, 134, 0, RaBody(prefix, 64, 86400, 14400, mtu: 1400, sourceMac: AttackerMac)), 255));
        var slaac = new Ipv6Address(prefix.High, Ipv6Address.LinkLocal(RightMac).Low);
        await WaitUntil(() => StateOf(s.Right, slaac) == Ipv6AddressState.Preferred);
        var v6 = s.Right.Interfaces[0].Ipv6;
        Assert.Equal([router], Locked(s.Right, () => v6.DefaultRouters));
        Assert.Equal(1400, Locked(s.Right, () => v6.Mtu));
        Assert.Contains(new Ipv6Cidr(prefix, 64), Locked(s.Right, () => v6.OnLinkPrefixes));
        // Off-link destinations now go to the router (its address learnt from the advertisement).
        var sent = new ConcurrentQueue<byte[]>();
        s.B.Capture = sent;
        _ = s.Right.Ping6Async(Ip6("2001:db8:9::1"), TimeSpan.FromMilliseconds(200));
        await WaitUntil(() => sent.Any(f => f.AsSpan(0, 6).SequenceEqual(AttackerMac) && f[54] == 128));
        var request = sent.First(f => f.AsSpan(0, 6).SequenceEqual(AttackerMac) && f[54] == 128);
        Assert.Equal(Frames6.Bytes(slaac), request.AsSpan(22, 16).ToArray()); // from the SLAAC address
    }

    [Fact]
    public async Task Router_advertisements_from_a_global_source_or_with_a_lower_hop_limit_are_ignored()
    {
        await using var s = await Dual();
        var prefix = Ip6("2001:db8:2::");
        var global = Ip6("fd00::99");
        Inject(s, Packet(Ipv6Address.AllNodes.MulticastMac(), global, Ipv6Address.AllNodes, 58,
            Icmp(global, Ipv6Address.AllNodes, 134, 0, RaBody(prefix, 64, 86400, 14400)), 255));
        var router = Ip6("fe80::99");
        Inject(s, Packet(Ipv6Address.AllNodes.MulticastMac(), router, Ipv6Address.AllNodes, 58,
            Icmp(router, Ipv6Address.AllNodes, 134, 0, RaBody(prefix, 64, 86400, 14400)), 64));
        Assert.Equal(2, s.Right.Dropped(DropReason.BadNdp));
        var v6 = s.Right.Interfaces[0].Ipv6;
        Assert.Empty(Locked(s.Right, () => v6.DefaultRouters));
        Assert.Equal(2, Locked(s.Right, () => v6.Addresses.Count)); // link-local and fd00::2 only
    }

    [Fact]
    public async Task Ndp_with_a_hop_limit_below_255_creates_no_neighbour()
    {
        await using var s = await Dual();
        var spoofed = Ip6("fd00::55");
        Inject(s, Packet(SolicitedNodeMac(RightIp), spoofed, SolicitedNode(RightIp), 58, Icmp(spoofed, SolicitedNode(RightIp), 135, 0, NsBody(RightIp, AttackerMac)), 64));
        Assert.Equal(1, s.Right.Dropped(DropReason.BadNdp));
        Assert.Null(Neighbour(s.Right, spoofed));
    }

    [Fact]
    public async Task Duplicate_address_detection_gives_up_an_address_another_node_answers_for_and_defends_ours()
    {
        await using var s = new TwoStacks(options: StackOptions() with { Ipv6RetransTimer = TimeSpan.FromMilliseconds(500) });
        var nic = s.Right.Interfaces[0];
        var taken = Ip6("fd00::5");
        s.Right.AddIpv6Address(nic, new Ipv6Cidr(taken, 64)).Unwrap();
        Assert.Equal(Ipv6AddressState.Tentative, StateOf(s.Right, taken));
        Inject(s, Packet(Ipv6Address.AllNodes.MulticastMac(), Ip6("fe80::66"), Ipv6Address.AllNodes, 58,
            Icmp(Ip6("fe80::66"), Ipv6Address.AllNodes, 136, 0, NaBody(taken, AttackerMac, false, true)), 255));
        Assert.Equal(Ipv6AddressState.Duplicate, StateOf(s.Right, taken));
        Assert.Equal(1, s.Right[Counter.DuplicateAddresses]);
        Assert.False((await s.Left.Ping6Async(taken, TimeSpan.FromMilliseconds(300))).IsOk);
        // Someone else probing for an address we hold gets an advertisement to all nodes.
        var linkLocal = Ipv6Address.LinkLocal(RightMac);
        await WaitUntil(() => StateOf(s.Right, linkLocal) == Ipv6AddressState.Preferred);
        var sent = new ConcurrentQueue<byte[]>();
        s.B.Capture = sent;
        Inject(s, Packet(SolicitedNodeMac(linkLocal), Ipv6Address.Unspecified, SolicitedNode(linkLocal), 58,
            Icmp(Ipv6Address.Unspecified, SolicitedNode(linkLocal), 135, 0, NsBody(linkLocal, null)), 255));
        await WaitUntil(() => sent.Any(f => f[54] == 136));
        var na = sent.First(f => f[54] == 136);
        Assert.Equal(Ipv6Address.AllNodes.MulticastMac(), na[..6]);
        Assert.Equal(Frames6.Bytes(linkLocal), na.AsSpan(62, 16).ToArray());
    }

    [Fact]
    public async Task Packet_too_big_lowers_the_path_mtu_only_when_it_quotes_a_packet_of_ours()
    {
        await using var s = await Dual();
        var router = Ip6("fd00::fe");
        byte[] Ptb(Ipv6Address quotedSource, uint mtu)
        {
            var quoted = Packet(LeftMac, quotedSource, LeftIp, 58, Echo(quotedSource, LeftIp, 64)).AsSpan(14).ToArray();
            var body = new byte[4 + quoted.Length];
            BinaryPrimitives.WriteUInt32BigEndian(body, mtu);
            quoted.CopyTo(body, 4);
            return Packet(RightMac, router, RightIp, 58, Icmp(router, RightIp, 2, 0, body));
        }
        Inject(s, Ptb(Ip6("fd00::33"), 1300)); // quotes a packet we never sent
        Assert.Null(Locked(s.Right, () => s.Right.Ipv6.Icmp.PathMtuFor(LeftIp)));
        Inject(s, Ptb(RightIp, 500)); // below the IPv6 minimum: 1280 is used
        Assert.Equal(1280, Locked(s.Right, () => s.Right.Ipv6.Icmp.PathMtuFor(LeftIp)));
        long before = s.Right[Counter.Fragmented];
        Assert.True((await s.Right.Ping6Async(LeftIp, TimeSpan.FromSeconds(2), payloadSize: 1300)).IsOk);
        Assert.Equal(2, s.Right[Counter.Fragmented] - before); // 1,348 bytes do not fit in 1280
        Inject(s, Ptb(RightIp, 1400)); // a path MTU is only ever lowered by these
        Assert.Equal(1280, Locked(s.Right, () => s.Right.Ipv6.Icmp.PathMtuFor(LeftIp)));
    }

    [Fact]
    public async Task Only_our_multicast_groups_pass_the_mac_filter()
    {
        await using var s = await Dual();
        long before = s.Right.Dropped(DropReason.NotForUs);
        Inject(s, Packet([0x33, 0x33, 0, 0, 0, 0xfb], LeftIp, Ip6("ff02::fb"), 17, new byte[16]));
        Assert.Equal(before + 1, s.Right.Dropped(DropReason.NotForUs));
        Assert.Equal(0, s.Right.Dropped(DropReason.UnsupportedProtocol));
        // IPv6 off on an interface: IPv6 frames are an unsupported EtherType there, as before.
        await using var plain = new TwoStacks();
        plain.Right.InjectFrame(plain.Right.Interfaces[0], Packet(RightMac, LeftIp, RightIp, 58, Echo(LeftIp, RightIp, 8)));
        Assert.Equal(1, plain.Right.Dropped(DropReason.UnsupportedEtherType));
    }

    [Fact]
    public async Task Udp_sockets_are_dual_stack_and_closed_ports_answer_with_port_unreachable()
    {
        await using var s = await Dual();
        await using var server = s.Right.Udp.Bind(5353).Value;
        await using var client = s.Left.Udp.Bind(0).Value;
        Assert.True((await client.SendToAsync(new IpEndpoint(RightIp, 5353), "over v6"u8.ToArray())).IsOk);
        var got = await server.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(3));
        Assert.True(got.IsOk, got.ToString());
        Assert.Equal("over v6", System.Text.Encoding.ASCII.GetString(got.Value.Data));
        Assert.Equal(new IpEndpoint(LeftIp, client.Port), got.Value.From);
        // The same socket answers the IPv6 peer and still takes IPv4.
        Assert.True((await server.SendToAsync(got.Value.From, "back"u8.ToArray())).IsOk);
        var reply = await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal("back", System.Text.Encoding.ASCII.GetString(reply.Value.Data));
        Assert.True((await client.SendToAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 5353), "over v4"u8.ToArray())).IsOk);
        var v4 = await server.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(IpFamily.V4, v4.Value.From.Address.Family);
        // A closed port: ICMPv6 destination unreachable (port), counted.
        Assert.True((await client.SendToAsync(new IpEndpoint(RightIp, 5354), "nobody"u8.ToArray())).IsOk);
        await WaitUntil(() => s.Right[Counter.Icmpv6ErrorsSent] == 1);
        // A datagram with a zero checksum is invalid over IPv6 (RFC 8200 §8.1).
        byte[] udp = [0x30, 0x39, 0x14, 0xE9, 0, 12, 0, 0, 1, 2, 3, 4];
        Inject(s, Packet(RightMac, LeftIp, RightIp, 17, udp));
        Assert.Equal(1, s.Right.Dropped(DropReason.BadChecksum));
    }
}
